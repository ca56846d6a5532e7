package ballot

import (
	"crypto"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudflare/circl/expander"
	"github.com/cloudflare/circl/group"
)

func FuzzNormalizeCode(f *testing.F) {
	f.Add(NewCode())
	f.Add("abcde fghjk mnpqr stvwx yz012")
	f.Add("OOOOO-IIIII-LLLLL-00000-11111")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		norm, ok := NormalizeCode(s)
		if !ok {
			return
		}
		if len(norm) != CodeSymbols {
			t.Fatalf("NormalizeCode(%q) = %q: want %d symbols", s, norm, CodeSymbols)
		}
		for _, c := range norm {
			if !strings.ContainsRune(codeAlphabet, c) {
				t.Fatalf("NormalizeCode(%q) = %q: %q is not in the alphabet", s, norm, c)
			}
		}
		if again, ok := NormalizeCode(norm); !ok || again != norm {
			t.Fatalf("NormalizeCode is not idempotent on %q", norm)
		}
	})
}

func TestNewCodeRoundTrips(t *testing.T) {
	t.Parallel()
	for range 100 {
		c := NewCode()
		norm, ok := NormalizeCode(c)
		if !ok || norm != strings.ReplaceAll(c, "-", "") {
			t.Fatalf("NormalizeCode(%q) = %q, %v", c, norm, ok)
		}
	}
}

var updateCredentialVectors = flag.Bool("update-credentials", false, "write testdata/credentials.json and signatures.json anew")

// credentialVector is one derivation, for an independent implementation to
// reproduce: the code as typed, its canonical form, x and P.
type credentialVector struct {
	Election  string `json:"election"`
	Code      string `json:"code"`
	Canonical string `json:"canonical"`
	Message   string `json:"message"`
	X         string `json:"x"`
	P         string `json:"p"`
}

// TestCredentialVectors derives the committed vectors twice: with the
// package's code, and from FORMAT.md alone (RFC 9380 expand_message_xmd
// with SHA-512, reduced mod ℓ, and circl's own base multiplication).
func TestCredentialVectors(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "credentials.json")
	if *updateCredentialVectors {
		var vs []credentialVector
		for _, in := range [][2]string{
			{"primary-2026", "7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5A"},
			{"primary-2026", "7kq2m xd9rt ovbc4 hn8pw 3ej5a"},
			{"demo", "00000-00000-00000-00000-00000"},
			{"당대표-2026", "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ"},
		} {
			c, err := DeriveCredential(in[0], in[1])
			if err != nil {
				t.Fatal(err)
			}
			norm, _ := NormalizeCode(in[1])
			vs = append(vs, credentialVector{Election: in[0], Code: in[1], Canonical: norm,
				Message: hex.EncodeToString(credentialMessage(in[0], norm)), X: hex.EncodeToString(encodeScalar(c.x)), P: c.PublicHex()})
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
	var vs []credentialVector
	if err := json.Unmarshal(raw, &vs); err != nil || len(vs) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	for _, v := range vs {
		c, err := DeriveCredential(v.Election, v.Code)
		if err != nil || c.PublicHex() != v.P || hex.EncodeToString(encodeScalar(c.x)) != v.X {
			t.Errorf("DeriveCredential(%q, %q) = %v; want x %s, P %s", v.Election, v.Code, err, v.X, v.P)
		}
		// By the document: lp(domain) ‖ lp(election id) ‖ lp(canonical code).
		var msg []byte
		for _, part := range []string{"primaryvote/v2/credential", v.Election, v.Canonical} {
			msg = append(msg, byte(len(part)>>24), byte(len(part)>>16), byte(len(part)>>8), byte(len(part)))
			msg = append(msg, part...)
		}
		if hex.EncodeToString(msg) != v.Message {
			t.Errorf("%s: the message is %x; the vector says %s", v.Code, msg, v.Message)
		}
		x := specHashToScalar(msg, "primaryvote-v2-credential")
		xb, _ := x.MarshalBinary()
		pb, _ := group.Ristretto255.NewElement().MulGen(x).MarshalBinary()
		if hex.EncodeToString(xb) != v.X || hex.EncodeToString(pb) != v.P {
			t.Errorf("%s: by the document x = %x, P = %x; the vector says %s, %s", v.Code, xb, pb, v.X, v.P)
		}
	}
	if _, err := DeriveCredential("e", "too short"); err != ErrCode {
		t.Errorf("DeriveCredential(short code) = %v; want ErrCode", err)
	}
}

func TestParsePublicCredential(t *testing.T) {
	t.Parallel()
	c, _ := DeriveCredential("e", NewCode())
	if b, err := ParsePublicCredential(c.PublicHex()); err != nil || hex.EncodeToString(b) != c.PublicHex() {
		t.Errorf("ParsePublicCredential(good) = %x, %v", b, err)
	}
	for _, bad := range []string{"", "zz", strings.ToUpper(c.PublicHex()), c.PublicHex() + "00",
		strings.Repeat("00", 32), strings.Repeat("ff", 32)} {
		if _, err := ParsePublicCredential(bad); err == nil {
			t.Errorf("ParsePublicCredential(%q) accepted", bad)
		}
	}
}

func TestReadCredentials(t *testing.T) {
	t.Parallel()
	a, _ := DeriveCredential("e", NewCode())
	b, _ := DeriveCredential("e", NewCode())
	good := CredentialsHeader + "\nA1,members," + a.PublicHex() + "\nA2,public," + b.PublicHex() + "\n"
	var got []PublicCredential
	if err := ReadCredentials(strings.NewReader(good), func(c PublicCredential) error { got = append(got, c); return nil }); err != nil ||
		len(got) != 2 || got[1].VoterID != "A2" || got[1].Group != "public" || hex.EncodeToString(got[0].P) != a.PublicHex() {
		t.Fatalf("ReadCredentials(good) = %+v, %v", got, err)
	}
	if line := string(AppendCredentialLine(nil, got[0])); line != "A1,members,"+a.PublicHex()+"\n" {
		t.Errorf("AppendCredentialLine = %q", line)
	}
	for want, file := range map[string]string{
		"empty":                                         "",
		"line 1: the header must be":                    "voter_id,group,p\n",
		"line 2: the file must end":                     CredentialsHeader + "\nA1,members," + a.PublicHex(),
		"line 2: want 3 columns":                        CredentialsHeader + "\nA1,members\n",
		`line 2: voter_id "A 1"`:                        CredentialsHeader + "\nA 1,members," + a.PublicHex() + "\n",
		`line 2: group "Members"`:                       CredentialsHeader + "\nA1,Members," + a.PublicHex() + "\n",
		"line 2: not a public credential":               CredentialsHeader + "\nA1,members," + strings.ToUpper(a.PublicHex()) + "\n",
		"line 2: not a public credential: the identity": CredentialsHeader + "\nA1,members," + strings.Repeat("00", 32) + "\n",
		`line 3: duplicate voter_id "A1"`:               CredentialsHeader + "\nA1,members," + a.PublicHex() + "\nA1,public," + b.PublicHex() + "\n",
		`line 3: the credential of "A2" is another`:     CredentialsHeader + "\nA1,members," + a.PublicHex() + "\nA2,public," + a.PublicHex() + "\n",
		"line 1: the header must be voter_id":           CredentialsHeader + "\r\nA1,members," + a.PublicHex() + "\n",
	} {
		err := ReadCredentials(strings.NewReader(file), func(PublicCredential) error { return nil })
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(want)) {
			t.Errorf("%q: %v; want an error with %q", file, err, want)
		}
	}
}

