package elections

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"primaryvote/audit/entry"
	"primaryvote/ballot"
)

// Pseudonyms names voters in the audit log (auth.Secrets implements it).
type Pseudonyms interface {
	Pseudonym(electionID, voterID string) [32]byte
}

// Store keeps elections in PostgreSQL and moves them through their
// lifecycle: definitions (in the log), rolls, credentials' keys, casting,
// turnout and the count.
type Store struct {
	pool       *pgxpool.Pool
	clock      func() time.Time
	pseudonyms Pseudonyms
	// logKey verifies the log's checkpoints: what is read back from the log
	// (the definition, the results) is proven to be in the signed log.
	logKey string

	mu sync.Mutex
	// frozen caches the definitions and keys of elections that have left
	// draft: from then on neither changes.
	frozen map[string]*frozen

	timelinesMu sync.Mutex
	timelines   map[string]*timeline // ballots per minute, by election

	// verifier checks the ballots of concurrent casts in batches.
	verifier *ballot.Verifier
	// writer stores the ballots of concurrent casts together.
	writer *castWriter
}

type frozen struct {
	def *ballot.Definition
	key *ballot.ElectionKey
	// results are the logged results, once read and proven.
	results json.RawMessage

	// While the election is open, every voter's requests read it; the
	// open state read last is reused for openFor (see Get).
	open *ballot.Election
	// openAt is when open was read.
	openAt time.Time
}

// openFor is how long Get reuses an open election's state instead of reading
// it again. A close by another process is therefore seen up to this late by
// the pages and sign-in; a cast never misses it, since it reads the status
// again under the election lock in its own transaction.
const openFor = 250 * time.Millisecond

// New returns an election store on pool; clock is the server's
// clock, pseudonyms names voters in the audit log and logKey is the note
// verifier key of the log's checkpoints.
func New(pool *pgxpool.Pool, clock func() time.Time, pseudonyms Pseudonyms, logKey string) *Store {
	return &Store{pool: pool, clock: clock, pseudonyms: pseudonyms, logKey: logKey, frozen: map[string]*frozen{}, timelines: map[string]*timeline{}, verifier: ballot.NewVerifier(), writer: newCastWriter(pool)}
}

// rowQuerier is satisfied by a pool, a connection and a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// lockKey is the advisory-lock key of an election. Casting holds it shared,
// closing holds it exclusively, so a close waits for in-flight casts and no
// ballot commits after the close does.
const lockKey = `hashtextextended('election:' || $1, 0)`

const insertElection = `
INSERT INTO elections (id, title, opens_at, closes_at) VALUES ($1, $2, $3, $4)`

// Create stores a new election in draft. Its definition is stored in the
// audit log alone, where it is written once and read back by everything that
// depends on it (the ballot, the cast, the tally, the results); the
// elections table keeps the title and window only to list elections.
func (s *Store) Create(ctx context.Context, d *ballot.Definition, actor string) error {
	if err := d.Validate(); err != nil {
		return err
	}
	def, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("couldn't encode definition: %w", err)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertElection, d.ID, d.Title, d.OpensAt, d.ClosesAt); err != nil {
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
			ElectionID: d.ID, Kind: entry.KindElectionCreate, Actor: actor, At: s.clock(),
			Data: entry.Created{Definition: def},
		})
	})
}

const selectElection = `
SELECT e.status, k.public_key
FROM elections e LEFT JOIN election_keys k ON k.election_id = e.id
WHERE e.id = $1`

// Get returns the election with the given id, or an ENotFound error.
func (s *Store) Get(ctx context.Context, id string) (*ballot.Election, error) {
	s.mu.Lock()
	f := s.frozen[id]
	var open *ballot.Election
	if f != nil && f.open != nil && time.Since(f.openAt) < openFor {
		copied := *f.open
		open = &copied
	}
	s.mu.Unlock()
	if open != nil {
		return open, nil
	}
	e, err := s.get(ctx, s.pool, id)
	if err == nil && e.Status == ballot.Open {
		copied := *e
		s.mu.Lock()
		if f := s.frozen[id]; f != nil {
			f.open, f.openAt = &copied, time.Now()
		}
		s.mu.Unlock()
	}
	return e, err
}

