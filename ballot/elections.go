package ballot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	pv "primaryvote"
	"primaryvote/audit"
)

// Pseudonyms names voters in the audit log (auth.Secrets implements it).
type Pseudonyms interface {
	Pseudonym(electionID, voterID string) [32]byte
}

// Elections stores elections and moves them through their lifecycle.
type Elections struct {
	pool       *pgxpool.Pool
	clock      func() time.Time
	pseudonyms Pseudonyms

	mu sync.Mutex
	// frozen caches the definitions and keys of elections that have left
	// draft: from then on neither changes.
	frozen map[string]*frozen
}

type frozen struct {
	def *Definition
	key *ElectionKey

	// While the election is open, every voter's requests read it; the
	// open state read last is reused for openFor (see Get).
	open *Election
	// openAt is when open was read.
	openAt time.Time
}

// openFor is how long Get reuses an open election's state instead of reading
// it again. A close by another process is therefore seen up to this late by
// the pages and sign-in; a cast never misses it, since it reads the status
// again under the election lock in its own transaction.
const openFor = 250 * time.Millisecond

// NewElections returns an election store on pool; clock is the server's
// clock and pseudonyms names voters in the audit log.
func NewElections(pool *pgxpool.Pool, clock func() time.Time, pseudonyms Pseudonyms) *Elections {
	return &Elections{pool: pool, clock: clock, pseudonyms: pseudonyms, frozen: map[string]*frozen{}}
}

// rowQuerier is satisfied by a pool, a connection and a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// lockKey is the advisory-lock key of an election. Casting holds it shared,
// closing holds it exclusively, so a close waits for in-flight casts and no
// ballot commits after the close does.
const lockKey = `hashtextextended('election:' || $1, 0)`

const insertElection = `
INSERT INTO elections (id, title, opens_at, closes_at, definition) VALUES ($1, $2, $3, $4, $5)`

// Create stores a new election in draft.
func (s *Elections) Create(ctx context.Context, d *Definition, actor string) error {
	if err := d.Validate(); err != nil {
		return err
	}
	def, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("couldn't encode definition: %w", err)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertElection, d.ID, d.Title, d.OpensAt, d.ClosesAt, def); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" {
				return pv.Errorf(pv.EConflict, "election %q already exists", d.ID)
			}
			return fmt.Errorf("couldn't create election: %w", err)
		}
		for _, g := range d.Groups {
			if _, err := tx.Exec(ctx, `INSERT INTO voter_groups (election_id, id) VALUES ($1, $2)`, d.ID, g.ID); err != nil {
				return fmt.Errorf("couldn't create group: %w", err)
			}
		}
		return audit.Append(ctx, tx, audit.Entry{
			ElectionID: d.ID, Kind: "election.create", Actor: actor, At: s.clock(),
			Data: map[string]any{"definition": json.RawMessage(def)},
		})
	})
}

const selectElection = `
SELECT e.status, e.opens_at, e.closes_at, e.definition, k.public_key
FROM elections e LEFT JOIN election_keys k ON k.election_id = e.id
WHERE e.id = $1`

// Get returns the election with the given id, or an ENotFound error.
func (s *Elections) Get(ctx context.Context, id string) (*Election, error) {
	s.mu.Lock()
	f := s.frozen[id]
	var open *Election
	if f != nil && f.open != nil && time.Since(f.openAt) < openFor {
		copied := *f.open
		open = &copied
	}
	s.mu.Unlock()
	if open != nil {
		return open, nil
	}
	e, err := s.get(ctx, s.pool, id)
	if err == nil && e.Status == Open {
		copied := *e
		s.mu.Lock()
		if f := s.frozen[id]; f != nil {
			f.open, f.openAt = &copied, time.Now()
		}
		s.mu.Unlock()
	}
	return e, err
}

// forget drops the reused open state of an election whose status this
// process has just changed.
func (s *Elections) forget(id string) {
	s.mu.Lock()
	if f := s.frozen[id]; f != nil {
		f.open = nil
	}
	s.mu.Unlock()
}

func (s *Elections) get(ctx context.Context, q rowQuerier, id string) (*Election, error) {
	if !idPattern.MatchString(id) {
		return nil, pv.Errorf(pv.ENotFound, "no election %q", id)
	}
	var (
		e        Election
		raw, key []byte
	)
	err := q.QueryRow(ctx, selectElection, id).Scan(&e.Status, &e.OpensAt, &e.ClosesAt, &raw, &key)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pv.Errorf(pv.ENotFound, "no election %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read election: %w", err)
	}
	f, err := s.freeze(id, e.Status, raw, key)
	if err != nil {
		return nil, err
	}
	e.ID, e.Title, e.Groups, e.Questions, e.Key = f.def.ID, f.def.Title, f.def.Groups, f.def.Questions, f.key
	return &e, nil
}

