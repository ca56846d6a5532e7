package cosign

import (
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"primaryvote/audit/record"
)

func TestPolicyCheck(t *testing.T) {
	k1, _ := GenerateKey("a")
	k2, _ := GenerateKey("b")
	dup, _ := GenerateKey("a")
	logSigner, err := record.GenerateSigner(record.DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	logKey := logSigner.VerifierKey()
	for _, c := range []struct {
		name string
		p    Policy
	}{
		{"no witnesses", Policy{Quorum: 1}},
		{"quorum 0", Policy{Quorum: 0, Witnesses: []Witness{{Key: k1.VerifierKey(), URL: "http://a"}}}},
		{"quorum above the witnesses", Policy{Quorum: 2, Witnesses: []Witness{{Key: k1.VerifierKey(), URL: "http://a"}}}},
		{"a note key, not a cosignature key", Policy{Quorum: 1, Witnesses: []Witness{{Key: logKey, URL: "http://a"}}}},
		{"two witnesses of one name", Policy{Quorum: 1, Witnesses: []Witness{{Key: k1.VerifierKey(), URL: "http://a"}, {Key: dup.VerifierKey(), URL: "http://b"}}}},
		{"no scheme", Policy{Quorum: 1, Witnesses: []Witness{{Key: k1.VerifierKey(), URL: "a.example"}}}},
		{"a query", Policy{Quorum: 1, Witnesses: []Witness{{Key: k1.VerifierKey(), URL: "https://a.example/?x=1"}}}},
		{"a tampered key hash", Policy{Quorum: 1, Witnesses: []Witness{{Key: strings.Replace(k1.VerifierKey(), "+", "+0", 1)[:len(k1.VerifierKey())], URL: "http://a"}}}},
	} {
		if err := c.p.Check(); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	ok := Policy{Quorum: 2, Witnesses: []Witness{{Key: k1.VerifierKey(), URL: "http://a:1"}, {Key: k2.VerifierKey(), URL: "https://b.example/w"}}}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	swapped := Policy{Quorum: 2, Witnesses: []Witness{ok.Witnesses[1], {Key: k1.VerifierKey(), URL: "http://elsewhere"}}}
	if !ok.Equal(&swapped) {
		t.Error("the same keys and quorum in another order and at another address are the same policy")
	}
	if swapped.Quorum = 1; ok.Equal(&swapped) {
		t.Error("another quorum is another policy")
	}
}

func TestKeyRoundTrip(t *testing.T) {
	k, err := GenerateKey("camp-a.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParseKey(k.String())
	if err != nil || k2.VerifierKey() != k.VerifierKey() {
		t.Fatalf("%v %v", k2, err)
	}
	for _, bad := range []string{"", "PRIVATE+KEY+a+00000000+AAAA", strings.Replace(k.String(), "camp-a", "camp-b", 1)} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) succeeded", bad)
		}
	}
	if _, err := note.NewVerifier(k.VerifierKey()); err == nil {
		t.Error("a cosignature key is not a note signature key")
	}
}
