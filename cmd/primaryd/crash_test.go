package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"primaryvote/audit"
	"primaryvote/audit/bundle"
	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/elections"
	"primaryvote/internal/fixture"
	"primaryvote/internal/loadtest"

	"github.com/jackc/pgx/v5/pgxpool"
)

// buildPrimaryd compiles this command for tests that need a real process.
func buildPrimaryd(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("the go command is not on PATH; run the suite with `make test`")
	}
	bin := filepath.Join(t.TempDir(), "primaryd")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type process struct {
	cmd  *exec.Cmd
	logs bytes.Buffer
}

func startProcess(t *testing.T, bin, addr, dbURL, secrets string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, "-addr", addr, "-secrets", secrets, "-signins-per-ip", "1000000", "-log-level", "warn", "-metrics-addr", "")}
	p.cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "PRIMARYVOTE_LOG_ORIGIN=primaryvote.test/log")
	p.cmd.Stdout, p.cmd.Stderr = &p.logs, &p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("primaryd did not become ready: %v\n%s", err, p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestCrashLosesNoAcknowledgedBallot kills primaryd with SIGKILL while
// voters are casting, restarts it, lets the voters' clients retry with their
// Idempotency-Keys, and then checks the audit log: it verifies, and every
// acknowledged ballot is in it exactly once.
func TestCrashLosesNoAcknowledgedBallot(t *testing.T) {
	t.Parallel()
	bin := buildPrimaryd(t)
	env := fixture.New(t)
	secrets := env.SecretsDir
	el := env.Setup(t, "crash", chaosVoters(t, 120), true)
	addr := freeAddr(t)
	base := "http://" + addr

	proc := startProcess(t, bin, addr, env.DB.URL, secrets)
	client := &http.Client{Timeout: 5 * time.Second}
	post := func(path, token, key, body string) (int, []byte, error) {
		return postJSON(client, base+path, token, key, body)
	}

	var (
		acked     sync.Map // voter → tracking code
		ackCount  atomic.Int64
		killed    = make(chan struct{})
		restarted = make(chan struct{})
		wg        sync.WaitGroup
		next      atomic.Int64
	)
	// Every device makes its ballot first; a retry sends the same one.
	bodies := make(map[string]string, len(el.Voters))
	for _, v := range el.Voters {
		bodies[v] = fixture.CastBody(env.Ballot(t, el, v, ballot.Selections{"leader": {"a"}, "council": {"p"}}))
	}
	// vote casts one voter's ballot, retrying through the crash with the same key.
	vote := func(voter string) error {
		deadline := time.Now().Add(60 * time.Second)
		body := bodies[voter]
		for time.Now().Before(deadline) {
			st, out, err := post("/api/v1/elections/crash/sessions", "", "", signInBody("crash", voter, el.Codes[voter]))
			if err != nil || st >= 500 {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			var sess struct{ Token string }
			json.Unmarshal(out, &sess)
			st, out, err = post("/api/v1/elections/crash/ballots", sess.Token, idemKey("ballot-"+voter), body)
			if err != nil || st >= 500 {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if st != 201 {
				return fmt.Errorf("%s: cast answered %d %s", voter, st, out)
			}
			var r elections.Receipt
			json.Unmarshal(out, &r)
			acked.Store(voter, r.TrackingCode)
			ackCount.Add(1)
			return nil
		}
		return fmt.Errorf("%s: no answer within a minute", voter)
	}
	errs := make(chan error, len(el.Voters))
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(el.Voters)) {
					return
				}
				if err := vote(el.Voters[i]); err != nil {
					errs <- err
				}
			}
		}()
	}
	go func() {
		for ackCount.Load() < int64(len(el.Voters)/4) {
			time.Sleep(5 * time.Millisecond)
		}
		proc.cmd.Process.Kill() // SIGKILL, mid-stream
		proc.cmd.Wait()
		close(killed)
	}()
	<-killed
	proc = startProcess(t, bin, addr, env.DB.URL, secrets)
	close(restarted)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A graceful stop sequences what is left.
	proc.cmd.Process.Signal(syscall.SIGTERM)
	if err := proc.cmd.Wait(); err != nil {
		t.Errorf("primaryd after SIGTERM: %v\n%s", err, proc.logs.String())
	}

	buf := verifiedBundle(t, env.DB.Pool, secrets, "crash")
	ledger := map[string]string{}
	acked.Range(func(voter, code any) bool {
		ledger[voter.(string)] = code.(string)
		return true
	})
	if len(ledger) != len(el.Voters) {
		t.Errorf("%d of %d voters got a receipt", len(ledger), len(el.Voters))
	}
	if got := env.Count(t, `SELECT count(*) FROM ballots WHERE election_id = 'crash'`); got != len(el.Voters) {
		t.Errorf("ballots = %d; want %d (no loss, no duplicate)", got, len(el.Voters))
	}
	<-restarted
	n := len(ledger)
	reconciles(t, env, el, buf, ledger, map[string]map[string]int{"leader": {"a": n}, "council": {"p": n}})
}

// verifiedBundle sequences whatever the servers left queued, exports the
// election's bundle and verifies it, failing t unless it verifies.
func verifiedBundle(t *testing.T, pool *pgxpool.Pool, secrets, election string) *bytes.Buffer {
	t.Helper()
	ctx := context.Background()
	s, err := auth.LoadSecrets(secrets, "primaryvote.test/log")
	if err != nil {
		t.Fatal(err)
	}
	signer := s.Log
	if _, err := audit.NewSequencer(pool, signer, slog.New(slog.DiscardHandler)).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := elections.New(pool, time.Now, nil, signer.VerifierKey()).Export(ctx, election, &buf); err != nil {
		t.Fatal(err)
	}
	if report, err := bundle.Verify(bytes.NewReader(buf.Bytes()), bundle.Options{LogKey: signer.VerifierKey()}); err != nil {
		t.Fatalf("the log of %s does not verify: %v\n%+v", election, err, report)
	}
	return &buf
}

// postJSON posts a JSON body, with a voter's token and an Idempotency-Key
// when token is set, and returns the status and the response body.
func postJSON(hc *http.Client, url, token, key, body string) (int, []byte, error) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

// chaosVoters is how many voters a chaos test plays: def in `make test`, or
// PV_CHAOS_VOTERS for a run at full scale (see the README).
func chaosVoters(t *testing.T, def int) int {
	s := os.Getenv("PV_CHAOS_VOTERS")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < def {
		t.Fatalf("PV_CHAOS_VOTERS=%q: want a number of at least %d", s, def)
	}
	return n
}

// reconciles tallies the election and checks, with the reconciliation
// make bench uses, that the verified bundle logs every acknowledged ballot
// once and nothing else, and that the tally counts exactly those ballots and
// the choices behind them.
func reconciles(t *testing.T, env *fixture.Env, el *fixture.Election, bundle *bytes.Buffer, acknowledged map[string]string, chosen map[string]map[string]int) {
	t.Helper()
	logged, err := loadtest.ReadBundle(bytes.NewReader(bundle.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	logged.Results = env.Tally(t, el)
	if err := loadtest.Reconcile(acknowledged, chosen, logged).Err(); err != nil {
		t.Error(err)
	}
}
