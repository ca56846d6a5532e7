package elections

import (
	"context"
	"fmt"
	"primaryvote/ballot"

	"github.com/jackc/pgx/v5"
)

// Roll returns an election's public roll: every voter's pseudonym and group.
func (s *Store) Roll(ctx context.Context, q rowsQuerier, electionID string) ([]ballot.RollEntry, error) {
	rows, err := q.Query(ctx, `SELECT pseudonym, group_id FROM voters WHERE election_id = $1`, electionID)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the roll: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ballot.RollEntry, error) {
		var (
			p     []byte
			group string
		)
		err := r.Scan(&p, &group)
		if err == nil && len(p) != 32 {
			err = fmt.Errorf("a stored pseudonym has %d bytes", len(p))
		}
		var e ballot.RollEntry
		copy(e.Pseudonym[:], p)
		e.Group = group
		return e, err
	})
}

type rowsQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (s *Store) rollCommitment(ctx context.Context, tx pgx.Tx, id string) (ballot.RollCommitment, error) {
	roll, err := s.Roll(ctx, tx, id)
	if err != nil {
		return ballot.RollCommitment{}, err
	}
	return ballot.CommitRoll(roll)
}
