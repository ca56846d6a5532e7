package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"primaryvote/audit/record"
)

// The command needs only a bundle: these tests use the committed golden
// election and no database.
func TestAuditverifyCommand(t *testing.T) {
	golden := filepath.Join("..", "..", "audit", "bundle", "testdata")
	file := filepath.Join(golden, "golden.bundle")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	k, err := os.ReadFile(filepath.Join(golden, "golden.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(k))
	dir := t.TempDir()
	// An observer's saved checkpoint: the bundle's newest.
	saved := filepath.Join(dir, "saved.checkpoint")
	var checkpoint []byte
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, `{"type":"checkpoint"`) {
			checkpoint = []byte(l)
		}
	}
	signed := strings.TrimSuffix(strings.TrimPrefix(string(checkpoint), `{"type":"checkpoint","signed":"`), `"}`)
	os.WriteFile(saved, []byte(strings.ReplaceAll(signed, `\n`, "\n")), 0o600)

	runCmd := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := runCmd("--log-key", key, "--checkpoint", saved, file); code != 0 ||
		!strings.Contains(out, "all checks passed") || !strings.Contains(out, "extending the 1 saved checkpoints given") || strings.Contains(out, "NO LOG KEY") {
		t.Errorf("auditverify(good bundle) = %d\n%s", code, out)
	}
	// The camps' witness policy, pinned; another quorum, or no policy file.
	policy := filepath.Join(golden, "golden.policy")
	if code, out := runCmd("--log-key", key, "--policy", policy, file); code != 0 || !strings.Contains(out, "witnesses (pinned policy, quorum 2): the final checkpoint") {
		t.Errorf("auditverify --policy = %d\n%s", code, out)
	}
	pb, _ := os.ReadFile(policy)
	otherPolicy := filepath.Join(dir, "other.policy")
	os.WriteFile(otherPolicy, bytes.Replace(pb, []byte(`"quorum":2`), []byte(`"quorum":3`), 1), 0o600)
	if code, out := runCmd("--log-key", key, "--policy", otherPolicy, file); code != 1 || !strings.Contains(out, "is not the pinned one") {
		t.Errorf("auditverify with another quorum = %d\n%s", code, out)
	}
	os.WriteFile(otherPolicy, []byte(`{"quorum":1}`), 0o600)
	if code, out := runCmd("--log-key", key, "--policy", otherPolicy, file); code != 2 || !strings.Contains(out, "witness policy") {
		t.Errorf("auditverify with a bad policy = %d\n%s", code, out)
	}
	// The authority's credentials file and the hash it published.
	creds := filepath.Join(golden, "golden.credentials")
	cb, err := os.ReadFile(creds)
	if err != nil {
		t.Fatal(err)
	}
	credSum := fmt.Sprintf("%x", sha256.Sum256(cb))
	if code, out := runCmd("--log-key", key, "--credentials", creds, "--credentials-sha256", credSum, file); code != 0 ||
		!strings.Contains(out, "credentials are the authority's") {
		t.Errorf("auditverify with the authority's credentials = %d\n%s", code, out)
	}
	if code, out := runCmd("--log-key", key, "--credentials", creds, "--credentials-sha256", strings.Repeat("0", 64), file); code != 2 || !strings.Contains(out, "not the published") {
		t.Errorf("auditverify with another published hash = %d\n%s", code, out)
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
	tampered := filepath.Join(dir, "tampered.bundle")
	os.WriteFile(tampered, bytes.Replace(raw, []byte(`"position":2,`), []byte(`"position":3,`), 1), 0o600)
	if code, out := runCmd(tampered); code != 1 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "expected position 2") {
		t.Errorf("auditverify(tampered) = %d\n%s", code, out)
	}
	other, err := record.GenerateSigner("primaryvote.test/log")
	if err != nil {
		t.Fatal(err)
	}
	if code, out := runCmd("--log-key", other.VerifierKey(), file); code != 1 || !strings.Contains(out, "is not the pinned one") {
		t.Errorf("auditverify with another key pinned = %d\n%s", code, out)
	}
	// A malformed key or saved checkpoint is refused before any work.
	badCheckpoint := filepath.Join(dir, "bad.checkpoint")
	os.WriteFile(badCheckpoint, []byte("not a checkpoint\n"), 0o600)
	for _, args := range [][]string{
		{"--log-key", "primaryvote.test/log+nothex+AAAA", file},
		{"--log-key", key, "--checkpoint", badCheckpoint, file},
		{"--checkpoint", badCheckpoint, file},
		{"--log-key", key, filepath.Join(dir, "missing.bundle")},
	} {
		if code, out := runCmd(args...); code != 2 || !strings.HasPrefix(out, "auditverify: ") || strings.Contains(out, "election") {
			t.Errorf("auditverify %q = %d\n%s; want refused at once", args, code, out)
		}
	}
	for _, args := range [][]string{{}, {"--db", "postgres://x", "e1"}, {file, file}} {
		if code, _ := runCmd(args...); code != 2 {
			t.Errorf("auditverify %q = %d; want 2 (usage)", args, code)
		}
	}
}
