package ballot

import (
	"crypto"
	"crypto/rand"
	"fmt"
	"math"
	"sort"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/zk/dleq"

	pv "primaryvote"
)

// Sums are the homomorphic sums of an election's ballots: one ciphertext per
// (question, candidate, group), in definition order — questions, then their
// candidates, then groups. Each encrypts how many ballots of that group chose
// that candidate.
type Sums struct {
	cts     []ciphertext
	ballots []int // ballots counted per group
}

// NewSums returns empty sums for e.
func (e *Election) NewSums() *Sums {
	n := 0
	for _, q := range e.Questions {
		n += len(q.Candidates) * len(e.Groups)
	}
	s := &Sums{cts: make([]ciphertext, n), ballots: make([]int, len(e.Groups))}
	for i := range s.cts {
		s.cts[i] = ciphertext{alpha: identity(), beta: identity()}
	}
	return s
}

// AddBallot adds a parsed ballot cast by a voter of the given group.
func (s *Sums) AddBallot(e *Election, group string, b *EncryptedBallot) error {
	for gi, gr := range e.Groups {
		if gr.ID == group {
			var cts []ciphertext
			for _, q := range b.questions {
				cts = append(cts, q.options...)
			}
			s.add(e, gi, cts)
			return nil
		}
	}
	return fmt.Errorf("sums: unknown group %q", group)
}

// add adds one ballot's ciphertexts, in Sums order, for group index gi.
func (s *Sums) add(e *Election, gi int, cts []ciphertext) {
	for k, ct := range cts {
		sum := &s.cts[k*len(e.Groups)+gi]
		sum.alpha.Add(sum.alpha, ct.alpha)
		sum.beta.Add(sum.beta, ct.beta)
	}
	s.ballots[gi]++
}

// AddStored adds a stored ballot, cast by a voter of the group at index gi,
// decoding only its ciphertexts: what the tally needs, at a fraction of the
// cost of ParseBallot. (Every ballot's proofs were checked when it was cast,
// and the audit verifier checks them all again.)
func (s *Sums) AddStored(e *Election, gi int, raw []byte) error {
	cts, err := e.parseCiphertexts(raw)
	if err != nil {
		return err
	}
	s.add(e, gi, cts)
	return nil
}

// PerGroup returns how many ballots of each group were added, in the
// definition's order.
func (s *Sums) PerGroup() []int { return append([]int(nil), s.ballots...) }

// parseCiphertexts decodes only the ciphertexts of a stored ballot, skipping
// its proofs: what the tally needs, at a fraction of the cost of ParseBallot.
func (e *Election) parseCiphertexts(raw []byte) ([]ciphertext, error) {
	if len(raw) != e.BallotSize() {
		return nil, errEncoding
	}
	o := len(ballotMagic) + 1 + len(e.ID)
	if string(raw[:o]) != ballotMagic+string([]byte{byte(len(e.ID))})+e.ID {
		return nil, errEncoding
	}
	offsets, alphas := e.elementOffsets()
	hints := raw[e.hintsOffset():]
	hint := func(j int) []byte { return hints[j*hintSize:][:hintSize] }
	out := make([]ciphertext, 0, len(alphas))
	for _, j := range alphas {
		alpha, err1 := decodeHinted(raw[offsets[j]:][:elementSize], hint(j))
		beta, err2 := decodeHinted(raw[offsets[j+1]:][:elementSize], hint(j+1))
		if err1 != nil || err2 != nil {
			return nil, errEncoding
		}
		out = append(out, ciphertext{alpha: alpha, beta: beta})
	}
	return out, nil
}

// Merge adds other's sums into s.
func (s *Sums) Merge(other *Sums) {
	for i := range s.cts {
		s.cts[i].alpha.Add(s.cts[i].alpha, other.cts[i].alpha)
		s.cts[i].beta.Add(s.cts[i].beta, other.cts[i].beta)
	}
	for i := range s.ballots {
		s.ballots[i] += other.ballots[i]
	}
}

// Ballots returns how many ballots were added.
func (s *Sums) Ballots() int {
	n := 0
	for _, b := range s.ballots {
		n += b
	}
	return n
}

// Encode returns the sums' stored form: per group the ballot count (uint32,
// big-endian), then every ciphertext α ‖ β in order.
func (s *Sums) Encode() []byte {
	var b []byte
	for _, n := range s.ballots {
		b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	for i := range s.cts {
		s.cts[i].enc = append(encodePoint(s.cts[i].alpha), encodePoint(s.cts[i].beta)...)
		b = append(b, s.cts[i].enc...)
	}
	return b
}

// DecodeSums decodes stored sums for e.
func (e *Election) DecodeSums(b []byte) (*Sums, error) {
	s := e.NewSums()
	want := 4*len(s.ballots) + 2*elementSize*len(s.cts)
	if len(b) != want {
		return nil, fmt.Errorf("sums: %d bytes; want %d", len(b), want)
	}
	for i := range s.ballots {
		s.ballots[i] = int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		b = b[4:]
	}
	for i := range s.cts {
		alpha, err1 := decodePoint(b[:elementSize])
		beta, err2 := decodePoint(b[elementSize : 2*elementSize])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("sums: ciphertext %d: %w", i, errEncoding)
		}
		s.cts[i] = ciphertext{alpha: alpha, beta: beta, enc: append([]byte(nil), b[:2*elementSize]...)}
		b = b[2*elementSize:]
	}
	return s, nil
}

