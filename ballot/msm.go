package ballot

import (
	"math/bits"

	"github.com/bwesterb/go-ristretto/edwards25519"
)

// multiScalarMul returns Σ s_i·P_i by Pippenger's bucket method: the scalars
// are cut into c-bit windows, and in each window every point is added to the
// bucket of its digit, so n points cost about n additions a window instead of
// a full multiplication each. Digits are signed, in [−2^(c−1), 2^(c−1)), so
// half as many buckets need summing; a negative digit adds −P to the bucket
// of its absolute value. Each point is put in Niels form once, so a bucket
// addition costs 7 field multiplications rather than 9. The scalars are
// little-endian and below 2^253 (any canonical scalar is).
//
// It takes time that depends on the scalars: use it only where they are
// public or a verifier's own random weights, never with a secret.
func multiScalarMul(scalars [][scalarSize]byte, points []*point) *point {
	if len(scalars) != len(points) {
		panic("ballot: multiScalarMul needs one scalar a point")
	}
	n := len(points)
	c := windowBits(scalars)
	windows := (8*scalarSize + c - 1) / c
	half := 1 << (c - 1)
	digits := make([]int32, windows*n)
	for i := range scalars {
		carry := int32(0)
		for w := range windows {
			d := int32(digit(&scalars[i], w*c, c)) + carry
			carry = 0
			if d >= int32(half) {
				d -= 1 << c
				carry = 1
			}
			digits[w*n+i] = d
		}
		if carry != 0 {
			panic("ballot: multiScalarMul scalar at or above 2^253")
		}
	}
	niels := make([]edwards25519.NielsPoint, n)
	for i, p := range points {
		setNiels(&niels[i], ext(p))
	}
	buckets := make([]edwards25519.ExtendedPoint, half+1)
	filled := make([]bool, half+1)
	var acc, sum, window edwards25519.ExtendedPoint
	var cp edwards25519.CompletedPoint
	acc.SetZero()
	for w := windows - 1; w >= 0; w-- {
		for range c {
			acc.Double(&acc)
		}
		clear(filled)
		for i := range niels {
			d := digits[w*n+i]
			if d == 0 {
				continue
			}
			neg := d < 0
			if neg {
				d = -d
			}
			if !filled[d] {
				buckets[d].SetZero()
				filled[d] = true
			}
			if neg {
				cp.SubExtendedNiels(&buckets[d], &niels[i])
			} else {
				cp.AddExtendedNiels(&buckets[d], &niels[i])
			}
			buckets[d].SetCompleted(&cp)
		}
		// Σ d·bucket_d as a running sum from the top bucket down.
		sum.SetZero()
		window.SetZero()
		started := false
		for d := half; d >= 1; d-- {
			if filled[d] {
				sum.Add(&sum, &buckets[d])
				started = true
			}
			if started {
				window.Add(&window, &sum)
			}
		}
		acc.Add(&acc, &window)
	}
	return (*point)(&acc)
}

// setNiels sets n to p in Niels form (y+x, y−x, 2d·x·y). A decoded point
// has Z = 1 and needs one multiplication; any other needs an inversion.
func setNiels(n *edwards25519.NielsPoint, p *edwards25519.ExtendedPoint) {
	if p.Z.IsOneI() != 1 {
		n.SetExtended(p)
		return
	}
	n.YPlusX.Add(&p.Y, &p.X)
	n.YMinusX.Sub(&p.Y, &p.X)
	n.XY2D.Mul(&p.T, &twoD)
}

// twoD is 2·d, for the Niels form.
var twoD = func() (fe edwards25519.FieldElement) { return *fe.Add(&curveD, &curveD) }()

// digit returns the c bits of s starting at bit pos (c ≤ 16).
func digit(s *[scalarSize]byte, pos, c int) int {
	var v uint32
	for k, i := 0, pos/8; k < 3 && i < scalarSize; k, i = k+1, i+1 {
		v |= uint32(s[i]) << (8 * k)
	}
	return int(v>>(pos%8)) & (1<<c - 1)
}

// windowBits picks the window width that minimises the additions: one a
// point for each window its scalar reaches, and two a bucket (2^(c−1) of
// them) a window for the running sums. Short scalars (a verifier's 128-bit weights) reach fewer
// windows.
func windowBits(scalars [][scalarSize]byte) int {
	totalBits := 0
	for i := range scalars {
		totalBits += bitLen(&scalars[i])
	}
	best, bestCost := 2, -1
	for c := 2; c <= 16; c++ {
		windows := (8*scalarSize + c - 1) / c
		cost := totalBits/c + len(scalars) + windows*(1<<c)
		if bestCost < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}

func bitLen(s *[scalarSize]byte) int {
	for i := scalarSize - 1; i >= 0; i-- {
		if s[i] != 0 {
			return 8*i + bits.Len8(s[i])
		}
	}
	return 0
}
