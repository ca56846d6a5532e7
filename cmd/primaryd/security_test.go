package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"primaryvote/api"
	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

func securityWorld(t *testing.T) (*fixture.Env, *fixture.Election, string) {
	t.Helper()
	env := fixture.New(t)
	secrets := env.SecretsDir
	el := env.SetupWith(t, fixture.Definition("demo"), 5, true)
	return env, el, start(t, env, secrets, api.Config{})
}

// Connections that send their headers byte by byte, slowly, do not keep
// others out, and the server drops them after its header timeout.
func TestSlowClientsDoNotStarveOthers(t *testing.T) {
	_, el, base := securityWorld(t)
	addr := strings.TrimPrefix(base, "http://")
	var slow []net.Conn
	for range 100 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "POST /api/v1/elections/demo/sessions HTTP/1.1\r\nHost: x\r\n")
		slow = append(slow, c)
	}
	c := client{t, base}
	st, body := c.call("POST", "/api/v1/elections/demo/sessions", "", "", signInBody("demo", "V00001", el.Codes["V00001"]))
	if st != 201 {
		t.Errorf("a normal sign-in while 100 connections stall = %d %s", st, body)
	}
	// The server closes each stalled connection (ReadHeaderTimeout).
	for _, s := range slow {
		s.SetReadDeadline(time.Now().Add(30 * time.Second))
		b, err := io.ReadAll(s)
		if err != nil {
			t.Errorf("a stalled connection was not closed by the server: %v", err)
			break
		}
		if len(b) > 0 && !strings.Contains(string(b), "408") && !strings.Contains(string(b), "400") {
			t.Errorf("a stalled connection got %q", b)
		}
		s.Close()
	}
}

func TestOversizedHeadersRefused(t *testing.T) {
	t.Parallel()
	_, _, base := securityWorld(t)
	req, _ := http.NewRequest("GET", base+"/api/v1/elections/demo", nil)
	req.Header.Set("X-Filler", strings.Repeat("a", 64<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB of headers = %d; want 431", res.StatusCode)
	}
}

// Input shaped like SQL injection is only ever data: it gets the ordinary
// errors and changes nothing.
func TestInjectionAttemptsChangeNothing(t *testing.T) {
	t.Parallel()
	env, el, base := securityWorld(t)
	c := client{t, base}
	count := func() string {
		return fmt.Sprint(env.Count(t, `SELECT count(*) FROM voters`), env.Count(t, `SELECT count(*) FROM ballots`),
			env.Count(t, `SELECT count(*) FROM elections`),
			// The sequencer moves entries from the queue to the log meanwhile.
			env.Count(t, `SELECT (SELECT count(*) FROM audit_entries WHERE kind <> 'voter.signins') + (SELECT count(*) FROM audit_log WHERE kind <> 'voter.signins')`))
	}
	before := count()
	attacks := []string{`' OR '1'='1`, `V00001'; DROP TABLE ballots; --`, `V00001" OR 1=1 --`, `\'; DELETE FROM voters; --`}
	for _, a := range attacks {
		body := signInBody("demo", a, el.Codes["V00001"])
		if st, _ := c.call("POST", "/api/v1/elections/demo/sessions", "", "", body); st != 401 && st != 400 {
			t.Errorf("sign in as %q = %d; want 401 or 400", a, st)
		}
		if st, _ := c.call("GET", "/api/v1/elections/"+url.PathEscape(a), "", "", ""); st != 404 {
			t.Errorf("election %q = %d; want 404", a, st)
		}
		if st, _ := c.call("GET", "/api/v1/elections/demo/receipts/"+url.PathEscape(a), "", "", ""); st != 400 {
			t.Errorf("receipt %q = %d; want 400", a, st)
		}
	}
	st, body := c.call("POST", "/api/v1/elections/demo/sessions", "", "", signInBody("demo", "V00002", el.Codes["V00002"]))
	if st != 201 {
		t.Fatal(body)
	}
	token := field(t, body, "token")
	for _, a := range attacks {
		// Choices in plaintext are refused whatever they hold, and so is
		// anything in place of a ballot's base64.
		sel := fmt.Sprintf(`{"selections":{"leader":[%q],"council":["p"]}}`, a)
		if st, _ := c.call("POST", "/api/v1/elections/demo/ballots", token, "k-"+fmt.Sprint(len(a)), sel); st != 400 {
			t.Errorf("candidate %q = %d; want 400", a, st)
		}
		enc, _ := json.Marshal(map[string]string{"encrypted": a})
		if st, _ := c.call("POST", "/api/v1/elections/demo/ballots", token, "k-enc-"+fmt.Sprint(len(a)), string(enc)); st != 400 {
			t.Errorf("ballot %q = %d; want 400", a, st)
		}
	}
	if after := count(); after != before {
		t.Errorf("rows before %s, after %s", before, after)
	}
	if _, err := env.Elections.Get(context.Background(), "demo"); err != nil {
		t.Error(err)
	}
}

// callFrom makes a request as the client at addr, behind the trusted proxy
// that the server under test takes 127.0.0.0/8 to be.
func callFrom(t *testing.T, base, addr, method, path, token, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("X-Forwarded-For", addr)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", idemKey(addr+path))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func behindProxy(t *testing.T) (*fixture.Env, *fixture.Election, string) {
	t.Helper()
	env := fixture.New(t)
	el := env.SetupWith(t, fixture.Definition("demo"), 5, true)
	if err := env.Officials.Add(context.Background(), "admin", auth.Admin, "admin password 1234", "test"); err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, BodyTimeout: 2 * time.Second}
	return env, el, start(t, env, env.SecretsDir, cfg)
}

