package ballot

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	pv "primaryvote"
)

func TestMultiScalarMulMatchesMul(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 2, 3, 17, 300} {
		for _, short := range []bool{false, true} {
			scalars := make([][scalarSize]byte, n)
			points := make([]*point, n)
			want := identity()
			w := randomWeights(n)
			for i := range n {
				s := randomScalar()
				if short { // a verifier's 128-bit weight
					s = w.next()
				}
				if i == 1 {
					s = g.NewScalar() // zero
				}
				copy(scalars[i][:], encodeScalar(s))
				// Decoded points (Z = 1) and computed ones (any Z) take
				// different ways into Niels form.
				points[i] = mulBase(randomScalar())
				if i%2 == 0 {
					points[i], _ = decodePoint(encodePoint(points[i]))
				}
				want.Add(want, mulPublic(points[i], s))
			}
			if got := multiScalarMul(scalars, points); !got.Equals(want) {
				t.Errorf("n = %d, short = %v: multiScalarMul ≠ Σ Mul", n, short)
			}
		}
	}
}

// TestBatchNamesTheBadBallot hides each tampered ballot of
// TestProofsRejectTampering among valid ones: the batch refuses it, at Add
// when its challenge no longer holds or else at Verify, and names it.
func TestBatchNamesTheBadBallot(t *testing.T) {
	t.Parallel()
	e, _ := testElection(t, "e1")
	var valid [][]byte
	for _, sel := range []Selections{{"leader": {"a"}}, {"leader": {"c"}, "council": {"p", "r"}}, {"leader": {"e"}, "council": {"q"}}} {
		raw, err := e.Encrypt(testVoter, sel)
		if err != nil {
			t.Fatal(err)
		}
		valid = append(valid, raw)
	}
	bt, err := e.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range valid {
		if _, err := bt.Add(raw); err != nil {
			t.Fatal(err)
		}
	}
	if i, err := bt.Verify(); i != -1 || err != nil {
		t.Fatalf("Verify of valid ballots = %d, %v", i, err)
	}

	one := g.NewScalar().SetUint64(1)
	tests := map[string]struct {
		f       func(b *EncryptedBallot)
		atAdd   bool
		message string
	}{
		"tampered response": {func(b *EncryptedBallot) {
			br := &b.questions[0].proofs[1][1]
			br.z = g.NewScalar().Add(br.z, one)
		}, false, `candidate "b"`},
		"challenges shifted between branches": {func(b *EncryptedBallot) {
			p := b.questions[1].proofs[2]
			p[0].c = g.NewScalar().Add(p[0].c, one)
			p[1].c = g.NewScalar().Sub(p[1].c, one)
		}, false, `candidate "r"`},
		"tampered sum proof": {func(b *EncryptedBallot) {
			br := &b.questions[1].sumProof[0]
			br.z = g.NewScalar().Add(br.z, one)
		}, false, `question "council": the proof that 0 to 2`},
		"signature by another key": {func(b *EncryptedBallot) {
			raw := resign(e, b, otherVoter)
			b.sigS, _ = decodeScalar(raw[e.hintsOffset()-scalarSize : e.hintsOffset()])
		}, false, "its signature does not verify"},
		"signature response altered": {func(b *EncryptedBallot) {
			b.sigS = g.NewScalar().Add(b.sigS, one)
		}, false, "its signature does not verify"},
		"tampered challenge": {func(b *EncryptedBallot) {
			br := &b.questions[0].proofs[3][0]
			br.c = g.NewScalar().Add(br.c, one)
		}, true, `candidate "d"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			bad := tamper(t, e, valid[1], tc.f)
			bt, _ := e.NewBatch()
			bt.Add(valid[0])
			_, addErr := bt.Add(bad)
			bt.Add(valid[2])
			if tc.atAdd {
				if pv.ErrorCode(addErr) != pv.EInvalid || !strings.Contains(addErr.Error(), tc.message) {
					t.Fatalf("Add = %v; want a failed proof naming %s", addErr, tc.message)
				}
				// Had its (failing) equations been kept, Verify would fail.
				if i, err := bt.Verify(); i != -1 || err != nil {
					t.Fatalf("Verify after a refused Add = %d, %v", i, err)
				}
				return
			}
			if addErr != nil {
				t.Fatalf("Add = %v; the challenges still hold", addErr)
			}
			i, err := bt.Verify()
			if i != 1 || pv.ErrorCode(err) != pv.EInvalid || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("Verify = %d, %v; want ballot 1 naming %s", i, err, tc.message)
			}
		})
	}
}

// BenchmarkBatchVerify is the cost a ballot of verifying single-race
// ballots of one of six candidates at once, parsing included, in batches of
// the sizes a server's concurrent casts make and of a verifier's.
func BenchmarkBatchVerify(b *testing.B) {
	e, _ := testElection(b, "e1")
	e.Questions = e.Questions[:1]
	e.Questions[0].Candidates = append(e.Questions[0].Candidates, Candidate{ID: "f", Number: 6, Name: "f"})
	raws := make([][]byte, 512)
	for i := range raws {
		raws[i], _ = e.Encrypt(testVoter, Selections{"leader": {"c"}})
	}
	for _, n := range []int{1, 8, 32, 64, 512} {
		b.Run(fmt.Sprintf("ballots=%d", n), func(b *testing.B) {
			for b.Loop() {
				bt, _ := e.NewBatch()
				bt.Reserve(n)
				for _, raw := range raws[:n] {
					if _, err := bt.Add(raw); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := bt.Verify(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/ballot")
		})
	}
}

// BenchmarkMultiScalarMul is 32,768 points, a third with full scalars and
// the rest with 128-bit weights, as in a batch of ballots.
func BenchmarkMultiScalarMul(b *testing.B) {
	const n = 32768
	scalars := make([][scalarSize]byte, n)
	points := make([]*point, n)
	for i := range n {
		if i%3 == 0 {
			copy(scalars[i][:], encodeScalar(randomScalar()))
		} else {
			rand.Read(scalars[i][:16])
		}
		points[i], _ = decodePoint(encodePoint(mulBase(randomScalar())))
	}
	for b.Loop() {
		multiScalarMul(scalars, points)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/point")
}
