package ballot

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cloudflare/circl/group"

	pv "primaryvote"
)

// newCeremony registers n fresh trustees for a k-of-n ceremony.
func newCeremony(t testing.TB, election string, k, n int) (*Ceremony, []*TrusteeSecrets) {
	t.Helper()
	c := &Ceremony{ElectionID: election, Threshold: k}
	var secrets []*TrusteeSecrets
	for i := 1; i <= n; i++ {
		id, s, err := NewTrusteeIdentity(i, fmt.Sprintf("trustee %d", i))
		if err != nil {
			t.Fatal(err)
		}
		c.Trustees = append(c.Trustees, id)
		secrets = append(secrets, s)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	return c, secrets
}

// board is what a ceremony posts.
type board struct {
	deals    []*Deal
	verdicts []*Verdict
	answers  []*Answer
	opened   []map[int]group.Scalar // per trustee, the shares it opened
}

// runCeremony runs every step for every trustee; cheat, if set, may change
// a deal before it is posted.
func runCeremony(t testing.TB, c *Ceremony, secrets []*TrusteeSecrets, cheat func(d *Deal)) *board {
	t.Helper()
	b := &board{}
	for i, s := range secrets {
		d, err := c.Deal(i+1, s)
		if err != nil {
			t.Fatal(err)
		}
		if cheat != nil {
			cheat(d)
		}
		b.deals = append(b.deals, d)
	}
	for j, s := range secrets {
		v, opened, err := c.Judge(j+1, b.deals, s)
		if err != nil {
			t.Fatal(err)
		}
		b.verdicts = append(b.verdicts, v)
		b.opened = append(b.opened, opened)
	}
	for _, v := range b.verdicts {
		for _, dealer := range v.Complaints {
			a, err := c.Answer(b.deals[dealer-1], v.Trustee, secrets[dealer-1])
			if err != nil {
				t.Fatal(err)
			}
			b.answers = append(b.answers, a)
		}
	}
	return b
}

// keyCeremony runs an honest k-of-n ceremony in memory and returns its
// outcome and every trustee's share.
func keyCeremony(t testing.TB, id string, k, n int) (*Trustees, []TrusteeShare) {
	t.Helper()
	c, secrets := newCeremony(t, id, k, n)
	b := runCeremony(t, c, secrets, nil)
	out, err := c.Decide(b.deals, b.verdicts, b.answers)
	if err != nil {
		t.Fatal(err)
	}
	var shares []TrusteeShare
	for j := 1; j <= n; j++ {
		s, err := c.Combine(j, out, b.opened[j-1], b.answers)
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, s)
	}
	return out.Trustees, shares
}

