package elections_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	pv "primaryvote"
	"primaryvote/ballot"
	"primaryvote/elections"
	"primaryvote/internal/fixture"
)

var goodSelections = ballot.Selections{"leader": {"a"}, "council": {"p", "q"}}

// ballots remembers each ballot a test's devices made, so that a retry
// (the same voter, key and choices) sends the same bytes, as a device does.
var ballots sync.Map

// castReq is the voter's cast of sel under the key named key, with the
// ballot their device made (once) for it.
func castReq(t testing.TB, env *fixture.Env, el *fixture.Election, voter, key string, sel ballot.Selections) elections.CastRequest {
	t.Helper()
	id := fmt.Sprintf("%s %s %s %s %v", el.Codes[voter], el.ID, voter, key, sel)
	raw, ok := ballots.Load(id)
	if !ok {
		raw, _ = ballots.LoadOrStore(id, env.Ballot(t, el, voter, sel))
	}
	return elections.CastRequest{ElectionID: el.ID, VoterID: voter, Group: el.Groups[voter], IdempotencyKey: idemKey(key), Encrypted: raw.([]byte)}
}

// idemKey stretches a test's short name for a key to a valid Idempotency-Key.
func idemKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16])
}

func TestCastOneBallotPerVoterUnderConcurrency(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 3, true)
	ctx := context.Background()

	const n = 50
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		accepted  [][]byte
		conflicts []json.RawMessage
		other     []error
	)
	for i := range n {
		wg.Add(1)
		req := castReq(t, env, el, "V00001", fmt.Sprintf("key-%d", i), goodSelections)
		go func() {
			defer wg.Done()
			resp, replayed, err := env.Elections.Cast(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			var de *pv.Error
			switch {
			case err == nil && !replayed:
				accepted = append(accepted, resp)
			case errors.As(err, &de) && de.Code == pv.EConflict:
				conflicts = append(conflicts, de.Detail.(elections.AlreadyVoted).Receipt)
			default:
				other = append(other, fmt.Errorf("replayed=%v err=%v", replayed, err))
			}
		}()
	}
	wg.Wait()
	if len(accepted) != 1 || len(conflicts) != n-1 || len(other) != 0 {
		t.Fatalf("50 concurrent casts: %d accepted, %d conflicts, other %v; want 1, 49, none", len(accepted), len(conflicts), other)
	}
	for _, r := range conflicts {
		if string(r) != string(accepted[0]) {
			t.Fatalf("409 receipt = %s; want the original %s", r, accepted[0])
		}
	}
	if got := env.Count(t, `SELECT count(*) FROM ballots WHERE election_id = 'e1'`); got != 1 {
		t.Errorf("ballots = %d; want 1", got)
	}
	if got := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'ballot.cast'`); got != 1 {
		t.Errorf("ballot.cast audit entries = %d; want 1", got)
	}
}

func TestCastSameKeyConcurrentlyGivesOneResponse(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 1, true)
	var wg sync.WaitGroup
	responses := make([][]byte, 20)
	replayed := make([]bool, 20)
	errs := make([]error, 20)
	req := castReq(t, env, el, "V00001", "same-key", goodSelections)
	for i := range responses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			responses[i], replayed[i], errs[i] = env.Elections.Cast(context.Background(), req)
		}()
	}
	wg.Wait()
	fresh := 0
	for i := range responses {
		if errs[i] != nil || string(responses[i]) != string(responses[0]) {
			t.Fatalf("cast %d = %s, %v; want %s, nil", i, responses[i], errs[i], responses[0])
		}
		if !replayed[i] {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d of the casts were answered as new; want 1, and the others as retries", fresh)
	}
	if got := env.Count(t, `SELECT count(*) FROM ballots`); got != 1 {
		t.Errorf("ballots = %d; want 1", got)
	}
	if got := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'ballot.cast'`); got != 1 {
		t.Errorf("ballot.cast entries = %d; want 1", got)
	}
}

