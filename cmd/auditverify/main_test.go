package main

import (
	"bytes"
	"context"
	"log/slog"
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
	signer, err := audit.LoadSigner(t.TempDir(), "primaryvote.test/log")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.NewSequencer(env.DB.Pool, signer, slog.New(slog.DiscardHandler)).Drain(ctx); err != nil {
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
	if code, out := runCmd("--log-key", signer.VerifierKey(), "--checkpoint", saved, file); code != 0 || !strings.Contains(out, "all checks passed") {
		t.Errorf("auditverify(good bundle) = %d\n%s", code, out)
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
	if code, _ := runCmd(); code != 2 {
		t.Errorf("no arguments = %d; want 2", code)
	}
}
