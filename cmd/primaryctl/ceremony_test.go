package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/secretsharing"

	"primaryvote/ballot"
	"primaryvote/internal/dbtest"
)

// No one ever holds the election key. After a 2-of-3 ceremony run through
// the commands, the election secret x — found here by interpolating two
// trustees' shares, and checked against the election key — is in no file
// of the server (the database, as its owner dumps it, and the secrets
// directory) and in no single trustee's files, opened with its passphrase;
// and no single trustee's share is the key's secret.
func TestNoOneHoldsTheElectionKey(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	dir := t.TempDir()
	def := filepath.Join(dir, "election.json")
	os.WriteFile(def, demoDefinition, 0o600)
	roll := filepath.Join(dir, "roll.csv")
	os.WriteFile(roll, []byte("voter_id,group,region\nA1,delegates,서울\nA2,members,부산\n"), 0o600)
	c.must("migrate")
	c.must("election create --file " + def)
	c.must("roll import demo " + roll)
	c.must("credentials generate --election demo --roll " + roll + " --out " + filepath.Join(dir, "authority"))
	c.must("credentials import demo " + filepath.Join(dir, "authority", "demo-credentials.csv"))
	url, _ := c.board(t)
	shares := filepath.Join(dir, "shares")
	passphrases := []string{"first passphrase 1", "second passphrase 2", "third passphrase 3"}
	c.ceremony(t, url, "demo", dir, shares, passphrases)

	tool, err := connect(t.Context(), &c.env)
	if err != nil {
		t.Fatal(err)
	}
	defer tool.close()
	tr, err := tool.elections.Trustees(t.Context(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	var s []ballot.TrusteeShare
	for i := range passphrases {
		f, err := os.Open(filepath.Join(shares, fmt.Sprintf("demo-trustee-%d.share", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		share, err := ballot.ReadShare(f, passphrases[i])
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		s = append(s, share)
	}
	g := group.Ristretto255
	keyOf := func(x group.Scalar) []byte { b, _ := g.NewElement().MulGen(x).MarshalBinary(); return b }
	x, err := secretsharing.Recover(1, []secretsharing.Share{
		{ID: g.NewScalar().SetUint64(1), Value: s[0].Value}, {ID: g.NewScalar().SetUint64(3), Value: s[2].Value}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(keyOf(x), tr.Key.Bytes()) {
		t.Fatal("two trustees' shares do not give the election key's secret: the search below would prove nothing")
	}
	raw, _ := x.MarshalBinary()
	forms := map[string][]byte{"bytes": raw, "hex": []byte(hex.EncodeToString(raw)), "base64": []byte(base64.StdEncoding.EncodeToString(raw)),
		"base64url": []byte(base64.RawURLEncoding.EncodeToString(raw))}
	found := func(data []byte) string {
		for form, b := range forms {
			if bytes.Contains(data, b) {
				return form
			}
		}
		return ""
	}
	holds := func(what string, data []byte) {
		t.Helper()
		if form := found(data); form != "" {
			t.Errorf("%s holds the election secret (%s)", what, form)
		}
	}
	// The search finds the secret where it is, in each form.
	for form, b := range forms {
		if found(append([]byte("…"), b...)) == "" {
			t.Errorf("the search misses the secret in %s", form)
		}
	}

	// The server: its database, as the owner dumps it, its log (at debug
	// level) and its secrets.
	holds("the database", []byte(dbtest.Dump(t, c.env.OwnerURL)))
	if len(c.serverLog.Bytes()) == 0 {
		t.Error("the server logged nothing: the search of its log would prove nothing")
	}
	holds("the server's log", c.serverLog.Bytes())
	filepath.WalkDir(c.env.SecretsDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			holds("the server's "+path, b)
		}
		return nil
	})
	// Each trustee alone: its files, and what its passphrase opens.
	for i := range passphrases {
		for _, name := range []string{fmt.Sprintf("trustee-%d.identity", i+1), fmt.Sprintf("trustee-%d.public.json", i+1), filepath.Join("shares", fmt.Sprintf("demo-trustee-%d.share", i+1))} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			holds("trustee "+fmt.Sprint(i+1)+"'s "+name, b)
		}
		opened, _ := s[i].Value.MarshalBinary()
		holds(fmt.Sprintf("trustee %d's opened share", i+1), opened)
		if bytes.Equal(keyOf(s[i].Value), tr.Key.Bytes()) {
			t.Errorf("trustee %d's share alone is the election secret", i+1)
		}
	}
	if !strings.Contains(c.must("trustees status --url "+url+" --election demo"), "step: done") {
		t.Error("the ceremony is not done")
	}
}
