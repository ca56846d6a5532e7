package elections

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
)

// SpoilRequest is a copy of a ballot that a signed-in voter checked instead
// of casting, revealed (ballot/FORMAT.md, "Checking a copy").
type SpoilRequest struct {
	ElectionID string
	VoterID    string
	Revealed   string
}

// Spoiled is the answer to a checked copy: its tracking code and the
// choices it encrypts, as made again from what the device revealed.
type Spoiled struct {
	TrackingCode string            `json:"tracking_code"`
	Choices      ballot.Selections `json:"choices"`
}

// ErrSpoiled refuses the cast of a copy that the voter checked.
var ErrSpoiled = pv.Errorf(pv.EConflict, "This copy of the ballot was checked, so its choices are public and it can never be cast. Make a fresh copy and cast that one.")

// Spoil records a copy the voter checked. It makes the copy again from what
// the device revealed and refuses it unless it is exactly what the voter's
// credential signed, the voter has not cast a ballot and the election is
// open. Then the copy's tracking code can never be cast, and what the log
// will keep of it (entry.Spoiled, nothing that names the voter) waits to be
// logged when the election closes. Sending the same copy again changes
// nothing and gets the same answer.
func (s *Store) Spoil(ctx context.Context, req SpoilRequest) (*Spoiled, error) {
	r, err := ballot.ParseRevealed(req.Revealed)
	if err != nil {
		return nil, err
	}
	e, err := s.Get(ctx, req.ElectionID)
	if err != nil {
		return nil, err
	}
	if err := e.AcceptsBallotsAt(s.clock()); err != nil {
		return nil, err
	}
	remade, err := e.Remake(r)
	if err != nil {
		return nil, err
	}
	cts, err := e.SpoiledCiphertexts(r.Seed, remade.Selections)
	if err != nil {
		return nil, err
	}
	tracking := sha256.Sum256(remade.Ballot)
	logged, err := json.Marshal(entry.Spoiled{TrackingCode: remade.TrackingCode, Seed: hex.EncodeToString(r.Seed),
		Choices: remade.Selections, Ciphertexts: cts})
	if err != nil {
		return nil, fmt.Errorf("couldn't encode the checked copy: %w", err)
	}
	answer := &Spoiled{TrackingCode: remade.TrackingCode, Choices: remade.Selections}

	b := &pgx.Batch{}
	queueCastLocks(b, req.ElectionID, r.Credential)
	b.Queue(insertSpoiled, req.ElectionID, req.VoterID, r.Credential, tracking[:], logged)
	br := s.pool.SendBatch(ctx, b)
	_, err = br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	var inserted int64
	if err == nil {
		tag, ierr := br.Exec()
		err, inserted = ierr, tag.RowsAffected()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't record the checked copy: %w", err)
	}
	if inserted == 1 {
		return answer, nil
	}
	return answer, s.whyNotSpoiled(ctx, req, r.Credential, tracking[:])
}

// insertSpoiled keeps a checked copy, run under the cast locks: only if the
// credential is the voter's, the voter has not cast a ballot, and the
// election is open as seen under the lock.
const insertSpoiled = `
INSERT INTO spoiled_ballots (election_id, tracking_code, entry)
SELECT c.election_id, $4, $5
FROM voter_credentials c
WHERE c.election_id = $1 AND c.voter_id = $2 AND c.credential = $3
  AND NOT EXISTS (SELECT 1 FROM ballots b WHERE b.election_id = $1 AND b.credential = $3)
  AND EXISTS (SELECT 1 FROM elections WHERE id = $1 AND status = 'open')
ON CONFLICT (election_id, tracking_code) DO NOTHING`

// whyNotSpoiled answers a checked copy that was not inserted: nil if it was
// already kept (the same copy sent again), or why it was refused.
func (s *Store) whyNotSpoiled(ctx context.Context, req SpoilRequest, credential, tracking []byte) error {
	var kept, listed, voted bool
	err := s.pool.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM spoiled_ballots WHERE election_id = $1 AND tracking_code = $4),
       EXISTS (SELECT 1 FROM voter_credentials WHERE election_id = $1 AND voter_id = $2 AND credential = $3),
       EXISTS (SELECT 1 FROM voter_credentials c JOIN ballots b USING (election_id, credential)
               WHERE c.election_id = $1 AND c.voter_id = $2)`,
		req.ElectionID, req.VoterID, credential, tracking).Scan(&kept, &listed, &voted)
	switch {
	case err != nil:
		return fmt.Errorf("couldn't read the voter's copies: %w", err)
	case kept:
		return nil
	case !listed:
		return ballot.ErrNotVotersCredential
	case voted:
		return pv.Errorf(pv.EConflict, "You have cast your ballot: a copy can be checked only before casting.")
	}
	return pv.Errorf(pv.EConflict, "the election is not open")
}

// logSpoiled appends, in Close's transaction, an entry for every copy
// checked during the vote, in tracking-code order, all at the close's time.
func (s *Store) logSpoiled(ctx context.Context, tx pgx.Tx, id, actor string, at time.Time) (int, error) {
	rows, err := tx.Query(ctx, `SELECT entry FROM spoiled_ballots WHERE election_id = $1 ORDER BY tracking_code`, id)
	if err != nil {
		return 0, fmt.Errorf("couldn't read the checked copies: %w", err)
	}
	kept, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return 0, fmt.Errorf("couldn't read the checked copies: %w", err)
	}
	b := &pgx.Batch{}
	for _, raw := range kept {
		var d entry.Spoiled
		if err := json.Unmarshal(raw, &d); err != nil {
			return 0, fmt.Errorf("a checked copy's entry: %w", err)
		}
		if err := audit.Queue(b, audit.Entry{ElectionID: id, Kind: entry.KindBallotSpoiled, Actor: actor, At: at, Ref: d.TrackingCode, Data: d}); err != nil {
			return 0, err
		}
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("couldn't log the checked copies: %w", err)
	}
	return len(kept), nil
}
