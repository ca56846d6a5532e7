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
