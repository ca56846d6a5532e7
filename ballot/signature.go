package ballot

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"time"

	"github.com/cloudflare/circl/group"
)

// A credential signature is a Schnorr signature over ristretto255 in
// commitment form (R, s), so that a verifier can fold many of them into one
// multi-scalar multiplication (FORMAT.md, "Credential signatures"):
//
//	R = k·G,  c = HashToScalar(lp(domain) ‖ lp(context) ‖ P ‖ R ‖ lp(message)),  s = k + c·x
//
// and it verifies iff s·G = R + c·P.

// SignatureSize is the size of an encoded signature: R ‖ s.
const SignatureSize = elementSize + scalarSize

var (
	signatureDomain = "primaryvote/v2/signature"
	signatureDST    = []byte("primaryvote-v2-signature")
	nonceDomain     = "primaryvote/v2/signature-nonce"
	nonceDST        = []byte("primaryvote-v2-signature-nonce")
)

// ErrSignature means a signature does not verify, or is malformed.
var ErrSignature = errors.New("the signature does not verify")

// Sign signs message in context (what the signature is for, such as
// "sign-in") with the credential's secret.
func (c *Credential) Sign(context string, message []byte) []byte {
	var random [32]byte
	rand.Read(random[:])
	return c.sign(context, message, random[:])
}

// sign is Sign with the nonce's randomness given. The nonce is hedged: it
// hashes the secret and the message with the randomness, so a weak random
// source on a phone still never repeats a nonce for two messages.
func (c *Credential) sign(context string, message, random []byte) []byte {
	xb := encodeScalar(c.x)
	nonceMsg := lp(nil, nonceDomain)
	nonceMsg = append(nonceMsg, xb...)
	nonceMsg = append(nonceMsg, random...)
	nonceMsg = lp(nonceMsg, context)
	nonceMsg = lp(nonceMsg, string(message))
	k := g.HashToScalar(nonceMsg, nonceDST)
	r := mulBase(k)
	rb := encodePoint(r)
	ch := signatureChallenge(context, c.Public(), rb, message)
	s := g.NewScalar().Mul(ch, c.x)
	s.Add(s, k)
	return append(rb, encodeScalar(s)...)
}

// signatureChallenge is c = HashToScalar(lp(domain) ‖ lp(context) ‖ P ‖ R ‖ lp(message)).
func signatureChallenge(context string, public, r, message []byte) group.Scalar {
	t := make([]byte, 0, 4+len(signatureDomain)+4+len(context)+len(public)+len(r)+4+len(message))
	t = lp(t, signatureDomain)
	t = lp(t, context)
	t = append(t, public...)
	t = append(t, r...)
	t = binary.BigEndian.AppendUint32(t, uint32(len(message)))
	t = append(t, message...)
	return g.HashToScalar(t, signatureDST)
}

// VerifySignature checks a signature on message in context under the public
// credential P (32 bytes, canonical).
func VerifySignature(public []byte, context string, message, sig []byte) error {
	eq, err := parseSignature(public, context, message, sig)
	if err != nil {
		return err
	}
	return eq.verify()
}

// A signatureEquation is a parsed signature: it holds iff s·G = R + c·P.
type signatureEquation struct {
	p, r *point
	s, c group.Scalar
}

func (eq signatureEquation) verify() error {
	// s·G − c·P == R
	lhs := mulBasePublic(eq.s)
	lhs.Sub(lhs, mulPublic(eq.p, eq.c))
	if !lhs.Equals(eq.r) {
		return ErrSignature
	}
	return nil
}

// parseSignature decodes a signature and its key strictly and computes its
// challenge.
func parseSignature(public []byte, context string, message, sig []byte) (eq signatureEquation, err error) {
	if len(sig) != SignatureSize {
		return eq, ErrSignature
	}
	if eq.p, err = decodePoint(public); err != nil || eq.p.Equals(identity()) {
		return eq, errors.New("not a public credential")
	}
	if eq.r, err = decodePoint(sig[:elementSize]); err != nil {
		return eq, ErrSignature
	}
	if eq.s, err = decodeScalar(sig[elementSize:]); err != nil {
		return eq, ErrSignature
	}
	eq.c = signatureChallenge(context, public, sig[:elementSize], message)
	return eq, nil
}

// signatureEquation is the equation of b's signature over its bytes.
func (b *EncryptedBallot) signatureEquation() signatureEquation {
	return signatureEquation{p: b.credential, r: b.sigR, s: b.sigS,
		c: signatureChallenge(BallotContext, b.credentialEnc, b.sigREnc, b.signed)}
}

// lp appends u32(len(s)) ‖ s.
func lp(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// SignInContext is the context of a sign-in statement's signature.
const SignInContext = "sign-in"

// SignInStatement is what a voter's device signs to sign in: lp(election
// id) ‖ lp(voter id) ‖ u64(milliseconds since the Unix epoch, UTC).
func SignInStatement(electionID, voterID string, at time.Time) []byte {
	return binary.BigEndian.AppendUint64(lp(lp(nil, electionID), voterID), uint64(at.UnixMilli()))
}
