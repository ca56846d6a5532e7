package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	pv "primaryvote"
	"primaryvote/internal/problem"
)

// Body size limits.
const (
	maxSessionBody = 4 << 10
	maxPolicyBody  = 16 << 10
	maxBallotBody  = 64 << 10
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

// decodeStrict decodes exactly one JSON value from data into v.
func decodeStrict(data []byte, v any) error {
	if !utf8.Valid(data) {
		return pv.Errorf(pv.EInvalid, "The request body is not valid UTF-8.")
	}
	if err := checkDuplicateKeys(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return pv.Errorf(pv.EInvalid, "The request body is not valid: %s.", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return pv.Errorf(pv.EInvalid, "The request body has data after its JSON value.")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing large inputs.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s", typ.Field, jsonType(typ.Type))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON is empty or cut short"
	}
	return err.Error() // e.g. `json: unknown field "x"`
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

// checkDuplicateKeys rejects an object with the same key twice, which
// encoding/json would silently resolve to the last one.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		if d == '{' {
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				if seen[key] {
					return pv.Errorf(pv.EInvalid, "The request body has the key %q twice.", key)
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
		} else if d == '[' {
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
		}
		_, err = dec.Token() // the closing delimiter
		return err
	}
	if err := walk(); err != nil {
		var de *pv.Error
		if errors.As(err, &de) {
			return err
		}
		return pv.Errorf(pv.EInvalid, "The request body is not valid: %s.", jsonProblem(err))
	}
	return nil
}
