package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"strings"
)

// A voter code is 25 symbols of Crockford's base32 (125 bits), written in five
// groups of five: "7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5A". Reading it back ignores case,
// spaces and hyphens and accepts O for 0 and I or L for 1, so a code typed from
// a letter or an SMS still works.
const (
	codeSymbols  = 25
	codeGroup    = 5
	codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// NewCode returns a fresh voter code from crypto/rand.
func NewCode() string {
	var raw [codeSymbols]byte
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

// normalizeCode returns the canonical 25-symbol form of a typed code, or false
// if it cannot be one.
func normalizeCode(s string) (string, bool) {
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
	if b.Len() != codeSymbols {
		return "", false
	}
	return b.String(), true
}

// codeHash is what the database stores for a code:
// HMAC-SHA256(pepper, electionID || 0x00 || voterID || 0x00 || code),
// binding the code to its voter and election.
func codeHash(pepper []byte, electionID, voterID, code string) []byte {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(electionID))
	m.Write([]byte{0})
	m.Write([]byte(voterID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}
