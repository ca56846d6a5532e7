package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
	"primaryvote/elections"
)

// Credentials holds the voters' public credentials, which the credential
// authority made and published, and signs voters in by possession of the
// key: the server holds no code and no hash of one.
type Credentials struct {
	pool    *pgxpool.Pool
	secrets *Secrets
	clock   func() time.Time
	// verifier checks concurrent sign-ins' signatures in one batch.
	verifier *ballot.Verifier

	mu      sync.Mutex
	signIns map[string]*entry.SignIns // by election, since the last LogSignIns
	used    map[[32]byte]time.Time    // sign-in signatures seen, until they expire
	swept   time.Time                 // when used was last rid of expired ones
}

// NewCredentials returns the credential store.
func NewCredentials(pool *pgxpool.Pool, secrets *Secrets, clock func() time.Time) *Credentials {
	return &Credentials{pool: pool, secrets: secrets, clock: clock, verifier: ballot.NewVerifier(),
		signIns: map[string]*entry.SignIns{}, used: map[[32]byte]time.Time{}}
}

// SignInWindow is how far a sign-in's time may be from the server's clock.
const SignInWindow = 5 * time.Minute

// errBadCredential is the one answer to every failed sign-in, whatever failed.
var errBadCredential = pv.Errorf(pv.EUnauthorized, "The voter ID or code is not correct.")

// CredentialsSummary describes an imported credentials file.
type CredentialsSummary struct {
	Voters int `json:"voters"`
	// SHA256 is the file's, hex: the authority published it.
	SHA256 string `json:"sha256"`
}

// Import loads the credential authority's public credentials file (FORMAT.md)
// into a draft election, replacing any earlier one, all or nothing: every
// voter on the roll exactly once, each in the group the roll gives them.
// The log records the file's SHA-256, which the authority published.
func (c *Credentials) Import(ctx context.Context, electionID string, r io.Reader, actor string) (*CredentialsSummary, error) {
	digest := sha256.New()
	var summary *CredentialsSummary
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		status, err := elections.LockForChange(ctx, tx, electionID)
		if err != nil {
			return err
		}
		if status != ballot.Draft {
			return pv.Errorf(pv.EConflict, "election %q is %s: credentials are imported only in draft; replace a lost one with credentials replace", electionID, status)
		}
		roll, err := rollGroups(ctx, tx, electionID)
		if err != nil {
			return err
		}
		if len(roll) == 0 {
			return pv.Errorf(pv.EConflict, "election %q has no voters: import the roll first", electionID)
		}
		var rows [][]any
		err = ballot.ReadCredentials(io.TeeReader(r, digest), func(p ballot.PublicCredential) error {
			group, ok := roll[p.VoterID]
			switch {
			case !ok:
				return pv.Errorf(pv.EInvalid, "credentials line %d: voter %q is not on the roll", len(rows)+2, p.VoterID)
			case group != p.Group:
				return pv.Errorf(pv.EInvalid, "credentials line %d: voter %q is in group %q on the roll, not %q", len(rows)+2, p.VoterID, group, p.Group)
			}
			rows = append(rows, []any{electionID, p.VoterID, p.P})
			return nil
		})
		if err != nil {
			return err
		}
		if len(rows) != len(roll) {
			return pv.Errorf(pv.EInvalid, "the credentials file has %d voters; the roll has %d", len(rows), len(roll))
		}
		if _, err := tx.Exec(ctx, `DELETE FROM voter_credentials WHERE election_id = $1`, electionID); err != nil {
			return fmt.Errorf("couldn't clear old credentials: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"voter_credentials"}, []string{"election_id", "voter_id", "credential"}, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("couldn't store credentials: %w", err)
		}
		summary = &CredentialsSummary{Voters: len(rows), SHA256: hex.EncodeToString(digest.Sum(nil))}
		return audit.Append(ctx, tx, audit.Entry{
			ElectionID: electionID, Kind: entry.KindCredentialsImport, Actor: actor, At: c.clock(),
			Data: entry.CredentialsImported{Voters: summary.Voters, SHA256: summary.SHA256},
		})
	})
	return summary, err
}

