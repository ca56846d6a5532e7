package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// A request over the bound is refused at once with 503 and Retry-After,
// readiness says the server is overloaded, and a freed slot admits again.
func TestAdmissionControl(t *testing.T) {
	t.Parallel()
	s := &Server{cfg: Config{MaxInFlight: 2, RetryAfter: 3}, metrics: newMetrics(), admission: newAdmission(2, 3), logger: discard}
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := s.admit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	done := make(chan int, 2)
	for range 2 {
		go func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/x", nil))
			done <- rec.Code
		}()
	}
	<-entered
	<-entered

	// Both slots stay taken until release is closed, so this call returning
	// at all shows the refusal does not wait for a slot.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/x", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "3" || !strings.Contains(rec.Body.String(), "busy") {
		t.Errorf("request over the bound = %d, Retry-After %q, %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	ready := httptest.NewRecorder()
	s.readyz(ready, httptest.NewRequest("GET", "/readyz", nil))
	if ready.Code != 503 {
		t.Errorf("readyz while full = %d; want 503", ready.Code)
	}

	close(release)
	for range 2 {
		if code := <-done; code != 200 {
			t.Errorf("admitted request = %d", code)
		}
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/x", nil))
	if rec.Code != 200 {
		t.Errorf("after the slots freed: %d; want 200", rec.Code)
	}
}

func TestDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true}, // admin shutdown
		{&pgconn.PgError{Code: "08006"}, true}, // connection failure
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "42P01"}, false},
		{fmt.Errorf("couldn't read: %w", io.ErrUnexpectedEOF), true},
		{errors.New("a bug"), false},
	} {
		if got := databaseUnavailable(tt.err); got != tt.want {
			t.Errorf("databaseUnavailable(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
}
