package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"primaryvote/api"
	"primaryvote/audit/bundle"
	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

// harness is an API server with an open election "e1": on a fresh
// database (newHarness), or over services in memory (newFakeHarness).
type harness struct {
	t   *testing.T
	srv *httptest.Server
	api *api.Server
	// codes are the voters' codes; clock and secrets, the server's.
	codes   map[string]string
	clock   *fixture.Clock
	secrets *auth.Secrets
	// addOfficial adds an account; countWritten counts what casting wrote.
	addOfficial  func(name string, role auth.Role, password string)
	countWritten func() int
	// env and el are the database's, world the fakes'.
	env   *fixture.Env
	el    *fixture.Election
	world *world
	// logKey verifies the log's checkpoints.
	logKey string
	// ballots are the cast bodies made so far, by voter.
	ballots map[string]string
}

func newHarness(t *testing.T, cfg api.Config) *harness {
	t.Helper()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 20, true)
	a := api.New(cfg, api.Services{
		Database: env.DB.Pool, Elections: env.Elections, Credentials: env.Credentials,
		Officials: env.Officials, Tokens: env.Tokens, Log: env.Log,
	}, nil)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	h := &harness{t: t, env: env, el: el, srv: srv, api: a, logKey: env.Signer.VerifierKey(),
		codes: el.Codes, clock: env.Clock, secrets: env.Secrets}
	h.addOfficial = func(name string, role auth.Role, password string) {
		if err := env.Officials.Add(context.Background(), name, role, password, "test"); err != nil {
			t.Fatal(err)
		}
	}
	h.countWritten = func() int {
		return env.Count(t, `SELECT (SELECT count(*) FROM ballots) + (SELECT count(*) FROM audit_entries WHERE kind = 'ballot.cast')`)
	}
	return h
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) problem() map[string]any {
	var p map[string]any
	json.Unmarshal([]byte(r.body), &p)
	return p
}

// do sends a request; headers alternate name, value.
func (h *harness) do(method, path, body string, headers ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(b)}
}

func (h *harness) voterToken(voter string) string {
	h.t.Helper()
	r := h.do("POST", "/api/v1/elections/e1/sessions", h.signIn(voter, h.codes[voter]))
	if r.status != http.StatusCreated {
		h.t.Fatalf("sign in %s: %d %s", voter, r.status, r.body)
	}
	var s struct{ Token string }
	json.Unmarshal([]byte(r.body), &s)
	return s.Token
}

func (h *harness) officialToken(role auth.Role) string {
	h.t.Helper()
	name := "o-" + string(role)
	h.addOfficial(name, role, "long enough password")
	r := h.do("POST", "/api/v1/officials/sessions", fmt.Sprintf(`{"username":%q,"password":"long enough password"}`, name))
	if r.status != http.StatusCreated {
		h.t.Fatalf("official sign in: %d %s", r.status, r.body)
	}
	var s struct{ Token string }
	json.Unmarshal([]byte(r.body), &s)
	return s.Token
}

func (h *harness) written() int { return h.countWritten() }

// signIn is the body of a sign-in by voter with code, signed now.
func (h *harness) signIn(voter, code string) string {
	return fixture.SignIn("e1", voter, code, h.clock.Now()).JSON()
}

// idemKey stretches a test's name for a key into a valid Idempotency-Key.
func idemKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16])
}

var goodSelections = ballot.Selections{"leader": {"a"}, "council": {"p", "q"}}

// ballot is the body of a cast of goodSelections by voter's device, made
// once per voter so that a retry sends the same bytes, as a device does.
// Over the fakes, which check no ballot, it is a stand-in of the right form.
func (h *harness) ballot(voter string) string {
	h.t.Helper()
	if b, ok := h.ballots[voter]; ok {
		return b
	}
	var raw []byte
	if h.env != nil {
		raw = h.env.Ballot(h.t, h.el, voter, goodSelections)
	} else {
		sum := sha256.Sum256([]byte("a stand-in ballot of " + voter))
		raw = sum[:]
	}
	if h.ballots == nil {
		h.ballots = map[string]string{}
	}
	h.ballots[voter] = fixture.CastBody(raw)
	return h.ballots[voter]
}

func TestCastRejectsBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, api.Config{})
	tok := h.voterToken("V00001")
	other := h.env.Setup(t, "e2", 1, true)
	otherTok, _, _ := h.env.Tokens.IssueVoter("e2", auth.Voter{ID: other.Voters[0], Group: other.Groups[other.Voters[0]]})

	tests := []struct {
		name    string
		body    string
		headers []string
		status  int
		detail  string // a part of the problem's detail
	}{
		{"no idempotency key", h.ballot("V00001"), []string{"Idempotency-Key", ""}, 400, "Idempotency-Key"},
		{"key too long", h.ballot("V00001"), []string{"Idempotency-Key", strings.Repeat("k", 256)}, 400, "Idempotency-Key"},
		{"key with a space", h.ballot("V00001"), []string{"Idempotency-Key", strings.Repeat("a", 16) + " " + strings.Repeat("b", 16)}, 400, "Idempotency-Key"},
		{"key too short to be random", h.ballot("V00001"), []string{"Idempotency-Key", strings.Repeat("k", 31)}, 400, "Idempotency-Key"},
		{"no token", h.ballot("V00001"), []string{"Authorization", ""}, 401, "sign in again"},
		{"garbage token", h.ballot("V00001"), []string{"Authorization", "Bearer nope"}, 401, "sign in again"},
		{"token for another election", h.ballot("V00001"), []string{"Authorization", "Bearer " + otherTok}, 401, "sign in again"},
		{"wrong content type", h.ballot("V00001"), []string{"Content-Type", "text/plain"}, 415, "application/json"},
		{"no content type", h.ballot("V00001"), []string{"Content-Type", ""}, 415, "application/json"},
		{"oversized body", `{"encrypted":"` + strings.Repeat("A", 70<<10) + `"}`, nil, 413, "larger than"},
		{"malformed JSON", `{"encrypted":`, nil, 400, "not valid"},
		{"empty body", ``, []string{"Content-Type", "application/json"}, 400, "not valid"},
		{"unknown field", `{"encrypted":"AAAA","voter":"V00002"}`, nil, 400, "unknown field"},
		{"duplicate key", `{"encrypted":"AAAA","encrypted":"AAAA"}`, nil, 400, "twice"},
		{"bad UTF-8", "{\"encrypted\":\"\xff\"}", nil, 400, "UTF-8"},
		{"trailing data", h.ballot("V00001") + `{}`, nil, 400, "after its JSON value"},
		{"wrong type", `{"encrypted":["a"]}`, nil, 400, `"encrypted" must be a string`},
		{"choices in plaintext", `{"selections":{"leader":["a"],"council":["p"]}}`, nil, 400, "device must encrypt"},
		{"choices beside a ballot", `{"selections":{"leader":["a"]},"encrypted":"AAAA"}`, nil, 400, "device must encrypt"},
		{"neither", `{}`, nil, 400, "device must encrypt"},
		{"null selections", `{"selections":null}`, nil, 400, "device must encrypt"},
		{"not base64", `{"encrypted":"!!"}`, nil, 400, "base64"},
		{"another voter's ballot", h.ballot("V00002"), nil, 403, "not this voter's"},
		{"a ballot for another election", fixture.CastBody(h.env.Ballot(t, other, other.Voters[0], goodSelections)), nil, 400, `not a version 2 ballot for election`},
		{"unknown election", h.ballot("V00001"), []string{"X-Path", "/api/v1/elections/nope/ballots"}, 401, "sign in again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := idemKey(tt.name)
			headers := append([]string{"Authorization", "Bearer " + tok, "Idempotency-Key", key}, tt.headers...)
			path := "/api/v1/elections/e1/ballots"
			for i := 0; i+1 < len(headers); i += 2 {
				if headers[i] == "X-Path" {
					path = headers[i+1]
				}
			}
			r := h.do("POST", path, tt.body, headers...)
			if r.status != tt.status {
				t.Errorf("status = %d; want %d (%s)", r.status, tt.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q; want application/problem+json", ct)
			}
			if p := r.problem(); p["status"] != float64(tt.status) || !strings.Contains(fmt.Sprint(p["detail"]), tt.detail) {
				t.Errorf("problem = %v; want status %d and a detail mentioning %q", p, tt.status, tt.detail)
			}
			if n := h.written(); n != 0 {
				t.Fatalf("a rejected request wrote %d rows", n)
			}
		})
	}
}

func TestCastIdempotencyOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, api.Config{})
	tok := h.voterToken("V00001")
	auth := []string{"Authorization", "Bearer " + tok, "Idempotency-Key", idemKey("k1")}

	first := h.do("POST", "/api/v1/elections/e1/ballots", h.ballot("V00001"), auth...)
	if first.status != 201 {
		t.Fatalf("cast: %d %s", first.status, first.body)
	}
	again := h.do("POST", "/api/v1/elections/e1/ballots", h.ballot("V00001"), auth...)
	if again.status != 201 || again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay = %d %q; want 201 %q", again.status, again.body, first.body)
	}
	changed := h.do("POST", "/api/v1/elections/e1/ballots", fixture.CastBody(h.env.Ballot(t, h.el, "V00001", goodSelections)), auth...)
	if changed.status != 422 {
		t.Errorf("same key, another ballot (the same choices encrypted afresh) = %d; want 422", changed.status)
	}
	// The same ballot in a body spaced otherwise is the same request.
	spaced := h.do("POST", "/api/v1/elections/e1/ballots", h.ballot("V00001")+" ", auth...)
	if spaced.status != 201 || spaced.body != first.body {
		t.Errorf("same key, same ballot, respaced body = %d %s; want the replay", spaced.status, spaced.body)
	}
	otherKey := h.do("POST", "/api/v1/elections/e1/ballots", h.ballot("V00001"), "Authorization", "Bearer "+tok, "Idempotency-Key", idemKey("k2"))
	var conflict struct{ Receipt json.RawMessage }
	json.Unmarshal([]byte(otherKey.body), &conflict)
	if otherKey.status != 409 || string(conflict.Receipt) != strings.TrimSpace(first.body) {
		t.Errorf("other key = %d %s; want 409 with receipt %s", otherKey.status, otherKey.body, first.body)
	}
	b := h.do("GET", "/api/v1/elections/e1/ballot", "", "Authorization", "Bearer "+tok)
	var ballot struct {
		Voted   bool
		Receipt json.RawMessage
	}
	json.Unmarshal([]byte(b.body), &ballot)
	if !ballot.Voted || string(ballot.Receipt) != first.body {
		t.Errorf("GET ballot after voting = %s; want voted with the receipt", b.body)
	}
	if n := h.env.Count(t, `SELECT count(*) FROM ballots`); n != 1 {
		t.Errorf("ballots = %d; want 1", n)
	}
	// The record holds hashes and the receipt, nothing of a choice: the
	// ballot's hash is its tracking code.
	var keyHash, tracking, content []byte
	h.env.DB.Pool.QueryRow(context.Background(), `SELECT idempotency_key_hash, tracking_code, content FROM ballots`).Scan(&keyHash, &tracking, &content)
	if sum := sha256.Sum256(content); !bytes.Equal(tracking, sum[:]) {
		t.Errorf("the stored tracking code is not the SHA-256 of the stored ballot")
	}
	if sum := sha256.Sum256([]byte(idemKey("k1"))); !bytes.Equal(keyHash, sum[:]) {
		t.Errorf("the stored idempotency record is not the SHA-256 of the key")
	}
}

