package ballot

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/cloudflare/circl/group"

	pv "primaryvote"
)

// SeedSize is the length of a ballot copy's seed, from which every scalar
// of the copy is drawn (FORMAT.md, "Checking a copy").
const SeedSize = 32

var (
	seedDomain = "primaryvote/v2/ballot-randomness"
	seedDST    = []byte("primaryvote-v2-ballot-randomness")
)

// seedScalar is the i-th scalar a copy made from seed draws:
// HashToScalar(lp(domain) ‖ seed ‖ u32(i)).
func seedScalar(seed []byte, i uint32) group.Scalar {
	t := lp(nil, seedDomain)
	t = append(t, seed...)
	t = binary.BigEndian.AppendUint32(t, i)
	return g.HashToScalar(t, seedDST)
}

// seedScalars draws a copy's scalars from its seed, in order.
func seedScalars(seed []byte) func() group.Scalar {
	var i uint32
	return func() group.Scalar {
		s := seedScalar(seed, i)
		i++
		return s
	}
}

// revealedMagic opens a revealed copy's bytes.
const revealedMagic = "PVR2"

// A Revealed copy is a ballot the voter chose to check instead of casting:
// the device gives up the copy's seed and says what it encrypted, so that
// anyone can make the copy again, see that it is the one whose tracking
// code the device showed, and read the choices in it. A revealed copy can
// never be cast. It names the voter's public credential, as the copy did;
// what the server logs of it (SpoiledCiphertexts) does not.
type Revealed struct {
	ElectionID string
	// Credential is the public credential P the copy was made for.
	Credential []byte
	Seed       []byte
	// Choices are, per question in definition order, the 0-based indexes
	// of the candidates chosen, ascending.
	Choices [][]int
	// Signature is the copy's signature by the credential.
	Signature []byte
}

// Reveal gives up a copy the device made with EncryptSeeded: the copy's
// bytes, its seed and the selections it encrypts.
func (e *Election) Reveal(made, seed []byte, sel Selections) (*Revealed, error) {
	if err := e.Validate(sel); err != nil {
		return nil, err
	}
	if len(made) != e.BallotSize() || len(seed) != SeedSize {
		return nil, pv.Errorf(pv.EInvalid, "not a ballot for election %q and its seed", e.ID)
	}
	head := len(ballotMagic) + 1 + len(e.ID)
	r := &Revealed{ElectionID: e.ID, Credential: bytes.Clone(made[head : head+elementSize]), Seed: bytes.Clone(seed),
		Signature: bytes.Clone(made[e.SignedSize():e.hintsOffset()])}
	for _, q := range e.Questions {
		var idx []int
		for i, c := range q.Candidates {
			if slices.Contains(sel[q.ID], c.ID) {
				idx = append(idx, i)
			}
		}
		r.Choices = append(r.Choices, idx)
	}
	return r, nil
}

// Bytes encodes r (FORMAT.md): "PVR2" ‖ u8(len(election id)) ‖ election id
// ‖ P ‖ seed ‖ for each question, u8(chosen) ‖ u8(index)… ‖ R ‖ s.
func (r *Revealed) Bytes() []byte {
	out := append([]byte(revealedMagic), byte(len(r.ElectionID)))
	out = append(out, r.ElectionID...)
	out = append(out, r.Credential...)
	out = append(out, r.Seed...)
	for _, q := range r.Choices {
		out = append(out, byte(len(q)))
		for _, i := range q {
			out = append(out, byte(i))
		}
	}
	return append(out, r.Signature...)
}

// String is r's text form, which the page shows as text and as a QR code:
// its bytes in unpadded base64url.
func (r *Revealed) String() string { return base64.RawURLEncoding.EncodeToString(r.Bytes()) }

// maxRevealed bounds a revealed copy's text: 100 questions of 100
// candidates would be far longer than any real ballot's.
const maxRevealed = 16 << 10

// ParseRevealed reads a revealed copy's text form, ignoring white space
// (a copy pasted across lines). It checks the framing only; Election.Remake
// checks the copy against its election.
func ParseRevealed(text string) (*Revealed, error) {
	bad := func(why string) (*Revealed, error) {
		return nil, pv.Errorf(pv.EInvalid, "not a revealed ballot copy: %s", why)
	}
	if len(text) > maxRevealed {
		return bad("too long")
	}
	text = strings.Join(strings.Fields(text), "")
	raw, err := base64.RawURLEncoding.Strict().DecodeString(text)
	if err != nil {
		return bad("not base64url text")
	}
	if len(raw) < len(revealedMagic)+1 || string(raw[:len(revealedMagic)]) != revealedMagic {
		return bad("it does not start as one")
	}
	rest := raw[len(revealedMagic):]
	take := func(n int) []byte {
		if n > len(rest) {
			return nil
		}
		b := rest[:n]
		rest = rest[n:]
		return b
	}
	id := take(int(take(1)[0]))
	p := take(elementSize)
	seed := take(SeedSize)
	if id == nil || p == nil || seed == nil {
		return bad("cut short")
	}
	r := &Revealed{ElectionID: string(id), Credential: bytes.Clone(p), Seed: bytes.Clone(seed)}
	for len(rest) > SignatureSize {
		idx := take(int(take(1)[0]))
		if idx == nil {
			return bad("cut short")
		}
		q := make([]int, len(idx))
		for i, b := range idx {
			q[i] = int(b)
		}
		r.Choices = append(r.Choices, q)
	}
	if len(rest) != SignatureSize {
		return bad("cut short")
	}
	r.Signature = bytes.Clone(rest)
	return r, nil
}

