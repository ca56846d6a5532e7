package ballot

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit"
)

// RollEntry is a voter as the public sees them: a pseudonym and a group.
type RollEntry struct {
	Pseudonym [32]byte
	Group     string
}

// RollCommitment is what the log records when an election opens: how many
// voters it has and the root of an RFC 6962 tree whose leaves are the roll
// entries, sorted by pseudonym, each encoded pseudonym ‖ group.
type RollCommitment = audit.RollCommitment

// CommitRoll sorts entries by pseudonym and returns their commitment.
func CommitRoll(entries []RollEntry) (RollCommitment, error) {
	sort.Slice(entries, func(i, j int) bool { return bytes.Compare(entries[i].Pseudonym[:], entries[j].Pseudonym[:]) < 0 })
	var hashes audit.MemoryHashes
	for i, e := range entries {
		hs, err := tlog.StoredHashes(int64(i), append(e.Pseudonym[:], e.Group...), hashes)
		if err != nil {
			return RollCommitment{}, err
		}
		hashes = append(hashes, hs...)
	}
	c := RollCommitment{Voters: len(entries)}
	if len(entries) > 0 {
		root, err := tlog.TreeHash(int64(len(entries)), hashes)
		if err != nil {
			return RollCommitment{}, err
		}
		c.Root = hex.EncodeToString(root[:])
	}
	return c, nil
}

// Roll returns an election's public roll: every voter's pseudonym and group.
func (s *Elections) Roll(ctx context.Context, q rowsQuerier, electionID string) ([]RollEntry, error) {
	rows, err := q.Query(ctx, `SELECT pseudonym, group_id FROM voters WHERE election_id = $1`, electionID)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the roll: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (RollEntry, error) {
		var (
			p     []byte
			group string
		)
		err := r.Scan(&p, &group)
		if err == nil && len(p) != 32 {
			err = fmt.Errorf("a stored pseudonym has %d bytes", len(p))
		}
		var e RollEntry
		copy(e.Pseudonym[:], p)
		e.Group = group
		return e, err
	})
}

type rowsQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (s *Elections) rollCommitment(ctx context.Context, tx pgx.Tx, id string) (RollCommitment, error) {
	roll, err := s.Roll(ctx, tx, id)
	if err != nil {
		return RollCommitment{}, err
	}
	return CommitRoll(roll)
}
