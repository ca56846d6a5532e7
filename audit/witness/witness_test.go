package witness_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"primaryvote/audit/cosign"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit/record"
	"primaryvote/audit/witness"
)

// tree is an in-memory log: its records' tree hashes, and the key that
// signs its checkpoints.
type tree struct {
	t      testing.TB
	signer *record.Signer
	hashes []tlog.Hash
	n      int64
}

func newTree(t testing.TB) *tree {
	s, err := record.GenerateSigner(record.DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return &tree{t: t, signer: s}
}

func (tr *tree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = tr.hashes[x]
	}
	return out, nil
}

// grow appends n records whose contents start with prefix.
func (tr *tree) grow(n int, prefix string) {
	for range n {
		hs, err := tlog.StoredHashes(tr.n, fmt.Appendf(nil, "%s%d", prefix, tr.n), tr)
		if err != nil {
			tr.t.Fatal(err)
		}
		tr.hashes = append(tr.hashes, hs...)
		tr.n++
	}
}

// checkpoint signs a checkpoint of the tree's first size records.
func (tr *tree) checkpoint(size int64) []byte {
	root, err := tlog.TreeHash(size, tr)
	if err != nil {
		tr.t.Fatal(err)
	}
	signed, err := tr.signer.Sign(record.Checkpoint{Origin: tr.signer.Origin(), Size: size, Root: root})
	if err != nil {
		tr.t.Fatal(err)
	}
	return signed
}

func (tr *tree) request(old, size int64) *witness.AddCheckpointRequest {
	r := &witness.AddCheckpointRequest{OldSize: old, Checkpoint: tr.checkpoint(size)}
	if old > 0 {
		p, err := tlog.ProveTree(size, old, tr)
		if err != nil {
			tr.t.Fatal(err)
		}
		r.Proof = p
	}
	return r
}

