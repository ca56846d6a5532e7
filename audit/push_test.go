package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"primaryvote/audit"
	"primaryvote/audit/bundle"
	"primaryvote/audit/cosign"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

// litewitness runs torchwood's litewitness (LITEWITNESS_BIN, where make
// test installs it and witnessctl) for the log whose verifier key is
// logKey, its key in an ssh-agent of its own, and returns its verifier key
// and address.
func litewitness(t *testing.T, origin, logKey string) (vkey, url string) {
	t.Helper()
	bin := os.Getenv("LITEWITNESS_BIN")
	if bin == "" {
		t.Fatal("LITEWITNESS_BIN is not set: make test installs torchwood's litewitness and witnessctl there")
	}
	dir := t.TempDir()
	run := func(env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	key := filepath.Join(dir, "witness")
	run(nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	fp := strings.Fields(run(nil, "ssh-keygen", "-l", "-E", "sha256", "-f", key+".pub"))[1]
	sock := filepath.Join(dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for range 50 {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	run([]string{"SSH_AUTH_SOCK=" + sock}, "ssh-add", "-q", key)
	db := filepath.Join(dir, "litewitness.db")
	run(nil, filepath.Join(bin, "witnessctl"), "add-log", "-db", db, "-origin", origin)
	run(nil, filepath.Join(bin, "witnessctl"), "add-key", "-db", db, "-origin", origin, "-key", logKey)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logFile, err := os.Create(filepath.Join(dir, "litewitness.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	lw := exec.Command(filepath.Join(bin, "litewitness"), "-db", db, "-ssh-agent", sock, "-key", fp, "-name", "camp-t.example/litewitness", "-listen", addr)
	lw.Stdout, lw.Stderr = logFile, logFile
	if err := lw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lw.Process.Kill(); lw.Wait() })
	re := regexp.MustCompile(`vkey=(\S+)`)
	var logs []byte
	for range 100 {
		logs, _ = os.ReadFile(logFile.Name())
		if m := re.FindSubmatch(logs); m != nil {
			if res, err := http.Get("http://" + addr + "/"); err == nil {
				res.Body.Close()
				return string(m[1]), "http://" + addr
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("litewitness did not start:\n%s", logs)
	return "", ""
}

// The pusher speaks C2SP tlog-witness to torchwood's litewitness: the
// first push from size 0, the next with a consistency proof, a stale
// pusher resumes from the size the 409 gives, every cosignature verifies
// here, and the bundle verifies against a policy of that witness.
func TestPushToTorchwoodLitewitness(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	ctx := context.Background()
	vkey, url := litewitness(t, env.Signer.Origin(), env.Signer.VerifierKey())
	policy := &cosign.Policy{Quorum: 1, Witnesses: []cosign.Witness{{Key: vkey, URL: url}}}
	el := env.Setup(t, "e1", 4, false)
	if err := env.Elections.SetWitnesses(ctx, "e1", policy, "test"); err != nil {
		t.Fatal(err)
	}
	if err := env.Elections.Open(ctx, "e1", "test"); err != nil {
		t.Fatal(err)
	}
	newPusher := func() *audit.Pusher {
		p, err := audit.NewPusher(env.DB.Pool, env.Signer.VerifierKey(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cast := func(i int) string {
		req := env.CastRequest(t, el, el.Voters[i], ballot.Selections{"leader": {"a"}, "council": {"p"}})
		if _, _, err := env.Elections.Cast(ctx, req); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Sequencer.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		return ballot.TrackingCode(sha256.Sum256(req.Encrypted))
	}
	round := func(p *audit.Pusher) audit.WitnessStatus {
		t.Helper()
		if err := p.Round(ctx); err != nil {
			t.Fatal(err)
		}
		st := p.Status()
		if len(st) != 1 || st[0].Error != "" || st[0].Cosigned != st[0].LogSize {
			t.Fatalf("after a round: %+v", st)
		}
		return st[0]
	}
	first, stale := newPusher(), newPusher()
	code := cast(0)
	round(first) // from size 0
	round(stale) // the same checkpoint again: it reads the size from the database
	cast(1)
	round(first) // with a consistency proof
	cast(2)
	if st := round(stale); st.Failures != 0 { // believed the witness at an older size: 409, then from its size
		t.Fatalf("%+v", st)
	}
	in, err := env.Log.Include(ctx, "e1", entry.KindBallotCast, code)
	if err != nil || !in.Witnessed.Counts() || in.Witnessed.Cosigners[0] != "camp-t.example/litewitness" {
		t.Fatalf("receipt: %+v, %v", in, err)
	}
	var buf bytes.Buffer
	if err := env.Elections.Export(ctx, "e1", &buf); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "camp-t.example/litewitness"); n < 3 {
		t.Errorf("the bundle holds %d of litewitness's cosignatures", n)
	}
	if _, err := bundle.Verify(&buf, bundle.Options{LogKey: env.Signer.VerifierKey(), Policy: policy}); err != nil {
		t.Errorf("Verify against litewitness's policy: %v", err)
	}
}
