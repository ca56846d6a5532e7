// Package problem is where errors meet HTTP: the one list of the problem
// types the service answers with, each with its status, and the RFC 9457
// problem+json document that carries one. The API and the pages both map
// errors to statuses here.
package problem

import (
	"encoding/json"
	"errors"
	"net/http"

	pv "primaryvote"
)

// Codes the HTTP layer raises itself, which the domain has no use for.
const (
	TooLarge             pv.Code = "too_large"
	RequestTimeout       pv.Code = "request_timeout"
	UnsupportedMediaType pv.Code = "unsupported_media_type"
	MethodNotAllowed     pv.Code = "method_not_allowed"
	Overloaded           pv.Code = "overloaded"
	Unavailable          pv.Code = "unavailable"
)

// Type is one problem type: its code, which names it
// (urn:primaryvote:problem:<code>), and its status.
type Type struct {
	Code   pv.Code
	Status int
}

// Types lists every problem type, in order of status. README.md says what
// each means, and a test keeps it in step.
var Types = []Type{
	{pv.EInvalid, http.StatusBadRequest},
	{pv.EUnauthorized, http.StatusUnauthorized},
	{pv.EForbidden, http.StatusForbidden},
	{pv.ENotFound, http.StatusNotFound},
	{MethodNotAllowed, http.StatusMethodNotAllowed},
	{RequestTimeout, http.StatusRequestTimeout},
	{pv.EConflict, http.StatusConflict},
	{TooLarge, http.StatusRequestEntityTooLarge},
	{UnsupportedMediaType, http.StatusUnsupportedMediaType},
	{pv.EMismatch, http.StatusUnprocessableEntity},
	{pv.ETooMany, http.StatusTooManyRequests},
	{pv.EInternal, http.StatusInternalServerError},
	{Overloaded, http.StatusServiceUnavailable},
	{Unavailable, http.StatusServiceUnavailable},
}

var statusOf = func() map[pv.Code]int {
	m := make(map[pv.Code]int, len(Types))
	for _, t := range Types {
		m[t.Code] = t.Status
	}
	return m
}()

// Status is code's HTTP status; an unknown code is an internal error.
func Status(code pv.Code) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Of returns the code and user-safe detail of err: its *pv.Error's, or, for
// any other error, an internal error's, whose cause belongs in the server
// log only. A code not in Types is an internal error too.
func Of(err error) (pv.Code, string) {
	var e *pv.Error
	if errors.As(err, &e) && e.Code != pv.EInternal {
		if _, ok := statusOf[e.Code]; ok {
			return e.Code, e.Message
		}
	}
	return pv.EInternal, pv.InternalMessage
}

// Write answers with a problem document of code's type, status and title,
// and detail. The members of extra, a struct or map that encodes as a JSON
// object, are added to it with their exact bytes (a receipt in a 409 is the
// receipt as first sent).
func Write(w http.ResponseWriter, code pv.Code, detail string, extra any) {
	status, ok := statusOf[code]
	if !ok {
		code, status = pv.EInternal, http.StatusInternalServerError
	}
	doc := map[string]any{}
	if extra != nil {
		var members map[string]json.RawMessage
		if b, err := json.Marshal(extra); err == nil && json.Unmarshal(b, &members) == nil {
			for k, v := range members {
				doc[k] = v
			}
		}
	}
	doc["type"] = "urn:primaryvote:problem:" + string(code)
	doc["title"] = http.StatusText(status)
	doc["status"] = status
	doc["detail"] = detail
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(doc)
}
