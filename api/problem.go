package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	pv "primaryvote"
	"primaryvote/internal/problem"
)

// writeError answers with err as a problem document (internal/problem).
// Internal errors are logged with their cause and shown to the user only as
// "Internal error.".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if code, _ := problem.Of(err); code == pv.EInternal && databaseUnavailable(err) {
		// The database is restarting or unreachable: not an internal error
		// but a moment to wait, and a retry with the same key is safe.
		s.logger.WarnContext(r.Context(), "database unavailable", "route", routePattern(r), "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(s.cfg.RetryAfter))
		problem.Write(w, problem.Unavailable, "The service is briefly unavailable: please retry in a moment.", nil)
		return
	}
	code, detail := problem.Of(err)
	var extra any
	if de := (*pv.Error)(nil); errors.As(err, &de) && code != pv.EInternal {
		extra = de.Detail
	}
	if code == pv.EInternal {
		s.logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", routePattern(r), "err", err)
	}
	problem.Write(w, code, detail, extra)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// discard is a logger for callers that pass none.
var discard = slog.New(slog.DiscardHandler)

// databaseUnavailable reports whether err means the database could not be
// reached or went away (a restart, a failover), as opposed to a bug.
func databaseUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P05: shutdown, cannot connect now.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}
