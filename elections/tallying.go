package elections

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/jackc/pgx/v5"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
)

// Tally adds up a closed election's encrypted ballots per question,
// candidate and group, and stores the sums for the trustees to decrypt. It
// checks that every stored ballot is well formed and matches its tracking
// code, and that the ballots summed are all the ballots stored, counted
// again under the election's lock. (Every
// ballot's proofs were checked when it was cast; the audit verifier checks
// them all again.)
func (s *Store) Tally(ctx context.Context, id, actor string) (*ballot.Sums, error) {
	e, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.Status != ballot.Closed {
		return nil, pv.Errorf(pv.EConflict, "election %q is %s: only a closed election is tallied", id, e.Status)
	}
	sums, err := s.sumBallots(ctx, e)
	if err != nil {
		return nil, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		status, err := LockForChange(ctx, tx, id)
		if err != nil {
			return err
		}
		if status != ballot.Closed {
			return pv.Errorf(pv.EConflict, "election %q is %s: only a closed election is tallied", id, status)
		}
		var stored int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM ballots WHERE election_id = $1`, id).Scan(&stored); err != nil {
			return fmt.Errorf("couldn't count ballots: %w", err)
		}
		if stored != sums.Ballots() {
			return fmt.Errorf("election %q: %d ballots are stored but %d were summed", id, stored, sums.Ballots())
		}
		enc := sums.Encode()
		tag, err := tx.Exec(ctx, `INSERT INTO tallies (election_id, ballots, sums) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, id, sums.Ballots(), enc)
		if err != nil {
			return fmt.Errorf("couldn't store the tally: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return pv.Errorf(pv.EConflict, "election %q is already tallied", id)
		}
		digest := sha256.Sum256(enc)
		return audit.Append(ctx, tx, audit.Entry{
			ElectionID: id, Kind: entry.KindTallySums, Actor: actor, At: s.clock(),
			Data: entry.Summed{Ballots: sums.Ballots(), PerGroup: sums.PerGroup(), SumsSHA256: hex.EncodeToString(digest[:])},
		})
	})
	if err != nil {
		return nil, err
	}
	return sums, nil
}

