package elections

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
)

// CastRequest is one voter's attempt to cast a ballot.
type CastRequest struct {
	ElectionID string
	VoterID    string
	// IdempotencyKey identifies the attempt: a retry of the same ballot uses
	// the same key. It must be a long random value (ValidIdempotencyKey).
	IdempotencyKey string
	// Encrypted is the ballot the voter's device encrypted, proved and
	// signed with the voter's credential (ballot/FORMAT.md). The server
	// checks it and stores it as sent; it never sees a choice.
	Encrypted []byte
}

// The idempotency record of a cast is SHA-256 of its Idempotency-Key and
// SHA-256 of the encrypted ballot sent (its tracking hash): a retry sends
// the same ballot under the same key. Only the client holds the key (the
// database keeps its hash). The key must be long and random.
const (
	minIdempotencyKey = 32
	maxIdempotencyKey = 255
)

// ValidIdempotencyKey reports whether k can key an idempotency record: 32 to
// 255 printable ASCII characters without spaces, such as 128 random bits in
// hex or a random UUID.
func ValidIdempotencyKey(k string) error {
	if len(k) < minIdempotencyKey || len(k) > maxIdempotencyKey {
		return pv.Errorf(pv.EInvalid, "An Idempotency-Key of %d to %d characters, made at random (128 random bits in hex, or a random UUID), is required.", minIdempotencyKey, maxIdempotencyKey)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return pv.Errorf(pv.EInvalid, "The Idempotency-Key must be printable ASCII without spaces.")
		}
	}
	return nil
}

// idempotencyRecord returns the stored form of a cast's key and ballot.
func idempotencyRecord(req CastRequest) (keyHash, ballotHash [32]byte) {
	return sha256.Sum256([]byte(req.IdempotencyKey)), sha256.Sum256(req.Encrypted)
}

// Receipt is what a voter gets for a cast ballot.
type Receipt struct {
	TrackingCode string    `json:"tracking_code"`
	CastAt       time.Time `json:"cast_at"`
}

// AlreadyVoted is the Detail of the EConflict error returned when a voter who
// has voted casts again with another key: the first ballot's receipt, as the
// exact bytes it was first sent with.
type AlreadyVoted struct {
	Receipt json.RawMessage `json:"receipt"`
}