func TestCastIdempotency(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 2, true)
	ctx := context.Background()

	first, replayed, err := env.Elections.Cast(ctx, castReq(t, env, el, "V00001", "k1", goodSelections))
	if err != nil || replayed {
		t.Fatalf("Cast = %v, replayed %v; want success", err, replayed)
	}
	var receipt elections.Receipt
	if err := json.Unmarshal(first, &receipt); err != nil || receipt.TrackingCode == "" || receipt.CastAt.IsZero() {
		t.Fatalf("receipt %s: %v", first, err)
	}

	env.Clock.Set(env.Clock.Now().Add(time.Minute)) // a replay must not re-stamp the receipt
	again, replayed, err := env.Elections.Cast(ctx, castReq(t, env, el, "V00001", "k1", goodSelections))
	if err != nil || !replayed || string(again) != string(first) {
		t.Errorf("replay = %s, replayed %v, %v; want %s, true, nil", again, replayed, err, first)
	}

	_, _, err = env.Elections.Cast(ctx, castReq(t, env, el, "V00001", "k1", ballot.Selections{"leader": {"b"}, "council": {"p"}}))
	if pv.ErrorCode(err) != pv.EMismatch {
		t.Errorf("same key, other body: err = %v; want %s", err, pv.EMismatch)
	}

	_, _, err = env.Elections.Cast(ctx, castReq(t, env, el, "V00001", "k2", goodSelections))
	var de *pv.Error
	if !errors.As(err, &de) || de.Code != pv.EConflict || string(de.Detail.(elections.AlreadyVoted).Receipt) != string(first) {
		t.Errorf("other key: err = %v; want conflict with the first receipt", err)
	}

	// The key is per voter: another voter may use the same one.
	if _, _, err := env.Elections.Cast(ctx, castReq(t, env, el, "V00002", "k1", goodSelections)); err != nil {
		t.Errorf("another voter, same key: %v", err)
	}
	if got := env.Count(t, `SELECT count(*) FROM ballots`); got != 2 {
		t.Errorf("ballots = %d; want 2", got)
	}

	// Once the election closes, a retry still gets its receipt, and the
	// rules still hold; nothing new is stored.
	if err := env.Elections.Close(ctx, el.ID, "test"); err != nil {
		t.Fatal(err)
	}
	again, replayed, err = env.Elections.Cast(ctx, castReq(t, env, el, "V00001", "k1", goodSelections))
	if err != nil || !replayed || string(again) != string(first) {
		t.Errorf("replay after the close = %s, replayed %v, %v; want %s, true, nil", again, replayed, err, first)
	}
	_, _, err = env.Elections.Cast(ctx, castReq(t, env, el, "V00001", "k2", goodSelections))
	if !errors.As(err, &de) || de.Code != pv.EConflict {
		t.Errorf("other key after the close: err = %v; want conflict with the first receipt", err)
	}
	if got := env.Count(t, `SELECT count(*) FROM ballots`); got != 2 {
		t.Errorf("ballots = %d; want 2", got)
	}
}