// GetPublic returns an election the public may see: any but a draft. A
// draft gets exactly the answer an unknown id gets, so the public can tell
// neither its definition nor that it exists.
func (s *Store) GetPublic(ctx context.Context, id string) (*ballot.Election, error) {
	e, err := s.Get(ctx, id)
	if err == nil && e.Status == ballot.Draft {
		return nil, errNoElection(id)
	}
	return e, err
}

func errNoElection(id string) error { return pv.Errorf(pv.ENotFound, "no election %q", id) }

// forget drops the reused open state of an election whose status this
// process has just changed.
func (s *Store) forget(id string) {
	s.mu.Lock()
	if f := s.frozen[id]; f != nil {
		f.open = nil
	}
	s.mu.Unlock()
}

func (s *Store) get(ctx context.Context, q rowQuerier, id string) (*ballot.Election, error) {
	if !ballot.ValidElectionID(id) {
		return nil, errNoElection(id)
	}
	var (
		e   ballot.Election
		key []byte
	)
	err := q.QueryRow(ctx, selectElection, id).Scan(&e.Status, &key)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoElection(id)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read election: %w", err)
	}
	f, err := s.freeze(ctx, q, id, e.Status, key)
	if err != nil {
		return nil, err
	}
	d := f.def
	e.ID, e.Title, e.OpensAt, e.ClosesAt, e.Groups, e.Questions, e.Key = d.ID, d.Title, d.OpensAt, d.ClosesAt, d.Groups, d.Questions, f.key
	return &e, nil
}

// freeze reads an election's definition from the log and decodes its key,
// from the cache once the election has left draft and its definition is
// proven to be in the signed log.
func (s *Store) freeze(ctx context.Context, q rowQuerier, id string, status ballot.Status, key []byte) (*frozen, error) {
	s.mu.Lock()
	f := s.frozen[id]
	s.mu.Unlock()
	if f != nil {
		return f, nil
	}
	def, proven, err := s.loggedDefinition(ctx, q, id)
	if err != nil {
		return nil, err
	}
	f = &frozen{def: def}
	if key != nil {
		var err error
		if f.key, err = ballot.ParseElectionKey(key); err != nil {
			return nil, fmt.Errorf("stored key of %s: %w", id, err)
		}
	}
	if status != ballot.Draft && proven {
		s.mu.Lock()
		s.frozen[id] = f
		s.mu.Unlock()
	}
	return f, nil
}

// loggedDefinition returns election id's definition as the log recorded it
// when the election was created, and whether its record is proven to be in
// the signed log (it is not while the entry waits to be sequenced, for a
// moment after the creation).
func (s *Store) loggedDefinition(ctx context.Context, q audit.Query, id string) (*ballot.Definition, bool, error) {
	data, proven, err := s.logged(ctx, q, id, entry.KindElectionCreate)
	if err != nil {
		return nil, false, err
	}
	d, err := ballot.ParseDefinition(bytes.NewReader(data.(*entry.Created).Definition))
	if err != nil {
		return nil, false, fmt.Errorf("election %q: the logged definition: %w", id, err)
	}
	if d.ID != id {
		return nil, false, fmt.Errorf("election %q: the logged definition is for %q", id, d.ID)
	}
	return d, proven, nil
}

// logged returns the data of the first lifecycle entry of kind about
// election id, and whether its record is proven to be in the signed log. A
// record that fails the proof (rewritten in the database) is an error.
func (s *Store) logged(ctx context.Context, q audit.Query, id string, kind entry.Kind) (any, bool, error) {
	step, err := audit.FirstStep(ctx, q, id, kind)
	if errors.Is(err, audit.ErrNotLogged) {
		return nil, false, fmt.Errorf("election %q has no %s entry in the log", id, kind)
	}
	if err != nil {
		return nil, false, err
	}
	proven := true
	if err := step.Prove(ctx, q, s.logKey); errors.Is(err, audit.ErrQueued) {
		proven = false
	} else if err != nil {
		return nil, false, fmt.Errorf("election %q: %w", id, err)
	}
	data, err := step.Entry.Decode()
	if err != nil {
		return nil, false, fmt.Errorf("election %q: the logged %s: %w", id, kind, err)
	}
	return data, proven, nil
}

