package ballot

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/hpke"
	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/secretsharing"

	pv "primaryvote"
	"primaryvote/audit/entry"
)

// The key ceremony (FORMAT.md, "Key ceremony") is a distributed key
// generation, joint Feldman as in Pedersen's protocol, among n trustees
// with threshold k:
//
//  1. each trustee makes an identity (an Ed25519 signing key and an HPKE
//     key to receive shares), and an official registers its public half;
//  2. each trustee deals: a secret polynomial f_i of degree k−1, its
//     commitments C_{i,j} = a_{i,j}·G, and f_i(j) for every trustee j
//     (itself included) encrypted to j's HPKE key, all signed;
//  3. each trustee opens what was dealt to it, checks each share against
//     its dealer's commitments, and posts its verdict: the dealers it
//     complains about (none, if all is well);
//  4. a dealer answers each complaint by revealing that share; anyone can
//     check it against the commitments;
//  5. the qualified dealers are those who dealt and answered every
//     complaint against them with a share that checks. Trustee j's share
//     is s_j = Σ_{i qualified} f_i(j); the election key is K = Σ C_{i,0},
//     and K_j follows from the summed commitments.
//
// Every message is signed by its sender over its election, so the server,
// a bulletin board that logs every message, can neither forge one nor move
// one to another election. No process ever computes the election secret.

// ceremonySuite is the HPKE suite that carries shares (RFC 9180: X25519,
// HKDF-SHA256, ChaCha20-Poly1305), and ceremonyKEM its key encapsulation.
var (
	ceremonyKEM   = hpke.KEM_X25519_HKDF_SHA256
	ceremonySuite = hpke.NewSuite(ceremonyKEM, hpke.KDF_HKDF_SHA256, hpke.AEAD_ChaCha20Poly1305)
)

// sealedShareSize is an encrypted share: the encapsulated key, then the
// share's 32 bytes sealed (with the AEAD's 16-byte tag).
const sealedShareSize = 32 + scalarSize + 16

// The ceremony's messages and identities, as the log records them
// (package entry holds the types, shared with the verifier).
type (
	Hex             = entry.Hex
	TrusteeIdentity = entry.TrusteeIdentity
	Deal            = entry.Deal
	Verdict         = entry.Verdict
	Answer          = entry.Answer
)

// TrusteeSecrets is the private half, which never leaves the trustee's
// machine.
type TrusteeSecrets struct {
	signing  ed25519.PrivateKey
	shareKey kem.PrivateKey
}

// NewTrusteeIdentity makes a trustee's identity for the given index and
// name, with crypto/rand.
func NewTrusteeIdentity(index int, name string) (TrusteeIdentity, *TrusteeSecrets, error) {
	seed := make([]byte, 2*32)
	rand.Read(seed)
	s, err := trusteeSecrets(seed)
	if err != nil {
		return TrusteeIdentity{}, nil, err
	}
	id, err := s.identity(index, name)
	return id, s, err
}

// trusteeSecrets rebuilds a trustee's keys from their 64 secret bytes: the
// Ed25519 seed, then the X25519 private key.
func trusteeSecrets(b []byte) (*TrusteeSecrets, error) {
	if len(b) != 64 {
		return nil, fmt.Errorf("a trustee's secrets are 64 bytes")
	}
	k, err := ceremonyKEM.Scheme().UnmarshalBinaryPrivateKey(b[32:])
	if err != nil {
		return nil, err
	}
	return &TrusteeSecrets{signing: ed25519.NewKeyFromSeed(b[:32]), shareKey: k}, nil
}

// secretBytes is trusteeSecrets' input.
func (s *TrusteeSecrets) secretBytes() ([]byte, error) {
	k, err := s.shareKey.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return append(s.signing.Seed(), k...), nil
}

// identity is the public half of s, for the trustee numbered index.
func (s *TrusteeSecrets) identity(index int, name string) (TrusteeIdentity, error) {
	enc, err := s.shareKey.Public().MarshalBinary()
	if err != nil {
		return TrusteeIdentity{}, err
	}
	return TrusteeIdentity{Index: index, Name: name, SigningKey: Hex(s.signing.Public().(ed25519.PublicKey)), ShareKey: enc}, nil
}

// Matches reports whether s is the private half of id.
func (s *TrusteeSecrets) Matches(id TrusteeIdentity) bool {
	mine, err := s.identity(id.Index, id.Name)
	return err == nil && bytes.Equal(mine.SigningKey, id.SigningKey) && bytes.Equal(mine.ShareKey, id.ShareKey)
}

