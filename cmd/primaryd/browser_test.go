package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"primaryvote/api"
	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

// browser starts headless Chromium (Debian's package, installed by .ci/run)
// and returns a context for chromedp. These tests never skip: without
// Chromium they fail.
func browser(t *testing.T) context.Context {
	t.Helper()
	var bin string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Fatal("Chromium not found: install Debian's chromium package (.ci/run does)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	if err := chromedp.Do(ctx); err != nil { // start the browser and its tab
		t.Fatalf("starting Chromium: %v", err)
	}
	// Every page must run under the strict CSP without a violation and
	// without an uncaught exception; the console would say so.
	var (
		mu       sync.Mutex
		problems []string
	)
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleException || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				problems = append(problems, string(m.Type)+": "+m.Text)
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("browser console: %s", p)
		}
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// screenshot saves the page to test-output/screenshots/NAME.png.
func screenshot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		// A page must fit a phone: nothing may scroll sideways.
		if strings.HasSuffix(name, "-phone") {
			over, err := chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`)(ctx, tg)
			if err != nil {
				return err
			}
			if over > 0 {
				return fmt.Errorf("%s: the page is %d px wider than the phone's screen", name, over)
			}
		}
		png, err := chromedp.FullScreenshot(100)(ctx, tg) // 100: PNG
		if err != nil {
			return err
		}
		dir := filepath.Join("..", "..", "test-output", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}

// voteThroughPage signs voter in on the ballot page and casts a ballot,
// returning the tracking code the page shows.
func voteThroughPage(t *testing.T, ctx context.Context, base string, el *fixture.Election, voter, prefix string) string {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(360, 780),
		chromedp.Navigate(base+"/e/demo?lang=en"),
		chromedp.WaitVisible(chromedp.ID("voter-id")),
		screenshot(prefix+"signin-phone"),
		chromedp.SendKeys(chromedp.ID("voter-id"), voter),
		chromedp.SendKeys(chromedp.ID("code"), strings.ToLower(el.Codes[voter])),
		chromedp.Click(chromedp.ID("signin-submit")),
		chromedp.WaitVisible(chromedp.ID("ballot")),
		screenshot(prefix+"ballot-phone"),
		chromedp.Click(chromedp.ID("c-leader-b")),
		chromedp.Click(chromedp.ID("c-council-q")),
		chromedp.Click(chromedp.ID("c-council-s")),
		chromedp.Click(chromedp.ID("to-review")),
		chromedp.WaitVisible(chromedp.ID("review")),
		screenshot(prefix+"review-phone"),
		chromedp.Click(chromedp.ID("cast")),
		chromedp.WaitVisible(chromedp.ID("receipt")),
		screenshot(prefix+"receipt-phone"),
	)
	if err != nil {
		t.Fatalf("voting through the page: %v", err)
	}
	code, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("tracking-code")))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func browserWorld(t *testing.T) (*fixture.Env, *fixture.Election, string) {
	t.Helper()
	env := fixture.New(t)
	secrets := env.SecretsDir
	el := env.Setup(t, "demo", 5, true)
	return env, el, start(t, env, secrets, api.Config{})
}

func TestVoterVotesInTheBrowser(t *testing.T) {
	t.Parallel()
	env, el, base := browserWorld(t)
	ctx := browser(t)
	code := voteThroughPage(t, ctx, base, el, "V00001", "")

	var stored []byte
	env.DB.Pool.QueryRow(context.Background(), `SELECT content FROM ballots`).Scan(&stored)
	if want := ballot.TrackingCode(sha256.Sum256(stored)); code != want || env.Count(t, `SELECT count(*) FROM ballots`) != 1 {
		t.Fatalf("the page shows %q; the one stored ballot has %q", code, want)
	}

	// A reload shows "already voted" with the same receipt.
	err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("receipt")), screenshot("receipt-again-phone"))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("tracking-code")))
	alreadyHidden, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("already").hidden`))
	if again != code || alreadyHidden {
		t.Errorf("after reload: %q (already-voted note hidden %v); want %q and the note", again, alreadyHidden, code)
	}

	// The verify page finds it once the sequencer has logged it.
	var result string
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		err = chromedp.Do(ctx, chromedp.Navigate(base+"/verify?lang=en&election=demo&code="+code),
			chromedp.WaitVisible(chromedp.ID("verify-form")), chromedp.Sleep(300*time.Millisecond))
		result, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("verify-checks")))
		if err == nil && strings.Contains(result, "checkpoint") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(result, "signed by the log key") || !strings.Contains(result, "inclusion proof") || !strings.Contains(result, "cast of the ballot") {
		t.Errorf("verify page says %q", result)
	}
	chromedp.Do(ctx, screenshot("verify-phone"))

	// Desktop width, and the Korean default.
	for _, p := range []struct{ name, path string }{{"home", "/"}, {"signin", "/e/demo"}, {"verify", "/verify?election=demo&code=" + code}} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+p.path),
			chromedp.WaitReady(chromedp.CSS("body")), chromedp.Sleep(200*time.Millisecond), screenshot(p.name+"-desktop")); err != nil {
			t.Errorf("%s at desktop width: %v", p.name, err)
		}
	}
}

