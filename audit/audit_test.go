package audit_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/internal/dbtest"
)

func TestAppendAndRead(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.FixedZone("KST", 9*3600))
	entries := []audit.Entry{
		{Kind: entry.KindOfficialSignIn, Actor: "official", At: at, Data: entry.OfficialSignIn{Username: "chair"}},
		{ElectionID: "e1", Kind: entry.KindRollImport, Actor: "cli:root", At: at, Data: entry.RollImported{Voters: 3, Groups: map[string]int{"members": 3}, SHA256: "00"}},
	}
	for _, e := range entries {
		if err := audit.Append(ctx, db.Pool, e); err != nil {
			t.Fatalf("Append(%s) = %v", e.Kind, err)
		}
	}
	var (
		kind string
		body []byte
	)
	err := db.Pool.QueryRow(ctx, `SELECT kind, body FROM audit_entries WHERE election_id = 'e1'`).Scan(&kind, &body)
	if err != nil || kind != "roll.import" {
		t.Fatalf("queued entry of e1 = %q, %v", kind, err)
	}
	want, _ := audit.Encode(entries[1])
	if string(body) != string(want) {
		t.Errorf("stored body = %s; want the bytes encoded at append, %s", body, want)
	}
	var rec struct {
		Kind, Actor string
		At          time.Time
	}
	json.Unmarshal(body, &rec)
	if rec.At.Location() != time.UTC || !rec.At.Equal(at) {
		t.Errorf("at = %v; want %v in UTC", rec.At, at)
	}
	var all int
	db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_entries`).Scan(&all)
	if all != 2 {
		t.Errorf("%d entries queued; want 2", all)
	}
}

func TestLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	if err := audit.Append(ctx, db.Pool, audit.Entry{Kind: entry.KindOfficialSignInFailed, Actor: "test", At: time.Now(), Data: entry.OfficialSignIn{}}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_entries SET kind = 'official.signin'`,
		`DELETE FROM audit_entries`, // not yet in the log
		`TRUNCATE audit_entries`,
	} {
		_, err := db.Pool.Exec(ctx, stmt)
		if err == nil || !(strings.Contains(err.Error(), "append-only") || strings.Contains(err.Error(), "permission denied")) {
			t.Errorf("%s = %v; want refused", stmt, err)
		}
	}
	var n int
	db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_entries WHERE kind = 'official.signin_failed'`).Scan(&n)
	if n != 1 {
		t.Errorf("entries after tampering = %d; want 1", n)
	}
}

// Writers cannot drift from the schema: an entry's data must be of its
// kind's type, and its election set exactly when the kind is about one.
func TestEncodeRefusesEntriesOffTheSchema(t *testing.T) {
	t.Parallel()
	at := time.Unix(0, 0)
	for _, e := range []audit.Entry{
		{ElectionID: "e1", Kind: entry.KindBallotCast, Actor: "voter", At: at, Data: map[string]string{"voter": "00"}},
		{ElectionID: "e1", Kind: entry.KindBallotCast, Actor: "voter", At: at, Data: &entry.Cast{}},
		{ElectionID: "e1", Kind: entry.KindBallotCast, Actor: "voter", At: at, Data: entry.Voter{}},
		{Kind: entry.KindBallotCast, Actor: "voter", At: at, Data: entry.Cast{}},
		{ElectionID: "e1", Kind: entry.KindOfficialAdd, Actor: "cli:root", At: at, Data: entry.OfficialSignIn{}},
		{ElectionID: "e1", Kind: "ballot.spoiled", Actor: "voter", At: at, Data: entry.Cast{}},
		{ElectionID: "e1", Kind: entry.KindElectionOpen, Actor: "cli:root", At: at},
	} {
		if b, err := audit.Encode(e); err == nil {
			t.Errorf("Encode(%s, %T) = %s; want refused", e.Kind, e.Data, b)
		}
	}
}

// Every entry a writer can make parses back, strictly, into the same data.
func TestParseEntryRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	e := audit.Entry{ElectionID: "e1", Kind: entry.KindTallySums, Actor: "cli:root", At: at,
		Data: entry.Summed{Ballots: 3, PerGroup: []int{1, 2}, SumsSHA256: "ab"}}
	body, err := audit.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	p, err := entry.Parse(body)
	if err != nil {
		t.Fatalf("ParseEntry(%s) = %v", body, err)
	}
	data, err := p.Decode()
	if err != nil || p.Kind != e.Kind || p.Election != "e1" || !p.At.Equal(at) {
		t.Fatalf("ParseEntry(%s) = %+v, %v", body, p, err)
	}
	if got := *data.(*entry.Summed); got.Ballots != 3 || len(got.PerGroup) != 2 || got.SumsSHA256 != "ab" {
		t.Errorf("Decode = %+v", got)
	}
	for _, bad := range []string{
		strings.Replace(string(body), `"kind"`, `"Kind"`, 1),
		strings.Replace(string(body), `"ballots":3`, `"ballots":3,"ballots":4`, 1),
		strings.Replace(string(body), `"ballots":3,`, ``, 1),
		strings.Replace(string(body), `"ballots":3`, `"ballots":3,"extra":1`, 1),
		strings.Replace(string(body), `"election":"e1",`, ``, 1),
		strings.Replace(string(body), `tally.sums`, `tally.other`, 1),
		string(body) + ` {}`,
	} {
		p, err := entry.Parse([]byte(bad))
		if err == nil {
			_, err = p.Decode()
		}
		if err == nil {
			t.Errorf("ParseEntry+Decode(%s) passed; want refused", bad)
		}
	}
}

// FuzzParseEntry: no input panics the entry parser, and whatever it
// accepts decodes into its kind's data or is refused with an error.
func FuzzParseEntry(f *testing.F) {
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for _, e := range []audit.Entry{
		{ElectionID: "e1", Kind: entry.KindBallotCast, Actor: "voter", At: at, Data: entry.Cast{Voter: "ab", Group: "members", TrackingCode: "X"}},
		{ElectionID: "e1", Kind: entry.KindElectionTallied, Actor: "cli:root", At: at, Data: entry.Tallied{From: "closed", To: "tallied", Trustees: []int{1, 2}, Refused: []entry.Refusal{}, Results: []byte(`{}`)}},
		{Kind: entry.KindOfficialSignInFailed, Actor: "official", At: at, Data: entry.OfficialSignIn{}},
	} {
		b, err := audit.Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := entry.Parse(b)
		if err != nil {
			return
		}
		if _, err := p.Decode(); err == nil && p.Kind == "" {
			t.Fatalf("%q: decoded an entry without a kind", b)
		}
	})
}
