// Package cosign is witnessing without the network: witnesses' keys and
// cosignatures (C2SP tlog-cosignature, cosignature/v1 with Ed25519), and the
// witness policy that says whose cosignatures make a checkpoint count. A
// camp's verifier needs it, so it reaches no database and no network;
// package witness speaks the protocol and runs the witness.
package cosign

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// algCosignatureV1 is the signature type byte of cosignature/v1 keys
// (C2SP signed-note).
const algCosignatureV1 = 4

// NewVerifier returns the verifier of a witness's cosignatures from its
// verifier key, `<name>+<key hash, 8 hex digits>+<base64(0x04 ‖ Ed25519
// public key)>`. It accepts a signature only over a checkpoint, as
// `u64be(timestamp) ‖ Ed25519 signature` over
// "cosignature/v1\ntime <timestamp>\n" ‖ checkpoint.
func NewVerifier(vkey string) (note.Verifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 || !validName(parts[0]) || len(parts[1]) != 8 {
		return nil, fmt.Errorf("witness key %q: want <name>+<8 hex digits>+<base64 key>", vkey)
	}
	name := parts[0]
	hash, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return nil, fmt.Errorf("witness key %q: bad key hash", vkey)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(key) != 1+ed25519.PublicKeySize {
		return nil, fmt.Errorf("witness key %q: want a type byte and a 32-byte Ed25519 key", vkey)
	}
	if key[0] != algCosignatureV1 {
		return nil, fmt.Errorf("witness key %q: type %d is not a cosignature/v1 key (%d)", vkey, key[0], algCosignatureV1)
	}
	if uint32(hash) != keyHash(name, key) {
		return nil, fmt.Errorf("witness key %q: the key hash does not match the name and key", vkey)
	}
	return &verifier{name: name, hash: uint32(hash), key: ed25519.PublicKey(key[1:])}, nil
}

type verifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *verifier) Name() string    { return v.name }
func (v *verifier) KeyHash() uint32 { return v.hash }

func (v *verifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t == 0 || t > 1<<63-1 {
		return false
	}
	signed := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, msg)
	return ed25519.Verify(v.key, signed, sig[8:])
}

func keyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// validName is C2SP signed-note's rule for key names: not empty, valid
// UTF-8, no Unicode space and no plus sign.
func validName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// Key is a witness's signing key.
type Key struct {
	Name string
	priv ed25519.PrivateKey
}

// GenerateKey makes a new witness key named name, with crypto/rand.
func GenerateKey(name string) (*Key, error) {
	if !validName(name) {
		return nil, fmt.Errorf("witness name %q: it must be non-empty, with no spaces and no plus sign", name)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Key{Name: name, priv: priv}, nil
}

// String encodes the key as `PRIVATE+KEY+<name>+<key hash>+<base64(0x04 ‖
// seed)>`, the shape of a note signer key.
func (k *Key) String() string {
	seed := append([]byte{algCosignatureV1}, k.priv.Seed()...)
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", k.Name, k.hash(), base64.StdEncoding.EncodeToString(seed))
}

// ParseKey reads a key that String wrote.
func ParseKey(s string) (*Key, error) {
	bad := errors.New("cosign: malformed witness key file")
	parts := strings.SplitN(strings.TrimSpace(s), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" || !validName(parts[2]) {
		return nil, bad
	}
	seed, err := base64.StdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(seed) != 1+ed25519.SeedSize || seed[0] != algCosignatureV1 {
		return nil, bad
	}
	k := &Key{Name: parts[2], priv: ed25519.NewKeyFromSeed(seed[1:])}
	if parts[3] != fmt.Sprintf("%08x", k.hash()) {
		return nil, bad
	}
	return k, nil
}

func (k *Key) public() []byte {
	return append([]byte{algCosignatureV1}, k.priv.Public().(ed25519.PublicKey)...)
}

func (k *Key) hash() uint32 { return keyHash(k.Name, k.public()) }

// VerifierKey is the key others check the witness's cosignatures with.
func (k *Key) VerifierKey() string {
	return fmt.Sprintf("%s+%08x+%s", k.Name, k.hash(), base64.StdEncoding.EncodeToString(k.public()))
}

// Private is the Ed25519 private key, for the witness's signer.
func (k *Key) Private() ed25519.PrivateKey { return k.priv }
