package elections

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	// Group is the voter's group, as their session names it.
	Group string
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
// The ballot must name the voter's own public credential, its every proof
// and its signature must verify (checked with concurrent casts' ballots in
// one batch, before anything is stored), and the election must be open and
// inside its window. Then, by the idempotency record of the voter's stored
// ballot, if any:
//   - a retry with the same key and the same ballot gets the stored
//     response again, byte for byte (replayed is true);
//   - the same key with another ballot is an EMismatch error;
//   - another key is an EConflict error whose Detail is AlreadyVoted.
//
// The ballot, with its idempotency record, and its audit entry are one
// statement, sent with the election's lock in one round trip and committed
// once, together with the ballots of the casts that arrived meanwhile
// (castWriter). The statement stores nothing unless the credential is the
// voter's and the voter in the group the token names, and the election
// open as seen under the lock. The table's constraint, one ballot per
// credential, lets exactly one of a voter's concurrent casts be stored;
// the others are answered by the rules above. A credential that is not
// listed cannot be stored at all.
func (s *Store) Cast(ctx context.Context, req CastRequest) (response []byte, replayed bool, err error) {
	if err := ValidIdempotencyKey(req.IdempotencyKey); err != nil {
		return nil, false, err
	}
	if len(req.Encrypted) == 0 {
		return nil, false, ErrPlaintext
	}
	e, err := s.Get(ctx, req.ElectionID)
	if err != nil {
		return nil, false, err
	}
	if err := e.AcceptsBallotsAt(s.clock()); err != nil {
		return s.refused(ctx, req, err)
	}
	credential, err := ballot.BallotCredential(e, req.Encrypted)
	if err != nil {
		return nil, false, err
	}
	if err := s.verifier.VerifyBallot(e, req.Encrypted); err != nil {
		return nil, false, err
	}
	// The idempotency record's ballot hash is the tracking hash.
	keyHash, tracking := idempotencyRecord(req)
	code := ballot.TrackingCode(tracking)
	now := s.clock().UTC().Truncate(time.Second)
	response, err = json.Marshal(Receipt{TrackingCode: code, CastAt: now})
	if err != nil {
		return nil, false, fmt.Errorf("couldn't encode receipt: %w", err)
	}
	pseudonym := s.pseudonyms.Pseudonym(req.ElectionID, req.VoterID)

	// The window again, now that the ballot is verified; the status is
	// checked again under the election's lock as the ballot is stored.
	if err := e.AcceptsBallotsAt(s.clock()); err != nil {
		return s.refused(ctx, req, err)
	}
	stored, err := s.writer.store(&pendingCast{
		electionID: req.ElectionID, voterID: req.VoterID, group: req.Group, credential: credential,
		tracking: tracking[:], content: req.Encrypted, keyHash: keyHash[:], response: response,
		entry: audit.Entry{
			ElectionID: req.ElectionID, Kind: entry.KindBallotCast, Actor: "voter", At: now, Ref: code,
			Data: entry.Cast{Voter: hex.EncodeToString(pseudonym[:]), Group: req.Group, TrackingCode: code},
		},
	})
	if err != nil {
		return nil, false, err
	}
	if stored {
		return response, false, nil
	}
	return s.whyNotStored(ctx, req, credential)
}

// refused answers a cast that the election no longer accepts: the voter's
// retry of a cast that was stored still gets its receipt.
func (s *Store) refused(ctx context.Context, req CastRequest, why error) ([]byte, bool, error) {
	resp, err := s.previousCast(ctx, req)
	if resp != nil || err != nil {
		return resp, resp != nil, err
	}
	return nil, false, why
}

// whyNotStored answers a verified ballot that was not inserted, naming the
// reason. The voter's credential may have a ballot, perhaps from a
// concurrent cast: a retry gets its receipt, anything else is refused.
func (s *Store) whyNotStored(ctx context.Context, req CastRequest, credential []byte) ([]byte, bool, error) {
	if resp, err := s.previousCast(ctx, req); resp != nil || err != nil {
		return resp, resp != nil, err
	}
	var (
		listed  []byte
		group   string
		spoiled bool
	)
	_, tracking := idempotencyRecord(req)
	err := s.pool.QueryRow(ctx, `
SELECT c.credential, v.group_id,
       EXISTS (SELECT 1 FROM spoiled_ballots WHERE election_id = $1 AND tracking_code = $3)
FROM voters v LEFT JOIN voter_credentials c USING (election_id, voter_id)
WHERE v.election_id = $1 AND v.voter_id = $2`, req.ElectionID, req.VoterID, tracking[:]).Scan(&listed, &group, &spoiled)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, pv.Errorf(pv.EUnauthorized, "unknown voter")
	case err != nil:
		return nil, false, fmt.Errorf("couldn't read voter: %w", err)
	case listed == nil:
		return nil, false, pv.Errorf(pv.EConflict, "voter %q has no credential", req.VoterID)
	case !bytes.Equal(listed, credential):
		return nil, false, ballot.ErrNotVotersCredential
	case group != req.Group:
		return nil, false, pv.Errorf(pv.EUnauthorized, "The session names another group than the voter's: sign in again.")
	case spoiled:
		return nil, false, ErrSpoiled
	}
	// Closed while this cast was on its way: say so as Get would.
	e, err := s.get(ctx, s.pool, req.ElectionID)
	if err == nil {
		err = e.AcceptsBallotsAt(s.clock())
	}
	if err == nil {
		err = pv.Errorf(pv.EConflict, "the election is not open")
	}
	return nil, false, err
}

// castRecord is a voter's stored cast: its idempotency record.
type castRecord struct {
	keyHash    []byte
	ballotHash []byte // the tracking hash
	response   []byte
}

// castOf returns the voter's stored cast, or nil if they have not voted.
func (s *Store) castOf(ctx context.Context, electionID, voterID string) (*castRecord, error) {
	var p castRecord
	err := s.pool.QueryRow(ctx, `
SELECT b.idempotency_key_hash, b.tracking_code, b.response
FROM voter_credentials c JOIN ballots b USING (election_id, credential)
WHERE c.election_id = $1 AND c.voter_id = $2`,
		electionID, voterID).Scan(&p.keyHash, &p.ballotHash, &p.response)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the voter's ballot: %w", err)
	}
	return &p, nil
}

// previousCast applies the idempotency rules when the voter has voted: it
// returns the stored response for a replay, or an error. It returns nil, nil
// when the voter has not voted.
func (s *Store) previousCast(ctx context.Context, req CastRequest) ([]byte, error) {
	p, err := s.castOf(ctx, req.ElectionID, req.VoterID)
	if p == nil || err != nil {
		return nil, err
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

// Receipt returns the receipt of the voter's ballot, or nil if they have not voted.
func (s *Store) Receipt(ctx context.Context, electionID, voterID string) (json.RawMessage, error) {
	p, err := s.castOf(ctx, electionID, voterID)
	if p == nil || err != nil {
		return nil, err
	}
	return p.response, nil
}

// ErrPlaintext answers a cast without an encrypted ballot.
var ErrPlaintext = pv.Errorf(pv.EInvalid, "The voter's device must encrypt, prove and sign the ballot: send {\"encrypted\": \"<base64 of the ballot>\"}. The server never takes choices.")
