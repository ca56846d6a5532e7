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
	"primaryvote/ballot"
)

// Export writes election id's bundle to w from one consistent snapshot of
// the database; logKey is the log's verifier key. Ballots whose cast entry is
// not in the log yet are left out (drain the sequencer first to include them).
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

	var (
		status string
		def    []byte
	)
	err = tx.QueryRow(ctx, `SELECT status, definition FROM elections WHERE id = $1`, id).Scan(&status, &def)
	if errors.Is(err, pgx.ErrNoRows) {
		return pv.Errorf(pv.ENotFound, "no election %q", id)
	}
	if err != nil {
		return fmt.Errorf("couldn't read the election: %w", err)
	}
	if err := put(line{Type: "election", Status: status, Definition: def}); err != nil {
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
	err = each(ctx, tx, `SELECT position, record, kind = 'ballot.cast' AND election_id = $1, coalesce(ref, '') FROM audit_log ORDER BY position`, []any{id}, func(r pgx.Rows) error {
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
	var results []byte
	err = tx.QueryRow(ctx, `SELECT body FROM results WHERE election_id = $1`, id).Scan(&results)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("couldn't export results: %w", err)
	}
	if err == nil {
		if err := put(line{Type: "results", Results: results}); err != nil {
			return err
		}
	}
	if err := enc.Encode(line{Type: "end", Lines: lines}); err != nil {
		return err
	}
	return bw.Flush()
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