// TestCastSurvivesALostResponse drops the connection after the server has
// taken the first cast but before the page hears back: the page retries with
// the same Idempotency-Key and shows the receipt, and there is one ballot.
func TestCastSurvivesALostResponse(t *testing.T) {
	t.Parallel()
	env, el, backend := browserWorld(t)
	target, _ := url.Parse(backend)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var dropped atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/ballots") && dropped.CompareAndSwap(false, true) {
			proxy.ServeHTTP(httptest.NewRecorder(), r) // the server casts the ballot…
			conn, _, err := w.(http.Hijacker).Hijack() // …and the answer is lost
			if err == nil {
				conn.Close()
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	code := voteThroughPage(t, browser(t), front.URL, el, "V00002", "retry-")
	if !dropped.Load() {
		t.Fatal("the first cast was not dropped")
	}
	var stored []byte
	env.DB.Pool.QueryRow(context.Background(), `SELECT content FROM ballots`).Scan(&stored)
	if n := env.Count(t, `SELECT count(*) FROM ballots`); n != 1 || code != ballot.TrackingCode(sha256.Sum256(stored)) {
		t.Errorf("%d ballots; the page shows %q", n, code)
	}
}

// TestPublicResultsPage publishes a counted election and reads its results
// page and CSV as the public would.
func TestPublicResultsPage(t *testing.T) {
	t.Parallel()
	env, el, base := browserWorld(t)
	ctx := context.Background()
	for i, sel := range []ballot.Selections{{"leader": {"a"}, "council": {"p"}}, {"leader": {"a"}, "council": {"q", "r"}}, {"leader": {"b"}, "council": {"p"}}} {
		if _, _, err := env.Elections.Cast(ctx, env.CastRequest(t, el, el.Voters[i], sel)); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(env.Elections.Close(ctx, "demo", "test"))
	_, err := env.Elections.Tally(ctx, "demo", "test")
	must(err)
	must(env.Decrypt(ctx, "demo", el.Shares[0], "test"))
	must(env.Decrypt(ctx, "demo", el.Shares[1], "test"))
	_, err = env.Elections.FinishTally(ctx, "demo", "test")
	must(err)
	if res, _ := http.Get(base + "/results/demo"); res == nil || res.StatusCode != 404 {
		t.Errorf("results before publication: %v; want 404", res)
	}
	must(env.Elections.Publish(ctx, "demo", "test"))
	res, err := http.Get(base + "/results/demo?lang=en")
	must(err)
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "</html>") {
		t.Fatalf("results page: %d\n%s", res.StatusCode, page)
	}

	b := browser(t)
	must(chromedp.Do(b, chromedp.EmulateViewport(360, 780), chromedp.Navigate(base+"/results/demo?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("table")), screenshot("results-phone")))
	text, err := chromedp.Run(b, chromedp.Text(chromedp.CSS("main")))
	must(err)
	// Leader: members (voters 1, 3) chose a and b; public (voter 2) chose a:
	// a = 0.5·50% + 0.5·100% = 75%.
	if !strings.Contains(text, "Candidate A") || !strings.Contains(text, "75.00%") || !strings.Contains(text, "Ballots: 3") {
		t.Errorf("results page: %q", text)
	}
	must(chromedp.Do(b, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/results/demo"),
		chromedp.WaitVisible(chromedp.CSS("table")), screenshot("results-desktop")))

	res, err = http.Get(base + "/results/demo/csv")
	must(err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(string(body), "\ufeffquestion,number,candidate,group,votes") || !strings.Contains(string(body), "leader,1,Candidate A,members,1,50.00,75.00") {
		t.Errorf("CSV = %d %s", res.StatusCode, body)
	}
}

// TestOfficialSeesTurnoutRise signs an official in on the dashboard and
// watches turnout go up when a ballot is cast, without reloading.
func TestOfficialSeesTurnoutRise(t *testing.T) {
	t.Parallel()
	env, el, base := browserWorld(t)
	ctx := context.Background()
	if err := env.Officials.Add(ctx, "clerk", auth.Official, "clerk password 123", "test"); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	// ?poll=1 asks for a refresh every millisecond; the page refreshes once
	// a second at most.
	err := chromedp.Do(b, chromedp.EmulateViewport(360, 780), chromedp.Navigate(base+"/admin?lang=en&poll=1"),
		chromedp.WaitVisible(chromedp.ID("admin-username")),
		chromedp.SendKeys(chromedp.ID("admin-username"), "clerk"),
		chromedp.SendKeys(chromedp.ID("admin-password"), "clerk password 123"),
		chromedp.Click(chromedp.ID("admin-signin-submit")),
		chromedp.WaitVisible(chromedp.ID("admin-dash")))
	if err != nil {
		t.Fatal(err)
	}
	signedIn := time.Now()
	waitText := func(id, want string) string {
		t.Helper()
		var got string
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			got, _ = chromedp.Run(b, chromedp.Text(chromedp.ID(id)))
			if strings.Contains(got, want) {
				return got
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("#%s says %q; want %q", id, got, want)
		return got
	}
	waitText("turnout-total", "0 of 5 voted")
	if _, _, err := env.Elections.Cast(ctx, env.CastRequest(t, el, el.Voters[0], ballot.Selections{"leader": {"a"}, "council": {"p"}})); err != nil {
		t.Fatal(err)
	}
	waitText("turnout-total", "1 of 5 voted (20.0%)")
	waitText("activity", "election.open")
	time.Sleep(2 * time.Second)
	turnouts, err := chromedp.Run(b, chromedp.Evaluate[int](`performance.getEntriesByType("resource").filter(e => e.name.includes("/turnout")).length`))
	if err != nil {
		t.Fatal(err)
	}
	if since := time.Since(signedIn).Seconds(); float64(turnouts) > since+2 {
		t.Errorf("the dashboard asked for turnout %d times in %.1f s with ?poll=1; want at most once a second", turnouts, since)
	}
	// The chart is drawn from the log: a reload draws it at once.
	if err := chromedp.Do(b, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("admin-dash"))); err != nil {
		t.Fatal(err)
	}
	waitText("turnout-total", "1 of 5 voted (20.0%)") // the first refresh after the reload
	if points, _ := chromedp.Run(b, chromedp.Evaluate[string](`document.getElementById("turnout-line").getAttribute("points")`)); strings.Count(points, ",") < 2 {
		t.Errorf("after a reload the turnout chart has points %q; want the ballot already cast drawn", points)
	}
	if hidden, _ := chromedp.Run(b, chromedp.Evaluate[bool](`getComputedStyle(document.getElementById("admin-results")).display === "none"`)); !hidden {
		t.Error("the results link shows before publication")
	}
	if err := chromedp.Do(b, screenshot("admin-phone"), chromedp.EmulateViewport(1280, 900), chromedp.Sleep(400*time.Millisecond), screenshot("admin-desktop")); err != nil {
		t.Error(err)
	}
}

// axeViolations runs axe-core (AXE_JS, installed by make test) on the
// current page and returns its violations, WCAG 2.1 A and AA rules.
func axeViolations(t *testing.T, b context.Context) []string {
	t.Helper()
	path := os.Getenv("AXE_JS")
	if path == "" {
		t.Fatal("AXE_JS is not set: run the suite with `make test`, which installs axe-core")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool](string(src)+";true")); err != nil {
		t.Fatalf("loading axe-core: %v", err)
	}
	found, err := chromedp.Run(b, chromedp.Evaluate[[]string](`axe.run(document, {runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]})
  .then(r => r.violations.map(v => v.id + ": " + v.help + " (" + v.nodes.map(n => n.target.join(" ")).join(", ") + ")"))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("running axe-core: %v", err)
	}
	return found
}

// TestVoterPagesAreAccessible checks every step of the voter pages, in both
// languages, with axe-core: labels, roles, names, contrast, structure.
func TestVoterPagesAreAccessible(t *testing.T) {
	t.Parallel()
	_, el, base := browserWorld(t)
	b := browser(t)
	check := func(step string) {
		t.Helper()
		if v := axeViolations(t, b); len(v) > 0 {
			t.Errorf("%s: %d accessibility violations:\n%s", step, len(v), strings.Join(v, "\n"))
		}
	}
	for _, lang := range []string{"ko", "en"} {
		for _, path := range []string{"/", "/verify", "/e/demo"} {
			if err := chromedp.Do(b, chromedp.Navigate(base+path+"?lang="+lang), chromedp.WaitReady(chromedp.CSS("main"))); err != nil {
				t.Fatal(err)
			}
			check(lang + " " + path)
		}
	}
	voter := el.Voters[3]
	steps := []struct {
		name string
		act  chromedp.Action[chromedp.Void]
	}{
		{"ballot", chromedp.Steps(chromedp.SendKeys(chromedp.ID("voter-id"), voter), chromedp.SendKeys(chromedp.ID("code"), el.Codes[voter]),
			chromedp.Click(chromedp.ID("signin-submit")), chromedp.WaitVisible(chromedp.ID("ballot")))},
		{"ballot with an error", chromedp.Steps(chromedp.Click(chromedp.ID("to-review")), chromedp.Sleep(100*time.Millisecond))},
		{"review", chromedp.Steps(chromedp.Click(chromedp.ID("c-leader-a")), chromedp.Click(chromedp.ID("c-council-p")),
			chromedp.Click(chromedp.ID("to-review")), chromedp.WaitVisible(chromedp.ID("review")))},
		{"receipt", chromedp.Steps(chromedp.Click(chromedp.ID("cast")), chromedp.WaitVisible(chromedp.ID("receipt")))},
	}
	for _, s := range steps {
		if err := chromedp.Do(b, s.act); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		check("en " + s.name)
		if err := chromedp.Do(b, chromedp.EmulateViewport(1280, 900), screenshot(strings.ReplaceAll(s.name, " ", "-")+"-desktop")); err != nil {
			t.Error(err)
		}
	}

	// The check can fail: an unlabelled field is reported.
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.querySelector("main").appendChild(document.createElement("input")); true`)); err != nil {
		t.Fatal(err)
	}
	if v := axeViolations(t, b); len(v) == 0 {
		t.Error("axe-core found nothing wrong with an unlabelled input")
	}

	// Keyboard only: from the top, Tab visits the header links, then the
	// sign-in fields and the button, in reading order.
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool](`sessionStorage.clear(); true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b, chromedp.Navigate(base+"/e/demo?lang=en"), chromedp.WaitVisible(chromedp.ID("voter-id"))); err != nil {
		t.Fatal(err)
	}
	var order []string
	for range 5 {
		if err := chromedp.Do(b, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
		id, _ := chromedp.Run(b, chromedp.Evaluate[string](`document.activeElement.id || document.activeElement.className`))
		order = append(order, id)
	}
	if got := strings.Join(order, " "); got != "brand lang voter-id code signin-submit" {
		t.Errorf("Tab order = %q; want brand, lang, voter-id, code, signin-submit", got)
	}
}

// TestBallotPageWeight measures what a voter's phone downloads for the
// ballot page, compressed as served: the HTML and every asset it links.
func TestBallotPageWeight(t *testing.T) {
	t.Parallel()
	_, _, base := browserWorld(t)
	fetch := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: %d, Content-Encoding %q", path, res.StatusCode, res.Header.Get("Content-Encoding"))
		}
		return len(b), res.Header.Get("Cache-Control")
	}
	htmlSize, _ := fetch("/e/demo")
	res, _ := http.Get(base + "/e/demo")
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	total := htmlSize
	for _, m := range regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(string(page), -1) {
		n, cache := fetch(strings.ReplaceAll(m[1], "&amp;", "&"))
		if !strings.Contains(cache, "immutable") {
			t.Errorf("%s: Cache-Control %q; want a long-lived immutable asset", m[1], cache)
		}
		total += n
	}
	t.Logf("ballot page weight: %d bytes compressed (HTML %d)", total, htmlSize)
	if total > 50<<10 {
		t.Errorf("the ballot page weighs %d bytes compressed; the budget is 50 KiB", total)
	}
}

// TestEveryPageFitsAPhone opens every page at 360 px in both languages, for
// an election with Korean candidate names that has been counted: nothing
// scrolls sideways (screenshot checks), the results keep every name whole,
// and the ballot page of a finished election says so instead of asking for
// a sign-in.
func TestEveryPageFitsAPhone(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	d := fixture.Definition("demo")
	names := []string{"김하늘", "이바다", "박서준", "최민지", "정우성", "강소라", "윤도현", "장나라", "한지민"}
	k := 0
	for qi := range d.Questions {
		for ci := range d.Questions[qi].Candidates {
			d.Questions[qi].Candidates[ci].Name = names[k]
			k++
		}
	}
	el := env.SetupWith(t, d, 5, true)
	base := start(t, env, env.SecretsDir, api.Config{})
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, sel := range []ballot.Selections{{"leader": {"a"}, "council": {"p"}}, {"leader": {"b"}, "council": {"q", "r"}}} {
		_, _, err := env.Elections.Cast(ctx, env.CastRequest(t, el, el.Voters[i], sel))
		must(err)
	}
	env.Tally(t, el)
	must(env.Elections.Publish(ctx, "demo", "test"))

	b := browser(t)
	for _, lang := range []string{"ko", "en"} {
		for name, path := range map[string]string{"home": "/", "results": "/results/demo", "ended": "/e/demo", "verify": "/verify", "admin": "/admin", "notfound": "/no/such/page"} {
			err := chromedp.Do(b, chromedp.EmulateViewport(360, 780), chromedp.Navigate(base+path+"?lang="+lang),
				chromedp.WaitVisible(chromedp.CSS("h1")), screenshot(name+"-"+lang+"-phone"))
			if err != nil {
				t.Errorf("%s in %s: %v", path, lang, err)
			}
		}
		if err := chromedp.Do(b, chromedp.Navigate(base+"/results/demo?lang="+lang), chromedp.WaitVisible(chromedp.CSS("table"))); err != nil {
			t.Fatal(err)
		}
		broken, err := chromedp.Run(b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("th[scope=row]")).filter(th => th.getClientRects().length !== 1 || th.offsetHeight > 2 * parseFloat(getComputedStyle(th).lineHeight)).map(th => th.textContent)`))
		if err != nil || len(broken) > 0 {
			t.Errorf("results in %s: names broken over lines: %q, %v", lang, broken, err)
		}
		if err := chromedp.Do(b, chromedp.Navigate(base+"/e/demo?lang="+lang), chromedp.WaitVisible(chromedp.ID("phase"))); err != nil {
			t.Fatal(err)
		}
		notice, _ := chromedp.Run(b, chromedp.Text(chromedp.ID("phase")))
		if want := map[string]string{"ko": "결과가 발표", "en": "results are published"}[lang]; !strings.Contains(notice, want) {
			t.Errorf("the ballot page of a published election in %s says %q; want %q", lang, notice, want)
		}
		if n, _ := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll("#signin-form").length`)); n != 0 {
			t.Errorf("the ballot page of a published election in %s offers a sign-in", lang)
		}
		if v := axeViolations(t, b); len(v) > 0 {
			t.Errorf("axe on the finished election's page in %s: %v", lang, v)
		}
	}
}

// TestNoChoiceLeavesThePhone votes through the page with a recording proxy
// between page and server: no request (path, query or body) names a
// candidate by id or name, the stored ballot is the page's and verifies in
// Go, and the trustees' count finds the choices the voter made.
func TestNoChoiceLeavesThePhone(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	d := fixture.Definition("demo")
	names := map[string]string{
		"a": "김하늘", "b": "이바다", "c": "박서준", "d": "최민지",
		"p": "강소라", "q": "한지민", "r": "장나라", "s": "윤도현", "t": "정우성",
	}
	var secrets []string
	for qi := range d.Questions {
		for ci := range d.Questions[qi].Candidates {
			c := &d.Questions[qi].Candidates[ci]
			c.Name = names[c.ID]
			c.ID = "cand-" + d.Questions[qi].ID + "-" + c.ID
			secrets = append(secrets, c.ID, c.Name)
		}
	}
	el := env.SetupWith(t, d, 3, true)
	front, recorded := recordingProxy(t, start(t, env, env.SecretsDir, api.Config{}))

	ctx := browser(t)
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(360, 780),
		chromedp.Navigate(front+"/e/demo?lang=en"),
		chromedp.WaitVisible(chromedp.ID("voter-id")),
		chromedp.SendKeys(chromedp.ID("voter-id"), "V00001"),
		chromedp.SendKeys(chromedp.ID("code"), el.Codes["V00001"]),
		chromedp.Click(chromedp.ID("signin-submit")),
		chromedp.WaitVisible(chromedp.ID("ballot")),
		chromedp.Click(chromedp.ID("c-leader-cand-leader-c")),
		chromedp.Click(chromedp.ID("c-council-cand-council-p")),
		chromedp.Click(chromedp.ID("c-council-cand-council-t")),
		chromedp.Click(chromedp.ID("to-review")),
		chromedp.WaitVisible(chromedp.ID("review")),
		chromedp.Click(chromedp.ID("cast")),
		chromedp.WaitVisible(chromedp.ID("receipt")),
	)
	if err != nil {
		t.Fatalf("voting through the page: %v", err)
	}
	code, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("tracking-code")))

	casts := 0
	for _, req := range recorded() {
		if strings.HasPrefix(req, "POST ") && strings.Contains(req, "/ballots") {
			casts++
		}
		if strings.Contains(req, "/static/") {
			continue // the page's own assets, fetched, not sent
		}
		for _, s := range secrets {
			escaped, _ := json.Marshal(s)
			if strings.Contains(req, s) || strings.Contains(req, strings.Trim(string(escaped), `"`)) || strings.Contains(req, url.QueryEscape(s)) {
				t.Errorf("a request names %q:\n%.300s", s, req)
			}
		}
		if strings.Contains(req, "selections") {
			t.Errorf("a request carries selections:\n%.300s", req)
		}
	}
	if casts != 1 {
		t.Errorf("%d casts went through the proxy; want 1", casts)
	}

	var stored []byte
	env.DB.Pool.QueryRow(context.Background(), `SELECT content FROM ballots`).Scan(&stored)
	e, err := env.Elections.Get(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.VerifyBallot(stored)
	if err != nil {
		t.Fatalf("the page's ballot does not verify in Go: %v", err)
	}
	mine, _ := ballot.DeriveCredential("demo", el.Codes["V00001"])
	if !bytes.Equal(b.Credential(), mine.Public()) || code != ballot.TrackingCode(sha256.Sum256(stored)) {
		t.Errorf("the stored ballot is not the page's (code %s) under the voter's credential", code)
	}
	res := env.Tally(t, el)
	votes := map[string]int{}
	for _, q := range res.Questions {
		for _, c := range q.Candidates {
			votes[c.ID] = c.Total
		}
	}
	if votes["cand-leader-c"] != 1 || votes["cand-council-p"] != 1 || votes["cand-council-t"] != 1 || res.Ballots != 1 {
		t.Errorf("the count = %v over %d ballots; want leader c, council p and t", votes, res.Ballots)
	}
}

