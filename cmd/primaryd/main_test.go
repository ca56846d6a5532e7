package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/api"
	"primaryvote/audit/record"
	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

// start runs primaryd's real wiring on a fresh database, on a random port,
// with the secrets the fixture used.
func start(t testing.TB, env *fixture.Env, secretsDir string, cfg api.Config) string {
	t.Helper()
	var logs bytes.Buffer
	m := &Main{
		Config: Config{Addr: "127.0.0.1:0", DatabaseURL: env.DB.URL, SecretsDir: secretsDir, MaxConns: 20,
			ShutdownTimeout: 5 * time.Second, API: cfg, LogOrigin: "primaryvote.test/log", SequenceInterval: 10 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	return "http://" + m.Addr()
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type client struct {
	t    testing.TB
	base string
}

func (c client) call(method, path, token, key, body string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", idemKey(key))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// idemKey stretches a test's name for a key into a valid Idempotency-Key
// (128 bits in hex), the same for the same name.
func idemKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16])
}

func field(t testing.TB, body, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	s, _ := m[name].(string)
	return s
}

// TestVoteEndToEnd is the README's session: a voter signs in, reads the
// ballot, casts, replays the request, tries another key, and an official
// reads turnout.
func TestVoteEndToEnd(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	secrets := env.SecretsDir // the server shares the fixture's secrets
	el := env.Setup(t, "demo", 10, true)
	if err := env.Officials.Add(context.Background(), "admin", auth.Admin, "admin password 1234", "test"); err != nil {
		t.Fatal(err)
	}
	c := client{t, start(t, env, secrets, api.Config{})}

	if st, body := c.call("GET", "/", "", "", ""); st != 200 || !strings.Contains(body, "Test primary demo") || !strings.Contains(body, "/static/site.css?v=") {
		t.Errorf("GET / = %d %s", st, body)
	}
	if st, body := c.call("GET", "/static/site.css", "", "", ""); st != 200 || !strings.Contains(body, "main {") {
		t.Errorf("GET /static/site.css = %d", st)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if st, body := c.call("GET", p, "", "", ""); st != 200 {
			t.Errorf("GET %s = %d %s", p, st, body)
		}
	}

	st, body := c.call("POST", "/api/v1/elections/demo/sessions", "", "", signInBody("demo", "V00001", el.Codes["V00001"]))
	if st != 201 {
		t.Fatalf("sign in = %d %s", st, body)
	}
	token := field(t, body, "token")

	st, body = c.call("GET", "/api/v1/elections/demo/ballot", token, "", "")
	if st != 200 || !strings.Contains(body, `"voted":false`) || !strings.Contains(body, `"leader"`) {
		t.Fatalf("ballot = %d %s", st, body)
	}

	// The voter's device encrypts, proves and signs; the server only checks.
	vote := fixture.CastBody(env.Ballot(t, el, "V00001", ballot.Selections{"leader": {"b"}, "council": {"q", "s"}}))
	st, receipt := c.call("POST", "/api/v1/elections/demo/ballots", token, "ballot-1", vote)
	if st != 201 || field(t, receipt, "tracking_code") == "" {
		t.Fatalf("cast = %d %s", st, receipt)
	}
	st, body = c.call("POST", "/api/v1/elections/demo/ballots", token, "ballot-1", vote)
	if st != 201 || body != receipt {
		t.Errorf("replay = %d %q; want 201 %q", st, body, receipt)
	}
	st, body = c.call("POST", "/api/v1/elections/demo/ballots", token, "ballot-2", vote)
	if st != 409 || !strings.Contains(body, strings.TrimSpace(receipt)) {
		t.Errorf("other key = %d %s; want 409 with the receipt", st, body)
	}
	st, body = c.call("GET", "/api/v1/elections/demo/ballot", token, "", "")
	if st != 200 || !strings.Contains(body, `"voted":true`) || !strings.Contains(body, field(t, receipt, "tracking_code")) {
		t.Errorf("ballot after voting = %d %s", st, body)
	}

	st, body = c.call("POST", "/api/v1/officials/sessions", "", "", `{"username":"admin","password":"admin password 1234"}`)
	if st != 201 {
		t.Fatalf("official sign in = %d %s", st, body)
	}
	official := field(t, body, "token")
	st, body = c.call("GET", "/api/v1/elections/demo/turnout", official, "", "")
	if st != 200 || !strings.Contains(body, `"eligible":10,"voted":1`) {
		t.Errorf("turnout = %d %s", st, body)
	}
	// A voter signed in before the close cannot cast after it.
	st, body = c.call("POST", "/api/v1/elections/demo/sessions", "", "", signInBody("demo", "V00002", el.Codes["V00002"]))
	if st != 201 {
		t.Fatalf("sign in = %d %s", st, body)
	}
	token2 := field(t, body, "token")
	if st, body := c.call("POST", "/api/v1/elections/demo/close", official, "", ""); st != 200 {
		t.Errorf("close = %d %s", st, body)
	}
	if st, body := c.call("POST", "/api/v1/elections/demo/ballots", token2, "k", vote); st != 409 {
		t.Errorf("cast after close = %d %s; want 409", st, body)
	}
	if n := env.Count(t, `SELECT count(*) FROM ballots`); n != 1 {
		t.Errorf("ballots = %d; want 1", n)
	}

	// Everything above is in the audit log, under a checkpoint that verifies
	// with the key the server publishes.
	_, key := c.call("GET", "/api/v1/log/key", "", "", "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Nothing is queued any more, so the latest checkpoint (committed with
		// its records) covers everything.
		queued := env.Count(t, `SELECT count(*) FROM audit_entries`)
		st, signed := c.call("GET", "/api/v1/elections/demo/checkpoint", "", "", "")
		if st == 200 && queued == 0 {
			cp, err := record.OpenCheckpoint([]byte(signed), strings.TrimSpace(key))
			logged := env.Count(t, `SELECT count(*) FROM audit_log`)
			if err != nil || cp.Size != int64(logged) {
				t.Errorf("checkpoint = %+v, %v; want the whole log of %d records", cp, err, logged)
			}
			if n := env.Count(t, `SELECT count(*) FROM audit_log WHERE kind IN ('ballot.cast', 'election.closed')`); n != 2 {
				t.Errorf("the log has %d of the cast and the close; want both", n)
			}
			checkReceipt(t, c, strings.TrimSpace(key), field(t, receipt, "tracking_code"))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint covers the log: %d %s, %d entries queued", st, signed, queued)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkSignInAndCast measures votes per second through the real server:
// each operation is one voter signing in and casting a ballot over HTTP on
// loopback, with 32 voters at a time.
func BenchmarkSignInAndCast(b *testing.B) {
	env := fixture.New(b)
	secrets := env.SecretsDir
	env.Clock.Set(time.Now())
	el := env.Setup(b, "bench", b.N, true)
	base := start(b, env, secrets, api.Config{SignInsPerIP: 1 << 30})
	// The devices make their ballots before the clock starts.
	bodies := make(map[string]string, len(el.Voters))
	for _, v := range el.Voters {
		bodies[v] = fixture.CastBody(env.Ballot(b, el, v, ballot.Selections{"leader": {"a"}, "council": {"p", "r"}}))
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	hc := &http.Client{Transport: transport}
	post := func(path, token, key, body string) (int, []byte) {
		st, out, err := postJSON(hc, base+path, token, key, body)
		if err != nil {
			b.Error(err)
		}
		return st, out
	}
	var next, failures atomic.Int64
	b.SetParallelism(16) // × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v := el.Voters[next.Add(1)-1]
			st, out := post("/api/v1/elections/bench/sessions", "", "", signInBody("bench", v, el.Codes[v]))
			if st != 201 {
				failures.Add(1)
				continue
			}
			var sess struct{ Token string }
			json.Unmarshal(out, &sess)
			key := make([]byte, 16)
			rand.Read(key)
			if st, _ := post("/api/v1/elections/bench/ballots", sess.Token, hex.EncodeToString(key), bodies[v]); st != 201 {
				failures.Add(1)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "votes/s")
	if failures.Load() != 0 {
		b.Fatalf("%d of %d votes failed", failures.Load(), b.N)
	}
	if got := env.Count(b, `SELECT count(*) FROM ballots WHERE election_id = 'bench'`); got != b.N {
		b.Fatalf("ballots = %d; want %d", got, b.N)
	}
}

// checkReceipt fetches a receipt and verifies it as a voter's app would,
// with x/mod's note and tlog packages alone. The code is sent in lower case
// without hyphens, as someone might type it.
func checkReceipt(t *testing.T, c client, key, code string) {
	t.Helper()
	typed := strings.ToLower(strings.ReplaceAll(code, "-", ""))
	st, body := c.call("GET", "/api/v1/elections/demo/receipts/"+typed, "", "", "")
	var r struct {
		TrackingCode string `json:"tracking_code"`
		InLog        bool   `json:"in_log"`
		Position     int64
		Record       []byte
		Checkpoint   string
		Proof        []tlog.Hash `json:"inclusion_proof"`
	}
	if st != 200 || json.Unmarshal([]byte(body), &r) != nil || !r.InLog || r.TrackingCode != code {
		t.Fatalf("receipt = %d %s", st, body)
	}
	v, _ := note.NewVerifier(key)
	n, err := note.Open([]byte(r.Checkpoint), note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open(receipt checkpoint) = %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	size, _ := strconv.ParseInt(lines[1], 10, 64)
	root, _ := base64.StdEncoding.DecodeString(lines[2])
	if err := tlog.CheckRecord(r.Proof, size, tlog.Hash(root), r.Position, tlog.RecordHash(r.Record)); err != nil {
		t.Errorf("tlog.CheckRecord(receipt) = %v", err)
	}
	if !bytes.Contains(r.Record, []byte(code)) {
		t.Errorf("the proven record does not name tracking code %s", code)
	}
	if st, _ := c.call("GET", "/api/v1/elections/demo/receipts/"+strings.Repeat("0", 52), "", "", ""); st != 404 {
		t.Errorf("unknown tracking code: %d; want 404", st)
	}
	if st, _ := c.call("GET", "/api/v1/elections/demo/receipts/not-a-code", "", "", ""); st != 400 {
		t.Errorf("malformed tracking code: %d; want 400", st)
	}
}

// The metrics are served on their own listener, not the public one.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	metrics := freeAddr(t)
	m := &Main{Config: Config{Addr: "127.0.0.1:0", DatabaseURL: env.DB.URL, SecretsDir: env.SecretsDir, MaxConns: 5,
		ShutdownTimeout: 5 * time.Second, LogOrigin: fixture.LogOrigin, MetricsAddr: metrics}, Logger: slog.New(slog.DiscardHandler)}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := client{t, "http://" + m.Addr()}
	if st, body := c.call("GET", "/metrics", "", "", ""); st != 404 || strings.Contains(body, "primaryvote_") {
		t.Errorf("public /metrics = %d %.80q; want 404", st, body)
	}
	var body string
	for range 50 { // the metrics listener starts in the background
		res, err := http.Get("http://" + metrics + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(body, "primaryvote_http_requests_total") {
		t.Errorf("the metrics listener served %.80q", body)
	}
}

// The sign-ins and failures a server counted are logged when it shuts down.
func TestSignInFailuresLoggedAtShutdown(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	env.Setup(t, "e1", 2, true)
	m := &Main{Config: Config{Addr: "127.0.0.1:0", DatabaseURL: env.DB.URL, SecretsDir: env.SecretsDir, MaxConns: 5,
		ShutdownTimeout: 5 * time.Second, LogOrigin: fixture.LogOrigin, SignInLogInterval: time.Hour}, Logger: slog.New(slog.DiscardHandler)}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := client{t, "http://" + m.Addr()}
	for _, id := range []string{"V00001", "NOBODY", "NOBODY2"} {
		if st, _ := c.call("POST", "/api/v1/elections/e1/sessions", "", "", signInBody("e1", id, "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA")); st != 401 {
			t.Fatalf("a wrong code = %d", st)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	var data string
	err := env.DB.Pool.QueryRow(context.Background(), `SELECT convert_from(substring(record from 45), 'UTF8')::json->>'data' FROM audit_log WHERE kind = 'voter.signins'`).Scan(&data)
	if err != nil || !strings.Contains(data, `"signed_in":0,"wrong_code":1,"unknown_voter":2`) {
		t.Errorf("logged failures = %s, %v", data, err)
	}
}

// signInBody is a sign-in by voter with code, signed now, as the voter's
// device sends it.
func signInBody(election, voter, code string) string {
	return fixture.SignIn(election, voter, code, time.Now()).JSON()
}
