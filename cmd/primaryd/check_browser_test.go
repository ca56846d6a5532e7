package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"primaryvote/audit/bundle"
	"primaryvote/audit/entry"
	"primaryvote/audit/record"
	"primaryvote/ballot"
	"primaryvote/elections"
	"primaryvote/internal/fixture"
)

// checkOnPage signs voter in, chooses leader b and council q, reaches the
// review step, checks the copy there and returns the code the review showed,
// the checked step's code, its list of choices and its revealed text.
func checkOnPage(t *testing.T, ctx context.Context, base, lang string, el *fixture.Election, voter string, alter string, shots string) (reviewed, checked, choices, revealed string) {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.EmulateViewport(360, 780),
		chromedp.Navigate(base + "/e/demo?lang=" + lang),
		chromedp.WaitVisible(chromedp.ID("voter-id")),
		chromedp.SendKeys(chromedp.ID("voter-id"), voter),
		chromedp.SendKeys(chromedp.ID("code"), el.Codes[voter]),
		chromedp.Click(chromedp.ID("signin-submit")),
		chromedp.WaitVisible(chromedp.ID("ballot")),
	}
	if alter != "" {
		steps = append(steps, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](alter)(ctx, tg)
			return err
		}))
	}
	steps = append(steps,
		chromedp.Click(chromedp.ID("c-leader-b")),
		chromedp.Click(chromedp.ID("c-council-q")),
		chromedp.Click(chromedp.ID("to-review")),
		chromedp.WaitVisible(chromedp.ID("check")))
	if shots != "" {
		steps = append(steps, screenshot(shots+"review-check-phone"))
	}
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("to the review step: %v", err)
	}
	reviewed, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("review-code")))
	if shots != "" {
		axeClean(t, ctx, lang+" review with the check")
	}
	err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("check")), chromedp.WaitVisible(chromedp.ID("checked")),
		chromedp.Poll[chromedp.Void](`!document.getElementById("checked-status").textContent.endsWith("…")`))
	if err != nil {
		t.Fatalf("checking the copy: %v", err)
	}
	if shots != "" {
		if err := chromedp.Do(ctx, screenshot(shots+"checked-phone")); err != nil {
			t.Error(err)
		}
		axeClean(t, ctx, lang+" checked copy")
	}
	checked, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("checked-code")))
	choices, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("checked-list")))
	revealed, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("checked-text").value`))
	return
}

func axeClean(t *testing.T, ctx context.Context, step string) {
	t.Helper()
	if v := axeViolations(t, ctx); len(v) > 0 {
		t.Errorf("%s: %d accessibility violations:\n%s", step, len(v), strings.Join(v, "\n"))
	}
}

// A voter checks an encryption on the review step, sees the choices they
// made, gets a fresh copy with a new code and casts it; the checked copy
// can never be cast, is in the bundle without anything naming the voter,
// and auditverify passes. In Korean and in English, at 360 px, with axe.
func TestVoterChecksAnEncryption(t *testing.T) {
	t.Parallel()
	env, el, base := browserWorld(t)
	ctx := browser(t)
	bg := context.Background()
	e, err := env.Elections.Get(bg, "demo")
	if err != nil {
		t.Fatal(err)
	}

	for i, lang := range []string{"en", "ko"} {
		voter := el.Voters[i]
		reviewed, checked, choices, revealed := checkOnPage(t, ctx, base, lang, el, voter, "", lang+"-")
		if reviewed == "" || checked != reviewed {
			t.Fatalf("%s: the checked copy's code %q is not the one the review showed (%q)", lang, checked, reviewed)
		}
		if !strings.Contains(choices, "Candidate B") || !strings.Contains(choices, "Candidate Q") || strings.Contains(choices, "Candidate A") {
			t.Errorf("%s: the checked copy shows %q; the voter chose B and Q", lang, choices)
		}
		status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("checked-status")))
		if want := map[string]string{"en": "recorded as checked", "ko": "확인용으로 기록"}[lang]; !strings.Contains(status, want) {
			t.Errorf("%s: the checked step says %q", lang, status)
		}
		// What the page revealed is the copy it showed, with the choices made.
		r, err := ballot.ParseRevealed(revealed)
		if err != nil {
			t.Fatal(err)
		}
		remade, err := e.Remake(r)
		if err != nil || remade.TrackingCode != reviewed {
			t.Fatalf("%s: the revealed copy makes %v, %v; want %s", lang, remade, err, reviewed)
		}
		// Its bytes can never be cast.
		_, _, err = env.Elections.Cast(bg, elections.CastRequest{ElectionID: "demo", VoterID: voter, Group: el.Groups[voter],
			IdempotencyKey: strings.Repeat("x", 32), Encrypted: remade.Ballot})
		if !errors.Is(err, elections.ErrSpoiled) {
			t.Errorf("%s: casting the checked copy: %v; want %v", lang, err, elections.ErrSpoiled)
		}
		// A fresh copy, a new code; cast it.
		err = chromedp.Do(ctx, chromedp.Click(chromedp.ID("checked-continue")), chromedp.WaitVisible(chromedp.ID("cast")))
		if err != nil {
			t.Fatal(err)
		}
		fresh, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("review-code")))
		if fresh == "" || fresh == reviewed {
			t.Errorf("%s: after the check the review shows %q; want a new code", lang, fresh)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("cast")), chromedp.WaitVisible(chromedp.ID("receipt")), screenshot(lang+"-receipt-save-phone")); err != nil {
			t.Fatal(err)
		}
		axeClean(t, ctx, lang+" receipt")
		// Saving the receipt gives a file with the code and the link to check it.
		saved, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Promise((resolve) => {
  const make = URL.createObjectURL;
  URL.createObjectURL = (blob) => { blob.text().then(resolve); return make(blob); };
  document.getElementById("save").click();
})`, chromedp.EvalAwaitPromise))
		if err != nil || !strings.Contains(saved, fresh) || !strings.Contains(saved, "/verify?election=demo&code=") {
			t.Errorf("%s: the saved receipt is %q (%v)", lang, saved, err)
		}
		if got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("tracking-code"))); got != fresh {
			t.Errorf("%s: the receipt names %s; the page cast %s", lang, got, fresh)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`sessionStorage.clear(); true`)); err != nil {
			t.Fatal(err)
		}
	}

	// The bundle carries both checked copies, naming no voter; auditverify
	// passes.
	if err := env.Elections.Close(bg, "demo", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Sequencer.Drain(bg); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := env.Elections.Export(bg, "demo", &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.Verify(bytes.NewReader(buf.Bytes()), bundle.Options{LogKey: env.Signer.VerifierKey()}); err != nil {
		t.Fatalf("auditverify: %v", err)
	}
	spoiled := 0
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var l struct {
			Type   string `json:"type"`
			Record []byte `json:"record"`
		}
		if json.Unmarshal([]byte(line), &l); l.Type != "record" {
			continue
		}
		body := l.Record[record.HeaderSize:]
		p, err := entry.Parse(body)
		if err != nil || p.Kind != entry.KindBallotSpoiled {
			continue
		}
		spoiled++
		for _, v := range el.Voters {
			c, _ := ballot.DeriveCredential("demo", el.Codes[v])
			if bytes.Contains(body, []byte(c.PublicHex())) || bytes.Contains(body, []byte(v)) {
				t.Errorf("a checked copy's entry names %s", v)
			}
		}
	}
	if spoiled != 2 {
		t.Errorf("the bundle has %d checked copies; want 2", spoiled)
	}
}

