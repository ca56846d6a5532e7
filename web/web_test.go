package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

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
	return res.StatusCode, html.UnescapeString(string(b))
}

// A candidate named like a formula stays text in a spreadsheet, and Korean
// opens as Korean in Excel.
func TestResultsCSVIsSafeInSpreadsheets(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	srv := serve(t, &store{})
	if st, body := get(t, srv.URL+"/static/"); st != 404 || strings.Contains(body, `<a href="app.js">`) {
		t.Errorf("GET /static/ = %d %.80q; want 404 without a listing", st, body)
	}
	if st, _ := get(t, srv.URL+"/static/app.js"); st != 200 {
		t.Errorf("GET /static/app.js = %d", st)
	}
}

// Every page renders in both languages, and says where each election
// stands: before its window, voting, ended, published.
func TestPagesSayWhereElectionsStand(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.FixedZone("", 9*3600))
	at := func(h int) *time.Time { x := now.Add(time.Duration(h) * time.Hour); return &x }
	def := func(id string, status ballot.Status, opens, closes *time.Time) *ballot.Election {
		return &ballot.Election{ID: id, Title: "Election " + id, Status: status, OpensAt: opens, ClosesAt: closes,
			Groups:    []ballot.Group{{ID: "g", Name: "G", Weight: 1}},
			Questions: []ballot.Question{{ID: "q", Title: "Q", MinSelections: 1, MaxSelections: 1, Candidates: []ballot.Candidate{{ID: "c", Number: 1, Name: "C"}}}}}
	}
	s := &store{elections: map[string]*ballot.Election{
		"soon":  def("soon", ballot.Open, at(2), at(4)),
		"now":   def("now", ballot.Open, at(-1), at(3)),
		"late":  def("late", ballot.Open, at(-3), at(-1)),
		"shut":  def("shut", ballot.Closed, nil, nil),
		"done":  def("done", ballot.Published, nil, nil),
		"draft": def("draft", ballot.Draft, nil, nil),
	}, results: map[string]*ballot.Results{"done": {Election: "done", Groups: []ballot.GroupResult{{ID: "g", Name: "G", Weight: 1}}}}}
	r := chi.NewRouter()
	pages := New(s, slog.New(slog.DiscardHandler))
	pages.now = func() time.Time { return now }
	pages.Routes(r)
	r.NotFound(pages.NotFound)
	srv := httptest.NewServer(r)
	defer srv.Close()

	st, home := get(t, srv.URL+"/?lang=en")
	for _, want := range []string{"Voting opens 2026-12-01 14:00 (UTC+09:00).", "Voting is open until 2026-12-01 15:00 (UTC+09:00).",
		"Voting has ended.", "the results are published", `href="/e/now"`, `href="/results/done"`} {
		if st != 200 || !strings.Contains(home, want) {
			t.Errorf("home page (%d) lacks %q", st, want)
		}
	}
	for _, no := range []string{`href="/e/soon"`, `href="/e/late"`, "Election draft", "Open elections"} {
		if strings.Contains(home, no) {
			t.Errorf("home page shows %q", no)
		}
	}
	for id, want := range map[string]string{"soon": "Voting opens", "late": "Voting has ended", "shut": "Voting has ended", "done": `href="/results/done"`} {
		st, body := get(t, srv.URL+"/e/"+id+"?lang=en")
		if st != 200 || !strings.Contains(body, want) || strings.Contains(body, `id="signin-form"`) {
			t.Errorf("/e/%s = %d; want %q and no sign-in form", id, st, want)
		}
	}
	if st, body := get(t, srv.URL+"/e/now?lang=en"); st != 200 || !strings.Contains(body, `id="signin-form"`) || !strings.Contains(body, "Voting: 2026-12-01 11:00 (UTC+09:00) – 2026-12-01 15:00 (UTC+09:00)") {
		t.Errorf("/e/now = %d; want the sign-in form and the window", st)
	}
	for _, lang := range []string{"ko", "en"} {
		for _, path := range []string{"/", "/e/now", "/e/late", "/results/done", "/verify", "/admin"} {
			if st, body := get(t, srv.URL+path+"?lang="+lang); st != 200 || !strings.Contains(body, `<html lang="`+lang+`">`) {
				t.Errorf("%s in %s = %d", path, lang, st)
			}
		}
		for _, path := range []string{"/e/draft", "/e/nowhere", "/results/now", "/no/such/page"} {
			st, body := get(t, srv.URL+path+"?lang="+lang)
			heading := map[string]string{"ko": "페이지를 찾을 수 없습니다", "en": "Page not found"}[lang]
			if st != 404 || !strings.Contains(body, heading) {
				t.Errorf("%s in %s = %d %.60q; want a 404 page saying %q", path, lang, st, body, heading)
			}
		}
	}
}