// List returns every election's id, title and status, newest first.
func (s *Store) List(ctx context.Context) ([]ballot.Election, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, title, status, opens_at, closes_at FROM elections ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("couldn't list elections: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ballot.Election, error) {
		var e ballot.Election
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
func (s *Store) Public(ctx context.Context) ([]ballot.Election, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	out := []ballot.Election{}
	for _, e := range all {
		if e.Status != ballot.Draft {
			out = append(out, e)
		}
	}
	return out, nil
}

// Open moves an election from draft to open. It refuses an election without
// a key, whose roll is empty, in which any voter has no credential, or whose
// window has already ended.
func (s *Store) Open(ctx context.Context, id, actor string) error {
	return s.transition(ctx, id, actor, ballot.Draft, ballot.Open, func(tx pgx.Tx) (any, error) {
		def, _, err := s.loggedDefinition(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if def.ClosesAt != nil && !s.clock().Before(*def.ClosesAt) {
			return nil, pv.Errorf(pv.EConflict, "election %q's voting window ended at %s: it can no longer be opened", id, def.ClosesAt.Format(time.RFC3339))
		}
		var voters, credentials int
		var keyed bool
		err = tx.QueryRow(ctx, `
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
			return nil, pv.Errorf(pv.EConflict, "%d of %d voters in %q have no credential: import the credential authority's credentials first", voters-credentials, voters, id)
		}
		if !keyed {
			return nil, pv.Errorf(pv.EConflict, "election %q has no key: run the trustees' key ceremony first", id)
		}
		commitment, err := s.rollCommitment(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		data, _, err := s.logged(ctx, tx, id, entry.KindElectionCreate)
		if err != nil {
			return nil, err
		}
		digest := sha256.Sum256(data.(*entry.Created).Definition)
		return entry.Opened{From: string(ballot.Draft), To: string(ballot.Open), Voters: voters, Roll: commitment,
			DefinitionSHA256: hex.EncodeToString(digest[:])}, nil
	})
}

// Close moves an election from open to closed. It waits for ballots being
// cast to commit; no ballot is accepted after it returns. The copies voters
// checked during the vote are logged just before the close.
func (s *Store) Close(ctx context.Context, id, actor string) error {
	return s.transition(ctx, id, actor, ballot.Open, ballot.Closed, func(tx pgx.Tx) (any, error) {
		if _, err := s.logSpoiled(ctx, tx, id, "voter", s.clock()); err != nil {
			return nil, err
		}
		var voted int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM ballots WHERE election_id = $1`, id).Scan(&voted); err != nil {
			return nil, fmt.Errorf("couldn't count ballots: %w", err)
		}
		return entry.Closed{From: string(ballot.Open), To: string(ballot.Closed), Ballots: voted}, nil
	})
}

// LockForChange takes election id's exclusive lock for the rest of tx and
// returns its status. Every change to an election's roll, credentials or
// status holds it; casting holds it shared, so a change waits for ballots in
// flight and no ballot is accepted while it runs.
func LockForChange(ctx context.Context, tx pgx.Tx, id string) (ballot.Status, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, id); err != nil {
		return "", fmt.Errorf("couldn't lock election: %w", err)
	}
	var status ballot.Status
	err := tx.QueryRow(ctx, `SELECT status FROM elections WHERE id = $1`, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", pv.Errorf(pv.ENotFound, "no election %q", id)
	}
	if err != nil {
		return "", fmt.Errorf("couldn't read election: %w", err)
	}
	return status, nil
}

// stepKinds are the log's entry kinds for the steps of the lifecycle.
var stepKinds = map[ballot.Status]entry.Kind{
	ballot.Open:      entry.KindElectionOpen,
	ballot.Closed:    entry.KindElectionClose,
	ballot.Tallied:   entry.KindElectionTallied,
	ballot.Published: entry.KindElectionPublished,
}

// transition moves election id from one status to the next under the
// election's exclusive lock, runs check inside the same transaction, and logs
// the step with the data check returns (of the step's kind, from and to
// filled in).
func (s *Store) transition(ctx context.Context, id, actor string, from, to ballot.Status, check func(pgx.Tx) (any, error)) error {
	defer s.forget(id)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		status, err := LockForChange(ctx, tx, id)
		if err != nil {
			return err
		}
		if status != from {
			return pv.Errorf(pv.EConflict, "election %q is %s; only a %s election can become %s", id, status, from, to)
		}
		data, err := check(tx)
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
		return audit.Append(ctx, tx, audit.Entry{
			ElectionID: id, Kind: stepKinds[to], Actor: actor, At: s.clock(), Data: data,
		})
	})
}
