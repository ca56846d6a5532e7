package ballot

import (
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/group"
)

// A ciphertext is an exponential-ElGamal encryption of a small m under the
// election key K: (α, β) = (r·G, m·G + r·K).
type ciphertext struct {
	alpha, beta *point
	// enc is α ‖ β, encoded once; for a question's total, the ciphertexts
	// it sums (sum).
	enc []byte
}

// encryptValue encrypts m ∈ {0, 1}.
func encryptValue(key *ElectionKey, m int, rnd func() group.Scalar) (ct ciphertext, r group.Scalar) {
	r = rnd()
	alpha := mulBase(r)
	beta := key.mul(scalarBytes(r))
	// Add G or the identity with a constant-time choice, so that the time
	// taken does not tell whether a candidate was chosen.
	mG := identity()
	mG.ConditionalSet(new(point).SetBase(), int32(subtle.ConstantTimeEq(int32(m), 1)))
	beta.Add(beta, mG)
	return newCiphertext(alpha, beta), r
}

func newCiphertext(alpha, beta *point) ciphertext {
	return ciphertext{alpha: alpha, beta: beta, enc: append(encodePoint(alpha), encodePoint(beta)...)}
}

// sum returns the component-wise product of ciphertexts, which encrypts the
// sum of their plaintexts with the sum of their randomness. Its enc is not
// the product's encoding but the ciphertexts' own, in order: what a total's
// proof hashes (FORMAT.md), known without encoding the product.
func sum(cts []ciphertext) ciphertext {
	alpha, beta := identity(), identity()
	for _, c := range cts {
		alpha.Add(alpha, c.alpha)
		beta.Add(beta, c.beta)
	}
	return ciphertext{alpha: alpha, beta: beta, enc: sumStatement(cts)}
}

// sumStatement is what a total's proof hashes for its ciphertext: the
// ciphertexts it sums, each α ‖ β, in order.
func sumStatement(cts []ciphertext) []byte {
	out := make([]byte, 0, len(cts)*2*elementSize)
	for _, c := range cts {
		out = append(out, c.enc...)
	}
	return out
}

// A rangeProof is a disjunctive Chaum–Pedersen proof that a ciphertext
// encrypts one of lo, lo+1, …, hi. Branch k is for the value lo+k and holds
// the commitments (a, b), its challenge c and its response z; the verifier
// checks, for every k,
//
//	z·G = a + c·α   and   z·K = b + c·(β − (lo+k)·G),
//
// and that the challenges add up to the Fiat–Shamir challenge of the
// statement and all commitments. The proof carries its commitments (rather
// than only challenges and responses) so that many proofs can be checked at
// once by a random linear combination.
type rangeProof []proofBranch

type proofBranch struct {
	a, b *point
	c, z group.Scalar
	// ab is a ‖ b encoded, kept from when the branch was made or parsed:
	// the challenge and the ballot's bytes both need it.
	ab []byte
}

func (br *proofBranch) encodeCommitments() {
	br.ab = append(encodePoint(br.a), encodePoint(br.b)...)
}

const branchSize = 2*elementSize + 2*scalarSize

// proofContext is what a proof's challenge binds besides the ciphertext:
// the election, its key, the voter's public credential, and the position of
// the ciphertext on the ballot.
type proofContext struct {
	electionID string
	key        *ElectionKey
	credential []byte
	question   int
	option     int // optionSum for the proof about a question's total
}

// optionSum marks the proof that a question's selections add up to within
// its bounds.
const optionSum = 0xffff

const rangeProofDomain = "primaryvote/v2/range-proof"

func (pc proofContext) challenge(ct ciphertext, lo, hi int, p rangeProof) group.Scalar {
	t := &transcript{b: make([]byte, 0, 4+len(rangeProofDomain)+4+len(pc.electionID)+len(pc.key.enc)+len(pc.credential)+8+len(ct.enc)+len(p)*2*elementSize)}
	t.bytes([]byte(rangeProofDomain)).bytes([]byte(pc.electionID)).fixed(pc.key.enc).fixed(pc.credential).
		uint16(pc.question).uint16(pc.option).uint16(lo).uint16(hi).fixed(ct.enc)
	for _, br := range p {
		t.fixed(br.ab)
	}
	return t.challenge()
}