// A session that names another group than the roll's (a token forged with
// the server's key) stores nothing: the ballot's group is the roll's.
func TestCastInTheRollsGroupOnly(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 2, true)
	ctx := context.Background()

	req := castReq(t, env, el, "V00001", "k1", goodSelections)
	req.Group = el.Groups["V00002"]
	if req.Group == el.Groups["V00001"] {
		t.Fatal("the fixture's first two voters share a group")
	}
	if _, _, err := env.Elections.Cast(ctx, req); pv.ErrorCode(err) != pv.EUnauthorized || !strings.Contains(err.Error(), "another group") {
		t.Errorf("cast naming another group = %v; want unauthorized, another group", err)
	}
	if n := env.Count(t, `SELECT count(*) FROM ballots`) + env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'ballot.cast'`); n != 0 {
		t.Errorf("%d rows stored by a cast naming another group", n)
	}
	req.Group = el.Groups["V00001"]
	if _, _, err := env.Elections.Cast(ctx, req); err != nil {
		t.Errorf("the same cast in the voter's group = %v", err)
	}
}

func TestCastRejectsInvalidBallots(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 2, true)
	other := env.Setup(t, "e2", 1, true)
	good := env.Ballot(t, el, "V00001", goodSelections)
	be, err := env.Elections.Get(context.Background(), el.ID)
	if err != nil {
		t.Fatal(err)
	}
	sig := be.SignedSize() // where the signature starts
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x01
		return b
	}
	head := len("PVB2") + 1 + len(el.ID) + 32
	tests := []struct {
		name string
		raw  []byte
		code pv.Code
		want string
	}{
		{"no ballot (choices in plaintext)", nil, pv.EInvalid, "must encrypt"},
		{"truncated", good[:len(good)-1], pv.EInvalid, "bytes; a ballot for election"},
		{"another voter's ballot", env.Ballot(t, el, "V00002", goodSelections), pv.EForbidden, "not this voter's"},
		{"a ballot for another election", env.Ballot(t, other, "V00001", goodSelections), pv.EInvalid, `not a version 2 ballot for election "e1"`},
		{"a ciphertext altered", flip(head + 40), pv.EInvalid, `candidate "a"`},
		{"a proof altered", flip(head + 64 + 64 + 5), pv.EInvalid, `candidate "a"`},
		{"the signature altered", flip(sig + ballot.SignatureSize - 5), pv.EInvalid, "signature does not verify"},
		{"a decoding hint altered", flip(len(good) - 32), pv.EInvalid, "bad signature encoding or decoding hint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := elections.CastRequest{ElectionID: el.ID, VoterID: "V00001", Group: el.Groups["V00001"], IdempotencyKey: idemKey("k-" + tt.name), Encrypted: tt.raw}
			_, _, err := env.Elections.Cast(context.Background(), req)
			if pv.ErrorCode(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Cast = %v; want %s, %q", err, tt.code, tt.want)
			}
		})
	}
	if got := env.Count(t, `SELECT (SELECT count(*) FROM ballots) + (SELECT count(*) FROM audit_entries WHERE kind = 'ballot.cast')`); got != 0 {
		t.Errorf("rows written by invalid ballots = %d; want 0", got)
	}
	// Each voter's own ballot is still accepted afterwards.
	if _, _, err := env.Elections.Cast(context.Background(), castReq(t, env, el, "V00001", "k", goodSelections)); err != nil {
		t.Fatal(err)
	}
}

// TestCastVerifiesConcurrentBallotsTogether casts many ballots at once, a
// bad one among them: the batch that holds it fails, each ballot in it is
// checked alone, and only the bad one is refused.
func TestCastVerifiesConcurrentBallotsTogether(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 40, true)
	reqs := make([]elections.CastRequest, len(el.Voters))
	for i, v := range el.Voters {
		reqs[i] = castReq(t, env, el, v, "k", goodSelections)
	}
	be, err := env.Elections.Get(context.Background(), el.ID)
	if err != nil {
		t.Fatal(err)
	}
	reqs[17].Encrypted = append([]byte(nil), reqs[17].Encrypted...)
	reqs[17].Encrypted[be.SignedSize()+ballot.SignatureSize-3] ^= 0x01 // the signature's s
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = env.Elections.Cast(context.Background(), reqs[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == 17 {
			if pv.ErrorCode(err) != pv.EInvalid || !strings.Contains(err.Error(), "signature does not verify") {
				t.Errorf("the bad ballot: %v; want its signature named", err)
			}
		} else if err != nil {
			t.Errorf("ballot %d: %v", i, err)
		}
	}
	if got := env.Count(t, `SELECT count(*) FROM ballots`); got != len(reqs)-1 {
		t.Errorf("ballots = %d; want %d", got, len(reqs)-1)
	}
}

func TestCastOnlyWhileOpenAndInWindow(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	ctx := context.Background()

	draft := env.Setup(t, "draft", 1, false)
	if _, _, err := env.Elections.Cast(ctx, castReq(t, env, draft, "V00001", "k", goodSelections)); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("cast in draft = %v; want conflict", err)
	}

	d := fixture.Definition("windowed")
	opens := env.Clock.Now().Add(time.Hour)
	closes := opens.Add(time.Hour)
	d.OpensAt, d.ClosesAt = &opens, &closes
	if err := env.Elections.Create(ctx, d, "test"); err != nil {
		t.Fatal(err)
	}
	roll := "voter_id,group,region\nW1,members,north\n"
	if _, err := env.Elections.ImportRoll(ctx, "windowed", stringsReader(roll), "test"); err != nil {
		t.Fatal(err)
	}
	codes, public := fixture.Authority("windowed", []ballot.RollVoter{{ID: "W1", Group: "members"}})
	windowed := &fixture.Election{ID: "windowed", Codes: codes, Groups: map[string]string{"W1": "members"}}
	if _, err := env.Credentials.Import(ctx, "windowed", bytes.NewReader(public), "test"); err != nil {
		t.Fatal(err)
	}
	env.SetTrustees(t, "windowed")
	if err := env.Elections.Open(ctx, "windowed", "test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Elections.Cast(ctx, castReq(t, env, windowed, "W1", "k", goodSelections)); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("cast before the window = %v; want conflict", err)
	}
	env.Clock.Set(closes)
	if _, _, err := env.Elections.Cast(ctx, castReq(t, env, windowed, "W1", "k", goodSelections)); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("cast at closes_at = %v; want conflict", err)
	}
	env.Clock.Set(opens)
	if _, _, err := env.Elections.Cast(ctx, castReq(t, env, windowed, "W1", "k", goodSelections)); err != nil {
		t.Errorf("cast at opens_at = %v; want success", err)
	}

	open := env.Setup(t, "closing", 2, true)
	if err := env.Elections.Close(ctx, open.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Elections.Cast(ctx, castReq(t, env, open, "V00001", "k", goodSelections)); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("cast after close = %v; want conflict", err)
	}
	if got := env.Count(t, `SELECT count(*) FROM ballots WHERE election_id <> 'windowed'`); got != 0 {
		t.Errorf("ballots outside the window = %d; want 0", got)
	}
}

// Another process (here another Elections on the same database) closes the
// election while this one still holds it as open: the cast finds out under
// the election lock, is refused as closed, and stores nothing.
func TestCastSeesACloseByAnotherProcess(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 2, true)
	ctx := context.Background()
	if e, err := env.Elections.Get(ctx, el.ID); err != nil || e.Status != ballot.Open {
		t.Fatalf("Get = %v, %v", e, err)
	}
	other := elections.New(env.DB.Pool, env.Clock.Now, env.Secrets, env.Signer.VerifierKey())
	if err := other.Close(ctx, el.ID, "test"); err != nil {
		t.Fatal(err)
	}
	_, _, err := env.Elections.Cast(ctx, castReq(t, env, el, el.Voters[0], "k", goodSelections))
	if pv.ErrorCode(err) != pv.EConflict || !strings.Contains(err.Error(), "closed") {
		t.Errorf("cast after another process closed = %v; want conflict, closed", err)
	}
	if n := env.Count(t, `SELECT count(*) FROM ballots`) +
		env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'ballot.cast'`); n != 0 {
		t.Errorf("%d rows stored by a refused cast", n)
	}
}

