package main

import (
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"primaryvote/audit"
	"primaryvote/auth"
	"primaryvote/elections"
	"primaryvote/internal/fixture"
	"primaryvote/internal/loadtest"
	"primaryvote/migrations"
)

// ownCluster starts a private PostgreSQL cluster for a test that restarts
// it, so the suite's shared cluster is never touched, and migrates it as the
// schema's owner. It returns the application's URL.
func ownCluster(t *testing.T) (dir, url string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "pg")
	script, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "pgcluster"))
	t.Cleanup(func() { exec.Command(script, "destroy", dir).Run() }) // also after a failed start
	out, err := exec.Command(script, "start", dir, "--ephemeral").CombinedOutput()
	if err != nil {
		t.Fatalf("pgcluster start: %v\n%s", err, out)
	}
	var owner string
	for _, line := range strings.Split(string(out), "\n") {
		if u, ok := strings.CutPrefix(line, "DATABASE_URL="); ok {
			url = u
		}
		if u, ok := strings.CutPrefix(line, "DATABASE_OWNER_URL="); ok {
			owner = u
		}
	}
	if url == "" || owner == "" {
		t.Fatalf("pgcluster printed no DATABASE_URL and DATABASE_OWNER_URL:\n%s", out)
	}
	app, err := migrations.Role(url)
	if err == nil {
		_, err = migrations.Up(context.Background(), owner, app, slog.New(slog.DiscardHandler))
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir, url
}

func pgcluster(t *testing.T, args ...string) {
	t.Helper()
	script, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "pgcluster"))
	if out, err := exec.Command(script, args...).CombinedOutput(); err != nil {
		t.Fatalf("pgcluster %v: %v\n%s", args, err, out)
	}
}

// TestPostgresRestartMidLoad restarts the database while voters cast. Casts
// fail while it is down and are retried with their keys; afterwards every
// acknowledged ballot is stored once and the log verifies.
func TestPostgresRestartMidLoad(t *testing.T) {
	t.Parallel()
	bin := buildPrimaryd(t)
	dir, url := ownCluster(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	secretsDir := t.TempDir()
	secrets, err := auth.LoadSecrets(secretsDir, fixture.LogOrigin)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's services, on this cluster.
	addr := freeAddr(t)
	proc := startProcess(t, bin, addr, url, secretsDir)
	clock := fixture.NewClock()
	signer := secrets.Log
	env := &fixture.Env{Clock: clock, SecretsDir: secretsDir, Secrets: secrets, Signer: signer,
		Sequencer:   audit.NewSequencer(pool, signer, slog.New(slog.DiscardHandler)),
		Elections:   elections.New(pool, clock.Now, secrets, signer.VerifierKey()),
		Credentials: auth.NewCredentials(pool, secrets, clock.Now),
		Officials:   auth.NewOfficials(pool, clock.Now), Tokens: auth.NewTokens(secrets, clock.Now)}
	el := env.SetupWith(t, fixture.Definition("pgr"), chaosVoters(t, 150), true)

	var voters []loadtest.Voter
	for _, v := range el.Voters {
		voters = append(voters, loadtest.Voter{ID: v, Code: el.Codes[v]})
	}
	var (
		rep *loadtest.Report
		wg  sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		rep, _ = loadtest.Run(context.Background(), loadtest.Config{BaseURL: "http://" + addr, Election: "pgr", Voters: voters, Concurrency: 8})
	}()
	// A minute, and more at full scale (PV_CHAOS_VOTERS).
	deadline := time.Now().Add(time.Minute + time.Duration(len(voters))*5*time.Millisecond)
	for {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM ballots`).Scan(&n); err == nil && n >= len(voters)/5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no ballots arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	pgcluster(t, "stop", dir)
	pgcluster(t, "start", dir)
	wg.Wait()
	proc.cmd.Process.Signal(syscall.SIGTERM)
	proc.cmd.Wait()

	if rep == nil || rep.Failed != 0 || rep.Acknowledged != len(voters) {
		t.Fatalf("load through a database restart: %+v", rep)
	}
	t.Logf("through the restart: %d retries, errors %v", rep.Retries, rep.Errors)
	for class, n := range rep.Errors {
		if strings.HasPrefix(class, "500") {
			t.Errorf("%d × %s: a database restart is a 503 (retry), not an internal error", n, class)
		}
	}
	// The old pool's connections died with the server: check on fresh ones.
	after, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	var stored int
	if err := after.QueryRow(context.Background(), `SELECT count(*) FROM ballots`).Scan(&stored); err != nil || stored != len(voters) {
		t.Errorf("%d ballots stored (%v); want %d", stored, err, len(voters))
	}
	buf := verifiedBundle(t, after, secretsDir, "pgr")
	env.Elections = elections.New(after, clock.Now, secrets, signer.VerifierKey())
	reconciles(t, env, el, buf, rep.Ledger, rep.Chosen)
}
