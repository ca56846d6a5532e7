package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	pv "primaryvote"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	for code, want := range map[pv.Code]int{
		pv.EInvalid: 400, pv.EUnauthorized: 401, pv.EForbidden: 403, pv.ENotFound: 404,
		pv.EConflict: 409, pv.EMismatch: 422, pv.ETooMany: 429, pv.EInternal: 500,
		TooLarge: 413, UnsupportedMediaType: 415, MethodNotAllowed: 405, RequestTimeout: 408,
		Overloaded: 503, Unavailable: 503,
		"no_such_code": 500, "": 500,
	} {
		if got := Status(code); got != want {
			t.Errorf("Status(%q) = %d; want %d", code, got, want)
		}
	}
}

func TestOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err    error
		code   pv.Code
		detail string
	}{
		{pv.Errorf(pv.EConflict, "election %q is closed", "e1"), pv.EConflict, `Election "e1" is closed.`},
		{fmt.Errorf("wrapped: %w", pv.Errorf(pv.ENotFound, "no election %q", "x")), pv.ENotFound, `No election "x".`},
		{errors.New("connection reset by peer at 10.0.0.7"), pv.EInternal, "Internal error."},
		{pv.Errorf(pv.EInternal, "the pepper is %x", "secret"), pv.EInternal, "Internal error."},
		{pv.Errorf("made_up", "something"), pv.EInternal, "Internal error."},
	} {
		code, detail := Of(c.err)
		if code != c.code || detail != c.detail {
			t.Errorf("Of(%v) = %q, %q; want %q, %q", c.err, code, detail, c.code, c.detail)
		}
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	Write(w, pv.EConflict, "You have already voted.", map[string]string{"tracking_code": "ABC", "status": "ignored"})
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusConflict || w.Header().Get("Content-Type") != "application/problem+json" ||
		doc["type"] != "urn:primaryvote:problem:conflict" || doc["status"] != float64(409) ||
		doc["title"] != "Conflict" || doc["detail"] != "You have already voted." || doc["tracking_code"] != "ABC" {
		t.Errorf("Write: %d %v", w.Code, doc)
	}

	w = httptest.NewRecorder()
	Write(w, "no_such_code", "x", nil)
	if w.Code != 500 || !strings.Contains(w.Body.String(), "urn:primaryvote:problem:internal") {
		t.Errorf("Write(unknown code): %d %s", w.Code, w.Body)
	}
}

// TestTypesAreDocumented keeps README.md's list of problem types whole.
func TestTypesAreDocumented(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[pv.Code]bool{}
	for _, ty := range Types {
		if seen[ty.Code] {
			t.Errorf("%s is listed twice", ty.Code)
		}
		seen[ty.Code] = true
		row := fmt.Sprintf("| `%s` | %d |", ty.Code, ty.Status)
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the row %q", row)
		}
	}
}