// Casting races with Close: every acknowledged cast has its ballot stored,
// and the count Close logs in its own transaction equals the ballots stored,
// so no ballot committed after the close did.
func TestCloseWaitsForCastsInFlight(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 60, true)
	ctx := context.Background()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted int
	)
	start := make(chan struct{})
	for _, v := range el.Voters {
		wg.Add(1)
		req := castReq(t, env, el, v, "k", goodSelections)
		go func() {
			defer wg.Done()
			<-start
			_, _, err := env.Elections.Cast(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				accepted++
			} else if pv.ErrorCode(err) != pv.EConflict {
				t.Errorf("Cast = %v; want success or conflict", err)
			}
		}()
	}
	close(start)
	if err := env.Elections.Close(ctx, el.ID, "test"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := env.Count(t, `SELECT count(*) FROM ballots`); got != accepted {
		t.Errorf("ballots = %d; want %d acknowledged", got, accepted)
	}
	logged := env.Count(t, `SELECT (convert_from(body, 'UTF8')::jsonb -> 'data' ->> 'ballots')::int FROM audit_entries WHERE kind = 'election.closed'`)
	if logged != accepted {
		t.Errorf("close logged %d ballots; want %d", logged, accepted)
	}
}

func TestBallotsCannotBeLinkedToVoters(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 2, true)
	ctx := context.Background()

	// The table holds nothing but the election, the tracking code, the group,
	// the encrypted content, the public credential it is signed with and the
	// idempotency record: the key's hash and the receipt.
	rows, err := env.DB.Pool.Query(ctx, `SELECT column_name, data_type, coalesce(column_default, ''), is_identity
FROM information_schema.columns WHERE table_name = 'ballots' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var name, typ, def, identity string
		if err := rows.Scan(&name, &typ, &def, &identity); err != nil {
			t.Fatal(err)
		}
		if def != "" || identity == "YES" {
			t.Errorf("ballots.%s has a default or identity (%q): no sequence or timestamp may order ballots", name, def)
		}
		cols = append(cols, name+" "+typ)
	}
	want := []string{"election_id text", "tracking_code bytea", "group_id text", "content bytea", "credential bytea", "idempotency_key_hash bytea", "response bytea"}
	if fmt.Sprint(cols) != fmt.Sprint(want) {
		t.Errorf("ballots columns = %v; want %v", cols, want)
	}

	// Equal choices by two voters give different tracking codes.
	r1, _, err := env.Elections.Cast(ctx, castReq(t, env, el, "V00001", "k", goodSelections))
	if err != nil {
		t.Fatal(err)
	}
	r2, _, err := env.Elections.Cast(ctx, castReq(t, env, el, "V00002", "k", goodSelections))
	if err != nil {
		t.Fatal(err)
	}
	var a, b elections.Receipt
	json.Unmarshal(r1, &a)
	json.Unmarshal(r2, &b)
	if a.TrackingCode == b.TrackingCode {
		t.Errorf("equal ballots share tracking code %s", a.TrackingCode)
	}

	// Each tracking code is SHA-256 of the stored content.
	var n int
	err = env.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM ballots WHERE tracking_code <> sha256(content)`).Scan(&n)
	if err != nil || n != 0 {
		t.Errorf("ballots whose tracking code is not sha256(content): %d, %v", n, err)
	}
}