// Ceremony is a key ceremony's public parameters: the election, the
// threshold and the registered trustees, in order 1…n. The log records the
// threshold and trustees when an official registers them.
type Ceremony struct {
	ElectionID string            `json:"-"`
	Threshold  int               `json:"threshold"`
	Trustees   []TrusteeIdentity `json:"trustees"`
}

// Check refuses parameters no ceremony can run with.
func (c *Ceremony) Check() error {
	n := len(c.Trustees)
	if n < 1 || n > MaxTrustees || c.Threshold < 1 || c.Threshold > n {
		return pv.Errorf(pv.EInvalid, "a key ceremony needs 1 <= threshold <= trustees <= %d", MaxTrustees)
	}
	seenSigning, seenShare := map[string]bool{}, map[string]bool{}
	for i, t := range c.Trustees {
		if t.Index != i+1 {
			return pv.Errorf(pv.EInvalid, "trustee %d is listed as number %d", i+1, t.Index)
		}
		if len(t.SigningKey) != ed25519.PublicKeySize || len(t.ShareKey) != 32 {
			return pv.Errorf(pv.EInvalid, "trustee %d's keys have the wrong size", t.Index)
		}
		if _, err := ceremonyKEM.Scheme().UnmarshalBinaryPublicKey(t.ShareKey); err != nil {
			return pv.Errorf(pv.EInvalid, "trustee %d's share key: %v", t.Index, err)
		}
		if seenSigning[string(t.SigningKey)] || seenShare[string(t.ShareKey)] {
			return pv.Errorf(pv.EInvalid, "trustee %d's key is another trustee's", t.Index)
		}
		seenSigning[string(t.SigningKey)], seenShare[string(t.ShareKey)] = true, true
	}
	return nil
}

func (c *Ceremony) trustee(i int) (*TrusteeIdentity, error) {
	if i < 1 || i > len(c.Trustees) {
		return nil, pv.Errorf(pv.EInvalid, "no trustee %d in a ceremony of %d", i, len(c.Trustees))
	}
	return &c.Trustees[i-1], nil
}

// signed is the bytes a ceremony message's signature covers: its kind, the
// election and the sender, then its body.
func (c *Ceremony) signed(kind string, sender int, body []byte) []byte {
	b := lp(nil, "primaryvote/v2/ceremony/"+kind)
	b = lp(b, c.ElectionID)
	b = binary.BigEndian.AppendUint16(b, uint16(sender))
	return append(b, body...)
}

func (c *Ceremony) sign(s *TrusteeSecrets, kind string, sender int, body []byte) []byte {
	return ed25519.Sign(s.signing, c.signed(kind, sender, body))
}

func (c *Ceremony) verify(kind string, sender int, body, sig []byte) error {
	t, err := c.trustee(sender)
	if err != nil {
		return err
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(ed25519.PublicKey(t.SigningKey), c.signed(kind, sender, body), sig) {
		return pv.Errorf(pv.EInvalid, "the %s of trustee %d is not signed by its key for election %q", kind, sender, c.ElectionID)
	}
	return nil
}

// A Deal is dealer i's commitments and its sealed share for every
// trustee, and the same shares sealed to the dealer itself (Kept), so that
// the dealer can answer a complaint with nothing kept on its machine but
// its identity.

func dealBody(d *Deal) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, uint16(len(d.Commitments)))
	for _, c := range d.Commitments {
		b = append(b, c...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(d.Shares)))
	for _, s := range d.Shares {
		b = append(b, s...)
	}
	for _, s := range d.Kept {
		b = append(b, s...)
	}
	return b
}

// shareInfo and shareAAD bind a sealed share to its election, dealer,
// recipient and the dealer's commitments.
func (c *Ceremony) shareInfo(label string, dealer, recipient int) []byte {
	b := lp(nil, "primaryvote/v2/ceremony/"+label)
	b = lp(b, c.ElectionID)
	b = binary.BigEndian.AppendUint16(b, uint16(dealer))
	return binary.BigEndian.AppendUint16(b, uint16(recipient))
}

func shareAAD(commitments []Hex) []byte {
	h := sha256.New()
	for _, c := range commitments {
		h.Write(c)
	}
	return h.Sum(nil)
}

