// Command primarybench plays a whole primary at full scale on one machine,
// end to end, as make bench does: create the election, import the roll,
// make the voters' credentials as the credential authority and import them,
// run the key ceremony, open, play every voter through
// the HTTP API with the load tester, close, tally, decrypt with two of three
// trustees, publish, export the audit bundle and verify it (against the
// witness policy: the camps' witnesses, two unless told otherwise, cosign
// the log as it grows), and reconcile
// (acknowledged = in the log = counted, choice by choice). It prints one
// summary, with the server's CPU per vote (primaryd and PostgreSQL, from
// /proc over the voting window), and writes it as JSON with --out.
//
// It drives bin/primaryctl, bin/primaryd and bin/auditverify as an operator
// would, against the database in DATABASE_URL and DATABASE_OWNER_URL; the
// cluster's data directory (--pgdata) names PostgreSQL's processes; without
// it, PostgreSQL's CPU is not measured.
// scripts/bench starts and stops the cluster around it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"primaryvote/internal/loadtest"
)

// config is a bench run.
type config struct {
	voters      int
	concurrency int
	rate, surge float64
	ballot      string // "primary" or "demo"
	work        string // a private directory for the run's files
	bin         string // where primaryctl, primaryd and auditverify are
	pgdata      string
	profile     string // a directory for CPU profiles, or ""
	keepBundle  string // a file to keep the audit bundle in, or ""
	out         string // a file for the JSON summary, or ""
	witnesses   int    // the camps' witnesses to push to (0: none)
}

