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

// AppendWith encodes e and queues in b one statement that runs action, an
// INSERT … RETURNING whose parameters are args ($1 … $n), and appends e once
// for each row action returns: the action and its entry are written
// together or not at all, and the statement's command tag counts the
// entries appended (0 when action inserted nothing).
func AppendWith(b *pgx.Batch, action string, args []any, e Entry) error {
	body, err := Encode(e)
	if err != nil {
		return err
	}
	n := len(args)
	sql := fmt.Sprintf(`WITH action AS (%s)
INSERT INTO audit_entries (election_id, kind, ref, body)
SELECT NULLIF($%d, ''), $%d, NULLIF($%d, ''), $%d FROM action`, action, n+1, n+2, n+3, n+4)
	b.Queue(sql, append(args[:n:n], e.ElectionID, e.Kind, e.Ref, body)...)
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