func TestCastRefusedWhenClosed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, api.Config{})
	tok := h.voterToken("V00001")
	if err := h.env.Elections.Close(context.Background(), "e1", "test"); err != nil {
		t.Fatal(err)
	}
	r := h.do("POST", "/api/v1/elections/e1/ballots", h.ballot("V00001"), "Authorization", "Bearer "+tok, "Idempotency-Key", idemKey("k"))
	if r.status != 409 || h.written() != 0 {
		t.Errorf("cast when closed = %d %s, %d rows; want 409, none", r.status, r.body, h.written())
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t, api.Config{}, 20)
	path := "/api/v1/elections/e1/sessions"
	wrong := h.do("POST", path, h.signIn("V00001", h.codes["V00002"]))
	unknown := h.do("POST", path, h.signIn("NOBODY", h.codes["V00002"]))
	if wrong.status != 401 || unknown.status != 401 || wrong.body != unknown.body {
		t.Errorf("wrong code: %d %s; unknown voter: %d %s; want the same 401", wrong.status, wrong.body, unknown.status, unknown.body)
	}
	good := fixture.SignIn("e1", "V00001", h.codes["V00001"], h.clock.Now())
	sig := base64.StdEncoding.EncodeToString(good.Signature)
	for name, body := range map[string]string{
		"the code itself":      fmt.Sprintf(`{"voter_id":"V00001","code":%q}`, h.codes["V00001"]),
		"unknown field":        fmt.Sprintf(`{"voter_id":"V00001","at":%d,"signature":%q,"remember":true}`, good.At, sig),
		"missing signature":    fmt.Sprintf(`{"voter_id":"V00001","at":%d}`, good.At),
		"missing time":         fmt.Sprintf(`{"voter_id":"V00001","signature":%q}`, sig),
		"short signature":      fmt.Sprintf(`{"voter_id":"V00001","at":%d,"signature":%q}`, good.At, sig[:40]),
		"signature not base64": fmt.Sprintf(`{"voter_id":"V00001","at":%d,"signature":"%s!"}`, good.At, sig[:20]),
		"time not a number":    fmt.Sprintf(`{"voter_id":"V00001","at":"now","signature":%q}`, sig),
		"not an object":        `["V00001"]`,
	} {
		if r := h.do("POST", path, body); r.status != 400 {
			t.Errorf("sign in with %s = %d %s; want 400", name, r.status, r.body)
		}
	}
	// The device's clock too far off, and a sign-in replayed, are refused.
	stale := fixture.SignIn("e1", "V00001", h.codes["V00001"], h.clock.Now().Add(-6*time.Minute)).JSON()
	if r := h.do("POST", path, stale); r.status != 401 || !strings.Contains(r.body, "clock") {
		t.Errorf("sign in made 6 minutes ago = %d %s; want 401 about the clock", r.status, r.body)
	}
	if r := h.do("POST", path, good.JSON()); r.status != 201 || !strings.Contains(r.body, `"voted":false`) {
		t.Errorf("sign in = %d %s; want 201, not voted", r.status, r.body)
	}
	if r := h.do("POST", path, good.JSON()); r.status != 401 {
		t.Errorf("the same sign-in again = %d %s; want 401", r.status, r.body)
	}
	if r := h.do("POST", "/api/v1/elections/nope/sessions", h.signIn("V00001", h.codes["V00001"])); r.status != 404 {
		t.Errorf("sign in to unknown election = %d; want 404", r.status)
	}
	// Malformed ids, a NUL byte among them, are a clear 400, never a 500.
	for _, voter := range []string{"V00\x001", "V 1"} {
		body := fixture.SignIn("e1", voter, h.codes["V00001"], h.clock.Now()).JSON()
		if r := h.do("POST", path, body); r.status != 400 || !strings.Contains(r.body, "not a voter id") {
			t.Errorf("sign in with %s = %d %s; want 400", body, r.status, r.body)
		}
	}
	for _, body := range []string{`{"username":"ad\u0000min","password":"long enough password"}`, `{"username":"Admin","password":"long enough password"}`} {
		if r := h.do("POST", "/api/v1/officials/sessions", body); r.status != 400 || !strings.Contains(r.body, "not a username") {
			t.Errorf("official sign in with %s = %d %s; want 400", body, r.status, r.body)
		}
	}
	// A draft answers exactly as an unknown election does, everywhere the
	// public can ask.
	h.world.add(fixture.Definition("draft"), ballot.Draft)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v1/elections/%s/sessions", h.signIn("V00001", h.codes["V00001"])},
		{"GET", "/api/v1/elections/%s", ""},
		{"GET", "/api/v1/elections/%s/checkpoint", ""},
		{"GET", "/api/v1/elections/%s/results", ""},
		{"GET", "/api/v1/elections/%s/receipts/0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000", ""},
	} {
		draft := h.do(tc.method, fmt.Sprintf(tc.path, "draft"), tc.body)
		unknown := h.do(tc.method, fmt.Sprintf(tc.path, "nope0"), tc.body)
		if draft.status != 404 || draft.status != unknown.status || strings.ReplaceAll(draft.body, "draft", "nope0") != unknown.body {
			t.Errorf("%s %s: draft %d %s, unknown %d %s; want the same 404", tc.method, tc.path, draft.status, draft.body, unknown.status, unknown.body)
		}
	}
	if r := h.do("GET", "/api/v1/elections", ""); strings.Contains(r.body, `"draft"`) {
		t.Errorf("the election list shows a draft: %s", r.body)
	}
}

