package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"primaryvote/audit/cosign"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit/witness"
)

// Pusher pushes the log's checkpoints to the witnesses of every election's
// witness policy (C2SP tlog-witness) and stores the cosignatures they
// return. It runs beside the sequencer and never in the way of a cast: a
// witness that is down or slow only falls behind, and catches up with the
// newest checkpoint once it answers again.
//
// Each round pushes one checkpoint, the newest, to every witness that is
// behind it, at once, so that the witnesses cosign the same checkpoints and
// a quorum forms on them. Several primaryd may push at once: a witness
// answers the later ones 409 with the size it has, and they resume from
// there.
type Pusher struct {
	q       DB
	logKey  note.Verifier
	client  *http.Client
	logger  *slog.Logger
	timeout time.Duration
	wake    chan struct{}
	hashes  *hashCache

	mu     sync.Mutex
	status map[string]*WitnessStatus // by verifier key
	// inflight counts the pushes still going on, which may outlive the
	// round that started them.
	inflight sync.WaitGroup
}

// DB is what the pusher needs of the database (a *pgxpool.Pool).
type DB interface {
	Query
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// WitnessStatus is what one server knows of one witness.
type WitnessStatus struct {
	Name string `json:"name"`
	Key  string `json:"key"`
	URL  string `json:"url"`
	// Cosigned is the size of the newest checkpoint it cosigned, as far as
	// this server knows (0 for none).
	Cosigned int64 `json:"cosigned_size"`
	// CosignedAt is when it last cosigned, by this server's clock.
	CosignedAt time.Time `json:"cosigned_at,omitzero"`
	// LogSize is the size of the newest checkpoint the last round saw.
	LogSize int64 `json:"log_size"`
	// Failures counts the pushes it did not cosign since it last did.
	Failures int `json:"failures"`
	// Failed is every push that failed since this server started.
	Failed int64 `json:"-"`
	// Error is why the last push failed ("" when it was cosigned).
	Error string `json:"error,omitempty"`

	verifier note.Verifier
	known    bool // Cosigned was read from the database
	busy     bool
	retry    time.Time
}

// NewPusher returns a pusher for the log q holds, whose checkpoints verify
// under logKey.
func NewPusher(q DB, logKey string, logger *slog.Logger) (*Pusher, error) {
	v, err := note.NewVerifier(logKey)
	if err != nil {
		return nil, fmt.Errorf("bad log key: %w", err)
	}
	return &Pusher{
		q: q, logKey: v, logger: logger,
		client:  &http.Client{Timeout: 10 * time.Second},
		timeout: 5 * time.Second,
		wake:    make(chan struct{}, 1),
		hashes:  newHashCache(1 << 16),
		status:  map[string]*WitnessStatus{},
	}, nil
}

// Notify wakes the pusher: a new checkpoint was signed.
func (p *Pusher) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run pushes until ctx ends: at once when notified, and every interval
// (checkpoints other servers signed, witnesses to retry).
func (p *Pusher) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := p.round(ctx, time.Second); err != nil && ctx.Err() == nil {
			p.logger.Error("witness push failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.wake:
		}
	}
}

// Round pushes the newest checkpoint to every witness that has not
// cosigned it and is not waiting to be retried, and waits for their
// answers.
func (p *Pusher) Round(ctx context.Context) error { return p.round(ctx, 0) }

// Flush pushes the newest checkpoint to every witness that has not cosigned
// it, as the server stops once Run has returned: it waits for the pushes
// still going on, then pushes at once even to a witness waiting to be
// retried, whose last push stopping Run may have cancelled. So the last
// checkpoint reaches the witnesses now, not when a server next runs.
func (p *Pusher) Flush(ctx context.Context) error {
	p.inflight.Wait()
	p.mu.Lock()
	for _, w := range p.status {
		w.retry = time.Time{}
	}
	p.mu.Unlock()
	return p.round(ctx, 0)
}

