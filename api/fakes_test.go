package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"primaryvote/audit/cosign"
	"strings"
	"sync"
	"testing"
	"time"

	pv "primaryvote"
	"primaryvote/api"
	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/elections"
	"primaryvote/internal/fixture"

	"github.com/jackc/pgx/v5/pgconn"
)

// world is the services the API serves, in memory: enough of their
// behaviour for the handlers' tests (who may do what, what each answer
// looks like), none of their rules, which the end-to-end tests on a real
// database cover.
type world struct {
	mu        sync.Mutex
	clock     *fixture.Clock
	elections map[string]*ballot.Election
	codes     map[string]string // voter → code, in every election
	officials map[string]*official
	// receipts are the voters' receipts, by election and voter; keys, the
	// Idempotency-Key each was cast with.
	receipts map[string]json.RawMessage
	keys     map[string]string
	// actions are the lifecycle steps taken: "close e1 by official:NAME".
	actions []string
	// logged are the tracking codes in the log; the rest are queued.
	logged map[string]bool
	// fail, if set, is what every election lookup and Ping return.
	fail error
	// used are the sign-in signatures seen.
	used map[string]bool
}

type official struct {
	role     auth.Role
	password string
	disabled bool
}

func newWorld(clock *fixture.Clock, voters int) *world {
	w := &world{clock: clock, elections: map[string]*ballot.Election{}, codes: map[string]string{},
		officials: map[string]*official{}, receipts: map[string]json.RawMessage{}, keys: map[string]string{}, logged: map[string]bool{}, used: map[string]bool{}}
	w.add(fixture.Definition("e1"), ballot.Open)
	for i := 1; i <= voters; i++ {
		w.codes[fmt.Sprintf("V%05d", i)] = ballot.NewCode()
	}
	return w
}

func (w *world) add(d *ballot.Definition, status ballot.Status) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.elections[d.ID] = &ballot.Election{ID: d.ID, Title: d.Title, Status: status, Groups: d.Groups, Questions: d.Questions}
}

func (w *world) get(id string, public bool) (*ballot.Election, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return nil, w.fail
	}
	e := w.elections[id]
	if e == nil || public && e.Status == ballot.Draft {
		return nil, pv.Errorf(pv.ENotFound, "no election %q", id)
	}
	c := *e
	return &c, nil
}

func (w *world) Public(ctx context.Context) ([]ballot.Election, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []ballot.Election
	for _, e := range w.elections {
		if e.Status != ballot.Draft {
			out = append(out, *e)
		}
	}
	return out, nil
}

func (w *world) GetPublic(ctx context.Context, id string) (*ballot.Election, error) {
	return w.get(id, true)
}

func (w *world) Get(ctx context.Context, id string) (*ballot.Election, error) {
	return w.get(id, false)
}

func (w *world) step(id, actor string, from, to ballot.Status) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.elections[id]
	if e == nil {
		return pv.Errorf(pv.ENotFound, "no election %q", id)
	}
	if e.Status != from {
		return pv.Errorf(pv.EConflict, "election %q is %s", id, e.Status)
	}
	e.Status = to
	w.actions = append(w.actions, fmt.Sprintf("%s %s by %s", to, id, actor))
	return nil
}

func (w *world) Open(ctx context.Context, id, actor string) error {
	return w.step(id, actor, ballot.Draft, ballot.Open)
}

func (w *world) Close(ctx context.Context, id, actor string) error {
	return w.step(id, actor, ballot.Open, ballot.Closed)
}

func (w *world) Cast(ctx context.Context, req elections.CastRequest) ([]byte, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e := w.elections[req.ElectionID]; e == nil || e.Status != ballot.Open {
		return nil, false, pv.Errorf(pv.EConflict, "the election is not open")
	}
	if req.Group != fakeGroup {
		return nil, false, pv.Errorf(pv.EUnauthorized, "the session names another group than the voter's")
	}
	k := req.ElectionID + "/" + req.VoterID
	if r, ok := w.receipts[k]; ok {
		if w.keys[k] == req.IdempotencyKey {
			return r, true, nil
		}
		return nil, false, &pv.Error{Code: pv.EConflict, Message: "You have already voted in this election.", Detail: r}
	}
	sum := sha256.Sum256(req.Encrypted)
	r, _ := json.Marshal(map[string]any{"tracking_code": ballot.TrackingCode(sum), "cast_at": w.clock.Now()})
	w.receipts[k], w.keys[k] = r, req.IdempotencyKey
	return r, false, nil
}

