package audit

import (
	"context"
	"errors"
	"fmt"
	"primaryvote/audit/cosign"
	"primaryvote/audit/entry"
	"primaryvote/audit/record"
	"sync"
	"time"
)

// Witnessed says who cosigned the checkpoint an inclusion proof is
// against: the names of the election's witnesses that did, and how many
// make it count (audit/LOG.md section 2).
type Witnessed struct {
	Quorum    int      `json:"quorum"`
	Cosigners []string `json:"cosigners"`
}

// Counts reports whether the quorum cosigned.
func (w *Witnessed) Counts() bool { return len(w.Cosigners) >= w.Quorum }

// ElectionPolicy returns the election's witness policy as its log records
// it, or nil when it has none: the last witnesses.policy entry before the
// election opened (an entry still queued counts while it is a draft). The
// witness_policies table only tells the pusher where to push; receipts,
// the witnesses' view and the export go by the log.
func ElectionPolicy(ctx context.Context, q Query, electionID string) (*cosign.Policy, error) {
	p, _, err := electionPolicy(ctx, q, electionID)
	return p, err
}

// electionPolicy is ElectionPolicy, and whether the election's opening is
// in the log, after which its policy never changes. The opening is looked
// up through the lifecycle index (migration 00006), whose predicate the
// LIKE restates for a plan made for any kind.
func electionPolicy(ctx context.Context, q Query, electionID string) (*cosign.Policy, bool, error) {
	var (
		opened         bool
		queued, logged []byte
	)
	_, err := scanOne(ctx, q, `
WITH opening AS (
  SELECT min(position) AS at FROM audit_log
  WHERE election_id = $1 AND kind = $4 AND kind LIKE 'election.%')
SELECT opening.at IS NOT NULL,
  CASE WHEN opening.at IS NULL THEN
    (SELECT e.body FROM audit_entries e
     WHERE e.election_id = $1 AND e.kind = $2 AND e.ref = $3
     ORDER BY e.id DESC LIMIT 1)
  END,
  (SELECT substring(l.record from $5) FROM audit_log l
   WHERE l.election_id = $1 AND l.kind = $2 AND l.ref = $3
     AND l.position < coalesce(opening.at, 9223372036854775807)
   ORDER BY l.position DESC LIMIT 1)
FROM opening`, []any{electionID, entry.KindWitnessPolicy, PolicyRef, entry.KindElectionOpen, record.HeaderSize + 1}, &opened, &queued, &logged)
	if err != nil {
		return nil, false, fmt.Errorf("couldn't read the witness policy: %w", err)
	}
	body := queued
	if body == nil {
		body = logged
	}
	if body == nil {
		return nil, opened, nil
	}
	e, err := entry.Parse(body)
	if err != nil {
		return nil, false, fmt.Errorf("the logged witness policy: %w", err)
	}
	data, err := e.Decode()
	if err != nil {
		return nil, false, fmt.Errorf("the logged witness policy: %w", err)
	}
	return data.(*entry.WitnessPolicy), opened, nil
}

// PolicyRef is the ref of every witnesses.policy entry, by which it is
// looked up.
const PolicyRef = "policy"

// policyCache keeps elections' witness policies: for good once the
// election's opening is logged, since the policy is then fixed, and for a
// few seconds while it is a draft. One lookup runs at a time, so the
// receipts that miss together share it.
type policyCache struct {
	load    sync.Mutex
	mu      sync.Mutex
	entries map[string]cachedPolicy
}

type cachedPolicy struct {
	p     *cosign.Policy
	final bool
	exp   time.Time
}

func (c *policyCache) cached(electionID string) (*cosign.Policy, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[electionID]
	return e.p, ok && (e.final || time.Now().Before(e.exp))
}

func (c *policyCache) get(ctx context.Context, q Query, electionID string) (*cosign.Policy, error) {
	if p, ok := c.cached(electionID); ok {
		return p, nil
	}
	c.load.Lock()
	defer c.load.Unlock()
	if p, ok := c.cached(electionID); ok {
		return p, nil
	}
	p, final, err := electionPolicy(ctx, q, electionID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) > 1000 {
		c.entries = map[string]cachedPolicy{}
	}
	c.entries[electionID] = cachedPolicy{p: p, final: final, exp: time.Now().Add(10 * time.Second)}
	c.mu.Unlock()
	return p, nil
}

// countingSize returns the size of the newest checkpoint larger than after
// that at least the policy's quorum of its witnesses cosigned; 0 when there
// is none.
func countingSize(ctx context.Context, q Query, p *cosign.Policy, after int64) (int64, error) {
	keys := make([]string, len(p.Witnesses))
	for i, w := range p.Witnesses {
		keys[i] = w.Key
	}
	var size int64
	if _, err := scanOne(ctx, q, `
SELECT size FROM audit_cosignatures WHERE size > $1 AND witness = ANY($2)
GROUP BY size HAVING count(*) >= $3 ORDER BY size DESC LIMIT 1`, []any{after, keys, p.Quorum}, &size); err != nil {
		return 0, fmt.Errorf("couldn't read the cosignatures: %w", err)
	}
	return size, nil
}

