package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"primaryvote/audit/cosign"
	"strings"
	"testing"

	"primaryvote/internal/fixture"
)

func TestWitnessCommands(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: Env{}}
	dir := filepath.Join(t.TempDir(), "camp-a")
	logKey := fixture.New(t).Signer.VerifierKey()

	for _, bad := range []struct{ line, want string }{
		{"witness init --dir " + dir + " --name camp-a", "usage"},
		{"witness init --dir " + dir + " --name camp-a --log-key nonsense", "the log's key"},
		{"witness key --dir " + dir, "no such file"},
		{"witness serve --dir " + dir, "no witness key"},
	} {
		if _, err := c.run("", bad.line); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v; want %q", bad.line, err, bad.want)
		}
	}
	out := c.must("witness init --dir " + dir + " --name camp-a.example/witness --log-key " + logKey)
	vkey := c.must("witness key --dir " + dir)
	if !strings.Contains(out, strings.TrimSpace(vkey)) {
		t.Errorf("init printed %q, not the key %q", out, vkey)
	}
	if _, err := cosign.NewVerifier(strings.TrimSpace(vkey)); err != nil {
		t.Errorf("witness key printed %q: %v", vkey, err)
	}
	if _, err := c.run("", "witness init --dir "+dir+" --name other --log-key "+logKey); err == nil || !strings.Contains(err.Error(), "keeps its key") {
		t.Errorf("a second init: %v", err)
	}
	if again := c.must("witness key --dir " + dir); again != vkey {
		t.Errorf("the key changed: %q then %q", vkey, again)
	}

	// serve makes the witness on its first start when told its name and
	// log, as a container does, and refuses a directory of another log.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fresh := filepath.Join(t.TempDir(), "camp-b")
	var out2 strings.Builder
	env := &Env{Stdout: &out2, Stderr: io.Discard}
	if err := witnessServe(ctx, env, []string{"--dir", fresh, "--addr", "127.0.0.1:0", "--name", "camp-b.example/witness", "--log-key", logKey}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out2.String(), "camp-b.example/witness+") || !strings.Contains(out2.String(), "serving") {
		t.Errorf("serve on a first start: %s", out2.String())
	}
	other := fixture.New(t).Signer.VerifierKey()
	if err := witnessServe(ctx, env, []string{"--dir", fresh, "--addr", "127.0.0.1:0", "--name", "camp-b.example/witness", "--log-key", other}); err == nil || !strings.Contains(err.Error(), "witnesses the log") {
		t.Errorf("serve with another log's key: %v", err)
	}
	if err := witnessServe(ctx, env, []string{"--dir", fresh, "--name", "camp-b.example/witness", "--log-key", ""}); err == nil || !strings.Contains(err.Error(), "PRIMARYVOTE_LOG_KEY") {
		t.Errorf("serve with a name and no log key: %v", err)
	}
}

func TestWitnessesSetRefusesBadPolicies(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.must("election create --file ../../examples/election.json")
	dir := t.TempDir()
	k, _ := cosign.GenerateKey("camp-a.example/witness")
	for name, body := range map[string]string{
		"not json":      "quorum 2",
		"unknown field": `{"quorum":1,"witnesses":[{"key":"` + k.VerifierKey() + `","url":"http://a"}],"extra":1}`,
		"bad quorum":    `{"quorum":2,"witnesses":[{"key":"` + k.VerifierKey() + `","url":"http://a"}]}`,
		"bad key":       `{"quorum":1,"witnesses":[{"key":"camp+00000000+AAAA","url":"http://a"}]}`,
	} {
		f := filepath.Join(dir, "policy.json")
		os.WriteFile(f, []byte(body), 0o600)
		if _, err := c.run("", "witnesses set primary-2026 "+f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := c.run("", "witnesses status primary-2026"); err == nil || !strings.Contains(err.Error(), "no witness policy") {
		t.Errorf("status without a policy: %v", err)
	}
	f := filepath.Join(dir, "good.json")
	os.WriteFile(f, []byte(`{"quorum":1,"witnesses":[{"key":"`+k.VerifierKey()+`","url":"http://127.0.0.1:1"}]}`), 0o600)
	if out := c.must("witnesses set primary-2026 " + f); !strings.Contains(out, "1 of camp-a.example/witness") {
		t.Errorf("set: %s", out)
	}
	if out := c.must("witnesses status primary-2026"); !strings.Contains(out, `"cosigned_size": 0`) {
		t.Errorf("status: %s", out)
	}
}