func main() {
	var c config
	flag.IntVar(&c.voters, "voters", 224556, "voters on the roll, every one of whom votes")
	flag.IntVar(&c.concurrency, "concurrency", 64, "voters in progress at once")
	flag.Float64Var(&c.rate, "rate", 0, "voters arriving per second (0: as fast as the concurrency allows)")
	flag.Float64Var(&c.surge, "surge", 1, "rate multiplier for the first fifth of the run")
	flag.StringVar(&c.ballot, "ballot", "primary", "primary (one race of six) or demo (the demo's two races)")
	flag.StringVar(&c.work, "work", "", "a private directory for the run's files (required)")
	flag.StringVar(&c.bin, "bin", "bin", "the directory with primaryctl, primaryd and auditverify")
	flag.StringVar(&c.pgdata, "pgdata", "", "the PostgreSQL cluster's data directory, whose processes' CPU is measured")
	flag.StringVar(&c.profile, "profile", "", "write CPU profiles of primaryd (20 s, mid-run), the load tester and auditverify here, and PostgreSQL's costliest statements over the voting window (postgres.txt; its cluster must preload pg_stat_statements)")
	flag.StringVar(&c.keepBundle, "bundle", "", "keep the audit bundle here (its log key in FILE.key)")
	flag.StringVar(&c.out, "out", "", "write the summary as JSON here")
	flag.IntVar(&c.witnesses, "witnesses", 2, "witnesses the log is pushed to, every one of whom must cosign (0: none)")
	flag.Parse()
	if c.work == "" || flag.NArg() != 0 || (c.ballot != "primary" && c.ballot != "demo") || c.voters < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run(ctx, c)
	if sum != nil {
		sum.write(os.Stdout)
		if c.out != "" {
			b, _ := json.MarshalIndent(sum, "", "  ")
			if werr := os.WriteFile(c.out, append(b, '\n'), 0o644); werr != nil && err == nil {
				err = werr
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "primarybench:", err)
		os.Exit(1)
	}
}

// summary is what a run measured and found.
type summary struct {
	Voters      int     `json:"voters"`
	Ballot      string  `json:"ballot"`
	Concurrency int     `json:"concurrency"`
	Cores       int     `json:"cores"`
	RollImportS float64 `json:"roll_import_seconds"`
	// AuthorityS is the credential authority's time to make every code and
	// credential; ImportS, the server's to import the public credentials.
	AuthorityS float64 `json:"credential_authority_seconds"`
	ImportS    float64 `json:"credential_import_seconds"`
	// Load is the load tester's report of the voting.
	Load *loadtest.Report `json:"load"`
	// CPU is the server's CPU over the voting window.
	CPU              cpuReport                `json:"cpu"`
	PostgresMeasured bool                     `json:"postgres_measured"`
	PeakRSSMiB       float64                  `json:"primaryd_peak_rss_mib"`
	TallyS           float64                  `json:"tally_decrypt_publish_seconds"`
	VerifyS          float64                  `json:"auditverify_seconds"`
	Verified         bool                     `json:"verified"`
	VerifySteps      []string                 `json:"auditverify_steps"`
	Reconciled       *loadtest.Reconciliation `json:"reconciliation"`
	// Witnessing is what the log's growth and its witnesses did over the
	// voting window.
	Witnessing witnessing                `json:"witnessing"`
	Chosen     map[string]map[string]int `json:"chosen"`
}

// cpuReport is CPU time over the voting window, per process group, in
// seconds and in milliseconds per acknowledged vote.
type cpuReport struct {
	WindowS           float64 `json:"window_seconds"`
	PrimarydS         float64 `json:"primaryd_seconds"`
	PostgresS         float64 `json:"postgres_seconds"`
	LoadTesterS       float64 `json:"load_tester_seconds"`
	PrimarydMsPerVote float64 `json:"primaryd_ms_per_vote"`
	PostgresMsPerVote float64 `json:"postgres_ms_per_vote"`
	ServerMsPerVote   float64 `json:"server_ms_per_vote"`
}

// witnessing is the log's growth over the voting window and what the
// witnesses did: records sequenced a second, the most any witness lagged at
// the window's end, how long after it they had all caught up, and their CPU
// over the window (a camp's machine's, in an election).
type witnessing struct {
	Witnesses      int     `json:"witnesses"`
	RecordsPerSec  float64 `json:"log_records_per_second"`
	LagAtEnd       int64   `json:"max_lag_at_end"`
	CatchUpS       float64 `json:"catch_up_seconds"`
	WitnessCPUS    float64 `json:"witnesses_cpu_seconds"`
	FinalCosigned  bool    `json:"final_checkpoint_cosigned"`
	logStart       int64
	witnessCPUFrom time.Duration
}

func run(ctx context.Context, c config) (*summary, error) {
	sum := &summary{Voters: c.voters, Ballot: c.ballot, Concurrency: c.concurrency, Cores: runtime.NumCPU()}
	os.Setenv("PRIMARYVOTE_SECRETS", filepath.Join(c.work, "secrets"))
	ctl := func(stdin string, args ...string) (string, error) {
		return command(ctx, filepath.Join(c.bin, "primaryctl"), stdin, args...)
	}
	def, err := definition(c.ballot)
	if err != nil {
		return nil, err
	}
	files := func(name string) string { return filepath.Join(c.work, name) }
	if err := os.WriteFile(files("election.json"), def, 0o600); err != nil {
		return nil, err
	}
	if err := writeRoll(files("roll.csv"), c.voters); err != nil {
		return nil, err
	}
	passphrases := randomPassphrases(3)
	if err := os.WriteFile(files("passphrases"), []byte(strings.Join(passphrases, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	for _, step := range [][]string{{"migrate"}, {"election", "create", "--file", files("election.json")}} {
		if _, err := ctl("", step...); err != nil {
			return nil, err
		}
	}
	if sum.RollImportS, err = timed(func() error { _, err := ctl("", "roll", "import", "bench", files("roll.csv")); return err }); err != nil {
		return nil, err
	}
	if sum.AuthorityS, err = timed(func() error {
		_, err := ctl("", "credentials", "generate", "--election", "bench", "--roll", files("roll.csv"), "--out", files("authority"))
		return err
	}); err != nil {
		return nil, err
	}
	if sum.ImportS, err = timed(func() error {
		_, err := ctl("", "credentials", "import", "bench", filepath.Join(files("authority"), "bench-credentials.csv"))
		return err
	}); err != nil {
		return nil, err
	}
	d, err := startPrimaryd(ctx, c)
	if err != nil {
		return nil, err
	}
	defer d.kill()
	// The key ceremony, 2 of 3, as the trustees run it against the server.
	if err := os.MkdirAll(files("shares"), 0o700); err != nil {
		return nil, err
	}
	identity := func(i int) string { return filepath.Join(files("shares"), fmt.Sprintf("trustee-%d.identity", i)) }
	register := []string{"trustees", "register", "bench", "--threshold", "2"}
	for i := 1; i <= 3; i++ {
		if _, err := ctl(passphrases[i-1]+"\n", "trustees", "identity", "--name", fmt.Sprintf("Trustee %d", i), "--out", identity(i)); err != nil {
			return nil, err
		}
		register = append(register, strings.TrimSuffix(identity(i), ".identity")+".public.json")
	}
	if _, err := ctl("", register...); err != nil {
		return nil, err
	}
	for _, step := range []string{"deal", "judge"} {
		for i := 1; i <= 3; i++ {
			if _, err := ctl(passphrases[i-1]+"\n", "trustees", step, "--url", d.base, "--election", "bench", "--identity", identity(i)); err != nil {
				return nil, err
			}
		}
	}
	if _, err := ctl("", "trustees", "finish", "bench"); err != nil {
		return nil, err
	}
	share := func(i int) string { return filepath.Join(files("shares"), fmt.Sprintf("bench-trustee-%d.share", i)) }
	for i := 1; i <= 3; i++ {
		if _, err := ctl(passphrases[i-1]+"\n", "trustees", "share", "--url", d.base, "--election", "bench", "--identity", identity(i), "--out", share(i)); err != nil {
			return nil, err
		}
	}
	var ws *witnesses
	sum.Witnessing.Witnesses = c.witnesses
	if c.witnesses > 0 {
		key, err := ctl("", "log", "key", "--url", d.base)
		if err != nil {
			return nil, err
		}
		if ws, err = startWitnesses(ctx, c, c.witnesses, strings.TrimSpace(key)); err != nil {
			return nil, err
		}
		defer ws.stop()
	}
	if _, err := ctl("", "election", "open", "bench"); err != nil {
		return nil, err
	}

	rep, err := vote(ctx, c, sum, d, ws)
	if err != nil {
		return sum, err
	}
	sum.Load, sum.Chosen = rep, rep.Chosen
	if ws != nil {
		// How long after the window the witnesses had cosigned all of it.
		start := time.Now()
		for {
			v, err := readWitnesses(ctx, d.base)
			if err != nil {
				return sum, err
			}
			if v.Counting >= v.LogSize {
				break
			}
			if time.Since(start) > 2*time.Minute {
				return sum, fmt.Errorf("the witnesses did not catch up within 2 minutes: %+v", v)
			}
			time.Sleep(50 * time.Millisecond)
		}
		sum.Witnessing.CatchUpS = time.Since(start).Seconds()
	}

	if _, err := ctl("", "election", "close", "bench"); err != nil {
		return sum, err
	}
	if sum.TallyS, err = timed(func() error {
		if _, err := ctl("", "tally", "start", "bench"); err != nil {
			return err
		}
		// Each trustee checks the tallied bundle, and the sums in it, first.
		if _, err := ctl("", "audit", "export", "bench", "--out", files("tallied.bundle")); err != nil {
			return err
		}
		key, err := ctl("", "log", "key", "--url", d.base)
		if err != nil {
			return err
		}
		for _, i := range []int{1, 3} {
			if _, err := ctl(passphrases[i-1]+"\n", "trustees", "decrypt", "--url", d.base, "--election", "bench", "--share", share(i),
				"--bundle", files("tallied.bundle"), "--log-key", strings.TrimSpace(key)); err != nil {
				return err
			}
		}
		if _, err := ctl("", "tally", "finish", "bench"); err != nil {
			return err
		}
		_, err = ctl("", "publish", "bench")
		return err
	}); err != nil {
		return sum, err
	}
	if err := d.stop(); err != nil {
		return sum, err
	}

	out, err := ctl("", "audit", "export", "bench", "--out", files("bench.bundle"))
	if err != nil {
		return sum, err
	}
	key := ""
	for _, l := range strings.Split(out, "\n") {
		if k, ok := strings.CutPrefix(l, "log key: "); ok {
			key = k
		}
	}
	if key == "" {
		return sum, fmt.Errorf("primaryctl audit export printed no log key: %s", out)
	}
	verifyArgs := []string{"--log-key", key, files("bench.bundle")}
	if ws != nil {
		verifyArgs = append([]string{"--policy", ws.policy}, verifyArgs...)
	}
	if c.profile != "" {
		verifyArgs = append([]string{"--cpuprofile", filepath.Join(c.profile, "auditverify.pprof")}, verifyArgs...)
	}
	var report string
	sum.VerifyS, err = timed(func() error {
		report, err = command(ctx, filepath.Join(c.bin, "auditverify"), "", verifyArgs...)
		return err
	})
	sum.Verified = err == nil
	for _, l := range strings.Split(report, "\n") {
		if s, ok := strings.CutPrefix(l, "  ✓"); ok {
			sum.VerifySteps = append(sum.VerifySteps, strings.TrimSpace(s))
		}
	}
	sum.Witnessing.FinalCosigned = ws != nil && sum.Verified
	if c.keepBundle != "" {
		if err := copyFile(files("bench.bundle"), c.keepBundle); err != nil {
			return sum, err
		}
		if err := os.WriteFile(c.keepBundle+".key", []byte(key+"\n"), 0o644); err != nil {
			return sum, err
		}
	}

	f, err := os.Open(files("bench.bundle"))
	if err != nil {
		return sum, err
	}
	logged, err := loadtest.ReadBundle(f)
	f.Close()
	if err != nil {
		return sum, err
	}
	sum.Reconciled = loadtest.Reconcile(rep.Ledger, rep.Chosen, logged)
	switch {
	case !sum.Verified:
		return sum, errors.New("auditverify refused the bundle:\n" + report)
	case rep.Failed > 0:
		return sum, fmt.Errorf("%d voters got no receipt", rep.Failed)
	}
	return sum, sum.Reconciled.Err()
}

// daemon is the primaryd the bench runs, from the key ceremony to the count.
type daemon struct {
	cmd       *exec.Cmd
	base      string
	debugAddr string
	log       *os.File
}

// startPrimaryd runs primaryd and waits until it is ready.
func startPrimaryd(ctx context.Context, c config) (*daemon, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// The load tester is one client address playing every voter.
	args := []string{"-addr", addr, "-signins-per-ip", "100000000", "-requests-per-ip", strconv.Itoa(2 * c.concurrency), "-log-level", "warn", "-metrics-addr", ""}
	d := &daemon{base: "http://" + addr}
	if c.profile != "" {
		if err := os.MkdirAll(c.profile, 0o755); err != nil {
			return nil, err
		}
		if d.debugAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "-debug-addr", d.debugAddr)
	}
	if d.log, err = os.Create(filepath.Join(c.work, "primaryd.log")); err != nil {
		return nil, err
	}
	d.cmd = exec.Command(filepath.Join(c.bin, "primaryd"), args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		d.log.Close()
		return nil, err
	}
	if err := waitReady(ctx, d.base+"/readyz", 30*time.Second); err != nil {
		d.kill()
		return nil, fmt.Errorf("primaryd did not become ready (see %s): %w", d.log.Name(), err)
	}
	return d, nil
}

// stop stops primaryd and reports how it ended.
func (d *daemon) stop() error {
	if d.cmd.ProcessState != nil {
		return nil
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	err := d.cmd.Wait()
	d.log.Close()
	if err != nil {
		return fmt.Errorf("primaryd at shutdown: %w (see %s)", err, d.log.Name())
	}
	return nil
}

// kill stops primaryd at once, if it still runs.
func (d *daemon) kill() {
	if d.cmd.ProcessState == nil {
		d.cmd.Process.Kill()
		d.cmd.Wait()
		d.log.Close()
	}
}

// vote plays every voter through primaryd and measures the server's CPU
// over the voting window.
func vote(ctx context.Context, c config, sum *summary, d *daemon, ws *witnesses) (*loadtest.Report, error) {
	srv, base, debugAddr := d.cmd, d.base, d.debugAddr
	codes, err := os.Open(filepath.Join(c.work, "authority", "bench-codes.csv"))
	if err != nil {
		return nil, err
	}
	voters, err := loadtest.ReadVoters(codes)
	codes.Close()
	if err != nil {
		return nil, err
	}

	var profiled chan error
	if debugAddr != "" {
		profiled = make(chan error, 1)
		stopProfile, err := startCPUProfile(filepath.Join(c.profile, "loadtest.pprof"))
		if err != nil {
			return nil, err
		}
		defer stopProfile()
	}
	stmts, err := newStatements(c.pgdata, c.profile)
	if err != nil {
		return nil, err
	}
	if stmts != nil {
		if err := stmts.start(ctx); err != nil {
			return nil, err
		}
	}

	fmt.Fprintf(os.Stderr, "playing %d voters, %d at a time…\n", len(voters), c.concurrency)
	// The window is the voting, from the clock's start: the devices'
	// ballots are made before it (and timed apart).
	var (
		before    cpuSample
		sampleErr error
		start     time.Time
	)
	started := func() {
		if stmts != nil {
			sampleErr = stmts.reset(ctx)
		}
		if sampleErr == nil {
			before, sampleErr = sampleCPU(srv.Process.Pid, c.pgdata)
		}
		if sampleErr == nil {
			sum.Witnessing.logStart, sampleErr = logSize(ctx, base)
		}
		if ws != nil {
			sum.Witnessing.witnessCPUFrom = ws.cpu()
		}
		start = time.Now()
		if profiled != nil {
			go func() {
				time.Sleep(5 * time.Second)
				profiled <- fetch(ctx, "http://"+debugAddr+"/debug/pprof/profile?seconds=20", filepath.Join(c.profile, "primaryd.pprof"))
			}()
		}
	}
	rep, err := loadtest.Run(ctx, loadtest.Config{BaseURL: base, Election: "bench", Voters: voters,
		Concurrency: c.concurrency, Rate: c.rate, Surge: c.surge, Progress: os.Stderr, Started: started})
	if err == nil {
		err = sampleErr
	}
	if err != nil {
		return nil, err
	}
	window := time.Since(start)
	after, err := sampleCPU(srv.Process.Pid, c.pgdata)
	if err != nil {
		return nil, err
	}
	if stmts != nil {
		if err := stmts.write(ctx); err != nil {
			return nil, err
		}
	}
	sum.CPU = after.since(before, window, rep.Acknowledged)
	if ws != nil {
		sum.Witnessing.WitnessCPUS = (ws.cpu() - sum.Witnessing.witnessCPUFrom).Seconds()
		v, err := readWitnesses(ctx, base)
		if err != nil {
			return nil, err
		}
		for _, w := range v.Witnesses {
			sum.Witnessing.LagAtEnd = max(sum.Witnessing.LagAtEnd, w.Lag)
		}
	}
	end, err := logSize(ctx, base)
	if err != nil {
		return nil, err
	}
	sum.Witnessing.RecordsPerSec = float64(end-sum.Witnessing.logStart) / window.Seconds()
	sum.PostgresMeasured = c.pgdata != ""
	if err := rep.WriteLedger(filepath.Join(c.work, "ledger.csv")); err != nil {
		return nil, err
	}
	if profiled != nil {
		if err := <-profiled; err != nil {
			return nil, fmt.Errorf("couldn't profile primaryd: %w", err)
		}
	}
	if rss, err := peakRSS(srv.Process.Pid); err == nil {
		sum.PeakRSSMiB = rss
	}
	return rep, nil
}

// command runs a binary with stdin and returns its standard output; a
// failure carries its standard error.
func command(ctx context.Context, bin, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

func timed(f func() error) (float64, error) {
	start := time.Now()
	err := f()
	return time.Since(start).Seconds(), err
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz: %s", res.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
