// Package web serves primaryvote's pages and their static assets, all
// embedded in the binary: no asset comes from another host, and no page uses
// inline script or style, so the strict Content-Security-Policy holds.
package web

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"

	"primaryvote/ballot"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Lister lists elections.
type Lister interface {
	List(ctx context.Context) ([]ballot.Election, error)
}

// Pages serves the web pages.
type Pages struct {
	elections Lister
	logger    *slog.Logger
}

// New returns the pages, listing elections from l.
func New(l Lister, logger *slog.Logger) *Pages {
	return &Pages{elections: l, logger: logger}
}

// Static serves the embedded assets under /static/, cacheable for a day.
func (p *Pages) Static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}

// Home lists the elections that are open or past draft.
func (p *Pages) Home(w http.ResponseWriter, r *http.Request) {
	all, err := p.elections.List(r.Context())
	if err != nil {
		p.logger.ErrorContext(r.Context(), "couldn't list elections", "err", err)
		http.Error(w, "The election list is unavailable; try again shortly.", http.StatusServiceUnavailable)
		return
	}
	var shown []ballot.Election
	for _, e := range all {
		if e.Status != ballot.Draft {
			shown = append(shown, e)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pages.ExecuteTemplate(w, "home.html", shown); err != nil {
		p.logger.ErrorContext(r.Context(), "couldn't render home", "err", err)
	}
}