func (w *world) Ceremony(ctx context.Context, id string) (*elections.CeremonyState, error) {
	return &elections.CeremonyState{}, nil
}

func (w *world) PostDeal(ctx context.Context, id string, d *ballot.Deal) error { return nil }

func (w *world) PostVerdict(ctx context.Context, id string, v *ballot.Verdict) error { return nil }

func (w *world) PostAnswer(ctx context.Context, id string, a *ballot.Answer) error { return nil }

func (w *world) PostPartial(ctx context.Context, id string, p *ballot.PartialDecryption, actor string) error {
	return nil
}

func (w *world) Spoil(ctx context.Context, req elections.SpoilRequest) (*elections.Spoiled, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e := w.elections[req.ElectionID]; e == nil || e.Status != ballot.Open {
		return nil, pv.Errorf(pv.EConflict, "the election is not open")
	}
	if _, err := ballot.ParseRevealed(req.Revealed); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(req.Revealed))
	return &elections.Spoiled{TrackingCode: ballot.TrackingCode(sum), Choices: ballot.Selections{}}, nil
}

func (w *world) Receipt(ctx context.Context, electionID, voterID string) (json.RawMessage, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.receipts[electionID+"/"+voterID], nil
}

func (w *world) Results(ctx context.Context, id string) (json.RawMessage, error) {
	return nil, pv.Errorf(pv.ENotFound, "the results of election %q are not published", id)
}

func (w *world) Turnout(ctx context.Context, id string) (*elections.Turnout, error) {
	if _, err := w.get(id, false); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return &elections.Turnout{Eligible: len(w.codes), Voted: len(w.receipts)}, nil
}

func (w *world) Export(ctx context.Context, id string, out io.Writer) error {
	_, err := fmt.Fprintf(out, "{\"type\":\"header\",\"election\":%q}\n{\"type\":\"end\",\"lines\":1}\n", id)
	return err
}

// voters signs voters in as auth.Credentials does: by the signature of
// the sign-in statement under the credential each voter's code derives.
type voterCredentials struct{ *world }

// fakeGroup is every fake voter's group: the token carries it to the cast.
const fakeGroup = "members"

