package elections_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

// entries returns the data of the queued audit entries of a kind.
func entries(t *testing.T, env *fixture.Env, kind string) []map[string]any {
	t.Helper()
	rows, err := env.DB.Pool.Query(context.Background(), `SELECT body FROM audit_entries WHERE kind = $1 ORDER BY id`, kind)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for rows.Next() {
		var body []byte
		rows.Scan(&body)
		var e struct{ Data map[string]any }
		json.Unmarshal(body, &e)
		out = append(out, e.Data)
	}
	return out
}

func TestVotersAppearInTheLogByPseudonym(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 4, true)
	ctx := context.Background()

	// The opening commits to the roll: its count and the root over the
	// sorted (pseudonym, group) entries anyone can recompute from the bundle.
	opened := entries(t, env, "election.open")
	roll, err := env.Elections.Roll(ctx, env.DB.Pool, "e1")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ballot.CommitRoll(roll)
	raw, _ := json.Marshal(opened[0]["roll"])
	var got ballot.RollCommitment
	json.Unmarshal(raw, &got)
	if len(opened) != 1 || got != want || want.Voters != 4 || len(want.Root) != 64 {
		t.Fatalf("election.open roll = %+v; want %+v", got, want)
	}

	// Sign-ins and failures are counted, not logged one by one: none of
	// them writes anything until the counts are logged.
	before := env.Count(t, `SELECT count(*) FROM audit_entries`)
	if _, err := env.SignIn("e1", "V00001", el.Codes["V00001"]); err != nil {
		t.Fatal(err)
	}
	env.SignIn("e1", "V00002", "wrong")
	for i := range 100 {
		env.SignIn("e1", fmt.Sprintf("NOBODY%d", i), el.Codes["V00002"])
	}
	if n := env.Count(t, `SELECT count(*) FROM audit_entries`); n != before {
		t.Errorf("a sign-in and 101 failed ones wrote %d audit entries", n-before)
	}
	if err := env.Credentials.LogSignIns(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Elections.Cast(ctx, castReq(t, env, el, "V00001", "k", goodSelections)); err != nil {
		t.Fatal(err)
	}
	p1 := env.Secrets.Pseudonym("e1", "V00001")
	p2 := env.Secrets.Pseudonym("e1", "V00002")
	cast := entries(t, env, "ballot.cast")
	if len(cast) != 1 || cast[0]["voter"] != hex.EncodeToString(p1[:]) || cast[0]["group"] != "members" || cast[0]["tracking_code"] == "" {
		t.Errorf("ballot.cast = %v", cast)
	}
	if s := entries(t, env, "voter.signins"); len(s) != 1 || s[0]["signed_in"] != float64(1) || s[0]["wrong_code"] != float64(1) || s[0]["unknown_voter"] != float64(100) ||
		strings.Contains(fmt.Sprint(s), hex.EncodeToString(p1[:])) || strings.Contains(fmt.Sprint(s), hex.EncodeToString(p2[:])) {
		t.Errorf("voter.signins = %v; want one entry counting 1 sign-in, 1 wrong code and 100 unknown voters, naming no one", s)
	}
	if err := env.Credentials.LogSignIns(ctx); err != nil || len(entries(t, env, "voter.signins")) != 1 {
		t.Errorf("LogSignIns with nothing counted = %v; want no entry", err)
	}
	var ref string
	env.DB.Pool.QueryRow(ctx, `SELECT ref FROM audit_entries WHERE kind = 'ballot.cast'`).Scan(&ref)
	if ref != cast[0]["tracking_code"] {
		t.Errorf("ref = %q; want the tracking code", ref)
	}
	// No voter id in the log.
	var leaks int
	env.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_entries WHERE position('V0000' in convert_from(body, 'UTF8')) > 0`).Scan(&leaks)
	if leaks != 0 {
		t.Errorf("%d audit entries name a voter id", leaks)
	}
	// Pseudonyms differ per election and never equal the voter id.
	other := env.Secrets.Pseudonym("e2", "V00001")
	if other == p1 || strings.Contains(hex.EncodeToString(p1[:]), hex.EncodeToString([]byte("V00001"))) {
		t.Error("pseudonyms do not depend on the election")
	}
}
