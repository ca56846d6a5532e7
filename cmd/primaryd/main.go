// Command primaryd is the primaryvote server: the HTTP API and web pages.
//
// It connects with DATABASE_URL as the application's role, checks that the
// schema is current (the schema's owner migrates, with primaryctl migrate),
// and serves until it gets SIGINT or SIGTERM, when it stops taking
// connections and lets requests in flight finish.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"primaryvote/api"
	"primaryvote/audit"
	"primaryvote/audit/record"
	"primaryvote/auth"
	"primaryvote/elections"
	"primaryvote/migrations"
	"primaryvote/web"
)

// Config is primaryd's configuration.
type Config struct {
	// Addr is the TCP address to listen on, such as "127.0.0.1:8080".
	Addr string
	// DatabaseURL is the PostgreSQL connection string.
	DatabaseURL string
	// SecretsDir holds the server's secrets (pepper, token key); every replica
	// must share it. Missing secrets are created.
	SecretsDir string
	// MaxConns caps the database connection pool.
	MaxConns int32
	// ShutdownTimeout is how long requests in flight get to finish.
	ShutdownTimeout time.Duration
	// LogOrigin names the audit log in its checkpoints and is the name of
	// its signing key (kept in SecretsDir).
	LogOrigin string
	// SequenceInterval is how often the audit sequencer looks for entries.
	SequenceInterval time.Duration
	// WitnessInterval is how often the witness pusher looks for checkpoints
	// other servers signed and retries witnesses (default a second); it
	// pushes at once each checkpoint this server signs.
	WitnessInterval time.Duration
	// SignInLogInterval is how often the voter sign-ins and failures counted are
	// logged (default a minute); they are logged at shutdown too.
	SignInLogInterval time.Duration
	// API tunes the HTTP API.
	API api.Config
	// DebugAddr, when set, serves Go's profiler (/debug/pprof/) on its own
	// listener; keep it on a loopback address.
	DebugAddr string
	// MetricsAddr, when set, serves the Prometheus metrics (/metrics) on
	// their own listener, never on the public one: they show live turnout.
	// The command's default is 127.0.0.1:9464.
	MetricsAddr string
}

// Main is a running primaryd.
type Main struct {
	Config Config
	Logger *slog.Logger

	pool     *pgxpool.Pool
	server   *http.Server
	listener net.Listener
	done     chan error
	ops      []*http.Server // the profiler's and the metrics' listeners

	sequencer     *audit.Sequencer
	stopSequencer context.CancelFunc
	sequencerDone chan struct{}
	pusher        *audit.Pusher
	pusherDone    chan struct{} // the witness pusher, stopped with the sequencer

	stopSignInLog context.CancelFunc
	signInLogDone chan struct{}
}