func TestSignInThrottling(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t, api.Config{SignInsPerVoter: 3, SignInsPerIP: 8, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, 20)
	path := "/api/v1/elections/e1/sessions"
	guess := h.signIn("V00001", "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA")
	xff := func(ip string) []string { return []string{"X-Forwarded-For", ip} }

	for i := range 3 {
		if r := h.do("POST", path, guess, xff("203.0.113.1")...); r.status != 401 {
			t.Fatalf("guess %d = %d; want 401", i, r.status)
		}
	}
	r := h.do("POST", path, guess, xff("203.0.113.1")...)
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Errorf("4th guess for one voter from one address = %d (Retry-After %q); want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	// The voter is not locked out: the limit is the guessing address's.
	if r := h.do("POST", path, h.signIn("V00001", h.codes["V00001"]), xff("203.0.113.2")...); r.status != 201 {
		t.Errorf("the voter, from their own address, after the guesses = %d; want 201", r.status)
	}
	// Another voter is not affected.
	if r := h.do("POST", path, h.signIn("V00002", h.codes["V00002"]), xff("203.0.113.1")...); r.status != 201 {
		t.Errorf("another voter = %d; want 201", r.status)
	}
	// Per address: 8 a minute from 203.0.113.9, then 429; another address is fine.
	for i := 3; i <= 11; i++ {
		r := h.do("POST", path, h.signIn(fmt.Sprintf("V%05d", i), h.codes[fmt.Sprintf("V%05d", i)]), xff("203.0.113.9")...)
		if want := 201; i == 11 {
			if r.status != 429 {
				t.Errorf("9th sign-in from one address = %d; want 429", r.status)
			}
		} else if r.status != want {
			t.Errorf("sign-in %d from one address = %d; want 201", i, r.status)
		}
	}
	if r := h.do("POST", path, h.signIn("V00012", h.codes["V00012"]), xff("203.0.113.10")...); r.status != 201 {
		t.Errorf("sign-in from another address = %d; want 201", r.status)
	}
}

func TestSpoofedForwardedForGetsNoExtraQuota(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t, api.Config{SignInsPerIP: 3}, 20) // no trusted proxies
	path := "/api/v1/elections/e1/sessions"
	for i := 1; i <= 4; i++ {
		voter := fmt.Sprintf("V%05d", i)
		r := h.do("POST", path, h.signIn(voter, h.codes[voter]), "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		if i <= 3 && r.status != 201 || i == 4 && r.status != 429 {
			t.Errorf("sign-in %d with a spoofed X-Forwarded-For = %d", i, r.status)
		}
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t, api.Config{}, 20)
	admin := h.officialToken(auth.Admin)
	official := h.officialToken(auth.Official)
	auditor := h.officialToken(auth.Auditor)
	voter := h.voterToken("V00001")

	tests := []struct {
		method, path, token string
		status              int
	}{
		{"GET", "/api/v1/elections/e1/turnout", official, 200},
		{"GET", "/api/v1/elections/e1/turnout", admin, 200},
		{"GET", "/api/v1/elections/e1/turnout", auditor, 403},
		{"GET", "/api/v1/elections/e1/turnout", voter, 401},
		{"GET", "/api/v1/elections/e1/turnout", "", 401},
		{"POST", "/api/v1/elections/e1/close", official, 403},
		{"POST", "/api/v1/elections/e1/close", auditor, 403},
		{"POST", "/api/v1/elections/e1/close", voter, 401},
		{"POST", "/api/v1/elections/e1/close", admin, 200},
		{"POST", "/api/v1/elections/e1/close", admin, 409},
		{"POST", "/api/v1/elections/e1/open", admin, 409},
		{"GET", "/api/v1/elections/e1/ballot", admin, 401},
	}
	for _, tt := range tests {
		r := h.do(tt.method, tt.path, "", "Authorization", "Bearer "+tt.token)
		if r.status != tt.status {
			t.Errorf("%s %s = %d; want %d (%s)", tt.method, tt.path, r.status, tt.status, r.body)
		}
	}
	if got := strings.Join(h.world.actions, ","); got != "closed e1 by official:o-admin" {
		t.Errorf("steps taken: %s; want the close by official:o-admin", got)
	}
	if r := h.do("POST", "/api/v1/officials/sessions", `{"username":"o-admin","password":"wrong password"}`); r.status != 401 {
		t.Errorf("official with a wrong password = %d; want 401", r.status)
	}
}