func TestTurnout(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 6, true)
	ctx := context.Background()
	start := env.Clock.Now()
	for i, v := range []string{"V00001", "V00002", "V00003"} {
		env.Clock.Set(start.Add(time.Duration(i) * 50 * time.Second)) // minutes 0, 0 and 1
		if _, _, err := env.Elections.Cast(ctx, castReq(t, env, el, v, "k", goodSelections)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Sequencer.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := env.Elections.Turnout(ctx, el.ID)
	if err != nil {
		t.Fatal(err)
	}
	// V1 members/north, V2 public/north, V3 members/south, V4 public/north,
	// V5 members/north, V6 public/south.
	want := &elections.Turnout{
		Eligible: 6, Voted: 3,
		Groups: []elections.GroupTurnout{
			{ID: "members", Name: "Members", Eligible: 3, Voted: 2},
			{ID: "public", Name: "Public", Eligible: 3, Voted: 1},
		},
		Regions: []elections.RegionTurnout{
			{Region: "north", Eligible: 4, Voted: 2},
			{Region: "south", Eligible: 2, Voted: 1},
		},
		// The timeline is drawn from the log's cast entries.
		Timeline: []elections.MinuteTurnout{{Minute: start, Ballots: 2}, {Minute: start.Add(time.Minute), Ballots: 1}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Turnout = %+v; want %+v", got, want)
	}
	// A later call reads only what was sequenced since.
	env.Clock.Set(start.Add(3 * time.Minute))
	if _, _, err := env.Elections.Cast(ctx, castReq(t, env, el, "V00004", "k", goodSelections)); err != nil {
		t.Fatal(err)
	}
	env.Sequencer.Drain(ctx)
	got, _ = env.Elections.Turnout(ctx, el.ID)
	if n := len(got.Timeline); n != 3 || got.Timeline[2].Ballots != 1 || !got.Timeline[2].Minute.Equal(start.Add(3*time.Minute)) {
		t.Errorf("Timeline after a fourth ballot = %+v", got.Timeline)
	}
}

// Casts that arrive while the writers are busy are stored in one
// transaction, and each gets its own answer: new ballots are stored with
// their entries, and a retry, a second ballot, a voter's second concurrent
// ballot, a session of another group and a checked copy are each answered
// as when cast alone, with nothing stored for them.
func TestCastsWrittenTogetherAnswerEachAlone(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 6, true)
	ctx := context.Background()

	first := castReq(t, env, el, "V00002", "first", goodSelections)
	firstReceipt, _, err := env.Elections.Cast(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	checked, revealed := env.Copy(t, el, "V00004", goodSelections)
	if _, err := env.Elections.Spoil(ctx, elections.SpoilRequest{ElectionID: el.ID, VoterID: "V00004", Revealed: revealed}); err != nil {
		t.Fatal(err)
	}
	otherGroup := castReq(t, env, el, "V00003", "k", goodSelections)
	otherGroup.Group = el.Groups["V00002"]
	if otherGroup.Group == el.Groups["V00003"] {
		t.Fatal("the fixture's voters 2 and 3 share a group")
	}
	cases := []struct {
		name string
		req  elections.CastRequest
		want func(resp []byte, replayed bool, err error) error
	}{
		{"a new ballot", castReq(t, env, el, "V00001", "k", goodSelections), stored},
		{"another new ballot", castReq(t, env, el, "V00006", "k", goodSelections), stored},
		{"a retry", first, func(resp []byte, replayed bool, err error) error {
			if err != nil || !replayed || !bytes.Equal(resp, firstReceipt) {
				return fmt.Errorf("= %s, %v, %v; want the first receipt, replayed", resp, replayed, err)
			}
			return nil
		}},
		{"a second ballot", castReq(t, env, el, "V00002", "second", ballot.Selections{"leader": {"b"}, "council": {"q"}}), func(_ []byte, _ bool, err error) error {
			var de *pv.Error
			if !errors.As(err, &de) || de.Code != pv.EConflict || !bytes.Equal(de.Detail.(elections.AlreadyVoted).Receipt, firstReceipt) {
				return fmt.Errorf("= %v; want already voted, with the first receipt", err)
			}
			return nil
		}},
		{"another group's session", otherGroup, func(_ []byte, _ bool, err error) error {
			if pv.ErrorCode(err) != pv.EUnauthorized || !strings.Contains(err.Error(), "another group") {
				return fmt.Errorf("= %v; want unauthorized, another group", err)
			}
			return nil
		}},
		{"a checked copy", elections.CastRequest{ElectionID: el.ID, VoterID: "V00004", Group: el.Groups["V00004"], IdempotencyKey: idemKey("checked"), Encrypted: checked},
			func(_ []byte, _ bool, err error) error {
				if !errors.Is(err, elections.ErrSpoiled) {
					return fmt.Errorf("= %v; want %v", err, elections.ErrSpoiled)
				}
				return nil
			}},
		{"a voter's ballot", castReq(t, env, el, "V00005", "k1", goodSelections), nil},
		{"the same voter's other ballot", castReq(t, env, el, "V00005", "k2", ballot.Selections{"leader": {"b"}, "council": {"q"}}), nil},
	}

	queued, release := elections.HoldWrites(env.Elections)
	type answer struct {
		resp     []byte
		replayed bool
		err      error
	}
	answers := make([]answer, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, replayed, err := env.Elections.Cast(ctx, c.req)
			answers[i] = answer{resp, replayed, err}
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); queued() < len(cases); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d casts reached the writer", queued(), len(cases))
		}
	}
	release()
	wg.Wait()

	for i, c := range cases {
		if c.want == nil {
			continue
		}
		if err := c.want(answers[i].resp, answers[i].replayed, answers[i].err); err != nil {
			t.Errorf("%s %v", c.name, err)
		}
	}
	// Of the voter's two ballots, one is stored and the other answered with
	// its receipt.
	a, b := answers[len(cases)-2], answers[len(cases)-1]
	if a.err != nil {
		a, b = b, a
	}
	var de *pv.Error
	if a.err != nil || !errors.As(b.err, &de) || de.Code != pv.EConflict || !bytes.Equal(de.Detail.(elections.AlreadyVoted).Receipt, a.resp) {
		t.Errorf("a voter's two ballots at once = %v and %v; want one stored and one already voted", a.err, b.err)
	}

	// V00001, V00002, V00005 and V00006: one ballot and one entry each, the
	// entry naming the ballot's tracking code.
	if n := env.Count(t, `SELECT count(*) FROM ballots`); n != 4 {
		t.Errorf("%d ballots stored; want 4", n)
	}
	if n := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'ballot.cast'`); n != 4 {
		t.Errorf("%d ballot.cast entries; want 4", n)
	}
	var codes []string
	for _, resp := range [][]byte{answers[0].resp, answers[1].resp, a.resp, firstReceipt} {
		var r elections.Receipt
		json.Unmarshal(resp, &r)
		codes = append(codes, r.TrackingCode)
	}
	if n := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'ballot.cast' AND ref = ANY($1)`, codes); n != 4 {
		t.Errorf("%d of the stored ballots' tracking codes have their entry; want 4", n)
	}
}

