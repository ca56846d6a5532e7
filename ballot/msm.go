package ballot

import (
	"math/bits"

	"github.com/cloudflare/circl/group"
)

// multiScalarMul returns Σ s_i·P_i by Pippenger's bucket method: the scalars
// are cut into c-bit windows, and in each window every point is added to the
// bucket of its digit, so n points cost about n additions a window instead of
// a full multiplication each. Digits are signed, in [−2^(c−1), 2^(c−1)), so
// half as many buckets need summing; a negative digit adds −P to the bucket
// of its absolute value. The scalars are little-endian and below 2^253 (any
// canonical scalar is).
//
// It takes time that depends on the scalars: use it only where they are
// public or a verifier's own random weights, never with a secret.
func multiScalarMul(scalars [][scalarSize]byte, points []group.Element) group.Element {
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
	buckets := make([]group.Element, half+1)
	for d := range buckets {
		buckets[d] = g.NewElement()
	}
	filled := make([]bool, half+1)
	acc := g.Identity()
	sum, window, neg := g.NewElement(), g.NewElement(), g.NewElement()
	for w := windows - 1; w >= 0; w-- {
		for range c {
			acc.Dbl(acc)
		}
		clear(filled)
		for i, p := range points {
			d := digits[w*n+i]
			if d == 0 {
				continue
			}
			if d < 0 {
				d = -d
				p = neg.Neg(p)
			}
			if filled[d] {
				buckets[d].Add(buckets[d], p)
			} else {
				buckets[d].Set(p)
				filled[d] = true
			}
		}
		// Σ d·bucket_d as a running sum from the top bucket down.
		sum.Set(g.Identity())
		window.Set(g.Identity())
		for d := half; d >= 1; d-- {
			if filled[d] {
				sum.Add(sum, buckets[d])
			}
			if !sum.IsIdentity() {
				window.Add(window, sum)
			}
		}
		acc.Add(acc, window)
	}
	return acc
}

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
