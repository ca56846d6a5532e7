package ballot

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/cloudflare/circl/group"

	pv "primaryvote"
)

// RFC 9496 Appendix A.1: the encodings of 0·B … 15·B.
var rfc9496Multiples = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
	"6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
	"94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
	"da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
	"e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
	"f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
	"44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
	"903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
	"02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
	"20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
	"bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
	"e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
	"aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
	"46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
	"e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
}

// RFC 9496 Appendix A.2: encodings every decoder must reject.
var rfc9496Invalid = []string{
	// Non-canonical field encodings.
	"00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	// Negative field elements.
	"0100000000000000000000000000000000000000000000000000000000000000",
	"01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20",
	"c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562",
	"c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78",
	"47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24",
	"f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72",
	"87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309",
	// Non-square x².
	"26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
	"4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
	"de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b",
	"bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042",
	"2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08",
	"f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22",
	"8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731",
	"2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b",
	// Negative xy value.
	"3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
	"a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220",
	"d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e",
	"8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32",
	"32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b",
	"227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165",
	"5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e",
	"445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b",
	// s = -1, which causes y = 0.
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

func TestRFC9496Vectors(t *testing.T) {
	t.Parallel()
	p := g.Identity()
	for i, want := range rfc9496Multiples {
		if got := hex.EncodeToString(encodeElement(p)); got != want {
			t.Errorf("%d·B = %s; want %s", i, got, want)
		}
		raw, _ := hex.DecodeString(want)
		d, err := decodeElement(raw)
		if err != nil || !d.IsEqual(p) {
			t.Errorf("decode(%d·B) = %v, %v", i, d, err)
		}
		// The ballot's points: the same encodings both ways.
		pt, err := decodePoint(raw)
		if err != nil || hex.EncodeToString(encodePoint(pt)) != want {
			t.Errorf("decodePoint(%d·B) = %v, %v", i, pt, err)
		}
		if got := hex.EncodeToString(encodePoint(timesG(i))); got != want {
			t.Errorf("timesG(%d) = %s; want %s", i, got, want)
		}
		if got := hex.EncodeToString(encodePoint(mulBase(scalarOf(uint64(i))))); got != want {
			t.Errorf("mulBase(%d) = %s; want %s", i, got, want)
		}
		if !element(pt).IsEqual(p) || !fromElement(p).Equals(pt) {
			t.Errorf("%d·B: point and element do not convert", i)
		}
		p.Add(p, g.Generator())
	}
	for _, enc := range rfc9496Invalid {
		raw, _ := hex.DecodeString(enc)
		if _, err := decodeElement(raw); err == nil {
			t.Errorf("decodeElement(%s) accepted an invalid encoding", enc)
		}
		if _, err := decodePoint(raw); err == nil {
			t.Errorf("decodePoint(%s) accepted an invalid encoding", enc)
		}
	}
}

// testElection is a two-question election with a fresh key; x is its secret.
func testElection(t testing.TB, id string) (*Election, group.Scalar) {
	t.Helper()
	x := randomScalar()
	cands := func(ids ...string) []Candidate {
		var out []Candidate
		for i, c := range ids {
			out = append(out, Candidate{ID: c, Number: i + 1, Name: c})
		}
		return out
	}
	return &Election{
		ID: id, Title: "t", Status: Open,
		Groups: []Group{{ID: "g", Name: "G", Weight: 1}},
		Questions: []Question{
			{ID: "leader", Title: "L", MinSelections: 1, MaxSelections: 1, Candidates: cands("a", "b", "c", "d", "e")},
			{ID: "council", Title: "C", MinSelections: 0, MaxSelections: 2, Candidates: cands("p", "q", "r")},
		},
		Key: newElectionKey(g.NewElement().MulGen(x)),
	}, x
}

// testVoter is the credential the package's tests cast with; otherVoter
// is another voter's.
var testVoter, otherVoter = mustCredential("e1", "7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5A"), mustCredential("e1", "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ")

func mustCredential(election, code string) *Credential {
	c, err := DeriveCredential(election, code)
	if err != nil {
		panic(err)
	}
	return c
}

// resign signs b's bytes again with cred, as a device that holds cred
// would after changing them.
func resign(e *Election, b *EncryptedBallot, cred *Credential) []byte {
	signed := b.encodeSigned(e)
	raw, err := e.AppendHints(append(signed, cred.Sign(BallotContext, signed)...))
	if err != nil {
		panic(err)
	}
	return raw
}

// decryptWith decrypts a ciphertext with the whole secret key (tests only).
func decryptWith(x group.Scalar, ct ciphertext) int {
	m := new(point).Sub(ct.beta, mulPublic(ct.alpha, x))
	for i := range 10 {
		if m.Equals(timesG(i)) {
			return i
		}
	}
	return -1
}

func TestEncryptVerifyDecrypt(t *testing.T) {
	t.Parallel()
	e, x := testElection(t, "e1")
	for _, sel := range []Selections{
		{"leader": {"c"}, "council": {"p", "r"}},
		{"leader": {"a"}},
		{"leader": {"e"}, "council": {"q"}},
	} {
		raw, err := e.Encrypt(testVoter, sel)
		if err != nil {
			t.Fatalf("Encrypt(%v) = %v", sel, err)
		}
		if len(raw) != e.BallotSize() {
			t.Fatalf("len = %d; want %d", len(raw), e.BallotSize())
		}
		b, err := e.VerifyBallot(raw)
		if err != nil {
			t.Fatalf("VerifyBallot(Encrypt(%v)) = %v", sel, err)
		}
		if !bytes.Equal(b.encode(e), raw) {
			t.Fatal("parse and encode do not round-trip")
		}
		for qi, q := range e.Questions {
			for oi, c := range q.Candidates {
				want := 0
				for _, s := range sel[q.ID] {
					if s == c.ID {
						want = 1
					}
				}
				if got := decryptWith(x, b.questions[qi].options[oi]); got != want {
					t.Errorf("%v: %s/%s decrypts to %d; want %d", sel, q.ID, c.ID, got, want)
				}
			}
		}
	}
	if _, err := e.Encrypt(testVoter, Selections{"leader": {"a", "b"}}); pv.ErrorCode(err) != pv.EInvalid {
		t.Errorf("Encrypt(invalid) = %v; want invalid", err)
	}
}

func TestEncryptionIsRandomised(t *testing.T) {
	t.Parallel()
	e, _ := testElection(t, "e1")
	sel := Selections{"leader": {"a"}}
	r1, _ := e.Encrypt(testVoter, sel)
	r2, _ := e.Encrypt(testVoter, sel)
	if bytes.Equal(r1, r2) {
		t.Fatal("two encryptions of the same choice are equal")
	}
}

// tamper parses a valid ballot, applies f and re-encodes it.
func tamper(t *testing.T, e *Election, raw []byte, f func(b *EncryptedBallot)) []byte {
	t.Helper()
	b, err := e.ParseBallot(raw)
	if err != nil {
		t.Fatal(err)
	}
	f(b)
	return b.encode(e)
}

func TestProofsRejectTampering(t *testing.T) {
	t.Parallel()
	e, x := testElection(t, "e1")
	raw, err := e.Encrypt(testVoter, Selections{"leader": {"b"}, "council": {"q"}})
	if err != nil {
		t.Fatal(err)
	}
	one := g.NewScalar().SetUint64(1)
	plusG := func(p *point) *point { return new(point).Add(p, new(point).SetBase()) }
	setCT := func(ct *ciphertext, alpha, beta *point) { *ct = newCiphertext(alpha, beta) }

	tests := map[string]func(b *EncryptedBallot){
		"tampered α": func(b *EncryptedBallot) {
			ct := &b.questions[0].options[0]
			setCT(ct, plusG(ct.alpha), ct.beta)
		},
		"tampered β (0 becomes 1)": func(b *EncryptedBallot) {
			ct := &b.questions[0].options[0]
			setCT(ct, ct.alpha, plusG(ct.beta))
		},
		"tampered challenge": func(b *EncryptedBallot) {
			br := &b.questions[0].proofs[1][0]
			br.c = g.NewScalar().Add(br.c, one)
		},
		"tampered response": func(b *EncryptedBallot) {
			br := &b.questions[0].proofs[1][1]
			br.z = g.NewScalar().Add(br.z, one)
		},
		"tampered commitment": func(b *EncryptedBallot) {
			br := &b.questions[1].proofs[0][0]
			br.a = plusG(br.a)
			br.encodeCommitments()
		},
		"challenges shifted between branches": func(b *EncryptedBallot) {
			p := b.questions[0].proofs[2]
			p[0].c = g.NewScalar().Add(p[0].c, one)
			p[1].c = g.NewScalar().Sub(p[1].c, one)
		},
		"tampered sum proof": func(b *EncryptedBallot) {
			br := &b.questions[1].sumProof[2]
			br.z = g.NewScalar().Add(br.z, one)
		},
		"candidates swapped (another option)": func(b *EncryptedBallot) {
			q := &b.questions[0]
			q.options[0], q.options[1] = q.options[1], q.options[0]
			q.proofs[0], q.proofs[1] = q.proofs[1], q.proofs[0]
		},
		"option moved to another question": func(b *EncryptedBallot) {
			b.questions[1].options[0], b.questions[0].options[0] = b.questions[0].options[0], b.questions[1].options[0]
			b.questions[1].proofs[0], b.questions[0].proofs[0] = b.questions[0].proofs[0], b.questions[1].proofs[0]
		},
		"a second vote (1 where 0 was, with its own valid proof)": func(b *EncryptedBallot) {
			// A valid 0-or-1 ciphertext for option c, encrypting 1: its own proof
			// verifies, but the question now totals 2 and the sum proof fails.
			ct, r := encryptValue(e.Key, 1, randomScalar)
			b.questions[0].options[2] = ct
			b.questions[0].proofs[2] = proveRange(e.proofContext(b.credentialEnc, 0, 2), ct, r, 1, 0, 1, randomScalar)
		},
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := e.VerifyBallot(tamper(t, e, raw, f)); pv.ErrorCode(err) != pv.EInvalid || !strings.Contains(err.Error(), "does not verify") {
				t.Errorf("VerifyBallot = %v; want a failed proof", err)
			}
		})
	}

	// The same ballot presented for another election with the same key.
	other := *e
	other.ID = "e2"
	relabelled := bytes.Replace(raw, []byte("\x02e1"), []byte("\x02e2"), 1)
	if _, err := other.VerifyBallot(relabelled); err == nil {
		t.Error("a ballot's proofs verified for another election")
	}
	// Under another key.
	other = *e
	other.Key = newElectionKey(g.NewElement().MulGen(randomScalar()))
	if _, err := other.VerifyBallot(raw); err == nil {
		t.Error("a ballot verified under another key")
	}
	_ = x
}