// Cast records req's ballot and returns the receipt's response body.
//
// The rules, in order:
//   - a voter who has voted, retrying with the same key and the same ballot,
//     gets the stored response again, byte for byte (replayed is true);
//   - the same key with another ballot is an EMismatch error;
//   - another key is an EConflict error whose Detail is AlreadyVoted;
//   - otherwise the ballot must name the voter's own public credential, its
//     every proof and its signature must verify (checked with concurrent
//     casts' ballots in one batch, before anything is stored), and the
//     election must be open and inside its window.
//
// The participation row (with the idempotency record), the ballot and its
// audit entry commit in one transaction. When concurrent casts by one voter
// race, the primary key of participation lets exactly one commit; the others
// are answered by the rules above. The database also refuses a second
// ballot for one credential, and a ballot for a credential not listed.
func (s *Store) Cast(ctx context.Context, req CastRequest) (response []byte, replayed bool, err error) {
	if err := ValidIdempotencyKey(req.IdempotencyKey); err != nil {
		return nil, false, err
	}
	if len(req.Encrypted) == 0 {
		return nil, false, ErrPlaintext
	}
	group, pseudonym, credential, prev, err := s.voter(ctx, req)
	if err != nil {
		return nil, false, err
	}
	if resp, err := prev.answer(req); resp != nil || err != nil {
		return resp, resp != nil, err
	}
	e, err := s.Get(ctx, req.ElectionID)
	if err != nil {
		return nil, false, err
	}
	if err := e.AcceptsBallotsAt(s.clock()); err != nil {
		return nil, false, err // checked again below
	}
	if err := ballot.CheckBallotCredential(e, req.Encrypted, credential); err != nil {
		return nil, false, err
	}
	if err := s.verifier.verify(e, req.Encrypted); err != nil {
		return nil, false, err
	}
	content := req.Encrypted
	// The idempotency record's ballot hash is the tracking hash.
	keyHash, tracking := idempotencyRecord(req)
	code := ballot.TrackingCode(tracking)
	now := s.clock().UTC().Truncate(time.Second)
	response, err = json.Marshal(Receipt{TrackingCode: code, CastAt: now})
	if err != nil {
		return nil, false, fmt.Errorf("couldn't encode receipt: %w", err)
	}

	// One round trip and one commit: the statements go as one pipeline,
	// which PostgreSQL runs as one implicit transaction, all or nothing.
	// First the election lock (shared with other casts, exclusive with
	// Close), then the inserts. Each statement reads the status afresh once
	// the lock is held, so a Close that committed first makes the
	// participation insert fail (its election is NULL unless the election
	// is open) and nothing is stored.
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock_shared(`+lockKey+`)`, req.ElectionID)
	b.Queue(insertParticipationIfOpen, req.ElectionID, req.VoterID, keyHash[:], tracking[:], response)
	b.Queue(`INSERT INTO ballots (election_id, tracking_code, group_id, content, credential) VALUES ($1, $2, $3, $4, $5)`,
		req.ElectionID, tracking[:], group, content, credential)
	err = audit.AppendTo(b, audit.Entry{
		ElectionID: req.ElectionID, Kind: entry.KindBallotCast, Actor: "voter", At: now, Ref: code,
		Data: entry.Cast{Voter: hex.EncodeToString(pseudonym), Group: group, TrackingCode: code},
	})
	if err != nil {
		return nil, false, err
	}
	// The window again, now that the ballot is verified; the status is
	// checked under the lock below.
	if err := e.AcceptsBallotsAt(s.clock()); err != nil {
		return nil, false, err
	}
	err = s.pool.SendBatch(ctx, b).Close()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23502" && pgErr.TableName == "participation" && pgErr.ColumnName == "election_id" {
		// Closed while this cast was on its way: say so as Get would.
		if e, err = s.get(ctx, s.pool, req.ElectionID); err == nil {
			err = e.AcceptsBallotsAt(s.clock())
		}
		if err == nil {
			err = pv.Errorf(pv.EConflict, "the election is not open")
		}
		return nil, false, err
	}
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.TableName == "participation" {
		// Another cast by this voter committed first.
		resp, err := s.previousCast(ctx, s.pool, req)
		if resp == nil && err == nil {
			err = fmt.Errorf("participation of a voter vanished after a conflict")
		}
		return resp, resp != nil, err
	}
	if err != nil {
		return nil, false, err
	}
	return response, false, nil
}

// participation is a voter's stored cast, if any: the idempotency record.
type participation struct {
	keyHash    []byte // nil when the voter has not cast
	ballotHash []byte
	response   []byte
}

// answer applies the idempotency rules to a cast by a voter who has already
// cast (p.keyHash set); it returns nothing for a voter who has not.
func (p participation) answer(req CastRequest) ([]byte, error) {
	if p.keyHash == nil {
		return nil, nil
	}
	keyHash, ballotHash := idempotencyRecord(req)
	switch {
	case subtle.ConstantTimeCompare(p.keyHash, keyHash[:]) != 1:
		return nil, &pv.Error{Code: pv.EConflict, Message: "You have already voted in this election.",
			Detail: AlreadyVoted{Receipt: p.response}}
	case subtle.ConstantTimeCompare(p.ballotHash, ballotHash[:]) != 1:
		return nil, pv.Errorf(pv.EMismatch, "This Idempotency-Key was used with a different ballot.")
	}
	return p.response, nil
}

// previousCast applies the idempotency rules when the voter has voted: it
// returns the stored response for a replay, or an error. It returns nil, nil
// when the voter has not voted.
func (s *Store) previousCast(ctx context.Context, q rowQuerier, req CastRequest) ([]byte, error) {
	var p participation
	err := q.QueryRow(ctx, `SELECT idempotency_key_hash, ballot_sha256, response FROM participation WHERE election_id = $1 AND voter_id = $2`,
		req.ElectionID, req.VoterID).Scan(&p.keyHash, &p.ballotHash, &p.response)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read participation: %w", err)
	}
	return p.answer(req)
}

// Receipt returns the receipt of the voter's ballot, or nil if they have not voted.
func (s *Store) Receipt(ctx context.Context, electionID, voterID string) (json.RawMessage, error) {
	var response []byte
	err := s.pool.QueryRow(ctx, `SELECT response FROM participation WHERE election_id = $1 AND voter_id = $2`,
		electionID, voterID).Scan(&response)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read participation: %w", err)
	}
	return response, nil
}

// voter returns the group, pseudonym and public credential of the
// request's voter, and their idempotency record if they have cast.
func (s *Store) voter(ctx context.Context, req CastRequest) (group string, pseudonym, credential []byte, prev participation, err error) {
	err = s.pool.QueryRow(ctx, selectVoterAndParticipation, req.ElectionID, req.VoterID).
		Scan(&group, &pseudonym, &credential, &prev.keyHash, &prev.ballotHash, &prev.response)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, nil, prev, pv.Errorf(pv.EUnauthorized, "unknown voter")
	}
	if err != nil {
		return "", nil, nil, prev, fmt.Errorf("couldn't read voter: %w", err)
	}
	if credential == nil {
		return "", nil, nil, prev, pv.Errorf(pv.EConflict, "voter %q has no credential", req.VoterID)
	}
	return group, pseudonym, credential, prev, nil
}

// insertParticipationIfOpen records the voter's cast only while the election
// is open, as seen under the election lock: otherwise its election is NULL,
// which the table refuses (23502), and the whole cast with it.
const insertParticipationIfOpen = `
INSERT INTO participation (election_id, voter_id, idempotency_key_hash, ballot_sha256, response)
VALUES ((SELECT id FROM elections WHERE id = $1 AND status = 'open'), $2, $3, $4, $5)`

// selectVoterAndParticipation reads a voter's group, pseudonym and public
// credential and, if they have cast, their idempotency record: one round
// trip for a cast.
const selectVoterAndParticipation = `
SELECT v.group_id, v.pseudonym, c.credential, p.idempotency_key_hash, p.ballot_sha256, p.response
FROM voters v
LEFT JOIN voter_credentials c ON c.election_id = v.election_id AND c.voter_id = v.voter_id
LEFT JOIN participation p ON p.election_id = v.election_id AND p.voter_id = v.voter_id
WHERE v.election_id = $1 AND v.voter_id = $2`

// ErrPlaintext answers a cast without an encrypted ballot.
var ErrPlaintext = pv.Errorf(pv.EInvalid, "The voter's device must encrypt, prove and sign the ballot: send {\"encrypted\": \"<base64 of the ballot>\"}. The server never takes choices.")
