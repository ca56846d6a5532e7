package ballot

import (
	"crypto/rand"
	"slices"

	"github.com/cloudflare/circl/group"

	pv "primaryvote"
)

// A Batch checks the proofs and signatures of many ballots of one election,
// and any other signatures (a voter's sign-in), at once.
//
// Every branch of every range proof states two equations,
//
//	a + c·α − z·G = 0   and   b + c·β − c·v·G − z·K = 0,
//
// and every ballot's signature one more, R + c·P − s·G = 0;
// and the batch multiplies each by its own fresh 128-bit random weight and
// adds them all up. The sum is one multi-scalar multiplication, in which G
// and K each appear once and every other point once, with the weights of all
// its equations combined. If any equation fails, the sum is the identity
// with probability at most 2^-128, and the batch then checks each ballot on
// its own to name the failure. The Fiat–Shamir challenges are checked one by
// one as ballots are added. This is what makes verifying a whole election's
// ballots an order of magnitude faster than checking every equation alone.
type Batch struct {
	e *Election // nil in a batch of signatures only
	// checks holds, for each ballot or signature in the order added, the
	// check of its own equations, which names its failure.
	checks  []func() error
	scalars [][scalarSize]byte
	points  []*point
	gCoef   group.Scalar
	kCoef   group.Scalar
}

// NewBatch returns an empty batch for e's ballots.
func (e *Election) NewBatch() (*Batch, error) {
	if e.Key == nil {
		return nil, pv.Errorf(pv.EConflict, "election %q has no key", e.ID)
	}
	return &Batch{e: e, gCoef: g.NewScalar(), kCoef: g.NewScalar()}, nil
}

// Reserve makes room for n more ballots, so that adding them does not grow
// the batch's terms again and again.
func (bt *Batch) Reserve(n int) {
	if bt.e == nil || n <= 0 {
		return
	}
	terms := n * bt.e.elementCount() // every element of a ballot is one term
	bt.scalars = slices.Grow(bt.scalars, terms)
	bt.points = slices.Grow(bt.points, terms)
}

// NewSignatureBatch returns an empty batch for signatures only.
func NewSignatureBatch() *Batch {
	return &Batch{gCoef: g.NewScalar(), kCoef: g.NewScalar()}
}

// AddSignature decodes sig, a signature of message by public under context
// (VerifySignature), and keeps its equation for Verify; it returns an error
// only for a signature or key that does not decode.
func (bt *Batch) AddSignature(public []byte, context string, message, sig []byte) error {
	eq, err := parseSignature(public, context, message, sig)
	if err != nil {
		return err
	}
	bt.addSignature(randomWeights(1).next(), eq)
	bt.checks = append(bt.checks, eq.verify)
	return nil
}

// addSignature adds weight·(R + c·P − s·G).
func (bt *Batch) addSignature(weight group.Scalar, sig signatureEquation) {
	bt.addTerm(weight, sig.r)
	bt.addTerm(g.NewScalar().Mul(weight, sig.c), sig.p)
	bt.gCoef.Sub(bt.gCoef, g.NewScalar().Mul(weight, sig.s))
}

// Add parses raw strictly and checks the challenge of every proof in it; it
// returns an error naming the first failure, and otherwise keeps the
// ballot's equations, its signature's among them, for Verify.
func (bt *Batch) Add(raw []byte) (*EncryptedBallot, error) {
	e := bt.e
	if e == nil {
		return nil, pv.Errorf(pv.EInvalid, "encrypted ballot: a batch of signatures takes no ballot")
	}
	b, err := e.ParseBallot(raw)
	if err != nil {
		return nil, err
	}
	// Check every challenge before adding any equation, so a ballot
	// refused here leaves the batch as it was.
	for qi, q := range e.Questions {
		eq := &b.questions[qi]
		for oi := range q.Candidates {
			if !eq.proofs[oi].challengeHolds(e.proofContext(b.credentialEnc, qi, oi), eq.options[oi], 0, 1) {
				return nil, optionProofError(q, oi)
			}
		}
		// The total's challenge needs only the ciphertexts it sums, not
		// their product (which the equations below never form).
		total := ciphertext{enc: sumStatement(eq.options)}
		if !eq.sumProof.challengeHolds(e.proofContext(b.credentialEnc, qi, optionSum), total, q.MinSelections, q.MaxSelections) {
			return nil, sumProofError(q)
		}
	}
	w := newWeights(b, e)
	for qi, q := range e.Questions {
		eq := &b.questions[qi]
		alphas := make([]group.Scalar, len(eq.options))
		betas := make([]group.Scalar, len(eq.options))
		for oi := range eq.options {
			alphas[oi], betas[oi] = g.NewScalar(), g.NewScalar()
			bt.addEquations(w, eq.proofs[oi], 0, alphas[oi], betas[oi])
		}
		// The total's ciphertext is the sum of the options' ciphertexts, so
		// its weights go to every option's α and β.
		sumAlpha, sumBeta := g.NewScalar(), g.NewScalar()
		bt.addEquations(w, eq.sumProof, q.MinSelections, sumAlpha, sumBeta)
		for oi, ct := range eq.options {
			bt.addTerm(alphas[oi].Add(alphas[oi], sumAlpha), ct.alpha)
			bt.addTerm(betas[oi].Add(betas[oi], sumBeta), ct.beta)
		}
	}
	bt.addSignature(w.next(), b.signatureEquation())
	bt.checks = append(bt.checks, func() error { return e.checkEach(b) })
	return b, nil
}