func stored(resp []byte, replayed bool, err error) error {
	var r elections.Receipt
	if err != nil || replayed || json.Unmarshal(resp, &r) != nil || r.TrackingCode == "" {
		return fmt.Errorf("= %s, %v, %v; want a new receipt", resp, replayed, err)
	}
	return nil
}

// A group whose statement fails is written again ballot by ballot: the
// ballot that fails gets its error and nothing is stored for it, and the
// others of its group are stored as if cast alone.
func TestCastWrittenAgainAloneWhenItsGroupFails(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 3, true)
	ctx := context.Background()
	reqs := []elections.CastRequest{
		castReq(t, env, el, "V00001", "k", goodSelections),
		castReq(t, env, el, "V00002", "k", goodSelections),
		castReq(t, env, el, "V00003", "k", goodSelections),
	}
	// A fault in one row: the schema's owner makes the database refuse
	// V00002's ballot, by its tracking hash.
	bad := sha256.Sum256(reqs[1].Encrypted)
	for _, stmt := range []string{
		`CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN
		   IF NEW.tracking_code = decode('` + hex.EncodeToString(bad[:]) + `', 'hex') THEN
		     RAISE EXCEPTION 'this ballot is refused by a test fault';
		   END IF;
		   RETURN NEW;
		 END $$`,
		`CREATE TRIGGER refuse_one BEFORE INSERT ON ballots FOR EACH ROW EXECUTE FUNCTION refuse_one()`,
	} {
		if _, err := env.DB.OwnerPool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}

	queued, release := elections.HoldWrites(env.Elections)
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = env.Elections.Cast(ctx, req)
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); queued() < len(reqs); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d casts reached the writer", queued(), len(reqs))
		}
	}
	release()
	wg.Wait()

	if errs[0] != nil || errs[2] != nil {
		t.Errorf("the group's good ballots = %v, %v; want both stored", errs[0], errs[2])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "refused by a test fault") {
		t.Errorf("the faulty ballot = %v; want the database's error", errs[1])
	}
	if n := env.Count(t, `SELECT count(*) FROM ballots`); n != 2 {
		t.Errorf("%d ballots stored; want 2", n)
	}
	if n := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'ballot.cast'`); n != 2 {
		t.Errorf("%d ballot.cast entries; want 2", n)
	}
}
