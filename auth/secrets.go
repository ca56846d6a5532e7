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

	"primaryvote/audit/record"
)

// Secrets are the server's long-lived secrets, all in one directory that
// this package alone reads and writes. Every primaryd replica and primaryctl
// must load the same directory.
type Secrets struct {
	// Pepper keys the voters' pseudonyms in the audit log (Pseudonym).
	Pepper []byte
	// SigningKey signs voter and official tokens (EdDSA).
	SigningKey ed25519.PrivateKey
	// Log signs the audit log's checkpoints.
	Log *record.Signer
}

// DefaultSecretsDir is where the secrets live unless the operator says
// otherwise.
const DefaultSecretsDir = ".data/secrets"

// The files in the secrets directory.
const (
	pepperFile     = "pepper"
	signingKeyFile = "token-ed25519.seed"
	// checkpointKeyFile holds the note signer key and, on its second
	// line, the matching verifier key.
	checkpointKeyFile = "checkpoint.key"
)

// LoadSecrets reads the secrets in dir, creating the directory and any missing
// secret with crypto/rand; logOrigin names the audit log, and its key. Creation
// is atomic: when two processes race, both end up with the one that was
// written first.
func LoadSecrets(dir, logOrigin string) (*Secrets, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create secrets directory: %w", err)
	}
	pepper, err := loadOrCreateHex(filepath.Join(dir, pepperFile), 32)
	if err != nil {
		return nil, err
	}
	seed, err := loadOrCreateHex(filepath.Join(dir, signingKeyFile), ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	log, err := loadCheckpointKey(filepath.Join(dir, checkpointKeyFile), logOrigin)
	if err != nil {
		return nil, err
	}
	return &Secrets{Pepper: pepper, SigningKey: ed25519.NewKeyFromSeed(seed), Log: log}, nil
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

func loadOrCreateHex(path string, size int) ([]byte, error) {
	raw, err := loadOrCreate(path, func() (string, error) {
		secret := make([]byte, size)
		rand.Read(secret)
		return hex.EncodeToString(secret) + "\n", nil
	})
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("secret file %s is corrupt: want %d hex-encoded bytes", path, size)
	}
	return b, nil
}

func loadCheckpointKey(path, origin string) (*record.Signer, error) {
	raw, err := loadOrCreate(path, func() (string, error) {
		skey, vkey, err := record.GenerateKey(origin)
		return skey + "\n" + vkey + "\n", err
	})
	if err != nil {
		return nil, err
	}
	lines := strings.Fields(string(raw))
	if len(lines) != 2 {
		return nil, fmt.Errorf("checkpoint key %s: want a signer key and a verifier key", path)
	}
	s, err := record.NewSigner(lines[0], lines[1], origin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// loadOrCreate reads the file at path, first writing what generate returns
// if it does not exist.
func loadOrCreate(path string, generate func() (string, error)) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return raw, err
	}
	content, err := generate()
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".new-secret-*")
	if err != nil {
		return nil, fmt.Errorf("couldn't create secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(content); err != nil {
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
	return os.ReadFile(path)
}