// freeze decodes a stored definition and key, from the cache once the
// election has left draft.
func (s *Elections) freeze(id string, status Status, raw, key []byte) (*frozen, error) {
	s.mu.Lock()
	f := s.frozen[id]
	s.mu.Unlock()
	if f != nil {
		return f, nil
	}
	f = &frozen{def: new(Definition)}
	if err := json.Unmarshal(raw, f.def); err != nil {
		return nil, fmt.Errorf("couldn't decode stored definition of %s: %w", id, err)
	}
	if key != nil {
		var err error
		if f.key, err = ParseElectionKey(key); err != nil {
			return nil, fmt.Errorf("stored key of %s: %w", id, err)
		}
	}
	if status != Draft {
		s.mu.Lock()
		s.frozen[id] = f
		s.mu.Unlock()
	}
	return f, nil
}

// List returns every election's id, title and status, newest first.
func (s *Elections) List(ctx context.Context) ([]Election, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, title, status, opens_at, closes_at FROM elections ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("couldn't list elections: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Election, error) {
		var e Election
		err := r.Scan(&e.ID, &e.Title, &e.Status, &e.OpensAt, &e.ClosesAt)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't list elections: %w", err)
	}
	return out, nil
}

// Public returns the elections the public may see: every one past draft,
// newest first.
func (s *Elections) Public(ctx context.Context) ([]Election, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	out := []Election{}
	for _, e := range all {
		if e.Status != Draft {
			out = append(out, e)
		}
	}
	return out, nil
}

// Open moves an election from draft to open. It refuses an election without
// a key, whose roll is empty, or in which any voter has no credential.
func (s *Elections) Open(ctx context.Context, id, actor string) error {
	return s.transition(ctx, id, actor, Draft, Open, func(tx pgx.Tx) (map[string]any, error) {
		var voters, credentials int
		var keyed bool
		err := tx.QueryRow(ctx, `
SELECT (SELECT count(*) FROM voters WHERE election_id = $1),
       (SELECT count(*) FROM voter_credentials WHERE election_id = $1),
       EXISTS (SELECT 1 FROM election_keys WHERE election_id = $1)`, id).Scan(&voters, &credentials, &keyed)
		if err != nil {
			return nil, fmt.Errorf("couldn't count the roll: %w", err)
		}
		if voters == 0 {
			return nil, pv.Errorf(pv.EConflict, "election %q has no voters: import the roll first", id)
		}
		if credentials != voters {
			return nil, pv.Errorf(pv.EConflict, "%d of %d voters in %q have no credential: issue credentials first", voters-credentials, voters, id)
		}
		if !keyed {
			return nil, pv.Errorf(pv.EConflict, "election %q has no key: run the trustees' key ceremony first", id)
		}
		commitment, err := s.rollCommitment(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		return map[string]any{"voters": voters, "roll": commitment}, nil
	})
}

// Close moves an election from open to closed. It waits for ballots being
// cast to commit; no ballot is accepted after it returns.
func (s *Elections) Close(ctx context.Context, id, actor string) error {
	return s.transition(ctx, id, actor, Open, Closed, func(tx pgx.Tx) (map[string]any, error) {
		var voted int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM participation WHERE election_id = $1`, id).Scan(&voted); err != nil {
			return nil, fmt.Errorf("couldn't count ballots: %w", err)
		}
		return map[string]any{"ballots": voted}, nil
	})
}

// LockForChange takes election id's exclusive lock for the rest of tx and
// returns its status. Every change to an election's roll, credentials or
// status holds it; casting holds it shared, so a change waits for ballots in
// flight and no ballot is accepted while it runs.
func LockForChange(ctx context.Context, tx pgx.Tx, id string) (Status, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, id); err != nil {
		return "", fmt.Errorf("couldn't lock election: %w", err)
	}
	var status Status
	err := tx.QueryRow(ctx, `SELECT status FROM elections WHERE id = $1`, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", pv.Errorf(pv.ENotFound, "no election %q", id)
	}
	if err != nil {
		return "", fmt.Errorf("couldn't read election: %w", err)
	}
	return status, nil
}

// transition moves election id from one status to the next under the
// election's exclusive lock, runs check inside the same transaction, and logs
// the step with check's details.
func (s *Elections) transition(ctx context.Context, id, actor string, from, to Status, check func(pgx.Tx) (map[string]any, error)) error {
	defer s.forget(id)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		status, err := LockForChange(ctx, tx, id)
		if err != nil {
			return err
		}
		if status != from {
			return pv.Errorf(pv.EConflict, "election %q is %s; only a %s election can become %s", id, status, from, to)
		}
		details, err := check(tx)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE elections SET status = $2 WHERE id = $1 AND status = $3`, id, to, from)
		if err != nil {
			return fmt.Errorf("couldn't update election: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("election %q changed status during %s", id, to)
		}
		details["from"], details["to"] = from, to
		return audit.Append(ctx, tx, audit.Entry{
			ElectionID: id, Kind: "election." + string(to), Actor: actor, At: s.clock(), Data: details,
		})
	})
}
