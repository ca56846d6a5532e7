// Package api is primaryvote's HTTP interface: the site's one handler, which
// composes the site-wide middleware (security headers, client address,
// cross-origin protection, throttling, access log, metrics), the pages
// (package web) and the JSON API of DESIGN.md §6, with RFC 9457
// problem+json errors (internal/problem).
//
// Handlers decode and check input, call the services through the small
// interfaces in services.go and encode their answers; the rules live in the
// services, and tests can serve the API over fakes. Every request body is read
// strictly (see readJSON) and every failure is a problem document with a
// 4xx status, or a 500 whose cause goes to the log and never to the client.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/httprate"

	pv "primaryvote"
	"primaryvote/auth"
	"primaryvote/internal/problem"
)

// Config tunes the API. A zero field takes its value from DefaultConfig.
type Config struct {
	// TrustedProxies are the networks of the reverse proxies in front of the
	// server. Only requests from them have X-Forwarded-For and
	// X-Forwarded-Proto believed.
	TrustedProxies []netip.Prefix
	// SignInsPerIP is how many voter sign-ins one client address may attempt
	// per minute. Mobile carriers put many voters behind one address, so it is
	// generous.
	SignInsPerIP int
	// SignInsPerVoter is how many sign-ins one client address may attempt
	// for one voter id per minute. It is never a limit on the voter id
	// alone, which anyone could exhaust to lock its owner out.
	SignInsPerVoter int
	// ChecksPerVoter is how many copies of their ballot one voter may check
	// (and have logged) per day, per server process: a few are plenty for
	// the voter, and the bound keeps the log from being flooded.
	ChecksPerVoter int
	// OfficialSignInsPerIP limits officials' sign-in attempts per client
	// address, and per address and username, per minute. After three failed
	// passwords an address also waits 1 s, 2 s, 4 s, … (up to 15 minutes)
	// before each further attempt is heard; other addresses are unaffected.
	OfficialSignInsPerIP int
	// MaxInFlight bounds the API requests served at once; more are refused
	// with 503 and Retry-After. Size it to the database pool and the cores.
	MaxInFlight int
	// MaxInFlightPerClient bounds the API requests one client address may
	// have in progress, from the first byte of their bodies on; more are
	// refused with 429 and Retry-After.
	MaxInFlightPerClient int
	// BodyTimeout is how long a request body may take to arrive. Bodies are
	// read whole before a request takes a work slot, so a client sending
	// slowly holds none.
	BodyTimeout time.Duration
	// RetryAfter is the Retry-After, in seconds, of an overload refusal.
	RetryAfter int
}

// trusteePostsPerIP bounds the key ceremony's messages and the partial
// decryptions one client address may post per minute.
const trusteePostsPerIP = 60

// DefaultConfig is the API's tuning unless the operator says otherwise: the
// one place each default is written.
func DefaultConfig() Config {
	return Config{
		SignInsPerIP:         600,
		SignInsPerVoter:      10,
		ChecksPerVoter:       5,
		OfficialSignInsPerIP: 10,
		MaxInFlight:          64,
		MaxInFlightPerClient: 32,
		BodyTimeout:          5 * time.Second,
		RetryAfter:           1,
	}
}

func (c *Config) setDefaults() {
	d := DefaultConfig()
	for _, f := range []struct{ v, def *int }{
		{&c.SignInsPerIP, &d.SignInsPerIP},
		{&c.SignInsPerVoter, &d.SignInsPerVoter},
		{&c.ChecksPerVoter, &d.ChecksPerVoter},
		{&c.OfficialSignInsPerIP, &d.OfficialSignInsPerIP},
		{&c.MaxInFlight, &d.MaxInFlight},
		{&c.MaxInFlightPerClient, &d.MaxInFlightPerClient},
		{&c.RetryAfter, &d.RetryAfter},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if c.BodyTimeout == 0 {
		c.BodyTimeout = d.BodyTimeout
	}
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	svc     Services
	logger  *slog.Logger
	metrics *metrics

	voterLimiter     *httprate.RateLimiter
	officialLimiter  *httprate.RateLimiter
	checkLimiter     *httprate.RateLimiter
	officialFailures *failures
	admission        *admission
	handler          http.Handler

	clientsMu sync.Mutex
	clients   map[string]int // client address → API requests in progress
}

// New returns the API server. logger may be nil.
func New(cfg Config, svc Services, logger *slog.Logger) *Server {
	cfg.setDefaults()
	if logger == nil {
		logger = discard
	}
	s := &Server{cfg: cfg, svc: svc, logger: logger, metrics: newMetrics(), admission: newAdmission(cfg.MaxInFlight, cfg.RetryAfter),
		clients: map[string]int{}, officialFailures: newFailures(3, 15*time.Minute, 15*time.Minute, time.Now)}
	s.voterLimiter = httprate.NewRateLimiter(cfg.SignInsPerVoter, time.Minute, httprate.WithLimitHandler(s.tooMany))
	s.officialLimiter = httprate.NewRateLimiter(cfg.OfficialSignInsPerIP, time.Minute, httprate.WithLimitHandler(s.tooMany))
	s.checkLimiter = httprate.NewRateLimiter(cfg.ChecksPerVoter, 24*time.Hour, httprate.WithLimitHandler(s.tooMany))
	if svc.Pusher != nil {
		s.metrics.registry.MustRegister(newWitnessCollector(svc.Pusher))
	}
	s.handler = s.routes()
	return s
}

// Metrics serves the Prometheus metrics. They show live turnout and
// traffic: serve them to operators only, on a listener of their own.
func (s *Server) Metrics() http.Handler { return s.metrics.handler() }

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// routes composes the site, the one place the parts meet: the site-wide
// middleware (recovery, security headers, access log and metrics, client
// address, cross-origin protection), health, the pages and the JSON API,
// and not-found answers in the form the asker reads.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.securityHeaders, s.accessLog, s.clientIP)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		// People get a page in their language; programs, a problem.
		if s.svc.Pages != nil && !strings.HasPrefix(r.URL.Path, "/api/") {
			s.svc.Pages.NotFound(w, r)
			return
		}
		problem.Write(w, pv.ENotFound, "There is nothing at this address.", nil)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, problem.MethodNotAllowed, "This method is not allowed here.", nil)
	})
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if s.svc.Pages != nil {
		s.svc.Pages.Routes(r)
	}
	r.Route("/api/v1", s.apiRoutes)

	// Browsers' cross-origin POSTs are refused before any handler runs.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, pv.EForbidden, "Cross-origin requests may not change anything.", nil)
	}))
	return cop.Handler(r)
}

