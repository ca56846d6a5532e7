package ballot

import (
	"crypto/rand"
	"encoding/binary"
	"errors"

	"github.com/bwesterb/go-ristretto"
	"github.com/bwesterb/go-ristretto/edwards25519"
	"github.com/cloudflare/circl/group"
)

// The ballot crypto works in ristretto255 (RFC 9496) through circl: scalars,
// hashing to scalars, the trustees' keys and shares, and the partial
// decryptions' proofs. Ciphertexts and proof commitments are go-ristretto
// points, the implementation under circl's group, used directly because
// the prover's fixed-base tables and the verifier's multi-scalar
// multiplication need its extended and Niels forms, which circl's
// interface hides. Both encode the same elements the same way.
var g = group.Ristretto255

// A point is a ristretto255 element of a ballot: a ciphertext's α or β, or
// a proof's commitment.
type point = ristretto.Point

func ext(p *point) *edwards25519.ExtendedPoint { return (*edwards25519.ExtendedPoint)(p) }

// Sizes of encoded group elements and scalars.
const (
	elementSize = 32
	scalarSize  = 32
)

var errEncoding = errors.New("not a canonical ristretto255 encoding")

// decodeElement decodes a canonical ristretto255 element. It rejects every
// encoding RFC 9496 §4.3.1 rejects, including field encodings at or above p,
// which the underlying decoder would accept; each element therefore has
// exactly one encoding, and a ballot exactly one set of bytes.
func decodeElement(b []byte) (group.Element, error) {
	if len(b) != elementSize || !canonicalField(b) {
		return nil, errEncoding
	}
	e := g.NewElement()
	if err := e.UnmarshalBinary(b); err != nil {
		return nil, errEncoding
	}
	return e, nil
}

// canonicalField reports whether b, little-endian, is below p = 2^255 - 19.
func canonicalField(b []byte) bool {
	if b[31]&0x80 != 0 {
		return false
	}
	if b[31] != 0x7f {
		return true
	}
	for i := 30; i >= 1; i-- {
		if b[i] != 0xff {
			return true
		}
	}
	return b[0] < 0xed
}

// decodePoint is decodeElement for a ballot's points.
func decodePoint(b []byte) (*point, error) {
	if len(b) != elementSize || !canonicalField(b) {
		return nil, errEncoding
	}
	p := new(point)
	if !p.SetBytes((*[elementSize]byte)(b)) {
		return nil, errEncoding
	}
	return p, nil
}

func encodePoint(p *point) []byte { return p.Bytes() }

// element converts a ballot's point to circl's form, for the partial
// decryptions' proofs.
func element(p *point) group.Element {
	e, err := decodeElement(encodePoint(p))
	if err != nil {
		panic("ballot: a point did not decode as an element: " + err.Error())
	}
	return e
}

// fromElement converts a circl element to a ballot's point.
func fromElement(e group.Element) *point {
	p, err := decodePoint(encodeElement(e))
	if err != nil {
		panic("ballot: an element did not decode as a point: " + err.Error())
	}
	return p
}

// mulPublic returns s·q for a public s, in variable time.
func mulPublic(q *point, s group.Scalar) *point {
	b := scalarBytes(s)
	p := new(point)
	ext(p).VarTimeScalarMult(ext(q), &b)
	return p
}

// mulBasePublic returns s·G for a public s, in variable time.
func mulBasePublic(s group.Scalar) *point {
	b := scalarBytes(s)
	p := new(point)
	edwards25519.BaseScalarMultTable.VarTimeScalarMult(ext(p), &b)
	return p
}

func identity() *point { return new(point).SetZero() }

// mulBase returns s·G in constant time, with go-ristretto's table of G.
func mulBase(s group.Scalar) *point {
	b := scalarBytes(s)
	p := new(point)
	edwards25519.BaseScalarMultTable.ScalarMult(ext(p), &b)
	return p
}

// decodeScalar decodes a canonical scalar (below the group order).
func decodeScalar(b []byte) (group.Scalar, error) {
	s := g.NewScalar()
	if len(b) != scalarSize || s.UnmarshalBinary(b) != nil {
		return nil, errEncoding
	}
	return s, nil
}

func encodeElement(e group.Element) []byte {
	b, err := e.MarshalBinaryCompress()
	if err != nil {
		panic("ballot: encoding a ristretto255 element failed: " + err.Error())
	}
	return b
}

func encodeScalar(s group.Scalar) []byte {
	b, err := s.MarshalBinary()
	if err != nil {
		panic("ballot: encoding a scalar failed: " + err.Error())
	}
	return b
}

func scalarBytes(s group.Scalar) [scalarSize]byte { return [scalarSize]byte(encodeScalar(s)) }

func randomScalar() group.Scalar { return g.RandomScalar(rand.Reader) }

func scalarOf(n uint64) group.Scalar { return g.NewScalar().SetUint64(n) }

// timesG returns n·G for a small public n.
func timesG(n int) *point {
	if n < 0 {
		p := mulBase(scalarOf(uint64(-n)))
		return p.Neg(p)
	}
	return mulBase(scalarOf(uint64(n)))
}

// transcript builds the input to a Fiat–Shamir challenge. Every field is
// fixed-size or length-prefixed, so distinct transcripts never collide.
type transcript struct{ b []byte }

func (t *transcript) bytes(p []byte) *transcript {
	t.b = binary.BigEndian.AppendUint32(t.b, uint32(len(p)))
	t.b = append(t.b, p...)
	return t
}

func (t *transcript) fixed(p []byte) *transcript { t.b = append(t.b, p...); return t }

func (t *transcript) uint16(n int) *transcript {
	t.b = binary.BigEndian.AppendUint16(t.b, uint16(n))
	return t
}

// challengeDST separates primaryvote's challenges from every other use of
// the hash (RFC 9380 expand_message_xmd with SHA-512, reduced mod ℓ).
var challengeDST = []byte("primaryvote-v1-challenge")

func (t *transcript) challenge() group.Scalar { return g.HashToScalar(t.b, challengeDST) }
