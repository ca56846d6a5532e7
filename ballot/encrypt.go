package ballot

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/cloudflare/circl/group"

	pv "primaryvote"
)

// ElectionKey is an election's public key K = x·G. The secret x exists only
// as the trustees' shares.
type ElectionKey struct {
	point group.Element
	enc   []byte
	keyTable
}

// ParseElectionKey decodes a 32-byte canonical ristretto255 element.
func ParseElectionKey(b []byte) (*ElectionKey, error) {
	p, err := decodeElement(b)
	if err != nil {
		return nil, fmt.Errorf("election key: %w", err)
	}
	if p.IsIdentity() {
		return nil, fmt.Errorf("election key is the identity")
	}
	return &ElectionKey{point: p, enc: append([]byte(nil), b...)}, nil
}

func newElectionKey(p group.Element) *ElectionKey {
	return &ElectionKey{point: p, enc: encodeElement(p)}
}

// Bytes returns the key's 32-byte encoding.
func (k *ElectionKey) Bytes() []byte { return append([]byte(nil), k.enc...) }

// MarshalText encodes the key in hex.
func (k *ElectionKey) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(k.enc)), nil }

// UnmarshalText decodes a key from lower-case hex.
func (k *ElectionKey) UnmarshalText(text []byte) error {
	b, err := hex.DecodeString(string(text))
	if err != nil || hex.EncodeToString(b) != string(text) {
		return fmt.Errorf("election key: want 64 lower-case hex digits")
	}
	p, err := decodeElement(b)
	if err != nil || p.IsIdentity() {
		return fmt.Errorf("election key: not a ristretto255 element other than the identity")
	}
	k.point, k.enc = p, b
	return nil
}

// ballotMagic opens every encrypted ballot (format version 2).
const ballotMagic = "PVB2"

// BallotContext is the context of a ballot's credential signature.
const BallotContext = "ballot"

// EncryptedBallot is a parsed encrypted ballot: the voter's public
// credential; per question, one ciphertext per candidate with its 0-or-1
// proof, and the proof that the question's total is within its bounds; and
// the credential's signature over all of it. See FORMAT.md.
type EncryptedBallot struct {
	credential *point
	// credentialEnc is P's 32 bytes, as in the ballot.
	credentialEnc []byte
	questions     []encryptedQuestion
	// signed is the ballot's bytes up to the signature, which sig signs.
	signed  []byte
	sigR    *point
	sigREnc []byte
	sigS    group.Scalar
}

// Credential is the public credential P the ballot is cast with, 32 bytes.
func (b *EncryptedBallot) Credential() []byte { return append([]byte(nil), b.credentialEnc...) }

type encryptedQuestion struct {
	options  []ciphertext
	proofs   []rangeProof
	sumProof rangeProof
}

// BallotSize is the exact length of an encrypted ballot for e: its signed
// part, the signature and a decoding hint for every element.
func (e *Election) BallotSize() int {
	return e.hintsOffset() + hintSize*e.elementCount()
}

// hintsOffset is where a ballot's decoding hints start, after its signature.
func (e *Election) hintsOffset() int { return e.SignedSize() + SignatureSize }

// elementCount is the number of elements in a ballot for e: P; for each
// candidate α, β and its proof's four commitments; two commitments for each
// branch of a question's total; and the signature's R.
func (e *Election) elementCount() int {
	n := 2
	for _, q := range e.Questions {
		n += 6*len(q.Candidates) + 2*(q.MaxSelections-q.MinSelections+1)
	}
	return n
}

// elementOffsets returns where each element of a ballot for e starts, in the
// order the elements appear (elementCount of them), which is the order of
// their hints; and, for each candidate in order, the index among them of
// its ciphertext's α (β is the next).
func (e *Election) elementOffsets() (offsets, alphas []int) {
	o := len(ballotMagic) + 1 + len(e.ID)
	offsets = make([]int, 0, e.elementCount())
	offsets = append(offsets, o) // P
	o += elementSize
	branches := func(n int) {
		for range n {
			offsets = append(offsets, o, o+elementSize) // a, b
			o += branchSize
		}
	}
	for _, q := range e.Questions {
		for range q.Candidates {
			alphas = append(alphas, len(offsets))
			offsets = append(offsets, o, o+elementSize) // α, β
			o += 2 * elementSize
			branches(2)
		}
		branches(q.MaxSelections - q.MinSelections + 1)
	}
	return append(offsets, o), alphas // R last
}

