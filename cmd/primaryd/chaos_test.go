package main

import (
	"context"
	"maps"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"primaryvote/internal/fixture"
	"primaryvote/internal/loadtest"
)

// TestTwoInstancesAndARollingRestart runs two primaryd on one database with
// the voters split between them, stops one with SIGTERM in the middle of the
// load and starts it again. A graceful stop finishes what it took on: no
// request gets a 5xx, every voter gets a receipt, each ballot is stored
// once, the log both instances sequenced verifies, and the tally equals
// what the clients were acknowledged.
func TestTwoInstancesAndARollingRestart(t *testing.T) {
	t.Parallel()
	bin := buildPrimaryd(t)
	env := fixture.New(t)
	secrets := env.SecretsDir
	el := env.Setup(t, "chaos", chaosVoters(t, 200), true)
	addrA, addrB := freeAddr(t), freeAddr(t)
	a := startProcess(t, bin, addrA, env.DB.URL, secrets)
	b := startProcess(t, bin, addrB, env.DB.URL, secrets)
	defer func() {
		for _, p := range []*process{a, b} {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
		}
	}()

	var halves [2][]loadtest.Voter
	for i, v := range el.Voters {
		halves[i%2] = append(halves[i%2], loadtest.Voter{ID: v, Code: el.Codes[v]})
	}
	reports := make([]*loadtest.Report, 2)
	var wg sync.WaitGroup
	for i, addr := range []string{addrA, addrB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i], _ = loadtest.Run(context.Background(), loadtest.Config{BaseURL: "http://" + addr, Election: "chaos", Voters: halves[i], Concurrency: 8})
		}()
	}
	// Mid-load: stop A gracefully, then bring it back.
	for env.Count(t, `SELECT count(*) FROM ballots`) < len(el.Voters)/5 {
		time.Sleep(10 * time.Millisecond)
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	if err := a.cmd.Wait(); err != nil {
		t.Errorf("primaryd A after SIGTERM: %v\n%s", err, a.logs.String())
	}
	a = startProcess(t, bin, addrA, env.DB.URL, secrets)
	wg.Wait()

	ledger := map[string]string{}
	chosen := map[string]map[string]int{}
	for i, rep := range reports {
		if rep == nil || rep.Failed != 0 || rep.Acknowledged != len(halves[i]) {
			t.Fatalf("load on instance %d: %+v", i, rep)
		}
		for class, n := range rep.Errors {
			if strings.HasPrefix(class, "5") {
				t.Errorf("instance %d answered %d × %s", i, n, class)
			}
		}
		maps.Copy(ledger, rep.Ledger)
		loadtest.AddChosen(chosen, rep.Chosen)
	}
	if n := env.Count(t, `SELECT count(*) FROM ballots WHERE election_id = 'chaos'`); n != len(el.Voters) || len(ledger) != len(el.Voters) {
		t.Errorf("%d ballots and %d receipts; want %d of each", n, len(ledger), len(el.Voters))
	}
	reconciles(t, env, el, verifiedBundle(t, env.DB.Pool, secrets, "chaos"), ledger, chosen)
}