func TestCrossOriginStateChangesRefused(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t, api.Config{}, 20)
	tok := h.voterToken("V00001")
	for name, hdr := range map[string][]string{
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site", "cross-site"},
		"foreign Origin":            {"Origin", "https://evil.example"},
	} {
		r := h.do("POST", "/api/v1/elections/e1/ballots", h.ballot("V00001"), append([]string{"Authorization", "Bearer " + tok, "Idempotency-Key", idemKey("k")}, hdr...)...)
		if r.status != 403 {
			t.Errorf("%s: status %d; want 403", name, r.status)
		}
	}
	if h.written() != 0 {
		t.Errorf("a cross-origin request wrote a ballot")
	}
	if r := h.do("POST", "/api/v1/elections/e1/ballots", h.ballot("V00001"), "Authorization", "Bearer "+tok, "Idempotency-Key", idemKey("k"), "Sec-Fetch-Site", "same-origin"); r.status != 201 {
		t.Errorf("same-origin cast = %d; want 201", r.status)
	}
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t, api.Config{}, 20)
	for _, tt := range []struct{ method, path string }{
		{"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/metrics"}, {"GET", "/api/v1/elections/e1"},
		{"GET", "/nowhere"}, {"POST", "/api/v1/elections/e1/ballots"}, {"PUT", "/api/v1/elections/e1/ballots"},
	} {
		r := h.do(tt.method, tt.path, "")
		for _, name := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"} {
			if r.header.Get(name) == "" {
				t.Errorf("%s %s (%d): no %s", tt.method, tt.path, r.status, name)
			}
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP = %q", csp)
		}
		if r.header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", tt.path)
		}
	}
	if r := h.do("PUT", "/api/v1/elections/e1/ballots", ""); r.status != 405 {
		t.Errorf("PUT = %d; want 405", r.status)
	}
	// The metrics show live turnout: never on the public listener.
	if r := h.do("GET", "/metrics", ""); r.status != 404 || strings.Contains(r.body, "primaryvote_") {
		t.Errorf("public /metrics = %d %.80q; want 404", r.status, r.body)
	}
	rec := httptest.NewRecorder()
	h.api.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "primaryvote_http_requests_total") {
		t.Errorf("the metrics lack the request counter")
	}
}

func TestTurnoutAndElection(t *testing.T) {
	t.Parallel()
	h := newHarness(t, api.Config{})
	official := h.officialToken(auth.Official)
	for _, v := range []string{"V00001", "V00002"} {
		tok := h.voterToken(v)
		if r := h.do("POST", "/api/v1/elections/e1/ballots", h.ballot(v), "Authorization", "Bearer "+tok, "Idempotency-Key", idemKey("k")); r.status != 201 {
			t.Fatal(r.body)
		}
	}
	r := h.do("GET", "/api/v1/elections/e1/turnout", "", "Authorization", "Bearer "+official)
	var got struct {
		Eligible, Voted int
		Groups          []struct{ Voted int }
	}
	json.Unmarshal([]byte(r.body), &got)
	if got.Eligible != 20 || got.Voted != 2 || len(got.Groups) != 2 || got.Groups[0].Voted != 1 {
		t.Errorf("turnout = %s", r.body)
	}
	e := h.do("GET", "/api/v1/elections/e1", "")
	if e.status != 200 || !strings.Contains(e.body, `"status":"open"`) || !strings.Contains(e.body, `"min_selections":1`) {
		t.Errorf("GET election = %d %s", e.status, e.body)
	}
	if e := h.do("GET", "/api/v1/elections/NOPE!", ""); e.status != 404 {
		t.Errorf("GET bad id = %d; want 404", e.status)
	}
}

