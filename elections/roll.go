package elections

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/jackc/pgx/v5"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
)

// RollSummary describes an imported roll.
type RollSummary struct {
	Voters int            `json:"voters"`
	Groups map[string]int `json:"groups"`
	// Digest is the SHA-256 of the imported file, in hex.
	Digest string `json:"sha256"`
}

// ImportRoll replaces the roll of a draft election with the CSV read from r:
// a header "voter_id,group,region" and one voter per line. The import is all
// or nothing: the first bad line (wrong column count, invalid UTF-8, empty or
// malformed voter id, duplicate voter id, unknown group, bad region) aborts it
// with an error naming the line, and the roll is left as it was. Rows stream
// to PostgreSQL with COPY; they are never all held in memory.
func (s *Store) ImportRoll(ctx context.Context, electionID string, r io.Reader, actor string) (*RollSummary, error) {
	digest := sha256.New()
	src := &rollReader{id: electionID, pseudonyms: s.pseudonyms}
	var summary *RollSummary
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := LockForChange(ctx, tx, electionID); err != nil {
			return err
		}
		e, err := s.get(ctx, tx, electionID)
		if err != nil {
			return err
		}
		if e.Status != ballot.Draft {
			return pv.Errorf(pv.EConflict, "election %q is %s: the roll can only change while it is a draft", electionID, e.Status)
		}
		groups := make([]string, len(e.Groups))
		for i, g := range e.Groups {
			groups[i] = g.ID
		}
		src.roll = ballot.NewRollReader(io.TeeReader(r, digest), groups...)
		if err := src.roll.ReadHeader(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM voters WHERE election_id = $1`, electionID); err != nil {
			return fmt.Errorf("couldn't clear the old roll: %w", err)
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"voters"}, []string{"election_id", "voter_id", "group_id", "region", "pseudonym"}, src)
		if err := src.roll.Err(); err != nil {
			return err
		}
		if err != nil {
			return fmt.Errorf("couldn't import the roll: %w", err)
		}
		if n == 0 {
			return pv.Errorf(pv.EInvalid, "the roll has no voters")
		}
		summary = &RollSummary{Voters: int(n), Groups: src.roll.Groups(), Digest: hexSum(digest)}
		return audit.Append(ctx, tx, audit.Entry{
			ElectionID: electionID, Kind: entry.KindRollImport, Actor: actor, At: s.clock(),
			Data: entry.RollImported{Voters: summary.Voters, Groups: summary.Groups, SHA256: summary.Digest},
		})
	})
	if err != nil {
		return nil, err
	}
	return summary, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// rollReader is a pgx.CopyFromSource of the voters a ballot.RollReader
// reads, each with its pseudonym.
type rollReader struct {
	roll       *ballot.RollReader
	id         string
	pseudonyms Pseudonyms
	row        []any
}

func (r *rollReader) Next() bool {
	if !r.roll.Next() {
		return false
	}
	v := r.roll.Voter()
	p := r.pseudonyms.Pseudonym(r.id, v.ID)
	r.row = []any{r.id, v.ID, v.Group, v.Region, p[:]}
	return true
}

func (r *rollReader) Values() ([]any, error) { return r.row, nil }
func (r *rollReader) Err() error             { return r.roll.Err() }