// round is Round waiting at most wait for the answers (0: for all of
// them). A push still going on after that goes on alone, and its witness
// sits out the rounds until it ends: a slow witness does not hold back the
// others' cosigning of newer checkpoints.
func (p *Pusher) round(ctx context.Context, wait time.Duration) error {
	witnesses, err := p.witnesses(ctx)
	if err != nil || len(witnesses) == 0 {
		return err
	}
	size, signed, err := newestCheckpoint(ctx, p.q)
	if err != nil || size == 0 {
		return err
	}
	var wg sync.WaitGroup
	now := time.Now()
	p.mu.Lock()
	for _, w := range witnesses {
		w.LogSize = size
		if w.busy || w.Cosigned >= size || now.Before(w.retry) {
			continue
		}
		w.busy = true
		p.inflight.Add(1)
		wg.Go(func() {
			defer p.inflight.Done()
			p.push(ctx, w, size, signed)
		})
	}
	p.mu.Unlock()
	if wait == 0 {
		wg.Wait()
		return nil
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// witnesses returns the status of every witness of every policy, adding
// those new since the last round.
func (p *Pusher) witnesses(ctx context.Context) ([]*WitnessStatus, error) {
	rows, err := p.q.Query(ctx, `SELECT policy FROM witness_policies ORDER BY election_id`)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the witness policies: %w", err)
	}
	raw, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("couldn't read the witness policies: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*WitnessStatus
	for _, b := range raw {
		pol, err := cosign.ParsePolicy(b)
		if err != nil {
			return nil, fmt.Errorf("the stored witness policies: %w", err)
		}
		for _, w := range pol.Witnesses {
			st, ok := p.status[w.Key]
			if !ok {
				v, err := cosign.NewVerifier(w.Key)
				if err != nil {
					return nil, fmt.Errorf("a stored witness policy: %w", err)
				}
				st = &WitnessStatus{Name: v.Name(), Key: w.Key, URL: w.URL, verifier: v}
				p.status[w.Key] = st
			}
			if !slices.Contains(out, st) {
				out = append(out, st)
			}
		}
	}
	return out, nil
}

// push pushes the checkpoint of size to w, resuming once from the size a
// 409 gives.
func (p *Pusher) push(ctx context.Context, w *WitnessStatus, size int64, signed []byte) {
	err := p.pushOnce(ctx, w, size, signed)
	var conflict *witness.ConflictError
	if errors.As(err, &conflict) {
		switch {
		case conflict.Size > size:
			err = fmt.Errorf("the witness has cosigned a checkpoint of size %d, beyond this log's %d: the log was rolled back, or the witness was shown another", conflict.Size, size)
		default:
			p.mu.Lock()
			w.Cosigned = conflict.Size
			p.mu.Unlock()
			err = nil
			if conflict.Size < size {
				err = p.pushOnce(ctx, w, size, signed)
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	w.busy = false
	if err == nil {
		w.Failures, w.Error, w.retry = 0, "", time.Time{}
		return
	}
	w.Failures++
	w.Failed++
	w.Error = err.Error()
	backoff := time.Second << min(w.Failures-1, 5) // 1 s to 32 s
	w.retry = time.Now().Add(backoff)
	p.logger.Warn("witness did not cosign", "witness", w.Name, "size", size, "failures", w.Failures, "retry_in", backoff, "err", err)
}

func (p *Pusher) pushOnce(ctx context.Context, w *WitnessStatus, size int64, signed []byte) error {
	p.mu.Lock()
	if !w.known {
		p.mu.Unlock()
		var last *int64
		if err := p.q.QueryRow(ctx, `SELECT max(size) FROM audit_cosignatures WHERE witness = $1`, w.Key).Scan(&last); err != nil {
			return fmt.Errorf("couldn't read the witness's cosignatures: %w", err)
		}
		p.mu.Lock()
		if last != nil && *last > w.Cosigned {
			w.Cosigned = *last
		}
		w.known = true
	}
	old, url := w.Cosigned, w.URL
	p.mu.Unlock()

	req := &witness.AddCheckpointRequest{OldSize: old, Checkpoint: signed}
	if old > 0 && old < size {
		proof, err := tlog.ProveTree(size, old, p.hashes.reader(HashReader(ctx, p.q)))
		if err != nil {
			return fmt.Errorf("couldn't prove size %d extends size %d: %w", size, old, err)
		}
		req.Proof = proof
	}
	rctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	sigs, err := witness.AddCheckpoint(rctx, p.client, url, req)
	if err != nil {
		return err
	}
	sig, err := p.cosignature(w, signed, sigs)
	if err != nil {
		return err
	}
	if _, err := p.q.Exec(ctx, `INSERT INTO audit_cosignatures (witness, size, signature) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, w.Key, size, sig); err != nil {
		return fmt.Errorf("couldn't store the cosignature: %w", err)
	}
	p.mu.Lock()
	if size > w.Cosigned {
		w.Cosigned = size
	}
	w.CosignedAt = time.Now()
	p.mu.Unlock()
	return nil
}

// cosignature returns w's cosignature line among the lines a witness
// answered, which must verify over the checkpoint.
func (p *Pusher) cosignature(w *WitnessStatus, signed, lines []byte) (string, error) {
	n, err := note.Open(append(slices.Clip(signed), lines...), note.VerifierList(p.logKey, w.verifier))
	if err != nil {
		return "", fmt.Errorf("the witness's answer does not verify: %v", err)
	}
	for _, s := range n.Sigs {
		if s.Name == w.verifier.Name() && s.Hash == w.verifier.KeyHash() {
			return fmt.Sprintf("— %s %s\n", s.Name, s.Base64), nil
		}
	}
	return "", errors.New("the witness answered without its cosignature")
}

// Status returns what this server knows of each witness, by name.
func (p *Pusher) Status() []WitnessStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]WitnessStatus, 0, len(p.status))
	for _, w := range p.status {
		out = append(out, *w)
	}
	slices.SortFunc(out, func(a, b WitnessStatus) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// newestCheckpoint returns the newest checkpoint's size and signed note (0
// and nil when there is none).
func newestCheckpoint(ctx context.Context, q DB) (int64, []byte, error) {
	var (
		size   int64
		signed []byte
	)
	err := q.QueryRow(ctx, `SELECT size, signed FROM audit_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &signed)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("couldn't read the newest checkpoint: %w", err)
	}
	return size, signed, nil
}
