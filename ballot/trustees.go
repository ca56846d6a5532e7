package ballot

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/cloudflare/circl/group"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	pv "primaryvote"
)

// Trustees is the public outcome of an election's key ceremony: the
// election key, the Feldman commitments to the sharing polynomial, and each
// trustee's public key. Any Threshold of the trustees can decrypt totals; the
// secret key itself is never assembled.
type Trustees struct {
	Threshold int
	Key       *ElectionKey
	// Commitments are C_j = a_j·G for the coefficients a_0 = x, …,
	// a_{Threshold−1} of the sharing polynomial; C_0 = K.
	Commitments []group.Element
	// Public[i-1] is trustee i's public key K_i = s_i·G.
	Public []group.Element
}

// TrusteeShare is one trustee's share s_i of the election's secret key.
type TrusteeShare struct {
	ElectionID string
	Index      int // 1…N
	Value      group.Scalar
}

// Limits of a key ceremony.
const (
	MaxTrustees   = 20
	MinPassphrase = 12
)

// Check verifies the public data's consistency: K = C_0 and every trustee
// key K_i = Σ_j C_j·i^j.
func (t *Trustees) Check() error {
	if t.Threshold < 1 || len(t.Commitments) != t.Threshold || len(t.Public) < t.Threshold || len(t.Public) > MaxTrustees {
		return fmt.Errorf("trustees: %d commitments and %d trustees for threshold %d", len(t.Commitments), len(t.Public), t.Threshold)
	}
	if !t.Commitments[0].IsEqual(t.Key.point) {
		return fmt.Errorf("trustees: the election key is not the first commitment")
	}
	for i := range t.Public {
		if !t.Public[i].IsEqual(t.derivedPublic(i + 1)) {
			return fmt.Errorf("trustees: trustee %d's public key does not match the commitments", i+1)
		}
	}
	return nil
}

// derivedPublic is Σ_j C_j·i^j, trustee i's public key from the commitments.
func (t *Trustees) derivedPublic(i int) group.Element {
	acc := g.Identity()
	pow := scalarOf(1)
	idx := scalarOf(uint64(i))
	for _, c := range t.Commitments {
		acc.Add(acc, g.NewElement().Mul(c, pow))
		pow = g.NewScalar().Mul(pow, idx)
	}
	return acc
}

// Hex returns the public data as the log records it: the election key, each
// commitment and each trustee's public key, hex-encoded.
func (t *Trustees) Hex() (key string, commitments, public []string) {
	for _, c := range t.Commitments {
		commitments = append(commitments, hex.EncodeToString(encodeElement(c)))
	}
	for _, p := range t.Public {
		public = append(public, hex.EncodeToString(encodeElement(p)))
	}
	return hex.EncodeToString(t.Key.enc), commitments, public
}

// EncodeCommitments returns the commitments' encodings, concatenated.
func (t *Trustees) EncodeCommitments() []byte { return encodeElements(t.Commitments) }

// EncodePublic returns the trustees' public keys' encodings, concatenated.
func (t *Trustees) EncodePublic() []byte { return encodeElements(t.Public) }

// CheckShare reports whether s is trustee s.Index's share of t.
func (t *Trustees) CheckShare(s TrusteeShare) bool {
	if s.Index < 1 || s.Index > len(t.Public) {
		return false
	}
	return g.NewElement().MulGen(s.Value).IsEqual(t.Public[s.Index-1])
}

// encodeElements concatenates encodings, for storage.
func encodeElements(es []group.Element) []byte {
	var b []byte
	for _, e := range es {
		b = append(b, encodeElement(e)...)
	}
	return b
}

