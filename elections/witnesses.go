package elections

import (
	"context"
	"encoding/json"
	"fmt"
	"primaryvote/audit/cosign"

	"github.com/jackc/pgx/v5"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
)

// SetWitnesses sets the election's witness policy (audit/LOG.md section 2):
// the witnesses the log's checkpoints are pushed to and how many of their
// cosignatures make a checkpoint count. It is set while the election is a
// draft, and logged; a later one replaces it until the election opens.
func (s *Store) SetWitnesses(ctx context.Context, id string, p *cosign.Policy, actor string) error {
	if err := p.Check(); err != nil {
		return pv.Errorf(pv.EInvalid, "The witness policy: %v.", err)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		status, err := LockForChange(ctx, tx, id)
		if err != nil {
			return err
		}
		if status != ballot.Draft {
			return pv.Errorf(pv.EConflict, "election %q is %s: its witnesses are set before it opens", id, status)
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO witness_policies (election_id, policy) VALUES ($1, $2)
ON CONFLICT (election_id) DO UPDATE SET policy = excluded.policy`, id, body); err != nil {
			return fmt.Errorf("couldn't store the witness policy: %w", err)
		}
		return audit.Append(ctx, tx, audit.Entry{ElectionID: id, Kind: entry.KindWitnessPolicy, Actor: actor, At: s.clock(), Data: *p, Ref: audit.PolicyRef})
	})
}

// Witnesses returns the election's witness policy as its log records it;
// ENotFound when it has none.
func (s *Store) Witnesses(ctx context.Context, id string) (*cosign.Policy, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	p, err := audit.ElectionPolicy(ctx, s.pool, id)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, pv.Errorf(pv.ENotFound, "election %q has no witness policy", id)
	}
	return p, nil
}
