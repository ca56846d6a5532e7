// Package primaryvote holds what every part of the service shares: the error
// type that domain packages return and the HTTP layer maps to a status code in
// exactly one place.
//
// The service is organised as pure packages that hold the formats and the
// arithmetic (ballot, audit/record, audit/entry, audit/bundle), service
// packages that own their SQL (elections, auth, audit), an HTTP adapter (api,
// web) and binaries under cmd/. layout_test.go keeps the arrows pointing from
// service to pure, never back.
package primaryvote

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in package api.
const (
	EInvalid      = "invalid"      // the input is malformed or breaks a rule (400)
	EUnauthorized = "unauthorized" // missing or bad credentials (401)
	EForbidden    = "forbidden"    // authenticated, but not allowed (403)
	ENotFound     = "not_found"    // no such thing (404)
	EConflict     = "conflict"     // the thing's state forbids the action (409)
	EMismatch     = "mismatch"     // an idempotency key reused with another request (422)
	ETooMany      = "too_many"     // throttled (429)
	EInternal     = "internal"     // anything else; never shown to users in detail (500)
)

// Error is a domain error whose Message is safe to show to the user.
type Error struct {
	Code    string
	Message string
	// Detail carries structured data for the response (for example the receipt
	// of a ballot already cast). It must be safe to show.
	Detail any
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-safe message of err: the *Error's message, or a
// generic text for internal errors, whose details belong in the server log only.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
