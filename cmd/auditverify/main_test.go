package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"primaryvote/audit"
	"primaryvote/audit/bundle"
	"primaryvote/internal/fixture"
)

func TestAuditverifyCommand(t *testing.T) {
	env := fixture.New(t)
	env.Setup(t, "e1", 3, true)
	ctx := context.Background()
	signer := env.Signer
	if _, err := env.Sequencer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "e1.bundle")
	var buf bytes.Buffer
	if err := bundle.Export(ctx, env.DB.Pool, "e1", signer.VerifierKey(), &buf); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, buf.Bytes(), 0o600)
	saved := filepath.Join(dir, "saved.checkpoint")
	cp, _ := audit.LatestCheckpoint(ctx, env.DB.Pool)
	os.WriteFile(saved, cp, 0o600)

	runCmd := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := runCmd("--log-key", signer.VerifierKey(), "--checkpoint", saved, file); code != 0 ||
		!strings.Contains(out, "all checks passed") || !strings.Contains(out, "extending the 1 saved checkpoints given") || strings.Contains(out, "NO LOG KEY") {
		t.Errorf("auditverify(good bundle) = %d\n%s", code, out)
	}
	// Without a pinned key, the first and last lines say what was not shown.
	var stdout, stderr bytes.Buffer
	if code := run([]string{file}, &stdout, &stderr); code != 0 {
		t.Errorf("auditverify without --log-key = %d\n%s%s", code, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if !strings.Contains(lines[0], "NO LOG KEY GIVEN: this shows only that the bundle agrees with itself") ||
		!strings.Contains(lines[len(lines)-1], "NO LOG KEY GIVEN") || strings.Contains(stdout.String(), "all checks passed") {
		t.Errorf("auditverify without --log-key said:\n%s", stdout.String())
	}
	if code, out := runCmd("--json", file); code != 0 || !strings.Contains(out, `"election": "e1"`) {
		t.Errorf("auditverify --json = %d\n%s", code, out)
	}
	if code, out := runCmd("--db", env.DB.URL, "--log-key", signer.VerifierKey(), "e1"); code != 0 || !strings.Contains(out, "all checks passed") {
		t.Errorf("auditverify --db = %d\n%s", code, out)
	}
	tampered := filepath.Join(dir, "tampered.bundle")
	os.WriteFile(tampered, bytes.Replace(buf.Bytes(), []byte(`"position":2,`), []byte(`"position":3,`), 1), 0o600)
	if code, out := runCmd(tampered); code != 1 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "expected position 2") {
		t.Errorf("auditverify(tampered) = %d\n%s", code, out)
	}
	if code, _ := runCmd("--db", env.DB.URL, "e1"); code != 2 {
		t.Errorf("--db without --log-key = %d; want 2 (usage)", code)
	}
	// In --db mode, failures name what failed, not a line of a file the
	// reader never saw.
	other, err := audit.LoadSigner(t.TempDir(), fixture.LogOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if code, out := runCmd("--db", env.DB.URL, "--log-key", other.VerifierKey(), "e1"); code != 1 ||
		!strings.Contains(out, "FAILED: checkpoint 1: audit: checkpoint signature") || strings.Contains(out, "line ") {
		t.Errorf("auditverify --db with another key = %d\n%s", code, out)
	}
	// A malformed key or saved checkpoint is refused before any work.
	badCheckpoint := filepath.Join(dir, "bad.checkpoint")
	os.WriteFile(badCheckpoint, []byte("not a checkpoint\n"), 0o600)
	for _, args := range [][]string{
		{"--log-key", "primaryvote.test/log+nothex+AAAA", file},
		{"--db", "postgres://nowhere.invalid/x", "--log-key", "garbage", "e1"},
		{"--log-key", signer.VerifierKey(), "--checkpoint", badCheckpoint, file},
		{"--checkpoint", badCheckpoint, file},
	} {
		if code, out := runCmd(args...); code != 2 || !strings.HasPrefix(out, "auditverify: ") || strings.Contains(out, "election") {
			t.Errorf("auditverify %q = %d\n%s; want refused at once", args, code, out)
		}
	}
	if code, _ := runCmd(); code != 2 {
		t.Errorf("no arguments = %d; want 2", code)
	}
}
