package elections_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	pv "primaryvote"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
	"primaryvote/elections"
	"primaryvote/internal/fixture"
)

// A voter checks a copy: it is kept, never cast, answered the same when
// sent again, and logged at the close without anything that names the
// voter; the voter then casts a fresh copy.
func TestCheckedCopyIsNeverCast(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 3, true)
	ctx := context.Background()
	sel := ballot.Selections{"leader": {"b"}, "council": {"q"}}

	raw, revealed := env.Copy(t, el, "V00001", sel)
	want := ballot.TrackingCode(sha256.Sum256(raw))
	got, err := env.Elections.Spoil(ctx, elections.SpoilRequest{ElectionID: el.ID, VoterID: "V00001", Revealed: revealed})
	if err != nil {
		t.Fatalf("Spoil = %v", err)
	}
	if got.TrackingCode != want || !reflect.DeepEqual(got.Choices, sel) {
		t.Fatalf("Spoil = %+v; want the copy's code %s and choices %v", got, want, sel)
	}
	again, err := env.Elections.Spoil(ctx, elections.SpoilRequest{ElectionID: el.ID, VoterID: "V00001", Revealed: revealed})
	if err != nil || again.TrackingCode != want {
		t.Errorf("the same copy again: %+v, %v", again, err)
	}
	if n := env.Count(t, `SELECT count(*) FROM spoiled_ballots`); n != 1 {
		t.Errorf("spoiled_ballots has %d rows; want 1", n)
	}

	// The checked copy's bytes are refused; nothing is stored.
	cast := elections.CastRequest{ElectionID: el.ID, VoterID: "V00001", Group: el.Groups["V00001"], IdempotencyKey: idemKey("checked"), Encrypted: raw}
	if _, _, err := env.Elections.Cast(ctx, cast); !errors.Is(err, elections.ErrSpoiled) {
		t.Fatalf("casting the checked copy: %v; want %v", err, elections.ErrSpoiled)
	}
	if n := env.Count(t, `SELECT count(*) FROM ballots`); n != 0 {
		t.Fatalf("%d ballots stored", n)
	}
	// A fresh copy casts; after that no copy can be checked.
	if _, _, err := env.Elections.Cast(ctx, castReq(t, env, el, "V00001", "fresh", sel)); err != nil {
		t.Fatalf("casting a fresh copy: %v", err)
	}
	_, late := env.Copy(t, el, "V00001", sel)
	if _, err := env.Elections.Spoil(ctx, elections.SpoilRequest{ElectionID: el.ID, VoterID: "V00001", Revealed: late}); pv.ErrorCode(err) != pv.EConflict || !strings.Contains(err.Error(), "only before casting") {
		t.Errorf("checking after casting: %v; want a conflict", err)
	}

	// Nothing is logged until the close; then the copy is, anonymously.
	if n := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = $1`, entry.KindBallotSpoiled); n != 0 {
		t.Errorf("%d spoiled entries logged before the close", n)
	}
	if err := env.Elections.Close(ctx, el.ID, "test"); err != nil {
		t.Fatal(err)
	}
	var body []byte
	if err := env.DB.Pool.QueryRow(ctx, `SELECT body FROM audit_entries WHERE kind = $1 AND ref = $2`, entry.KindBallotSpoiled, want).Scan(&body); err != nil {
		t.Fatalf("the spoiled entry: %v", err)
	}
	cred, _ := ballot.DeriveCredential(el.ID, el.Codes["V00001"])
	be, err := env.Elections.Get(ctx, el.ID)
	if err != nil {
		t.Fatal(err)
	}
	sig := raw[be.SignedSize() : be.SignedSize()+ballot.SignatureSize]
	for _, secret := range []string{cred.PublicHex(), "V00001", hex.EncodeToString(sig), hex.EncodeToString(raw[len(raw)-32:])} {
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("the spoiled entry names the voter (%s): %s", secret, body)
		}
	}
	p, err := entry.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	data, err := p.Decode()
	if err != nil {
		t.Fatal(err)
	}
	d := data.(*entry.Spoiled)
	e, _ := env.Elections.Get(ctx, el.ID)
	r, _ := ballot.ParseRevealed(revealed)
	cts, _ := e.SpoiledCiphertexts(r.Seed, sel)
	if d.TrackingCode != want || d.Seed != hex.EncodeToString(r.Seed) || !reflect.DeepEqual(d.Ciphertexts, cts) {
		t.Errorf("the spoiled entry %s is not the copy's", body)
	}
}

// Every way a checked copy can be wrong is refused, with a reason, and
// keeps nothing.
func TestCheckedCopyRefusals(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 3, true)
	draft := env.Setup(t, "e2", 1, false)
	ctx := context.Background()
	sel := ballot.Selections{"leader": {"a"}, "council": {"r"}}
	_, mine := env.Copy(t, el, "V00001", sel)
	r, _ := ballot.ParseRevealed(mine)
	r.Choices[0] = []int{1} // the page says it encrypted b
	lying := r.String()
	_, inDraft := env.Copy(t, draft, "V00001", sel)

	for name, tc := range map[string]struct {
		req  elections.SpoilRequest
		code pv.Code
		says string
	}{
		"another voter's copy":        {elections.SpoilRequest{ElectionID: el.ID, VoterID: "V00002", Revealed: mine}, pv.EForbidden, "not this voter's"},
		"choices it does not encrypt": {elections.SpoilRequest{ElectionID: el.ID, VoterID: "V00001", Revealed: lying}, pv.EInvalid, "not what its credential signed"},
		"not a copy":                  {elections.SpoilRequest{ElectionID: el.ID, VoterID: "V00001", Revealed: "hello"}, pv.EInvalid, "revealed ballot copy"},
		"another election's":          {elections.SpoilRequest{ElectionID: el.ID, VoterID: "V00001", Revealed: inDraft}, pv.EInvalid, "for election"},
		"an election not open":        {elections.SpoilRequest{ElectionID: draft.ID, VoterID: "V00001", Revealed: inDraft}, pv.EConflict, "not open"},
	} {
		_, err := env.Elections.Spoil(ctx, tc.req)
		if pv.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v; want %s saying %q", name, err, tc.code, tc.says)
		}
	}
	if n := env.Count(t, `SELECT count(*) FROM spoiled_ballots`); n != 0 {
		t.Errorf("%d copies kept", n)
	}
}

// A check and a cast of the same copy at once: exactly one wins, always.
func TestCheckAndCastOfOneCopyRace(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	const voters = 12
	el := env.Setup(t, "e1", voters, true)
	ctx := context.Background()
	sel := ballot.Selections{"leader": {"c"}, "council": {"p"}}
	var wg sync.WaitGroup
	for _, v := range el.Voters {
		raw, revealed := env.Copy(t, el, v, sel)
		cast := elections.CastRequest{ElectionID: el.ID, VoterID: v, Group: el.Groups[v], IdempotencyKey: idemKey(v), Encrypted: raw}
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := env.Elections.Spoil(ctx, elections.SpoilRequest{ElectionID: el.ID, VoterID: v, Revealed: revealed}); err != nil && pv.ErrorCode(err) != pv.EConflict {
				t.Errorf("%s: Spoil = %v", v, err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, _, err := env.Elections.Cast(ctx, cast); err != nil && !errors.Is(err, elections.ErrSpoiled) {
				t.Errorf("%s: Cast = %v", v, err)
			}
		}()
	}
	wg.Wait()
	both := env.Count(t, `SELECT count(*) FROM ballots b JOIN spoiled_ballots s USING (election_id, tracking_code)`)
	total := env.Count(t, `SELECT count(*) FROM ballots`) + env.Count(t, `SELECT count(*) FROM spoiled_ballots`)
	if both != 0 || total != voters {
		t.Errorf("%d copies both cast and checked; %d kept in all, want %d", both, total, voters)
	}
}

// A cast that arrives while a check of the same copy is committing waits
// for the credential's lock and then sees the copy checked: the
// interleaving that a check and a cast without the lock would both win.
func TestCastWaitsForACheckOfItsCopy(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 1, true)
	ctx := context.Background()
	raw, revealed := env.Copy(t, el, "V00001", ballot.Selections{"leader": {"d"}, "council": {"q"}})
	r, _ := ballot.ParseRevealed(revealed)
	tracking := sha256.Sum256(raw)

	// A check, held open after its insert (as Spoil does it, by hand).
	tx, err := env.DB.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int4, $2::int4)`,
		int32(binary.BigEndian.Uint32(r.Credential[0:4])), int32(binary.BigEndian.Uint32(r.Credential[4:8]))); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO spoiled_ballots (election_id, tracking_code, entry) VALUES ($1, $2, '{}')`, el.ID, tracking[:]); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := env.Elections.Cast(ctx, elections.CastRequest{ElectionID: el.ID, VoterID: "V00001", Group: el.Groups["V00001"], IdempotencyKey: idemKey("race"), Encrypted: raw})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the cast finished (%v) while the check of its copy was uncommitted", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, elections.ErrSpoiled) {
		t.Fatalf("the cast after the check committed: %v; want %v", err, elections.ErrSpoiled)
	}
	if n := env.Count(t, `SELECT count(*) FROM ballots`); n != 0 {
		t.Errorf("%d ballots stored", n)
	}
}
