// Package web serves primaryvote's pages: the election list, the voter's
// ballot page and the public ballot check. Everything they need is embedded
// in the binary: no asset comes from another host, and no page has inline
// script or style, so the strict Content-Security-Policy holds.
//
// Text comes from message catalogs (i18n/*.json), Korean by default; "?lang=en"
// switches to English and is remembered in a cookie. Pages are rendered on
// the server; one small script (static/app.js) talks to the JSON API.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	pv "primaryvote"
	"primaryvote/ballot"
	"primaryvote/internal/problem"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed i18n/*.json
var catalogFS embed.FS

// Languages, the first being the default.
var languages = []string{"ko", "en"}

// catalogs maps a language to its messages.
var catalogs = loadCatalogs()

func loadCatalogs() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range languages {
		b, err := catalogFS.ReadFile("i18n/" + lang + ".json")
		if err != nil {
			panic(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("web: catalog %s: %v", lang, err))
		}
		out[lang] = m
	}
	return out
}

// Elections is what the pages need of the election store.
type Elections interface {
	Public(ctx context.Context) ([]ballot.Election, error)
	// GetPublic returns an election past draft; a draft is ENotFound, as an
	// unknown id is.
	GetPublic(ctx context.Context, id string) (*ballot.Election, error)
	// Results returns a published election's results (ENotFound before).
	Results(ctx context.Context, id string) (json.RawMessage, error)
}

// Pages serves the web pages.
type Pages struct {
	elections Elections
	logger    *slog.Logger
	now       func() time.Time
	pages     *template.Template
	// assetVersion changes whenever an embedded asset does, so assets can be
	// cached for a long time under versioned URLs.
	assetVersion string
}

// New returns the pages.
func New(elections Elections, logger *slog.Logger) *Pages {
	p := &Pages{elections: elections, logger: logger, now: time.Now, assetVersion: assetVersion()}
	p.pages = template.Must(template.New("").Funcs(template.FuncMap{
		"asset":  func(name string) string { return "/static/" + name + "?v=" + p.assetVersion },
		"index1": func(xs []int, i int) int { return xs[i] },
		"pct":    func(xs []float64, i int) string { return strconv.FormatFloat(xs[i], 'f', 2, 64) },
		"bar":    func(f float64) string { return strconv.FormatFloat(f*2.8, 'f', 1, 64) }, // 100% = 280 of 360 units
		"fmt2":   func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
		"row":    func(i int) int { return i * 52 },
		"weight": func(f float64) string { return strconv.FormatFloat(f*100, 'f', -1, 64) },
		// when shows a time as the definition gave it, with its offset.
		"when": func(t *time.Time) string { return t.Format("2006-01-02 15:04") + " (UTC" + t.Format("-07:00") + ")" },
		"phaseOf": func(p page, e *ballot.Election, ph ballot.Phase) phaseView {
			return phaseView{Page: p, Election: e, Phase: ph}
		},
	}).ParseFS(templateFS, "templates/*.html"))
	return p
}

func assetVersion() string {
	h := sha256.New()
	fs.WalkDir(staticFS, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFS.ReadFile(path)
			h.Write([]byte(path))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Routes mounts the pages on r. Pages and assets are gzipped for slow
// connections; the API is not, since its responses carry tokens.
func (p *Pages) Routes(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(middleware.Compress(5, "text/html", "text/css", "text/javascript", "text/csv"))
		r.Get("/", p.home)
		r.Get("/e/{id}", p.election)
		r.Get("/verify", p.verify)
		r.Get("/admin", p.admin)
		r.Get("/results/{id}", p.results)
		r.Get("/results/{id}/csv", p.resultsCSV)
		r.Method(http.MethodGet, "/static/*", p.static())
	})
}

func (p *Pages) static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			p.fail(w, r, pv.Errorf(pv.ENotFound, "not found"))
			return
		}
		if r.URL.Query().Get("v") == p.assetVersion {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		files.ServeHTTP(w, r)
	})
}

// lang picks the page's language: ?lang=, then the cookie, then Korean.
func lang(w http.ResponseWriter, r *http.Request) string {
	if q := r.URL.Query().Get("lang"); catalogs[q] != nil {
		http.SetCookie(w, &http.Cookie{Name: "lang", Value: q, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode, HttpOnly: true})
		return q
	}
	if c, err := r.Cookie("lang"); err == nil && catalogs[c.Value] != nil {
		return c.Value
	}
	return languages[0]
}

// page is what every template gets.
type page struct {
	Lang, Other string
	Messages    template.JS // the catalog for the script, as JSON in a data block
	Data        any
}

// T formats message key in the page's language: "{name}" placeholders take
// the following pairs of arguments (name, value).
func (p page) T(key string, args ...any) string {
	msg, ok := catalogs[p.Lang][key]
	if !ok {
		return key
	}
	for i := 0; i+1 < len(args); i += 2 {
		msg = strings.ReplaceAll(msg, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
	}
	return msg
}

func (p *Pages) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	p.renderStatus(w, r, http.StatusOK, name, data)
}

func (p *Pages) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	l := lang(w, r)
	other := languages[0]
	if l == other {
		other = languages[1]
	}
	msgs, _ := json.Marshal(catalogs[l])
	var buf bytes.Buffer
	if err := p.pages.ExecuteTemplate(&buf, name, page{Lang: l, Other: other, Messages: template.JS(msgs), Data: data}); err != nil {
		p.logger.ErrorContext(r.Context(), "couldn't render a page", "page", name, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers a page that cannot be shown with a page in the reader's
// language and the status the API would answer (internal/problem): not
// found, or the page could not be shown (an internal error's cause is
// logged, never shown).
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, _ := problem.Of(err)
	status := problem.Status(code)
	switch {
	case status == http.StatusNotFound:
		p.NotFound(w, r)
		return
	case code == pv.EInternal:
		p.logger.ErrorContext(r.Context(), "page failed", "err", err)
	}
	p.renderStatus(w, r, status, "failed.html", nil)
}

// NotFound answers an address with nothing at it, in the reader's language.
func (p *Pages) NotFound(w http.ResponseWriter, r *http.Request) {
	p.renderStatus(w, r, http.StatusNotFound, "notfound.html", nil)
}

// electionView is an election and where it stands, as the pages show it.
type electionView struct {
	Election *ballot.Election
	Phase    ballot.Phase
}

// phaseView is what the "phase" and "window" templates need.
type phaseView struct {
	Page     page
	Election *ballot.Election
	Phase    ballot.Phase
}

func (p *Pages) home(w http.ResponseWriter, r *http.Request) {
	public, err := p.elections.Public(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	now := p.now()
	var shown []electionView
	for i := range public {
		shown = append(shown, electionView{Election: &public[i], Phase: public[i].PhaseAt(now)})
	}
	p.render(w, r, "home.html", shown)
}

// questionView is a question as the ballot page shows it.
type questionView struct {
	ballot.Question
	Single bool // exactly one choice: radio buttons
}

func (p *Pages) election(w http.ResponseWriter, r *http.Request) {
	e, err := p.elections.GetPublic(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	var qs []questionView
	for _, q := range e.Questions {
		qs = append(qs, questionView{Question: q, Single: q.MinSelections == 1 && q.MaxSelections == 1})
	}
	// Outside its window, or once closed, the page says so before anyone
	// signs in, and links to the results once they are published.
	p.render(w, r, "election.html", map[string]any{"Election": e, "Questions": qs, "Phase": e.PhaseAt(p.now())})
}

func (p *Pages) verify(w http.ResponseWriter, r *http.Request) {
	shown, err := p.elections.Public(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, "verify.html", map[string]any{"Elections": shown, "Election": r.URL.Query().Get("election"), "Code": r.URL.Query().Get("code")})
}

// published returns an election and its published results.
func (p *Pages) published(r *http.Request) (*ballot.Election, *ballot.Results, error) {
	id := chi.URLParam(r, "id")
	e, err := p.elections.GetPublic(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	raw, err := p.elections.Results(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	var res ballot.Results
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, nil, fmt.Errorf("stored results of %s: %w", id, err)
	}
	return e, &res, nil
}

func (p *Pages) results(w http.ResponseWriter, r *http.Request) {
	e, res, err := p.published(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, "results.html", map[string]any{"Election": e, "Results": res})
}

// resultsCSV serves the results as CSV: one row per question, candidate
// and group, then the combined share. It starts with a UTF-8 byte-order
// mark, without which Excel reads Korean as mojibake, and no text cell can
// start a formula (csvText).
func (p *Pages) resultsCSV(w http.ResponseWriter, r *http.Request) {
	e, res, err := p.published(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", e.ID+"-results.csv"))
	io.WriteString(w, "\ufeff")
	cw := csv.NewWriter(w)
	cw.Write([]string{"question", "number", "candidate", "group", "votes", "percent_of_group", "combined_percent"})
	for _, q := range res.Questions {
		for _, c := range q.Candidates {
			for gi, g := range res.Groups {
				cw.Write([]string{csvText(q.ID), strconv.Itoa(c.Number), csvText(c.Name), csvText(g.ID), strconv.Itoa(c.Votes[gi]),
					strconv.FormatFloat(c.Percent[gi], 'f', 2, 64), strconv.FormatFloat(c.Combined, 'f', 2, 64)})
			}
		}
	}
	cw.Flush()
}

// csvText keeps a text cell from being read as a formula by a spreadsheet:
// one starting with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe, which spreadsheets show as text.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (p *Pages) admin(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, "admin.html", nil)
}
