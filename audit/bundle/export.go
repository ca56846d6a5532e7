package bundle

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/ballot"
)

// Export writes election id's bundle to w from one consistent snapshot of
// the database; logKey is the log's verifier key. The definition, the status
// and the results are the ones the log records; entries still queued for the
// log are left out, with their ballots, so sequence the log first to include
// them. Every record exported is covered by a signed checkpoint, since the
// sequencer stores records and their checkpoint in one transaction.
func Export(ctx context.Context, pool *pgxpool.Pool, id, logKey string, w io.Writer) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("couldn't start the export: %w", err)
	}
	defer tx.Rollback(ctx)
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	lines := 0
	put := func(l line) error {
		lines++
		return enc.Encode(l)
	}
	if err := put(line{Type: "header", Format: Format, Election: id, LogKey: logKey}); err != nil {
		return err
	}

	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM elections WHERE id = $1)`, id).Scan(&exists); err != nil {
		return fmt.Errorf("couldn't read the election: %w", err)
	}
	if !exists {
		return pv.Errorf(pv.ENotFound, "no election %q", id)
	}
	steps, err := readSteps(ctx, tx, id)
	if err != nil {
		return err
	}
	if err := put(line{Type: "election", Status: steps.status, Definition: steps.definition}); err != nil {
		return err
	}

	t := line{Type: "trustees"}
	var key, commitments []byte
	err = tx.QueryRow(ctx, `SELECT threshold, public_key, commitments FROM election_keys WHERE election_id = $1`, id).Scan(&t.Threshold, &key, &commitments)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("couldn't read the election key: %w", err)
	}
	if err == nil {
		t.PublicKey = hex.EncodeToString(key)
		for o := 0; o+32 <= len(commitments); o += 32 {
			t.Commitments = append(t.Commitments, hex.EncodeToString(commitments[o:o+32]))
		}
		rows, err := tx.Query(ctx, `SELECT public_key FROM trustees WHERE election_id = $1 ORDER BY trustee`, id)
		if err != nil {
			return err
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return err
		}
		for _, k := range keys {
			t.TrusteeKeys = append(t.TrusteeKeys, hex.EncodeToString(k))
		}
		if err := put(t); err != nil {
			return err
		}
	}

	err = each(ctx, tx, `SELECT pseudonym, group_id FROM voters WHERE election_id = $1 ORDER BY pseudonym`, []any{id}, func(r pgx.Rows) error {
		var (
			p     []byte
			group string
		)
		if err := r.Scan(&p, &group); err != nil {
			return err
		}
		return put(line{Type: "voter", Pseudonym: hex.EncodeToString(p), Group: group})
	})
	if err != nil {
		return fmt.Errorf("couldn't export the roll: %w", err)
	}

	logged := map[string]bool{}
	err = each(ctx, tx, `SELECT position, record, kind = $2 AND election_id = $1, coalesce(ref, '') FROM audit_log ORDER BY position`, []any{id, audit.KindBallotCast}, func(r pgx.Rows) error {
		var (
			pos  int64
			rec  []byte
			cast bool
			ref  string
		)
		if err := r.Scan(&pos, &rec, &cast, &ref); err != nil {
			return err
		}
		if cast {
			logged[ref] = true
		}
		return put(line{Type: "record", Position: &pos, Record: rec})
	})
	if err != nil {
		return fmt.Errorf("couldn't export the log: %w", err)
	}
	err = each(ctx, tx, `SELECT signed FROM audit_checkpoints ORDER BY size`, nil, func(r pgx.Rows) error {
		var signed []byte
		if err := r.Scan(&signed); err != nil {
			return err
		}
		return put(line{Type: "checkpoint", Signed: string(signed)})
	})
	if err != nil {
		return fmt.Errorf("couldn't export checkpoints: %w", err)
	}

	err = each(ctx, tx, `SELECT group_id, content FROM ballots WHERE election_id = $1 ORDER BY tracking_code`, []any{id}, func(r pgx.Rows) error {
		var (
			group   string
			content []byte
		)
		if err := r.Scan(&group, &content); err != nil {
			return err
		}
		if !logged[ballot.TrackingCode(sha256.Sum256(content))] {
			return nil // cast after the last sequenced batch
		}
		return put(line{Type: "ballot", Group: group, Content: content})
	})
	if err != nil {
		return fmt.Errorf("couldn't export ballots: %w", err)
	}

	var sums []byte
	err = tx.QueryRow(ctx, `SELECT sums FROM tallies WHERE election_id = $1`, id).Scan(&sums)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("couldn't export the sums: %w", err)
	}
	if err == nil {
		if err := put(line{Type: "sums", Sums: sums}); err != nil {
			return err
		}
	}
	err = each(ctx, tx, `SELECT trustee, shares, proof FROM partial_decryptions WHERE election_id = $1 ORDER BY trustee`, []any{id}, func(r pgx.Rows) error {
		l := line{Type: "partial"}
		if err := r.Scan(&l.Trustee, &l.Shares, &l.Proof); err != nil {
			return err
		}
		return put(l)
	})
	if err != nil {
		return fmt.Errorf("couldn't export partial decryptions: %w", err)
	}
	if steps.results != nil {
		if err := put(line{Type: "results", Results: steps.results}); err != nil {
			return err
		}
	}
	if err := enc.Encode(line{Type: "end", Lines: lines}); err != nil {
		return err
	}
	return bw.Flush()
}

// loggedSteps is what the sequenced log says of an election's lifecycle.
type loggedSteps struct {
	definition []byte
	status     string
	results    []byte
}

func readSteps(ctx context.Context, tx pgx.Tx, id string) (*loggedSteps, error) {
	steps, err := audit.Steps(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if len(steps) == 0 || steps[0].Entry.Kind != audit.KindElectionCreate {
		return nil, pv.Errorf(pv.EConflict, "election %q is not in the log yet: sequence the log first", id)
	}
	out := &loggedSteps{status: string(ballot.Draft)}
	for _, s := range steps {
		data, err := s.Entry.Decode()
		if err != nil {
			return nil, fmt.Errorf("couldn't read record %d: %w", s.Position, err)
		}
		switch d := data.(type) {
		case *audit.Created:
			out.definition = d.Definition
		case *audit.Opened:
			out.status = d.To
		case *audit.Closed:
			out.status = d.To
		case *audit.Tallied:
			out.status, out.results = d.To, d.Results
		case *audit.Published:
			out.status = d.To
		}
	}
	return out, nil
}

// each runs a query and calls f for every row.
func each(ctx context.Context, tx pgx.Tx, sql string, args []any, f func(pgx.Rows) error) error {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
