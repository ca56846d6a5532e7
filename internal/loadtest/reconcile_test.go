package loadtest

import (
	"bytes"
	"strings"
	"testing"

	"primaryvote/ballot"
)

func TestReconcile(t *testing.T) {
	t.Parallel()
	results := func(ballots int, votes ...int) *ballot.Results {
		return &ballot.Results{Ballots: ballots, Questions: []ballot.QuestionResult{{ID: "q", Candidates: []ballot.CandidateResult{
			{ID: "a", Votes: []int{votes[0], 0}}, {ID: "b", Votes: []int{0, votes[1]}}}}}}
	}
	acked := map[string]string{"V1": "C1", "V2": "C2", "V3": "C3"}
	chosen := map[string]map[string]int{"q": {"a": 2, "b": 1}}
	for _, c := range []struct {
		name   string
		logged Logged
		want   string // "" reconciles
	}{
		{"all there", Logged{Codes: []string{"C2", "C1", "C3"}, Results: results(3, 2, 1)}, ""},
		{"not tallied yet", Logged{Codes: []string{"C1", "C2", "C3"}}, ""},
		{"one lost", Logged{Codes: []string{"C1", "C3"}, Results: results(2, 2, 0)}, "1 acknowledged ballots are not in the log (first C2)"},
		{"one twice", Logged{Codes: []string{"C1", "C2", "C3", "C2"}, Results: results(4, 2, 2)}, "1 ballots are logged twice (first C2)"},
		{"one added", Logged{Codes: []string{"C1", "C2", "C3", "C9"}, Results: results(4, 3, 1)}, "1 logged ballots were never acknowledged"},
		{"count short", Logged{Codes: []string{"C1", "C2", "C3"}, Results: results(2, 2, 1)}, "the count has 2 ballots; the log 3"},
		{"votes moved", Logged{Codes: []string{"C1", "C2", "C3"}, Results: results(3, 1, 2)}, "q/a: counted 1, chosen 2 times"},
	} {
		err := Reconcile(acked, chosen, &c.logged).Err()
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", c.name, err, c.want)
		}
	}
}

func TestReadBundle(t *testing.T) {
	t.Parallel()
	in := `{"type":"header","format":"x"}
{"type":"ballot","group":"g","content":"UFZCMQ=="}
{"type":"results","results":{"election":"e","ballots":1,"groups":[],"questions":[]}}
{"type":"end","lines":3}
`
	lg, err := ReadBundle(strings.NewReader(in))
	if err != nil || len(lg.Codes) != 1 || lg.Results == nil || lg.Results.Ballots != 1 {
		t.Fatalf("ReadBundle = %+v, %v", lg, err)
	}
	if _, err := ReadBundle(bytes.NewReader([]byte("{\"type\":\n"))); err == nil {
		t.Error("ReadBundle accepted a broken line")
	}
}
