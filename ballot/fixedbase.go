package ballot

import (
	"sync"

	"github.com/bwesterb/go-ristretto/edwards25519"
)

// keyTable holds the multiples j·16^i·K of an election key in Niels form
// (go-ristretto's fixed-base table, the kind it keeps for G), so that a
// multiplication by K takes 64 mixed additions instead of a full scalar
// multiplication. A lookup reads a whole row with constant-time moves, so
// neither the time nor the memory accessed depends on the (secret) scalar.
type keyTable struct {
	once  sync.Once
	table *edwards25519.ScalarMultTable
}

// build computes the key's table on first use.
func (k *ElectionKey) build() {
	k.once.Do(func() {
		k.table = new(edwards25519.ScalarMultTable)
		k.table.Compute(ext(fromElement(k.point)))
	})
}

// mul returns s·K in constant time.
func (k *ElectionKey) mul(s [scalarSize]byte) *point {
	k.build()
	p := new(point)
	k.table.ScalarMult(ext(p), &s)
	return p
}

// mulPublic returns s·K for a public s, in variable time.
func (k *ElectionKey) mulPublic(s [scalarSize]byte) *point {
	k.build()
	p := new(point)
	k.table.VarTimeScalarMult(ext(p), &s)
	return p
}
