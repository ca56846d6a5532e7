package record

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

var updateVectors = flag.Bool("update", false, "write testdata/inclusion.json anew")

// inclusionVector is a log, its signed checkpoint and every record's
// inclusion proof, for a checker in another language (the /verify page's)
// to check: each proof must verify and each altered one must not.
type inclusionVector struct {
	VerifierKey string           `json:"verifier_key"`
	Checkpoint  string           `json:"checkpoint"`
	Records     []string         `json:"records"` // base64
	Proofs      []inclusionProof `json:"proofs"`
}

type inclusionProof struct {
	Index int64       `json:"index"`
	Proof []tlog.Hash `json:"inclusion_proof"`
}

func TestInclusionVectors(t *testing.T) {
	path := filepath.Join("testdata", "inclusion.json")
	if *updateVectors {
		writeInclusionVectors(t, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []inclusionVector
	if err := json.Unmarshal(raw, &vs); err != nil || len(vs) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	for _, v := range vs {
		c, err := OpenCheckpoint([]byte(v.Checkpoint), v.VerifierKey)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range v.Proofs {
			rec, _ := base64.StdEncoding.DecodeString(v.Records[p.Index])
			if err := tlog.CheckRecord(p.Proof, c.Size, c.Root, p.Index, tlog.RecordHash(rec)); err != nil {
				t.Errorf("record %d of %d: %v", p.Index, c.Size, err)
			}
		}
	}
}

func writeInclusionVectors(t *testing.T, path string) {
	// A key made for the vectors and thrown away: they carry its verifier key.
	signer, err := GenerateSigner("primaryvote/test-log")
	if err != nil {
		t.Fatal(err)
	}
	var vs []inclusionVector
	for _, size := range []int{1, 2, 7, 13} {
		m := &memLog{}
		for i := range size {
			m.append(t, fmt.Sprintf("entry %d of %d", i, size))
		}
		root, err := tlog.TreeHash(int64(size), m)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := signer.Sign(Checkpoint{Origin: "primaryvote/test-log", Size: int64(size), Root: root, Chain: m.chain})
		if err != nil {
			t.Fatal(err)
		}
		v := inclusionVector{VerifierKey: signer.VerifierKey(), Checkpoint: string(signed)}
		for i, r := range m.records {
			v.Records = append(v.Records, base64.StdEncoding.EncodeToString(r))
			p, err := tlog.ProveRecord(int64(size), int64(i), m)
			if err != nil {
				t.Fatal(err)
			}
			v.Proofs = append(v.Proofs, inclusionProof{Index: int64(i), Proof: p})
		}
		vs = append(vs, v)
	}
	b, _ := json.MarshalIndent(vs, "", "  ")
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
