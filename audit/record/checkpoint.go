package record

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a signed statement of the log's state: its size, the root
// of the Merkle tree over its records, and the chain hash of its last record.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	Chain  tlog.Hash
}

// chainExtension prefixes the extension line that carries the chain head.
const chainExtension = "primaryvote-chain "

// Body returns the checkpoint's text in the C2SP tlog-checkpoint format:
//
//	<origin>
//	<size, decimal>
//	<root hash, base64>
//	primaryvote-chain <chain hash, base64>
//
// each line ending in a newline.
func (c Checkpoint) Body() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%d\n%s\n%s%s\n", c.Origin, c.Size,
		base64.StdEncoding.EncodeToString(c.Root[:]), chainExtension, base64.StdEncoding.EncodeToString(c.Chain[:]))
	return b.Bytes()
}

// ParseCheckpoint parses a checkpoint body strictly: exactly the four lines
// Body writes, with a canonical size and well-formed hashes.
func ParseCheckpoint(body []byte) (Checkpoint, error) {
	bad := func(why string) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("record: malformed checkpoint: %s", why)
	}
	if len(body) > 1024 || !bytes.HasSuffix(body, []byte("\n")) {
		return bad("not newline-terminated text of at most 1 KiB")
	}
	lines := strings.Split(string(body[:len(body)-1]), "\n")
	if len(lines) != 4 {
		return bad("want 4 lines")
	}
	var c Checkpoint
	c.Origin = lines[0]
	if c.Origin == "" || strings.ContainsAny(c.Origin, " \t+") {
		return bad("origin")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return bad("size")
	}
	c.Size = n
	if c.Root, err = parseHash(lines[2]); err != nil {
		return bad("root hash")
	}
	if !strings.HasPrefix(lines[3], chainExtension) {
		return bad("chain extension")
	}
	if c.Chain, err = parseHash(strings.TrimPrefix(lines[3], chainExtension)); err != nil {
		return bad("chain hash")
	}
	return c, nil
}

func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		return h, errors.New("bad hash")
	}
	copy(h[:], b)
	return h, nil
}

// Signer signs checkpoints as notes (golang.org/x/mod/sumdb/note, Ed25519).
type Signer struct {
	signer   note.Signer
	verifier string
}

// Sign returns the signed checkpoint: the body followed by the note's
// signature lines.
func (s *Signer) Sign(c Checkpoint) ([]byte, error) {
	if c.Origin != s.signer.Name() {
		return nil, fmt.Errorf("record: checkpoint origin %q is not the key's name %q", c.Origin, s.signer.Name())
	}
	return note.Sign(&note.Note{Text: string(c.Body())}, s.signer)
}

// Origin is the log's name, which is also the key's name.
func (s *Signer) Origin() string { return s.signer.Name() }

// VerifierKey is the note verifier key that checks this signer's
// checkpoints ("<origin>+<hash>+<base64 key>").
func (s *Signer) VerifierKey() string { return s.verifier }

// OpenCheckpoint verifies a signed checkpoint against the verifier key and
// parses it.
func OpenCheckpoint(signed []byte, verifierKey string) (Checkpoint, error) {
	c, _, err := OpenCosigned(signed, verifierKey)
	return c, err
}

// OpenCosigned is OpenCheckpoint for a checkpoint that witnesses may have
// cosigned: every signature by one of witnesses must verify too, and it
// returns the names of those that signed. Signatures by other keys are
// ignored.
func OpenCosigned(signed []byte, verifierKey string, witnesses ...note.Verifier) (Checkpoint, []string, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("record: bad verifier key: %w", err)
	}
	n, err := note.Open(signed, note.VerifierList(append([]note.Verifier{v}, witnesses...)...))
	var invalid *note.InvalidSignatureError
	if errors.As(err, &invalid) && invalid.Name != v.Name() {
		return Checkpoint{}, nil, fmt.Errorf("record: the signature by %s does not verify", invalid.Name)
	}
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("record: checkpoint signature: %w", err)
	}
	var byLog bool
	var names []string
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			byLog = true
		} else {
			names = append(names, s.Name)
		}
	}
	if !byLog {
		return Checkpoint{}, nil, fmt.Errorf("record: checkpoint signature: not signed by %s", v.Name())
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, nil, fmt.Errorf("record: checkpoint origin %q signed by key %q", c.Origin, v.Name())
	}
	return c, names, nil
}

// ParseSignedCheckpoint parses a signed checkpoint without checking its
// signature, for checking its shape before the key to verify it is known.
func ParseSignedCheckpoint(signed []byte) (Checkpoint, error) {
	_, err := note.Open(signed, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return Checkpoint{}, fmt.Errorf("record: not a signed note: %v", err)
	}
	return ParseCheckpoint([]byte(unverified.Note.Text))
}

// DefaultOrigin is the log's name unless the operator chooses another.
const DefaultOrigin = "primaryvote/log"

// GenerateKey makes a new checkpoint key for the log named origin, with
// crypto/rand: the note signer key and its verifier key.
func GenerateKey(origin string) (signerKey, verifierKey string, err error) {
	signerKey, verifierKey, err = note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", "", fmt.Errorf("couldn't make the checkpoint key: %w", err)
	}
	return signerKey, verifierKey, nil
}

// NewSigner returns the signer for the log named origin, from a note signer
// key and its verifier key. It refuses a pair that does not match or a key
// named for another log.
func NewSigner(signerKey, verifierKey, origin string) (*Signer, error) {
	signer, err := note.NewSigner(signerKey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	verifier, err := note.NewVerifier(verifierKey)
	if err != nil || verifier.Name() != signer.Name() || verifier.KeyHash() != signer.KeyHash() {
		return nil, errors.New("checkpoint key: the verifier key does not match the signer key")
	}
	if signer.Name() != origin {
		return nil, fmt.Errorf("checkpoint key is for log %q, not %q", signer.Name(), origin)
	}
	return &Signer{signer: signer, verifier: verifierKey}, nil
}

// GenerateSigner returns a signer with a new key that is kept nowhere: for
// tests and benchmarks.
func GenerateSigner(origin string) (*Signer, error) {
	skey, vkey, err := GenerateKey(origin)
	if err != nil {
		return nil, err
	}
	return NewSigner(skey, vkey, origin)
}
