package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"primaryvote/audit/cosign"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"primaryvote/api"
	"primaryvote/audit/witness"
	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/elections"
	"primaryvote/internal/fixture"
)

// witnessedWorld is the demo election witnessed by three camps, any two of
// whom make a checkpoint count; camp C's witness is down. primaryd pushes
// to them.
func witnessedWorld(t *testing.T) (*fixture.Env, *fixture.Election, string, *cosign.Policy) {
	t.Helper()
	env := fixture.New(t)
	el := env.Setup(t, "demo", 5, false)
	policy := &cosign.Policy{Quorum: 2}
	for i, name := range []string{"camp-a.example/witness", "camp-b.example/witness", "camp-c.example/witness"} {
		dir := t.TempDir()
		if _, err := witness.Init(dir, name, env.Signer.VerifierKey()); err != nil {
			t.Fatal(err)
		}
		w, err := witness.Open(dir, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		var h http.Handler = w
		if i == 2 {
			h = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { http.Error(rw, "down", http.StatusServiceUnavailable) })
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		policy.Witnesses = append(policy.Witnesses, cosign.Witness{Key: w.VerifierKey(), URL: srv.URL})
	}
	if err := env.Elections.SetWitnesses(context.Background(), "demo", policy, "test"); err != nil {
		t.Fatal(err)
	}
	if err := env.Elections.Open(context.Background(), "demo", "test"); err != nil {
		t.Fatal(err)
	}
	return env, el, start(t, env, env.SecretsDir, api.Config{}), policy
}

// The API sets the policy only for a draft and only a valid one; it serves
// the witnesses' progress and the checkpoint with their cosignatures.
func TestWitnessesThroughTheAPI(t *testing.T) {
	t.Parallel()
	env, _, base, policy := witnessedWorld(t)
	ctx := context.Background()
	c := client{t, base}
	if err := env.Officials.Add(ctx, "chair", auth.Admin, "chair password 123", "test"); err != nil {
		t.Fatal(err)
	}
	_, body := c.call("POST", "/api/v1/officials/sessions", "", "", `{"username":"chair","password":"chair password 123"}`)
	token := field(t, body, "token")
	good, _ := json.Marshal(policy)
	for _, bad := range []struct {
		token, body string
		status      int
		want        string
	}{
		{"", string(good), 401, ""},
		{token, `{"quorum":1}`, 400, "1 to 16 witnesses"},
		{token, `{"quorum":1,"witnesses":[],"other":1}`, 400, "other"},
		{token, strings.Replace(string(good), `"quorum":2`, `"quorum":4`, 1), 400, "quorum"},
		{token, string(good), 409, "before it opens"},
	} {
		if status, got := c.call("PUT", "/api/v1/elections/demo/witnesses", bad.token, "", bad.body); status != bad.status || !strings.Contains(got, bad.want) {
			t.Errorf("PUT %s = %d %s; want %d %q", bad.body, status, got, bad.status, bad.want)
		}
	}

	// Wait for the witnesses to cosign what the election's opening logged.
	var view struct {
		Quorum    int   `json:"quorum"`
		LogSize   int64 `json:"log_size"`
		Counting  int64 `json:"counting_size"`
		Witnesses []struct {
			Name     string `json:"name"`
			Cosigned int64  `json:"cosigned_size"`
			Lag      int64  `json:"lag"`
		} `json:"witnesses"`
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, body := c.call("GET", "/api/v1/elections/demo/witnesses", "", "", "")
		if status != 200 {
			t.Fatalf("GET witnesses = %d %s", status, body)
		}
		json.Unmarshal([]byte(body), &view)
		if view.Counting > 0 && view.Counting == view.LogSize {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the witnesses did not cosign: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if view.Quorum != 2 || len(view.Witnesses) != 3 || view.Witnesses[2].Cosigned != 0 || view.Witnesses[2].Lag != view.LogSize || view.Witnesses[0].Lag != 0 {
		t.Errorf("witness view %+v", view)
	}
	// The newest checkpoint is served with the cosignatures, once they
	// are there (the sign-in above made a newer one).
	for {
		_, cp := c.call("GET", "/api/v1/elections/demo/checkpoint", "", "", "")
		names, err := policy.Cosigners([]byte(cp), env.Signer.VerifierKey())
		if err != nil {
			t.Fatalf("the served checkpoint: %v\n%s", err, cp)
		}
		if len(names) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the served checkpoint's cosigners: %v\n%s", names, cp)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status, _ := c.call("GET", "/api/v1/elections/nope/witnesses", "", "", ""); status != 404 {
		t.Errorf("an unknown election's witnesses: %d", status)
	}
}

// The verify page checks the witnesses' cosignatures in the browser and
// says how many cosigned; the dashboard shows each witness's progress and
// the one that is down.
func TestWitnessesOnTheVerifyPageAndDashboard(t *testing.T) {
	t.Parallel()
	env, el, base, _ := witnessedWorld(t)
	ctx := context.Background()
	resp, _, err := env.Elections.Cast(ctx, env.CastRequest(t, el, el.Voters[0], ballot.Selections{"leader": {"a"}, "council": {"p"}}))
	if err != nil {
		t.Fatal(err)
	}
	var r elections.Receipt
	json.Unmarshal(resp, &r)
	c := client{t, base}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, body := c.call("GET", "/api/v1/elections/demo/receipts/"+r.TrackingCode, "", "", "")
		if strings.Contains(body, `"cosigners":["camp-a.example/witness","camp-b.example/witness"]`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receipt was not witnessed: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	b := browser(t)
	for _, lang := range []string{"en", "ko"} {
		err := chromedp.Do(b, chromedp.EmulateViewport(360, 780), chromedp.Navigate(base+"/verify?election=demo&lang="+lang+"&code="+r.TrackingCode),
			chromedp.WaitVisible(chromedp.ID("verify-form")),
			chromedp.Poll[chromedp.Void](`document.getElementById("verify-result").textContent !== ""`))
		if err != nil {
			t.Fatal(err)
		}
		checks, _ := chromedp.Run(b, chromedp.Evaluate[string](`document.getElementById("verify-checks").textContent`))
		want := map[string]string{"en": "cosigned by 2 of the election's 3 witnesses (camp-a.example/witness, camp-b.example/witness); 2 make it count",
			"ko": "위트니스 3곳 중 2곳(camp-a.example/witness, camp-b.example/witness)이 공동 서명했습니다"}[lang]
		if !strings.Contains(checks, want) {
			t.Errorf("%s: the verify page says %q; want %q", lang, checks, want)
		}
		if err := chromedp.Do(b, screenshot("verify-witnessed-"+lang+"-phone")); err != nil {
			t.Error(err)
		}
		axeClean(t, b, lang+" verify, witnessed")
	}

	if err := env.Officials.Add(ctx, "clerk", auth.Official, "clerk password 123", "test"); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(b, chromedp.EmulateViewport(360, 780), chromedp.Navigate(base+"/admin?lang=en&poll=1000"),
		chromedp.WaitVisible(chromedp.ID("admin-username")),
		chromedp.SendKeys(chromedp.ID("admin-username"), "clerk"),
		chromedp.SendKeys(chromedp.ID("admin-password"), "clerk password 123"),
		chromedp.Click(chromedp.ID("admin-signin-submit")),
		chromedp.WaitVisible(chromedp.ID("witnesses")))
	if err != nil {
		t.Fatal(err)
	}
	summary, _ := chromedp.Run(b, chromedp.Text(chromedp.ID("witnesses-summary")))
	rows, _ := chromedp.Run(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#witnesses tbody tr")].map(r => r.innerText.replace(/\s+/g, " "))`))
	if !strings.Contains(summary, "counts once 2 of the 3 witnesses cosign it") || len(rows) != 3 {
		t.Fatalf("the dashboard's witnesses: %q %q", summary, rows)
	}
	if !strings.Contains(rows[0], "keeping up") || !strings.Contains(rows[2], "camp-c.example/witness 0") || !strings.Contains(rows[2], "never behind: down or refusing") {
		t.Errorf("witness rows %q", rows)
	}
	if err := chromedp.Do(b, chromedp.ScrollIntoView(chromedp.ID("witnesses")), screenshot("admin-witnesses-phone")); err != nil {
		t.Error(err)
	}
	axeClean(t, b, "admin dashboard with witnesses")
}
