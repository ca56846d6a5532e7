package witness_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit/cosign"
	"primaryvote/audit/record"
	"primaryvote/audit/witness"
)

// What the camps' witness answers verifies with torchwood's cosignature
// verifier. (Torchwood's cosignatures verifying here: package cosign.)
func TestWitnessCosignaturesVerifyWithTorchwood(t *testing.T) {
	log, err := record.GenerateSigner(record.DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := log.Sign(record.Checkpoint{Origin: log.Origin(), Size: 1, Root: tlog.RecordHash([]byte("r0"))})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := witness.Init(dir, "camp-a.example/witness", log.VerifierKey()); err != nil {
		t.Fatal(err)
	}
	w, err := witness.Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	cosig, err := w.AddCheckpoint((&witness.AddCheckpointRequest{Checkpoint: signed}).Marshal())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, witness.KeyFile))
	k, err := cosign.ParseKey(string(b))
	if err != nil {
		t.Fatal(err)
	}
	tw, err := torchwood.NewCosignatureSigner(k.Name, k.Private())
	if err != nil {
		t.Fatal(err)
	}
	logV, _ := note.NewVerifier(log.VerifierKey())
	n, err := note.Open(append(signed, cosig...), note.VerifierList(logV, tw.Verifier()))
	if err != nil || len(n.Sigs) != 2 {
		t.Fatalf("torchwood's verifier on the witness's cosignature: %v", err)
	}
	if ts, err := torchwood.CosignatureTimestamp(n.Sigs[1]); err != nil || ts == 0 {
		t.Errorf("timestamp %d, %v", ts, err)
	}
}
