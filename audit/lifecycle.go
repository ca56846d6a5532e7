package audit

import (
	"context"
	"fmt"
	"primaryvote/audit/entry"
	"primaryvote/audit/record"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// The log is the record of an election: its definition, its steps and its
// results are read back from the entries that logged them, not from copies
// elsewhere in the database that an insider could rewrite unnoticed.

// Step is a lifecycle entry read back from the log.
type Step struct {
	// Position is the entry's place in the log, or -1 while it is queued.
	Position int64
	Entry    *entry.Parsed
	// rec is the entry's record, once sequenced.
	rec []byte
}

// selectStep finds the first entry of one lifecycle kind about an election,
// in the log and then in the queue. The literal LIKE lets the planner use
// the partial index on lifecycle entries (migration 00006) for any kind.
const selectStep = `
(SELECT position, record FROM audit_log
 WHERE election_id = $1 AND kind = $2 AND kind LIKE 'election.%' ORDER BY position LIMIT 1)
UNION ALL
(SELECT NULL, body FROM audit_entries WHERE election_id = $1 AND kind = $2 ORDER BY id LIMIT 1)
LIMIT 1`

// FirstStep returns the first entry of kind (an election.* kind) about
// electionID, sequenced or still queued, or ErrNotLogged.
func FirstStep(ctx context.Context, q Query, electionID string, kind entry.Kind) (*Step, error) {
	if !strings.HasPrefix(string(kind), "election.") {
		return nil, fmt.Errorf("audit: %s is not a lifecycle kind", kind)
	}
	var (
		position *int64
		stored   []byte // the record, or the queued entry's body
	)
	found, err := scanOne(ctx, q, selectStep, []any{electionID, kind}, &position, &stored)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the log: %w", err)
	}
	if !found {
		return nil, ErrNotLogged
	}
	if position == nil {
		return parseStep(-1, nil, stored)
	}
	return parseStep(*position, stored, nil)
}

// Steps returns the sequenced lifecycle entries (election.*) about
// electionID, in log order.
func Steps(ctx context.Context, q Query, electionID string) ([]Step, error) {
	rows, err := q.Query(ctx, `SELECT position, record FROM audit_log
WHERE election_id = $1 AND kind LIKE 'election.%' ORDER BY position`, electionID)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the log: %w", err)
	}
	defer rows.Close()
	var out []Step
	for rows.Next() {
		var (
			position int64
			rec      []byte
		)
		if err := rows.Scan(&position, &rec); err != nil {
			return nil, err
		}
		s, err := parseStep(position, rec, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

// parseStep parses a sequenced step from its record, or a queued one
// (position −1) from its body.
func parseStep(position int64, rec, body []byte) (*Step, error) {
	if rec != nil {
		index, _, b, err := record.Parse(rec)
		if err != nil || index != position {
			return nil, fmt.Errorf("audit: record %d is malformed", position)
		}
		body = b
	}
	p, err := entry.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("audit: logged entry %d: %w", position, err)
	}
	return &Step{Position: position, Entry: p, rec: rec}, nil
}

// Prove checks that the step's record is the one the signed log holds: that
// it is included in the newest checkpoint, whose signature verifies under
// verifierKey. Whoever rewrites a record in the database without the
// signing key cannot make this pass. A step still queued returns ErrQueued.
func (s *Step) Prove(ctx context.Context, q Query, verifierKey string) error {
	if s.Position < 0 {
		return ErrQueued
	}
	signed, err := LatestCheckpoint(ctx, q)
	if err != nil {
		return err
	}
	if signed == nil {
		return fmt.Errorf("audit: no signed checkpoint covers record %d", s.Position)
	}
	c, err := record.OpenCheckpoint(signed, verifierKey)
	if err != nil {
		return err
	}
	if c.Size <= s.Position {
		return fmt.Errorf("audit: the newest signed checkpoint (size %d) does not cover record %d", c.Size, s.Position)
	}
	proof, err := tlog.ProveRecord(c.Size, s.Position, HashReader(ctx, q))
	if err == nil {
		err = tlog.CheckRecord(proof, c.Size, c.Root, s.Position, tlog.RecordHash(s.rec))
	}
	if err != nil {
		return fmt.Errorf("audit: record %d (%s) is not the one the signed log holds: the database was altered: %v", s.Position, s.Entry.Kind, err)
	}
	return nil
}

// EntriesAfter calls f, in log order, for each sequenced entry of kind about
// electionID at a position after the given one (−1 for all).
func EntriesAfter(ctx context.Context, q Query, electionID string, kind entry.Kind, after int64, f func(position int64, e *entry.Parsed) error) error {
	rows, err := q.Query(ctx, `SELECT position, record FROM audit_log
WHERE election_id = $1 AND position > $2 AND kind = $3 ORDER BY position`, electionID, after, kind)
	if err != nil {
		return fmt.Errorf("couldn't read the log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			position int64
			rec      []byte
		)
		if err := rows.Scan(&position, &rec); err != nil {
			return err
		}
		s, err := parseStep(position, rec, nil)
		if err != nil {
			return err
		}
		if err := f(position, s.Entry); err != nil {
			return err
		}
	}
	return rows.Err()
}