// Run connects, checks the schema is current and starts serving; it returns
// once the server accepts connections.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if m.Config.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	// The schema's owner migrates (primaryctl migrate); the server runs as
	// the application's role and only checks the schema is current.
	if err := migrations.Check(ctx, m.Config.DatabaseURL); err != nil {
		return err
	}
	origin := m.Config.LogOrigin
	if origin == "" {
		origin = record.DefaultOrigin
	}
	secrets, err := auth.LoadSecrets(m.Config.SecretsDir, origin)
	if err != nil {
		return fmt.Errorf("couldn't load secrets: %w", err)
	}
	pc, err := pgxpool.ParseConfig(m.Config.DatabaseURL)
	if err != nil {
		return fmt.Errorf("couldn't parse DATABASE_URL: %w", err)
	}
	if m.Config.MaxConns > 0 {
		pc.MaxConns = m.Config.MaxConns
	}
	// The service's statements are prepared once per connection; each is
	// simple enough that one plan serves every execution, and planning it
	// afresh each time (PostgreSQL's default for its first executions and
	// whenever a custom plan looks cheaper) cost a tenth of PostgreSQL's
	// CPU per vote.
	pc.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	// Half the pool is opened at start, so the opening surge does not wait
	// for connections.
	pc.MinConns = pc.MaxConns / 2
	m.pool, err = pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("couldn't open database pool: %w", err)
	}
	signer := secrets.Log
	m.sequencer = audit.NewSequencer(m.pool, signer, m.Logger)
	interval := m.Config.SequenceInterval
	if interval == 0 {
		interval = 500 * time.Millisecond
	}
	var seqCtx context.Context
	seqCtx, m.stopSequencer = context.WithCancel(context.Background())
	m.sequencerDone = make(chan struct{})
	pusher, err := audit.NewPusher(m.pool, signer.VerifierKey(), m.Logger)
	if err != nil {
		m.pool.Close()
		return err
	}
	m.pusher = pusher
	m.sequencer.OnCheckpoint(pusher.Notify)
	witnessInterval := m.Config.WitnessInterval
	if witnessInterval == 0 {
		witnessInterval = time.Second
	}
	m.pusherDone = make(chan struct{})
	go func() {
		defer close(m.sequencerDone)
		m.sequencer.Run(seqCtx, interval)
	}()
	go func() {
		defer close(m.pusherDone)
		pusher.Run(seqCtx, witnessInterval)
	}()

	clock := time.Now
	elections := elections.New(m.pool, clock, secrets, signer.VerifierKey())
	credentials := auth.NewCredentials(m.pool, secrets, clock)
	signInLogInterval := m.Config.SignInLogInterval
	if signInLogInterval == 0 {
		signInLogInterval = time.Minute
	}
	var signInLogCtx context.Context
	signInLogCtx, m.stopSignInLog = context.WithCancel(context.Background())
	m.signInLogDone = make(chan struct{})
	go func() {
		defer close(m.signInLogDone)
		credentials.RunSignInLog(signInLogCtx, signInLogInterval, m.Logger)
	}()
	handler := api.New(m.Config.API, api.Services{
		Database:    m.pool,
		Elections:   elections,
		Pages:       web.New(elections, m.Logger),
		Credentials: credentials,
		Officials:   auth.NewOfficials(m.pool, clock),
		Tokens:      auth.NewTokens(secrets, clock),
		Log:         audit.NewLog(m.pool, m.sequencer, signer.VerifierKey()),
		Pusher:      pusher,
	}, m.Logger)

	m.listener, err = net.Listen("tcp", m.Config.Addr)
	if err != nil {
		m.stopSignInLog()
		<-m.signInLogDone
		m.stopSequencer()
		<-m.sequencerDone
		<-m.pusherDone
		m.pool.Close()
		return fmt.Errorf("couldn't listen: %w", err)
	}
	m.server = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	m.done = make(chan error, 1)
	go func() { m.done <- m.server.Serve(m.listener) }()
	m.Logger.Info("serving", "addr", m.listener.Addr().String())
	if m.Config.DebugAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		m.serveOps("profiler", m.Config.DebugAddr, mux)
	}
	if m.Config.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", handler.Metrics())
		m.serveOps("metrics", m.Config.MetricsAddr, mux)
	}
	return nil
}

// serveOps serves an operator's endpoint on a listener of its own.
func (m *Main) serveOps(name, addr string, h http.Handler) {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	m.ops = append(m.ops, srv)
	go func() {
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Warn(name+" stopped", "err", err)
		}
	}()
	m.Logger.Info(name, "addr", addr)
}

// Addr is the address the server listens on.
func (m *Main) Addr() string { return m.listener.Addr().String() }

// Close stops accepting connections, waits up to ShutdownTimeout for
// requests in flight, sequences what they logged, and closes the database
// pool.
func (m *Main) Close() error {
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	if m.server != nil {
		err = m.server.Shutdown(ctx)
		if serveErr := <-m.done; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
			err = serveErr
		}
	}
	for _, srv := range m.ops {
		srv.Close()
	}
	if m.stopSignInLog != nil {
		m.stopSignInLog()
		<-m.signInLogDone
	}
	if m.sequencer != nil {
		m.stopSequencer()
		<-m.sequencerDone
		<-m.pusherDone
		if _, serr := m.sequencer.Drain(ctx); serr != nil && err == nil {
			err = fmt.Errorf("couldn't sequence the last audit entries: %w", serr)
		}
		// The witnesses get the last checkpoint now, not when a server next
		// runs.
		if perr := m.pusher.Flush(ctx); perr != nil {
			m.Logger.Warn("couldn't push the last checkpoint to the witnesses", "err", perr)
		}
	}
	if m.pool != nil {
		m.pool.Close()
	}
	return err
}

// defaultMaxConns is the database pool's size unless told otherwise: three
// connections a core, at least four. PostgreSQL spends less CPU a vote with
// a few busy connections than with many: at 30,000 votes on two cores, a pool
// of 6 took PostgreSQL's CPU a vote from 1.0 ms (32 connections) to 0.7 ms,
// and lowered the latency too. Set it for the database's cores when
// PostgreSQL has a machine of its own, divided among the replicas.
func defaultMaxConns() int {
	return max(4, 3*runtime.GOMAXPROCS(0))
}

