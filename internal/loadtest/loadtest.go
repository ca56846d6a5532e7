// Package loadtest plays an electorate through primaryvote's HTTP API, as
// voters' phones would: sign in by signing with the key the voter's code
// derives, cast the ballot the device encrypted, proved and signed with an
// Idempotency-Key, check the receipt names the ballot's tracking code, and
// check that the ballot is in the log. Every device derives its key and makes its ballot before
// the clock starts, on every core. It retries a refused or failed
// request after Retry-After with the same key, as the ballot page does, and
// keeps a ledger of every acknowledged receipt so a run can be reconciled
// with the audit log and the count (nothing lost, nothing duplicated).
package loadtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"primaryvote/ballot"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Voter is a voter's id and code, as the credential authority's codes file
// has them.
type Voter struct{ ID, Code string }

// device is a voter's phone: the voter id, the credential key the code
// derives, and the ballot it made: the choices, the cast's body and the
// tracking code the receipt must show.
type device struct {
	id         string
	credential *ballot.Credential
	sel        ballot.Selections
	body       []byte
	tracking   string
}

// ReadVoters reads a codes file (header voter_id,code, and maybe a link
// column, which it ignores).
func ReadVoters(r io.Reader) ([]Voter, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("couldn't read voters: %w", err)
	}
	if len(recs) == 0 || len(recs[0]) < 2 || len(recs[0]) > 3 || recs[0][0] != "voter_id" || recs[0][1] != "code" {
		return nil, errors.New("voters file: want a header voter_id,code (and perhaps link)")
	}
	out := make([]Voter, 0, len(recs)-1)
	for _, r := range recs[1:] {
		out = append(out, Voter{ID: r[0], Code: r[1]})
	}
	return out, nil
}

// Config is a load run.
type Config struct {
	// BaseURL is the server, such as http://127.0.0.1:8080.
	BaseURL string
	// Election is the election's id.
	Election string
	// Voters vote once each, in order.
	Voters []Voter
	// Concurrency is how many voters are in progress at once.
	Concurrency int
	// Rate, when positive, starts voters at this many per second (an open
	// arrival process) instead of as fast as Concurrency allows.
	Rate float64
	// Surge multiplies the rate during the first fifth of the run, like the
	// 09:00 opening.
	Surge float64
	// Progress, if set, gets a line every couple of seconds.
	Progress io.Writer
	// Client is the HTTP client; nil means a tuned default.
	Client *http.Client
	// Now is the devices' clock, which signs the sign-ins; nil means
	// time.Now.
	Now func() time.Time
	// Started, if set, is called as the clock starts, once every device
	// has made its ballot: the timed window (Report.Seconds) begins when it
	// returns.
	Started func()
}

// Report is what a run measured.
type Report struct {
	Voters       int     `json:"voters"`
	Acknowledged int     `json:"acknowledged"`
	Failed       int     `json:"failed"`
	Seconds      float64 `json:"seconds"`
	VotesPerSec  float64 `json:"votes_per_second"`
	// Endpoints has each endpoint's admitted requests, "all" of them, and the
	// "refused" ones (503) apart.
	Endpoints map[string]Latencies `json:"endpoints"`
	Errors    map[string]int       `json:"errors"` // by class: "503 sessions", "network ballots", …
	Retries   int                  `json:"retries"`
	// PrepareSeconds is how long the devices took to derive their keys and
	// encrypt, prove and sign their ballots, before the clock started.
	PrepareSeconds float64 `json:"prepare_seconds"`
	// Ledger maps each acknowledged voter to their tracking code.
	Ledger map[string]string `json:"-"`
	// Chosen counts, per question and candidate, the selections of the
	// acknowledged ballots: what the tally must find. It stays in memory.
	Chosen map[string]map[string]int `json:"-"`
}

// Latencies are an endpoint's latency percentiles in milliseconds.
type Latencies struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

type run struct {
	cfg      Config
	client   *http.Client
	election *ballot.Election

	mu        sync.Mutex
	latencies map[string][]time.Duration
	errs      map[string]int
	ledger    map[string]string
	chosen    map[string]map[string]int
	retries   int
	failed    int
	done      atomic.Int64
}