// Deal makes dealer's deal: a fresh secret polynomial of degree k−1, its
// commitments, and its value at every trustee's index sealed to that
// trustee. The polynomial is dropped on return.
func (c *Ceremony) Deal(dealer int, s *TrusteeSecrets) (*Deal, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if _, err := c.trustee(dealer); err != nil {
		return nil, err
	}
	a0 := g.RandomNonZeroScalar(rand.Reader)
	ss := secretsharing.New(rand.Reader, uint(c.Threshold-1), a0)
	a0.SetUint64(0)
	d := &Deal{Dealer: dealer}
	for _, cm := range ss.CommitSecret() {
		d.Commitments = append(d.Commitments, encodeElement(cm))
	}
	aad := shareAAD(d.Commitments)
	for j, share := range ss.Share(uint(len(c.Trustees))) {
		sealed, err := c.seal(c.Trustees[j].ShareKey, c.shareInfo("share", dealer, j+1), share.Value, aad)
		if err != nil {
			return nil, err
		}
		kept, err := c.seal(c.Trustees[dealer-1].ShareKey, c.shareInfo("kept", dealer, j+1), share.Value, aad)
		if err != nil {
			return nil, err
		}
		d.Shares, d.Kept = append(d.Shares, sealed), append(d.Kept, kept)
	}
	c.SignDeal(d, s)
	return d, nil
}

// SignDeal signs d as its dealer, whose secrets s are.
func (c *Ceremony) SignDeal(d *Deal, s *TrusteeSecrets) {
	d.Signature = c.sign(s, "deal", d.Dealer, dealBody(d))
}

// seal encrypts a share to an HPKE public key.
func (c *Ceremony) seal(to, info []byte, v group.Scalar, aad []byte) ([]byte, error) {
	pk, err := ceremonyKEM.Scheme().UnmarshalBinaryPublicKey(to)
	if err != nil {
		return nil, err
	}
	sender, err := ceremonySuite.NewSender(pk, info)
	if err != nil {
		return nil, err
	}
	enc, sealer, err := sender.Setup(rand.Reader)
	if err != nil {
		return nil, err
	}
	ct, err := sealer.Seal(encodeScalar(v), aad)
	if err != nil {
		return nil, err
	}
	return append(enc, ct...), nil
}

// open decrypts a sealed share with an HPKE private key: ErrBadShare if it
// does not open or is not a scalar.
func open(key kem.PrivateKey, info, sealed, aad []byte) (group.Scalar, error) {
	receiver, err := ceremonySuite.NewReceiver(key, info)
	if err != nil {
		return nil, err
	}
	opener, err := receiver.Setup(sealed[:32])
	if err != nil {
		return nil, ErrBadShare
	}
	plain, err := opener.Open(sealed[32:], aad)
	if err != nil {
		return nil, ErrBadShare
	}
	v, err := decodeScalar(plain)
	if err != nil {
		return nil, ErrBadShare
	}
	return v, nil
}

// CheckDeal checks a deal's form and signature: k canonical commitments,
// none the identity, and one sealed share of the right size per trustee.
// Whether the shares match the commitments only their recipients can tell
// (OpenShare).
func (c *Ceremony) CheckDeal(d *Deal) error {
	if err := c.verify("deal", d.Dealer, dealBody(d), d.Signature); err != nil {
		return err
	}
	if len(d.Commitments) != c.Threshold || len(d.Shares) != len(c.Trustees) || len(d.Kept) != len(c.Trustees) {
		return pv.Errorf(pv.EInvalid, "trustee %d's deal has %d commitments and %d shares; the ceremony wants %d and %d",
			d.Dealer, len(d.Commitments), len(d.Shares), c.Threshold, len(c.Trustees))
	}
	for _, cm := range d.Commitments {
		e, err := decodeElement(cm)
		if err != nil || e.IsIdentity() {
			return pv.Errorf(pv.EInvalid, "trustee %d's deal has a commitment that is not an element other than the identity", d.Dealer)
		}
	}
	for _, s := range slices.Concat(d.Shares, d.Kept) {
		if len(s) != sealedShareSize {
			return pv.Errorf(pv.EInvalid, "trustee %d's deal has a sealed share of %d bytes", d.Dealer, len(s))
		}
	}
	return nil
}

func dealCommitments(d *Deal) secretsharing.SecretCommitment {
	out := make(secretsharing.SecretCommitment, len(d.Commitments))
	for i, cm := range d.Commitments {
		out[i], _ = decodeElement(cm) // CheckDeal has decoded them
	}
	return out
}

// ErrBadShare means a share does not match its dealer's commitments (or
// does not open): its recipient complains.
var ErrBadShare = errors.New("the share does not match the dealer's commitments")

// OpenShare opens, as trustee recipient, the share d dealt to it and
// checks it against d's commitments. A share that does not open or does
// not match is ErrBadShare, for which the recipient complains.
func (c *Ceremony) OpenShare(d *Deal, recipient int, s *TrusteeSecrets) (group.Scalar, error) {
	if err := c.CheckDeal(d); err != nil {
		return nil, err
	}
	if _, err := c.trustee(recipient); err != nil {
		return nil, err
	}
	v, err := open(s.shareKey, c.shareInfo("share", d.Dealer, recipient), d.Shares[recipient-1], shareAAD(d.Commitments))
	if err != nil {
		return nil, err
	}
	return v, c.checkShare(d, recipient, v)
}

