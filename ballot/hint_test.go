package ballot

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/bwesterb/go-ristretto/edwards25519"
)

// rootOf returns |1/√t| for the t that decoding enc needs, whatever enc is:
// the hint a device would compute, checked by nothing.
func rootOf(enc []byte) [hintSize]byte {
	var s, isr edwards25519.FieldElement
	s.SetBytes((*[32]byte)(enc))
	t, _, _, _ := hintInput(&s)
	isr.InvSqrt(&t)
	isr.Abs(&isr)
	return isr.Bytes()
}

func TestDecodeHintedMatchesDecode(t *testing.T) {
	t.Parallel()
	var encs [][]byte
	for _, h := range rfc9496Multiples {
		raw, _ := hex.DecodeString(h)
		encs = append(encs, raw)
	}
	for range 200 {
		encs = append(encs, encodePoint(mulBase(randomScalar())))
	}
	for _, enc := range encs {
		want, err := decodePoint(enc)
		if err != nil {
			t.Fatal(err)
		}
		hint, ok := elementHint(enc)
		if !ok || hint != rootOf(enc) {
			t.Fatalf("elementHint(%x) = %x, %v; want %x", enc, hint, ok, rootOf(enc))
		}
		got, err := decodeHinted(enc, hint[:])
		if err != nil {
			t.Fatalf("decodeHinted(%x) = %v", enc, err)
		}
		if !got.Equals(want) || ext(got).X.Bytes() != ext(want).X.Bytes() || ext(got).Y.Bytes() != ext(want).Y.Bytes() ||
			ext(got).T.Bytes() != ext(want).T.Bytes() || ext(got).Z.IsOneI() != 1 {
			t.Fatalf("decodeHinted(%x) gives another point than decodePoint", enc)
		}
		// Every other hint is refused: the other root, the root plus p
		// (not canonical), the root plus or minus 2, another element's
		// hint and none at all.
		root := new(big.Int).SetBytes(reversed(hint[:]))
		p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
		for _, other := range []*big.Int{
			new(big.Int).Sub(p, root),
			new(big.Int).Add(root, p),
			new(big.Int).Add(root, big.NewInt(2)),
			new(big.Int).Sub(root, big.NewInt(2)),
		} {
			if _, err := decodeHinted(enc, littleEndian32(other)); err == nil {
				t.Fatalf("decodeHinted(%x) accepted the hint %x", enc, littleEndian32(other))
			}
		}
		otherHint, _ := elementHint(encs[0])
		if otherHint != hint {
			if _, err := decodeHinted(enc, otherHint[:]); err == nil {
				t.Fatalf("decodeHinted(%x) accepted another element's hint", enc)
			}
		}
		if _, err := decodeHinted(enc, hint[:31]); err == nil {
			t.Fatalf("decodeHinted(%x) accepted a short hint", enc)
		}
	}
}

func TestDecodeHintedRefusesWhatDecodeRefuses(t *testing.T) {
	t.Parallel()
	for _, h := range rfc9496Invalid {
		enc, _ := hex.DecodeString(h)
		if _, ok := elementHint(enc); ok {
			t.Errorf("elementHint(%s) gave a hint for an invalid encoding", h)
		}
		// Whatever the hint, the encoding is refused: the root a careless
		// device would send, its negation, and the root of i·t.
		root := rootOf(enc)
		var i, s, isr edwards25519.FieldElement
		i.SetI()
		s.SetBytes((*[32]byte)(enc))
		tt, _, _, _ := hintInput(&s)
		tt.Mul(&tt, &i)
		isr.InvSqrt(&tt)
		isr.Abs(&isr)
		rootI := isr.Bytes()
		var neg edwards25519.FieldElement
		isr.SetBytes(&root)
		neg.Neg(&isr)
		negRoot := neg.Bytes()
		for _, hint := range [][hintSize]byte{root, rootI, negRoot} {
			if _, err := decodeHinted(enc, hint[:]); err == nil {
				t.Errorf("decodeHinted(%s) accepted an invalid encoding with hint %x", h, hint)
			}
		}
	}
}

func reversed(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

func littleEndian32(n *big.Int) []byte {
	be := n.FillBytes(make([]byte, 32))
	return reversed(be)
}

func BenchmarkDecode(b *testing.B) {
	enc := encodePoint(mulBase(randomScalar()))
	hint, _ := elementHint(enc)
	b.Run("computed", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodePoint(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hinted", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeHinted(enc, hint[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBallotHintsAreChecked alters one element's hint in a valid ballot, at
// each kind of element: the ballot is refused, naming where.
func TestBallotHintsAreChecked(t *testing.T) {
	t.Parallel()
	e, _ := testElection(t, "e1")
	raw, err := e.Encrypt(testVoter, Selections{"leader": {"b"}, "council": {"q"}})
	if err != nil {
		t.Fatal(err)
	}
	offsets, _ := e.elementOffsets()
	if len(offsets) != e.elementCount() || len(raw) != e.hintsOffset()+hintSize*len(offsets) {
		t.Fatalf("%d elements, %d offsets, %d bytes", e.elementCount(), len(offsets), len(raw))
	}
	cases := map[int]string{
		0:                "the credential is not a public credential, or its decoding hint is wrong",
		1:                `question "leader", candidate "a": bad ciphertext encoding or decoding hint`,
		4:                `question "leader", candidate "a": bad proof encoding or decoding hint`,
		len(offsets) - 2: `question "council": bad proof encoding or decoding hint`,
		len(offsets) - 1: "bad signature encoding or decoding hint",
	}
	for j, want := range cases {
		bad := append([]byte(nil), raw...)
		h := bad[e.hintsOffset()+hintSize*j:][:hintSize]
		var root, neg edwards25519.FieldElement
		root.SetBytes((*[32]byte)(h))
		neg.Neg(&root)
		negated := neg.Bytes()
		copy(h, negated[:]) // the other square root
		if _, err := e.VerifyBallot(bad); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("element %d's hint negated: VerifyBallot = %v; want %q", j, err, want)
		}
	}
	if _, err := e.VerifyBallot(raw[:e.hintsOffset()]); err == nil || !strings.Contains(err.Error(), "bytes; a ballot for election") {
		t.Errorf("a ballot without hints: VerifyBallot = %v; want the wrong length", err)
	}
	if _, err := e.VerifyBallot(raw); err != nil {
		t.Fatal(err)
	}
}

// TestDefinitionRefusesABallotTooLargeToCast: a definition whose ballot
// would not fit in a cast is refused, naming the size.
func TestDefinitionRefusesABallotTooLargeToCast(t *testing.T) {
	t.Parallel()
	e, _ := testElection(t, "e1")
	d := Definition{ID: e.ID, Title: "t", Groups: e.Groups}
	for qi := range 10 {
		q := Question{ID: fmt.Sprintf("q%d", qi), Title: "q", MinSelections: 1, MaxSelections: 1}
		for ci := range 10 {
			q.Candidates = append(q.Candidates, Candidate{ID: fmt.Sprintf("c%d", ci), Number: ci + 1, Name: "n"})
		}
		d.Questions = append(d.Questions, q)
	}
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "fit in a cast") {
		t.Errorf("Validate(100 candidates) = %v; want the ballot's size refused", err)
	}
	d.Questions = d.Questions[:8]
	if err := d.Validate(); err != nil {
		t.Errorf("Validate(80 candidates) = %v", err)
	}
}