// revealedSelections returns the choices r states, by id, after checking they are
// choices e's questions allow.
func (e *Election) revealedSelections(r *Revealed) (Selections, error) {
	if r.ElectionID != e.ID {
		return nil, pv.Errorf(pv.EInvalid, "the revealed copy is for election %q, not %q", r.ElectionID, e.ID)
	}
	if len(r.Choices) != len(e.Questions) {
		return nil, pv.Errorf(pv.EInvalid, "the revealed copy answers %d questions; the election has %d", len(r.Choices), len(e.Questions))
	}
	sel := Selections{}
	for qi, q := range e.Questions {
		ids := []string{}
		for k, i := range r.Choices[qi] {
			if i >= len(q.Candidates) || (k > 0 && i <= r.Choices[qi][k-1]) {
				return nil, pv.Errorf(pv.EInvalid, "question %q: the revealed choices are not distinct candidates in order", q.ID)
			}
			ids = append(ids, q.Candidates[i].ID)
		}
		sel[q.ID] = ids
	}
	return sel, e.Validate(sel)
}

// A Remade copy is a revealed copy made again: its bytes, which every
// proof and the signature verify in, its tracking code, and the selections
// it encrypts.
type Remade struct {
	Ballot       []byte
	TrackingCode string
	Selections   Selections
}

// Remake makes a revealed copy again from its seed, credential and stated
// choices, puts its signature back, and checks the whole ballot as the
// server checks a cast one. It fails unless the copy is exactly what the
// credential signed: so the choices it returns are what that signed copy,
// with that tracking code, encrypts.
func (e *Election) Remake(r *Revealed) (*Remade, error) {
	sel, err := e.revealedSelections(r)
	if err != nil {
		return nil, err
	}
	if len(r.Seed) != SeedSize || len(r.Signature) != SignatureSize {
		return nil, pv.Errorf(pv.EInvalid, "the revealed copy's seed or signature has the wrong length")
	}
	if _, err := decodePoint(r.Credential); err != nil {
		return nil, pv.Errorf(pv.EInvalid, "the revealed copy's credential: %v", err)
	}
	signed, err := e.seal(r.Credential, sel, seedScalars(r.Seed))
	if err != nil {
		return nil, err
	}
	raw, err := e.AppendHints(append(signed, r.Signature...))
	if err != nil {
		return nil, pv.Errorf(pv.EInvalid, "the revealed copy's signature: %v", err)
	}
	if _, err := e.VerifyBallot(raw); err != nil {
		return nil, pv.Errorf(pv.EInvalid, "the revealed copy is not what its credential signed: %v", err)
	}
	return &Remade{Ballot: raw, TrackingCode: TrackingCode(sha256.Sum256(raw)), Selections: sel}, nil
}

// SpoiledCiphertexts are the ciphertexts, α ‖ β in hex per question and
// candidate, that a copy made from seed with sel has. They do not depend on
// the credential: the log keeps them, with the seed and the choices, for
// anyone to make again (CheckSpoiled), and nothing that names the voter.
func (e *Election) SpoiledCiphertexts(seed []byte, sel Selections) ([][]string, error) {
	if err := e.Validate(sel); err != nil {
		return nil, err
	}
	if e.Key == nil {
		return nil, pv.Errorf(pv.EConflict, "election %q has no key", e.ID)
	}
	var (
		out [][]string
		i   uint32 // the index of the next scalar the copy draws
	)
	for _, q := range e.Questions {
		var cts []string
		for _, c := range q.Candidates {
			m := 0
			if slices.Contains(sel[q.ID], c.ID) {
				m = 1
			}
			ct, _ := encryptValue(e.Key, m, func() group.Scalar { return seedScalar(seed, i) })
			cts = append(cts, hex.EncodeToString(ct.enc))
			i += 4 // r, then the true branch's w and the other's c and z
		}
		out = append(out, cts)
		i += uint32(2 * (q.MaxSelections - q.MinSelections)) // the total's other branches' c and z
		i++                                                  // and its true branch's w
	}
	return out, nil
}

// Alphas returns the α of every candidate's ciphertext in raw, a ballot
// for e, as its 32 bytes (decoding nothing): a verifier compares them with
// the ciphertexts of checked copies, whose randomness is public, so that no
// counted ballot reuses one.
func (e *Election) Alphas(raw []byte) ([][]byte, error) {
	if len(raw) != e.BallotSize() {
		return nil, pv.Errorf(pv.EInvalid, "encrypted ballot: %d bytes; a ballot for election %q has %d", len(raw), e.ID, e.BallotSize())
	}
	offsets, alphas := e.elementOffsets()
	out := make([][]byte, len(alphas))
	for i, j := range alphas {
		out[i] = raw[offsets[j]:][:elementSize]
	}
	return out, nil
}
