package bundle_test

// An implementation of the formats from their documents alone (audit/LOG.md,
// ballot/FORMAT.md), written against primitives only (SHA-256, Ed25519,
// ristretto255 arithmetic, expand_message_xmd), never against this module's
// code. The golden test runs it over the committed bundle: if the documents
// and the code drift apart, it fails.

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/cloudflare/circl/expander"
	"github.com/cloudflare/circl/group"
)

var r255 = group.Ristretto255

// specFrame is LOG.md's record: "PVL1" ‖ u64be(position) ‖ chain ‖ body.
func specFrame(position uint64, prevChain, body []byte) []byte {
	r := []byte("PVL1")
	r = binary.BigEndian.AppendUint64(r, position)
	r = append(r, prevChain...)
	return append(r, body...)
}

// specTreeHash is the RFC 6962 Merkle tree hash of the leaves.
func specTreeHash(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		h := sha256.Sum256(append([]byte{0}, leaves[0]...))
		return h[:]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(specTreeHash(leaves[:k]))
	h.Write(specTreeHash(leaves[k:]))
	return h.Sum(nil)
}

// specVerifierKey parses "<name>+<hex key hash>+<base64 0x01 ‖ key>" and
// checks the key hash: the first four bytes of
// SHA-256(name ‖ "\n" ‖ 0x01 ‖ key).
func specVerifierKey(vkey string) (name string, hash []byte, pub ed25519.PublicKey, err error) {
	parts := strings.SplitN(vkey, "+", 3) // the name has no "+"; the base64 may
	if len(parts) != 3 {
		return "", nil, nil, errors.New("want name+hash+key")
	}
	hash, err1 := hex.DecodeString(parts[1])
	raw, err2 := base64.StdEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(hash) != 4 || len(raw) != 33 || raw[0] != 1 {
		return "", nil, nil, errors.New("malformed key")
	}
	sum := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	if !bytes.Equal(sum[:4], hash) {
		return "", nil, nil, errors.New("key hash does not match")
	}
	return parts[0], hash, ed25519.PublicKey(raw[1:]), nil
}

// specOpenNote checks a signed note (text, a blank line, then lines
// "— <name> <base64 key hash ‖ signature>") under the key and returns its
// text.
func specOpenNote(signed, vkey string) (string, error) {
	name, hash, pub, err := specVerifierKey(vkey)
	if err != nil {
		return "", err
	}
	text, sigs, ok := strings.Cut(signed, "\n\n")
	if !ok {
		return "", errors.New("no signatures")
	}
	text += "\n"
	for _, line := range strings.Split(strings.TrimSuffix(sigs, "\n"), "\n") {
		rest, ok := strings.CutPrefix(line, "\u2014 "+name+" ")
		if !ok {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(rest)
		if err == nil && len(sig) == 68 && bytes.Equal(sig[:4], hash) && ed25519.Verify(pub, []byte(text), sig[4:]) {
			return text, nil
		}
	}
	return "", errors.New("no valid signature by the key")
}

// crockford is the tracking code alphabet.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// specTrackingCode reads the hash's 256 bits most significant first, five
// at a time (the last symbol padded with zero bits), and groups the 52
// symbols by four.
func specTrackingCode(sum []byte) string {
	var syms []byte
	for bit := 0; bit < len(sum)*8; bit += 5 {
		v := 0
		for i := range 5 {
			v <<= 1
			if b := bit + i; b < len(sum)*8 && sum[b/8]&(0x80>>(b%8)) != 0 {
				v |= 1
			}
		}
		syms = append(syms, crockford[v])
	}
	var groups []string
	for i := 0; i < len(syms); i += 4 {
		groups = append(groups, string(syms[i:min(i+4, len(syms))]))
	}
	return strings.Join(groups, "-")
}

// ell is the order of ristretto255.
var ell, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// specHashToScalar is expand_message_xmd(SHA-512, dst, 64 bytes), read
// little-endian, reduced mod ℓ.
func specHashToScalar(msg, dst []byte) group.Scalar {
	u := expander.NewExpanderMD(crypto.SHA512, dst).Expand(msg, 64)
	return r255.NewScalar().SetBigInt(new(big.Int).Mod(leInt(u), ell))
}

func leInt(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(be)
}

func specScalar(b []byte) (group.Scalar, error) {
	if len(b) != 32 || leInt(b).Cmp(ell) >= 0 {
		return nil, errors.New("not a canonical scalar")
	}
	return r255.NewScalar().SetBigInt(leInt(b)), nil
}

func specElement(b []byte) (group.Element, error) {
	e := r255.NewElement()
	if err := e.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return e, nil
}

func scalarBytes(s group.Scalar) []byte {
	b, _ := s.MarshalBinary()
	return b
}

func elementBytes(e group.Element) []byte {
	b, _ := e.MarshalBinaryCompress()
	return b
}

func lp(s string) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(s))), s...) }