func TestRollReaderWithoutADefinition(t *testing.T) {
	t.Parallel()
	r := NewRollReader(strings.NewReader("\ufeffvoter_id,group,region\nA1,members,서울\nA2,any-group_1,x\n"))
	var ids []string
	for r.Next() {
		ids = append(ids, r.Voter().ID)
	}
	if r.Err() != nil || strings.Join(ids, ",") != "A1,A2" || r.Groups()["any-group_1"] != 1 {
		t.Errorf("read %v, groups %v, %v", ids, r.Groups(), r.Err())
	}
	r = NewRollReader(strings.NewReader("voter_id,group,region\nA1,Members!,x\n"))
	if r.Next() || r.Err() == nil || !strings.Contains(r.Err().Error(), `Line 2: unknown group "Members!"`) {
		t.Errorf("a malformed group: %v", r.Err())
	}
}

// BenchmarkDeriveCredential is the authority's cost per voter (and the
// device's once per sign-in).
func BenchmarkDeriveCredential(b *testing.B) {
	code := NewCode()
	for b.Loop() {
		if _, err := DeriveCredential("primary-2026", code); err != nil {
			b.Fatal(err)
		}
	}
}

// The document's primitives, written apart from the package's, for the
// vector tests.

func groupOrder() *big.Int {
	ell, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	return ell
}

func leBig(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(be)
}

func leBytes(n *big.Int, size int) []byte {
	be := n.FillBytes(make([]byte, size))
	le := make([]byte, size)
	for i := range be {
		le[size-1-i] = be[i]
	}
	return le
}

// specHashToScalar is RFC 9380 expand_message_xmd with SHA-512 to 64 bytes,
// read little-endian and reduced mod ℓ.
func specHashToScalar(msg []byte, dst string) group.Scalar {
	u := expander.NewExpanderMD(crypto.SHA512, []byte(dst)).Expand(msg, 64)
	return group.Ristretto255.NewScalar().SetBigInt(new(big.Int).Mod(leBig(u), groupOrder()))
}

func specLP(b []byte, s string) []byte {
	n := len(s)
	return append(append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n)), s...)
}