// proveRange proves that ct, made with randomness r, encrypts m ∈ [lo, hi].
// The simulated branches are computed from r, so every multiplication is by
// a fixed base (G or K). rnd draws, branch by branch, w for the true
// branch and c then z for each other one.
func proveRange(pc proofContext, ct ciphertext, r group.Scalar, m, lo, hi int, rnd func() group.Scalar) rangeProof {
	if m < lo || m > hi {
		panic(fmt.Sprintf("ballot: proving %d in [%d, %d]", m, lo, hi))
	}
	p := make(rangeProof, hi-lo+1)
	var w group.Scalar
	others := g.NewScalar()
	for k := range p {
		v := lo + k
		if v == m {
			w = rnd()
			p[k].a = mulBase(w)
			p[k].b = pc.key.mul(scalarBytes(w))
			p[k].encodeCommitments()
			continue
		}
		// z·G − c·α = (z − c·r)·G and z·K − c·(β − v·G) = (z − c·r)·K − c·(m − v)·G.
		c := rnd()
		z := rnd()
		t := g.NewScalar().Sub(z, g.NewScalar().Mul(c, r))
		p[k].a = mulBase(t)
		cm := g.NewScalar().Mul(c, signedScalar(m-v))
		p[k].b = pc.key.mul(scalarBytes(t))
		p[k].b.Sub(p[k].b, mulBase(cm))
		p[k].c, p[k].z = c, z
		p[k].encodeCommitments()
		others.Add(others, c)
	}
	honest := &p[m-lo]
	honest.c = g.NewScalar().Sub(pc.challenge(ct, lo, hi, p), others)
	honest.z = g.NewScalar().Add(w, g.NewScalar().Mul(honest.c, r))
	return p
}

func signedScalar(n int) group.Scalar {
	if n < 0 {
		return g.NewScalar().Neg(scalarOf(uint64(-n)))
	}
	return scalarOf(uint64(n))
}

var errProof = errors.New("proof does not verify")

// verify checks p for ct against [lo, hi], every equation on its own (a
// Batch checks many proofs faster; this names the one that fails).
func (p rangeProof) verify(pc proofContext, ct ciphertext, lo, hi int) error {
	if len(p) != hi-lo+1 {
		return errProof
	}
	for k, br := range p {
		// z·G = a + c·α
		lhs := mulBasePublic(br.z)
		rhs := mulPublic(ct.alpha, br.c)
		if !lhs.Equals(rhs.Add(rhs, br.a)) {
			return errProof
		}
		// z·K = b + c·(β − v·G)
		lhs = pc.key.mulPublic(scalarBytes(br.z))
		shifted := new(point).Set(ct.beta)
		if v := lo + k; v != 0 {
			shifted.Add(shifted, timesG(-v))
		}
		rhs = mulPublic(shifted, br.c)
		if !lhs.Equals(rhs.Add(rhs, br.b)) {
			return errProof
		}
	}
	if !p.challengeHolds(pc, ct, lo, hi) {
		return errProof
	}
	return nil
}

// challengeHolds reports whether p has a branch for every value in [lo, hi]
// and its branches' challenges add up to the Fiat–Shamir challenge.
func (p rangeProof) challengeHolds(pc proofContext, ct ciphertext, lo, hi int) bool {
	if len(p) != hi-lo+1 {
		return false
	}
	total := g.NewScalar()
	for _, br := range p {
		total.Add(total, br.c)
	}
	return total.IsEqual(pc.challenge(ct, lo, hi, p))
}

func (p rangeProof) appendTo(b []byte) []byte {
	for _, br := range p {
		b = append(b, br.ab...)
		b = append(b, encodeScalar(br.c)...)
		b = append(b, encodeScalar(br.z)...)
	}
	return b
}

// decodeRangeProof decodes a proof of the given number of branches, each
// commitment with decode (which takes its hint).
func decodeRangeProof(b []byte, branches int, decode func([]byte) (*point, error)) (rangeProof, error) {
	if len(b) != branches*branchSize {
		return nil, errEncoding
	}
	p := make(rangeProof, branches)
	for k := range p {
		o := k * branchSize
		var err error
		if p[k].a, err = decode(b[o : o+32]); err != nil {
			return nil, err
		}
		if p[k].b, err = decode(b[o+32 : o+64]); err != nil {
			return nil, err
		}
		if p[k].c, err = decodeScalar(b[o+64 : o+96]); err != nil {
			return nil, err
		}
		if p[k].z, err = decodeScalar(b[o+96 : o+128]); err != nil {
			return nil, err
		}
		p[k].ab = b[o : o+64]
	}
	return p, nil
}