// rollGroups returns the election's voters and their groups.
func rollGroups(ctx context.Context, tx pgx.Tx, electionID string) (map[string]string, error) {
	rows, err := tx.Query(ctx, `SELECT voter_id, group_id FROM voters WHERE election_id = $1`, electionID)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the roll: %w", err)
	}
	defer rows.Close()
	roll := map[string]string{}
	var id, group string
	_, err = pgx.ForEachRow(rows, []any{&id, &group}, func() error {
		roll[id] = group
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't read the roll: %w", err)
	}
	return roll, nil
}

// Replace gives a voter who lost their code the new public credential the
// authority made them, read from a public credentials file of that one
// voter. It is refused once the voter has voted, and once the election has
// closed. The log names the voter by pseudonym, and the old and new
// credentials.
func (c *Credentials) Replace(ctx context.Context, electionID string, r io.Reader, actor string) (*ballot.PublicCredential, error) {
	var lines []ballot.PublicCredential
	if err := ballot.ReadCredentials(r, func(p ballot.PublicCredential) error {
		lines = append(lines, p)
		return nil
	}); err != nil {
		return nil, err
	}
	if len(lines) != 1 {
		return nil, pv.Errorf(pv.EInvalid, "a replacement is a credentials file of one voter; this one has %d", len(lines))
	}
	p := lines[0]
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		status, err := elections.LockForChange(ctx, tx, electionID)
		if err != nil {
			return err
		}
		if status != ballot.Draft && status != ballot.Open {
			return pv.Errorf(pv.EConflict, "election %q is %s: credentials can no longer change", electionID, status)
		}
		var group string
		var old []byte
		var voted bool
		err = tx.QueryRow(ctx, `
SELECT v.group_id, c.credential, EXISTS (SELECT 1 FROM ballots b WHERE b.election_id = c.election_id AND b.credential = c.credential)
FROM voters v JOIN voter_credentials c USING (election_id, voter_id)
WHERE v.election_id = $1 AND v.voter_id = $2
FOR UPDATE OF c`, electionID, p.VoterID).Scan(&group, &old, &voted)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return pv.Errorf(pv.ENotFound, "no voter %q with a credential in election %q", p.VoterID, electionID)
		case err != nil:
			return fmt.Errorf("couldn't read the credential: %w", err)
		case voted:
			return pv.Errorf(pv.EConflict, "voter %q has already voted: their credential can no longer change", p.VoterID)
		case group != p.Group:
			return pv.Errorf(pv.EInvalid, "voter %q is in group %q on the roll, not %q", p.VoterID, group, p.Group)
		}
		if _, err := tx.Exec(ctx, `UPDATE voter_credentials SET credential = $3 WHERE election_id = $1 AND voter_id = $2`,
			electionID, p.VoterID, p.P); err != nil {
			if isUniqueViolation(err) {
				return pv.Errorf(pv.EConflict, "the new credential of %q is another voter's", p.VoterID)
			}
			return fmt.Errorf("couldn't store the credential: %w", err)
		}
		ps := c.secrets.Pseudonym(electionID, p.VoterID)
		return audit.Append(ctx, tx, audit.Entry{
			ElectionID: electionID, Kind: entry.KindCredentialsReplace, Actor: actor, At: c.clock(),
			Data: entry.CredentialReplaced{Voter: hex.EncodeToString(ps[:]), Old: hex.EncodeToString(old), New: hex.EncodeToString(p.P)},
		})
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// dummyCredential stands in for an unknown voter's, so that every failed
// sign-in does the same work.
var dummyCredential = func() []byte {
	c, _ := ballot.DeriveCredential("", "00000-00000-00000-00000-00000")
	return c.Public()
}()