// TestBallotIsBoundToItsCredential copies a ballot, or one race of it, into
// another voter's ballot, signed with that voter's own key: the proofs,
// which bind the credential, refuse it. And a ballot whose signature is not
// the named credential's is refused.
func TestBallotIsBoundToItsCredential(t *testing.T) {
	t.Parallel()
	e, _ := testElection(t, "e1")
	mine, _ := e.Encrypt(testVoter, Selections{"leader": {"b"}, "council": {"q"}})
	theirs, _ := e.Encrypt(otherVoter, Selections{"leader": {"a"}, "council": {"p"}})
	parse := func(raw []byte) *EncryptedBallot {
		b, err := e.ParseBallot(raw)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string]struct {
		raw  []byte
		want string
	}{
		"a whole ballot under another credential": {func() []byte {
			b := parse(mine)
			b.credentialEnc = otherVoter.Public()
			return resign(e, b, otherVoter)
		}(), `question "leader", candidate "a": the proof that it encrypts 0 or 1 does not verify`},
		"one race copied into another voter's ballot": {func() []byte {
			b, m := parse(theirs), parse(mine)
			b.questions[0] = m.questions[0]
			return resign(e, b, otherVoter)
		}(), `question "leader", candidate "a": the proof that it encrypts 0 or 1 does not verify`},
		"signed by a key other than the named credential": {func() []byte {
			return resign(e, parse(mine), otherVoter)
		}(), "its signature does not verify"},
		"signature altered": {func() []byte {
			b := append([]byte(nil), mine...)
			b[e.hintsOffset()-1] ^= 0x01
			return b
		}(), "its signature does not verify"},
		"one bit of a ciphertext altered, everything re-signed": {func() []byte {
			b := parse(mine)
			ct := &b.questions[1].options[2]
			*ct = newCiphertext(ct.alpha, new(point).Add(ct.beta, new(point).SetBase()))
			return resign(e, b, testVoter)
		}(), `question "council", candidate "r": the proof that it encrypts 0 or 1 does not verify`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := e.VerifyBallot(tc.raw)
			if pv.ErrorCode(err) != pv.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("VerifyBallot = %v; want %q", err, tc.want)
			}
		})
	}
	if b, err := e.VerifyBallot(mine); err != nil || !bytes.Equal(b.Credential(), testVoter.Public()) {
		t.Fatalf("VerifyBallot(mine) = %v; credential %x", err, b.Credential())
	}
	if _, err := e.Encrypt(nil, Selections{"leader": {"a"}}); pv.ErrorCode(err) != pv.EInvalid {
		t.Errorf("Encrypt without a credential = %v; want invalid", err)
	}
}

