package elections

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/bundle"
	"primaryvote/ballot"
)

// Export writes election id's audit bundle to w from one consistent snapshot
// of the database. The definition, the status and the results are the ones
// the log records; entries still queued for the log are left out, with their
// ballots, so sequence the log first to include them.
func (s *Store) Export(ctx context.Context, id string, w io.Writer) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("couldn't start the export: %w", err)
	}
	defer tx.Rollback(ctx)
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM elections WHERE id = $1)`, id).Scan(&exists); err != nil {
		return fmt.Errorf("couldn't read the election: %w", err)
	}
	if !exists {
		return errNoElection(id)
	}
	logged, err := audit.ReadLogged(ctx, tx, id)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	out := bundle.NewWriter(bw)
	if err := out.Header(id, s.logKey); err != nil {
		return err
	}
	if err := out.Election(logged.Status, logged.Definition); err != nil {
		return err
	}
	// The trustees as stored, unchecked: the verifier compares them with
	// the log.
	st, err := s.storedTrustees(ctx, tx, id)
	if err != nil && pv.ErrorCode(err) != pv.ENotFound {
		return err
	}
	if err == nil {
		hexes := func(b []byte, size int) []string {
			var out []string
			for o := 0; o+size <= len(b); o += size {
				out = append(out, hex.EncodeToString(b[o:o+size]))
			}
			return out
		}
		if err := out.Trustees(st.threshold, hex.EncodeToString(st.key), hexes(st.commitments, 32), hexes(bytes.Join(st.public, nil), 32)); err != nil {
			return err
		}
	}
	err = each(ctx, tx, `
SELECT v.pseudonym, c.credential, v.group_id
FROM voters v LEFT JOIN voter_credentials c USING (election_id, voter_id)
WHERE v.election_id = $1 ORDER BY v.pseudonym`, []any{id}, func(r pgx.Rows) error {
		var (
			p, c  []byte
			group string
		)
		if err := r.Scan(&p, &c, &group); err != nil {
			return err
		}
		return out.Voter(p, c, group)
	})
	if err != nil {
		return fmt.Errorf("couldn't export the roll: %w", err)
	}
	cast, err := audit.WriteLog(ctx, tx, out, id)
	if err != nil {
		return err
	}
	err = each(ctx, tx, `SELECT group_id, content FROM ballots WHERE election_id = $1 ORDER BY credential`, []any{id}, func(r pgx.Rows) error {
		var (
			group   string
			content []byte
		)
		if err := r.Scan(&group, &content); err != nil {
			return err
		}
		if !cast[ballot.TrackingCode(sha256.Sum256(content))] {
			return nil // cast after the last sequenced batch
		}
		return out.Ballot(group, content)
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
		if err := out.Sums(sums); err != nil {
			return err
		}
	}
	err = each(ctx, tx, `SELECT trustee, shares, proof FROM partial_decryptions WHERE election_id = $1 ORDER BY trustee`, []any{id}, func(r pgx.Rows) error {
		var (
			trustee       int
			shares, proof []byte
		)
		if err := r.Scan(&trustee, &shares, &proof); err != nil {
			return err
		}
		return out.Partial(trustee, shares, proof)
	})
	if err != nil {
		return fmt.Errorf("couldn't export partial decryptions: %w", err)
	}
	if logged.Results != nil {
		if err := out.Results(logged.Results); err != nil {
			return err
		}
	}
	if err := out.End(); err != nil {
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
