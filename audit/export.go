package audit

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	pv "primaryvote"
	"primaryvote/audit/bundle"
	"primaryvote/audit/entry"
)

// Logged is what the sequenced log says of an election's lifecycle.
type Logged struct {
	// Definition is the definition exactly as election.create logged it.
	Definition []byte
	// Status is the status the last lifecycle entry led to.
	Status string
	// Results are the results exactly as election.tallied logged them, or
	// nil before the tally.
	Results []byte
}

// ReadLogged reads an election's lifecycle from the sequenced log, as a
// bundle states it.
func ReadLogged(ctx context.Context, q Query, electionID string) (*Logged, error) {
	steps, err := Steps(ctx, q, electionID)
	if err != nil {
		return nil, err
	}
	if len(steps) == 0 || steps[0].Entry.Kind != entry.KindElectionCreate {
		return nil, pv.Errorf(pv.EConflict, "election %q is not in the log yet: sequence the log first", electionID)
	}
	out := &Logged{Status: "draft"}
	for _, s := range steps {
		data, err := s.Entry.Decode()
		if err != nil {
			return nil, fmt.Errorf("couldn't read record %d: %w", s.Position, err)
		}
		switch d := data.(type) {
		case *entry.Created:
			out.Definition = d.Definition
		case *entry.Opened:
			out.Status = d.To
		case *entry.Closed:
			out.Status = d.To
		case *entry.Tallied:
			out.Status, out.Results = d.To, d.Results
		case *entry.Published:
			out.Status = d.To
		}
	}
	return out, nil
}

// WriteLog writes the log's records and checkpoints, as seen by tx, to a
// bundle, each checkpoint with its witnesses' cosignatures, and returns the
// tracking codes of electionID's logged ballots. It writes up to the newest
// checkpoint; or, when the election has a witness policy, up to the newest
// checkpoint that counts under it, if that one covers every record of the
// election. Every record is covered by a checkpoint in the same snapshot,
// since the sequencer stores records and their checkpoint in one
// transaction.
func WriteLog(ctx context.Context, tx pgx.Tx, w *bundle.Writer, electionID string) (map[string]bool, error) {
	end, err := bundleEnd(ctx, tx, electionID)
	if err != nil {
		return nil, err
	}
	logged := map[string]bool{}
	rows, err := tx.Query(ctx, `SELECT position, record, kind = $2 AND election_id = $1, coalesce(ref, '') FROM audit_log WHERE position < $3 ORDER BY position`, electionID, entry.KindBallotCast, end)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the log: %w", err)
	}
	for rows.Next() {
		var (
			pos  int64
			rec  []byte
			cast bool
			ref  string
		)
		if err = rows.Scan(&pos, &rec, &cast, &ref); err != nil {
			break
		}
		if cast {
			logged[ref] = true
		}
		if err = w.Record(pos, rec); err != nil {
			break
		}
	}
	rows.Close()
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't export the log: %w", err)
	}
	checkpoints, err := tx.Query(ctx, `
SELECT c.signed || convert_to(coalesce((SELECT string_agg(signature, '' ORDER BY witness) FROM audit_cosignatures s WHERE s.size = c.size), ''), 'UTF8')
FROM audit_checkpoints c WHERE c.size <= $1 ORDER BY c.size`, end)
	if err != nil {
		return nil, fmt.Errorf("couldn't read checkpoints: %w", err)
	}
	signed, err := pgx.CollectRows(checkpoints, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("couldn't read checkpoints: %w", err)
	}
	for _, s := range signed {
		if err := w.Checkpoint(s); err != nil {
			return nil, err
		}
	}
	return logged, nil
}

// bundleEnd is the size of the checkpoint a bundle of the election ends
// with (WriteLog).
func bundleEnd(ctx context.Context, tx pgx.Tx, electionID string) (int64, error) {
	_, counting, err := witnessedEnd(ctx, tx, electionID)
	if err != nil || counting > 0 {
		return counting, err
	}
	newest, _, err := newestCheckpoint(ctx, tx)
	return newest, err
}