// decryptsWith checks that the trustees in subset decrypt sums of ballots
// under the ceremony's key to the right counts.
func decryptsWith(t *testing.T, c *Ceremony, out *Outcome, shares []TrusteeShare, subset []int) {
	t.Helper()
	e, _ := testElection(t, c.ElectionID)
	e.Groups = []Group{{ID: "members", Name: "M", Weight: 1}}
	e.Key = out.Trustees.Key
	sums := e.NewSums()
	for _, leader := range []string{"a", "b", "a"} {
		raw, err := e.Encrypt(testVoter, Selections{"leader": {leader}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.VerifyBallot(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := sums.AddBallot(e, "members", b); err != nil {
			t.Fatal(err)
		}
	}
	var partials []*PartialDecryption
	for _, i := range subset {
		p, err := e.PartialDecrypt(out.Trustees, sums, shares[i-1])
		if err != nil {
			t.Fatal(err)
		}
		if err := e.VerifyPartial(out.Trustees, sums, p); err != nil {
			t.Fatalf("trustee %d's partial decryption: %v", i, err)
		}
		partials = append(partials, p)
	}
	counts, err := e.Counts(out.Trustees, sums, partials)
	if err != nil {
		t.Fatalf("trustees %v: %v", subset, err)
	}
	if counts[0] != 2 || counts[1] != 1 {
		t.Errorf("trustees %v count %v; want a 2, b 1", subset, counts[:2])
	}
}

// Honest 2-of-3 and 3-of-5 ceremonies: every dealer qualifies, every
// trustee's share matches the public outcome, and two different qualified
// subsets each decrypt.
func TestCeremony(t *testing.T) {
	t.Parallel()
	for _, kn := range []struct {
		k, n     int
		subsets  [][]int
		election string
	}{
		{2, 3, [][]int{{1, 2}, {2, 3}}, "e23"},
		{3, 5, [][]int{{1, 3, 5}, {2, 3, 4}}, "e35"},
	} {
		t.Run(fmt.Sprintf("%d-of-%d", kn.k, kn.n), func(t *testing.T) {
			t.Parallel()
			c, secrets := newCeremony(t, kn.election, kn.k, kn.n)
			b := runCeremony(t, c, secrets, nil)
			out, err := c.Decide(b.deals, b.verdicts, b.answers)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Qualified) != kn.n || len(out.Excluded) != 0 || len(b.answers) != 0 {
				t.Fatalf("qualified %v, excluded %v", out.Qualified, out.Excluded)
			}
			if err := out.Trustees.Check(); err != nil {
				t.Fatal(err)
			}
			var shares []TrusteeShare
			for j := 1; j <= kn.n; j++ {
				s, err := c.Combine(j, out, b.opened[j-1], b.answers)
				if err != nil {
					t.Fatal(err)
				}
				shares = append(shares, s)
			}
			for _, subset := range kn.subsets {
				decryptsWith(t, c, out, shares, subset)
			}
		})
	}
}

// A dealer who sends a trustee a bad share is named by that trustee's
// complaint. Answering it with the right share keeps the dealer; answering
// with a wrong one, or not at all, excludes it, and the election key is the
// remaining dealers' when there are enough of them.
func TestCeremonyCheatingDealer(t *testing.T) {
	t.Parallel()
	c, secrets := newCeremony(t, "e1", 2, 3)
	// Dealer 2 seals a share that does not match its commitments to
	// trustee 3 (and keeps the same wrong value).
	badShare := func(d *Deal) {
		if d.Dealer != 2 {
			return
		}
		wrong := g.RandomScalar(rand.Reader)
		aad := shareAAD(d.Commitments)
		d.Shares[2], _ = c.seal(c.Trustees[2].ShareKey, c.shareInfo("share", 2, 3), wrong, aad)
		d.Kept[2], _ = c.seal(c.Trustees[1].ShareKey, c.shareInfo("kept", 2, 3), wrong, aad)
		d.Signature = c.sign(secrets[1], "deal", 2, dealBody(d))
	}
	b := runCeremony(t, c, secrets, badShare)
	if !slices.Equal(b.verdicts[2].Complaints, []int{2}) {
		t.Fatalf("trustee 3 complains about %v; want dealer 2", b.verdicts[2].Complaints)
	}
	out, err := c.Decide(b.deals, b.verdicts, b.answers)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Qualified, []int{1, 3}) || !strings.Contains(out.Excluded[2], "does not match its commitments") {
		t.Fatalf("qualified %v, excluded %v; want 2 excluded for its answer", out.Qualified, out.Excluded)
	}
	var shares []TrusteeShare
	for j := 1; j <= 3; j++ {
		s, err := c.Combine(j, out, b.opened[j-1], b.answers)
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, s)
	}
	decryptsWith(t, c, out, shares, []int{1, 3})
	decryptsWith(t, c, out, shares, []int{2, 3})

	// Without the answer, the dealer is excluded too.
	out, err = c.Decide(b.deals, b.verdicts, nil)
	if err != nil || !strings.Contains(out.Excluded[2], "did not answer trustee 3") {
		t.Errorf("no answer: excluded %v, %v", out.Excluded, err)
	}

	// A false complaint: the dealer answers with the share it dealt, which
	// matches, and stays qualified; the complainer gets its share from the
	// answer.
	c2, secrets2 := newCeremony(t, "e2", 2, 3)
	b2 := runCeremony(t, c2, secrets2, nil)
	v := b2.verdicts[0]
	v.Complaints = []int{3}
	v.Signature = c2.sign(secrets2[0], "verdict", 1, verdictBody(v))
	delete(b2.opened[0], 3)
	a, err := c2.Answer(b2.deals[2], 1, secrets2[2])
	if err != nil {
		t.Fatal(err)
	}
	out2, err := c2.Decide(b2.deals, b2.verdicts, []*Answer{a})
	if err != nil || len(out2.Qualified) != 3 {
		t.Fatalf("a false complaint: qualified %v, excluded %v, %v", out2.Qualified, out2.Excluded, err)
	}
	if _, err := c2.Combine(1, out2, b2.opened[0], []*Answer{a}); err != nil {
		t.Errorf("the complainer combines with the answer: %v", err)
	}
}

