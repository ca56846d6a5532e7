package loadtest

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"primaryvote/ballot"
)

// Logged is what an election's audit bundle says was cast and counted: the
// tracking code of every logged ballot, in log order, and the results if
// the bundle has them. Read it from a bundle that auditverify accepted.
type Logged struct {
	Codes   []string
	Results *ballot.Results
}

// ReadBundle reads the logged ballots' tracking codes and the results from
// an audit bundle (audit/LOG.md), without verifying it.
func ReadBundle(r io.Reader) (*Logged, error) {
	var lg Logged
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 64<<20)
	for n := 1; sc.Scan(); n++ {
		var l struct {
			Type    string          `json:"type"`
			Content []byte          `json:"content"`
			Results json.RawMessage `json:"results"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("bundle line %d: %w", n, err)
		}
		switch l.Type {
		case "ballot":
			lg.Codes = append(lg.Codes, ballot.TrackingCode(sha256.Sum256(l.Content)))
		case "results":
			var res ballot.Results
			if err := json.Unmarshal(l.Results, &res); err != nil {
				return nil, fmt.Errorf("bundle line %d: results: %w", n, err)
			}
			lg.Results = &res
		}
	}
	return &lg, sc.Err()
}

// Reconciliation compares what voters were acknowledged with what the log
// holds and the count says. A run reconciles when nothing acknowledged is
// missing from the log, nothing is logged twice or without an
// acknowledgement, and the count has exactly the logged ballots and, for
// every candidate, exactly the selections the acknowledged voters made.
type Reconciliation struct {
	Acknowledged int `json:"acknowledged"`
	Logged       int `json:"logged"`
	// Counted is the ballots in the results; -1 when there are none.
	Counted int `json:"counted"`
	// Lost are acknowledged tracking codes that are not in the log.
	Lost []string `json:"lost,omitempty"`
	// Duplicated are tracking codes logged more than once.
	Duplicated []string `json:"duplicated,omitempty"`
	// Unacknowledged are logged ballots no voter was acknowledged for.
	Unacknowledged int `json:"unacknowledged"`
	// Miscounted says, per candidate the count disagrees on, how.
	Miscounted []string `json:"miscounted,omitempty"`
}

// Reconcile compares the acknowledged receipts (voter id → tracking code)
// and the choices behind them (question → candidate → times chosen) with
// what was logged and counted. With results nil, the count is not checked.
func Reconcile(acknowledged map[string]string, chosen map[string]map[string]int, logged *Logged) *Reconciliation {
	rec := &Reconciliation{Acknowledged: len(acknowledged), Logged: len(logged.Codes), Counted: -1}
	seen := make(map[string]int, len(logged.Codes))
	for _, c := range logged.Codes {
		seen[c]++
		if seen[c] == 2 {
			rec.Duplicated = append(rec.Duplicated, c)
		}
	}
	acked := make(map[string]bool, len(acknowledged))
	for _, voter := range slices.Sorted(maps.Keys(acknowledged)) {
		code := acknowledged[voter]
		acked[code] = true
		if seen[code] == 0 {
			rec.Lost = append(rec.Lost, code)
		}
	}
	for c := range seen {
		if !acked[c] {
			rec.Unacknowledged++
		}
	}
	if res := logged.Results; res != nil {
		rec.Counted = res.Ballots
		for _, q := range res.Questions {
			for _, c := range q.Candidates {
				votes := 0
				for _, v := range c.Votes {
					votes += v
				}
				if want := chosen[q.ID][c.ID]; votes != want {
					rec.Miscounted = append(rec.Miscounted, fmt.Sprintf("%s/%s: counted %d, chosen %d times", q.ID, c.ID, votes, want))
				}
			}
		}
	}
	return rec
}

// Err says what does not reconcile, or returns nil.
func (r *Reconciliation) Err() error {
	var problems []string
	if len(r.Lost) > 0 {
		problems = append(problems, fmt.Sprintf("%d acknowledged ballots are not in the log (first %s)", len(r.Lost), r.Lost[0]))
	}
	if len(r.Duplicated) > 0 {
		problems = append(problems, fmt.Sprintf("%d ballots are logged twice (first %s)", len(r.Duplicated), r.Duplicated[0]))
	}
	if r.Unacknowledged > 0 {
		problems = append(problems, fmt.Sprintf("%d logged ballots were never acknowledged", r.Unacknowledged))
	}
	if r.Counted >= 0 && r.Counted != r.Logged {
		problems = append(problems, fmt.Sprintf("the count has %d ballots; the log %d", r.Counted, r.Logged))
	}
	problems = append(problems, r.Miscounted...)
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("the run does not reconcile: %s", strings.Join(problems, "; "))
}

// AddChosen adds the counts of b to a, for runs played in parts.
func AddChosen(a, b map[string]map[string]int) {
	for q, cands := range b {
		if a[q] == nil {
			a[q] = map[string]int{}
		}
		for c, n := range cands {
			a[q][c] += n
		}
	}
}
