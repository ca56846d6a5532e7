package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	pv "primaryvote"
	"primaryvote/internal/problem"
	"primaryvote/internal/strictjson"
)

// Body size limits.
const (
	maxSessionBody = 4 << 10
	maxPolicyBody  = 16 << 10
	maxBallotBody  = 64 << 10 // a ballot of ballot.MaxBallotSize bytes, base64 in JSON (TestLargestBallotFitsACast)
	maxSpoiledBody = 20 << 10 // a revealed copy's text is at most 16 KiB
)

// readJSON reads r's body into v, strictly: the content type must be
// application/json, the body at most limit bytes of valid UTF-8 holding
// exactly one JSON value with no unknown fields and no duplicate keys. It
// returns the raw body.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		return nil, pv.Errorf(problem.UnsupportedMediaType, "The request body must be application/json.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, pv.Errorf(problem.TooLarge, "The request body is larger than %d bytes.", limit)
	}
	if err != nil {
		return nil, pv.Errorf(pv.EInvalid, "The request body could not be read.")
	}
	if err := decodeStrict(body, v); err != nil {
		return nil, err
	}
	return body, nil
}

// decodeStrict decodes exactly one JSON value from data into v, in one
// pass (internal/strictjson): valid UTF-8, no member the type does not
// name (names match exactly, case included), no member twice, nothing
// after the value.
func decodeStrict(data []byte, v any) error {
	if !utf8.Valid(data) {
		return pv.Errorf(pv.EInvalid, "The request body is not valid UTF-8.")
	}
	err := strictjson.Unmarshal(data, v)
	var syn *jsontext.SyntacticError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return pv.Errorf(pv.EInvalid, "The request body has the key %q twice.", syn.JSONPointer.LastToken())
	case errors.As(err, &syn) && syn.ByteOffset > 0 && syn.ByteOffset <= int64(len(data)) &&
		jsontext.Value(bytes.TrimSpace(data[:syn.ByteOffset])).IsValid():
		return pv.Errorf(pv.EInvalid, "The request body has data after its JSON value.")
	}
	return pv.Errorf(pv.EInvalid, "The request body is not valid: %s.", jsonProblem(err))
}

// jsonProblem describes a decoding error without echoing large inputs.
func jsonProblem(err error) string {
	var (
		syn *jsontext.SyntacticError
		sem *json.SemanticError
	)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON is empty or cut short"
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.ByteOffset)
	case errors.As(err, &sem) && errors.Is(sem.Err, json.ErrUnknownName):
		return fmt.Sprintf("unknown field %q", sem.JSONPointer.LastToken())
	case errors.As(err, &sem) && sem.GoType != nil && sem.JSONPointer == "":
		return fmt.Sprintf("the body must be %s", jsonType(sem.GoType))
	case errors.As(err, &sem) && sem.GoType != nil:
		return fmt.Sprintf("field %q must be %s", fieldPath(sem.JSONPointer), jsonType(sem.GoType))
	}
	return "its JSON does not fit the request"
}

// fieldPath names the member at p as a.b.c.
func fieldPath(p jsontext.Pointer) string {
	return strings.Join(slices.Collect(p.Tokens()), ".")
}

// jsonType names what JSON value a Go type reads, for users who never see
// Go: never "ballot.Selections" or "[]string".
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Bool:
		return "true or false"
	case reflect.Pointer:
		return jsonType(t.Elem())
	}
	return "a number"
}
