package elections

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"primaryvote/audit"
)

// A castWriter stores verified ballots of concurrent casts together: one
// statement, one round trip and one durable commit for all the casts that
// arrived while the previous write was on its way, rather than one each. A
// cast alone is written at once; a write is never held back to wait for
// others. At most writers transactions run at a time, each of at most
// maxGroup ballots. Each cast gets its own answer: stored, or not stored
// (and the caller asks why), or the error of its write.
type castWriter struct {
	pool     *pgxpool.Pool
	writers  int
	maxGroup int

	mu      sync.Mutex
	queue   []*pendingCast
	running int
}

// A pendingCast is a verified ballot waiting to be stored, with its
// idempotency record and its log entry.
type pendingCast struct {
	electionID, voterID, group string
	credential                 []byte
	tracking                   []byte // the tracking hash, the ballot's SHA-256
	content, keyHash, response []byte
	entry                      audit.Entry

	stored bool
	err    error
	done   chan struct{}
}

// writeTimeout bounds one group's write, which no single cast's caller
// can cancel: the others' ballots ride on it.
const writeTimeout = 30 * time.Second

func newCastWriter(pool *pgxpool.Pool) *castWriter {
	return &castWriter{pool: pool, writers: 2, maxGroup: 64}
}

// store queues c and waits until it is written. It reports whether the
// ballot was stored; a ballot not stored changed nothing.
func (w *castWriter) store(c *pendingCast) (bool, error) {
	c.done = make(chan struct{})
	w.mu.Lock()
	w.queue = append(w.queue, c)
	if w.running < w.writers {
		w.running++
		go w.work()
	}
	w.mu.Unlock()
	<-c.done
	return c.stored, c.err
}

func (w *castWriter) work() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.running--
			w.mu.Unlock()
			return
		}
		n := min(len(w.queue), w.maxGroup)
		casts := w.queue[:n:n]
		w.queue = w.queue[n:]
		w.mu.Unlock()
		w.write(casts)
	}
}

// write stores casts, one transaction per election among them. If a
// group's transaction fails for a reason other than the database being
// out of reach, each of its casts is written again alone, so that one
// ballot's failure is never another's.
func (w *castWriter) write(casts []*pendingCast) {
	byElection := map[string][]*pendingCast{}
	for _, c := range casts {
		byElection[c.electionID] = append(byElection[c.electionID], c)
	}
	for _, group := range byElection {
		if err := w.writeGroup(group); err != nil {
			alone := len(group) > 1 && !unreachable(err)
			for _, c := range group {
				c.err = err
				if alone {
					c.err = w.writeGroup([]*pendingCast{c})
				}
			}
		}
		for _, c := range group {
			close(c.done)
		}
	}
}

// unreachable reports whether err is the database's connection failing
// rather than a statement's.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	return !errors.As(err, &pgErr)
}