// cosignedCheckpoint returns the checkpoint of size with every cosignature
// stored for it.
func cosignedCheckpoint(ctx context.Context, q Query, size int64) ([]byte, error) {
	var (
		signed []byte
		cosigs string
	)
	found, err := scanOne(ctx, q, `
SELECT c.signed, coalesce((SELECT string_agg(signature, '' ORDER BY witness) FROM audit_cosignatures WHERE size = c.size), '')
FROM audit_checkpoints c WHERE c.size = $1`, []any{size}, &signed, &cosigs)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the checkpoint of size %d: %w", size, err)
	}
	if !found {
		return nil, fmt.Errorf("no checkpoint of size %d", size)
	}
	return append(signed, cosigs...), nil
}

// WitnessView is how far each of an election's witnesses has cosigned the
// log, from the cosignatures stored (every server's pushes).
type WitnessView struct {
	Quorum int `json:"quorum"`
	// LogSize is the size of the newest checkpoint.
	LogSize int64 `json:"log_size"`
	// Counting is the size of the newest checkpoint that counts (0: none).
	Counting  int64             `json:"counting_size"`
	Witnesses []WitnessProgress `json:"witnesses"`
}

// WitnessProgress is one witness's progress.
type WitnessProgress struct {
	Name string `json:"name"`
	Key  string `json:"key"`
	URL  string `json:"url"`
	// Cosigned is the size of the newest checkpoint it cosigned (0: none).
	Cosigned   int64     `json:"cosigned_size"`
	CosignedAt time.Time `json:"cosigned_at,omitzero"`
	// Lag is how many records the log holds beyond it.
	Lag int64 `json:"lag"`
}

// ErrNoPolicy means the election has no witness policy.
var ErrNoPolicy = errors.New("audit: the election has no witness policy")

// Witnesses returns how far the election's witnesses have cosigned the log.
func Witnesses(ctx context.Context, q Query, electionID string) (*WitnessView, error) {
	p, err := ElectionPolicy(ctx, q, electionID)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, ErrNoPolicy
	}
	v := &WitnessView{Quorum: p.Quorum}
	if _, err := scanOne(ctx, q, `SELECT coalesce(max(size), 0) FROM audit_checkpoints`, nil, &v.LogSize); err != nil {
		return nil, fmt.Errorf("couldn't read the log's size: %w", err)
	}
	if v.Counting, err = countingSize(ctx, q, p, 0); err != nil {
		return nil, err
	}
	for _, w := range p.Witnesses {
		wv, _ := cosign.NewVerifier(w.Key)
		pr := WitnessProgress{Key: w.Key, URL: w.URL}
		if wv != nil {
			pr.Name = wv.Name()
		}
		var at *time.Time
		if _, err := scanOne(ctx, q, `SELECT coalesce(max(size), 0), max(cosigned_at) FROM audit_cosignatures WHERE witness = $1`, []any{w.Key}, &pr.Cosigned, &at); err != nil {
			return nil, fmt.Errorf("couldn't read the cosignatures: %w", err)
		}
		if at != nil {
			pr.CosignedAt = at.UTC()
		}
		pr.Lag = v.LogSize - pr.Cosigned
		v.Witnesses = append(v.Witnesses, pr)
	}
	return v, nil
}

// ElectionWitnessed reports whether every record of the election is
// covered by a checkpoint that counts under its witness policy (true when
// it has none): whether its bundle can end with a checkpoint the quorum
// cosigned.
func ElectionWitnessed(ctx context.Context, q Query, electionID string) (bool, error) {
	witnessed, _, err := witnessedEnd(ctx, q, electionID)
	return witnessed, err
}

// witnessedEnd returns whether every record of the election is covered by a
// checkpoint that counts under its witness policy (true when it has none),
// and the size of the newest such checkpoint (0 when there is none).
func witnessedEnd(ctx context.Context, q Query, electionID string) (bool, int64, error) {
	p, err := ElectionPolicy(ctx, q, electionID)
	if err != nil || p == nil {
		return p == nil, 0, err
	}
	var last *int64
	if _, err := scanOne(ctx, q, `SELECT max(position) FROM audit_log WHERE election_id = $1`, []any{electionID}, &last); err != nil {
		return false, 0, fmt.Errorf("couldn't read the election's last record: %w", err)
	}
	if last == nil {
		return true, 0, nil
	}
	size, err := countingSize(ctx, q, p, *last)
	return size > 0, size, err
}
