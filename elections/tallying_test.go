package elections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	pv "primaryvote"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

// castKnown casts a fixed set of ballots in election el and returns the
// expected votes per question/candidate/group index (members 0, public 1).
func castKnown(t *testing.T, env *fixture.Env, el *fixture.Election) map[string][2]int {
	t.Helper()
	choices := []ballot.Selections{
		{"leader": {"a"}, "council": {"p", "q"}}, // V1 members
		{"leader": {"b"}, "council": {"q"}},      // V2 public
		{"leader": {"a"}, "council": {"r", "s"}}, // V3 members
		{"leader": {"a"}, "council": {"q", "t"}}, // V4 public
		{"leader": {"c"}, "council": {"p"}},      // V5 members
	}
	want := map[string][2]int{}
	for i, sel := range choices {
		if _, _, err := env.Elections.Cast(context.Background(), castReq(t, env, el, el.Voters[i], "k", sel)); err != nil {
			t.Fatal(err)
		}
		gi := i % 2 // fixture: odd-numbered voters are members
		for q, cs := range sel {
			for _, c := range cs {
				v := want[q+"/"+c]
				v[gi]++
				want[q+"/"+c] = v
			}
		}
	}
	return want
}

func TestTallyDecryptPublish(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 8, true)
	ctx := context.Background()
	e := env.Elections
	want := castKnown(t, env, el)

	if _, err := e.Tally(ctx, el.ID, "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Tally while open = %v; want conflict", err)
	}
	if err := e.Close(ctx, el.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if err := env.Decrypt(ctx, el.ID, el.Shares[0], "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Decrypt before Tally = %v; want conflict", err)
	}
	sums, err := e.Tally(ctx, el.ID, "test")
	if err != nil || sums.Ballots() != 5 {
		t.Fatalf("Tally = %v, %v", sums, err)
	}
	if _, err := e.Tally(ctx, el.ID, "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Tally twice = %v; want conflict", err)
	}
	if err := e.Publish(ctx, el.ID, "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Publish before the count = %v; want conflict", err)
	}

	// Trustee 1 decrypts; one partial decryption is not enough.
	if err := env.Decrypt(ctx, el.ID, el.Shares[0], "test"); err != nil {
		t.Fatal(err)
	}
	if err := env.Decrypt(ctx, el.ID, el.Shares[0], "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Decrypt twice = %v; want conflict", err)
	}
	if _, err := e.FinishTally(ctx, el.ID, "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("FinishTally with 1 of 2 = %v; want conflict", err)
	}
	// A partial decryption whose proof does not hold for the stored sums and
	// the trustee's key (trustee 1's, posted as trustee 2's) is refused and
	// stores nothing.
	be, _ := e.Get(ctx, el.ID)
	tr, _ := e.Trustees(ctx, el.ID)
	p, err := be.PartialDecrypt(tr, sums, el.Shares[0])
	if err != nil {
		t.Fatal(err)
	}
	p.Trustee = 2
	if err := e.PostPartial(ctx, el.ID, p, "test"); pv.ErrorCode(err) != pv.EInvalid {
		t.Errorf("a partial decryption under another trustee's name = %v; want refused", err)
	}
	if n := env.Count(t, `SELECT count(*) FROM partial_decryptions`); n != 1 {
		t.Errorf("%d partial decryptions stored; want 1", n)
	}
	// Trustee 3 cheats: its stored shares are altered after its proof was made.
	if err := env.Decrypt(ctx, el.ID, el.Shares[2], "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.DB.OwnerPool.Exec(ctx, `UPDATE partial_decryptions SET shares = (SELECT shares FROM partial_decryptions WHERE trustee = 1) WHERE trustee = 3`); err != nil {
		t.Fatal(err)
	}
	report, err := e.FinishTally(ctx, el.ID, "test")
	if pv.ErrorCode(err) != pv.EConflict || len(report.Rejected) != 1 || report.Rejected[0].Trustee != 3 {
		t.Fatalf("FinishTally with a cheating trustee 3 = %+v, %v; want trustee 3 rejected and too few left", report, err)
	}
	// Trustee 2 decrypts honestly: trustees 1 and 2 make the count.
	if err := env.Decrypt(ctx, el.ID, el.Shares[1], "test"); err != nil {
		t.Fatal(err)
	}
	report, err = e.FinishTally(ctx, el.ID, "test")
	if err != nil || fmt.Sprint(report.Used) != "[1 2]" || len(report.Rejected) != 1 {
		t.Fatalf("FinishTally = %+v, %v; want trustees [1 2] used and trustee 3 rejected", report, err)
	}
	for _, q := range report.Results.Questions {
		for _, c := range q.Candidates {
			w := want[q.ID+"/"+c.ID]
			if c.Votes[0] != w[0] || c.Votes[1] != w[1] {
				t.Errorf("%s/%s votes = %v; want %v", q.ID, c.ID, c.Votes, w)
			}
		}
	}
	// Leader: members a 2, c 1 (66.67%, 33.33%); public a 1, b 1 (50%, 50%).
	// Combined 50/50: a 58.33, b 25, c 16.67.
	leader := report.Results.Questions[0]
	if leader.Candidates[0].ID != "a" || leader.Candidates[0].Combined != 58.33 || leader.Candidates[1].Combined != 25 {
		t.Errorf("leader results = %+v", leader.Candidates)
	}

	if _, err := e.Results(ctx, el.ID); pv.ErrorCode(err) != pv.ENotFound {
		t.Errorf("Results before publication = %v; want not found", err)
	}
	if err := e.Publish(ctx, el.ID, "test"); err != nil {
		t.Fatal(err)
	}
	body, err := e.Results(ctx, el.ID)
	var published ballot.Results
	if err != nil || json.Unmarshal(body, &published) != nil || published.Ballots != 5 {
		t.Errorf("Results = %s, %v", body, err)
	}
}
