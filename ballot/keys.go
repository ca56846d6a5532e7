package ballot

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	pv "primaryvote"
	"primaryvote/audit"
)

// SetTrustees stores the public outcome of a draft election's key ceremony.
// An election's key is set once.
func (s *Elections) SetTrustees(ctx context.Context, id string, t *Trustees, actor string) error {
	if err := t.Check(); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		status, err := LockForChange(ctx, tx, id)
		if err != nil {
			return err
		}
		if status != Draft {
			return pv.Errorf(pv.EConflict, "election %q is %s: its key is set while it is a draft", id, status)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO election_keys (election_id, threshold, public_key, commitments)
VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, id, t.Threshold, t.Key.enc, encodeElements(t.Commitments))
		if err != nil {
			return fmt.Errorf("couldn't store the election key: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return pv.Errorf(pv.EConflict, "election %q already has a key", id)
		}
		public := make([]string, len(t.Public))
		for i, p := range t.Public {
			if _, err := tx.Exec(ctx, `INSERT INTO trustees (election_id, trustee, public_key) VALUES ($1, $2, $3)`,
				id, i+1, encodeElement(p)); err != nil {
				return fmt.Errorf("couldn't store trustee %d: %w", i+1, err)
			}
			public[i] = hex.EncodeToString(encodeElement(p))
		}
		commitments := make([]string, len(t.Commitments))
		for i, c := range t.Commitments {
			commitments[i] = hex.EncodeToString(encodeElement(c))
		}
		return audit.Append(ctx, tx, audit.Entry{
			ElectionID: id, Kind: audit.KindTrusteesSetup, Actor: actor, At: s.clock(),
			Data: audit.TrusteesSet{
				Threshold: t.Threshold, Trustees: len(t.Public), PublicKey: hex.EncodeToString(t.Key.enc),
				Commitments: commitments, TrusteePublicKeys: public,
			},
		})
	})
}

// Trustees returns an election's key-ceremony outcome.
func (s *Elections) Trustees(ctx context.Context, id string) (*Trustees, error) {
	var (
		threshold   int
		key, commit []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT threshold, public_key, commitments FROM election_keys WHERE election_id = $1`, id).
		Scan(&threshold, &key, &commit)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pv.Errorf(pv.ENotFound, "election %q has no key", id)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the election key: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT public_key FROM trustees WHERE election_id = $1 ORDER BY trustee`, id)
	if err != nil {
		return nil, fmt.Errorf("couldn't read trustees: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("couldn't read trustees: %w", err)
	}
	return DecodeTrustees(threshold, key, commit, concat(keys))
}

// DecodeTrustees rebuilds and checks a key ceremony's public data from its
// encodings: the election key, the concatenated commitments and the
// concatenated trustee keys (32 bytes each).
func DecodeTrustees(threshold int, key, commitments, public []byte) (*Trustees, error) {
	t := &Trustees{Threshold: threshold}
	var err error
	if t.Key, err = ParseElectionKey(key); err != nil {
		return nil, err
	}
	if t.Commitments, err = decodeElements(commitments); err != nil {
		return nil, fmt.Errorf("trustees: commitments: %w", err)
	}
	if t.Public, err = decodeElements(public); err != nil {
		return nil, fmt.Errorf("trustees: trustee keys: %w", err)
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	return t, nil
}

func concat(bs [][]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}