func (v voterCredentials) SignIn(ctx context.Context, electionID, voterID string, at time.Time, sig []byte) (string, bool, error) {
	bad := pv.Errorf(pv.EUnauthorized, "The voter ID or code is not correct.")
	if d := v.clock.Now().Sub(at); d > auth.SignInWindow || d < -auth.SignInWindow {
		return "", false, pv.Errorf(pv.EUnauthorized, "The sign-in is too far from the server's clock.")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	code, ok := v.codes[voterID]
	if !ok {
		return "", false, bad
	}
	c, _ := ballot.DeriveCredential(electionID, code)
	if ballot.VerifySignature(c.Public(), ballot.SignInContext, ballot.SignInStatement(electionID, voterID, at), sig) != nil {
		return "", false, bad
	}
	if v.used[string(sig)] {
		return "", false, pv.Errorf(pv.EUnauthorized, "This sign-in was already used: sign in again.")
	}
	v.used[string(sig)] = true
	_, voted := v.receipts[electionID+"/"+voterID]
	return fakeGroup, voted, nil
}

func (w *world) SignIn(ctx context.Context, username, password string) (auth.Role, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	o := w.officials[username]
	if o == nil || o.disabled || o.password != password {
		return "", pv.Errorf(pv.EUnauthorized, "The username or password is not correct.")
	}
	return o.role, nil
}

func (w *world) Current(ctx context.Context, username string) (auth.Role, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	o := w.officials[username]
	if o == nil || o.disabled {
		return "", pv.Errorf(pv.EUnauthorized, "This official account is disabled or no longer exists.")
	}
	return o.role, nil
}

func (w *world) VerifierKey() string { return "primaryvote.test/log+00000000+AAAA" }

func (w *world) LatestCheckpoint(ctx context.Context) ([]byte, error) {
	return []byte("primaryvote.test/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"), nil
}

func (w *world) Include(ctx context.Context, electionID string, kind entry.Kind, ref string) (*audit.Inclusion, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.receipts {
		var rc struct {
			TrackingCode string `json:"tracking_code"`
		}
		json.Unmarshal(r, &rc)
		if rc.TrackingCode == ref {
			if w.logged[ref] {
				return &audit.Inclusion{Position: 1}, nil
			}
			return nil, audit.ErrQueued
		}
	}
	return nil, audit.ErrNotLogged
}

func (w *world) RecentActivity(ctx context.Context, electionID string, limit int) ([]audit.Activity, error) {
	return []audit.Activity{}, nil
}

func (w *world) Sequence(ctx context.Context) error { return nil }

func (w *world) Ping(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fail
}

// newFakeHarness is an API server over a world of services in memory, with
// an open election "e1" of the given number of voters.
func newFakeHarness(t *testing.T, cfg api.Config, voters int) *harness {
	t.Helper()
	clock := fixture.NewClock()
	secrets, err := auth.LoadSecrets(t.TempDir(), fixture.LogOrigin)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(clock, voters)
	a := api.New(cfg, api.Services{Elections: w, Credentials: voterCredentials{w}, Officials: w, Log: w, Database: w,
		Tokens: auth.NewTokens(secrets, clock.Now)}, nil)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &harness{t: t, srv: srv, api: a, codes: w.codes, clock: clock, secrets: secrets, world: w,
		addOfficial: func(name string, role auth.Role, password string) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.officials[name] = &official{role: role, password: password}
		},
		countWritten: func() int {
			w.mu.Lock()
			defer w.mu.Unlock()
			return len(w.receipts)
		}}
}

// setOfficial changes an official's role or disables the account, as
// another server would.
func (w *world) setOfficial(name string, role auth.Role, disabled bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.officials[name].role, w.officials[name].disabled = role, disabled
}

// Whatever a service fails with, the client gets the status its code maps
// to, and an internal failure's cause stays in the log.
func TestServiceFailuresOverHTTP(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err        error
		status     int
		want, hide string
	}{
		{pv.Errorf(pv.EConflict, "election %q is closed", "e1"), 409, `Election \"e1\" is closed.`, ""},
		{errors.New("pq: relation ballots is on fire at 10.1.2.3"), 500, "Internal error.", "10.1.2.3"},
		{pv.Errorf(pv.EInternal, "pepper %x", "secret"), 500, "Internal error.", "736563726574"},
		{pv.Errorf("made_up", "a code no list has"), 500, "Internal error.", "no list"},
		{&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, 503, "briefly unavailable", "administrator"},
	} {
		h := newFakeHarness(t, api.Config{RetryAfter: 2}, 1)
		h.world.fail = c.err
		r := h.do("GET", "/api/v1/elections/e1", "")
		if r.status != c.status || !strings.Contains(r.body, c.want) || c.hide != "" && strings.Contains(r.body, c.hide) {
			t.Errorf("%v: %d %s; want %d saying %q", c.err, r.status, r.body, c.status, c.want)
		}
		if c.status == 503 && r.header.Get("Retry-After") != "2" {
			t.Errorf("%v: Retry-After %q; want 2", c.err, r.header.Get("Retry-After"))
		}
	}
	h := newFakeHarness(t, api.Config{}, 1)
	h.world.fail = errors.New("connection refused")
	if r := h.do("GET", "/readyz", ""); r.status != 503 || !strings.Contains(r.body, "urn:primaryvote:problem:unavailable") {
		t.Errorf("readyz with the database down = %d %s", r.status, r.body)
	}
}

func (w *world) SetWitnesses(ctx context.Context, id string, p *cosign.Policy, actor string) error {
	if err := p.Check(); err != nil {
		return pv.Errorf(pv.EInvalid, "The witness policy: %v.", err)
	}
	return pv.Errorf(pv.EConflict, "election %q is open: its witnesses are set before it opens", id)
}

func (w *world) Witnesses(ctx context.Context, electionID string) (*audit.WitnessView, error) {
	return nil, audit.ErrNoPolicy
}