// sumBallots reads every ballot of e and adds them up on all cores.
func (s *Store) sumBallots(ctx context.Context, e *ballot.Election) (*ballot.Sums, error) {
	groupIndex := map[string]int{}
	for i, gr := range e.Groups {
		groupIndex[gr.ID] = i
	}
	type job struct {
		group    int
		tracking []byte
		content  []byte
	}
	jobs := make(chan job, 256)
	workers := runtime.GOMAXPROCS(0)
	partial := make([]*ballot.Sums, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		partial[w] = e.NewSums()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if errs[w] != nil {
					continue
				}
				if sum := sha256.Sum256(j.content); string(sum[:]) != string(j.tracking) {
					errs[w] = fmt.Errorf("ballot %s does not match its tracking code", hex.EncodeToString(j.tracking))
					continue
				}
				if err := partial[w].AddStored(e, j.group, j.content); err != nil {
					errs[w] = fmt.Errorf("ballot %s: %w", hex.EncodeToString(j.tracking), err)
				}
			}
		}()
	}
	rows, err := s.pool.Query(ctx, `SELECT group_id, tracking_code, content FROM ballots WHERE election_id = $1`, e.ID)
	if err == nil {
		for rows.Next() {
			var (
				group    string
				tracking []byte
				content  []byte
			)
			if err = rows.Scan(&group, &tracking, &content); err != nil {
				break
			}
			gi, ok := groupIndex[group]
			if !ok {
				err = fmt.Errorf("a ballot has unknown group %q", group)
				break
			}
			jobs <- job{gi, tracking, content}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	close(jobs)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("couldn't read ballots: %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, p := range partial[1:] {
		partial[0].Merge(p)
	}
	return partial[0], nil
}

// StoredSums returns the stored sums of a tallied election.
func (s *Store) StoredSums(ctx context.Context, e *ballot.Election) (*ballot.Sums, error) {
	var enc []byte
	err := s.pool.QueryRow(ctx, `SELECT sums FROM tallies WHERE election_id = $1`, e.ID).Scan(&enc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pv.Errorf(pv.EConflict, "election %q has not been tallied: run primaryctl tally start first", e.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the tally: %w", err)
	}
	return e.DecodeSums(enc)
}

// PostPartial stores one trustee's partial decryption of a closed,
// tallied election's sums, made on the trustee's own machine from the sums
// it recomputed from the ballots (primaryctl trustees decrypt). Its proof
// is its authority: it must verify against the stored sums and the
// trustee's public key, so only the holder of that trustee's share can
// make one, and only for these sums. Each trustee posts once.
func (s *Store) PostPartial(ctx context.Context, id string, p *ballot.PartialDecryption, actor string) error {
	e, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	t, err := s.Trustees(ctx, id)
	if err != nil {
		return err
	}
	sums, err := s.StoredSums(ctx, e)
	if err != nil {
		return err
	}
	if err := e.VerifyPartial(t, sums, p); err != nil {
		return pv.Errorf(pv.EInvalid, "trustee %d's partial decryption does not verify against the election's sums: %v", p.Trustee, err)
	}
	shares := p.EncodeShares()
	digest := sha256.Sum256(shares)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		status, err := LockForChange(ctx, tx, id)
		if err != nil {
			return err
		}
		if status != ballot.Closed {
			return pv.Errorf(pv.EConflict, "election %q is %s: trustees decrypt a closed, tallied election", id, status)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO partial_decryptions (election_id, trustee, shares, proof) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING`, id, p.Trustee, shares, p.Proof)
		if err != nil {
			return fmt.Errorf("couldn't store the partial decryption: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return pv.Errorf(pv.EConflict, "trustee %d has already decrypted election %q", p.Trustee, id)
		}
		return audit.Append(ctx, tx, audit.Entry{
			ElectionID: id, Kind: entry.KindPartialDecryption, Actor: actor, At: s.clock(),
			Data: entry.PartialDecrypted{Trustee: p.Trustee, SharesSHA256: hex.EncodeToString(digest[:]), Proof: hex.EncodeToString(p.Proof)},
		})
	})
}

// FinishReport says how the decryption went.
type FinishReport struct {
	Used     []int           // trustees whose partial decryptions were combined
	Rejected []entry.Refusal // the partial decryptions refused, and why
	Results  *ballot.Results
}

// FinishTally verifies the trustees' partial decryptions, combines the
// first Threshold valid ones into the counts, stores the results and moves
// the election from closed to tallied. Invalid partial decryptions are
// refused, each naming its trustee; it fails if too few valid ones remain.
func (s *Store) FinishTally(ctx context.Context, id, actor string) (*FinishReport, error) {
	e, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	t, err := s.Trustees(ctx, id)
	if err != nil {
		return nil, err
	}
	sums, err := s.StoredSums(ctx, e)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT trustee, shares, proof FROM partial_decryptions WHERE election_id = $1 ORDER BY trustee`, id)
	if err != nil {
		return nil, fmt.Errorf("couldn't read partial decryptions: %w", err)
	}
	stored, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ballot.PartialDecryption, error) {
		var (
			trustee       int
			shares, proof []byte
		)
		if err := r.Scan(&trustee, &shares, &proof); err != nil {
			return nil, err
		}
		p, err := ballot.DecodePartial(trustee, shares, proof)
		if err != nil {
			return &ballot.PartialDecryption{Trustee: trustee}, nil // fails verification below
		}
		return p, nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't read partial decryptions: %w", err)
	}
	report := &FinishReport{}
	var valid []*ballot.PartialDecryption
	for _, p := range stored {
		if err := e.VerifyPartial(t, sums, p); err != nil {
			report.Rejected = append(report.Rejected, entry.Refusal{Trustee: p.Trustee, Reason: err.Error()})
			continue
		}
		if len(valid) < t.Threshold {
			valid = append(valid, p)
			report.Used = append(report.Used, p.Trustee)
		}
	}
	if len(valid) < t.Threshold {
		return report, pv.Errorf(pv.EConflict, "%d valid partial decryptions of the %d needed", len(valid), t.Threshold)
	}
	counts, err := e.Counts(t, sums, valid)
	if err != nil {
		return report, err
	}
	report.Results = e.MakeResults(sums, counts)
	body, err := json.Marshal(report.Results)
	if err != nil {
		return report, err
	}
	refused := report.Rejected
	if refused == nil {
		refused = []entry.Refusal{}
	}
	// The results are stored in the log alone, where the tally logs them.
	err = s.transition(ctx, id, actor, ballot.Closed, ballot.Tallied, func(tx pgx.Tx) (any, error) {
		return entry.Tallied{From: string(ballot.Closed), To: string(ballot.Tallied), Trustees: report.Used, Refused: refused, Results: body}, nil
	})
	return report, err
}

// Publish makes a tallied election's results public.
func (s *Store) Publish(ctx context.Context, id, actor string) error {
	return s.transition(ctx, id, actor, ballot.Tallied, ballot.Published, func(tx pgx.Tx) (any, error) {
		return entry.Published{From: string(ballot.Tallied), To: string(ballot.Published)}, nil
	})
}

// Results returns a published election's results as the tally logged them.
func (s *Store) Results(ctx context.Context, id string) (json.RawMessage, error) {
	e, err := s.GetPublic(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.Status != ballot.Published {
		return nil, pv.Errorf(pv.ENotFound, "the results of election %q are not published", id)
	}
	s.mu.Lock()
	var cached json.RawMessage
	if f := s.frozen[id]; f != nil {
		cached = f.results
	}
	s.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	data, proven, err := s.logged(ctx, s.pool, id, entry.KindElectionTallied)
	if err != nil {
		return nil, err
	}
	results := data.(*entry.Tallied).Results
	if proven {
		s.mu.Lock()
		if f := s.frozen[id]; f != nil {
			f.results = results
		}
		s.mu.Unlock()
	}
	return results, nil
}
