package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	pv "primaryvote"
	"primaryvote/internal/problem"
)

// What one client can hold, and how an attack on one account is slowed
// without locking its owner out:
//
//   - perClient caps the requests one client address has in progress, from
//     the first byte of the body on; more are refused at once with 429.
//   - readBody reads a request's whole body, bounded in size and time,
//     before the request may take one of the work slots that admit counts.
//     A client that sends its body slowly holds a goroutine and its own
//     per-client count, never a slot others need.
//   - Sign-ins are throttled per client address and per (address, account),
//     never per account alone: whoever types wrong codes for someone else's
//     voter id, or wrong passwords for admin, slows themselves down and
//     nobody else. An address that keeps failing an official's password
//     waits longer and longer (failures).

// perClient refuses a request when its client address already has the
// configured number of API requests in progress.
func (s *Server) perClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientIPFrom(r.Context())
		s.clientsMu.Lock()
		busy := s.clients[ip] >= s.cfg.MaxInFlightPerClient
		if !busy {
			s.clients[ip]++
		}
		s.clientsMu.Unlock()
		if busy {
			s.metrics.shed.Inc()
			// Closing the connection answers at once: otherwise the server
			// would first wait for the body it was never going to read.
			w.Header().Set("Connection", "close")
			w.Header().Set("Retry-After", strconv.Itoa(s.cfg.RetryAfter))
			problem.Write(w, pv.ETooMany, "Too many requests from your address at once: please retry in a moment.", nil)
			return
		}
		defer func() {
			s.clientsMu.Lock()
			if s.clients[ip]--; s.clients[ip] == 0 {
				delete(s.clients, ip)
			}
			s.clientsMu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// maxBody bounds every API request body; handlers bound theirs further.
const maxBody = maxBallotBody

// readBody reads the request's body, at most maxBody bytes within
// BodyTimeout, and hands the handler a copy in memory.
func (s *Server) readBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		deadline := rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout)) == nil
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			problem.Write(w, problem.TooLarge, fmt.Sprintf("The request body is larger than %d bytes.", maxBody), nil)
			return
		case errors.Is(err, os.ErrDeadlineExceeded):
			w.Header().Set("Connection", "close")
			problem.Write(w, problem.RequestTimeout, "The request body did not arrive in time.", nil)
			return
		case err != nil:
			problem.Write(w, pv.EInvalid, "The request body could not be read.", nil)
			return
		}
		if deadline {
			rc.SetReadDeadline(time.Time{})
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// failures slows down a client address that keeps failing a sign-in: after
// free failures within window, each further one makes the address wait
// twice as long as the last before it is heard again, up to max.
type failures struct {
	free   int
	window time.Duration
	max    time.Duration
	now    func() time.Time

	mu sync.Mutex
	by map[string]*failureRecord
}

type failureRecord struct {
	count int
	last  time.Time
	until time.Time // no attempt is heard before then
}

func newFailures(free int, window, max time.Duration, now func() time.Time) *failures {
	return &failures{free: free, window: window, max: max, now: now, by: map[string]*failureRecord{}}
}

// wait returns how long the address must still wait before an attempt.
func (f *failures) wait(addr string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.by[addr]
	if r == nil {
		return 0
	}
	return max(0, r.until.Sub(f.now()))
}

// fail records a failed attempt from the address.
func (f *failures) fail(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if len(f.by) > 100_000 {
		f.prune(now)
	}
	r := f.by[addr]
	if r == nil || now.Sub(r.last) > f.window {
		r = &failureRecord{}
		f.by[addr] = r
	}
	r.count++
	r.last = now
	if over := r.count - f.free; over > 0 {
		d := time.Second << min(over-1, 20)
		r.until = now.Add(min(d, f.max))
	}
}

// succeed forgets the address's failures.
func (f *failures) succeed(addr string) {
	f.mu.Lock()
	delete(f.by, addr)
	f.mu.Unlock()
}

func (f *failures) prune(now time.Time) {
	for a, r := range f.by {
		if now.Sub(r.last) > f.window && !now.Before(r.until) {
			delete(f.by, a)
		}
	}
}

// tooManyFor refuses a request that must wait d.
func (s *Server) tooManyFor(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	problem.Write(w, pv.ETooMany, "Too many failed attempts from your address: wait a moment and try again.", nil)
}