// One client that sends a sign-in's headers and then its body a few bytes
// at a time, on many connections, holds no work slot: everyone else still
// signs in and casts, and the server stays ready.
func TestSlowBodiesHoldNoSlots(t *testing.T) {
	env, el, base := behindProxy(t)
	addr := strings.TrimPrefix(base, "http://")
	var attack []net.Conn
	defer func() {
		for _, c := range attack {
			c.Close()
		}
	}()
	for range 100 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "POST /api/v1/elections/demo/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
			"Content-Length: 100\r\nX-Forwarded-For: 203.0.113.66\r\n\r\n{\"voter_id\":")
		attack = append(attack, c)
	}
	time.Sleep(200 * time.Millisecond) // the server is now reading 100 bodies
	if st, _, body := callFrom(t, base, "198.51.100.7", "GET", "/readyz", "", ""); st != 200 {
		t.Errorf("readyz during the attack = %d %s", st, body)
	}
	st, _, body := callFrom(t, base, "198.51.100.7", "POST", "/api/v1/elections/demo/sessions", "",
		signInBody("demo", "V00001", el.Codes["V00001"]))
	if st != 201 {
		t.Fatalf("sign-in during the attack = %d %s", st, body)
	}
	if st, _, body := callFrom(t, base, "198.51.100.7", "POST", "/api/v1/elections/demo/ballots", field(t, body, "token"),
		fixture.CastBody(env.Ballot(t, el, "V00001", ballot.Selections{"leader": {"a"}, "council": {"p"}}))); st != 201 {
		t.Errorf("cast during the attack = %d %s", st, body)
	}
	// The attacker's connections beyond its share were refused at once, and
	// the rest are answered 408 when their bodies are late.
	refused, late := 0, 0
	for i, c := range attack {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		status, _ := bufio.NewReader(c).ReadString('\n')
		switch {
		case strings.HasPrefix(status, "HTTP/1.1 429"):
			refused++
		case strings.HasPrefix(status, "HTTP/1.1 408"):
			late++
		default:
			t.Errorf("attacking connection %d got %q", i, status)
		}
	}
	if refused != 100-32 || late != 32 {
		t.Errorf("attacking connections: %d refused at once, %d timed out; want 68 and 32", refused, late)
	}
}

// Wrong codes for someone else's voter id, or wrong passwords for admin,
// slow down the address they come from, never the account's owner.
func TestNoLockoutOfAnotherAccount(t *testing.T) {
	env, el, base := behindProxy(t)
	const attacker, owner = "203.0.113.66", "198.51.100.7"
	wrong := el.Codes["V00002"]
	logged := func() int {
		return env.Count(t, `SELECT (SELECT count(*) FROM audit_entries) + (SELECT count(*) FROM audit_log)`)
	}
	before := logged()
	// The attacker guesses concurrently while the voter signs in.
	var (
		wg          sync.WaitGroup
		mu          sync.Mutex
		statuses    = map[int]int{}
		ownerStatus int
		ownerBody   string
	)
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := []string{"V00001", "NOBODY"}[i%2]
			st, _, _ := callFrom(t, base, attacker, "POST", "/api/v1/elections/demo/sessions", "", signInBody("demo", id, wrong))
			mu.Lock()
			statuses[st]++
			mu.Unlock()
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(20 * time.Millisecond) // amid the guesses
		ownerStatus, _, ownerBody = callFrom(t, base, owner, "POST", "/api/v1/elections/demo/sessions", "", signInBody("demo", "V00001", el.Codes["V00001"]))
	}()
	wg.Wait()
	if ownerStatus != 201 {
		t.Errorf("the voter signs in during the attack = %d %s; want 201", ownerStatus, ownerBody)
	}
	if statuses[401]+statuses[429] != 24 || statuses[429] == 0 {
		t.Errorf("the attacker's 24 guesses got %v; want 401s, then 429 once past its limit for V00001", statuses)
	}
	// Sign-ins do not grow the signed log one record each: they are
	// counted, and the counts logged once a minute.
	if n := logged() - before; n != 0 {
		t.Errorf("24 failed sign-ins and one good one added %d log entries; want none until the counts are logged", n)
	}

	// Officials: the attacking address waits longer after each failure.
	var waits []int
	for range 8 {
		st, h, _ := callFrom(t, base, attacker, "POST", "/api/v1/officials/sessions", "", `{"username":"admin","password":"not the password"}`)
		if st == 429 {
			n, _ := strconv.Atoi(h.Get("Retry-After"))
			waits = append(waits, n)
			time.Sleep(time.Duration(n) * time.Second)
		}
	}
	if len(waits) < 2 || waits[len(waits)-1] <= waits[0] {
		t.Errorf("the attacking address's waits = %v; want growing", waits)
	}
	if st, _, body := callFrom(t, base, owner, "POST", "/api/v1/officials/sessions", "", `{"username":"admin","password":"admin password 1234"}`); st != 201 {
		t.Errorf("admin signs in from another address during the attack = %d %s; want 201", st, body)
	}
	if st, _, _ := callFrom(t, base, attacker, "POST", "/api/v1/officials/sessions", "", `{"username":"admin","password":"admin password 1234"}`); st != 429 {
		t.Errorf("the attacking address, even with the right password, = %d; want 429 while it waits", st)
	}
}
