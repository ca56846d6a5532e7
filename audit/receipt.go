package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"primaryvote/audit/cosign"
	"primaryvote/audit/entry"
	"primaryvote/audit/record"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"
)

// Inclusion shows that an entry is in the log: its record, and a proof that
// the record is leaf Position of the tree the checkpoint signs. Check it with
// note.Open on Checkpoint, then tlog.CheckRecord(Proof, size, root,
// Position, tlog.RecordHash(Record)).
type Inclusion struct {
	Position   int64       `json:"position"`
	Record     []byte      `json:"record"`
	Checkpoint string      `json:"checkpoint"`
	Proof      []tlog.Hash `json:"inclusion_proof"`
	// Witnessed says which of the election's witnesses cosigned the
	// checkpoint; absent when the election has no witness policy.
	Witnessed *Witnessed `json:"witnessed,omitempty"`
}

// ErrQueued means the entry exists but is not in the log yet: the sequencer
// will add it within seconds.
var ErrQueued = errors.New("audit: the entry is queued for the log")

// ErrNotLogged means no entry has that ref.
var ErrNotLogged = errors.New("audit: no such entry")

// selectEntry looks an entry up by (election, kind, ref) in the log and in
// the queue at once (migrations 00004 and 00013 index those columns in both).
// One statement sees one snapshot, and the sequencer moves entries from the
// queue to the log atomically, so the entry is found in exactly one of them.
// It reads the newest checkpoint in the same snapshot: the sequencer signs
// one in the transaction that moves entries, so it covers the entry.
const selectEntry = `
SELECT position, record, (SELECT signed FROM audit_checkpoints ORDER BY size DESC LIMIT 1)
FROM audit_log WHERE ref = $1 AND election_id = $2 AND kind = $3
UNION ALL
SELECT NULL, NULL, NULL FROM audit_entries WHERE ref = $1 AND election_id = $2 AND kind = $3
LIMIT 1`

// include finds the entry of electionID with the given kind and ref and
// proves its inclusion, reading tree hashes through cache: against the
// newest checkpoint that counts under the election's witness policy (nil:
// none) and covers it, or else against the latest checkpoint. The
// checkpoint must verify under verifierKey.
func include(ctx context.Context, q Query, electionID string, kind entry.Kind, ref, verifierKey string, policy *cosign.Policy, cache *hashCache) (*Inclusion, error) {
	var (
		in       Inclusion
		position *int64
		signed   []byte
	)
	found, err := scanOne(ctx, q, selectEntry, []any{ref, electionID, kind}, &position, &in.Record, &signed)
	switch {
	case err != nil:
		return nil, fmt.Errorf("couldn't look up the entry: %w", err)
	case !found:
		return nil, ErrNotLogged
	case position == nil:
		return nil, ErrQueued
	}
	in.Position = *position
	if signed == nil {
		return nil, ErrQueued
	}
	if policy != nil {
		if signed, err = witnessedCheckpoint(ctx, q, policy, in.Position, signed); err != nil {
			return nil, err
		}
	}
	c, names, err := openWitnessed(signed, verifierKey, policy)
	if err != nil {
		return nil, err
	}
	if policy != nil {
		in.Witnessed = &Witnessed{Quorum: policy.Quorum, Cosigners: names}
	}
	if in.Proof, err = tlog.ProveRecord(c.Size, in.Position, cache.reader(HashReader(ctx, q))); err != nil {
		return nil, fmt.Errorf("couldn't prove inclusion: %w", err)
	}
	in.Checkpoint = string(signed)
	return &in, nil
}

// openWitnessed opens a signed checkpoint under verifierKey and, with a
// policy, its cosignatures by the policy's witnesses, all in one reading.
func openWitnessed(signed []byte, verifierKey string, policy *cosign.Policy) (record.Checkpoint, []string, error) {
	if policy == nil {
		c, err := record.OpenCheckpoint(signed, verifierKey)
		return c, nil, err
	}
	return policy.Open(signed, verifierKey)
}

// witnessedCheckpoint returns the newest checkpoint that counts under the
// policy and covers position, or else newest, each with its cosignatures.
func witnessedCheckpoint(ctx context.Context, q Query, policy *cosign.Policy, position int64, newest []byte) ([]byte, error) {
	size, err := countingSize(ctx, q, policy, position)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		c, err := record.ParseSignedCheckpoint(newest)
		if err != nil {
			return nil, err
		}
		size = c.Size
	}
	return cosignedCheckpoint(ctx, q, size)
}