// apiRoutes is the JSON API (DESIGN.md §6): its throttles, and who may call
// what.
func (s *Server) apiRoutes(r chi.Router) {
	perIP := func(n int) func(http.Handler) http.Handler {
		return httprate.LimitBy(n, time.Minute,
			func(r *http.Request) (string, error) { return clientIPFrom(r.Context()), nil },
			httprate.WithLimitHandler(s.tooMany))
	}
	r.Use(s.perClient, s.readBody, s.admit)
	r.With(perIP(s.cfg.OfficialSignInsPerIP)).Post("/officials/sessions", s.createOfficialSession)
	r.Get("/log/key", s.getLogKey)
	r.Get("/elections", s.listElections)
	r.Route("/elections/{id}", func(r chi.Router) {
		r.Get("/", s.getElection)
		r.Get("/results", s.getResults)
		r.Get("/checkpoint", s.getCheckpoint)
		r.Get("/receipts/{code}", s.getReceipt)
		r.Get("/ceremony", s.getCeremony)
		r.Get("/witnesses", s.getWitnesses)
		r.With(s.requireRole(auth.Admin)).Put("/witnesses", s.putWitnesses)
		// The trustees' messages carry their own authority (a signature, a
		// proof); a few a minute per address is plenty, even for every
		// trustee behind one address.
		trustees := perIP(trusteePostsPerIP)
		r.With(trustees).Post("/ceremony/deals", s.postCeremony("deal"))
		r.With(trustees).Post("/ceremony/verdicts", s.postCeremony("verdict"))
		r.With(trustees).Post("/ceremony/answers", s.postCeremony("answer"))
		r.With(trustees).Post("/partials", s.postPartial)
		r.With(perIP(s.cfg.SignInsPerIP)).Post("/sessions", s.createVoterSession)
		r.Group(func(r chi.Router) {
			r.Use(s.requireVoter)
			r.Get("/ballot", s.getBallot)
			r.Post("/ballots", s.castBallot)
			r.Post("/spoiled", s.spoilCopy)
		})
		r.With(s.requireRole(auth.Official)).Get("/turnout", s.getTurnout)
		r.With(s.requireRole(auth.Official)).Get("/audit/entries", s.getActivity)
		r.With(s.requireRole(auth.Auditor, auth.Admin)).Get("/audit/bundle", s.getBundle)
		r.With(s.requireRole(auth.Admin)).Post("/open", s.openElection)
		r.With(s.requireRole(auth.Admin)).Post("/close", s.closeElection)
	})
}

func (s *Server) tooMany(w http.ResponseWriter, r *http.Request) {
	problem.Write(w, pv.ETooMany, "Too many attempts: wait a moment and try again.", nil)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.admission.full() {
		w.Header().Set("Retry-After", strconv.Itoa(s.cfg.RetryAfter))
		problem.Write(w, problem.Overloaded, "Every request slot is busy.", nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.svc.Database.Ping(ctx); err != nil {
		s.logger.WarnContext(ctx, "not ready: database unreachable", "err", err)
		problem.Write(w, problem.Unavailable, "The database is not reachable.", nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}

// requireVoter admits requests carrying a valid voter token for the
// election in the path.
func (s *Server) requireVoter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		voter, err := s.svc.Tokens.Voter(bearer(r), chi.URLParam(r, "id"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), voterKey, voter)))
	})
}

// requireRole admits requests carrying a valid official token whose role
// grants one of the roles wanted.
func (s *Server) requireRole(want ...auth.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := s.svc.Tokens.Official(bearer(r))
			if err == nil {
				// The account as it is now, not as it was when the token
				// was issued: disabled, removed or given another role.
				p.Role, err = s.svc.Officials.Current(r.Context(), p.Username)
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			granted := false
			for _, role := range want {
				granted = granted || p.Role.Has(role)
			}
			if !granted {
				s.writeError(w, r, pv.Errorf(pv.EForbidden, "This needs the %s role.", want[0]))
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), officialKey, p)))
		})
	}
}

func voterFrom(ctx context.Context) auth.Voter { v, _ := ctx.Value(voterKey).(auth.Voter); return v }

func officialFrom(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(officialKey).(auth.Principal)
	return p
}