// Run plays every voter and returns the report. It stops early only when ctx
// ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 32
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &run{cfg: cfg, client: cfg.Client, latencies: map[string][]time.Duration{}, errs: map[string]int{}, ledger: map[string]string{},
		chosen: map[string]map[string]int{}}
	if r.client == nil {
		r.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency * 2, MaxConnsPerHost: cfg.Concurrency * 2}}
	}
	res, err := r.client.Get(cfg.BaseURL + "/api/v1/elections/" + cfg.Election)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the election: %w", err)
	}
	r.election = new(ballot.Election)
	err = json.NewDecoder(res.Body).Decode(r.election)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		return nil, fmt.Errorf("couldn't read the election: %d %v", res.StatusCode, err)
	}

	if r.election.Key == nil {
		return nil, fmt.Errorf("election %s has no public key to encrypt under", cfg.Election)
	}
	// The devices derive their keys and make their ballots before the
	// clock starts, on every core.
	prepared := time.Now()
	devices, err := r.prepare(cfg.Voters)
	if err != nil {
		return nil, err
	}
	prepareSeconds := time.Since(prepared).Seconds()

	if cfg.Started != nil {
		cfg.Started()
	}
	start := time.Now()
	stop := make(chan struct{})
	if cfg.Progress != nil {
		go r.progress(start, stop)
	}
	jobs := make(chan device)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range jobs {
				r.vote(ctx, v)
				r.done.Add(1)
			}
		}()
	}
	r.feed(ctx, jobs, devices, start)
	close(jobs)
	wg.Wait()
	close(stop)

	elapsed := time.Since(start)
	rep := &Report{Voters: len(cfg.Voters), Acknowledged: len(r.ledger), Failed: r.failed, Seconds: elapsed.Seconds(),
		VotesPerSec: float64(len(r.ledger)) / elapsed.Seconds(), Endpoints: map[string]Latencies{}, Errors: r.errs,
		Retries: r.retries, Ledger: r.ledger, Chosen: r.chosen, PrepareSeconds: prepareSeconds}
	var all []time.Duration
	for name, ds := range r.latencies {
		rep.Endpoints[name] = percentiles(ds)
		if name != "refused" {
			all = append(all, ds...)
		}
	}
	rep.Endpoints["all"] = percentiles(all) // every admitted request
	return rep, ctx.Err()
}

// feed hands out voters, paced by the arrival rate if there is one.
func (r *run) feed(ctx context.Context, jobs chan<- device, devices []device, start time.Time) {
	n := len(devices)
	for i, v := range devices {
		if r.cfg.Rate > 0 {
			rate := r.cfg.Rate
			if r.cfg.Surge > 1 && i < n/5 {
				rate *= r.cfg.Surge
			}
			// Arrivals at the planned rate; a late start catches up.
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
			}
		}
		select {
		case jobs <- v:
		case <-ctx.Done():
			return
		}
	}
}

// prepare derives every voter's credential key and makes their ballot of
// random choices, on every core.
func (r *run) prepare(voters []Voter) ([]device, error) {
	devices := make([]device, len(voters))
	errs := make([]error, len(voters))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(voters); i += workers {
				devices[i], errs[i] = r.makeDevice(voters[i])
			}
		})
	}
	wg.Wait()
	return devices, errors.Join(errs...)
}

func (r *run) makeDevice(v Voter) (device, error) {
	c, err := ballot.DeriveCredential(r.cfg.Election, v.Code)
	if err != nil {
		return device{}, fmt.Errorf("voter %s: %w", v.ID, err)
	}
	sel := r.choose()
	raw, err := r.election.Encrypt(c, sel)
	if err != nil {
		return device{}, fmt.Errorf("voter %s: %w", v.ID, err)
	}
	body, _ := json.Marshal(map[string]string{"encrypted": base64.StdEncoding.EncodeToString(raw)})
	return device{id: v.ID, credential: c, sel: sel, body: body, tracking: ballot.TrackingCode(sha256.Sum256(raw))}, nil
}

// vote plays one voter to a receipt, or gives up after a minute.
func (r *run) vote(ctx context.Context, v device) {
	base := r.cfg.BaseURL + "/api/v1/elections/" + r.cfg.Election
	at := r.cfg.Now()
	body, _ := json.Marshal(map[string]any{"voter_id": v.id, "at": at.UnixMilli(),
		"signature": v.credential.Sign(ballot.SignInContext, ballot.SignInStatement(r.cfg.Election, v.id, at))})
	// The device has the election (it made its ballot under the key); the
	// sign-in says whether the voter has voted.
	var sess struct{ Token string }
	if !r.call(ctx, "sessions", "POST", base+"/sessions", "", "", body, 201, &sess) {
		r.fail()
		return
	}
	key := make([]byte, 16)
	rand.Read(key)
	var receipt struct {
		TrackingCode string `json:"tracking_code"`
	}
	if !r.call(ctx, "ballots", "POST", base+"/ballots", sess.Token, hex.EncodeToString(key), v.body, 201, &receipt) {
		r.fail()
		return
	}
	r.mu.Lock()
	if receipt.TrackingCode != v.tracking {
		// The server acknowledged a ballot other than the one sent.
		r.errs["receipt of another ballot"]++
		r.failed++
		r.mu.Unlock()
		return
	}
	r.ledger[v.id] = receipt.TrackingCode
	for q, cands := range v.sel {
		if r.chosen[q] == nil {
			r.chosen[q] = map[string]int{}
		}
		for _, c := range cands {
			r.chosen[q][c]++
		}
	}
	r.mu.Unlock()
	r.call(ctx, "receipts", "GET", base+"/receipts/"+receipt.TrackingCode, "", "", nil, 200, nil)
}

