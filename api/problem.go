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
)

// statusOf maps each domain error code to its HTTP status. This is the only
// place where domain errors meet HTTP.
var statusOf = map[string]int{
	pv.EInvalid:      http.StatusBadRequest,
	pv.EUnauthorized: http.StatusUnauthorized,
	pv.EForbidden:    http.StatusForbidden,
	pv.ENotFound:     http.StatusNotFound,
	pv.EConflict:     http.StatusConflict,
	pv.EMismatch:     http.StatusUnprocessableEntity,
	pv.ETooMany:      http.StatusTooManyRequests,
	pv.EInternal:     http.StatusInternalServerError,
}

// errorHTTP is an error raised by the HTTP layer itself, for statuses the
// domain has no code for (413, 415, 405).
type errorHTTP struct {
	status  int
	code    string
	message string
}

func (e *errorHTTP) Error() string { return e.message }

// writeError answers with an RFC 9457 problem document. Internal errors are
// logged with their cause and shown to the user only as "Internal error.".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, detail := http.StatusInternalServerError, pv.EInternal, "Internal error."
	var extra any
	var he *errorHTTP
	var de *pv.Error
	switch {
	case errors.As(err, &he):
		status, code, detail = he.status, he.code, he.message
	case errors.As(err, &de) && de.Code != pv.EInternal:
		status, code, detail, extra = statusOf[de.Code], de.Code, de.Message, de.Detail
	case databaseUnavailable(err):
		// The database is restarting or unreachable: not an internal error
		// but a moment to wait, and a retry with the same key is safe.
		s.logger.WarnContext(r.Context(), "database unavailable", "route", routePattern(r), "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(s.cfg.RetryAfter))
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "The service is briefly unavailable: please retry in a moment.", nil)
		return
	default:
		s.logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", routePattern(r), "err", err)
	}
	writeProblem(w, status, code, detail, extra)
}

// writeProblem writes a problem+json document whose type names code. The
// members of extra, a struct or map that encodes as a JSON object, are added
// to it.
func writeProblem(w http.ResponseWriter, status int, code, detail string, extra any) {
	// Extra members keep their exact bytes: a receipt in a 409 is the
	// receipt as first sent.
	doc := map[string]any{}
	if extra != nil {
		var members map[string]json.RawMessage
		if b, err := json.Marshal(extra); err == nil && json.Unmarshal(b, &members) == nil {
			for k, v := range members {
				doc[k] = v
			}
		}
	}
	doc["type"] = "urn:primaryvote:problem:" + code
	doc["title"] = http.StatusText(status)
	doc["status"] = status
	doc["detail"] = detail
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(doc)
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