// tuneGC lets the heap grow to five times what is live before a collection
// (GOGC=400), under a soft limit of 192 MiB that keeps the server inside its
// 256 MiB (DESIGN.md §11), unless GOGC or GOMEMLIMIT say otherwise. What a
// vote allocates (bodies, ballots, rows, responses) lives for one request;
// collecting it at Go's default pace cost about a twelfth of primaryd's CPU
// per vote.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(192 << 20)
	}
}

func main() {
	cfg := Config{ShutdownTimeout: 20 * time.Second}
	flag.StringVar(&cfg.LogOrigin, "log-origin", envOr("PRIMARYVOTE_LOG_ORIGIN", record.DefaultOrigin), "the audit log's name in its checkpoints (PRIMARYVOTE_LOG_ORIGIN)")
	var trusted, level string
	flag.StringVar(&cfg.Addr, "addr", envOr("PRIMARYVOTE_ADDR", "127.0.0.1:8080"), "listen address (PRIMARYVOTE_ADDR)")
	flag.StringVar(&cfg.SecretsDir, "secrets", envOr("PRIMARYVOTE_SECRETS", auth.DefaultSecretsDir), "secrets directory (PRIMARYVOTE_SECRETS)")
	flag.StringVar(&trusted, "trusted-proxies", os.Getenv("PRIMARYVOTE_TRUSTED_PROXIES"), "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed (PRIMARYVOTE_TRUSTED_PROXIES)")
	defaults := api.DefaultConfig()
	flag.IntVar(&cfg.API.MaxInFlightPerClient, "requests-per-ip", envInt("PRIMARYVOTE_REQUESTS_PER_IP", defaults.MaxInFlightPerClient), "API requests one client address may have in progress at once (PRIMARYVOTE_REQUESTS_PER_IP)")
	flag.IntVar(&cfg.API.SignInsPerIP, "signins-per-ip", envInt("PRIMARYVOTE_SIGNINS_PER_IP", defaults.SignInsPerIP), "voter sign-in attempts per client address per minute (PRIMARYVOTE_SIGNINS_PER_IP)")
	flag.IntVar(&cfg.API.SignInsPerVoter, "signins-per-voter", defaults.SignInsPerVoter, "sign-in attempts per voter id from one client address per minute")
	var maxConns int
	flag.IntVar(&maxConns, "max-conns", envInt("PRIMARYVOTE_MAX_CONNS", defaultMaxConns()), "database connection pool size; the default is three a core (PRIMARYVOTE_MAX_CONNS)")
	flag.IntVar(&cfg.API.MaxInFlight, "max-inflight", defaults.MaxInFlight, "API requests served at once; more get 503 with Retry-After")
	flag.StringVar(&cfg.DebugAddr, "debug-addr", "", "serve the profiler (/debug/pprof/) here, such as 127.0.0.1:6060; off by default")
	flag.StringVar(&cfg.MetricsAddr, "metrics-addr", envOr("PRIMARYVOTE_METRICS_ADDR", "127.0.0.1:9464"), "serve the Prometheus metrics (/metrics) here, never publicly; empty for none (PRIMARYVOTE_METRICS_ADDR)")
	flag.StringVar(&level, "log-level", envOr("PRIMARYVOTE_LOG_LEVEL", "info"), "debug, info, warn or error (PRIMARYVOTE_LOG_LEVEL)")
	flag.Parse()
	cfg.MaxConns = int32(maxConns)
	cfg.DatabaseURL = os.Getenv("DATABASE_URL")
	tuneGC()

	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		fatal(fmt.Errorf("bad -log-level: %w", err))
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	for _, s := range strings.Split(trusted, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			fatal(fmt.Errorf("bad -trusted-proxies entry %q: %w", s, err))
		}
		cfg.API.TrustedProxies = append(cfg.API.TrustedProxies, p)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Config: cfg, Logger: logger}
	if err := m.Run(ctx); err != nil {
		fatal(err)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	if err := m.Close(); err != nil {
		fatal(err)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// envInt reads an integer setting from the environment, or returns def.
func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return n
	}
	return def
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "primaryd:", err)
	os.Exit(1)
}
