package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"primaryvote/api"
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
	st, body := c.call("POST", "/api/v1/elections/demo/sessions", "", "", fmt.Sprintf(`{"voter_id":"V00001","code":%q}`, el.Codes["V00001"]))
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
	env, el, base := securityWorld(t)
	c := client{t, base}
	count := func() string {
		return fmt.Sprint(env.Count(t, `SELECT count(*) FROM voters`), env.Count(t, `SELECT count(*) FROM ballots`),
			env.Count(t, `SELECT count(*) FROM elections`), env.Count(t, `SELECT count(*) FROM participation`))
	}
	before := count()
	attacks := []string{`' OR '1'='1`, `V00001'; DROP TABLE ballots; --`, `V00001" OR 1=1 --`, `\'; DELETE FROM voters; --`}
	for _, a := range attacks {
		body := fmt.Sprintf(`{"voter_id":%q,"code":%q}`, a, el.Codes["V00001"])
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
	st, body := c.call("POST", "/api/v1/elections/demo/sessions", "", "", fmt.Sprintf(`{"voter_id":"V00002","code":%q}`, el.Codes["V00002"]))
	if st != 201 {
		t.Fatal(body)
	}
	token := field(t, body, "token")
	for _, a := range attacks {
		sel := fmt.Sprintf(`{"selections":{"leader":[%q],"council":["p"]}}`, a)
		if st, _ := c.call("POST", "/api/v1/elections/demo/ballots", token, "k-"+fmt.Sprint(len(a)), sel); st != 400 {
			t.Errorf("candidate %q = %d; want 400", a, st)
		}
	}
	if after := count(); after != before {
		t.Errorf("rows before %s, after %s", before, after)
	}
	if _, err := env.Elections.Get(context.Background(), "demo"); err != nil {
		t.Error(err)
	}
}
