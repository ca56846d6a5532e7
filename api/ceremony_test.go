package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"primaryvote/api"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"

	"github.com/cloudflare/circl/group"
)

// Trustees' machines post their deals and verdicts over HTTP, each signed
// with the trustee's key; the ceremony's state says the step and who it
// waits for; bad messages are refused and change nothing.
func TestCeremonyOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, api.Config{})
	ctx := context.Background()
	if err := h.env.Elections.Create(ctx, fixture.Definition("c1"), "test"); err != nil {
		t.Fatal(err)
	}
	c, secrets := h.env.RegisterTrustees(t, "c1", 2, 3)
	state := func() (step string, waiting []int, deals int) {
		r := h.do("GET", "/api/v1/elections/c1/ceremony", "")
		var s struct {
			Step       string            `json:"step"`
			WaitingFor []int             `json:"waiting_for"`
			Deals      []json.RawMessage `json:"deals"`
		}
		if err := json.Unmarshal([]byte(r.body), &s); r.status != 200 || err != nil {
			t.Fatalf("GET ceremony = %d %s", r.status, r.body)
		}
		return s.Step, s.WaitingFor, len(s.Deals)
	}
	if step, waiting, _ := state(); step != "deal" || fmt.Sprint(waiting) != "[1 2 3]" {
		t.Errorf("before any deal: %s %v", step, waiting)
	}
	var deals []*ballot.Deal
	for i := range 3 {
		d, err := c.Deal(i+1, secrets[i])
		if err != nil {
			t.Fatal(err)
		}
		deals = append(deals, d)
	}
	body := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	if r := h.do("POST", "/api/v1/elections/c1/ceremony/deals", body(deals[0])); r.status != 201 {
		t.Fatalf("deal 1 = %d %s", r.status, r.body)
	}
	forged := *deals[1]
	forged.Dealer = 3
	unasked, err := c.Answer(deals[1], 1, secrets[1])
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		path, body string
		status     int
	}{
		"dealt twice":          {"deals", body(deals[0]), 409},
		"signed by another":    {"deals", body(&forged), 400},
		"an unknown field":     {"deals", strings.Replace(body(deals[1]), `{"dealer"`, `{"extra":1,"dealer"`, 1), 400},
		"upper-case hex":       {"deals", strings.ToUpper(body(deals[1])), 400},
		"not JSON":             {"deals", "deal", 400},
		"another election":     {"deals", body(deals[1]), 404},
		"an answer to nothing": {"answers", body(unasked), 409},
	} {
		path := "/api/v1/elections/c1/ceremony/" + tc.path
		if name == "another election" {
			path = "/api/v1/elections/nope/ceremony/deals"
		}
		if r := h.do("POST", path, tc.body); r.status != tc.status {
			t.Errorf("%s: %d %s; want %d", name, r.status, r.body, tc.status)
		}
	}
	if step, waiting, n := state(); step != "deal" || fmt.Sprint(waiting) != "[2 3]" || n != 1 {
		t.Errorf("after one deal and the refusals: %s %v, %d deals", step, waiting, n)
	}
	for _, d := range deals[1:] {
		if r := h.do("POST", "/api/v1/elections/c1/ceremony/deals", body(d)); r.status != 201 {
			t.Fatalf("deal %d = %d %s", d.Dealer, r.status, r.body)
		}
	}
	for i := range 3 {
		v, _, err := c.Judge(i+1, deals, secrets[i])
		if err != nil {
			t.Fatal(err)
		}
		if r := h.do("POST", "/api/v1/elections/c1/ceremony/verdicts", body(v)); r.status != 201 {
			t.Fatalf("verdict %d = %d %s", i+1, r.status, r.body)
		}
	}
	if step, waiting, _ := state(); step != "finish" || len(waiting) != 0 {
		t.Errorf("after the verdicts: %s %v", step, waiting)
	}
	if r := h.do("GET", "/api/v1/elections/nope/ceremony", ""); r.status != 404 {
		t.Errorf("an unknown election's ceremony: %d", r.status)
	}
}