// Equal reports whether two sums are the same.
func (s *Sums) Equal(o *Sums) bool {
	if len(s.cts) != len(o.cts) || fmt.Sprint(s.ballots) != fmt.Sprint(o.ballots) {
		return false
	}
	for i := range s.cts {
		if !s.cts[i].alpha.Equals(o.cts[i].alpha) || !s.cts[i].beta.Equals(o.cts[i].beta) {
			return false
		}
	}
	return true
}

// PartialDecryption is one trustee's share of the decryption of every sum:
// D_j = s_i·α_j, with a batched proof (RFC 9497 §2.2, DLEQ over ristretto255
// with SHA-512) that log_G K_i = log_{α_j} D_j for all j.
type PartialDecryption struct {
	Trustee int
	Shares  []group.Element
	Proof   []byte
}

func partialDLEQ(electionID string) dleq.Params {
	return dleq.Params{G: g, H: crypto.SHA512, DST: []byte("primaryvote-v1-partial-decryption-" + electionID)}
}

// PartialDecrypt computes trustee share's partial decryption of s.
func (e *Election) PartialDecrypt(t *Trustees, s *Sums, share TrusteeShare) (*PartialDecryption, error) {
	if share.ElectionID != e.ID || !t.CheckShare(share) {
		return nil, pv.Errorf(pv.EInvalid, "the share is not trustee %d's share of election %q", share.Index, e.ID)
	}
	p := &PartialDecryption{Trustee: share.Index}
	alphas := s.alphas()
	for _, alpha := range alphas {
		p.Shares = append(p.Shares, g.NewElement().Mul(alpha, share.Value))
	}
	proof, err := dleq.Prover{Params: partialDLEQ(e.ID)}.ProveBatchRFC9497(share.Value, t.Public[share.Index-1], alphas, p.Shares, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("couldn't prove partial decryption: %w", err)
	}
	if p.Proof, err = proof.MarshalBinary(); err != nil {
		return nil, err
	}
	return p, nil
}

// VerifyPartial checks a partial decryption's proof against the trustee's
// public key and the sums.
func (e *Election) VerifyPartial(t *Trustees, s *Sums, p *PartialDecryption) error {
	if p.Trustee < 1 || p.Trustee > len(t.Public) || len(p.Shares) != len(s.cts) {
		return fmt.Errorf("trustee %d: malformed partial decryption", p.Trustee)
	}
	var proof dleq.Proof
	if err := proof.UnmarshalBinary(g, p.Proof); err != nil {
		return fmt.Errorf("trustee %d: malformed proof", p.Trustee)
	}
	if !(dleq.Verifier{Params: partialDLEQ(e.ID)}).VerifyBatchRFC9497(t.Public[p.Trustee-1], s.alphas(), p.Shares, &proof) {
		return fmt.Errorf("trustee %d: the partial decryption's proof does not verify", p.Trustee)
	}
	return nil
}

// alphas returns the sums' α, as circl elements for the proofs.
func (s *Sums) alphas() []group.Element {
	out := make([]group.Element, len(s.cts))
	for i, ct := range s.cts {
		out[i] = element(ct.alpha)
	}
	return out
}

// EncodeShares returns the partial decryptions' stored form.
func (p *PartialDecryption) EncodeShares() []byte { return encodeElements(p.Shares) }

// DecodePartial rebuilds a stored partial decryption.
func DecodePartial(trustee int, shares, proof []byte) (*PartialDecryption, error) {
	es, err := decodeElements(shares)
	if err != nil {
		return nil, fmt.Errorf("trustee %d: %w", trustee, err)
	}
	return &PartialDecryption{Trustee: trustee, Shares: es, Proof: proof}, nil
}

// Counts decrypts s from exactly t.Threshold verified partial decryptions:
// D_j = Σ λ_i·D_ij with Lagrange coefficients at 0, then count_j·G = β_j − D_j
// and count_j is found by baby-step giant-step below s's ballot count.
func (e *Election) Counts(t *Trustees, s *Sums, partials []*PartialDecryption) ([]int, error) {
	if len(partials) != t.Threshold {
		return nil, fmt.Errorf("need exactly %d partial decryptions, got %d", t.Threshold, len(partials))
	}
	lambdas := lagrangeAtZero(partials)
	bsgs := newBSGS(s.Ballots())
	counts := make([]int, len(s.cts))
	for j, ct := range s.cts {
		d := g.Identity()
		for i, p := range partials {
			d.Add(d, g.NewElement().Mul(p.Shares[j], lambdas[i]))
		}
		m := g.NewElement().Add(element(ct.beta), g.NewElement().Neg(d))
		n, ok := bsgs.log(m)
		if !ok {
			return nil, fmt.Errorf("sum %d does not decrypt to a count between 0 and %d", j, s.Ballots())
		}
		counts[j] = n
	}
	return counts, nil
}

