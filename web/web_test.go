package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	pv "primaryvote"
	"primaryvote/ballot"
)

// store is an election store in memory.
type store struct {
	elections map[string]*ballot.Election
	results   map[string]*ballot.Results
}

func (s *store) Public(ctx context.Context) ([]ballot.Election, error) {
	var out []ballot.Election
	for _, e := range s.elections {
		if e.Status != ballot.Draft {
			out = append(out, *e)
		}
	}
	return out, nil
}

func (s *store) GetPublic(ctx context.Context, id string) (*ballot.Election, error) {
	e := s.elections[id]
	if e == nil || e.Status == ballot.Draft {
		return nil, pv.Errorf(pv.ENotFound, "no election %q", id)
	}
	return e, nil
}

func (s *store) Results(ctx context.Context, id string) (json.RawMessage, error) {
	r := s.results[id]
	if r == nil {
		return nil, pv.Errorf(pv.ENotFound, "not published")
	}
	return json.Marshal(r)
}

func serve(t *testing.T, s *store) *httptest.Server {
	t.Helper()
	r := chi.NewRouter()
	New(s, slog.New(slog.DiscardHandler)).Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// A candidate named like a formula stays text in a spreadsheet, and Korean
// opens as Korean in Excel.
func TestResultsCSVIsSafeInSpreadsheets(t *testing.T) {
	names := []string{`=HYPERLINK("http://evil.example","click")`, "@SUM(A1:A9)", "+cmd|' /C calc'!A0", "-2+3", "\tTAB", "\rCR", "김하늘"}
	var cands []ballot.CandidateResult
	for i, n := range names {
		cands = append(cands, ballot.CandidateResult{ID: string(rune('a' + i)), Number: i + 1, Name: n, Votes: []int{1}, Percent: []float64{10}, Combined: 10})
	}
	s := &store{
		elections: map[string]*ballot.Election{"e1": {ID: "e1", Title: "E", Status: ballot.Published}},
		results: map[string]*ballot.Results{"e1": {Election: "e1", Ballots: 7, Groups: []ballot.GroupResult{{ID: "=members", Name: "M", Weight: 1, Ballots: 7}},
			Questions: []ballot.QuestionResult{{ID: "leader", Title: "L", Candidates: cands}}}},
	}
	srv := serve(t, s)
	st, body := get(t, srv.URL+"/results/e1/csv")
	if st != 200 || !strings.HasPrefix(body, "\ufeff") {
		t.Fatalf("CSV = %d %.40q; want 200 starting with a byte-order mark", st, body)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("row %d: cell %q could start a formula", i+1, cell)
			}
		}
		if want := names[i]; strings.ContainsRune("=+-@\t\r", rune(want[0])) && row[2] != "'"+want || !strings.ContainsRune("=+-@\t\r", rune(want[0])) && row[2] != want {
			t.Errorf("row %d: candidate %q; want %q kept as text", i+1, row[2], want)
		}
	}
}

func TestStaticFilesAreNotListed(t *testing.T) {
	srv := serve(t, &store{})
	if st, body := get(t, srv.URL+"/static/"); st != 404 || strings.Contains(body, "app.js") {
		t.Errorf("GET /static/ = %d %.80q; want 404 without a listing", st, body)
	}
	if st, _ := get(t, srv.URL+"/static/app.js"); st != 200 {
		t.Errorf("GET /static/app.js = %d", st)
	}
}
