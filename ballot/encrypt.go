package ballot

import (
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

// ballotMagic opens every encrypted ballot (format version 1).
const ballotMagic = "PVB1"

// EncryptedBallot is a parsed encrypted ballot: per question, one
// ciphertext per candidate with its 0-or-1 proof, and the proof that the
// question's total is within its bounds. See FORMAT.md.
type EncryptedBallot struct {
	questions []encryptedQuestion
}

type encryptedQuestion struct {
	options  []ciphertext
	proofs   []rangeProof
	sumProof rangeProof
}

// BallotSize is the exact length of an encrypted ballot for e.
func (e *Election) BallotSize() int {
	n := len(ballotMagic) + 1 + len(e.ID)
	for _, q := range e.Questions {
		n += len(q.Candidates)*(2*elementSize+2*branchSize) + (q.MaxSelections-q.MinSelections+1)*branchSize
	}
	return n
}

// Encrypt validates sel and returns the ballot encrypted under e's key with
// all its proofs, in canonical form. The plaintext exists only in memory, for
// the duration of the call.
func (e *Election) Encrypt(sel Selections) ([]byte, error) {
	if err := e.Validate(sel); err != nil {
		return nil, err
	}
	if e.Key == nil {
		return nil, pv.Errorf(pv.EConflict, "election %q has no key", e.ID)
	}
	b := &EncryptedBallot{questions: make([]encryptedQuestion, len(e.Questions))}
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
			ct, r := encryptValue(e.Key, m)
			total.Add(total, r)
			pc := proofContext{electionID: e.ID, key: e.Key, question: qi, option: oi}
			eq.options = append(eq.options, ct)
			eq.proofs = append(eq.proofs, proveRange(pc, ct, r, m, 0, 1))
		}
		pc := proofContext{electionID: e.ID, key: e.Key, question: qi, option: optionSum}
		eq.sumProof = proveRange(pc, sum(eq.options), total, len(chosen), q.MinSelections, q.MaxSelections)
	}
	return b.encode(e), nil
}

// encode returns b's canonical bytes (FORMAT.md).
func (b *EncryptedBallot) encode(e *Election) []byte {
	out := make([]byte, 0, e.BallotSize())
	out = append(out, ballotMagic...)
	out = append(out, byte(len(e.ID)))
	out = append(out, e.ID...)
	for _, eq := range b.questions {
		for oi, ct := range eq.options {
			out = append(out, ct.enc...)
			out = eq.proofs[oi].appendTo(out)
		}
		out = eq.sumProof.appendTo(out)
	}
	return out
}

// ParseBallot decodes an encrypted ballot for e strictly: the exact length,
// the election id, and canonical encodings of every element and scalar.
func (e *Election) ParseBallot(raw []byte) (*EncryptedBallot, error) {
	bad := func(format string, args ...any) error {
		return pv.Errorf(pv.EInvalid, "encrypted ballot: "+format, args...)
	}
	if len(raw) != e.BallotSize() {
		return nil, bad("%d bytes; a ballot for election %q has %d", len(raw), e.ID, e.BallotSize())
	}
	head := ballotMagic + string([]byte{byte(len(e.ID))}) + e.ID
	if string(raw[:len(head)]) != head {
		return nil, bad("not a version 1 ballot for election %q", e.ID)
	}
	rest := raw[len(head):]
	take := func(n int) []byte { b := rest[:n]; rest = rest[n:]; return b }
	b := &EncryptedBallot{questions: make([]encryptedQuestion, len(e.Questions))}
	for qi, q := range e.Questions {
		eq := &b.questions[qi]
		for _, c := range q.Candidates {
			enc := take(2 * elementSize)
			alpha, err1 := decodePoint(enc[:elementSize])
			beta, err2 := decodePoint(enc[elementSize:])
			if err1 != nil || err2 != nil {
				return nil, bad("question %q, candidate %q: bad ciphertext encoding", q.ID, c.ID)
			}
			p, err := decodeRangeProof(take(2*branchSize), 2)
			if err != nil {
				return nil, bad("question %q, candidate %q: bad proof encoding", q.ID, c.ID)
			}
			eq.options = append(eq.options, ciphertext{alpha: alpha, beta: beta, enc: enc})
			eq.proofs = append(eq.proofs, p)
		}
		p, err := decodeRangeProof(take((q.MaxSelections-q.MinSelections+1)*branchSize), q.MaxSelections-q.MinSelections+1)
		if err != nil {
			return nil, bad("question %q: bad proof encoding", q.ID)
		}
		eq.sumProof = p
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

// checkEach checks b's proofs one at a time and names the first that fails.
func (e *Election) checkEach(b *EncryptedBallot) error {
	for qi, q := range e.Questions {
		eq := b.questions[qi]
		for oi := range q.Candidates {
			pc := proofContext{electionID: e.ID, key: e.Key, question: qi, option: oi}
			if eq.proofs[oi].verify(pc, eq.options[oi], 0, 1) != nil {
				return optionProofError(q, oi)
			}
		}
		pc := proofContext{electionID: e.ID, key: e.Key, question: qi, option: optionSum}
		if eq.sumProof.verify(pc, sum(eq.options), q.MinSelections, q.MaxSelections) != nil {
			return sumProofError(q)
		}
	}
	return nil
}

func optionProofError(q Question, option int) error {
	return pv.Errorf(pv.EInvalid, "encrypted ballot: question %q, candidate %q: the proof that it encrypts 0 or 1 does not verify", q.ID, q.Candidates[option].ID)
}

func sumProofError(q Question) error {
	return pv.Errorf(pv.EInvalid, "encrypted ballot: question %q: the proof that %d to %d candidates are chosen does not verify", q.ID, q.MinSelections, q.MaxSelections)
}
