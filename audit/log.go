package audit

import (
	"context"

	"primaryvote/audit/entry"
)

// Log is the audit log as its readers see it: the newest checkpoint, proofs
// that entries are in the log, an election's recent activity, and
// sequencing on demand before an export.
type Log struct {
	q           Query
	seq         *Sequencer
	verifierKey string
}

// NewLog returns the log in the database q reaches. seq sequences it on
// demand (nil: only the background sequencer does); verifierKey checks its
// checkpoints.
func NewLog(q Query, seq *Sequencer, verifierKey string) *Log {
	return &Log{q: q, seq: seq, verifierKey: verifierKey}
}

// VerifierKey is the note verifier key of the log's checkpoints.
func (l *Log) VerifierKey() string { return l.verifierKey }

// LatestCheckpoint returns the newest signed checkpoint, or nil when the log
// is empty.
func (l *Log) LatestCheckpoint(ctx context.Context) ([]byte, error) {
	return LatestCheckpoint(ctx, l.q)
}

// Include proves that the entry of electionID with kind and ref is in the
// log (see the function Include); ErrQueued and ErrNotLogged say why not.
func (l *Log) Include(ctx context.Context, electionID string, kind entry.Kind, ref string) (*Inclusion, error) {
	return Include(ctx, l.q, electionID, kind, ref, l.verifierKey)
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
