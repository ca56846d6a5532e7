package ballot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	pv "primaryvote"
)

// electionWithTrustees is testElection with two groups and a k-of-n key.
func electionWithTrustees(t testing.TB, k, n int) (*Election, *Trustees, []TrusteeShare) {
	t.Helper()
	e, _ := testElection(t, "e1")
	e.Groups = []Group{{ID: "members", Name: "M", Weight: 0.5}, {ID: "public", Name: "P", Weight: 0.5}}
	tr, shares := keyCeremony(t, e.ID, k, n)
	if err := tr.Check(); err != nil {
		t.Fatalf("Check = %v", err)
	}
	e.Key = tr.Key
	return e, tr, shares
}

func TestThresholdTallyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, kn := range [][2]int{{1, 1}, {2, 3}, {3, 5}, {4, 4}} {
		k, n := kn[0], kn[1]
		t.Run(fmt.Sprintf("%d-of-%d", k, n), func(t *testing.T) {
			e, tr, shares := electionWithTrustees(t, k, n)
			rng := rand.New(rand.NewPCG(uint64(k), uint64(n)))
			sums := e.NewSums()
			want := make([]int, len(sums.cts))
			for range 25 {
				gi := rng.IntN(2)
				sel := Selections{"leader": {e.Questions[0].Candidates[rng.IntN(5)].ID}}
				for _, c := range e.Questions[1].Candidates {
					if len(sel["council"]) < 2 && rng.IntN(2) == 0 {
						sel["council"] = append(sel["council"], c.ID)
					}
				}
				raw, err := e.Encrypt(testVoter, sel)
				if err != nil {
					t.Fatal(err)
				}
				b, err := e.VerifyBallot(raw)
				if err != nil {
					t.Fatal(err)
				}
				sums.AddBallot(e, e.Groups[gi].ID, b)
				i := 0
				for _, q := range e.Questions {
					for _, c := range q.Candidates {
						for _, s := range sel[q.ID] {
							if s == c.ID {
								want[i+gi]++
							}
						}
						i += 2
					}
				}
			}
			stored, err := e.DecodeSums(sums.Encode())
			if err != nil || !stored.Equal(sums) {
				t.Fatalf("sums do not round-trip: %v", err)
			}

			var partials []*PartialDecryption
			for _, s := range shares {
				p, err := e.PartialDecrypt(tr, stored, s)
				if err != nil {
					t.Fatal(err)
				}
				back, err := DecodePartial(p.Trustee, p.EncodeShares(), p.Proof)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.VerifyPartial(tr, stored, back); err != nil {
					t.Fatalf("VerifyPartial(trustee %d) = %v", s.Index, err)
				}
				partials = append(partials, back)
			}
			// Any k trustees decrypt: the last k (trustees 1…n−k missing), then the first k.
			for _, chosen := range [][]*PartialDecryption{partials[n-k:], partials[:k]} {
				got, err := e.Counts(tr, stored, chosen)
				if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("Counts = %v, %v; want %v", got, err, want)
				}
			}
			if k > 1 {
				if _, err := e.Counts(tr, stored, partials[:k-1]); err == nil {
					t.Error("Counts with fewer than k partial decryptions succeeded")
				}
			}
		})
	}
}

func TestCheatingTrusteeIsCaught(t *testing.T) {
	t.Parallel()
	e, tr, shares := electionWithTrustees(t, 2, 3)
	sums := e.NewSums()
	raw, _ := e.Encrypt(testVoter, Selections{"leader": {"a"}})
	b, _ := e.VerifyBallot(raw)
	sums.AddBallot(e, "members", b)
	honest, _ := e.PartialDecrypt(tr, sums, shares[0])
	other, _ := e.PartialDecrypt(tr, sums, shares[1])

	shifted := *honest
	shifted.Shares = append(shifted.Shares[:0:0], honest.Shares...)
	shifted.Shares[0] = g.NewElement().Add(shifted.Shares[0], g.Generator())
	stolenProof := *honest
	stolenProof.Proof = other.Proof
	impostor := *other
	impostor.Trustee = 3 // trustee 2's work presented as trustee 3's
	wrongShare := TrusteeShare{ElectionID: "e1", Index: 1, Value: shares[1].Value}

	for name, p := range map[string]*PartialDecryption{"altered share": &shifted, "another trustee's proof": &stolenProof, "claims another index": &impostor} {
		err := e.VerifyPartial(tr, sums, p)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("trustee %d", p.Trustee)) {
			t.Errorf("%s: VerifyPartial = %v; want an error naming trustee %d", name, err, p.Trustee)
		}
	}
	if _, err := e.PartialDecrypt(tr, sums, wrongShare); pv.ErrorCode(err) != pv.EInvalid {
		t.Errorf("PartialDecrypt with another trustee's share = %v; want invalid", err)
	}
	bad := *tr
	bad.Public = append(bad.Public[:0:0], tr.Public...)
	bad.Public[2] = g.Generator()
	if err := bad.Check(); err == nil {
		t.Error("Check accepted a trustee key that does not match the commitments")
	}
}