// AppendHints returns a ballot whole from signed, its bytes up to and
// including its signature: it appends the decoding hint of each element
// (FORMAT.md, "Decoding hints"). A device does this last; so must anyone
// who makes or alters a ballot's bytes.
func (e *Election) AppendHints(signed []byte) ([]byte, error) {
	if len(signed) != e.hintsOffset() {
		return nil, pv.Errorf(pv.EInvalid, "encrypted ballot: %d bytes up to its hints; a ballot for election %q has %d", len(signed), e.ID, e.hintsOffset())
	}
	out := append(make([]byte, 0, e.BallotSize()), signed...)
	offsets, _ := e.elementOffsets()
	for _, o := range offsets {
		hint, ok := elementHint(signed[o : o+elementSize])
		if !ok {
			return nil, pv.Errorf(pv.EInvalid, "encrypted ballot: the element at byte %d does not decode", o)
		}
		out = append(out, hint[:]...)
	}
	return out, nil
}

// SignedSize is the length of a ballot's bytes before its signature.
func (e *Election) SignedSize() int {
	n := len(ballotMagic) + 1 + len(e.ID) + elementSize
	for _, q := range e.Questions {
		n += len(q.Candidates)*(2*elementSize+2*branchSize) + (q.MaxSelections-q.MinSelections+1)*branchSize
	}
	return n
}

// Encrypt validates sel and returns the ballot a voter's device makes: sel
// encrypted under e's key with all its proofs, each bound to the voter's
// credential, signed with it, in canonical form. Its randomness comes from a
// fresh seed (FORMAT.md), forgotten on return: this copy is for casting.
// The plaintext exists only in memory, for the duration of the call.
func (e *Election) Encrypt(cred *Credential, sel Selections) ([]byte, error) {
	var seed [SeedSize]byte
	rand.Read(seed[:])
	return e.EncryptSeeded(cred, sel, seed[:])
}

// EncryptSeeded is Encrypt with the copy's seed given: a device keeps the
// seed of a copy the voter may choose to check (Reveal), and draws a fresh
// one for every copy.
func (e *Election) EncryptSeeded(cred *Credential, sel Selections, seed []byte) ([]byte, error) {
	if len(seed) != SeedSize {
		return nil, pv.Errorf(pv.EInvalid, "a ballot's seed has %d bytes", SeedSize)
	}
	var random [32]byte
	rand.Read(random[:])
	return e.encrypt(cred, sel, seedScalars(seed), random[:])
}

// encrypt is Encrypt with its randomness given: rnd draws every scalar in
// the order FORMAT.md lists, and random hedges the signature's nonce.
func (e *Election) encrypt(cred *Credential, sel Selections, rnd func() group.Scalar, random []byte) ([]byte, error) {
	if cred == nil {
		return nil, pv.Errorf(pv.EInvalid, "a ballot is signed with the voter's credential")
	}
	signed, err := e.seal(cred.Public(), sel, rnd)
	if err != nil {
		return nil, err
	}
	return e.AppendHints(append(signed, cred.sign(BallotContext, signed, random)...))
}