// TestPageEncryptionTime times, in headless Chromium, what the ballot page
// does on "next" (the key is derived at sign-in): encrypt the demo ballot,
// prove it and sign it, first on a freshly loaded page and then warm. It
// reports the times, which benchmarks compare against the bars (150 ms and
// 40 ms); it asserts only that the ballot verifies.
func TestPageEncryptionTime(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	d := demoDefinition(t)
	el := env.SetupWith(t, d, 1, true)
	base := start(t, env, env.SecretsDir, api.Config{})
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/e/"+d.ID+"?lang=en"), chromedp.WaitVisible(chromedp.ID("voter-id"))); err != nil {
		t.Fatal(err)
	}
	e, err := env.Elections.Get(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	election, _ := json.Marshal(e)
	sel := map[string][]string{}
	for _, q := range e.Questions {
		sel[q.ID] = []string{}
		for _, c := range q.Candidates[:q.MinSelections] {
			sel[q.ID] = append(sel[q.ID], c.ID)
		}
	}
	selJSON, _ := json.Marshal(sel)
	script := fmt.Sprintf(`(() => {
  const c = window.primaryvoteCrypto;
  const e = %s, sel = %s;
  const cred = c.deriveCredential(e.id, %q);
  let t0 = performance.now();
  c.makeCopy(e, cred, sel); // the first, on a freshly loaded page
  const first = performance.now() - t0;
  const runs = 10;
  let made;
  t0 = performance.now();
  for (let i = 0; i < runs; i++) made = c.makeCopy(e, cred, sel);
  const ms = (performance.now() - t0) / runs;
  // What checking a copy adds: reveal it, make it again from the text and
  // verify it (as the page shows it), and make the fresh copy to cast.
  let check = 0;
  for (let i = 0; i < runs; i++) {
    const copy = c.makeCopy(e, cred, sel);
    t0 = performance.now();
    const again = c.remakeCopy(e, c.parseRevealed(c.revealCopy(e, copy)));
    c.makeCopy(e, cred, sel);
    check += performance.now() - t0;
    if (again.trackingCode !== copy.trackingCode) return "{}";
  }
  return JSON.stringify({first, ms, check: check / runs, ok: c.verifyBallot(e, made.ballot) === null, bytes: made.ballot.length});
})()`, election, selJSON, el.Codes[el.Voters[0]])
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](script))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		First float64
		MS    float64
		Check float64
		OK    bool
		Bytes int
	}
	json.Unmarshal([]byte(out), &r)
	if !r.OK || r.Bytes != e.BallotSize() {
		t.Fatalf("the page's ballot: %s", out)
	}
	t.Logf("headless Chromium: encrypt, prove and sign the %s ballot (%d bytes): %.1f ms on a freshly loaded page, %.1f ms warm; checking a copy adds %.1f ms (reveal, make again and verify, and a fresh copy)", d.ID, r.Bytes, r.First, r.MS, r.Check)
}