func decodeElements(b []byte) ([]group.Element, error) {
	if len(b)%elementSize != 0 {
		return nil, errEncoding
	}
	var out []group.Element
	for o := 0; o < len(b); o += elementSize {
		e, err := decodeElement(b[o : o+elementSize])
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// shareFile is a trustee's share on disk (FORMAT.md, "Trustee share file").
type shareFile struct {
	Format     string  `json:"format"`
	Election   string  `json:"election"`
	Trustee    int     `json:"trustee"`
	Threshold  int     `json:"threshold"`
	Trustees   int     `json:"trustees"`
	PublicKey  string  `json:"public_key"`
	TrusteeKey string  `json:"trustee_public_key"`
	KDF        kdfSpec `json:"kdf"`
	Nonce      string  `json:"nonce"`
	Ciphertext string  `json:"ciphertext"`
}

type kdfSpec struct {
	Algorithm string `json:"algorithm"`
	Salt      string `json:"salt"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

const shareFormat = "primaryvote-trustee-share-v1"

// associatedData binds a share's ciphertext to everything its file says
// about it, so no field can be changed without failing decryption.
func (f *shareFile) associatedData() []byte {
	var b bytes.Buffer
	for _, s := range []string{f.Format, f.Election, strconv.Itoa(f.Trustee), strconv.Itoa(f.Threshold), strconv.Itoa(f.Trustees), f.PublicKey, f.TrusteeKey} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.Bytes()
}

func (k kdfSpec) key(passphrase string) ([]byte, error) {
	salt, err := base64.StdEncoding.DecodeString(k.Salt)
	if err != nil || k.Algorithm != "argon2id" || len(salt) < 16 || k.Time < 1 || k.MemoryKiB < 19*1024 || k.Threads < 1 || k.MemoryKiB > 4<<20 || k.Time > 100 {
		return nil, pv.Errorf(pv.EInvalid, "share file: unsupported key derivation parameters")
	}
	return argon2.IDKey([]byte(passphrase), salt, k.Time, k.MemoryKiB, k.Threads, chacha20poly1305.KeySize), nil
}

// WriteShare writes s, encrypted under passphrase, as a share file.
func WriteShare(w io.Writer, t *Trustees, s TrusteeShare, passphrase string) error {
	if utf8.RuneCountInString(passphrase) < MinPassphrase {
		return pv.Errorf(pv.EInvalid, "trustee %d's passphrase needs at least %d characters", s.Index, MinPassphrase)
	}
	f := &shareFile{
		Format: shareFormat, Election: s.ElectionID, Trustee: s.Index, Threshold: t.Threshold, Trustees: len(t.Public),
		PublicKey: hex.EncodeToString(t.Key.enc), TrusteeKey: hex.EncodeToString(encodeElement(t.Public[s.Index-1])),
	}
	var err error
	f.KDF, f.Nonce, f.Ciphertext, err = sealWithPassphrase(passphrase, encodeScalar(s.Value), f.associatedData())
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// sealWithPassphrase encrypts plain under a key argon2id derives from the
// passphrase and a fresh salt (XChaCha20-Poly1305, associated data ad): the
// derivation's parameters, the nonce and the ciphertext, for a file.
func sealWithPassphrase(passphrase string, plain, ad []byte) (kdf kdfSpec, nonce, ciphertext string, err error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	kdf = kdfSpec{Algorithm: "argon2id", Salt: base64.StdEncoding.EncodeToString(salt), Time: 3, MemoryKiB: 64 * 1024, Threads: 1}
	key, err := kdf.key(passphrase)
	if err != nil {
		return kdf, "", "", err
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return kdf, "", "", err
	}
	n := make([]byte, chacha20poly1305.NonceSizeX)
	rand.Read(n)
	return kdf, base64.StdEncoding.EncodeToString(n), base64.StdEncoding.EncodeToString(aead.Seal(nil, n, plain, ad)), nil
}

// openWithPassphrase reverses sealWithPassphrase. A wrong passphrase or a
// changed file is an EUnauthorized error.
func openWithPassphrase(passphrase string, kdf kdfSpec, nonce, ciphertext string, ad []byte) ([]byte, error) {
	key, err := kdf.key(passphrase)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	n, err1 := base64.StdEncoding.DecodeString(nonce)
	ct, err2 := base64.StdEncoding.DecodeString(ciphertext)
	if err1 != nil || err2 != nil || len(n) != chacha20poly1305.NonceSizeX {
		return nil, pv.Errorf(pv.EInvalid, "malformed nonce or ciphertext")
	}
	plain, err := aead.Open(nil, n, ct, ad)
	if err != nil {
		return nil, pv.Errorf(pv.EUnauthorized, "wrong passphrase, or the file was altered")
	}
	return plain, nil
}

// ReadShare decrypts a share file with passphrase. A wrong passphrase or a
// changed file is an EUnauthorized error.
func ReadShare(r io.Reader, passphrase string) (TrusteeShare, error) {
	var f shareFile
	dec := json.NewDecoder(io.LimitReader(r, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || f.Format != shareFormat {
		return TrusteeShare{}, pv.Errorf(pv.EInvalid, "not a %s file", shareFormat)
	}
	plain, err := openWithPassphrase(passphrase, f.KDF, f.Nonce, f.Ciphertext, f.associatedData())
	if err != nil {
		return TrusteeShare{}, fmt.Errorf("share file: %w", err)
	}
	v, err := decodeScalar(plain)
	if err != nil {
		return TrusteeShare{}, pv.Errorf(pv.EInvalid, "share file: bad share")
	}
	return TrusteeShare{ElectionID: f.Election, Index: f.Trustee, Value: v}, nil
}

// DecodeTrustees rebuilds and checks a key ceremony's public data from its
// encodings: the election key, the concatenated commitments and the
// concatenated trustee keys (32 bytes each).
func DecodeTrustees(threshold int, key, commitments, public []byte) (*Trustees, error) {
	t := &Trustees{Threshold: threshold}
	var err error
	if t.Key, err = ParseElectionKey(key); err != nil {
		return nil, err
	}
	if t.Commitments, err = decodeElements(commitments); err != nil {
		return nil, fmt.Errorf("trustees: commitments: %w", err)
	}
	if t.Public, err = decodeElements(public); err != nil {
		return nil, fmt.Errorf("trustees: trustee keys: %w", err)
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	return t, nil
}
