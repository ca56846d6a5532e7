package ballot

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/cloudflare/circl/group"
)

// A voter code is 25 symbols of Crockford's base32 (125 bits), written in five
// groups of five: "7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5A". Reading it back ignores case,
// spaces and hyphens and accepts O for 0 and I or L for 1, so a code typed from
// a letter or an SMS still works.
const (
	CodeSymbols  = 25
	codeGroup    = 5
	codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// NewCode returns a fresh voter code from crypto/rand.
func NewCode() string {
	var raw [CodeSymbols]byte
	rand.Read(raw[:])
	var b strings.Builder
	for i, r := range raw {
		if i > 0 && i%codeGroup == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(codeAlphabet[r&31]) // 256 is a multiple of 32: no bias
	}
	return b.String()
}

// NormalizeCode returns the canonical form of a typed code, its 25 symbols in
// upper case without separators, or false if it cannot be one.
func NormalizeCode(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if strings.IndexByte(codeAlphabet, c) < 0 {
			return "", false
		}
		b.WriteByte(c)
	}
	if b.Len() != CodeSymbols {
		return "", false
	}
	return b.String(), true
}

// credentialDST and credentialDomain separate the credential's hash from
// every other use of HashToScalar (FORMAT.md, "Voter credentials").
var (
	credentialDST    = []byte("primaryvote-v2-credential")
	credentialDomain = "primaryvote/v2/credential"
)

// Credential is a voter's credential key: the secret scalar x, which only
// the credential authority (once) and the voter's device ever compute, and
// the public credential P = x·G, which the server holds.
type Credential struct {
	x      group.Scalar
	public *point
}

// ErrCode means a string is not a voter code.
var ErrCode = errors.New("not a voter code: it has 25 symbols of 0-9 and A-Z")

// DeriveCredential derives the credential of the code for the election:
// x = HashToScalar(lp(domain) ‖ lp(election id) ‖ lp(code)) over the code's
// canonical form, and P = x·G.
func DeriveCredential(electionID, code string) (*Credential, error) {
	norm, ok := NormalizeCode(code)
	if !ok {
		return nil, ErrCode
	}
	x := g.HashToScalar(credentialMessage(electionID, norm), credentialDST)
	return &Credential{x: x, public: mulBase(x)}, nil
}

// credentialMessage is what x hashes: lp(domain) ‖ lp(election id) ‖
// lp(canonical code).
func credentialMessage(electionID, canonicalCode string) []byte {
	return lp(lp(lp(nil, credentialDomain), electionID), canonicalCode)
}

// Public is the public credential P, 32 bytes.
func (c *Credential) Public() []byte { return encodePoint(c.public) }

// PublicHex is P in lower-case hex, as the credentials file writes it.
func (c *Credential) PublicHex() string { return hex.EncodeToString(c.Public()) }

// ParsePublicCredential decodes a public credential from lower-case hex:
// a canonical ristretto255 element other than the identity.
func ParsePublicCredential(s string) ([]byte, error) {
	b, err := ParsePublicCredentialHex(s)
	if err != nil {
		return nil, err
	}
	return b, CheckPublicCredential(b)
}

// ParsePublicCredentialHex is the first half of ParsePublicCredential: the
// 32 bytes of 64 lower-case hex digits, not yet decoded (which takes a
// square root: CheckPublicCredential).
func ParsePublicCredentialHex(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != elementSize || hex.EncodeToString(b) != s {
		return nil, errors.New("not a public credential: want 64 lower-case hex digits")
	}
	return b, nil
}

// CheckPublicCredential is the second half of ParsePublicCredential: b
// must be a canonical ristretto255 element other than the identity.
func CheckPublicCredential(b []byte) error {
	p, err := decodePoint(b)
	if err != nil {
		return errors.New("not a public credential: " + err.Error())
	}
	if p.Equals(identity()) {
		return errors.New("not a public credential: the identity")
	}
	return nil
}
