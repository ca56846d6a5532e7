package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// server is a client of one election's API on a primaryd: what the
// reference voter client and the trustees' commands talk to.
type server struct {
	url, election string
	client        *http.Client
}

func newServer(url, election string) *server {
	return &server{url: strings.TrimRight(url, "/"), election: election, client: &http.Client{Timeout: 30 * time.Second}}
}

func (s *server) base() string { return s.url + "/api/v1/elections/" + s.election }

// do sends a request and returns the status and the body.
func (s *server) do(ctx context.Context, method, url, token, key string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	return res.StatusCode, answer, err
}

// post sends v as JSON to path under the election and wants a 201.
func (s *server) post(ctx context.Context, path string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	st, answer, err := s.do(ctx, "POST", s.base()+path, "", "", body)
	if err != nil {
		return err
	}
	if st != http.StatusCreated {
		return fmt.Errorf("the server refused it (%d): %s", st, problemDetail(answer))
	}
	return nil
}

// problemDetail is a problem document's detail, or the body itself.
func problemDetail(body []byte) string {
	var p struct{ Detail string }
	if json.Unmarshal(body, &p) == nil && p.Detail != "" {
		return p.Detail
	}
	return strings.TrimSpace(string(body))
}

// get reads a JSON resource of the election.
func (s *server) get(ctx context.Context, path, token string, out any) error {
	st, answer, err := s.do(ctx, "GET", s.base()+path, token, "", nil)
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, st, problemDetail(answer))
	}
	return json.Unmarshal(answer, out)
}

// text reads a plain-text resource of the server.
func (s *server) text(ctx context.Context, path string) (string, error) {
	st, answer, err := s.do(ctx, "GET", s.url+path, "", "", nil)
	if err == nil && st != http.StatusOK {
		err = fmt.Errorf("GET %s: %d", path, st)
	}
	return string(answer), err
}