// demoDefinition is the demo election `make run` seeds.
func demoDefinition(t *testing.T) *ballot.Definition {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "primaryctl", "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := ballot.ParseDefinition(f)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestVotingLinkFillsTheForm opens a voter's voting link: the page fills in
// the voter id and code from the fragment, takes the fragment out of the
// address bar, and signs in; no request carries the code.
func TestVotingLinkFillsTheForm(t *testing.T) {
	t.Parallel()
	_, el, backend := browserWorld(t)
	front, recorded := recordingProxy(t, backend)
	code := el.Codes["V00003"]
	link := ballot.VotingLink(front, "demo", "V00003", code)
	ctx := browser(t)
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(360, 780),
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("signin")),
	)
	if err != nil {
		t.Fatal(err)
	}
	voter, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("voter-id")))
	typed, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("code")))
	href, _ := chromedp.Run(ctx, chromedp.Location())
	if voter != "V00003" || typed != code || strings.Contains(href, "#") || strings.Contains(href, code) {
		t.Fatalf("after the link: voter %q, code %q, address %q; want the form filled and no fragment", voter, typed, href)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signin-submit")), chromedp.WaitVisible(chromedp.ID("ballot"))); err != nil {
		t.Fatalf("signing in from the link: %v", err)
	}
	norm, _ := ballot.NormalizeCode(code)
	for _, req := range recorded() {
		if strings.Contains(req, code) || strings.Contains(req, norm) {
			t.Errorf("a request carries the code:\n%.300s", req)
		}
	}
}