// specRangeProof is one range proof of a ballot, as FORMAT.md lays it out.
type specRangeProof struct {
	credential               []byte // the voter's P, which the ballot names
	question, option, lo, hi int
	alpha, beta              []byte
	// statement is what the transcript holds for the ciphertext: α ‖ β,
	// or for a question's total the ciphertexts it sums.
	statement []byte
	branches  [][4][]byte // a, b, c, z
}

// specTranscript is FORMAT.md's challenge transcript T for a proof.
func specTranscript(electionID string, key []byte, p specRangeProof) []byte {
	t := append(lp("primaryvote/v2/range-proof"), lp(electionID)...)
	t = append(append(t, key...), p.credential...)
	for _, v := range []int{p.question, p.option, p.lo, p.hi} {
		t = binary.BigEndian.AppendUint16(t, uint16(v))
	}
	t = append(t, p.statement...)
	for _, br := range p.branches {
		t = append(append(t, br[0]...), br[1]...)
	}
	return t
}

// specCheckRangeProof checks the challenges' sum and both equations of
// every branch.
func specCheckRangeProof(electionID string, keyBytes []byte, p specRangeProof) error {
	key, err := specElement(keyBytes)
	if err != nil {
		return err
	}
	alpha, err1 := specElement(p.alpha)
	beta, err2 := specElement(p.beta)
	if err1 != nil || err2 != nil {
		return errors.New("bad ciphertext")
	}
	sum := r255.NewScalar()
	for k, br := range p.branches {
		a, err1 := specElement(br[0])
		b, err2 := specElement(br[1])
		c, err3 := specScalar(br[2])
		z, err4 := specScalar(br[3])
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return fmt.Errorf("branch %d: %v", k, err)
		}
		sum.Add(sum, c)
		// z·G = a + c·α
		if !r255.NewElement().MulGen(z).IsEqual(r255.NewElement().Add(a, r255.NewElement().Mul(alpha, c))) {
			return fmt.Errorf("branch %d: z·G ≠ a + c·α", k)
		}
		// z·K = b + c·(β − v·G)
		v := r255.NewElement().MulGen(r255.NewScalar().SetUint64(uint64(p.lo + k)))
		shifted := r255.NewElement().Add(beta, r255.NewElement().Neg(v))
		if !r255.NewElement().Mul(key, z).IsEqual(r255.NewElement().Add(b, r255.NewElement().Mul(shifted, c))) {
			return fmt.Errorf("branch %d: z·K ≠ b + c·(β − v·G)", k)
		}
	}
	if !sum.IsEqual(specHashToScalar(specTranscript(electionID, keyBytes, p), []byte("primaryvote-v1-challenge"))) {
		return errors.New("the challenges do not add up to the challenge")
	}
	return nil
}

// specQuestion is what FORMAT.md needs of a definition's question.
type specQuestion struct {
	candidates int
	min, max   int
}

// specBallot is a ballot split as FORMAT.md lays it out.
type specBallot struct {
	credential []byte
	cts        [][2][]byte
	proofs     []specRangeProof
	// signed is the bytes the signature (R ‖ s) signs.
	signed, signature []byte
}