func openWitness(t *testing.T, dir string) *witness.Server {
	t.Helper()
	w, err := witness.Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func newWitness(t *testing.T, tr *tree, name string) (*witness.Server, string, *httptest.Server) {
	t.Helper()
	dir := t.TempDir()
	if _, err := witness.Init(dir, name, tr.signer.VerifierKey()); err != nil {
		t.Fatal(err)
	}
	w := openWitness(t, dir)
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return w, dir, srv
}

func add(t *testing.T, url string, r *witness.AddCheckpointRequest) ([]byte, error) {
	t.Helper()
	return witness.AddCheckpoint(context.Background(), http.DefaultClient, url, r)
}

func status(err error) int {
	var ref *witness.RefusedError
	if errors.As(err, &ref) {
		return ref.Status
	}
	var c *witness.ConflictError
	if errors.As(err, &c) {
		return http.StatusConflict
	}
	return 0
}

func TestWitnessCosignsAGrowingLog(t *testing.T) {
	tr := newTree(t)
	w, dir, srv := newWitness(t, tr, "camp-a.example/witness")
	policy := &cosign.Policy{Quorum: 1, Witnesses: []cosign.Witness{{Key: w.VerifierKey(), URL: srv.URL}}}
	if err := policy.Check(); err != nil {
		t.Fatal(err)
	}
	tr.grow(5, "r")
	var last []byte
	for old, size := range map[int64]int64{0: 5} {
		sig, err := add(t, srv.URL, tr.request(old, size))
		if err != nil {
			t.Fatal(err)
		}
		last = append(tr.checkpoint(size), sig...)
	}
	tr.grow(12, "r")
	sig, err := add(t, srv.URL, tr.request(5, 17))
	if err != nil {
		t.Fatal(err)
	}
	cp := tr.checkpoint(17)
	names, err := policy.Cosigners(append(cp, sig...), tr.signer.VerifierKey())
	if err != nil || len(names) != 1 || names[0] != "camp-a.example/witness" {
		t.Fatalf("cosigners %v, %v", names, err)
	}
	// The cosignature is for that checkpoint and no other.
	if names, err := policy.Cosigners(append(bytes.Clone(last[:bytes.Index(last, []byte("\n\n"))+2]), append(tr.checkpoint(5)[bytes.Index(tr.checkpoint(5), []byte("\n\n"))+2:], sig...)...), tr.signer.VerifierKey()); err == nil {
		t.Fatalf("a cosignature of size 17 opened size 5's checkpoint: %v", names)
	}
	// The same checkpoint again is cosigned again.
	if _, err := add(t, srv.URL, tr.request(17, 17)); err != nil {
		t.Fatal(err)
	}
	// The state survives a restart, and the monitoring endpoint serves it
	// with both signatures.
	if w2 := openWitness(t, dir); w2.Size() != 17 {
		t.Fatalf("reopened at size %d", w2.Size())
	}
	h := sha256.Sum256([]byte(record.DefaultOrigin))
	resp, err := http.Get(srv.URL + "/" + hex.EncodeToString(h[:]) + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if names, err := policy.Cosigners(body, tr.signer.VerifierKey()); err != nil || len(names) != 1 {
		t.Fatalf("served checkpoint: %v %v\n%s", names, err, body)
	}
	if resp, _ := http.Get(srv.URL + "/" + strings.Repeat("0", 64) + "/checkpoint"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown log's checkpoint: %d", resp.StatusCode)
	}
}

func TestWitnessRefuses(t *testing.T) {
	tr := newTree(t)
	_, dir, srv := newWitness(t, tr, "camp-b.example/witness")
	tr.grow(8, "r")
	if _, err := add(t, srv.URL, tr.request(0, 8)); err != nil {
		t.Fatal(err)
	}
	// A split view: another tree of size 8, and one of size 10 that does
	// not extend the tree the witness cosigned.
	split := &tree{t: t, signer: tr.signer}
	split.grow(8, "s")
	other, otherProof := split.checkpoint(8), []tlog.Hash(nil)
	split.grow(2, "s")
	p, _ := tlog.ProveTree(10, 8, split)
	otherProof = p

	refusedBefore := 0
	for _, c := range []struct {
		name   string
		req    *witness.AddCheckpointRequest
		body   string
		status int
	}{
		{"another tree of the same size", &witness.AddCheckpointRequest{OldSize: 8, Checkpoint: other}, "", 422},
		{"a tree that does not extend it", &witness.AddCheckpointRequest{OldSize: 8, Proof: otherProof, Checkpoint: split.checkpoint(10)}, "", 422},
		{"a rolled-back log (older than what was cosigned)", tr.request(0, 5), "", 409},
		{"a stale old size", tr.request(5, 8), "", 409},
		{"an old size beyond the checkpoint", &witness.AddCheckpointRequest{OldSize: 9, Checkpoint: tr.checkpoint(8)}, "", 400},
		{"a proof from size 0", &witness.AddCheckpointRequest{OldSize: 0, Proof: []tlog.Hash{{}}, Checkpoint: tr.checkpoint(8)}, "", 409},
		{"no blank line", nil, "old 8\n" + string(tr.checkpoint(8)[:20]), 400},
		{"a leading zero", nil, "old 08\n\n" + string(tr.checkpoint(8)), 400},
		{"a bad proof line", nil, "old 8\nnot-a-hash\n\n" + string(tr.checkpoint(8)), 400},
		{"an unknown log", nil, "old 8\n\nexample.com/other\n8\n" + strings.Repeat("A", 43) + "=\n\n— example.com/other AAAA\n", 404},
	} {
		var body []byte
		if c.req != nil {
			body = c.req.Marshal()
		} else {
			body = []byte(c.body)
		}
		resp, err := http.Post(srv.URL+"/add-checkpoint", "text/plain", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, b, c.status)
		}
		if resp.StatusCode == 409 && (string(b) != "8\n" || resp.Header.Get("Content-Type") != "text/x.tlog.size") {
			t.Errorf("%s: a 409 of %q (%s)", c.name, b, resp.Header.Get("Content-Type"))
		}
		if c.status == 422 {
			refusedBefore++
		}
	}
	// A checkpoint signed by another key.
	forger := newTree(t)
	forger.grow(9, "r")
	if _, err := add(t, srv.URL, forger.request(8, 9)); status(err) != http.StatusForbidden {
		t.Errorf("a checkpoint under another key: %v", err)
	}
	// The split views are kept as evidence, each signed by the log.
	kept, _ := filepath.Glob(filepath.Join(dir, witness.RefusedDir, "*.checkpoint"))
	if len(kept) != refusedBefore {
		t.Fatalf("kept %d refused checkpoints, want %d", len(kept), refusedBefore)
	}
	for _, f := range kept {
		b, _ := os.ReadFile(f)
		if _, err := record.OpenCheckpoint(b, tr.signer.VerifierKey()); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Nothing refused changed the state: the honest log goes on.
	tr.grow(3, "r")
	if _, err := add(t, srv.URL, tr.request(8, 11)); err != nil {
		t.Fatal(err)
	}
}

func TestClientResumesFromTheWitnessSize(t *testing.T) {
	tr := newTree(t)
	_, _, srv := newWitness(t, tr, "camp-c.example/witness")
	tr.grow(4, "r")
	if _, err := add(t, srv.URL, tr.request(0, 4)); err != nil {
		t.Fatal(err)
	}
	tr.grow(4, "r")
	_, err := add(t, srv.URL, tr.request(0, 8))
	var c *witness.ConflictError
	if !errors.As(err, &c) || c.Size != 4 {
		t.Fatalf("got %v, want a conflict at 4", err)
	}
	if _, err := add(t, srv.URL, tr.request(c.Size, 8)); err != nil {
		t.Fatal(err)
	}
}

func TestInitRefusesToReplaceAKey(t *testing.T) {
	tr := newTree(t)
	dir := t.TempDir()
	if _, err := witness.Init(dir, "w", tr.signer.VerifierKey()); err != nil {
		t.Fatal(err)
	}
	if _, err := witness.Init(dir, "w", tr.signer.VerifierKey()); err == nil {
		t.Fatal("Init replaced a witness key")
	}
	if fi, _ := os.Stat(filepath.Join(dir, witness.KeyFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode())
	}
	if _, err := witness.Init(t.TempDir(), "bad name", tr.signer.VerifierKey()); err == nil {
		t.Error("a name with a space")
	}
	if _, err := witness.Init(t.TempDir(), "w", "not a key"); err == nil {
		t.Error("a bad log key")
	}
}