// recordingProxy puts a proxy in front of backend that records every
// request it passes on (method, URL, headers and body), as an observer on
// the network between the page and the server would see it. It returns the
// proxy's URL and a function that returns what it has recorded so far.
func recordingProxy(t *testing.T, backend string) (string, func() []string) {
	t.Helper()
	target, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var (
		mu   sync.Mutex
		sent []string
	)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		mu.Lock()
		sent = append(sent, r.Method+" "+r.URL.String()+"\n"+fmt.Sprint(r.Header)+"\n"+string(body))
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), sent...)
	}
}

// TestAnotherVoterInTheSameTab: one voter reviews a ballot and leaves it
// uncast; another signs in on the same phone and makes the same choices.
// The first voter's encrypted ballot (bound to their credential) is not
// reused: the second voter casts a ballot of their own.
func TestAnotherVoterInTheSameTab(t *testing.T) {
	t.Parallel()
	env, el, base := browserWorld(t)
	ctx := browser(t)
	choose := chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("ballot")),
		chromedp.Click(chromedp.ID("c-leader-b")),
		chromedp.Click(chromedp.ID("c-council-q")),
		chromedp.Click(chromedp.ID("to-review")),
		chromedp.WaitVisible(chromedp.ID("review")),
	)
	signIn := func(voter string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.WaitVisible(chromedp.ID("voter-id")),
			chromedp.SetValue(chromedp.ID("voter-id"), voter),
			chromedp.SetValue(chromedp.ID("code"), el.Codes[voter]),
			chromedp.Click(chromedp.ID("signin-submit")),
		)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/e/demo?lang=en"), signIn("V00001"), choose); err != nil {
		t.Fatal(err)
	}
	// The session ends (here: taken away) before V00001 casts.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`sessionStorage.removeItem("demo:session"), true`)); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx, chromedp.Reload(), signIn("V00002"), choose,
		chromedp.Click(chromedp.ID("cast")), chromedp.WaitVisible(chromedp.ID("receipt")))
	if err != nil {
		t.Fatalf("the second voter casting: %v", err)
	}
	var stored []byte
	env.DB.Pool.QueryRow(context.Background(), `SELECT credential FROM ballots`).Scan(&stored)
	second, _ := ballot.DeriveCredential("demo", el.Codes["V00002"])
	if n := env.Count(t, `SELECT count(*) FROM ballots`); n != 1 || !bytes.Equal(stored, second.Public()) {
		t.Errorf("%d ballots; the one stored is not V00002's", n)
	}
}
