package elections

import (
	"runtime"
	"sync"

	"primaryvote/ballot"
)

// A verifier checks the ballots of concurrent casts together. Casts queue
// their ballots; up to one worker per CPU takes everything queued (up to
// maxBatch) and checks it as one batch, so that under load a ballot costs
// a share of one multi-scalar multiplication rather than a check of its
// own, and when idle a ballot is checked at once, alone. A batch that does
// not hold is checked ballot by ballot, and each cast gets its own answer.
// Workers exist only while there is work.
type verifier struct {
	workers  int
	maxBatch int

	mu      sync.Mutex
	queue   []*verifyJob
	running int
}

type verifyJob struct {
	e      *ballot.Election
	raw    []byte
	ballot *ballot.EncryptedBallot
	err    error
	done   chan struct{}
}

func newVerifier() *verifier {
	return &verifier{workers: runtime.GOMAXPROCS(0), maxBatch: 64}
}

// verify parses raw as a ballot of e and checks every proof and its
// signature; the error names the first failure.
func (v *verifier) verify(e *ballot.Election, raw []byte) (*ballot.EncryptedBallot, error) {
	j := &verifyJob{e: e, raw: raw, done: make(chan struct{})}
	v.mu.Lock()
	v.queue = append(v.queue, j)
	if v.running < v.workers {
		v.running++
		go v.work()
	}
	v.mu.Unlock()
	<-j.done
	return j.ballot, j.err
}

func (v *verifier) work() {
	for {
		v.mu.Lock()
		if len(v.queue) == 0 {
			v.running--
			v.mu.Unlock()
			return
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
				j.ballot, j.err = bt.Add(j.raw)
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
					added[i].ballot, added[i].err = nil, err
				}
			}
		}
		for _, j := range js {
			close(j.done)
		}
	}
}