// failing is a store whose every lookup fails with err.
type failing struct{ err error }

func (f failing) Public(context.Context) ([]ballot.Election, error)           { return nil, f.err }
func (f failing) GetPublic(context.Context, string) (*ballot.Election, error) { return nil, f.err }
func (f failing) Results(context.Context, string) (json.RawMessage, error)    { return nil, f.err }

// TestEveryPageRendersInBothLanguages renders each template in templates/
// in Korean and English: the status the API would give, the language, and
// no message key left untranslated.
func TestEveryPageRendersInBothLanguages(t *testing.T) {
	t.Parallel()
	s := &store{elections: map[string]*ballot.Election{
		"e1": {ID: "e1", Title: "Election e1", Status: ballot.Published,
			Groups:    []ballot.Group{{ID: "g", Name: "G", Weight: 1}},
			Questions: []ballot.Question{{ID: "q", Title: "Q", MinSelections: 1, MaxSelections: 1, Candidates: []ballot.Candidate{{ID: "c", Number: 1, Name: "C"}}}}},
	}, results: map[string]*ballot.Results{"e1": {Election: "e1", Groups: []ballot.GroupResult{{ID: "g", Name: "G", Weight: 1}}}}}
	serveWith := func(es Elections) *httptest.Server {
		r := chi.NewRouter()
		pages := New(es, slog.New(slog.DiscardHandler))
		pages.Routes(r)
		r.NotFound(pages.NotFound)
		srv := httptest.NewServer(r)
		t.Cleanup(srv.Close)
		return srv
	}
	ok := serveWith(s)
	broken := serveWith(failing{errors.New("the database is on fire")})
	conflict := serveWith(failing{pv.Errorf(pv.EConflict, "busy")})

	pages := map[string]struct {
		srv    *httptest.Server
		path   string
		status int
		// heading is the page's catalog key that must show, translated.
		heading string
	}{
		"home.html":     {ok, "/", 200, "home.heading"},
		"election.html": {ok, "/e/e1", 200, ""},
		"results.html":  {ok, "/results/e1", 200, ""},
		"verify.html":   {ok, "/verify", 200, "verify.heading"},
		"admin.html":    {ok, "/admin", 200, ""},
		"notfound.html": {ok, "/no/such/page", 404, "notfound.heading"},
		"failed.html":   {broken, "/e/e1", 500, "failed.heading"},
	}
	entries, err := templateFS.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, tested := pages[e.Name()]; !tested && e.Name() != "layout.html" {
			t.Errorf("template %s is not rendered by this test", e.Name())
		}
	}
	// Every key a template asks for is in both catalogs.
	for _, e := range entries {
		src, _ := templateFS.ReadFile("templates/" + e.Name())
		for _, m := range regexp.MustCompile(`\.T "([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
			for lang, c := range catalogs {
				if _, ok := c[m[1]]; !ok {
					t.Errorf("%s asks for %q, which the %s catalog lacks", e.Name(), m[1], lang)
				}
			}
		}
	}
	keys := map[string]bool{}
	for _, c := range catalogs {
		for k := range c {
			keys[k] = true
		}
	}
	for name, pg := range pages {
		for _, lang := range []string{"ko", "en"} {
			st, body := get(t, pg.srv.URL+pg.path+"?lang="+lang)
			if st != pg.status || !strings.Contains(body, `<html lang="`+lang+`">`) {
				t.Errorf("%s in %s: %d; want %d in that language", name, lang, st, pg.status)
			}
			if pg.heading != "" && !strings.Contains(body, catalogs[lang][pg.heading]) {
				t.Errorf("%s in %s lacks %q", name, lang, catalogs[lang][pg.heading])
			}
			// Outside the catalog handed to the scripts, no key shows.
			visible := body
			if i := strings.Index(visible, `<script type="application/json" id="messages">`); i >= 0 {
				if j := strings.Index(visible[i:], "</script>"); j >= 0 {
					visible = visible[:i] + visible[i+j:]
				}
			}
			for k := range keys {
				if strings.Contains(visible, ">"+k+"<") || strings.Contains(visible, `"`+k+`"`) {
					t.Errorf("%s in %s shows the untranslated key %q", name, lang, k)
				}
			}
			if strings.Contains(body, "on fire") {
				t.Errorf("%s in %s shows an internal error's cause", name, lang)
			}
		}
	}
	// Other errors keep the status the API gives them.
	if st, body := get(t, conflict.URL+"/e/e1?lang=en"); st != 409 || !strings.Contains(body, catalogs["en"]["failed.heading"]) {
		t.Errorf("a conflict on a page: %d", st)
	}
}
