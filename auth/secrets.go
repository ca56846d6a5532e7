package auth

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/hkdf"
)

// Secrets are the server's long-lived secrets. Every primaryd replica and
// primaryctl must load the same directory.
type Secrets struct {
	// Pepper keys the HMAC under which voter codes are stored.
	Pepper []byte
	// SigningKey signs voter and official tokens (EdDSA).
	SigningKey ed25519.PrivateKey
}

const (
	pepperFile     = "pepper"
	signingKeyFile = "token-ed25519.seed"
)

// LoadSecrets reads the secrets in dir, creating the directory and any missing
// secret with crypto/rand. Creation is atomic: when two processes race, both
// end up with the one that was written first.
func LoadSecrets(dir string) (*Secrets, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create secrets directory: %w", err)
	}
	pepper, err := loadOrCreate(filepath.Join(dir, pepperFile), 32)
	if err != nil {
		return nil, err
	}
	seed, err := loadOrCreate(filepath.Join(dir, signingKeyFile), ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	return &Secrets{Pepper: pepper, SigningKey: ed25519.NewKeyFromSeed(seed)}, nil
}

// Pseudonym is a voter's name in the audit log: HMAC-SHA256 under the
// election's pseudonym key, HKDF-derived from the pepper and the election id.
// Without the key, a pseudonym cannot be linked to a voter id, even by trying
// every id on the roll.
func (s *Secrets) Pseudonym(electionID, voterID string) [32]byte {
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, s.Pepper, []byte(electionID), []byte("primaryvote pseudonym v1")), key); err != nil {
		panic("auth: hkdf: " + err.Error())
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(voterID))
	return [32]byte(m.Sum(nil))
}

// KeyID names the signing key in token headers: the first 8 bytes of SHA-256
// of the public key, in hex.
func (s *Secrets) KeyID() string {
	sum := sha256.Sum256(s.SigningKey.Public().(ed25519.PublicKey))
	return hex.EncodeToString(sum[:8])
}

func loadOrCreate(path string, size int) ([]byte, error) {
	b, err := readSecret(path, size)
	if !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	secret := make([]byte, size)
	rand.Read(secret)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".new-secret-*")
	if err != nil {
		return nil, fmt.Errorf("couldn't create secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(hex.EncodeToString(secret) + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("couldn't write secret: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("couldn't write secret: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("couldn't write secret: %w", err)
	}
	// Link fails if another process created the file first; then use theirs.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("couldn't install secret: %w", err)
	}
	return readSecret(path, size)
}

func readSecret(path string, size int) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("secret file %s is corrupt: want %d hex-encoded bytes", path, size)
	}
	return b, nil
}
