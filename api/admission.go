package api

import (
	"net/http"
	"strconv"

	"primaryvote/internal/problem"
)

// admission bounds the requests the API works on at once. A request over
// the bound is refused at once with 503 and Retry-After, rather than queued:
// at the opening surge, queueing only makes every request late, while a
// quick refusal lets clients (the ballot page, the load tester) retry with
// the same Idempotency-Key a moment later.
type admission struct {
	slots      chan struct{}
	retryAfter int // seconds
}

func newAdmission(limit, retryAfter int) *admission {
	return &admission{slots: make(chan struct{}, limit), retryAfter: retryAfter}
}

// full reports whether every slot is taken, for readiness.
func (a *admission) full() bool { return len(a.slots) == cap(a.slots) }

func (s *Server) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.admission.slots <- struct{}{}:
			defer func() { <-s.admission.slots }()
			next.ServeHTTP(w, r)
		default:
			s.metrics.shed.Inc()
			w.Header().Set("Retry-After", strconv.Itoa(s.admission.retryAfter))
			problem.Write(w, problem.Overloaded, "The service is busy: please retry in a moment.", nil)
		}
	})
}