// writeGroup stores the ballots of one election in one implicit
// transaction of three statements sent in one round trip: the locks
// (queueCastLocks), then the insert, which reads the election's status and
// the checked copies afresh under the locks and stores each ballot only if
// its credential is its voter's and the voter in the group their session
// names. One ballot per credential is the table's constraint: a ballot
// whose credential has one already is left out.
func (w *castWriter) writeGroup(casts []*pendingCast) error {
	electionID := casts[0].electionID
	// A ballot sent twice at once (a retry under the same key) is stored
	// once: the copy that is not sent is answered as a retry.
	seen := map[string]bool{}
	casts = slices.DeleteFunc(slices.Clone(casts), func(c *pendingCast) bool {
		dup := seen[string(c.tracking)]
		seen[string(c.tracking)] = true
		return dup
	})
	var (
		voters, groups                             []string
		credentials, tracking, contents, keys, rsp [][]byte
		entries                                    []audit.Entry
	)
	for _, c := range casts {
		voters, groups = append(voters, c.voterID), append(groups, c.group)
		credentials, tracking = append(credentials, c.credential), append(tracking, c.tracking)
		contents, keys, rsp = append(contents, c.content), append(keys, c.keyHash), append(rsp, c.response)
		entries = append(entries, c.entry)
	}
	b := &pgx.Batch{}
	queueCastLocks(b, electionID, credentials...)
	if err := audit.AppendEachWith(b, insertBallots,
		[]any{electionID, voters, credentials, groups, tracking, contents, keys, rsp}, tracking, entries); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	br := w.pool.SendBatch(ctx, b)
	stored := map[string]bool{}
	_, err := br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	if err == nil {
		var rows pgx.Rows
		rows, err = br.Query()
		if err == nil {
			var key []byte
			_, err = pgx.ForEachRow(rows, []any{&key}, func() error {
				stored[string(key)] = true
				return nil
			})
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("couldn't store the ballots: %w", err)
	}
	for _, c := range casts {
		c.stored = stored[string(c.tracking)]
	}
	return nil
}

// queueCastLocks queues the first two statements of a cast's or a check's
// transaction: the election's lock, shared (Close takes it exclusively),
// and the locks of the ballots' public credentials, exclusive, so that one
// copy is never both checked and cast. Every transaction takes the
// credentials' locks in one order, so none waits for another in a cycle. A
// credential's lock uses PostgreSQL's pair-of-int4 keys, a key space apart
// from the elections' bigint keys: P's first eight bytes.
func queueCastLocks(b *pgx.Batch, electionID string, credentials ...[]byte) {
	type key struct{ hi, lo int32 }
	ks := make([]key, len(credentials))
	for i, c := range credentials {
		ks[i] = key{int32(binary.BigEndian.Uint32(c[0:4])), int32(binary.BigEndian.Uint32(c[4:8]))}
	}
	slices.SortFunc(ks, func(a, b key) int { return cmp.Or(cmp.Compare(a.hi, b.hi), cmp.Compare(a.lo, b.lo)) })
	his, los := make([]int32, len(ks)), make([]int32, len(ks))
	for i, k := range ks {
		his[i], los[i] = k.hi, k.lo
	}
	b.Queue(`SELECT pg_advisory_xact_lock_shared(`+lockKey+`)`, electionID)
	b.Queue(`SELECT count(pg_advisory_xact_lock(hi, lo)) FROM unnest($1::int4[], $2::int4[]) AS t(hi, lo)`, his, los)
}

// insertBallots stores verified ballots with their idempotency records,
// each only if its credential is its voter's, the voter in the group
// named, the election open as seen under the election's lock, and the
// ballot not a copy the voter checked. Each ballot's voter is looked up on
// their own, by index, whatever the planner guesses of the group's size.
const insertBallots = `
INSERT INTO ballots (election_id, credential, group_id, tracking_code, content, idempotency_key_hash, response)
SELECT $1, c.credential, v.group_id, r.tracking_code, r.content, r.key_hash, r.response
FROM unnest($2::text[], $3::bytea[], $4::text[], $5::bytea[], $6::bytea[], $7::bytea[], $8::bytea[])
       AS r(voter_id, credential, group_id, tracking_code, content, key_hash, response)
CROSS JOIN LATERAL (SELECT c.credential FROM voter_credentials c
    WHERE c.election_id = $1 AND c.voter_id = r.voter_id AND c.credential = r.credential LIMIT 1) c
CROSS JOIN LATERAL (SELECT v.group_id FROM voters v
    WHERE v.election_id = $1 AND v.voter_id = r.voter_id AND v.group_id = r.group_id LIMIT 1) v
WHERE EXISTS (SELECT 1 FROM elections WHERE id = $1 AND status = 'open')
  AND NOT EXISTS (SELECT 1 FROM spoiled_ballots s WHERE s.election_id = $1 AND s.tracking_code = r.tracking_code)
ON CONFLICT DO NOTHING
RETURNING tracking_code AS key`
