package record

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// memLog is an in-memory log: records, their chain, and the tlog stored
// hashes, for tests.
type memLog struct {
	records [][]byte
	chain   tlog.Hash
	hashes  []tlog.Hash
}

func (m *memLog) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memLog) append(t *testing.T, body string) {
	t.Helper()
	n := int64(len(m.records))
	rec := Frame(n, m.chain, []byte(body))
	hs, err := tlog.StoredHashes(n, rec, m)
	if err != nil {
		t.Fatal(err)
	}
	m.hashes = append(m.hashes, hs...)
	m.records = append(m.records, rec)
	m.chain = ChainHash(rec)
}

func TestRecordsChain(t *testing.T) {
	t.Parallel()
	var m memLog
	for i := range 5 {
		m.append(t, fmt.Sprintf(`{"kind":"k%d"}`, i))
	}
	prev := tlog.Hash{}
	for i, rec := range m.records {
		idx, p, body, err := Parse(rec)
		if err != nil || idx != int64(i) || p != prev || string(body) != fmt.Sprintf(`{"kind":"k%d"}`, i) {
			t.Fatalf("Parse(%d) = %d, %v, %q, %v", i, idx, p, body, err)
		}
		prev = ChainHash(rec)
	}
	if prev != m.chain {
		t.Error("chain head differs")
	}
	for _, bad := range [][]byte{nil, []byte("PVL1"), append([]byte("XXXX"), m.records[0][4:]...)} {
		if _, _, _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// The tree over the records is RFC 6962's, as tlog computes it: inclusion
// proofs verify with tlog.CheckRecord and consistency proofs with tlog.CheckTree.
func TestMerkleProofs(t *testing.T) {
	t.Parallel()
	var m memLog
	for i := range 13 {
		m.append(t, fmt.Sprintf("entry %d", i))
	}
	root, err := tlog.TreeHash(13, &m)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(13) {
		p, err := tlog.ProveRecord(13, i, &m)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, 13, root, i, tlog.RecordHash(m.records[i])); err != nil {
			t.Errorf("CheckRecord(%d) = %v", i, err)
		}
		if err := tlog.CheckRecord(p, 13, root, i, tlog.RecordHash(append([]byte{}, "forged"...))); err == nil {
			t.Errorf("CheckRecord(%d) accepted a forged record", i)
		}
	}
	old, _ := tlog.TreeHash(7, &m)
	p, err := tlog.ProveTree(13, 7, &m)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(p, 13, root, 7, old); err != nil {
		t.Errorf("CheckTree(7 → 13) = %v", err)
	}
}

func TestCheckpoints(t *testing.T) {
	t.Parallel()
	s, err := GenerateSigner("primaryvote.test/log")
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, _ := GenerateKey("primaryvote.test/log")
	if _, err := NewSigner(skey, vkey, "another/log"); err == nil {
		t.Error("NewSigner accepted a key for another origin")
	}
	_, otherV, _ := GenerateKey("primaryvote.test/log")
	if _, err := NewSigner(skey, otherV, "primaryvote.test/log"); err == nil {
		t.Error("NewSigner accepted a verifier key of another signer")
	}
	if _, err := NewSigner("garbage", vkey, "primaryvote.test/log"); err == nil {
		t.Error("NewSigner accepted a malformed signer key")
	}

	var m memLog
	for i := range 3 {
		m.append(t, fmt.Sprintf("entry %d", i))
	}
	root, _ := tlog.TreeHash(3, &m)
	c := Checkpoint{Origin: s.Origin(), Size: 3, Root: root, Chain: m.chain}
	signed, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenCheckpoint(signed, s.VerifierKey())
	if err != nil || got != c {
		t.Fatalf("OpenCheckpoint = %+v, %v; want %+v", got, err, c)
	}
	// Independently, with x/mod's note package alone.
	v, _ := note.NewVerifier(s.VerifierKey())
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil || n.Text != string(c.Body()) {
		t.Fatalf("note.Open = %v", err)
	}
	if !strings.HasPrefix(n.Text, "primaryvote.test/log\n3\n") {
		t.Errorf("body = %q", n.Text)
	}

	tampered := bytes.Replace(signed, []byte("\n3\n"), []byte("\n2\n"), 1)
	if _, err := OpenCheckpoint(tampered, s.VerifierKey()); err == nil {
		t.Error("a checkpoint with an altered size verified")
	}
	other, _ := GenerateSigner("primaryvote.test/log")
	if _, err := OpenCheckpoint(signed, other.VerifierKey()); err == nil {
		t.Error("a checkpoint verified under another key")
	}
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte(Checkpoint{Origin: "o", Size: 1}.Body()))
	f.Add([]byte("o\n01\nAAAA\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseCheckpoint(body)
		if err == nil && !bytes.Equal(c.Body(), body) {
			t.Fatalf("ParseCheckpoint(%q) accepted a non-canonical body", body)
		}
	})
}
