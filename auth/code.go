package auth

import (
	"crypto/hmac"
	"crypto/sha256"
)

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
