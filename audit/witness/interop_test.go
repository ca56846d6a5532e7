package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit/record"
)

// The cosignatures are C2SP tlog-cosignature's: what this package's
// witness makes, torchwood's verifier accepts, and what torchwood's signer
// makes, this package's verifier accepts.
func TestCosignaturesInteroperateWithTorchwood(t *testing.T) {
	log, err := record.GenerateSigner(record.DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	root := tlog.RecordHash([]byte("r0"))
	signed, err := log.Sign(record.Checkpoint{Origin: log.Origin(), Size: 1, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	logV, _ := note.NewVerifier(log.VerifierKey())

	// Ours, verified by torchwood.
	dir := t.TempDir()
	k, err := Init(dir, "camp-a.example/witness", log.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	w, err := Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	cosig, err := w.AddCheckpoint((&AddCheckpointRequest{Checkpoint: signed}).Marshal())
	if err != nil {
		t.Fatal(err)
	}
	tw, err := torchwood.NewCosignatureSigner(k.Name, k.priv)
	if err != nil {
		t.Fatal(err)
	}
	if tw.Verifier().String() != k.VerifierKey() {
		t.Fatalf("verifier keys differ:\ntorchwood %s\nours      %s", tw.Verifier().String(), k.VerifierKey())
	}
	n, err := note.Open(append(signed, cosig...), note.VerifierList(logV, tw.Verifier()))
	if err != nil || len(n.Sigs) != 2 {
		t.Fatalf("torchwood's verifier on our cosignature: %v", err)
	}
	if ts, err := torchwood.CosignatureTimestamp(n.Sigs[1]); err != nil || ts == 0 {
		t.Errorf("timestamp %d, %v", ts, err)
	}

	// Torchwood's, verified by ours.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	theirs, err := torchwood.NewCosignatureSigner("camp-b.example/witness", priv)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := note.Open(signed, note.VerifierList(logV))
	theirSigned, err := note.Sign(&note.Note{Text: text.Text}, theirs)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := NewVerifier(theirs.Verifier().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(theirSigned, note.VerifierList(ours)); err != nil {
		t.Fatalf("our verifier on torchwood's cosignature: %v", err)
	}
	// And only over the checkpoint it signed.
	other, _ := log.Sign(record.Checkpoint{Origin: log.Origin(), Size: 2, Root: root})
	_, sig, _ := cut(theirSigned)
	body, _, _ := cut(other)
	if _, err := note.Open(append(body, sig...), note.VerifierList(ours)); err == nil {
		t.Fatal("a cosignature verified over another checkpoint")
	}
}

func cut(signed []byte) (text, sigs []byte, ok bool) {
	for i := 0; i+1 < len(signed); i++ {
		if signed[i] == '\n' && signed[i+1] == '\n' {
			return signed[:i+2], signed[i+2:], true
		}
	}
	return signed, nil, false
}
