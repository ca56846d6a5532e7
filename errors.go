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
	"strings"
	"unicode"
	"unicode/utf8"
)

// Code names what kind of failure an Error is. Each maps to one HTTP status
// in internal/problem, the one list of the problem types the service answers
// with.
type Code string

// The domain's error codes.
const (
	EInvalid      Code = "invalid"      // the input is malformed or breaks a rule (400)
	EUnauthorized Code = "unauthorized" // missing or bad credentials (401)
	EForbidden    Code = "forbidden"    // authenticated, but not allowed (403)
	ENotFound     Code = "not_found"    // no such thing (404)
	EConflict     Code = "conflict"     // the thing's state forbids the action (409)
	EMismatch     Code = "mismatch"     // an idempotency key reused with another request (422)
	ETooMany      Code = "too_many"     // throttled (429)
	EInternal     Code = "internal"     // anything else; never shown to users in detail (500)
)

// Error is a domain error whose Message is safe to show to the user.
type Error struct {
	Code Code
	// Message is one or more sentences, each beginning with a capital
	// letter (or a quoted name) and ending with a full stop.
	Message string
	// Detail carries structured data for the response (for example the receipt
	// of a ballot already cast). It must be safe to show.
	Detail any
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and formatted message, made
// a sentence: its first letter capitalised and a full stop added if it has
// none. Where a message names a place first ("line 3: unknown group"), the
// rest stays as written.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: sentence(fmt.Sprintf(format, args...))}
}

func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") && !strings.HasSuffix(s, "!") {
		s += "."
	}
	return s
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
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
	return InternalMessage
}

// InternalMessage is all a user is told of an internal error.
const InternalMessage = "Internal error."