// lagrangeAtZero returns λ_i = Π_{j≠i} x_j / (x_j − x_i) for the trustees' indices.
func lagrangeAtZero(partials []*PartialDecryption) []group.Scalar {
	out := make([]group.Scalar, len(partials))
	for i, pi := range partials {
		num, den := scalarOf(1), scalarOf(1)
		xi := scalarOf(uint64(pi.Trustee))
		for j, pj := range partials {
			if i == j {
				continue
			}
			xj := scalarOf(uint64(pj.Trustee))
			num.Mul(num, xj)
			den.Mul(den, g.NewScalar().Sub(xj, xi))
		}
		out[i] = g.NewScalar().Mul(num, g.NewScalar().Inv(den))
	}
	return out
}

// bsgs solves n·G = M for 0 ≤ n ≤ max in O(√max) steps.
type bsgs struct {
	m     int
	baby  map[[32]byte]int
	giant group.Element // −m·G
	max   int
}

func newBSGS(max int) *bsgs {
	m := int(math.Ceil(math.Sqrt(float64(max + 1))))
	b := &bsgs{m: m, baby: make(map[[32]byte]int, m), max: max}
	p := g.Identity()
	for j := 0; j < m; j++ {
		b.baby[[32]byte(encodeElement(p))] = j
		p.Add(p, g.Generator())
	}
	b.giant = g.NewElement().Neg(p) // p = m·G
	return b
}

func (b *bsgs) log(target group.Element) (int, bool) {
	y := g.NewElement().Set(target)
	for i := 0; i <= b.m; i++ {
		if j, ok := b.baby[[32]byte(encodeElement(y))]; ok {
			if n := i*b.m + j; n <= b.max {
				return n, true
			}
			return 0, false
		}
		y.Add(y, b.giant)
	}
	return 0, false
}

// Results are an election's decrypted counts, per group and combined.
type Results struct {
	Election  string           `json:"election"`
	Ballots   int              `json:"ballots"`
	Groups    []GroupResult    `json:"groups"`
	Questions []QuestionResult `json:"questions"`
}

// GroupResult is a group's weight and how many of its voters cast a ballot.
type GroupResult struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	Weight  float64 `json:"weight"`
	Ballots int     `json:"ballots"`
}

// QuestionResult is one question's result, candidates ordered by their
// combined share, highest first.
type QuestionResult struct {
	ID         string            `json:"id"`
	Title      string            `json:"title"`
	Candidates []CandidateResult `json:"candidates"`
}

// CandidateResult is a candidate's votes and share per group, and the
// combined share: Σ_g weight_g × share_g, over groups that cast ballots
// (their weights rescaled to add up to 1).
type CandidateResult struct {
	ID       string    `json:"id"`
	Number   int       `json:"number"`
	Name     string    `json:"name"`
	Votes    []int     `json:"votes"`   // per group, in the groups' order
	Percent  []float64 `json:"percent"` // per group: share of the group's selections in this question
	Combined float64   `json:"combined_percent"`
	Total    int       `json:"total_votes"`
}

// MakeResults turns decrypted counts (in Sums order) into results.
func (e *Election) MakeResults(s *Sums, counts []int) *Results {
	r := &Results{Election: e.ID, Ballots: s.Ballots()}
	weightSum := 0.0
	for gi, gr := range e.Groups {
		r.Groups = append(r.Groups, GroupResult{ID: gr.ID, Name: gr.Name, Weight: gr.Weight, Ballots: s.ballots[gi]})
		if s.ballots[gi] > 0 {
			weightSum += gr.Weight
		}
	}
	i := 0
	for _, q := range e.Questions {
		qr := QuestionResult{ID: q.ID, Title: q.Title}
		selections := make([]int, len(e.Groups))
		for range q.Candidates {
			for gi := range e.Groups {
				selections[gi] += counts[i+gi]
			}
			i += len(e.Groups)
		}
		i -= len(q.Candidates) * len(e.Groups)
		for _, c := range q.Candidates {
			cr := CandidateResult{ID: c.ID, Number: c.Number, Name: c.Name}
			for gi, gr := range e.Groups {
				n := counts[i+gi]
				cr.Votes = append(cr.Votes, n)
				cr.Total += n
				share := 0.0
				if selections[gi] > 0 {
					share = 100 * float64(n) / float64(selections[gi])
				}
				cr.Percent = append(cr.Percent, round2(share))
				if s.ballots[gi] > 0 && weightSum > 0 {
					cr.Combined += gr.Weight / weightSum * share
				}
			}
			cr.Combined = round2(cr.Combined)
			qr.Candidates = append(qr.Candidates, cr)
			i += len(e.Groups)
		}
		sort.SliceStable(qr.Candidates, func(a, b int) bool { return qr.Candidates[a].Combined > qr.Candidates[b].Combined })
		r.Questions = append(r.Questions, qr)
	}
	return r
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
