package elections_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	pv "primaryvote"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

// voteAndSum opens election el, casts a ballot for a (V00001) and one for
// b (V00002), closes it and sums the ballots.
func voteAndSum(t *testing.T, env *fixture.Env, el *fixture.Election) (*ballot.Election, *ballot.Sums) {
	t.Helper()
	ctx := context.Background()
	id := el.ID
	if err := env.Elections.Open(ctx, id, "test"); err != nil {
		t.Fatal(err)
	}
	for voter, leader := range map[string]string{"V00001": "a", "V00002": "b"} {
		if _, _, err := env.Elections.Cast(ctx, env.CastRequest(t, el, voter, ballot.Selections{"leader": {leader}, "council": {"p"}})); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Elections.Close(ctx, id, "test"); err != nil {
		t.Fatal(err)
	}
	sums, err := env.Elections.Tally(ctx, id, "test")
	if err != nil {
		t.Fatal(err)
	}
	e, err := env.Elections.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return e, sums
}

// decryptsWith checks that the trustees of subset decrypt sums to one vote
// for a and one for b.
func decryptsWith(t *testing.T, e *ballot.Election, tr *ballot.Trustees, sums *ballot.Sums, shares []ballot.TrusteeShare, subset []int) {
	t.Helper()
	var partials []*ballot.PartialDecryption
	for _, i := range subset {
		p, err := e.PartialDecrypt(tr, sums, shares[i-1])
		if err != nil {
			t.Fatal(err)
		}
		if err := e.VerifyPartial(tr, sums, p); err != nil {
			t.Fatalf("trustee %d: %v", i, err)
		}
		partials = append(partials, p)
	}
	counts, err := e.Counts(tr, sums, partials)
	if err != nil {
		t.Fatalf("trustees %v: %v", subset, err)
	}
	// Leader a and b, each in its voter's group: members then public.
	if counts[0] != 1 || counts[3] != 1 || counts[1] != 0 || counts[2] != 0 {
		t.Errorf("trustees %v count %v", subset, counts[:4])
	}
}

// 2-of-3 and 3-of-5 ceremonies through the store: the election cannot open
// before the ceremony finishes; afterwards every trustee's share matches
// the stored outcome, and two different subsets each decrypt the tally.
func TestCeremonyThroughTheStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		k, n    int
		subsets [][]int
	}{{2, 3, [][]int{{1, 3}, {2, 3}}}, {3, 5, [][]int{{1, 2, 5}, {2, 3, 4}}}} {
		t.Run(fmt.Sprintf("%d-of-%d", tc.k, tc.n), func(t *testing.T) {
			t.Parallel()
			env := fixture.New(t)
			ctx := context.Background()
			el := env.SetupKeyless(t, "e1", 2)
			c, trustees := env.Ceremony(t, "e1", tc.k, tc.n, nil)
			if err := env.Elections.Open(ctx, "e1", "test"); err == nil {
				t.Fatal("the election opened before its key ceremony finished")
			}
			st, err := env.Elections.Ceremony(ctx, "e1")
			if err != nil {
				t.Fatal(err)
			}
			if step, waiting := st.Waiting(); step != "finish" || waiting != nil {
				t.Errorf("Waiting = %s %v; want finish", step, waiting)
			}
			out, err := env.Elections.FinishCeremony(ctx, "e1", "test", false)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := env.Elections.Trustees(ctx, "e1")
			if err != nil || !bytes.Equal(stored.Key.Bytes(), out.Trustees.Key.Bytes()) || len(stored.Public) != tc.n {
				t.Fatalf("stored trustees %v, %v", stored, err)
			}
			shares := env.Shares(t, c, trustees, out)
			if _, err := env.Elections.FinishCeremony(ctx, "e1", "test", false); pv.ErrorCode(err) != pv.EConflict {
				t.Errorf("finishing twice: %v", err)
			}
			e, sums := voteAndSum(t, env, el)
			for _, subset := range tc.subsets {
				decryptsWith(t, e, stored, sums, shares, subset)
			}
		})
	}
}

