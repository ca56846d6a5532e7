package elections

import (
	"runtime"
	"sync"
	"time"

	"primaryvote/ballot"
)

// A verifier checks the ballots of concurrent casts together. Casts queue
// their ballots; a worker waits until the oldest has waited linger, or
// maxBatch are queued, and checks them as one batch, so that a ballot costs
// a share of one multi-scalar multiplication (whose cost a point falls as
// the batch grows) rather than a check of its own. A backlog of a full
// batch or more starts another worker, up to one per CPU. A batch that
// does not hold is checked ballot by ballot, and each cast gets its own
// answer. Workers exist only while there is work.
type verifier struct {
	workers  int
	maxBatch int
	linger   time.Duration

	mu      sync.Mutex
	queue   []*verifyJob
	running int
	// full wakes a lingering worker when a batch is full.
	full chan struct{}
}

type verifyJob struct {
	queued time.Time
	e      *ballot.Election
	raw    []byte
	err    error
	done   chan struct{}
}

// verifierLinger is how long a ballot may wait for others to share its
// batch: a small part of a cast's latency budget.
const verifierLinger = 50 * time.Millisecond

func newVerifier() *verifier {
	return &verifier{workers: runtime.GOMAXPROCS(0), maxBatch: 64, linger: verifierLinger, full: make(chan struct{}, 1)}
}

// verify parses raw as a ballot of e and checks every proof and its
// signature; the error names the first failure.
func (v *verifier) verify(e *ballot.Election, raw []byte) error {
	j := &verifyJob{queued: time.Now(), e: e, raw: raw, done: make(chan struct{})}
	v.mu.Lock()
	v.queue = append(v.queue, j)
	if v.running == 0 || len(v.queue) >= v.maxBatch*v.running && v.running < v.workers {
		v.running++
		go v.work()
	}
	if len(v.queue) >= v.maxBatch {
		select {
		case v.full <- struct{}{}:
		default:
		}
	}
	v.mu.Unlock()
	<-j.done
	return j.err
}

func (v *verifier) work() {
	for {
		v.mu.Lock()
		if len(v.queue) == 0 {
			v.running--
			v.mu.Unlock()
			return
		}
		if wait := v.linger - time.Since(v.queue[0].queued); wait > 0 && len(v.queue) < v.maxBatch {
			v.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-v.full:
				t.Stop()
			}
			continue
		}
		n := min(len(v.queue), v.maxBatch)
		jobs := v.queue[:n:n]
		v.queue = v.queue[n:]
		v.mu.Unlock()
		verifyBatch(jobs)
	}
}

// verifyBatch checks jobs, one batch per election among them.
func verifyBatch(jobs []*verifyJob) {
	byElection := map[string][]*verifyJob{}
	for _, j := range jobs {
		byElection[j.e.ID] = append(byElection[j.e.ID], j)
	}
	for _, js := range byElection {
		bt, err := js[0].e.NewBatch()
		var added []*verifyJob
		for _, j := range js {
			if err == nil {
				_, j.err = bt.Add(j.raw)
			} else {
				j.err = err
			}
			if j.err == nil {
				added = append(added, j)
			}
		}
		if bt != nil {
			for i, err := range bt.VerifyEach() {
				if err != nil {
					added[i].err = err
				}
			}
		}
		for _, j := range js {
			close(j.done)
		}
	}
}