// addEquations adds the weighted equations of p's branches (for values lo,
// lo+1, …): the commitments as terms, and their ciphertext's weights to
// alpha and beta.
func (bt *Batch) addEquations(w *weights, p rangeProof, lo int, alpha, beta group.Scalar) {
	t := g.NewScalar()
	for k, br := range p {
		r1, r2 := w.next(), w.next()
		bt.addTerm(r1, br.a)
		bt.addTerm(r2, br.b)
		alpha.Add(alpha, t.Mul(r1, br.c))
		r2c := g.NewScalar().Mul(r2, br.c)
		beta.Add(beta, r2c)
		bt.gCoef.Sub(bt.gCoef, t.Mul(r1, br.z))
		if v := lo + k; v != 0 {
			bt.gCoef.Sub(bt.gCoef, t.Mul(r2c, scalarOf(uint64(v))))
		}
		bt.kCoef.Sub(bt.kCoef, t.Mul(r2, br.z))
	}
}

func (bt *Batch) addTerm(s group.Scalar, p *point) {
	bt.scalars = append(bt.scalars, scalarBytes(s))
	bt.points = append(bt.points, p)
}

// Verify checks every equation of the batch at once. If they do not all
// hold, it checks the ballots and signatures one by one and returns the
// index of the first that fails and its error. It returns −1 and nil if
// every one verifies.
func (bt *Batch) Verify() (int, error) {
	if len(bt.checks) == 0 || bt.holds() {
		return -1, nil
	}
	for i, check := range bt.checks {
		if err := check(); err != nil {
			return i, err
		}
	}
	return 0, errBatchArithmetic(len(bt.checks))
}

// VerifyEach checks every equation of the batch at once and returns, for
// each ballot and signature in the order added, nil or the error that names
// its failure: when the batch does not hold, each is checked on its own.
func (bt *Batch) VerifyEach() []error {
	errs := make([]error, len(bt.checks))
	if len(bt.checks) == 0 || bt.holds() {
		return errs
	}
	failed := false
	for i, check := range bt.checks {
		errs[i] = check()
		failed = failed || errs[i] != nil
	}
	if !failed {
		for i := range errs {
			errs[i] = errBatchArithmetic(len(bt.checks))
		}
	}
	return errs
}

// holds reports whether the weighted sum of the batch's equations is the
// identity.
func (bt *Batch) holds() bool {
	total := multiScalarMul(bt.scalars, bt.points)
	total.Add(total, mulBasePublic(bt.gCoef))
	if bt.e != nil {
		total.Add(total, bt.e.Key.mulPublic(scalarBytes(bt.kCoef)))
	}
	return total.Equals(identity())
}

// errBatchArithmetic is unreachable unless the arithmetic is wrong: the sum
// of equations that all hold is the identity.
func errBatchArithmetic(n int) error {
	return pv.Errorf(pv.EInvalid, "the batch of %d ballots and signatures does not verify, though each does alone", n)
}

// weights hands out independent random 128-bit scalars.
type weights struct {
	buf []byte
}

// newWeights draws the weights for every equation of b at once.
func newWeights(b *EncryptedBallot, e *Election) *weights {
	n := 0
	for qi := range e.Questions {
		eq := &b.questions[qi]
		for _, p := range eq.proofs {
			n += 2 * len(p)
		}
		n += 2 * len(eq.sumProof)
	}
	n++ // the signature
	return randomWeights(n)
}

// randomWeights draws n weights.
func randomWeights(n int) *weights {
	w := &weights{buf: make([]byte, 16*n)}
	if _, err := rand.Read(w.buf); err != nil {
		panic("ballot: no randomness for the batch weights: " + err.Error())
	}
	return w
}

func (w *weights) next() group.Scalar {
	var le [scalarSize]byte
	copy(le[:16], w.buf[:16])
	w.buf = w.buf[16:]
	s := g.NewScalar()
	if err := s.UnmarshalBinary(le[:]); err != nil {
		panic("ballot: a 128-bit scalar did not decode: " + err.Error())
	}
	return s
}