func TestForgedTokensOverHTTP(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t, api.Config{}, 20)
	good := h.voterToken("V00001")
	now := h.clock.Now()
	kid := h.secrets.KeyID()
	claims := jwt.MapClaims{"iss": "primaryvote", "sub": "V00001", "aud": []string{"primaryvote:voter:e1"},
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": kid})
	payload, _ := json.Marshal(claims)
	none := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	hs.Header["kid"] = kid
	pub := h.secrets.SigningKey.Public().(ed25519.PublicKey)
	hs256, _ := hs.SignedString([]byte(pub))
	wrongAud := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": "primaryvote", "sub": "V00001",
		"aud": []string{"primaryvote:official"}, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "role": "admin"})
	wrongAud.Header["kid"] = kid
	wrongAudience, _ := wrongAud.SignedString(h.secrets.SigningKey)

	for name, tok := range map[string]string{"alg none": none, "HS256 keyed with the public key": hs256, "official audience": wrongAudience} {
		r := h.do("POST", "/api/v1/elections/e1/ballots", h.ballot("V00001"), "Authorization", "Bearer "+tok, "Idempotency-Key", idemKey("k"))
		if r.status != 401 {
			t.Errorf("%s: status %d; want 401", name, r.status)
		}
	}
	// A voter's own token, once expired.
	h.clock.Set(now.Add(16 * time.Minute))
	if r := h.do("POST", "/api/v1/elections/e1/ballots", h.ballot("V00001"), "Authorization", "Bearer "+good, "Idempotency-Key", idemKey("k")); r.status != 401 {
		t.Errorf("expired token: status %d; want 401", r.status)
	}
	if h.written() != 0 {
		t.Errorf("a forged token cast a ballot")
	}
}

func TestCastEncryptedBallot(t *testing.T) {
	t.Parallel()
	h := newHarness(t, api.Config{})
	ctx := context.Background()
	// The voter's device encrypts, proves and signs; the server only verifies.
	raw := h.env.Ballot(t, h.el, "V00001", ballot.Selections{"leader": {"b"}, "council": {"r"}})
	tampered := append([]byte{}, raw...)
	tampered[len(tampered)-64-40] ^= 1 // inside the last proof's response
	wrongLength := raw[:len(raw)-1]

	tok := h.voterToken("V00001")
	cast := func(key, body string) response {
		return h.do("POST", "/api/v1/elections/e1/ballots", body, "Authorization", "Bearer "+tok, "Idempotency-Key", idemKey(key))
	}
	for name, tc := range map[string]struct {
		body, detail string
	}{
		"tampered proof": {fixture.CastBody(tampered), "Encrypted ballot"},
		"wrong length":   {fixture.CastBody(wrongLength), "bytes"},
	} {
		r := cast("k-"+strings.ReplaceAll(name, " ", "-"), tc.body)
		if r.status != 400 || !strings.Contains(fmt.Sprint(r.problem()["detail"]), tc.detail) {
			t.Errorf("%s: %d %s; want 400 mentioning %q", name, r.status, r.body, tc.detail)
		}
	}
	if n := h.written(); n != 0 {
		t.Fatalf("rejected ballots wrote %d rows", n)
	}
	r := cast("good", fixture.CastBody(raw))
	if r.status != 201 {
		t.Fatalf("cast encrypted = %d %s", r.status, r.body)
	}
	var stored, credential []byte
	h.env.DB.Pool.QueryRow(ctx, `SELECT content, credential FROM ballots`).Scan(&stored, &credential)
	if !bytes.Equal(stored, raw) {
		t.Error("the stored ballot is not the one the voter's device sent")
	}
	if mine, _ := ballot.DeriveCredential("e1", h.codes["V00001"]); !bytes.Equal(credential, mine.Public()) {
		t.Error("the stored ballot is not filed under the voter's credential")
	}
	sum := sha256.Sum256(raw)
	if want := ballot.TrackingCode(sum); !strings.Contains(r.body, want) {
		t.Errorf("receipt %s; want tracking code %s", r.body, want)
	}
}