// checkShare checks f_i(j) = v against dealer i's commitments.
func (c *Ceremony) checkShare(d *Deal, j int, v group.Scalar) error {
	if !secretsharing.Verify(uint(c.Threshold-1), secretsharing.Share{ID: scalarOf(uint64(j)), Value: v}, dealCommitments(d)) {
		return ErrBadShare
	}
	return nil
}

// A Verdict is a trustee's judgement of the deals dealt to it: the dealers
// whose shares did not open or match, ascending (none if all is well).

func verdictBody(v *Verdict) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(v.Complaints)))
	for _, d := range v.Complaints {
		b = binary.BigEndian.AppendUint16(b, uint16(d))
	}
	return b
}

// Judge opens every deal dealt to trustee as it, and returns its signed
// verdict with its shares from the dealers it accepts.
func (c *Ceremony) Judge(trustee int, deals []*Deal, s *TrusteeSecrets) (*Verdict, map[int]group.Scalar, error) {
	v := &Verdict{Trustee: trustee, Complaints: []int{}}
	shares := map[int]group.Scalar{}
	for _, d := range deals {
		share, err := c.OpenShare(d, trustee, s)
		switch {
		case errors.Is(err, ErrBadShare):
			v.Complaints = append(v.Complaints, d.Dealer)
		case err != nil:
			return nil, nil, err
		default:
			shares[d.Dealer] = share
		}
	}
	slices.Sort(v.Complaints)
	v.Signature = c.sign(s, "verdict", trustee, verdictBody(v))
	return v, shares, nil
}

// CheckVerdict checks a verdict's signature and form.
func (c *Ceremony) CheckVerdict(v *Verdict) error {
	if err := c.verify("verdict", v.Trustee, verdictBody(v), v.Signature); err != nil {
		return err
	}
	for k, d := range v.Complaints {
		if _, err := c.trustee(d); err != nil || d == v.Trustee || (k > 0 && d <= v.Complaints[k-1]) {
			return pv.Errorf(pv.EInvalid, "trustee %d's verdict names its dealers out of order, twice, itself or unknown", v.Trustee)
		}
	}
	return nil
}

// An Answer is a dealer's answer to a complaint: the share it dealt to the
// complainer, revealed, for anyone to check against its commitments.

func answerBody(a *Answer) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(a.Complainer))
	return append(b, a.Share...)
}

// CheckAnswer checks an answer's signature by its dealer and its share's
// encoding; whether the share matches the dealer's commitments is Decide's
// to judge.
func (c *Ceremony) CheckAnswer(a *Answer) error {
	if err := c.verify("answer", a.Dealer, answerBody(a), a.Signature); err != nil {
		return err
	}
	if _, err := c.trustee(a.Complainer); err != nil {
		return err
	}
	if _, err := decodeScalar(a.Share); err != nil {
		return pv.Errorf(pv.EInvalid, "trustee %d's answer does not hold a scalar", a.Dealer)
	}
	return nil
}

// Answer answers, as the dealer of d, the complainer's complaint: it opens
// the copy of the complainer's share it kept sealed to itself, and reveals
// it, signed.
func (c *Ceremony) Answer(d *Deal, complainer int, s *TrusteeSecrets) (*Answer, error) {
	if err := c.CheckDeal(d); err != nil {
		return nil, err
	}
	if _, err := c.trustee(complainer); err != nil {
		return nil, err
	}
	v, err := open(s.shareKey, c.shareInfo("kept", d.Dealer, complainer), d.Kept[complainer-1], shareAAD(d.Commitments))
	if err != nil {
		return nil, fmt.Errorf("trustee %d cannot open its own copy of trustee %d's share: %w", d.Dealer, complainer, err)
	}
	return c.answerWith(d.Dealer, complainer, v, s), nil
}

// answerWith signs an answer revealing share.
func (c *Ceremony) answerWith(dealer, complainer int, share group.Scalar, s *TrusteeSecrets) *Answer {
	a := &Answer{Dealer: dealer, Complainer: complainer, Share: encodeScalar(share)}
	a.Signature = c.sign(s, "answer", dealer, answerBody(a))
	return a
}

// Outcome is what the ceremony's messages decide: the qualified dealers,
// the excluded ones with why, and the public outcome (nil if fewer than k
// dealers qualify).
type Outcome struct {
	Qualified []int
	Excluded  map[int]string
	Trustees  *Trustees
}

