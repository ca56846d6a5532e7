package cosign

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit/record"
)

// The cosignatures are C2SP tlog-cosignature's: what torchwood's signer
// makes, this package's verifier accepts, only over the checkpoint signed,
// and the keys are written the same way. (The other way round, a witness's
// cosignature checked by torchwood's verifier, is in package witness.)
func TestTorchwoodCosignaturesVerifyHere(t *testing.T) {
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

	k, err := GenerateKey("camp-a.example/witness")
	if err != nil {
		t.Fatal(err)
	}
	tw, err := torchwood.NewCosignatureSigner(k.Name, k.Private())
	if err != nil {
		t.Fatal(err)
	}
	if tw.Verifier().String() != k.VerifierKey() {
		t.Fatalf("verifier keys differ:\ntorchwood %s\nours      %s", tw.Verifier().String(), k.VerifierKey())
	}

	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	theirs, err := torchwood.NewCosignatureSigner("camp-b.example/witness", priv)
	if err != nil {
		t.Fatal(err)
	}
	text, err := note.Open(signed, note.VerifierList(logV))
	if err != nil {
		t.Fatal(err)
	}
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
