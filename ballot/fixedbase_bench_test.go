package ballot

import "testing"

// BenchmarkKeyMul is one multiplication by an election key through its
// fixed-base table; BenchmarkMulGen is one by G, for comparison.
func BenchmarkKeyMul(b *testing.B) {
	k := newElectionKey(g.NewElement().MulGen(randomScalar()))
	s := scalarBytes(randomScalar())
	k.mul(s)
	for b.Loop() {
		k.mul(s)
	}
}

func BenchmarkMulGen(b *testing.B) {
	s := randomScalar()
	for b.Loop() {
		mulBase(s)
	}
}