// seal returns the bytes of a ballot up to its signature: sel encrypted
// and proved for the credential P (32 bytes), drawing every scalar from rnd.
// It needs P only, not the credential's secret, so a checker can remake a
// revealed copy's bytes.
func (e *Election) seal(credential []byte, sel Selections, rnd func() group.Scalar) ([]byte, error) {
	if err := e.Validate(sel); err != nil {
		return nil, err
	}
	if e.Key == nil {
		return nil, pv.Errorf(pv.EConflict, "election %q has no key", e.ID)
	}
	b := &EncryptedBallot{credentialEnc: credential, questions: make([]encryptedQuestion, len(e.Questions))}
	for qi, q := range e.Questions {
		chosen := map[string]bool{}
		for _, c := range sel[q.ID] {
			chosen[c] = true
		}
		eq := &b.questions[qi]
		total := g.NewScalar()
		for oi, c := range q.Candidates {
			m := 0
			if chosen[c.ID] {
				m = 1
			}
			ct, r := encryptValue(e.Key, m, rnd)
			total.Add(total, r)
			pc := e.proofContext(b.credentialEnc, qi, oi)
			eq.options = append(eq.options, ct)
			eq.proofs = append(eq.proofs, proveRange(pc, ct, r, m, 0, 1, rnd))
		}
		pc := e.proofContext(b.credentialEnc, qi, optionSum)
		eq.sumProof = proveRange(pc, sum(eq.options), total, len(chosen), q.MinSelections, q.MaxSelections, rnd)
	}
	return b.encodeSigned(e), nil
}

func (e *Election) proofContext(credential []byte, question, option int) proofContext {
	return proofContext{electionID: e.ID, key: e.Key, credential: credential, question: question, option: option}
}

// encodeSigned returns the canonical bytes of b up to its signature
// (FORMAT.md).
func (b *EncryptedBallot) encodeSigned(e *Election) []byte {
	out := make([]byte, 0, e.BallotSize())
	out = append(out, ballotMagic...)
	out = append(out, byte(len(e.ID)))
	out = append(out, e.ID...)
	out = append(out, b.credentialEnc...)
	for _, eq := range b.questions {
		for oi, ct := range eq.options {
			out = append(out, ct.enc...)
			out = eq.proofs[oi].appendTo(out)
		}
		out = eq.sumProof.appendTo(out)
	}
	return out
}

// encode returns b's canonical bytes, signature and hints included.
func (b *EncryptedBallot) encode(e *Election) []byte {
	out := b.encodeSigned(e)
	out = append(out, encodePoint(b.sigR)...)
	out = append(out, encodeScalar(b.sigS)...)
	out, err := e.AppendHints(out)
	if err != nil {
		panic("ballot: a parsed ballot's element has no hint: " + err.Error())
	}
	return out
}

// ParseBallot decodes an encrypted ballot for e strictly: the exact length,
// the election id, and canonical encodings of every element and scalar,
// each element with its hint.
func (e *Election) ParseBallot(raw []byte) (*EncryptedBallot, error) {
	bad := func(format string, args ...any) error {
		return pv.Errorf(pv.EInvalid, "encrypted ballot: "+format, args...)
	}
	if len(raw) != e.BallotSize() {
		return nil, bad("%d bytes; a ballot for election %q has %d", len(raw), e.ID, e.BallotSize())
	}
	head := ballotMagic + string([]byte{byte(len(e.ID))}) + e.ID
	if string(raw[:len(head)]) != head {
		return nil, bad("not a version 2 ballot for election %q", e.ID)
	}
	rest := raw[len(head):e.hintsOffset()]
	take := func(n int) []byte { b := rest[:n]; rest = rest[n:]; return b }
	hints := raw[e.hintsOffset():]
	points := make([]point, e.elementCount()) // one allocation for all of them
	decode := func(enc []byte) (*point, error) {
		h, p := hints[:hintSize], &points[0]
		hints, points = hints[hintSize:], points[1:]
		return p, decodeHintedInto(p, enc, h)
	}
	b := &EncryptedBallot{questions: make([]encryptedQuestion, len(e.Questions)), signed: raw[:e.SignedSize()]}
	b.credentialEnc = take(elementSize)
	if p, err := decode(b.credentialEnc); err != nil || p.Equals(identity()) {
		return nil, bad("the credential is not a public credential, or its decoding hint is wrong")
	} else {
		b.credential = p
	}
	for qi, q := range e.Questions {
		eq := &b.questions[qi]
		for _, c := range q.Candidates {
			enc := take(2 * elementSize)
			alpha, err1 := decode(enc[:elementSize])
			beta, err2 := decode(enc[elementSize:])
			if err1 != nil || err2 != nil {
				return nil, bad("question %q, candidate %q: bad ciphertext encoding or decoding hint", q.ID, c.ID)
			}
			p, err := decodeRangeProof(take(2*branchSize), 2, decode)
			if err != nil {
				return nil, bad("question %q, candidate %q: bad proof encoding or decoding hint", q.ID, c.ID)
			}
			eq.options = append(eq.options, ciphertext{alpha: alpha, beta: beta, enc: enc})
			eq.proofs = append(eq.proofs, p)
		}
		p, err := decodeRangeProof(take((q.MaxSelections-q.MinSelections+1)*branchSize), q.MaxSelections-q.MinSelections+1, decode)
		if err != nil {
			return nil, bad("question %q: bad proof encoding or decoding hint", q.ID)
		}
		eq.sumProof = p
	}
	var err error
	b.sigREnc = take(elementSize)
	if b.sigR, err = decode(b.sigREnc); err != nil {
		return nil, bad("bad signature encoding or decoding hint")
	}
	if b.sigS, err = decodeScalar(take(scalarSize)); err != nil {
		return nil, bad("bad signature encoding")
	}
	return b, nil
}