// scanOne scans the first row of a query into dest and reports whether there
// was one.
func scanOne(ctx context.Context, q Query, sql string, args []any, dest ...any) (bool, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	return true, rows.Scan(dest...)
}

// Activity is one logged action as the officials' dashboard lists it.
type Activity struct {
	Position int64           `json:"position"`
	Kind     entry.Kind      `json:"kind"`
	Body     json.RawMessage `json:"entry"`
}

// RecentActivity returns the newest logged actions about an election, newest
// first, leaving out the ballots and the sign-in counts, which the turnout
// already shows.
func RecentActivity(ctx context.Context, q Query, electionID string, limit int) ([]Activity, error) {
	rows, err := q.Query(ctx, `
SELECT position, kind, substring(record from $3) FROM audit_log
WHERE election_id = $1 AND kind <> ALL ($4)
ORDER BY position DESC LIMIT $2`, electionID, limit, record.HeaderSize+1, []entry.Kind{entry.KindBallotCast, entry.KindVoterSignIns})
	if err != nil {
		return nil, fmt.Errorf("couldn't read the log: %w", err)
	}
	defer rows.Close()
	out := []Activity{}
	for rows.Next() {
		var a Activity
		var body []byte
		if err := rows.Scan(&a.Position, &a.Kind, &body); err != nil {
			return nil, err
		}
		a.Body = body
		out = append(out, a)
	}
	return out, rows.Err()
}

// CheckCast checks, as a voter's client does, that in proves a ballot.cast
// entry of election with tracking code in the log: the checkpoint is signed
// by verifierKey, the record is at its position in the tree the checkpoint
// commits to, and the record's entry is that cast. It returns the
// checkpoint.
func (in *Inclusion) CheckCast(verifierKey, election, trackingCode string) (record.Checkpoint, error) {
	c, err := record.OpenCheckpoint([]byte(in.Checkpoint), verifierKey)
	if err != nil {
		return c, fmt.Errorf("the receipt's checkpoint: %w", err)
	}
	if in.Position < 0 || in.Position >= c.Size {
		return c, fmt.Errorf("the receipt's record %d is not in the checkpoint's %d records", in.Position, c.Size)
	}
	if err := tlog.CheckRecord(in.Proof, c.Size, c.Root, in.Position, tlog.RecordHash(in.Record)); err != nil {
		return c, fmt.Errorf("the receipt's inclusion proof: %w", err)
	}
	index, _, body, err := record.Parse(in.Record)
	if err != nil || index != in.Position {
		return c, fmt.Errorf("the receipt's record is not framed for position %d", in.Position)
	}
	p, err := entry.Parse(body)
	if err != nil {
		return c, fmt.Errorf("the receipt's record: %w", err)
	}
	d, err := p.Decode()
	cast, ok := d.(*entry.Cast)
	if err != nil || !ok || p.Election != election || cast.TrackingCode != trackingCode {
		return c, fmt.Errorf("the receipt's record is not the cast of ballot %s in election %s", trackingCode, election)
	}
	return c, nil
}

// Entries returns the entries of the given kinds about electionID that have
// a ref, sequenced or still queued: the log's first, in log order, then the
// queue's, in the order they were appended. One statement sees one
// snapshot, and the sequencer moves entries atomically, so each entry comes
// once.
func Entries(ctx context.Context, q Query, electionID string, kinds []entry.Kind) ([]*entry.Parsed, error) {
	rows, err := q.Query(ctx, `
SELECT body FROM (
  SELECT 0 AS queued, position AS o, substring(record from $3) AS body FROM audit_log
  WHERE election_id = $1 AND kind = ANY ($2) AND ref IS NOT NULL
  UNION ALL
  SELECT 1, id, body FROM audit_entries
  WHERE election_id = $1 AND kind = ANY ($2) AND ref IS NOT NULL) x
ORDER BY queued, o`, electionID, kinds, record.HeaderSize+1)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the log: %w", err)
	}
	bodies, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("couldn't read the log: %w", err)
	}
	out := make([]*entry.Parsed, 0, len(bodies))
	for _, b := range bodies {
		p, err := entry.Parse(b)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
