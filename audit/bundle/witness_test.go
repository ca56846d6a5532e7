package bundle_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"primaryvote/audit/cosign"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit"
	"primaryvote/audit/bundle"
	"primaryvote/audit/entry"
	"primaryvote/audit/record"
	"primaryvote/audit/witness"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

// campWitness is a camp's witness on its own HTTP server, which the test
// can take down and bring back.
type campWitness struct {
	name string
	dir  string
	srv  *httptest.Server
	w    *witness.Server
	down atomic.Bool
	// slow makes it answer only when the client gives up.
	slow atomic.Bool
}

func newCampWitness(t *testing.T, name, logKey string) *campWitness {
	t.Helper()
	c := &campWitness{name: name, dir: t.TempDir()}
	if _, err := witness.Init(c.dir, name, logKey); err != nil {
		t.Fatal(err)
	}
	w, err := witness.Open(c.dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	c.w = w
	c.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if c.down.Load() {
			http.Error(rw, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if c.slow.Load() {
			io.Copy(io.Discard, r.Body) // then the server sees the client give up
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		w.ServeHTTP(rw, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// witnessed is an election whose log three camps witness, any two of whom
// make a checkpoint count.
type witnessed struct {
	env     *fixture.Env
	el      *fixture.Election
	camps   []*campWitness
	policy  *cosign.Policy
	pusher  *audit.Pusher
	pushLog *strings.Builder
}

func newWitnessed(t *testing.T) *witnessed {
	t.Helper()
	env := fixture.New(t)
	x := &witnessed{env: env, policy: &cosign.Policy{Quorum: 2}, pushLog: &strings.Builder{}}
	for _, name := range []string{"camp-a.example/witness", "camp-b.example/witness", "camp-c.example/witness"} {
		c := newCampWitness(t, name, env.Signer.VerifierKey())
		x.camps = append(x.camps, c)
		x.policy.Witnesses = append(x.policy.Witnesses, cosign.Witness{Key: c.w.VerifierKey(), URL: c.srv.URL})
	}
	x.el = env.Setup(t, "e1", 6, false)
	ctx := context.Background()
	if err := env.Elections.SetWitnesses(ctx, "e1", x.policy, "test"); err != nil {
		t.Fatal(err)
	}
	if err := env.Elections.Open(ctx, "e1", "test"); err != nil {
		t.Fatal(err)
	}
	p, err := audit.NewPusher(env.DB.Pool, env.Signer.VerifierKey(), slog.New(slog.NewTextHandler(x.pushLog, nil)))
	if err != nil {
		t.Fatal(err)
	}
	x.pusher = p
	return x
}

// push sequences the log and pushes its newest checkpoint.
func (x *witnessed) push(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := x.env.Sequencer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := x.pusher.Round(ctx); err != nil {
		t.Fatal(err)
	}
}

func (x *witnessed) status(name string) audit.WitnessStatus {
	for _, s := range x.pusher.Status() {
		if s.Name == name {
			return s
		}
	}
	return audit.WitnessStatus{}
}

func (x *witnessed) cast(t *testing.T, i int) string {
	t.Helper()
	req := x.env.CastRequest(t, x.el, x.el.Voters[i], selections[i%len(selections)])
	if _, _, err := x.env.Elections.Cast(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	return ballot.TrackingCode(sha256.Sum256(req.Encrypted))
}

func checkpointLine(signed []byte) string {
	return encode(map[string]any{"type": "checkpoint", "signed": string(signed)})
}

func (x *witnessed) export(t *testing.T) []string {
	t.Helper()
	w := &world{env: x.env, el: x.el, signer: x.env.Signer, seq: x.env.Sequencer}
	return w.export(t)
}

// The camps witness the vote: a witness that is down does not stop it and
// catches up when it is back; receipts prove inclusion under checkpoints a
// quorum cosigned; the bundle ends with a checkpoint every witness cosigned
// and verifies against the pinned policy, which a bundle whose final
// checkpoint lacks the quorum does not.
func TestWitnessedVote(t *testing.T) {
	t.Parallel()
	x := newWitnessed(t)
	ctx := context.Background()
	a, c := x.camps[0], x.camps[2]
	c.down.Store(true)

	code := x.cast(t, 0)
	x.cast(t, 1)
	x.push(t)
	if st := x.status(c.name); st.Failures != 1 || !strings.Contains(st.Error, "503") || st.Cosigned != 0 {
		t.Fatalf("the witness that is down: %+v", st)
	}
	in, err := x.env.Log.Include(ctx, "e1", entry.KindBallotCast, code)
	if err != nil {
		t.Fatal(err)
	}
	if in.Witnessed == nil || !in.Witnessed.Counts() || strings.Join(in.Witnessed.Cosigners, " ") != "camp-a.example/witness camp-b.example/witness" {
		t.Fatalf("the receipt's witnesses: %+v\n%+v\n%s", in.Witnessed, x.pusher.Status(), x.pushLog)
	}
	if _, err := in.CheckCast(x.env.Signer.VerifierKey(), "e1", code); err != nil {
		t.Fatalf("a receipt with cosignatures: %v", err)
	}
	if _, err := x.policy.Cosigners([]byte(in.Checkpoint), x.env.Signer.VerifierKey()); err != nil {
		t.Fatal(err)
	}

	// A ballot cast since the last push is proved under the newest
	// checkpoint, which does not count yet, and says so.
	code3 := x.cast(t, 2)
	x.env.Sequencer.Drain(ctx)
	in, err = x.env.Log.Include(ctx, "e1", entry.KindBallotCast, code3)
	if err != nil || in.Witnessed.Counts() {
		t.Fatalf("a ballot not yet witnessed: %+v, %v", in.Witnessed, err)
	}

	// The witness comes back and catches up with the newest checkpoint.
	c.down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for x.status(c.name).Cosigned < x.status(a.name).LogSize || x.status(c.name).Cosigned == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the witness did not catch up: %+v", x.status(c.name))
		}
		time.Sleep(100 * time.Millisecond)
		x.push(t)
	}
	if st := x.status(c.name); st.Failures != 0 || st.Error != "" || st.Failed != 1 {
		t.Fatalf("caught up: %+v", st)
	}
	v, err := x.env.Log.Witnesses(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range v.Witnesses {
		if w.Lag != 0 || w.Cosigned != v.LogSize {
			t.Errorf("witness view: %+v (log size %d)", w, v.LogSize)
		}
	}

	// The election ends; before the witnesses see the last checkpoint, a
	// bundle can only end with a checkpoint that lacks the quorum.
	x.env.Tally(t, x.el)
	if err := x.env.Elections.Publish(ctx, "e1", "test"); err != nil {
		t.Fatal(err)
	}
	x.env.Sequencer.Drain(ctx)
	early := x.export(t)
	_, err = verify(early, bundle.Options{LogKey: x.env.Signer.VerifierKey(), Policy: x.policy})
	if err == nil || !strings.Contains(err.Error(), "cosigned by 0 of the policy's witnesses") {
		t.Fatalf("Verify of a bundle ahead of its witnesses = %v", err)
	}
	x.push(t)
	lines := x.export(t)
	rep, err := verify(lines, bundle.Options{LogKey: x.env.Signer.VerifierKey(), Policy: x.policy})
	if err != nil {
		t.Fatal(err)
	}
	if w := rep.Witnesses; w == nil || !w.PolicyPinned || len(w.Final) != 3 || w.Cosigned[c.name] != w.FinalSize {
		t.Fatalf("report: %+v", rep.Witnesses)
	}

	// The pinned policy must be the logged one.
	other := *x.policy
	other.Quorum = 3
	if _, err := verify(lines, bundle.Options{LogKey: x.env.Signer.VerifierKey(), Policy: &other}); err == nil || !strings.Contains(err.Error(), "is not the pinned one") {
		t.Errorf("Verify with another policy = %v", err)
	}
	// A cosignature altered in the bundle is named.
	cps := find(lines, "checkpoint")
	last := lines[cps[len(cps)-1]]
	i := strings.LastIndex(last, "— camp-b")
	bad := append([]string(nil), lines...)
	bad[cps[len(cps)-1]] = last[:i+40] + flip(last[i+40]) + last[i+41:]
	if _, err := verify(bad, bundle.Options{LogKey: x.env.Signer.VerifierKey()}); err == nil || !strings.Contains(err.Error(), "camp-b.example/witness does not verify") {
		t.Errorf("Verify with a bad cosignature = %v", err)
	}
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

// An insider with the log's signing key shows one camp another history of
// the same size: the witness refuses to cosign it and keeps it, and
// auditverify, given the kept checkpoint, names the split view.
func TestSplitViewRefusedAndDetected(t *testing.T) {
	t.Parallel()
	x := newWitnessed(t)
	ctx := context.Background()
	x.cast(t, 0)
	x.push(t)
	a := x.camps[0]
	size := a.w.Size()

	// Another tree of the same size, signed with the log's key.
	forged, err := x.env.Signer.Sign(record.Checkpoint{Origin: x.env.Signer.Origin(), Size: size, Root: tlog.RecordHash([]byte("another history"))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = witness.AddCheckpoint(ctx, http.DefaultClient, a.srv.URL, &witness.AddCheckpointRequest{OldSize: size, Checkpoint: forged})
	var refused *witness.RefusedError
	if !asRefused(err, &refused) || refused.Status != http.StatusUnprocessableEntity || !strings.Contains(refused.Message, "split view") {
		t.Fatalf("the witness cosigned a split view: %v", err)
	}
	kept, _ := filepath.Glob(filepath.Join(a.dir, witness.RefusedDir, "*.checkpoint"))
	if len(kept) != 1 {
		t.Fatalf("kept %v", kept)
	}
	evidence, _ := os.ReadFile(kept[0])

	x.push(t)
	lines := x.export(t)
	_, err = verify(lines, bundle.Options{LogKey: x.env.Signer.VerifierKey(), Checkpoints: map[string][]byte{kept[0]: evidence}})
	if err == nil || !strings.Contains(err.Error(), "split view") {
		t.Fatalf("Verify with the kept checkpoint = %v", err)
	}
	// Both in the bundle itself.
	cps := find(lines, "checkpoint")
	both := append([]string(nil), lines[:cps[len(cps)-1]+1]...)
	both = append(both, checkpointLine(forged))
	both = append(both, lines[cps[len(cps)-1]+1:]...)
	_, err = verify(fixEnd(both), bundle.Options{LogKey: x.env.Signer.VerifierKey()})
	if err == nil || !strings.Contains(err.Error(), "split view") {
		t.Fatalf("Verify of a bundle with both = %v", err)
	}
}

// An insider rolls the log back (the database's owner deletes its tail)
// and grows another: the witnesses refuse to go back, and refuse the other
// history when it is longer; the pusher shows why.
func TestRolledBackLogRefused(t *testing.T) {
	t.Parallel()
	x := newWitnessed(t)
	ctx := context.Background()
	x.cast(t, 0)
	x.push(t)
	x.cast(t, 1)
	x.push(t)
	a := x.camps[0]
	cosigned := a.w.Size()

	owner := x.env.DB.OwnerPool
	for _, q := range []string{
		`GRANT DELETE ON audit_log, audit_hashes, audit_checkpoints, audit_cosignatures TO CURRENT_USER`,
		`ALTER TABLE audit_log DISABLE TRIGGER USER`, `ALTER TABLE audit_hashes DISABLE TRIGGER USER`,
		`ALTER TABLE audit_checkpoints DISABLE TRIGGER USER`, `ALTER TABLE audit_cosignatures DISABLE TRIGGER USER`,
		`DELETE FROM audit_cosignatures`,
		`DELETE FROM audit_checkpoints WHERE size > (SELECT min(size) FROM audit_checkpoints)`,
		`DELETE FROM audit_log WHERE position >= (SELECT min(size) FROM audit_checkpoints)`,
	} {
		if _, err := owner.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var first int64
	owner.QueryRow(ctx, `SELECT min(size) FROM audit_checkpoints`).Scan(&first)
	if _, err := owner.Exec(ctx, `DELETE FROM audit_hashes WHERE idx >= $1`, tlog.StoredHashCount(first)); err != nil {
		t.Fatal(err)
	}

	// A server started afresh pushes the rolled-back log.
	fresh, _ := audit.NewPusher(x.env.DB.Pool, x.env.Signer.VerifierKey(), slog.New(slog.DiscardHandler))
	if err := fresh.Round(ctx); err != nil {
		t.Fatal(err)
	}
	for _, st := range fresh.Status() {
		if !strings.Contains(st.Error, "rolled back") {
			t.Errorf("%s: %+v", st.Name, st)
		}
	}
	// The insider grows another history past what the witnesses cosigned.
	for i := 2; int64(i) < cosigned+2 && i < len(x.el.Voters); i++ {
		x.cast(t, i)
	}
	x.env.Sequencer.Drain(ctx)
	var size int64
	owner.QueryRow(ctx, `SELECT max(size) FROM audit_checkpoints`).Scan(&size)
	if size <= cosigned {
		t.Fatalf("the other history has %d records, not beyond %d", size, cosigned)
	}
	time.Sleep(1100 * time.Millisecond) // the first retry
	if err := fresh.Round(ctx); err != nil {
		t.Fatal(err)
	}
	for _, st := range fresh.Status() {
		if !strings.Contains(st.Error, "422") || st.Cosigned > cosigned {
			t.Errorf("%s: %+v", st.Name, st)
		}
	}
	if a.w.Size() != cosigned {
		t.Errorf("the witness moved to %d", a.w.Size())
	}
}

func asRefused(err error, target **witness.RefusedError) bool {
	r, ok := err.(*witness.RefusedError)
	*target = r
	return ok
}

// An insider tries to have receipts and the page count witnesses of their
// own: the table the pusher reads is changed, and, with the log's key, a
// policy logged after the opening. Receipts and the witnesses' view go by
// the policy logged before the opening, and auditverify names the late one.
func TestInsiderCannotSwapTheWitnesses(t *testing.T) {
	t.Parallel()
	x := newWitnessed(t)
	ctx := context.Background()
	code := x.cast(t, 0)
	x.push(t)

	theirs := &cosign.Policy{Quorum: 2}
	for _, name := range []string{"camp-a.example/witness", "camp-b.example/witness"} {
		c := newCampWitness(t, name, x.env.Signer.VerifierKey()) // same names, the insider's keys
		theirs.Witnesses = append(theirs.Witnesses, cosign.Witness{Key: c.w.VerifierKey(), URL: c.srv.URL})
	}
	body, _ := json.Marshal(theirs)
	if _, err := x.env.DB.Pool.Exec(ctx, `UPDATE witness_policies SET policy = $1 WHERE election_id = 'e1'`, body); err != nil {
		t.Fatal(err)
	}
	must(t, audit.Append(ctx, x.env.DB.Pool, audit.Entry{ElectionID: "e1", Kind: entry.KindWitnessPolicy, Actor: "cli:insider", At: x.env.Clock.Now(), Data: *theirs, Ref: audit.PolicyRef}))
	later := x.cast(t, 1)
	fresh, _ := audit.NewPusher(x.env.DB.Pool, x.env.Signer.VerifierKey(), slog.New(slog.DiscardHandler))
	x.pusher = fresh
	x.push(t) // now to the insider's witnesses only, which cosign
	if st := fresh.Status(); len(st) != 2 || st[0].Key != theirs.Witnesses[0].Key || st[0].Cosigned == 0 {
		t.Fatalf("the pusher did not push to the insider's witnesses: %+v", st)
	}

	got, err := audit.ElectionPolicy(ctx, x.env.DB.Pool, "e1")
	if err != nil || !got.Equal(x.policy) {
		t.Fatalf("the election's policy is now %+v, %v", got, err)
	}
	in, err := x.env.Log.Include(ctx, "e1", entry.KindBallotCast, code)
	if err != nil {
		t.Fatal(err)
	}
	if !in.Witnessed.Counts() {
		t.Fatalf("the ballot the camps witnessed: %+v", in.Witnessed)
	}
	// The ballot cast since is cosigned by the insider's witnesses alone,
	// which share the camps' names: it does not count.
	in, err = x.env.Log.Include(ctx, "e1", entry.KindBallotCast, later)
	if err != nil {
		t.Fatal(err)
	}
	if in.Witnessed.Counts() || len(in.Witnessed.Cosigners) != 0 {
		t.Fatalf("a ballot only the insider's witnesses cosigned counts as witnessed by %v", in.Witnessed.Cosigners)
	}
	if names, err := theirs.Cosigners([]byte(in.Checkpoint), x.env.Signer.VerifierKey()); err != nil || len(names) != 2 {
		t.Fatalf("the insider's witnesses did cosign it: %v, %v", names, err)
	}
	v, err := x.env.Log.Witnesses(ctx, "e1")
	if err != nil || v.Witnesses[0].Key != x.policy.Witnesses[0].Key {
		t.Fatalf("the witnesses' view: %+v, %v", v, err)
	}
	x.env.Sequencer.Drain(ctx)
	_, err = verify(x.export(t), bundle.Options{LogKey: x.env.Signer.VerifierKey()})
	if err == nil || !strings.Contains(err.Error(), "witnesses.policy while the election is open") {
		t.Fatalf("Verify = %v; want the late policy named", err)
	}
}

// A witness that takes its time does not hold back the others: while a
// push to it hangs, the others cosign each newer checkpoint as it comes.
func TestSlowWitnessDoesNotHoldUpTheOthers(t *testing.T) {
	t.Parallel()
	x := newWitnessed(t)
	x.camps[2].slow.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go x.pusher.Run(ctx, 50*time.Millisecond)
	a, c := x.camps[0].name, x.camps[2].name
	for i := range 3 {
		x.cast(t, i)
		if _, err := x.env.Sequencer.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		x.pusher.Notify()
		var size int64
		x.env.DB.Pool.QueryRow(ctx, `SELECT max(size) FROM audit_checkpoints`).Scan(&size)
		// Well within the 5 s a push to the slow witness waits.
		deadline := time.Now().Add(3 * time.Second)
		for x.status(a).Cosigned < size {
			if time.Now().After(deadline) {
				t.Fatalf("checkpoint %d: camp A is held back by the slow witness: %+v", size, x.pusher.Status())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if st := x.status(c); st.Cosigned != 0 {
		t.Errorf("the slow witness: %+v", st)
	}
}

// TestFlushReachesAWitnessWhosePushWasCut stops the pusher while a push to
// a slow witness is going on, as a server that shuts down does, and then
// flushes: the newest checkpoint reaches every witness, the one whose push
// was cut (and so waits to be retried) included.
func TestFlushReachesAWitnessWhosePushWasCut(t *testing.T) {
	t.Parallel()
	x := newWitnessed(t)
	x.camps[2].slow.Store(true)
	ctx := context.Background()
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { defer close(ran); x.pusher.Run(runCtx, 50*time.Millisecond) }()
	x.cast(t, 0)
	if _, err := x.env.Sequencer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	x.pusher.Notify()
	deadline := time.Now().Add(3 * time.Second)
	for x.status(x.camps[0].name).Cosigned == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("camp A did not cosign: %+v", x.pusher.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop() // the server stops: the push to the slow witness is cut
	<-ran
	x.camps[2].slow.Store(false)
	x.cast(t, 1)
	if _, err := x.env.Sequencer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var size int64
	if err := x.env.DB.Pool.QueryRow(ctx, `SELECT max(size) FROM audit_checkpoints`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	if err := x.pusher.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range x.camps {
		if st := x.status(c.name); st.Cosigned != size {
			t.Errorf("%s cosigned %d after the flush; the log is %d: %+v", c.name, st.Cosigned, size, st)
		}
	}
}
