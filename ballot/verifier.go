package ballot

import (
	"runtime"
	"sync"
	"time"
)

// A Verifier checks the ballots of concurrent casts, and the signatures of
// concurrent sign-ins, together. Callers queue their ballot or signature; a
// worker waits until the oldest has waited linger, or maxBatch are queued,
// and checks them as one Batch, so that each costs a share of one
// multi-scalar multiplication (whose cost a point falls as the batch grows)
// rather than a check of its own. A backlog of a full batch or more starts
// another worker, up to one per CPU. A batch that does not hold is checked
// one by one, and each caller gets its own answer. Workers exist only while
// there is work.
type Verifier struct {
	workers  int
	maxBatch int
	linger   time.Duration

	mu      sync.Mutex
	queue   []*verifyJob
	running int
	// full wakes a lingering worker when a batch is full.
	full chan struct{}
}

// A verifyJob is a ballot of e, or (e nil) a signature.
type verifyJob struct {
	queued time.Time
	e      *Election
	raw    []byte // the ballot
	// The signature's key, context, message and bytes.
	public, message, sig []byte
	context              string
	err                  error
	done                 chan struct{}
}

// verifierLinger is how long a ballot may wait for others to share its
// batch: a small part of a cast's latency budget.
const verifierLinger = 50 * time.Millisecond

// NewVerifier returns a verifier with no work yet.
func NewVerifier() *Verifier {
	return &Verifier{workers: runtime.GOMAXPROCS(0), maxBatch: 64, linger: verifierLinger, full: make(chan struct{}, 1)}
}

// VerifyBallot parses raw as a ballot of e and checks every proof and its
// signature; the error names the first failure.
func (v *Verifier) VerifyBallot(e *Election, raw []byte) error {
	return v.run(&verifyJob{e: e, raw: raw})
}

// VerifySignature checks sig, a signature of message by public under
// context, as the function VerifySignature does.
func (v *Verifier) VerifySignature(public []byte, context string, message, sig []byte) error {
	return v.run(&verifyJob{public: public, context: context, message: message, sig: sig})
}

func (v *Verifier) run(j *verifyJob) error {
	j.queued, j.done = time.Now(), make(chan struct{})
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

func (v *Verifier) work() {
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

// verifyBatch checks jobs: one batch per election among them, and one of
// the signatures.
func verifyBatch(jobs []*verifyJob) {
	groups := map[string][]*verifyJob{}
	for _, j := range jobs {
		key := "signatures"
		if j.e != nil {
			key = "election " + j.e.ID
		}
		groups[key] = append(groups[key], j)
	}
	for _, js := range groups {
		var (
			bt  *Batch
			err error
		)
		if js[0].e != nil {
			if bt, err = js[0].e.NewBatch(); err == nil {
				bt.Reserve(len(js))
			}
		} else {
			bt = NewSignatureBatch()
		}
		var added []*verifyJob
		for _, j := range js {
			switch {
			case err != nil:
				j.err = err
			case j.e != nil:
				_, j.err = bt.Add(j.raw)
			default:
				j.err = bt.AddSignature(j.public, j.context, j.message, j.sig)
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