func TestShareFiles(t *testing.T) {
	t.Parallel()
	_, tr, shares := electionWithTrustees(t, 2, 3)
	var buf bytes.Buffer
	if err := WriteShare(&buf, tr, shares[1], "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), encodeScalar(shares[1].Value)) {
		t.Fatal("the share file holds the share in the clear")
	}
	got, err := ReadShare(bytes.NewReader(buf.Bytes()), "correct horse battery staple")
	if err != nil || got.Index != 2 || !got.Value.IsEqual(shares[1].Value) || got.ElectionID != "e1" {
		t.Fatalf("ReadShare = %+v, %v", got, err)
	}
	if _, err := ReadShare(bytes.NewReader(buf.Bytes()), "wrong passphrase here"); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("wrong passphrase: %v; want unauthorized", err)
	}
	var f map[string]any
	json.Unmarshal(buf.Bytes(), &f)
	f["trustee"] = 3
	altered, _ := json.Marshal(f)
	if _, err := ReadShare(bytes.NewReader(altered), "correct horse battery staple"); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("altered trustee index: %v; want unauthorized", err)
	}
	if err := WriteShare(&buf, tr, shares[0], "short"); pv.ErrorCode(err) != pv.EInvalid {
		t.Errorf("short passphrase: %v; want invalid", err)
	}
	if _, err := ReadShare(strings.NewReader(`{"format":"x"}`), "correct horse battery staple"); pv.ErrorCode(err) != pv.EInvalid {
		t.Errorf("not a share file: %v; want invalid", err)
	}
}

func TestMakeResultsWeighsGroups(t *testing.T) {
	t.Parallel()
	e := &Election{ID: "e1",
		Groups: []Group{{ID: "members", Name: "M", Weight: 0.5}, {ID: "public", Name: "P", Weight: 0.5}},
		Questions: []Question{{ID: "leader", MinSelections: 1, MaxSelections: 1,
			Candidates: []Candidate{{ID: "a", Number: 1}, {ID: "b", Number: 2}}}},
	}
	s := e.NewSums()
	s.ballots = []int{10, 30}
	// members: a 8, b 2; public: a 6, b 24.
	r := e.MakeResults(s, []int{8, 6, 2, 24})
	q := r.Questions[0]
	// a: 0.5·80% + 0.5·20% = 50%; b: 0.5·20% + 0.5·80% = 50%.
	if q.Candidates[0].Combined != 50 || q.Candidates[1].Combined != 50 || q.Candidates[0].Total+q.Candidates[1].Total != 40 {
		t.Errorf("results = %+v", q.Candidates)
	}
	// With no public ballots, members alone decide.
	s.ballots = []int{10, 0}
	r = e.MakeResults(s, []int{8, 0, 2, 0})
	if r.Questions[0].Candidates[0].ID != "a" || r.Questions[0].Candidates[0].Combined != 80 {
		t.Errorf("results without public ballots = %+v", r.Questions[0].Candidates)
	}
}

// BenchmarkTally sums 224,556 single-choice 5-candidate ballots across two
// groups on one core, as each tally worker does: decode a stored ballot's
// ciphertexts and add them.
func BenchmarkTally(b *testing.B) {
	e, _, _ := electionWithTrustees(b, 2, 3)
	e.Questions = e.Questions[:1]
	ballots := make([][]byte, 64)
	for i := range ballots {
		ballots[i], _ = e.Encrypt(testVoter, Selections{"leader": {e.Questions[0].Candidates[i%5].ID}})
	}
	const electorate = 224556
	for b.Loop() {
		sums := e.NewSums()
		for i := range electorate {
			cts, err := e.parseCiphertexts(ballots[i%len(ballots)])
			if err != nil {
				b.Fatal(err)
			}
			sums.add(e, i%2, cts)
		}
	}
}

func TestCheckResults(t *testing.T) {
	t.Parallel()
	e, tr, shares := electionWithTrustees(t, 2, 3)
	sums := e.NewSums()
	for i, sel := range []Selections{{"leader": {"a"}}, {"leader": {"b"}, "council": {"p"}}, {"leader": {"a"}}} {
		raw, _ := e.Encrypt(testVoter, sel)
		b, err := e.VerifyBallot(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := sums.AddBallot(e, e.Groups[i%2].ID, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := sums.AddBallot(e, "nobody", nil); err == nil {
		t.Error("AddBallot accepted an unknown group")
	}
	var partials []*PartialDecryption
	for _, s := range shares {
		p, _ := e.PartialDecrypt(tr, sums, s)
		partials = append(partials, p)
	}
	counts, _ := e.Counts(tr, sums, partials[:2])
	published, _ := json.Marshal(e.MakeResults(sums, counts))
	if err := e.CheckResults(tr, sums, partials[:2], published); err != nil {
		t.Fatalf("CheckResults(honest) = %v", err)
	}
	// Any two trustees give the same results.
	if err := e.CheckResults(tr, sums, []*PartialDecryption{partials[2], partials[0]}, published); err != nil {
		t.Fatalf("CheckResults(trustees 3 and 1) = %v", err)
	}

	altered := bytes.Replace(published, []byte(`"votes":[`), []byte(`"votes":[9,`), 1)
	if err := e.CheckResults(tr, sums, partials[:2], altered); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("CheckResults(altered results) = %v; want a difference", err)
	}
	forged := *partials[1]
	forged.Shares = append(forged.Shares[:0:0], partials[0].Shares...)
	if err := e.CheckResults(tr, sums, []*PartialDecryption{partials[0], &forged}, published); err == nil || !strings.Contains(err.Error(), "trustee 2") {
		t.Errorf("CheckResults(forged partial) = %v; want trustee 2 named", err)
	}
	if err := e.CheckResults(tr, sums, partials[:1], published); err == nil {
		t.Error("CheckResults(one partial of two needed) passed")
	}
}

func FuzzDecodeSums(f *testing.F) {
	e, _, _ := electionWithTrustees(f, 1, 1)
	f.Add(e.NewSums().Encode())
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := e.DecodeSums(b)
		if err == nil && !bytes.Equal(s.Encode(), b) {
			t.Fatal("decoded sums do not re-encode to their bytes")
		}
	})
}
