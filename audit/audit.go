// Package audit records every action of the service as an entry in an
// append-only log, written in the same transaction as the action itself, so
// that an action and its record commit together or not at all.
//
// An entry is encoded once, when it is appended, and its bytes are stored
// as-is; anything that later hashes or verifies the log works on those stored
// bytes and never re-encodes. The database refuses UPDATE, DELETE and TRUNCATE
// on the log.
//
// Entries never contain secrets: no voter code, password, token or choice.
// Voters appear by pseudonym.
//
// Appending is cheap and concurrent: an entry goes into a queue table in its
// action's transaction. The Sequencer then moves queued entries into the log
// proper, in batches, framing each as a record (package record) that carries
// the previous record's chain hash, adding it to an RFC 6962 Merkle tree
// (golang.org/x/mod/sumdb/tlog) and signing a checkpoint in the C2SP
// tlog-checkpoint format as a note (golang.org/x/mod/sumdb/note). Include
// proves a record's inclusion for receipts; Export writes an election's
// bundle, which package bundle verifies.
//
// This package is the only one that reads or writes the log's tables. The
// formats are pure packages any verifier can use without a database: record
// (records and checkpoints) and entry (the kinds of entry and their data,
// shared by every writer and the verifier). LOG.md specifies them, and the
// bundle, byte for byte. What the log records is the record: an election's
// definition and results are read back from their entries (lifecycle.go),
// proven against the newest signed checkpoint.
package audit

import (
	"context"
	"fmt"
	"primaryvote/audit/entry"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Entry is one action to record.
type Entry struct {
	// ElectionID is the election the action concerns, or "" for actions that
	// concern none (an official's sign-in).
	ElectionID string
	// Kind names the action (package entry).
	Kind entry.Kind
	// Actor is who did it: "official:NAME", "voter", "cli:USER" or "system".
	Actor string
	// At is when, by the acting server's clock.
	At time.Time
	// Data is the action's public details: a value of the kind's data type
	// (package entry), encoded as a JSON object.
	Data any
	// Ref is what the entry can be looked up by (a ballot's tracking code),
	// or "".
	Ref string
}

// Execer is satisfied by pgx.Tx, *pgx.Conn and *pgxpool.Pool. Pass the
// action's own transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

const insertEntry = `INSERT INTO audit_entries (election_id, kind, ref, body) VALUES (NULLIF($1, ''), $2, NULLIF($3, ''), $4)`

// Append encodes e and adds it to the log through q.
func Append(ctx context.Context, q Execer, e Entry) error {
	body, err := Encode(e)
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, insertEntry, e.ElectionID, e.Kind, e.Ref, body); err != nil {
		return fmt.Errorf("couldn't append audit entry %s: %w", e.Kind, err)
	}
	return nil
}

// Queue encodes e and queues its append in b, to be sent in the action's
// own transaction.
func Queue(b *pgx.Batch, e Entry) error {
	body, err := Encode(e)
	if err != nil {
		return err
	}
	b.Queue(insertEntry, e.ElectionID, e.Kind, e.Ref, body)
	return nil
}

// AppendEachWith encodes es and queues in b one statement that runs
// action, an INSERT … RETURNING whose parameters are args ($1 … $n) and
// whose rows each return a bytea column named key, and appends es[i] for
// each row whose key is keys[i], in the order of es. The keys must be
// distinct, so that no row is logged twice. The action and its entries are
// written together or not at all. The statement returns the keys of the
// rows action inserted.
func AppendEachWith(b *pgx.Batch, action string, args []any, keys [][]byte, es []Entry) error {
	if len(keys) != len(es) {
		return fmt.Errorf("audit: %d keys for %d entries", len(keys), len(es))
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[string(k)] {
			return fmt.Errorf("audit: the key %x names two entries", k)
		}
		seen[string(k)] = true
	}
	elections := make([]string, len(es))
	kinds := make([]string, len(es))
	refs := make([]string, len(es))
	bodies := make([][]byte, len(es))
	for i, e := range es {
		body, err := Encode(e)
		if err != nil {
			return err
		}
		elections[i], kinds[i], refs[i], bodies[i] = e.ElectionID, string(e.Kind), e.Ref, body
	}
	n := len(args)
	sql := fmt.Sprintf(`WITH action AS (%s), logged AS (
INSERT INTO audit_entries (election_id, kind, ref, body)
SELECT NULLIF(e.election_id, ''), e.kind, NULLIF(e.ref, ''), e.body
FROM unnest($%d::bytea[], $%d::text[], $%d::text[], $%d::text[], $%d::bytea[]) WITH ORDINALITY AS e(key, election_id, kind, ref, body, n)
JOIN action a ON a.key = e.key
ORDER BY e.n)
SELECT key FROM action`, action, n+1, n+2, n+3, n+4, n+5)
	b.Queue(sql, append(args[:n:n], keys, elections, kinds, refs, bodies)...)
	return nil
}

// Encode returns the bytes stored for e (entry.Encode).
func Encode(e Entry) ([]byte, error) {
	return entry.Encode(entry.Header{Election: e.ElectionID, Kind: e.Kind, Actor: e.Actor, At: e.At}, e.Data)
}

// Query is satisfied by pgx.Tx, *pgx.Conn and *pgxpool.Pool.
type Query interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}
