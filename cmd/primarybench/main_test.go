package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"primaryvote/ballot"
	"primaryvote/internal/dbtest"
)

func TestProcCPU(t *testing.T) {
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
	}
	own, _, err := procCPU(os.Getpid())
	if err != nil || own <= 0 {
		t.Errorf("procCPU(self) = %v, %v", own, err)
	}
	if ppid, err := parentOf(os.Getpid()); err != nil || ppid != os.Getppid() {
		t.Errorf("parentOf(self) = %d, %v; want %d", ppid, err, os.Getppid())
	}
	if rss, err := peakRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("peakRSS(self) = %v, %v", rss, err)
	}
	if _, _, err := procCPU(-1); err == nil {
		t.Error("procCPU(-1) succeeded")
	}
	before := cpuSample{primaryd: time.Second, postgres: 2 * time.Second}
	after := cpuSample{primaryd: 4 * time.Second, postgres: 4 * time.Second, self: time.Second}
	r := after.since(before, 10*time.Second, 1000)
	if r.PrimarydMsPerVote != 3 || r.PostgresMsPerVote != 2 || r.ServerMsPerVote != 5 || r.LoadTesterS != 1 {
		t.Errorf("since = %+v", r)
	}
}

func TestRollAndDefinitions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roll.csv")
	if err := writeRoll(path, 20); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	groups := map[string]int{}
	lines := 0
	for sc.Scan() {
		lines++
		if lines > 1 {
			groups[strings.Split(sc.Text(), ",")[1]]++
		}
	}
	if lines != 21 || groups["delegates"] != 2 || groups["members"] != 10 || groups["public"] != 8 {
		t.Errorf("roll: %d lines, groups %v", lines, groups)
	}
	t.Chdir("../..")
	for _, b := range []string{"primary", "demo"} {
		raw, err := definition(b)
		if err != nil {
			t.Fatal(err)
		}
		var d ballot.Definition
		if err := json.Unmarshal(raw, &d); err != nil || d.ID != "bench" || len(d.Groups) != 3 {
			t.Errorf("%s definition: %+v, %v", b, d, err)
		}
	}
}

// A whole primary of 40 voters, end to end through the binaries make bench
// runs, reconciles.
func TestBenchEndToEnd(t *testing.T) {
	db := dbtest.New(t)
	t.Setenv("DATABASE_URL", db.URL)
	t.Setenv("DATABASE_OWNER_URL", db.OwnerURL)
	bin, err := filepath.Abs("../../bin")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"primaryctl", "primaryd", "auditverify"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			t.Fatalf("bin/%s is not built (make test builds it): %v", b, err)
		}
	}
	t.Chdir("../..") // the demo ballot's definition is read from the repository
	work := t.TempDir()
	sum, err := run(context.Background(), config{voters: 40, concurrency: 8, surge: 1, ballot: "demo", work: work, bin: bin,
		out: filepath.Join(work, "summary.json"), witnesses: 2})
	if err != nil {
		t.Fatalf("run = %v", err)
	}
	r := sum.Reconciled
	if !sum.Verified || r == nil || r.Acknowledged != 40 || r.Logged != 40 || r.Counted != 40 || r.Err() != nil {
		t.Errorf("summary: verified %v, reconciliation %+v", sum.Verified, r)
	}
	if sum.CPU.PrimarydMsPerVote <= 0 || sum.Load.PrepareSeconds <= 0 || sum.AuthorityS <= 0 {
		t.Errorf("summary: %+v", sum)
	}
	// The two witnesses cosigned the final checkpoint: auditverify --policy
	// passed.
	if w := sum.Witnessing; w.Witnesses != 2 || !w.FinalCosigned || w.RecordsPerSec <= 0 || !strings.Contains(strings.Join(sum.VerifySteps, "\n"), "witnesses (pinned policy, quorum 2)") {
		t.Errorf("witnessing %+v, steps %q", w, sum.VerifySteps)
	}
}
