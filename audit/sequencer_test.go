package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/audit/record"
	"primaryvote/internal/dbtest"
)

func newSequencer(t *testing.T, db *dbtest.DB) (*audit.Sequencer, *record.Signer) {
	t.Helper()
	signer, err := record.GenerateSigner("primaryvote.test/log")
	if err != nil {
		t.Fatal(err)
	}
	return audit.NewSequencer(db.Pool, signer, slog.New(slog.DiscardHandler)), signer
}

func appendN(t *testing.T, db *dbtest.DB, from, n int) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), db.Pool, func(tx pgx.Tx) error {
		for i := from; i < from+n; i++ {
			if err := audit.Append(context.Background(), tx, audit.Entry{ElectionID: "e1", Kind: entry.KindVoterSignIns, Actor: "test", At: time.Unix(0, 0), Data: entry.SignIns{SignedIn: i}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkLog verifies the whole log as a reviewer would: positions, the hash
// chain, and the latest checkpoint's tree and chain hashes.
func checkLog(t *testing.T, db *dbtest.DB, signer *record.Signer, want int) record.Checkpoint {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Pool.Query(ctx, `SELECT position, record FROM audit_log ORDER BY position`)
	if err != nil {
		t.Fatal(err)
	}
	var chain tlog.Hash
	n := 0
	for rows.Next() {
		var (
			pos int64
			rec []byte
		)
		rows.Scan(&pos, &rec)
		idx, prev, _, err := record.Parse(rec)
		if err != nil || idx != pos || pos != int64(n) || prev != chain {
			t.Fatalf("record %d: index %d, position %d, chain ok %v, %v", n, idx, pos, prev == chain, err)
		}
		chain = record.ChainHash(rec)
		n++
	}
	if n != want {
		t.Fatalf("log has %d records; want %d", n, want)
	}
	signed, err := audit.LatestCheckpoint(ctx, db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	c, err := record.OpenCheckpoint(signed, signer.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	root, err := tlog.TreeHash(int64(n), audit.HashReader(ctx, db.Pool))
	if err != nil || c.Size != int64(n) || c.Root != root || c.Chain != chain {
		t.Fatalf("checkpoint %+v does not match the log (size %d): %v", c, n, err)
	}
	return c
}

func TestSequencerBuildsAVerifiableLog(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	seq, signer := newSequencer(t, db)
	ctx := context.Background()
	appendN(t, db, 0, 2500)
	if n, err := seq.Step(ctx); err != nil || n != 2000 {
		t.Fatalf("Step = %d, %v; want one batch of 2000", n, err)
	}
	first, _ := audit.LatestCheckpoint(ctx, db.Pool)
	if n, err := seq.Drain(ctx); err != nil || n != 500 {
		t.Fatalf("Drain = %d, %v; want 500", n, err)
	}
	c := checkLog(t, db, signer, 2500)
	var queued int
	db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_entries`).Scan(&queued)
	if queued != 0 {
		t.Errorf("%d entries still queued", queued)
	}

	// Inclusion of any record, and consistency with the earlier checkpoint.
	hr := audit.HashReader(ctx, db.Pool)
	for _, pos := range []int64{0, 1, 1999, 2000, 2499} {
		var rec []byte
		db.Pool.QueryRow(ctx, `SELECT record FROM audit_log WHERE position = $1`, pos).Scan(&rec)
		p, err := tlog.ProveRecord(c.Size, pos, hr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, c.Size, c.Root, pos, tlog.RecordHash(rec)); err != nil {
			t.Errorf("inclusion of %d: %v", pos, err)
		}
	}
	old, err := record.OpenCheckpoint(first, signer.VerifierKey())
	if err != nil || old.Size != 2000 {
		t.Fatalf("first checkpoint = %+v, %v", old, err)
	}
	p, err := tlog.ProveTree(c.Size, old.Size, hr)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(p, c.Size, c.Root, old.Size, old.Root); err != nil {
		t.Errorf("consistency 2000 → 2500: %v", err)
	}
	if n, err := seq.Step(ctx); err != nil || n != 0 {
		t.Errorf("Step on an empty queue = %d, %v", n, err)
	}
}

// An entry whose transaction commits after a newer one was sequenced is
// sequenced in a later batch, not skipped.
func TestSequencerPicksUpLateCommits(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	seq, signer := newSequencer(t, db)
	ctx := context.Background()
	slow, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Append(ctx, slow, audit.Entry{Kind: entry.KindOfficialSignIn, Actor: "test", At: time.Unix(0, 0), Data: entry.OfficialSignIn{Username: "slow"}}); err != nil {
		t.Fatal(err)
	}
	appendN(t, db, 0, 3)
	if n, err := seq.Drain(ctx); err != nil || n != 3 {
		t.Fatalf("Drain = %d, %v; want 3", n, err)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := seq.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("Drain after the slow commit = %d, %v; want 1", n, err)
	}
	checkLog(t, db, signer, 4)
}

func TestConcurrentSequencersAndAppenders(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	seqA, signer := newSequencer(t, db)
	seqB := audit.NewSequencer(db.Pool, signer, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range []*audit.Sequencer{seqA, seqB} {
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx, 5*time.Millisecond) }()
	}
	var appenders sync.WaitGroup
	for w := range 8 {
		appenders.Add(1)
		go func() {
			defer appenders.Done()
			for i := range 50 {
				appendN(t, db, w*1000+i*3, 3)
			}
		}()
	}
	appenders.Wait()
	cancel()
	wg.Wait()
	if _, err := seqA.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkLog(t, db, signer, 8*50*3)
	var distinct int
	db.Pool.QueryRow(context.Background(), `SELECT count(DISTINCT entry_id) FROM audit_log`).Scan(&distinct)
	if distinct != 1200 {
		t.Errorf("%d distinct entries in the log; want 1200", distinct)
	}
}

func TestSequencedLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	seq, _ := newSequencer(t, db)
	ctx := context.Background()
	appendN(t, db, 0, 2)
	if _, err := db.Pool.Exec(ctx, `DELETE FROM audit_entries`); err == nil {
		t.Error("deleting queued entries that are not in the log succeeded")
	}
	if _, err := seq.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_log SET kind = 'x'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`,
		`DELETE FROM audit_hashes`, `UPDATE audit_checkpoints SET signed = ''`, `DELETE FROM audit_checkpoints`,
	} {
		if _, err := db.Pool.Exec(ctx, stmt); err == nil {
			t.Errorf("%s succeeded", stmt)
		}
	}
	var n int
	db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&n)
	if n != 2 {
		t.Errorf("log has %d records after tampering attempts; want 2", n)
	}

	// Layers: the application's role lacks the privileges and cannot grant
	// them to itself or turn the triggers off; the schema's owner can grant
	// them, and then the triggers still refuse.
	// (PostgreSQL answers a GRANT by a role without the privilege with a
	// warning, "no privileges were granted", and grants nothing.)
	db.Pool.Exec(ctx, `GRANT UPDATE, DELETE ON audit_log TO CURRENT_USER`)
	for _, stmt := range []string{
		`UPDATE audit_log SET kind = 'x'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`,
		`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`,
		`DROP TRIGGER audit_log_append_only ON audit_log`,
		`CREATE DATABASE stolen`,
	} {
		_, err := db.Pool.Exec(ctx, stmt)
		if err == nil || !(strings.Contains(err.Error(), "permission denied") || strings.Contains(err.Error(), "must be owner")) {
			t.Errorf("%s as the application = %v; want refused", stmt, err)
		}
	}
	if _, err := db.OwnerPool.Exec(ctx, `GRANT UPDATE, DELETE ON audit_log TO CURRENT_USER`); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`UPDATE audit_log SET kind = 'x'`, `DELETE FROM audit_log`} {
		_, err := db.OwnerPool.Exec(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s as the owner, after GRANT = %v; want refused by the trigger", stmt, err)
		}
	}

	// The queue's own check, which the owner meets too: a batch removed
	// from the queue must be in the log, whatever the log's size, and a
	// DELETE that removes one entry not yet in it fails whole.
	appendN(t, db, 2, 3)
	if _, err := seq.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	appendN(t, db, 5, 2)
	_, err := db.OwnerPool.Exec(ctx, `DELETE FROM audit_entries`)
	if err == nil || !strings.Contains(err.Error(), "is not in the log yet") {
		t.Errorf("DELETE FROM audit_entries as the owner = %v; want refused by the queue's trigger", err)
	}
	var queued int
	db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_entries`).Scan(&queued)
	if queued != 2 {
		t.Errorf("%d entries queued after the refused DELETE; want 2", queued)
	}
}

// BenchmarkSequencer measures sustained sequencing: entries per second from
// the queue into the log, checkpoint included, in batches of 2,000.
func BenchmarkSequencer(b *testing.B) {
	db := dbtest.New(b)
	signer, _ := record.GenerateSigner("primaryvote.test/log")
	seq := audit.NewSequencer(db.Pool, signer, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	const perOp = 2000
	for b.Loop() {
		b.StopTimer()
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			for i := range perOp {
				if err := audit.Append(ctx, tx, audit.Entry{ElectionID: "e1", Kind: entry.KindBallotCast, Actor: "voter", At: time.Unix(0, 0),
					Data: entry.Cast{Group: "members", TrackingCode: fmt.Sprintf("%052d", i)}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if n, err := seq.Drain(ctx); err != nil || n != perOp {
			b.Fatalf("Drain = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(perOp*b.N)/b.Elapsed().Seconds(), "entries/s")
}
