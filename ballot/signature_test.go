package ballot

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudflare/circl/group"
)

var updateSignatureVectors = updateCredentialVectors

func TestSignInStatement(t *testing.T) {
	t.Parallel()
	got := hex.EncodeToString(SignInStatement("e1", "V1", time.UnixMilli(0x0102030405)))
	if want := "00000002" + "6531" + "00000002" + "5631" + "0000000102030405"; got != want {
		t.Errorf("SignInStatement = %s; want %s", got, want)
	}
}

func TestSignatures(t *testing.T) {
	t.Parallel()
	c, _ := DeriveCredential("e1", NewCode())
	other, _ := DeriveCredential("e1", NewCode())
	msg := []byte("statement")
	sig := c.Sign("sign-in", msg)
	if err := VerifySignature(c.Public(), "sign-in", msg, sig); err != nil {
		t.Fatalf("VerifySignature(good) = %v", err)
	}
	if bytes.Equal(sig, c.Sign("sign-in", msg)) {
		t.Error("two signatures of one message are equal: the nonce is not fresh")
	}
	sPlusL := new(big.Int).Add(leBig(sig[32:]), groupOrder())
	bad := map[string][4][]byte{
		"another message": {c.Public(), []byte("sign-in"), []byte("statement!"), sig},
		"another context": {c.Public(), []byte("ballot"), msg, sig},
		"another key":     {other.Public(), []byte("sign-in"), msg, sig},
		"R altered":       {c.Public(), []byte("sign-in"), msg, append(other.Public(), sig[32:]...)},
		"s + ℓ":           {c.Public(), []byte("sign-in"), msg, append(append([]byte{}, sig[:32]...), leBytes(sPlusL, 32)...)},
		"short":           {c.Public(), []byte("sign-in"), msg, sig[:63]},
		"identity key":    {make([]byte, 32), []byte("sign-in"), msg, sig},
	}
	for name, in := range bad {
		if err := VerifySignature(in[0], string(in[1]), in[2], in[3]); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

type signatureVector struct {
	Election string `json:"election"`
	Code     string `json:"code"`
	Context  string `json:"context"`
	Message  string `json:"message"`
	Random   string `json:"random"`
	P        string `json:"p"`
	Nonce    string `json:"nonce_k"`
	Sig      string `json:"signature"`
}

// TestSignatureVectors re-derives the committed signatures with the package
// and checks them by FORMAT.md alone, with circl's group operations.
func TestSignatureVectors(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "signatures.json")
	if *updateSignatureVectors {
		var vs []signatureVector
		for i, in := range [][3]string{
			{"7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5A", "sign-in", "hello"},
			{"7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5A", "ballot", ""},
			{"ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ", "ballot", "\x00\x01\x02"},
			{"7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5A", SignInContext, string(SignInStatement("primary-2026", "M0012345", time.UnixMilli(1796000000123)))},
		} {
			c, _ := DeriveCredential("primary-2026", in[0])
			random := bytes.Repeat([]byte{byte(i + 1)}, 32)
			sig := c.sign(in[1], []byte(in[2]), random)
			vs = append(vs, signatureVector{Election: "primary-2026", Code: in[0], Context: in[1], Message: hex.EncodeToString([]byte(in[2])),
				Random: hex.EncodeToString(random), P: c.PublicHex(), Sig: hex.EncodeToString(sig)})
		}
		for i := range vs {
			vs[i].Nonce = hex.EncodeToString(specNonce(t, vs[i]))
		}
		b, _ := json.MarshalIndent(vs, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []signatureVector
	if err := json.Unmarshal(raw, &vs); err != nil || len(vs) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	r255 := group.Ristretto255
	for _, v := range vs {
		c, _ := DeriveCredential(v.Election, v.Code)
		msg, _ := hex.DecodeString(v.Message)
		random, _ := hex.DecodeString(v.Random)
		if got := hex.EncodeToString(c.sign(v.Context, msg, random)); got != v.Sig {
			t.Errorf("%s/%s: signed %s; the vector says %s", v.Code, v.Context, got, v.Sig)
		}
		// By the document: k from the nonce hash, R = k·G, c from the
		// transcript, s = k + c·x, and s·G = R + c·P.
		sig, _ := hex.DecodeString(v.Sig)
		k := r255.NewScalar()
		nb, _ := hex.DecodeString(v.Nonce)
		if err := k.UnmarshalBinary(nb); err != nil || !bytes.Equal(nb, specNonce(t, v)) {
			t.Fatalf("%s: the nonce is not the document's", v.Code)
		}
		rb, _ := r255.NewElement().MulGen(k).MarshalBinary()
		if !bytes.Equal(rb, sig[:32]) {
			t.Errorf("%s: R is not k·G", v.Code)
		}
		pb, _ := hex.DecodeString(v.P)
		tr := specLP(nil, "primaryvote/v2/signature")
		tr = specLP(tr, v.Context)
		tr = append(append(tr, pb...), sig[:32]...)
		tr = specLP(tr, string(msg))
		ch := specHashToScalar(tr, "primaryvote-v2-signature")
		s := r255.NewScalar()
		if err := s.UnmarshalBinary(sig[32:]); err != nil {
			t.Fatal(err)
		}
		P := r255.NewElement()
		if err := P.UnmarshalBinary(pb); err != nil {
			t.Fatal(err)
		}
		R := r255.NewElement()
		R.UnmarshalBinary(sig[:32])
		lhs := r255.NewElement().MulGen(s)
		rhs := r255.NewElement().Add(R, r255.NewElement().Mul(P, ch))
		if !lhs.IsEqual(rhs) {
			t.Errorf("%s: s·G ≠ R + c·P by the document", v.Code)
		}
		if err := VerifySignature(pb, v.Context, msg, sig); err != nil {
			t.Errorf("%s: VerifySignature = %v", v.Code, err)
		}
	}
}

// specNonce is k = HashToScalar(lp(nonce domain) ‖ x ‖ random ‖ lp(context) ‖ lp(message)).
func specNonce(t *testing.T, v signatureVector) []byte {
	t.Helper()
	norm, _ := NormalizeCode(v.Code)
	x := specHashToScalar(credentialMessage(v.Election, norm), "primaryvote-v2-credential")
	xb, _ := x.MarshalBinary()
	random, _ := hex.DecodeString(v.Random)
	msg, _ := hex.DecodeString(v.Message)
	m := specLP(nil, "primaryvote/v2/signature-nonce")
	m = append(append(m, xb...), random...)
	m = specLP(specLP(m, v.Context), string(msg))
	k, _ := specHashToScalar(m, "primaryvote-v2-signature-nonce").MarshalBinary()
	return k
}

func BenchmarkSign(b *testing.B) {
	c, _ := DeriveCredential("e1", NewCode())
	msg := bytes.Repeat([]byte{7}, 64)
	for b.Loop() {
		c.Sign("ballot", msg)
	}
}

func BenchmarkVerifySignature(b *testing.B) {
	c, _ := DeriveCredential("e1", NewCode())
	msg := bytes.Repeat([]byte{7}, 64)
	sig := c.Sign("ballot", msg)
	for b.Loop() {
		if err := VerifySignature(c.Public(), "ballot", msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}