// Decide works out the ceremony's outcome from the messages on the board,
// as every trustee and every observer does. A dealer is qualified if it
// dealt a well-formed, signed deal, and answered every complaint against
// it with a share that matches its commitments. A complaint from a trustee
// whose verdict is missing counts as none. Decide fails if a message is not
// signed by its sender for this election, or fewer than k dealers qualify.
func (c *Ceremony) Decide(deals []*Deal, verdicts []*Verdict, answers []*Answer) (*Outcome, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	byDealer := map[int]*Deal{}
	for _, d := range deals {
		if err := c.CheckDeal(d); err != nil {
			return nil, err
		}
		if byDealer[d.Dealer] != nil {
			return nil, pv.Errorf(pv.EInvalid, "trustee %d dealt twice", d.Dealer)
		}
		byDealer[d.Dealer] = d
	}
	answered := map[[2]int]*Answer{}
	for _, a := range answers {
		if err := c.CheckAnswer(a); err != nil {
			return nil, err
		}
		answered[[2]int{a.Dealer, a.Complainer}] = a
	}
	out := &Outcome{Excluded: map[int]string{}}
	complaints := map[int][]int{} // dealer → complainers
	for _, v := range verdicts {
		if err := c.CheckVerdict(v); err != nil {
			return nil, err
		}
		for _, d := range v.Complaints {
			complaints[d] = append(complaints[d], v.Trustee)
		}
	}
	for i := 1; i <= len(c.Trustees); i++ {
		d := byDealer[i]
		if d == nil {
			out.Excluded[i] = "dealt nothing"
			continue
		}
		for _, j := range complaints[i] {
			a := answered[[2]int{i, j}]
			if a == nil {
				out.Excluded[i] = fmt.Sprintf("did not answer trustee %d's complaint", j)
				break
			}
			v, err := decodeScalar(a.Share)
			if err != nil || c.checkShare(d, j, v) != nil {
				out.Excluded[i] = fmt.Sprintf("answered trustee %d's complaint with a share that does not match its commitments", j)
				break
			}
		}
		if _, bad := out.Excluded[i]; !bad {
			out.Qualified = append(out.Qualified, i)
		}
	}
	if len(out.Qualified) < c.Threshold {
		return out, pv.Errorf(pv.EConflict, "only %d dealers qualify; the election key needs at least %d", len(out.Qualified), c.Threshold)
	}
	// The qualified dealers' commitments, summed, commit to the sum of
	// their polynomials: K = Σ C_{i,0}, and each K_j follows.
	sum := make([]group.Element, c.Threshold)
	for k := range sum {
		sum[k] = g.Identity()
	}
	for _, i := range out.Qualified {
		for k, cm := range dealCommitments(byDealer[i]) {
			sum[k].Add(sum[k], cm)
		}
	}
	if sum[0].IsIdentity() {
		return out, pv.Errorf(pv.EConflict, "the qualified dealers' keys sum to the identity")
	}
	t := &Trustees{Threshold: c.Threshold, Commitments: sum, Key: newElectionKey(sum[0])}
	for j := 1; j <= len(c.Trustees); j++ {
		t.Public = append(t.Public, t.derivedPublic(j))
	}
	out.Trustees = t
	return out, nil
}

// answeredShare is the share dealer revealed in answer to complainer's
// complaint, if it did.
func answeredShare(answers []*Answer, dealer, complainer int) (group.Scalar, bool) {
	for _, a := range answers {
		if a.Dealer == dealer && a.Complainer == complainer {
			v, err := decodeScalar(a.Share)
			return v, err == nil
		}
	}
	return nil, false
}

// Combine makes trustee j's share of the election key from the shares it
// opened (Judge) and the answers to its complaints: s_j = Σ_{i qualified}
// f_i(j). It checks s_j·G = K_j.
func (c *Ceremony) Combine(j int, out *Outcome, opened map[int]group.Scalar, answers []*Answer) (TrusteeShare, error) {
	sj := g.NewScalar()
	for _, i := range out.Qualified {
		v, ok := opened[i]
		if !ok {
			v, ok = answeredShare(answers, i, j)
		}
		if !ok {
			return TrusteeShare{}, fmt.Errorf("trustee %d has no share from qualified dealer %d", j, i)
		}
		sj.Add(sj, v)
	}
	share := TrusteeShare{ElectionID: c.ElectionID, Index: j, Value: sj}
	if !out.Trustees.CheckShare(share) {
		return TrusteeShare{}, fmt.Errorf("trustee %d's combined share does not match its public key", j)
	}
	return share, nil
}