func TestReceiptOfAQueuedBallot(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t, api.Config{}, 20) // no sequencer runs here
	tok := h.voterToken("V00001")
	r := h.do("POST", "/api/v1/elections/e1/ballots", h.ballot("V00001"), "Authorization", "Bearer "+tok, "Idempotency-Key", idemKey("k"))
	var receipt struct {
		TrackingCode string `json:"tracking_code"`
	}
	json.Unmarshal([]byte(r.body), &receipt)
	got := h.do("GET", "/api/v1/elections/e1/receipts/"+receipt.TrackingCode, "")
	if got.status != 200 || !strings.Contains(got.body, `"status":"queued"`) || !strings.Contains(got.body, `"in_log":false`) {
		t.Errorf("receipt of a queued ballot = %d %s", got.status, got.body)
	}
	if got := h.do("GET", "/api/v1/elections/nope/receipts/"+receipt.TrackingCode, ""); got.status != 404 {
		t.Errorf("receipt in an unknown election = %d; want 404", got.status)
	}
}

func TestDashboardEndpoints(t *testing.T) {
	t.Parallel()
	h := newHarness(t, api.Config{})
	official := h.officialToken(auth.Official)
	auditor := h.officialToken(auth.Auditor)
	admin := h.officialToken(auth.Admin)
	voter := h.voterToken("V00001")

	if r := h.do("GET", "/api/v1/elections", ""); r.status != 200 || !strings.Contains(r.body, `"id":"e1"`) {
		t.Errorf("election list = %d %s", r.status, r.body)
	}
	for _, tt := range []struct {
		path, token string
		status      int
	}{
		{"/api/v1/elections/e1/audit/entries", official, 200},
		{"/api/v1/elections/e1/audit/entries", auditor, 403},
		{"/api/v1/elections/e1/audit/entries", voter, 401},
		{"/api/v1/elections/e1/audit/bundle", auditor, 200},
		{"/api/v1/elections/e1/audit/bundle", admin, 200},
		{"/api/v1/elections/e1/audit/bundle", official, 403},
		{"/api/v1/elections/e1/audit/bundle", voter, 401},
		{"/api/v1/elections/nope/audit/bundle", auditor, 404},
	} {
		if r := h.do("GET", tt.path, "", "Authorization", "Bearer "+tt.token); r.status != tt.status {
			t.Errorf("GET %s = %d; want %d", tt.path, r.status, tt.status)
		}
	}
	r := h.do("GET", "/api/v1/elections/e1/audit/bundle", "", "Authorization", "Bearer "+auditor)
	if !strings.HasPrefix(r.body, `{"type":"header","format":"primaryvote-bundle-v1"`) || !strings.Contains(r.body, `{"type":"end"`) {
		t.Errorf("bundle = %.200s", r.body)
	}
	// The server sequenced the log before exporting: the bundle holds every
	// entry so far, and verifies under the log's key.
	if report, err := bundle.Verify(strings.NewReader(r.body), bundle.Options{LogKey: h.logKey}); err != nil || report.Status != "open" {
		t.Errorf("Verify(served bundle) = %+v, %v", report, err)
	}
}

// A token outlives neither its account nor a change of role.
func TestOfficialRevokedMidSession(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t, api.Config{}, 20)
	admin := h.officialToken(auth.Admin)
	turnout := func() int {
		return h.do("GET", "/api/v1/elections/e1/turnout", "", "Authorization", "Bearer "+admin).status
	}
	if st := turnout(); st != 200 {
		t.Fatalf("turnout = %d", st)
	}
	h.world.setOfficial("o-admin", auth.Admin, true)
	if st := turnout(); st != 401 {
		t.Errorf("turnout with a disabled account's token = %d; want 401", st)
	}
	h.world.setOfficial("o-admin", auth.Admin, false)
	if st := turnout(); st != 200 {
		t.Errorf("turnout after the account is enabled again = %d; want 200", st)
	}
	// Demoted by another server: refused at the next request.
	h.world.setOfficial("o-admin", auth.Auditor, false)
	if st := turnout(); st != 403 {
		t.Errorf("turnout with a demoted admin's token = %d; want 403", st)
	}
	if st := h.do("POST", "/api/v1/elections/e1/close", "", "Authorization", "Bearer "+admin).status; st != 403 {
		t.Errorf("close with a demoted admin's token = %d; want 403", st)
	}
}
