package ballot

import (
	"crypto/subtle"
	"sync"

	"github.com/cloudflare/circl/group"
)

// fixedBase holds the multiples j·16^i·P (j = 0…15, i = 0…63) of a point
// that is multiplied over and over (an election key), so that a
// multiplication takes 64 additions instead of a full scalar multiplication.
// Every lookup reads all 16 entries of its row and keeps one with a
// constant-time move: neither the time nor the memory accessed depends on
// the (secret) scalar.
type fixedBase [64][16]group.Element

func newFixedBase(p group.Element) *fixedBase {
	var t fixedBase
	base := g.NewElement().Set(p)
	for i := range t {
		t[i][0] = g.Identity()
		for j := 1; j < 16; j++ {
			t[i][j] = g.NewElement().Add(t[i][j-1], base)
		}
		base = g.NewElement().Add(t[i][15], base) // 16^(i+1)·P
	}
	return &t
}

// mul returns s·P.
func (t *fixedBase) mul(s group.Scalar) group.Element {
	b := encodeScalar(s) // little-endian
	acc := g.Identity()
	sel := g.NewElement()
	for i := range t {
		nibble := int32(b[i/2]>>(4*(i%2))) & 15
		sel.Set(t[i][0])
		for j := int32(1); j < 16; j++ {
			sel.CMov(subtle.ConstantTimeEq(j, nibble), t[i][j])
		}
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
