package loadtest_test

import (
	"context"
	"crypto/sha256"
	"net/http/httptest"
	"testing"

	"primaryvote/api"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
	"primaryvote/internal/loadtest"
)

// Under overload (two request slots for sixteen voters at once) every voter
// still gets a receipt by retrying, and the ballots stored are exactly the
// ledger's: nothing lost, nothing duplicated.
func TestLoadRunReconciles(t *testing.T) {
	env := fixture.New(t)
	el := env.Setup(t, "e1", 60, true)
	srv := httptest.NewServer(api.New(api.Config{MaxInFlight: 2, SignInsPerIP: 1 << 20}, api.Services{
		Database: env.DB.Pool, Elections: env.Elections, Credentials: env.Credentials, Officials: env.Officials,
		Tokens: env.Tokens, Log: env.Log,
	}, nil))
	defer srv.Close()
	var voters []loadtest.Voter
	for _, v := range el.Voters {
		voters = append(voters, loadtest.Voter{ID: v, Code: el.Codes[v]})
	}
	rep, err := loadtest.Run(context.Background(), loadtest.Config{BaseURL: srv.URL, Election: "e1", Voters: voters, Concurrency: 16, Now: env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Acknowledged != 60 || rep.Failed != 0 || len(rep.Ledger) != 60 {
		t.Fatalf("report: %d acknowledged, %d failed; want 60, 0 (errors %v)", rep.Acknowledged, rep.Failed, rep.Errors)
	}
	for _, name := range []string{"sessions", "ballots", "receipts"} {
		if l := rep.Endpoints[name]; l.Count < 60 || l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P99 {
			t.Errorf("%s latencies = %+v", name, l)
		}
	}
	rows, err := env.DB.Pool.Query(context.Background(), `SELECT content FROM ballots`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for rows.Next() {
		var c []byte
		rows.Scan(&c)
		stored[ballot.TrackingCode(sha256.Sum256(c))] = true
	}
	if len(stored) != 60 {
		t.Errorf("%d ballots stored; want 60", len(stored))
	}
	for voter, code := range rep.Ledger {
		if !stored[code] {
			t.Errorf("the receipt of %s (%s) has no ballot", voter, code)
		}
	}
	if rep.Errors["503 sessions"]+rep.Errors["503 ballot"]+rep.Errors["503 ballots"]+rep.Errors["503 receipts"] == 0 {
		t.Error("two slots for sixteen voters refused nothing; the overload path went untested")
	}
}