// choose makes valid random choices.
func (r *run) choose() ballot.Selections {
	sel := ballot.Selections{}
	for _, q := range r.election.Questions {
		n := q.MinSelections + mrand.IntN(q.MaxSelections-q.MinSelections+1)
		perm := mrand.Perm(len(q.Candidates))
		sel[q.ID] = []string{}
		for _, i := range perm[:n] {
			sel[q.ID] = append(sel[q.ID], q.Candidates[i].ID)
		}
	}
	return sel
}

// call sends a request until it gets the wanted status, retrying network
// errors, 429 and 5xx after Retry-After (or a backoff) with the same body
// and key, for up to a minute. Every attempt's latency and every error are
// recorded.
func (r *run) call(ctx context.Context, name, method, url, token, key string, body []byte, want int, out any) bool {
	deadline := time.Now().Add(time.Minute)
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		start := time.Now()
		res, err := r.client.Do(req)
		var status int
		var payload []byte
		if err == nil {
			status = res.StatusCode
			payload, _ = io.ReadAll(res.Body)
			res.Body.Close()
		}
		// Admitted and refused (503) requests are measured apart: under a
		// surge the refusals must be quick and the admitted ones still fast.
		if err == nil && status == http.StatusServiceUnavailable {
			r.record("refused", time.Since(start))
		} else {
			r.record(name, time.Since(start))
		}
		if err == nil && (status == want || (name == "ballots" && status == 409)) {
			if out != nil {
				if status == 409 { // already voted: the original receipt
					var c struct{ Receipt json.RawMessage }
					json.Unmarshal(payload, &c)
					payload = c.Receipt
				}
				json.Unmarshal(payload, out)
			}
			return true
		}
		class := "network " + name
		if err == nil {
			class = strconv.Itoa(status) + " " + name
		}
		r.mu.Lock()
		r.errs[class]++
		r.mu.Unlock()
		retryable := err != nil || status == 429 || status >= 500
		if !retryable || time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		wait := backoff
		if err == nil {
			if s, _ := strconv.Atoi(res.Header.Get("Retry-After")); s > 0 {
				wait = time.Duration(s) * time.Second
			}
		}
		r.mu.Lock()
		r.retries++
		r.mu.Unlock()
		time.Sleep(time.Duration(float64(wait) * (0.5 + mrand.Float64())))
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (r *run) record(name string, d time.Duration) {
	r.mu.Lock()
	r.latencies[name] = append(r.latencies[name], d)
	r.mu.Unlock()
}

func (r *run) fail() {
	r.mu.Lock()
	r.failed++
	r.mu.Unlock()
}

func (r *run) progress(start time.Time, stop <-chan struct{}) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			done := r.done.Load()
			r.mu.Lock()
			acked, errs := len(r.ledger), 0
			for _, n := range r.errs {
				errs += n
			}
			r.mu.Unlock()
			secs := time.Since(start).Seconds()
			fmt.Fprintf(r.cfg.Progress, "  %6.0fs  %d/%d voters  %d receipts  %.0f votes/s  %d errors\n",
				secs, done, len(r.cfg.Voters), acked, float64(acked)/secs, errs)
		}
	}
}

func percentiles(ds []time.Duration) Latencies {
	slices.Sort(ds)
	at := func(p float64) float64 {
		if len(ds) == 0 {
			return 0
		}
		i := int(float64(len(ds)-1) * p)
		return float64(ds[i].Microseconds()) / 1000
	}
	return Latencies{Count: len(ds), P50: at(.50), P95: at(.95), P99: at(.99), Max: at(1)}
}

// WriteLedger writes the acknowledged receipts: voter_id,tracking_code.
func (rep *Report) WriteLedger(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"voter_id", "tracking_code"})
	ids := make([]string, 0, len(rep.Ledger))
	for id := range rep.Ledger {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		w.Write([]string{id, rep.Ledger[id]})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
