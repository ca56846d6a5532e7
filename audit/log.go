package audit

import (
	"context"
	"sync"

	"primaryvote/audit/entry"
	"primaryvote/audit/record"

	"golang.org/x/mod/sumdb/tlog"
)

// Log is the audit log as its readers see it: the newest checkpoint, proofs
// that entries are in the log, an election's recent activity, and
// sequencing on demand before an export.
type Log struct {
	q           Query
	seq         *Sequencer
	verifierKey string
	// hashes keeps the tree hashes proofs have read: a stored hash never
	// changes, and the proofs of nearby records share most of theirs.
	hashes *hashCache
	// policies keeps the elections' witness policies.
	policies policyCache
}

// NewLog returns the log in the database q reaches. seq sequences it on
// demand (nil: only the background sequencer does); verifierKey checks its
// checkpoints.
func NewLog(q Query, seq *Sequencer, verifierKey string) *Log {
	return &Log{q: q, seq: seq, verifierKey: verifierKey, hashes: newHashCache(1 << 20)}
}

// VerifierKey is the note verifier key of the log's checkpoints.
func (l *Log) VerifierKey() string { return l.verifierKey }

// Include proves that the entry of electionID with kind and ref is in the
// log against the newest checkpoint; ErrQueued and ErrNotLogged say why
// not.
func (l *Log) Include(ctx context.Context, electionID string, kind entry.Kind, ref string) (*Inclusion, error) {
	policy, err := l.policies.get(ctx, l.q, electionID)
	if err != nil {
		return nil, err
	}
	return include(ctx, l.q, electionID, kind, ref, l.verifierKey, policy, l.hashes)
}

// Witnesses returns how far the election's witnesses have cosigned the
// log; ErrNoPolicy when it has no witness policy.
func (l *Log) Witnesses(ctx context.Context, electionID string) (*WitnessView, error) {
	return Witnesses(ctx, l.q, electionID)
}

// LatestCheckpoint returns the newest signed checkpoint with every
// witness's cosignature stored for it, or nil when the log is empty.
func (l *Log) LatestCheckpoint(ctx context.Context) ([]byte, error) {
	signed, err := LatestCheckpoint(ctx, l.q)
	if err != nil || signed == nil {
		return signed, err
	}
	c, err := record.ParseSignedCheckpoint(signed)
	if err != nil {
		return nil, err
	}
	return cosignedCheckpoint(ctx, l.q, c.Size)
}

// RecentActivity returns an election's newest logged actions, newest first.
func (l *Log) RecentActivity(ctx context.Context, electionID string, limit int) ([]Activity, error) {
	return RecentActivity(ctx, l.q, electionID, limit)
}

// Sequence moves every queued entry into the log and signs a checkpoint, so
// that what is read next holds every entry logged until now.
func (l *Log) Sequence(ctx context.Context) error {
	if l.seq == nil {
		return nil
	}
	_, err := l.seq.Drain(ctx)
	return err
}

// hashCache keeps stored tree hashes by index, up to max of them (then it
// starts afresh).
type hashCache struct {
	mu     sync.Mutex
	max    int
	hashes map[int64]tlog.Hash
}

func newHashCache(max int) *hashCache {
	return &hashCache{max: max, hashes: map[int64]tlog.Hash{}}
}

// reader reads hashes from the cache, and those it lacks from r.
func (c *hashCache) reader(r tlog.HashReader) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		var missing []int64
		c.mu.Lock()
		for i, idx := range indexes {
			h, ok := c.hashes[idx]
			if !ok {
				missing = append(missing, idx)
			}
			out[i] = h
		}
		c.mu.Unlock()
		if len(missing) == 0 {
			return out, nil
		}
		read, err := r.ReadHashes(missing)
		if err != nil {
			return nil, err
		}
		got := make(map[int64]tlog.Hash, len(missing))
		for i, idx := range missing {
			got[idx] = read[i]
		}
		c.mu.Lock()
		if len(c.hashes)+len(got) > c.max {
			c.hashes = map[int64]tlog.Hash{}
		}
		for idx, h := range got {
			c.hashes[idx] = h
		}
		c.mu.Unlock()
		for i, idx := range indexes {
			if h, ok := got[idx]; ok {
				out[i] = h
			}
		}
		return out, nil
	})
}
