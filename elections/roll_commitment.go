package elections

import (
	"context"
	"fmt"
	"primaryvote/ballot"

	"github.com/jackc/pgx/v5"
)

// Roll returns an election's public roll: every voter's pseudonym, public
// credential and group. A voter without a credential is an error.
func (s *Store) Roll(ctx context.Context, q rowsQuerier, electionID string) ([]ballot.RollEntry, error) {
	rows, err := q.Query(ctx, `
SELECT v.pseudonym, c.credential, v.group_id
FROM voters v LEFT JOIN voter_credentials c USING (election_id, voter_id)
WHERE v.election_id = $1`, electionID)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the roll: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ballot.RollEntry, error) {
		var (
			p, c  []byte
			group string
		)
		err := r.Scan(&p, &c, &group)
		if err == nil && len(p) != 32 {
			err = fmt.Errorf("a stored pseudonym has %d bytes", len(p))
		}
		if err == nil && len(c) != 32 {
			err = fmt.Errorf("a voter of election %q has no credential", electionID)
		}
		var e ballot.RollEntry
		copy(e.Pseudonym[:], p)
		copy(e.Credential[:], c)
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