// VerifyBallot parses raw and checks every proof in it: each candidate's
// ciphertext encrypts 0 or 1, and each question's total is within
// [min_selections, max_selections]. The error names the first failure.
func (e *Election) VerifyBallot(raw []byte) (*EncryptedBallot, error) {
	bt, err := e.NewBatch()
	if err != nil {
		return nil, err
	}
	b, err := bt.Add(raw)
	if err != nil {
		return nil, err
	}
	if _, err := bt.Verify(); err != nil {
		return nil, err
	}
	return b, nil
}

// checkEach checks b's proofs and signature one at a time and names the
// first that fails.
func (e *Election) checkEach(b *EncryptedBallot) error {
	for qi, q := range e.Questions {
		eq := b.questions[qi]
		for oi := range q.Candidates {
			if eq.proofs[oi].verify(e.proofContext(b.credentialEnc, qi, oi), eq.options[oi], 0, 1) != nil {
				return optionProofError(q, oi)
			}
		}
		if eq.sumProof.verify(e.proofContext(b.credentialEnc, qi, optionSum), sum(eq.options), q.MinSelections, q.MaxSelections) != nil {
			return sumProofError(q)
		}
	}
	if b.signatureEquation().verify() != nil {
		return errBallotSignature
	}
	return nil
}

var errBallotSignature = pv.Errorf(pv.EInvalid, "encrypted ballot: its signature does not verify under the credential it names")

func optionProofError(q Question, option int) error {
	return pv.Errorf(pv.EInvalid, "encrypted ballot: question %q, candidate %q: the proof that it encrypts 0 or 1 does not verify", q.ID, q.Candidates[option].ID)
}

func sumProofError(q Question) error {
	return pv.Errorf(pv.EInvalid, "encrypted ballot: question %q: the proof that %d to %d candidates are chosen does not verify", q.ID, q.MinSelections, q.MaxSelections)
}

// ErrNotVotersCredential refuses a ballot made with a credential that is not
// the casting voter's.
var ErrNotVotersCredential = pv.Errorf(pv.EForbidden, "encrypted ballot: it is made with a credential that is not this voter's")

// BallotCredential returns the public credential P that raw, a ballot for e,
// names; it checks nothing else. A ballot of the wrong size gets the error
// that parsing it gives.
func BallotCredential(e *Election, raw []byte) ([]byte, error) {
	if len(raw) != e.BallotSize() {
		if _, err := e.ParseBallot(raw); err != nil {
			return nil, err
		}
		return nil, pv.Errorf(pv.EInvalid, "encrypted ballot: %d bytes; want %d", len(raw), e.BallotSize())
	}
	o := len(ballotMagic) + 1 + len(e.ID)
	return raw[o : o+elementSize], nil
}

// CheckBallotCredential reports whether raw, a ballot for e, names the
// public credential P; it checks nothing else.
func CheckBallotCredential(e *Election, raw, public []byte) error {
	p, err := BallotCredential(e, raw)
	if err != nil {
		return err
	}
	if !bytes.Equal(p, public) {
		return ErrNotVotersCredential
	}
	return nil
}