// A dealer who seals trustee 3 a share it cannot open, and cannot answer
// the complaint, is excluded and named; the election key is the other
// dealers', and the election opens and is counted.
func TestCeremonyExcludesACheatingDealer(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	ctx := context.Background()
	el := env.SetupKeyless(t, "e1", 2)
	c, trustees := env.Ceremony(t, "e1", 2, 3, func(c *ballot.Ceremony, d *ballot.Deal, s *ballot.TrusteeSecrets) {
		if d.Dealer == 2 {
			d.Shares[2], d.Kept[2] = d.Shares[1], d.Kept[1] // trustee 2's, under trustee 3's name
			c.SignDeal(d, s)
		}
	})
	st, _ := env.Elections.Ceremony(ctx, "e1")
	if step, waiting := st.Waiting(); step != "answer" || len(waiting) != 1 || waiting[0] != 2 {
		t.Errorf("Waiting = %s %v; want an answer from trustee 2", step, waiting)
	}
	if _, err := env.Elections.FinishCeremony(ctx, "e1", "test", false); pv.ErrorCode(err) != pv.EConflict || !strings.Contains(err.Error(), "answer") {
		t.Errorf("finishing while an answer is due: %v", err)
	}
	out, err := env.Elections.FinishCeremony(ctx, "e1", "test", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Qualified) != 2 || out.Qualified[0] != 1 || out.Qualified[1] != 3 || !strings.Contains(out.Excluded[2], "did not answer trustee 3") {
		t.Fatalf("qualified %v, excluded %v", out.Qualified, out.Excluded)
	}
	shares := env.Shares(t, c, trustees, out)
	e, sums := voteAndSum(t, env, el)
	decryptsWith(t, e, out.Trustees, sums, shares, []int{1, 3})
}

// Too few qualified dealers: the ceremony refuses to finish and stores no
// key. Messages out of turn, twice, unsigned or from another election are
// refused and change nothing.
func TestCeremonyRefusals(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	ctx := context.Background()
	env.SetupKeyless(t, "e1", 2)
	env.SetupKeyless(t, "e2", 2)
	// Trustee 1 cannot open its shares from 2 and 3; 3 answers with the
	// right share, 2 cannot answer: two qualified dealers of the three
	// needed.
	c, trustees := env.Ceremony(t, "e1", 3, 3, func(c *ballot.Ceremony, d *ballot.Deal, s *ballot.TrusteeSecrets) {
		switch d.Dealer {
		case 2:
			d.Shares[0], d.Kept[0] = d.Shares[1], d.Kept[1]
		case 3:
			d.Shares[0] = d.Shares[1]
		}
		c.SignDeal(d, s)
	})
	if _, err := env.Elections.FinishCeremony(ctx, "e1", "test", true); pv.ErrorCode(err) != pv.EConflict || !strings.Contains(err.Error(), "2 dealers qualify") {
		t.Errorf("finishing with two qualified dealers of three: %v", err)
	}
	if _, err := env.Elections.Trustees(ctx, "e1"); pv.ErrorCode(err) != pv.ENotFound {
		t.Errorf("a key was stored: %v", err)
	}
	st, _ := env.Elections.Ceremony(ctx, "e1")
	before := len(st.Deals) + len(st.Verdicts) + len(st.Answers)

	// Election e1's deal posted to e2 (which registers the same trustees).
	other := *c
	other.ElectionID = "e2"
	if err := env.Elections.RegisterTrustees(ctx, "e2", &other, "test"); err != nil {
		t.Fatal(err)
	}
	if err := env.Elections.PostDeal(ctx, "e2", st.Deals[0]); err == nil || !strings.Contains(err.Error(), `election "e2"`) {
		t.Errorf("a deal replayed from another election: %v", err)
	}
	d, err := c.Deal(1, trustees[0].Secrets)
	if err != nil {
		t.Fatal(err)
	}
	for name, post := range map[string]func() error{
		"a second deal, after the verdicts": func() error { return env.Elections.PostDeal(ctx, "e1", d) },
		"a verdict again":                   func() error { return env.Elections.PostVerdict(ctx, "e1", st.Verdicts[0]) },
		"an answer again":                   func() error { return env.Elections.PostAnswer(ctx, "e1", st.Answers[0]) },
		"registering again":                 func() error { return env.Elections.RegisterTrustees(ctx, "e1", c, "test") },
		"a deal signed by another trustee": func() error {
			forged := *d
			forged.Dealer = 2
			return env.Elections.PostDeal(ctx, "e2", &forged)
		},
	} {
		if err := post(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	st, _ = env.Elections.Ceremony(ctx, "e1")
	if after := len(st.Deals) + len(st.Verdicts) + len(st.Answers); after != before {
		t.Errorf("the refusals logged %d messages", after-before)
	}
	// Before registration, nothing is taken.
	env.SetupKeyless(t, "e3", 2)
	if err := env.Elections.PostDeal(ctx, "e3", d); pv.ErrorCode(err) != pv.EConflict || !strings.Contains(err.Error(), "no trustees registered") {
		t.Errorf("a deal before registration: %v", err)
	}
}