// Too few qualified dealers: the ceremony refuses to finish.
func TestCeremonyTooFewQualified(t *testing.T) {
	t.Parallel()
	c, secrets := newCeremony(t, "e1", 3, 4)
	b := runCeremony(t, c, secrets, nil)
	out, err := c.Decide(b.deals[:2], b.verdicts, nil)
	if pv.ErrorCode(err) != pv.EConflict || !strings.Contains(err.Error(), "2 dealers qualify") || out.Trustees != nil {
		t.Errorf("Decide with two of four deals = %v, %v; want refused", out, err)
	}
	if out.Excluded[3] != "dealt nothing" || out.Excluded[4] != "dealt nothing" {
		t.Errorf("excluded %v", out.Excluded)
	}
}

// Messages are bound to their election and sender: one replayed from
// another election, altered, or signed by another trustee is refused.
func TestCeremonyMessagesAreBound(t *testing.T) {
	t.Parallel()
	c, secrets := newCeremony(t, "e1", 2, 3)
	b := runCeremony(t, c, secrets, nil)
	other := &Ceremony{ElectionID: "e2", Threshold: c.Threshold, Trustees: c.Trustees}
	if _, err := other.Decide(b.deals, b.verdicts, nil); err == nil || !strings.Contains(err.Error(), `not signed by its key for election "e2"`) {
		t.Errorf("deals replayed into another election: %v", err)
	}
	d := *b.deals[0]
	d.Commitments = slices.Clone(d.Commitments)
	d.Commitments[1] = d.Commitments[0]
	if err := c.CheckDeal(&d); err == nil {
		t.Error("an altered deal passed")
	}
	d = *b.deals[0]
	d.Dealer = 2
	if err := c.CheckDeal(&d); err == nil {
		t.Error("dealer 1's deal passed as dealer 2's")
	}
	forged := c.answerWith(1, 2, g.NewScalar(), secrets[1]) // signed by trustee 2 as dealer 1
	if _, err := c.Decide(b.deals, b.verdicts, []*Answer{forged}); err == nil {
		t.Error("an answer signed by another trustee passed")
	}
	if _, err := c.Decide(append(b.deals, b.deals[0]), b.verdicts, nil); err == nil || !strings.Contains(err.Error(), "dealt twice") {
		t.Errorf("a deal posted twice: %v", err)
	}
	bad := *b.verdicts[0]
	bad.Complaints = []int{1}
	bad.Signature = c.sign(secrets[0], "verdict", 1, verdictBody(&bad))
	if err := c.CheckVerdict(&bad); err == nil {
		t.Error("a trustee complaining about itself passed")
	}
	for name, params := range map[string]*Ceremony{
		"threshold 0":         {ElectionID: "e", Threshold: 0, Trustees: c.Trustees},
		"threshold above n":   {ElectionID: "e", Threshold: 4, Trustees: c.Trustees},
		"a trustee twice":     {ElectionID: "e", Threshold: 2, Trustees: []TrusteeIdentity{c.Trustees[0], {Index: 2, SigningKey: c.Trustees[0].SigningKey, ShareKey: c.Trustees[1].ShareKey}}},
		"out of order":        {ElectionID: "e", Threshold: 1, Trustees: []TrusteeIdentity{c.Trustees[1]}},
		"a short signing key": {ElectionID: "e", Threshold: 1, Trustees: []TrusteeIdentity{{Index: 1, SigningKey: c.Trustees[0].SigningKey[:31], ShareKey: c.Trustees[0].ShareKey}}},
	} {
		if err := params.Check(); err == nil {
			t.Errorf("%s: Check passed", name)
		}
	}
}

// An identity file round-trips under its passphrase, and refuses a wrong
// passphrase, a changed public half and a short passphrase.
func TestIdentityFile(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	id, err := WriteIdentity(&buf, "Trustee Kim", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	back, s, err := ReadIdentity(bytes.NewReader(buf.Bytes()), "correct horse battery")
	if err != nil || back.Name != "Trustee Kim" || !bytes.Equal(back.SigningKey, id.SigningKey) || !s.Matches(id) {
		t.Fatalf("ReadIdentity = %+v, %v", back, err)
	}
	if _, _, err := ReadIdentity(bytes.NewReader(buf.Bytes()), "wrong passphrase!"); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("a wrong passphrase: %v", err)
	}
	other, _, _ := NewTrusteeIdentity(0, "x")
	changed := bytes.Replace(buf.Bytes(), []byte(hex.EncodeToString(id.ShareKey)), []byte(hex.EncodeToString(other.ShareKey)), 1)
	if _, _, err := ReadIdentity(bytes.NewReader(changed), "correct horse battery"); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("a changed share key: %v", err)
	}
	if _, err := WriteIdentity(&buf, "x", "short"); pv.ErrorCode(err) != pv.EInvalid {
		t.Errorf("a short passphrase: %v", err)
	}
}
