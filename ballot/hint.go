package ballot

import (
	"math/big"

	"github.com/bwesterb/go-ristretto/edwards25519"
)

// Decoding hints. Decoding a ristretto255 element (RFC 9496 §4.3.1) costs
// one inverse square root, SQRT_RATIO_M1(1, t) for a t computed from the
// encoding: about 250 field squarings, most of the cost of checking a
// ballot. Checking a square root someone else computed takes two
// multiplications. So a ballot carries, after its signature, each element's
// hint: the non-negative inverse square root its decoding needs. A verifier
// checks the hint instead of computing it, and rejects a ballot whose hint
// is not exactly that root, so every element still has one encoding and a
// ballot one set of bytes (FORMAT.md, "Decoding hints").
//
// The decoding below is RFC 9496's, as go-ristretto writes it
// (ExtendedPoint.SetRistretto), with the square root checked rather than
// computed; TestDecodeHintedMatchesDecode holds the two to the same points
// and the same refusals.

// hintSize is the size of an element's hint: a field element, 32 bytes
// little-endian, canonical and non-negative (even).
const hintSize = 32

// curveD is d = −121665/121666, the constant of edwards25519.
var curveD = func() (fe edwards25519.FieldElement) {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	d := new(big.Int).ModInverse(big.NewInt(121666), p)
	d.Mul(d, big.NewInt(-121665)).Mod(d, p)
	fe.SetBigInt(d)
	return fe
}()

var feOne = func() (fe edwards25519.FieldElement) { fe.SetOne(); return fe }()

// hintInput returns t = −(d·(1 − s²)² + (1 + s²)²)·(1 + s²)², whose inverse
// square root decoding s needs, and 1 − s², 1 + s² and −(d·(1 − s²)² +
// (1 + s²)²) on the way.
func hintInput(s *edwards25519.FieldElement) (t, yNum, yDen, xDen2 edwards25519.FieldElement) {
	var s2, yDen2 edwards25519.FieldElement
	s2.Square(s)
	yDen.Add(&feOne, &s2)
	yNum.Sub(&feOne, &s2)
	yDen2.Square(&yDen)
	xDen2.Square(&yNum)
	xDen2.Mul(&xDen2, &curveD)
	xDen2.Add(&xDen2, &yDen2)
	xDen2.Neg(&xDen2)
	t.Mul(&xDen2, &yDen2)
	return t, yNum, yDen, xDen2
}

// canonicalEven reports whether b is a canonical field encoding of a
// non-negative (even) element, as an element's encoding and its hint must be.
func canonicalEven(b []byte) bool {
	return len(b) == elementSize && canonicalField(b) && b[0]&1 == 0
}

// elementHint returns the hint of enc, the encoding of an element, or false
// if enc does not decode.
func elementHint(enc []byte) ([hintSize]byte, bool) {
	var out [hintSize]byte
	if !canonicalEven(enc) {
		return out, false
	}
	var s, isr edwards25519.FieldElement
	s.SetBytes((*[32]byte)(enc))
	t, _, _, _ := hintInput(&s)
	isr.InvSqrt(&t)
	isr.Abs(&isr)
	isr.BytesInto(&out)
	// Decoding with it checks it is the root, which exists only if enc
	// decodes at all.
	var p point
	return out, decodeHintedInto(&p, enc, out[:]) == nil
}

// decodeHinted decodes enc, a canonical encoding of an element, with its
// hint. It accepts exactly the encodings decodePoint accepts, each with
// exactly one hint, and gives the same point.
func decodeHinted(enc, hint []byte) (*point, error) {
	p := new(point)
	if err := decodeHintedInto(p, enc, hint); err != nil {
		return nil, err
	}
	return p, nil
}

// decodeHintedInto is decodeHinted into p, which it leaves unspecified on
// failure.
func decodeHintedInto(p *point, enc, hint []byte) error {
	if !canonicalEven(enc) || len(hint) != hintSize || !canonicalEven(hint) {
		return errEncoding
	}
	var s, isr, chk, xDenInv, yDenInv, neg edwards25519.FieldElement
	s.SetBytes((*[32]byte)(enc))
	isr.SetBytes((*[32]byte)(hint))
	t, yNum, yDen, xDen2 := hintInput(&s)
	// The hint is 1/√t: t·hint² = 1. There is no such hint when t is 0 or
	// not a square, which is when the encoding does not decode.
	chk.Square(&isr)
	chk.Mul(&chk, &t)
	if chk.IsOneI() != 1 {
		return errEncoding
	}
	e := ext(p)
	xDenInv.Mul(&isr, &yDen)
	yDenInv.Mul(&xDenInv, &isr)
	yDenInv.Mul(&yDenInv, &xDen2)
	e.X.Mul(&s, &xDenInv)
	e.X.Add(&e.X, &e.X)
	neg.Neg(&e.X)
	e.X.ConditionalSet(&neg, e.X.IsNegativeI())
	e.Y.Mul(&yNum, &yDenInv)
	e.Z.SetOne()
	e.T.Mul(&e.X, &e.Y)
	if e.T.IsNegativeI() == 1 || e.Y.IsNonZeroI() == 0 {
		return errEncoding
	}
	return nil
}
