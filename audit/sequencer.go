package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"primaryvote/audit/record"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/tlog"
)

// Sequencer moves appended entries into the log in batches. Each batch, in
// one transaction under a Postgres advisory lock (so any number of primaryd
// may run one, and at most one sequences at a time): take the oldest queued
// entries, frame each as the next record (position and previous chain hash),
// store the records and their Merkle tree hashes, remove the entries from the
// queue, and sign a checkpoint of the new tree. A crash at any point leaves
// either the whole batch in the log or the entries still queued.
//
// Entries committed out of order (a slow transaction with an older id) are
// simply sequenced in a later batch: the queue holds only what is not yet in
// the log, so nothing is skipped.
type Sequencer struct {
	pool   *pgxpool.Pool
	signer *record.Signer
	logger *slog.Logger
	batch  int
	// signed, if set, is called after each checkpoint is stored.
	signed func()
}

// OnCheckpoint has f called after each checkpoint the sequencer stores
// (the witness pusher's Notify). Set it before Run.
func (s *Sequencer) OnCheckpoint(f func()) { s.signed = f }

// NewSequencer returns a sequencer that signs checkpoints with signer.
func NewSequencer(pool *pgxpool.Pool, signer *record.Signer, logger *slog.Logger) *Sequencer {
	return &Sequencer{pool: pool, signer: signer, logger: logger, batch: 2000}
}

// sequencerLock is the advisory-lock key that makes one sequencer at a time.
const sequencerLock = 7239002

type queued struct {
	id                  int64
	election, kind, ref string
	body                []byte
}

// Step sequences up to one batch and returns how many entries it moved.
func (s *Sequencer) Step(ctx context.Context) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, sequencerLock); err != nil {
			return fmt.Errorf("couldn't take the sequencer lock: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT id, coalesce(election_id, ''), kind, coalesce(ref, ''), body FROM audit_entries ORDER BY id LIMIT $1`, s.batch)
		if err != nil {
			return fmt.Errorf("couldn't read queued entries: %w", err)
		}
		entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (queued, error) {
			var q queued
			err := r.Scan(&q.id, &q.election, &q.kind, &q.ref, &q.body)
			return q, err
		})
		if err != nil || len(entries) == 0 {
			return err
		}
		size, chain, err := head(ctx, tx)
		if err != nil {
			return err
		}
		hr := &dbHashes{ctx: ctx, q: tx, cache: map[int64]tlog.Hash{}}
		var logRows, hashRows [][]any
		ids := make([]int64, len(entries))
		for i, e := range entries {
			idx := size + int64(i)
			rec := record.Frame(idx, chain, e.body)
			hs, err := tlog.StoredHashes(idx, rec, hr)
			if err != nil {
				return fmt.Errorf("couldn't hash record %d: %w", idx, err)
			}
			base := tlog.StoredHashCount(idx)
			for j, h := range hs {
				hr.cache[base+int64(j)] = h
				hashRows = append(hashRows, []any{base + int64(j), h[:]})
			}
			chain = record.ChainHash(rec)
			logRows = append(logRows, []any{idx, e.id, nullable(e.election), e.kind, nullable(e.ref), rec})
			ids[i] = e.id
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_log"}, []string{"position", "entry_id", "election_id", "kind", "ref", "record"}, pgx.CopyFromRows(logRows)); err != nil {
			return fmt.Errorf("couldn't store records: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_hashes"}, []string{"idx", "hash"}, pgx.CopyFromRows(hashRows)); err != nil {
			return fmt.Errorf("couldn't store tree hashes: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM audit_entries WHERE id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("couldn't dequeue entries: %w", err)
		}
		newSize := size + int64(len(entries))
		root, err := tlog.TreeHash(newSize, hr)
		if err != nil {
			return fmt.Errorf("couldn't compute the tree hash: %w", err)
		}
		signed, err := s.signer.Sign(record.Checkpoint{Origin: s.signer.Origin(), Size: newSize, Root: root, Chain: chain})
		if err != nil {
			return fmt.Errorf("couldn't sign the checkpoint: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (size, signed) VALUES ($1, $2)`, newSize, signed); err != nil {
			return fmt.Errorf("couldn't store the checkpoint: %w", err)
		}
		n = len(entries)
		return nil
	})
	if err == nil && n > 0 && s.signed != nil {
		s.signed()
	}
	return n, err
}

// Run sequences until ctx ends: every interval, batch after batch until the
// queue is empty.
func (s *Sequencer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Drain(ctx); err != nil && ctx.Err() == nil {
			s.logger.Error("sequencer step failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Drain sequences batches until the queue is empty and returns how many
// entries it moved.
func (s *Sequencer) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.Step(ctx)
		total += n
		if err != nil || n < s.batch {
			return total, err
		}
	}
}

// head returns the log's size and the chain hash of its last record.
func head(ctx context.Context, tx pgx.Tx) (int64, tlog.Hash, error) {
	var (
		pos int64
		rec []byte
	)
	err := tx.QueryRow(ctx, `SELECT position, record FROM audit_log ORDER BY position DESC LIMIT 1`).Scan(&pos, &rec)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, tlog.Hash{}, nil
	}
	if err != nil {
		return 0, tlog.Hash{}, fmt.Errorf("couldn't read the log head: %w", err)
	}
	return pos + 1, record.ChainHash(rec), nil
}

// dbHashes reads the tree's stored hashes from the database, with the ones a
// batch has just made in its cache.
type dbHashes struct {
	ctx   context.Context
	q     Query
	cache map[int64]tlog.Hash
}

func (d *dbHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	var missing []int64
	for _, i := range indexes {
		if _, ok := d.cache[i]; !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		rows, err := d.q.Query(d.ctx, `SELECT idx, hash FROM audit_hashes WHERE idx = ANY($1)`, missing)
		if err != nil {
			return nil, fmt.Errorf("couldn't read tree hashes: %w", err)
		}
		for rows.Next() {
			var (
				i int64
				h []byte
			)
			if err := rows.Scan(&i, &h); err != nil {
				rows.Close()
				return nil, err
			}
			d.cache[i] = tlog.Hash(h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]tlog.Hash, len(indexes))
	for k, i := range indexes {
		h, ok := d.cache[i]
		if !ok {
			return nil, fmt.Errorf("tree hash %d is missing", i)
		}
		out[k] = h
	}
	return out, nil
}

// HashReader returns a tlog.HashReader over the stored tree hashes.
func HashReader(ctx context.Context, q Query) tlog.HashReader {
	return &dbHashes{ctx: ctx, q: q, cache: map[int64]tlog.Hash{}}
}

// LatestCheckpoint returns the newest signed checkpoint, or nil when the log
// is empty.
func LatestCheckpoint(ctx context.Context, q Query) ([]byte, error) {
	rows, err := q.Query(ctx, `SELECT signed FROM audit_checkpoints ORDER BY size DESC LIMIT 1`)
	if err != nil {
		return nil, fmt.Errorf("couldn't read checkpoints: %w", err)
	}
	signed, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil || len(signed) == 0 {
		return nil, err
	}
	return signed[0], nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