// specParseBallot splits a ballot into its credential, ciphertexts, proofs
// and signature, following FORMAT.md's layout.
func specParseBallot(raw []byte, electionID string, questions []specQuestion) (b specBallot, err error) {
	head := append([]byte("PVB2"), byte(len(electionID)))
	head = append(head, electionID...)
	if !bytes.HasPrefix(raw, head) {
		return b, errors.New("bad header")
	}
	rest := raw[len(head):]
	take := func(n int) []byte {
		if len(rest) < n {
			err = errors.New("short ballot")
			return make([]byte, n)
		}
		b := rest[:n]
		rest = rest[n:]
		return b
	}
	branches := func(n int) [][4][]byte {
		var out [][4][]byte
		for range n {
			out = append(out, [4][]byte{take(32), take(32), take(32), take(32)})
		}
		return out
	}
	b.credential = take(32)
	for qi, q := range questions {
		alphas, betas := r255.Identity(), r255.Identity()
		var statement []byte // the candidates' ciphertexts, which the total's proof hashes
		for o := range q.candidates {
			alpha, beta := take(32), take(32)
			statement = append(append(statement, alpha...), beta...)
			b.cts = append(b.cts, [2][]byte{alpha, beta})
			b.proofs = append(b.proofs, specRangeProof{credential: b.credential, question: qi, option: o, lo: 0, hi: 1, alpha: alpha, beta: beta,
				statement: append(append([]byte(nil), alpha...), beta...), branches: branches(2)})
			ea, err1 := specElement(alpha)
			eb, err2 := specElement(beta)
			if err1 != nil || err2 != nil {
				return b, errors.New("bad ciphertext")
			}
			alphas.Add(alphas, ea)
			betas.Add(betas, eb)
		}
		b.proofs = append(b.proofs, specRangeProof{credential: b.credential, question: qi, option: 0xffff, lo: q.min, hi: q.max,
			alpha: elementBytes(alphas), beta: elementBytes(betas), statement: statement, branches: branches(q.max - q.min + 1)})
	}
	b.signed = raw[:len(raw)-len(rest)]
	b.signature = take(64)
	// Every element in order of appearance, and after the signature the
	// hint of each.
	elements := [][]byte{b.credential}
	ci := 0
	for _, p := range b.proofs {
		if p.option != 0xffff {
			elements = append(elements, b.cts[ci][0], b.cts[ci][1])
			ci++
		}
		for _, br := range p.branches {
			elements = append(elements, br[0], br[1])
		}
	}
	elements = append(elements, b.signature[:32])
	for i, el := range elements {
		if !specHintHolds(el, take(32)) {
			return b, fmt.Errorf("element %d: wrong decoding hint", i)
		}
	}
	if len(rest) != 0 {
		return b, errors.New("trailing bytes")
	}
	return b, err
}

// specHintHolds checks an element's decoding hint h (FORMAT.md, "Decoding
// hints") in big-integer arithmetic: h < p, h even, and t·h² = 1 mod p for
// t = −(d·(1 − s²)² + (1 + s²)²)·(1 + s²)².
func specHintHolds(enc, hint []byte) bool {
	le := func(b []byte) *big.Int {
		r := make([]byte, len(b))
		for i := range b {
			r[len(b)-1-i] = b[i]
		}
		return new(big.Int).SetBytes(r)
	}
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	d := new(big.Int).ModInverse(big.NewInt(121666), p)
	d.Mul(d, big.NewInt(-121665))
	s, h := le(enc), le(hint)
	if h.Cmp(p) >= 0 || h.Bit(0) != 0 {
		return false
	}
	s2 := new(big.Int).Mul(s, s)
	u1 := new(big.Int).Sub(big.NewInt(1), s2)
	u2 := new(big.Int).Add(big.NewInt(1), s2)
	u2sq := new(big.Int).Mul(u2, u2)
	t := new(big.Int).Mul(d, new(big.Int).Mul(u1, u1))
	t.Add(t, u2sq).Neg(t).Mul(t, u2sq)
	t.Mul(t, new(big.Int).Mul(h, h)).Mod(t, p)
	return t.Cmp(big.NewInt(1)) == 0
}

// specCheckBallotSignature checks the ballot's signature by its credential:
// c = HashToScalar(lp(domain) ‖ lp("ballot") ‖ P ‖ R ‖ lp(signed bytes)) and
// s·G = R + c·P.
func specCheckBallotSignature(b specBallot) error {
	P, err1 := specElement(b.credential)
	R, err2 := specElement(b.signature[:32])
	s, err3 := specScalar(b.signature[32:])
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	t := append(append(append(lp("primaryvote/v2/signature"), lp("ballot")...), b.credential...), b.signature[:32]...)
	t = append(t, lp(string(b.signed))...)
	c := specHashToScalar(t, []byte("primaryvote-v2-signature"))
	if !r255.NewElement().MulGen(s).IsEqual(r255.NewElement().Add(R, r255.NewElement().Mul(P, c))) {
		return errors.New("s·G ≠ R + c·P")
	}
	return nil
}

