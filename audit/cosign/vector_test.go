package cosign

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit/record"
)

var updateVectors = flag.Bool("update", false, "write testdata/cosigned.json anew")

// cosignedVector is a checkpoint with cosignatures by two of a policy's
// three witnesses and by one witness outside it, for a checker in another
// language (the /verify page's) to find the same cosigners.
type cosignedVector struct {
	LogKey     string   `json:"log_key"`
	Policy     Policy   `json:"policy"`
	Checkpoint string   `json:"checkpoint"`
	Cosigners  []string `json:"cosigners"`
}

func TestCosignedVectors(t *testing.T) {
	path := filepath.Join("testdata", "cosigned.json")
	if *updateVectors {
		writeCosignedVectors(t, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v cosignedVector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if err := v.Policy.Check(); err != nil {
		t.Fatal(err)
	}
	got, err := v.Policy.Cosigners([]byte(v.Checkpoint), v.LogKey)
	if err != nil || !slices.Equal(got, v.Cosigners) || len(got) != 2 {
		t.Fatalf("Cosigners = %v, %v; want %v", got, err, v.Cosigners)
	}
}

func writeCosignedVectors(t *testing.T, path string) {
	// Keys made for the vectors and thrown away: they carry the public ones.
	log, err := record.GenerateSigner("primaryvote/test-log")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := log.Sign(record.Checkpoint{Origin: log.Origin(), Size: 3, Root: tlog.RecordHash([]byte("root")), Chain: tlog.RecordHash([]byte("chain"))})
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(mustVerifier(t, log.VerifierKey())))
	if err != nil {
		t.Fatal(err)
	}
	v := cosignedVector{LogKey: log.VerifierKey(), Policy: Policy{Quorum: 2}, Checkpoint: string(signed)}
	for i, name := range []string{"camp-a.example/witness", "camp-b.example/witness", "camp-c.example/witness", "outsider.example/witness"} {
		k, err := GenerateKey(name)
		if err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			v.Policy.Witnesses = append(v.Policy.Witnesses, Witness{Key: k.VerifierKey(), URL: "https://" + name})
		}
		if i == 2 {
			continue // camp C did not cosign
		}
		s, _ := torchwood.NewCosignatureSigner(k.Name, k.Private())
		cosigned, err := note.Sign(&note.Note{Text: n.Text}, s)
		if err != nil {
			t.Fatal(err)
		}
		_, sig, _ := cut(cosigned)
		v.Checkpoint += string(sig)
		if i < 2 {
			v.Cosigners = append(v.Cosigners, name)
		}
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