// 2-of-3 and 3-of-5 ceremonies through the API, as the trustees' machines
// run them, then a vote, and every trustee's partial decryption posted
// through the API: the tally combines one qualified subset, and another
// subset of the posted partial decryptions gives the same counts.
func TestCeremonyAndDecryptionOverHTTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		k, n    int
		subsets [][]int
	}{{2, 3, [][]int{{1, 2}, {2, 3}}}, {3, 5, [][]int{{1, 2, 3}, {1, 4, 5}}}} {
		t.Run(fmt.Sprintf("%d-of-%d", tc.k, tc.n), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, api.Config{})
			ctx := context.Background()
			el := h.env.SetupKeyless(t, "c1", 4)
			body := func(v any) string { b, _ := json.Marshal(v); return string(b) }
			post := func(path string, v any) {
				t.Helper()
				if r := h.do("POST", "/api/v1/elections/c1/"+path, body(v)); r.status != 201 {
					t.Fatalf("POST %s = %d %s", path, r.status, r.body)
				}
			}
			c, secrets := h.env.RegisterTrustees(t, "c1", tc.k, tc.n)
			var deals []*ballot.Deal
			for i, s := range secrets {
				d, err := c.Deal(i+1, s)
				if err != nil {
					t.Fatal(err)
				}
				post("ceremony/deals", d)
				deals = append(deals, d)
			}
			var opened []map[int]group.Scalar
			for i, s := range secrets {
				v, o, err := c.Judge(i+1, deals, s)
				if err != nil {
					t.Fatal(err)
				}
				post("ceremony/verdicts", v)
				opened = append(opened, o)
			}
			out, err := h.env.Elections.FinishCeremony(ctx, "c1", "test", false)
			if err != nil {
				t.Fatal(err)
			}
			var shares []ballot.TrusteeShare
			for j := range secrets {
				s, err := c.Combine(j+1, out, opened[j], nil)
				if err != nil {
					t.Fatal(err)
				}
				shares = append(shares, s)
			}
			// A vote: a, a, b, then the count.
			if err := h.env.Elections.Open(ctx, "c1", "test"); err != nil {
				t.Fatal(err)
			}
			for i, leader := range []string{"a", "a", "b"} {
				v := el.Voters[i]
				if _, _, err := h.env.Elections.Cast(ctx, h.env.CastRequest(t, el, v, ballot.Selections{"leader": {leader}, "council": {"p"}})); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.env.Elections.Close(ctx, "c1", "test"); err != nil {
				t.Fatal(err)
			}
			sums, err := h.env.Elections.Tally(ctx, "c1", "test")
			if err != nil {
				t.Fatal(err)
			}
			e, _ := h.env.Elections.Get(ctx, "c1")
			var partials []*ballot.PartialDecryption
			for _, s := range shares {
				p, err := e.PartialDecrypt(out.Trustees, sums, s)
				if err != nil {
					t.Fatal(err)
				}
				post("partials", map[string]any{"trustee": p.Trustee, "shares": ballot.Hex(p.EncodeShares()), "proof": ballot.Hex(p.Proof)})
				partials = append(partials, p)
			}
			leaderA := func(counts []int) int { return counts[0] + counts[1] } // members + public
			leaderB := func(counts []int) int { return counts[2] + counts[3] }
			for _, subset := range tc.subsets {
				var ps []*ballot.PartialDecryption
				for _, i := range subset {
					ps = append(ps, partials[i-1])
				}
				counts, err := e.Counts(out.Trustees, sums, ps)
				if err != nil || leaderA(counts) != 2 || leaderB(counts) != 1 {
					t.Errorf("trustees %v count %v, %v; want a 2, b 1", subset, counts, err)
				}
			}
			report, err := h.env.Elections.FinishTally(ctx, "c1", "test")
			if err != nil || len(report.Used) != tc.k || len(report.Rejected) != 0 {
				t.Fatalf("FinishTally = %+v, %v", report, err)
			}
			if q := report.Results.Questions[0].Candidates; q[0].Votes[0]+q[0].Votes[1] != 2 || q[1].Votes[0]+q[1].Votes[1] != 1 {
				t.Errorf("results %+v", q)
			}
		})
	}
}