func TestParseBallotIsStrict(t *testing.T) {
	t.Parallel()
	e, _ := testElection(t, "e1")
	raw, _ := e.Encrypt(testVoter, Selections{"leader": {"a"}})
	nonCanonical, _ := hex.DecodeString("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	head := len(ballotMagic) + 1 + len(e.ID)
	cases := map[string][]byte{
		"short":       raw[:len(raw)-1],
		"long":        append(append([]byte{}, raw...), 0),
		"wrong magic": append([]byte("PVB1"), raw[4:]...),
		"identity credential": func() []byte {
			b := append([]byte{}, raw...)
			copy(b[head:], make([]byte, 32))
			return b
		}(),
		"non-canonical signature scalar": func() []byte {
			b := append([]byte{}, raw...)
			copy(b[len(b)-32:], bytes.Repeat([]byte{0xff}, 32))
			return b
		}(),
		"wrong election":  bytes.Replace(raw, []byte("\x02e1"), []byte("\x02e9"), 1),
		"non-canonical α": append(append(append([]byte{}, raw[:head+32]...), nonCanonical...), raw[head+64:]...),
		"scalar ≥ ℓ": func() []byte {
			b := append([]byte{}, raw...)
			copy(b[head+32+64+64:], bytes.Repeat([]byte{0xff}, 32))
			return b
		}(),
	}
	for name, b := range cases {
		if _, err := e.ParseBallot(b); pv.ErrorCode(err) != pv.EInvalid {
			t.Errorf("ParseBallot(%s) = %v; want invalid", name, err)
		}
	}
}

func FuzzParseBallot(f *testing.F) {
	e, _ := testElection(f, "e1")
	raw, _ := e.Encrypt(testVoter, Selections{"leader": {"a"}})
	f.Add(raw)
	f.Add(raw[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := e.VerifyBallot(b); err == nil && !bytes.Equal(b, raw) {
			// Anything else that verifies must at least re-encode to itself.
			pb, _ := e.ParseBallot(b)
			if !bytes.Equal(pb.encode(e), b) {
				t.Fatal("a verified ballot does not re-encode to its bytes")
			}
		}
	})
}

// BenchmarkEncrypt encrypts and proves a 5-candidate single-choice ballot.
func BenchmarkEncrypt(b *testing.B) {
	e, _ := testElection(b, "e1")
	e.Questions = e.Questions[:1]
	for b.Loop() {
		if _, err := e.Encrypt(testVoter, Selections{"leader": {"c"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify parses and verifies a 5-candidate single-choice ballot.
func BenchmarkVerify(b *testing.B) {
	e, _ := testElection(b, "e1")
	e.Questions = e.Questions[:1]
	raw, _ := e.Encrypt(testVoter, Selections{"leader": {"c"}})
	for b.Loop() {
		if _, err := e.VerifyBallot(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// TestKeyMulMatchesMul checks the election key's fixed-base table, in
// constant and in variable time, against a plain multiplication, at scalars
// whose signed digits reach the table's edges.
func TestKeyMulMatchesMul(t *testing.T) {
	t.Parallel()
	x := randomScalar()
	k := newElectionKey(g.NewElement().MulGen(x))
	minusOne := g.NewScalar().Neg(scalarOf(1))
	for _, s := range []group.Scalar{scalarOf(0), scalarOf(1), scalarOf(7), scalarOf(8), scalarOf(15), scalarOf(16),
		scalarOf(0x8888888888888888), scalarOf(0xffffffff), minusOne, randomScalar(), randomScalar()} {
		want := mulBase(g.NewScalar().Mul(x, s))
		if got := k.mul(scalarBytes(s)); !got.Equals(want) {
			t.Errorf("k.mul(%x) ≠ (x·s)·G", encodeScalar(s))
		}
		if got := k.mulPublic(scalarBytes(s)); !got.Equals(want) {
			t.Errorf("k.mulPublic(%x) ≠ (x·s)·G", encodeScalar(s))
		}
		if got := mulPublic(fromElement(k.point), s); !got.Equals(want) {
			t.Errorf("mulPublic(K, %x) ≠ (x·s)·G", encodeScalar(s))
		}
	}
}
