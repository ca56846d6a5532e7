package ballot

import (
	"crypto/subtle"
	"sync"

	"github.com/cloudflare/circl/group"
)

// fixedBase holds the multiples j·16^i·P (j = 1…8, i = 0…63) of a point
// that is multiplied over and over (an election key), so that a
// multiplication takes 64 additions instead of a full scalar multiplication.
// The scalar is recoded into signed digits in [−8, 8); every lookup reads
// all 8 entries of its row, keeps one with a constant-time move and negates
// it with another, so neither the time nor the memory accessed depends on
// the (secret) scalar.
type fixedBase [64][8]group.Element

func newFixedBase(p group.Element) *fixedBase {
	var t fixedBase
	base := g.NewElement().Set(p)
	for i := range t {
		t[i][0] = g.NewElement().Set(base)
		for j := 1; j < 8; j++ {
			t[i][j] = g.NewElement().Add(t[i][j-1], base)
		}
		// 16^(i+1)·P = 2·(8·16^i·P)
		base = g.NewElement().Add(t[i][7], t[i][7])
	}
	return &t
}

// signedDigits recodes a little-endian scalar below 2^255 into 64 digits
// d_i ∈ [−8, 8) with s = Σ d_i·16^i, without branching on it.
func signedDigits(b []byte) [64]int8 {
	var d [64]int8
	for i := 0; i < 32; i++ {
		d[2*i] = int8(b[i] & 15)
		d[2*i+1] = int8(b[i] >> 4)
	}
	for i := 0; i < 63; i++ {
		carry := (d[i] + 8) >> 4
		d[i] -= carry << 4
		d[i+1] += carry
	}
	return d
}

// mul returns s·P.
func (t *fixedBase) mul(s group.Scalar) group.Element {
	d := signedDigits(encodeScalar(s))
	acc := g.Identity()
	sel, neg := g.NewElement(), g.NewElement()
	identity := g.Identity()
	for i := range t {
		// |d| and the sign of d, in constant time.
		sign := int32(uint8(d[i]) >> 7)
		abs := int32(d[i]) * (1 - 2*sign)
		sel.Set(identity)
		for j := int32(0); j < 8; j++ {
			sel.CMov(subtle.ConstantTimeEq(j+1, abs), t[i][j])
		}
		neg.Neg(sel)
		sel.CMov(int(sign), neg)
		acc.Add(acc, sel)
	}
	return acc
}

// mul returns s·K, with the key's table, built on first use.
func (k *ElectionKey) mul(s group.Scalar) group.Element {
	k.once.Do(func() { k.table = newFixedBase(k.point) })
	return k.table.mul(s)
}

// keyTableState is embedded in ElectionKey.
type keyTableState struct {
	once  sync.Once
	table *fixedBase
}
