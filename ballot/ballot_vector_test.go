package ballot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/cloudflare/circl/group"
)

// ballotVector is one whole ballot, for an independent implementation (the
// voter's page among them) to reproduce byte for byte: the election as the
// API serves it, the voter's code and choices, every random scalar in the
// order FORMAT.md draws them, the signature's hedging bytes, and the
// ballot with its tracking code.
type ballotVector struct {
	Election     *Election  `json:"election"`
	Code         string     `json:"code"`
	Selections   Selections `json:"selections"`
	Scalars      []string   `json:"scalars"`
	Random       string     `json:"random"`
	Ballot       string     `json:"ballot"`
	TrackingCode string     `json:"tracking_code"`
}

// TestBallotVectors makes every committed ballot again from its inputs and
// checks it verifies, alone and in a batch.
func TestBallotVectors(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "ballots.json")
	if *updateCredentialVectors {
		writeBallotVectors(t, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []ballotVector
	if err := json.Unmarshal(raw, &vs); err != nil || len(vs) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	for _, v := range vs {
		cred, err := DeriveCredential(v.Election.ID, v.Code)
		if err != nil {
			t.Fatal(err)
		}
		var scalars []group.Scalar
		for _, h := range v.Scalars {
			b, _ := hex.DecodeString(h)
			s, err := decodeScalar(b)
			if err != nil {
				t.Fatalf("scalar %s: %v", h, err)
			}
			scalars = append(scalars, s)
		}
		random, _ := hex.DecodeString(v.Random)
		got, err := v.Election.encrypt(cred, v.Selections, scalarList(t, scalars), random)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != v.Ballot {
			t.Errorf("%s %v: the ballot is not the vector's", v.Election.ID, v.Selections)
		}
		if code := TrackingCode(sha256.Sum256(got)); code != v.TrackingCode {
			t.Errorf("tracking code %s; the vector says %s", code, v.TrackingCode)
		}
		b, err := v.Election.VerifyBallot(got)
		if err != nil {
			t.Fatalf("VerifyBallot = %v", err)
		}
		if !bytes.Equal(b.Credential(), cred.Public()) {
			t.Error("the ballot does not name the voter's credential")
		}
	}
}

// scalarList draws the given scalars in order, and fails the test if the
// encryption asks for more or fewer.
func scalarList(t *testing.T, scalars []group.Scalar) func() group.Scalar {
	t.Cleanup(func() {
		if len(scalars) != 0 {
			t.Errorf("%d scalars left undrawn", len(scalars))
		}
	})
	return func() group.Scalar {
		if len(scalars) == 0 {
			t.Fatal("the encryption drew more scalars than the vector has")
		}
		s := scalars[0]
		scalars = scalars[1:]
		return s
	}
}

// vectorElections are the elections the vectors are made for, under a fixed
// key, so the vectors never change by accident.
func vectorElections() (twoRaces, oneOfSix *Election) {
	cands := func(ids ...string) []Candidate {
		var out []Candidate
		for i, c := range ids {
			out = append(out, Candidate{ID: c, Number: i + 1, Name: "Candidate " + c})
		}
		return out
	}
	key := newElectionKey(g.NewElement().MulGen(g.HashToScalar([]byte("vector election key"), []byte("primaryvote-test"))))
	twoRaces = &Election{ID: "primary-2026", Title: "Primary", Status: Open, Groups: []Group{{ID: "members", Name: "Members", Weight: 1}},
		Questions: []Question{
			{ID: "leader", Title: "Leader", MinSelections: 1, MaxSelections: 1, Candidates: cands("a", "b", "c", "d")},
			{ID: "council", Title: "Council", MinSelections: 0, MaxSelections: 2, Candidates: cands("p", "q", "r")},
		}, Key: key}
	oneOfSix = &Election{ID: "당대표-2026", Title: "당대표", Status: Open, Groups: []Group{{ID: "members", Name: "당원", Weight: 1}},
		Questions: []Question{{ID: "leader", Title: "당대표", MinSelections: 1, MaxSelections: 1, Candidates: cands("c1", "c2", "c3", "c4", "c5", "c6")}},
		Key:       key}
	return twoRaces, oneOfSix
}

func writeBallotVectors(t *testing.T, path string) {
	twoRaces, oneOfSix := vectorElections()
	var vs []ballotVector
	for i, in := range []struct {
		e    *Election
		code string
		sel  Selections
	}{
		{twoRaces, "7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5A", Selections{"leader": {"c"}, "council": {"p", "r"}}},
		{twoRaces, "00000-00000-00000-00000-00000", Selections{"leader": {"a"}}},
		{oneOfSix, "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ", Selections{"leader": {"c4"}}},
	} {
		cred, err := DeriveCredential(in.e.ID, in.code)
		if err != nil {
			t.Fatal(err)
		}
		var drawn []string
		n := 0
		rnd := func() group.Scalar {
			n++
			s := g.HashToScalar(binary.BigEndian.AppendUint32([]byte("vector scalars"), uint32(1000*i+n)), []byte("primaryvote-test"))
			drawn = append(drawn, hex.EncodeToString(encodeScalar(s)))
			return s
		}
		random := sha256.Sum256([]byte{byte(i)})
		raw, err := in.e.encrypt(cred, in.sel, rnd, random[:])
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, ballotVector{Election: in.e, Code: in.code, Selections: in.sel, Scalars: drawn,
			Random: hex.EncodeToString(random[:]), Ballot: hex.EncodeToString(raw), TrackingCode: TrackingCode(sha256.Sum256(raw))})
	}
	b, _ := json.MarshalIndent(vs, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