// The negative control: a page altered to encrypt another candidate than
// the one the voter chose (and shows on the review step) is caught by the
// check, which shows the other candidate.
func TestCheckCatchesAPageThatEncryptsAnotherCandidate(t *testing.T) {
	t.Parallel()
	env, el, base := browserWorld(t)
	ctx := browser(t)
	alter := `(() => {
  const honest = window.primaryvoteCrypto;
  window.primaryvoteCrypto = Object.freeze({ ...honest,
    makeCopy: (e, c, sel) => honest.makeCopy(e, c, { ...sel, leader: ["d"] }) });
  return true;
})()`
	_, _, choices, revealed := checkOnPage(t, ctx, base, "en", el, el.Voters[2], alter, "")
	review, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("review-list").textContent`))
	if !strings.Contains(review, "Candidate B") {
		t.Fatalf("the altered page's review shows %q; it should show the voter's choice, B", review)
	}
	if !strings.Contains(choices, "Candidate D") || strings.Contains(choices, "Candidate B") {
		t.Errorf("the check shows %q; want the candidate the page encrypted, D", choices)
	}
	// And so does any checker given the revealed text.
	e, _ := env.Elections.Get(context.Background(), "demo")
	r, _ := ballot.ParseRevealed(revealed)
	remade, err := e.Remake(r)
	if err != nil || remade.Selections["leader"][0] != "d" {
		t.Errorf("the revealed copy encrypts %v (%v); want leader d", remade, err)
	}
}

// The independent checker works from a file, with the network off: given
// the election and a checked copy's text, it shows the copy's tracking code
// and the candidates it encrypts, and refuses a copy whose stated choices
// are not what it encrypts.
func TestIndependentCheckerFromAFileOffline(t *testing.T) {
	t.Parallel()
	env, el, _ := browserWorld(t)
	e, err := env.Elections.Get(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	electionJSON, _ := json.Marshal(e)
	raw, revealed := env.Copy(t, el, "V00001", ballot.Selections{"leader": {"c"}, "council": {"p", "t"}})
	code := ballot.TrackingCode(sha256.Sum256(raw))
	r, _ := ballot.ParseRevealed(revealed)
	r.Choices[0] = []int{0} // a page that says it encrypted A
	lying := r.String()

	page, err := filepath.Abs(filepath.Join("..", "..", "web", "static", "checker.html"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true, Latency: 0, DownloadThroughput: -1, UploadThroughput: -1})
		return err
	})); err != nil {
		t.Fatalf("turning the network off: %v", err)
	}
	fill := func(id, value string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			v, _ := json.Marshal(value)
			_, err := chromedp.Evaluate[bool](`document.getElementById("`+id+`").value = `+string(v)+`; true`)(ctx, tg)
			return err
		})
	}
	for _, lang := range []string{"ko", "en"} {
		err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 780), chromedp.Navigate("file://"+page+"?lang="+lang),
			chromedp.WaitVisible(chromedp.ID("check")), fill("election", string(electionJSON)), fill("revealed", revealed),
			chromedp.Click(chromedp.ID("check")), chromedp.WaitVisible(chromedp.ID("result")), screenshot("checker-"+lang+"-phone"))
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		axeClean(t, ctx, "checker "+lang)
		got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("code")))
		choices, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("choices")))
		if got != code || !strings.Contains(choices, "Candidate C") || !strings.Contains(choices, "Candidate P") || !strings.Contains(choices, "Candidate T") {
			t.Errorf("%s: the checker shows %q and %q; want %s and C, P, T", lang, got, choices, code)
		}
	}
	for name, text := range map[string]string{"a copy that lies": lying, "not a copy": "hello there"} {
		err := chromedp.Do(ctx, fill("revealed", text), chromedp.Click(chromedp.ID("check")), chromedp.Sleep(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		problem, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("problem")))
		hidden, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("result").hidden`))
		if !strings.Contains(problem, "fails the check") || !hidden {
			t.Errorf("%s: the checker says %q (result hidden: %v)", name, problem, hidden)
		}
	}
}

