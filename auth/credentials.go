package auth

import (
	"context"
	"crypto/hmac"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
	"primaryvote/elections"
)

// Credentials issues voter codes and checks them at sign-in.
type Credentials struct {
	pool    *pgxpool.Pool
	secrets *Secrets
	clock   func() time.Time

	mu       sync.Mutex
	failures map[string]*entry.SignInFailures // by election, since the last LogFailures
}

// NewCredentials returns a credential store keyed by the secrets' pepper.
func NewCredentials(pool *pgxpool.Pool, secrets *Secrets, clock func() time.Time) *Credentials {
	return &Credentials{pool: pool, secrets: secrets, clock: clock, failures: map[string]*entry.SignInFailures{}}
}

// errBadCredential is the one answer to every failed sign-in, whatever failed.
var errBadCredential = pv.Errorf(pv.EUnauthorized, "The voter ID or code is not correct.")

// IssueAll gives every voter on a draft election's roll a new code, replacing
// any earlier ones, and writes "voter_id,code" lines (with that header) to w
// for the party's mail merge. Codes are written to w before the transaction
// commits; if IssueAll fails, what was written is worthless and must be
// discarded.
func (c *Credentials) IssueAll(ctx context.Context, electionID string, w io.Writer, actor string) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		status, err := elections.LockForChange(ctx, tx, electionID)
		if err != nil {
			return err
		}
		if status != ballot.Draft {
			return pv.Errorf(pv.EConflict, "election %q is %s: codes for the whole roll are issued only in draft; use --voter to re-issue one", electionID, status)
		}
		rows, err := tx.Query(ctx, `SELECT voter_id FROM voters WHERE election_id = $1 ORDER BY voter_id`, electionID)
		if err != nil {
			return fmt.Errorf("couldn't read the roll: %w", err)
		}
		voters, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("couldn't read the roll: %w", err)
		}
		if len(voters) == 0 {
			return pv.Errorf(pv.EConflict, "election %q has no voters: import the roll first", electionID)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM voter_credentials WHERE election_id = $1`, electionID); err != nil {
			return fmt.Errorf("couldn't clear old credentials: %w", err)
		}
		out := csv.NewWriter(w)
		if err := out.Write([]string{"voter_id", "code"}); err != nil {
			return fmt.Errorf("couldn't write codes: %w", err)
		}
		i := 0
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"voter_credentials"}, []string{"election_id", "voter_id", "code_hash"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(voters) {
					return nil, nil
				}
				id := voters[i]
				i++
				code := ballot.NewCode()
				norm, _ := ballot.NormalizeCode(code)
				if err := out.Write([]string{id, code}); err != nil {
					return nil, fmt.Errorf("couldn't write codes: %w", err)
				}
				return []any{electionID, id, codeHash(c.secrets.Pepper, electionID, id, norm)}, nil
			}))
		if err != nil {
			return fmt.Errorf("couldn't store credentials: %w", err)
		}
		out.Flush()
		if err := out.Error(); err != nil {
			return fmt.Errorf("couldn't write codes: %w", err)
		}
		n = len(voters)
		return audit.Append(ctx, tx, audit.Entry{
			ElectionID: electionID, Kind: entry.KindCredentialsIssue, Actor: actor, At: c.clock(),
			Data: entry.CredentialsIssued{Voters: n},
		})
	})
	return n, err
}

// Reissue gives one voter a new code, invalidating the old one, and returns
// it. It is refused once the election has closed.
func (c *Credentials) Reissue(ctx context.Context, electionID, voterID, actor string) (string, error) {
	code := ballot.NewCode()
	norm, _ := ballot.NormalizeCode(code)
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		status, err := elections.LockForChange(ctx, tx, electionID)
		if err != nil {
			return err
		}
		if status != ballot.Draft && status != ballot.Open {
			return pv.Errorf(pv.EConflict, "election %q is %s: credentials can no longer change", electionID, status)
		}
		tag, err := tx.Exec(ctx, `
INSERT INTO voter_credentials (election_id, voter_id, code_hash)
SELECT election_id, voter_id, $3 FROM voters WHERE election_id = $1 AND voter_id = $2
ON CONFLICT (election_id, voter_id) DO UPDATE SET code_hash = excluded.code_hash`,
			electionID, voterID, codeHash(c.secrets.Pepper, electionID, voterID, norm))
		if err != nil {
			return fmt.Errorf("couldn't store credential: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return pv.Errorf(pv.ENotFound, "no voter %q in election %q", voterID, electionID)
		}
		p := c.secrets.Pseudonym(electionID, voterID)
		return audit.Append(ctx, tx, audit.Entry{
			ElectionID: electionID, Kind: entry.KindCredentialsReissue, Actor: actor, At: c.clock(),
			Data: entry.CredentialReissued{Voter: hex.EncodeToString(p[:])},
		})
	})
	if err != nil {
		return "", err
	}
	return code, nil
}

// Check verifies a voter's code. Every failure — unknown voter, wrong code,
// malformed code — returns the same EUnauthorized error after the same work:
// an unknown voter is compared against a dummy hash, and no failure writes
// to the database. The audit log records each sign-in by the voter's
// pseudonym, and the failures as counts (LogFailures).
func (c *Credentials) Check(ctx context.Context, electionID, voterID, code string) error {
	known, err := c.check(ctx, electionID, voterID, code)
	switch {
	case pv.ErrorCode(err) == pv.EInternal:
		return err
	case err != nil:
		c.countFailure(electionID, known)
		return err
	}
	p := c.secrets.Pseudonym(electionID, voterID)
	return audit.Append(ctx, c.pool, audit.Entry{
		ElectionID: electionID, Kind: entry.KindVoterSignIn, Actor: "voter", At: c.clock(),
		Data: entry.Voter{Voter: hex.EncodeToString(p[:])},
	})
}

func (c *Credentials) countFailure(electionID string, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.failures[electionID]
	if f == nil {
		f = &entry.SignInFailures{From: c.clock().UTC()}
		c.failures[electionID] = f
	}
	if known {
		f.WrongCode++
	} else {
		f.UnknownVoter++
	}
}

// LogFailures appends, for each election, the sign-in failures counted
// since the last call, and starts counting afresh.
func (c *Credentials) LogFailures(ctx context.Context) error {
	c.mu.Lock()
	counted := c.failures
	c.failures = map[string]*entry.SignInFailures{}
	c.mu.Unlock()
	now := c.clock().UTC()
	var errs []error
	for id, f := range counted {
		f.To = now
		if err := audit.Append(ctx, c.pool, audit.Entry{ElectionID: id, Kind: entry.KindVoterSignInFailures, Actor: "system", At: now, Data: *f}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RunFailureLog logs the counted failures every interval until ctx ends,
// and once more then.
func (c *Credentials) RunFailureLog(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := c.LogFailures(context.WithoutCancel(ctx)); err != nil {
				logger.Error("couldn't log sign-in failures", "err", err)
			}
			return
		case <-t.C:
			if err := c.LogFailures(ctx); err != nil {
				logger.Error("couldn't log sign-in failures", "err", err)
			}
		}
	}
}

// check reports whether the voter is on the roll and whether the code is
// theirs.
func (c *Credentials) check(ctx context.Context, electionID, voterID, code string) (known bool, err error) {
	norm, wellFormed := ballot.NormalizeCode(code)
	var stored []byte
	err = c.pool.QueryRow(ctx, `SELECT code_hash FROM voter_credentials WHERE election_id = $1 AND voter_id = $2`,
		electionID, voterID).Scan(&stored)
	known = err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("couldn't read credential: %w", err)
	}
	if !known {
		stored = make([]byte, 32)
	}
	match := hmac.Equal(codeHash(c.secrets.Pepper, electionID, voterID, norm), stored)
	if !known || !wellFormed || !match {
		return known, errBadCredential
	}
	return true, nil
}