// specDLEQ checks a partial decryption's proof (c ‖ s) that log_G(K_i) =
// log_{α_j}(D_j) for all j, per RFC 9497 §2.2 with the context string
// "primaryvote-v1-partial-decryption-" ‖ election id. It returns the first
// composite weight, as a vector to compare.
func specDLEQ(electionID string, trusteeKey []byte, alphas, shares [][]byte, proof []byte) ([]byte, error) {
	ctx := "primaryvote-v1-partial-decryption-" + electionID
	i2osp2 := func(n int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(n)) }
	seedDST := "Seed-" + ctx
	h := sha512(append(append(append(i2osp2(len(trusteeKey)), trusteeKey...), i2osp2(len(seedDST))...), seedDST...))
	h2sDST := []byte("HashToScalar-" + ctx)
	M, Z := r255.Identity(), r255.Identity()
	var first []byte
	for j := range alphas {
		t := append(i2osp2(len(h)), h...)
		t = append(t, i2osp2(j)...)
		t = append(append(t, i2osp2(len(alphas[j]))...), alphas[j]...)
		t = append(append(t, i2osp2(len(shares[j]))...), shares[j]...)
		t = append(t, "Composite"...)
		d := specHashToScalar(t, h2sDST)
		if j == 0 {
			first = scalarBytes(d)
		}
		a, err1 := specElement(alphas[j])
		s, err2 := specElement(shares[j])
		if err1 != nil || err2 != nil {
			return nil, errors.New("bad element")
		}
		M.Add(M, r255.NewElement().Mul(a, d))
		Z.Add(Z, r255.NewElement().Mul(s, d))
	}
	if len(proof) != 64 {
		return nil, errors.New("proof is not 64 bytes")
	}
	c, err1 := specScalar(proof[:32])
	s, err2 := specScalar(proof[32:])
	B, err3 := specElement(trusteeKey)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	t2 := r255.NewElement().Add(r255.NewElement().MulGen(s), r255.NewElement().Mul(B, c))
	t3 := r255.NewElement().Add(r255.NewElement().Mul(M, s), r255.NewElement().Mul(Z, c))
	var ct []byte
	for _, e := range [][]byte{trusteeKey, elementBytes(M), elementBytes(Z), elementBytes(t2), elementBytes(t3)} {
		ct = append(append(ct, i2osp2(len(e))...), e...)
	}
	ct = append(ct, "Challenge"...)
	if !specHashToScalar(ct, h2sDST).IsEqual(c) {
		return nil, errors.New("the DLEQ proof does not verify")
	}
	return first, nil
}

func sha512(b []byte) []byte {
	h := crypto.SHA512.New()
	h.Write(b)
	return h.Sum(nil)
}

// specCosigners checks the cosignatures on a signed checkpoint (LOG.md
// section 2) by the witnesses of a witnesses.policy entry's data: each
// witness key is "<name>+<hex key hash>+<base64 0x04 ‖ key>" with the key
// hash the first four bytes of SHA-256(name ‖ "\n" ‖ 0x04 ‖ key); each of
// their lines is "— <name> <base64 key hash ‖ u64be(t) ‖ signature>", the
// signature Ed25519 over "cosignature/v1\ntime <t>\n" ‖ text, t not zero. It
// returns the quorum, the witnesses that cosigned (in the policy's order)
// and the first message they signed.
func specCosigners(policyData []byte, text, signed string) (quorum int, names []string, first []byte, err error) {
	var policy struct {
		Quorum    int
		Witnesses []struct{ Key, URL string }
	}
	if err := json.Unmarshal(policyData, &policy); err != nil {
		return 0, nil, nil, err
	}
	type key struct {
		name string
		hash []byte
		pub  ed25519.PublicKey
	}
	var keys []key
	for _, w := range policy.Witnesses {
		parts := strings.SplitN(w.Key, "+", 3)
		if len(parts) != 3 {
			return 0, nil, nil, errors.New("malformed witness key")
		}
		hash, err1 := hex.DecodeString(parts[1])
		raw, err2 := base64.StdEncoding.DecodeString(parts[2])
		if err1 != nil || err2 != nil || len(hash) != 4 || len(raw) != 33 || raw[0] != 4 {
			return 0, nil, nil, errors.New("malformed witness key")
		}
		sum := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
		if !bytes.Equal(sum[:4], hash) {
			return 0, nil, nil, errors.New("witness key hash does not match")
		}
		keys = append(keys, key{parts[0], hash, ed25519.PublicKey(raw[1:])})
	}
	_, sigs, _ := strings.Cut(signed, "\n\n")
	for _, k := range keys {
		for _, line := range strings.Split(strings.TrimSuffix(sigs, "\n"), "\n") {
			rest, ok := strings.CutPrefix(line, "\u2014 "+k.name+" ")
			if !ok {
				continue
			}
			sig, err := base64.StdEncoding.DecodeString(rest)
			if err != nil || len(sig) != 4+8+64 || !bytes.Equal(sig[:4], k.hash) {
				continue
			}
			t := binary.BigEndian.Uint64(sig[4:12])
			msg := []byte(fmt.Sprintf("cosignature/v1\ntime %d\n%s", t, text))
			if t == 0 || !ed25519.Verify(k.pub, msg, sig[12:]) {
				return 0, nil, nil, fmt.Errorf("the cosignature by %s does not verify", k.name)
			}
			names = append(names, k.name)
			if first == nil {
				first = msg
			}
		}
	}
	return policy.Quorum, names, first, nil
}