// SignIn checks a voter's sign-in: the signature, by the voter's credential
// key, of the sign-in statement for the election, the voter and the time at
// (ballot.SignInStatement), within SignInWindow of the server's clock and
// never seen before; the signatures of concurrent sign-ins are checked in
// one batch. Every failure — unknown voter, bad signature — returns the same
// EUnauthorized error after the same work. It returns the voter's group and
// whether they have voted. It writes nothing: sign-ins and failures are
// counted, and the counts logged once a minute (LogSignIns).
func (c *Credentials) SignIn(ctx context.Context, electionID, voterID string, at time.Time, signature []byte) (group string, voted bool, err error) {
	now := c.clock()
	if d := now.Sub(at); d > SignInWindow || d < -SignInWindow {
		return "", false, pv.Errorf(pv.EUnauthorized, "The sign-in was made at %s, too far from the server's time (%s): check your device's clock and try again.",
			at.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	var public []byte
	err = c.pool.QueryRow(ctx, `
SELECT c.credential, v.group_id, EXISTS (SELECT 1 FROM ballots b WHERE b.election_id = c.election_id AND b.credential = c.credential)
FROM voter_credentials c JOIN voters v USING (election_id, voter_id)
WHERE c.election_id = $1 AND c.voter_id = $2`, electionID, voterID).Scan(&public, &group, &voted)
	known := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", false, fmt.Errorf("couldn't read credential: %w", err)
	}
	if !known {
		public = dummyCredential
	}
	verr := c.verifier.VerifySignature(public, ballot.SignInContext, ballot.SignInStatement(electionID, voterID, at), signature)
	if !known || verr != nil {
		c.countFailure(electionID, known)
		return "", false, errBadCredential
	}
	if !c.markUsed(sha256.Sum256(signature), at) {
		return "", false, pv.Errorf(pv.EUnauthorized, "This sign-in was already used: sign in again.")
	}
	c.count(electionID, func(s *entry.SignIns) { s.SignedIn++ })
	return group, voted, nil
}

// markUsed remembers a sign-in signature (by its hash) until its time leaves
// the window, after which SignIn refuses it anyway. It reports false if the
// signature has already signed a voter in.
func (c *Credentials) markUsed(key [32]byte, at time.Time) bool {
	now := c.clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, seen := c.used[key]; seen {
		return false
	}
	// Expired signatures go at most once a window: sweeping on every
	// sign-in would cost each one a pass over five minutes of sign-ins.
	if now.Sub(c.swept) > SignInWindow {
		for k, expires := range c.used {
			if now.After(expires) {
				delete(c.used, k)
			}
		}
		c.swept = now
	}
	c.used[key] = at.Add(SignInWindow)
	return true
}

func (c *Credentials) countFailure(electionID string, known bool) {
	c.count(electionID, func(s *entry.SignIns) {
		if known {
			s.WrongCode++
		} else {
			s.UnknownVoter++
		}
	})
}

// count adds to the election's sign-in counts.
func (c *Credentials) count(electionID string, add func(*entry.SignIns)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.signIns[electionID]
	if s == nil {
		s = &entry.SignIns{From: c.clock().UTC()}
		c.signIns[electionID] = s
	}
	add(s)
}

// LogSignIns appends, for each election, the sign-ins and failures counted
// since the last call, and starts counting afresh. Counts it cannot log
// are kept for the next call.
func (c *Credentials) LogSignIns(ctx context.Context) error {
	c.mu.Lock()
	counted := c.signIns
	c.signIns = map[string]*entry.SignIns{}
	c.mu.Unlock()
	now := c.clock().UTC()
	var errs []error
	for id, s := range counted {
		s.To = now
		if err := audit.Append(ctx, c.pool, audit.Entry{ElectionID: id, Kind: entry.KindVoterSignIns, Actor: "system", At: now, Data: *s}); err != nil {
			errs = append(errs, err)
			c.count(id, func(next *entry.SignIns) {
				next.From = s.From
				next.SignedIn += s.SignedIn
				next.WrongCode += s.WrongCode
				next.UnknownVoter += s.UnknownVoter
			})
		}
	}
	return errors.Join(errs...)
}

// RunSignInLog logs the sign-in counts every interval until ctx ends, and
// once more then.
func (c *Credentials) RunSignInLog(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := c.LogSignIns(context.WithoutCancel(ctx)); err != nil {
				logger.Error("couldn't log the sign-in counts", "err", err)
			}
			return
		case <-t.C:
			if err := c.LogSignIns(ctx); err != nil {
				logger.Error("couldn't log the sign-in counts", "err", err)
			}
		}
	}
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
