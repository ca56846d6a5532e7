package elections

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
)

// setTrustees stores and logs t in tx, which holds the draft election's
// lock.
func (s *Store) setTrustees(ctx context.Context, tx pgx.Tx, id string, t *ballot.Trustees, actor string) error {
	if err := t.Check(); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO election_keys (election_id, threshold, public_key, commitments)
VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, id, t.Threshold, t.Key.Bytes(), t.EncodeCommitments())
	if err != nil {
		return fmt.Errorf("couldn't store the election key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return pv.Errorf(pv.EConflict, "election %q already has a key", id)
	}
	key, commitments, public := t.Hex()
	encoded := t.EncodePublic()
	for i := range t.Public {
		if _, err := tx.Exec(ctx, `INSERT INTO trustees (election_id, trustee, public_key) VALUES ($1, $2, $3)`,
			id, i+1, encoded[32*i:32*(i+1)]); err != nil {
			return fmt.Errorf("couldn't store trustee %d: %w", i+1, err)
		}
	}
	return audit.Append(ctx, tx, audit.Entry{
		ElectionID: id, Kind: entry.KindTrusteesSetup, Actor: actor, At: s.clock(), Ref: "setup",
		Data: entry.TrusteesSet{
			Threshold: t.Threshold, Trustees: len(t.Public), PublicKey: key,
			Commitments: commitments, TrusteePublicKeys: public,
		},
	})
}

// Trustees returns an election's key-ceremony outcome.
func (s *Store) Trustees(ctx context.Context, id string) (*ballot.Trustees, error) {
	st, err := s.storedTrustees(ctx, s.pool, id)
	if err != nil {
		return nil, err
	}
	return ballot.DecodeTrustees(st.threshold, st.key, st.commitments, bytes.Join(st.public, nil))
}

// storedTrustees is a key ceremony's outcome as stored, unchecked.
type storedTrustees struct {
	threshold        int
	key, commitments []byte
	public           [][]byte
}

func (s *Store) storedTrustees(ctx context.Context, q rowQuerier, id string) (*storedTrustees, error) {
	var st storedTrustees
	err := q.QueryRow(ctx, `SELECT threshold, public_key, commitments FROM election_keys WHERE election_id = $1`, id).
		Scan(&st.threshold, &st.key, &st.commitments)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pv.Errorf(pv.ENotFound, "election %q has no key", id)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the election key: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT public_key FROM trustees WHERE election_id = $1 ORDER BY trustee`, id)
	if err != nil {
		return nil, fmt.Errorf("couldn't read trustees: %w", err)
	}
	if st.public, err = pgx.CollectRows(rows, pgx.RowTo[[]byte]); err != nil {
		return nil, fmt.Errorf("couldn't read trustees: %w", err)
	}
	return &st, nil
}