// The verify page checks the server's answer in the browser: the
// checkpoint's signature by the log key on the page, the inclusion proof,
// and that the record is this tracking code's. A key other than the log's,
// and an answer altered on its way, are reported as not verifying.
func TestVerifyPageChecksTheProof(t *testing.T) {
	t.Parallel()
	env, el, backend := browserWorld(t)
	bg := context.Background()
	code := ""
	for _, v := range el.Voters[:3] {
		resp, _, err := env.Elections.Cast(bg, env.CastRequest(t, el, v, ballot.Selections{"leader": {"a"}, "council": {"p"}}))
		if err != nil {
			t.Fatal(err)
		}
		var r elections.Receipt
		json.Unmarshal(resp, &r)
		code = r.TrackingCode
	}
	if _, err := env.Sequencer.Drain(bg); err != nil {
		t.Fatal(err)
	}
	// A proxy that, when told to, moves the answer's record one place on.
	target, _ := url.Parse(backend)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var alter atomic.Bool
	proxy.ModifyResponse = func(res *http.Response) error {
		if !alter.Load() || !strings.Contains(res.Request.URL.Path, "/receipts/") {
			return nil
		}
		var m map[string]any
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
			return err
		}
		m["position"] = m["position"].(float64) - 1
		b, _ := json.Marshal(m)
		res.Body = io.NopCloser(bytes.NewReader(b))
		res.ContentLength = int64(len(b))
		res.Header.Del("Content-Length")
		res.Header.Del("Content-Encoding")
		return nil
	}
	front := httptest.NewServer(proxy)
	defer front.Close()

	ctx := browser(t)
	read := func(query string) (result, checks string) {
		t.Helper()
		err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 780), chromedp.Navigate(front.URL+"/verify?election=demo&code="+code+query),
			chromedp.WaitVisible(chromedp.ID("verify-form")),
			chromedp.Poll[chromedp.Void](`document.getElementById("verify-result").textContent !== ""`))
		if err != nil {
			t.Fatal(err)
		}
		result, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("verify-result")))
		checks, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("verify-checks").textContent`))
		return result, checks
	}
	for _, lang := range []string{"en", "ko"} {
		result, checks := read("&lang=" + lang)
		want := map[string][]string{"en": {"Checked in this browser", "signed by the log key", "inclusion proof", "cast of the ballot"},
			"ko": {"이 브라우저에서 확인한 내용", "서명되어 있습니다", "포함 증명", "제출된 기록"}}[lang]
		for _, w := range want {
			if !strings.Contains(result+checks, w) {
				t.Errorf("%s: the verify page says %q %q; want %q", lang, result, checks, w)
			}
		}
		if err := chromedp.Do(ctx, screenshot("verify-checked-"+lang+"-phone")); err != nil {
			t.Error(err)
		}
		axeClean(t, ctx, lang+" verify, checked")
	}
	other, err := record.GenerateSigner(fixture.LogOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if result, _ := read("&lang=en&key=" + url.QueryEscape(other.VerifierKey())); !strings.Contains(result, "does not verify") || !strings.Contains(result, "not signed by the log key") {
		t.Errorf("under another key the verify page says %q", result)
	}
	alter.Store(true)
	if result, _ := read("&lang=en"); !strings.Contains(result, "does not verify") {
		t.Errorf("with the answer altered the verify page says %q", result)
	}
}
