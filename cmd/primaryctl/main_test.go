package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"primaryvote/api"
	"primaryvote/audit/bundle"
	"primaryvote/audit/record"
	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/internal/dbtest"
	"primaryvote/internal/fixture"
	"primaryvote/internal/loadtest"
)

type cli struct {
	t   *testing.T
	env Env
	// serverLog is what the API that board serves logs.
	serverLog syncBuffer
}

// syncBuffer is a bytes.Buffer safe for a server's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func newCLI(t *testing.T) *cli {
	db := dbtest.New(t)
	return &cli{t: t, env: Env{DatabaseURL: db.URL, OwnerURL: db.OwnerURL, SecretsDir: filepath.Join(t.TempDir(), "secrets")}}
}

// run runs a command line with stdin and returns stdout and the error.
func (c *cli) run(stdin, line string) (string, error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	env := c.env
	env.Stdin, env.Stdout, env.Stderr = strings.NewReader(stdin), &out, &errOut
	err := Run(context.Background(), &env, strings.Fields(line))
	return out.String(), err
}

func (c *cli) must(line string) string {
	c.t.Helper()
	return c.mustIn("", line)
}

func (c *cli) mustIn(stdin, line string) string {
	c.t.Helper()
	out, err := c.run(stdin, line)
	if err != nil {
		c.t.Fatalf("primaryctl %s: %v", line, err)
	}
	return out
}

func TestElectionFromTheCommandLine(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	dir := t.TempDir()
	def := filepath.Join(dir, "election.json")
	os.WriteFile(def, demoDefinition, 0o600)
	roll := filepath.Join(dir, "roll.csv")
	os.WriteFile(roll, []byte("voter_id,group,region\nA1,delegates,서울\nA2,members,부산\nA3,public,제주\n"), 0o600)

	c.must("migrate")
	if out := c.must("election create --file " + def); !strings.Contains(out, "election demo created") {
		t.Errorf("create: %s", out)
	}
	if _, err := c.run("", "election open demo"); err == nil || !strings.Contains(userMessage(err), "no voters") {
		t.Errorf("open without a roll: %v", err)
	}
	if out := c.must("roll import demo " + roll); !strings.Contains(out, "3 voters") {
		t.Errorf("roll import: %s", out)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("voter_id,group,region\nB1,members,x\nB2,nobody,x\n"), 0o600)
	if _, err := c.run("", "roll import demo "+bad); err == nil || !strings.Contains(userMessage(err), "Line 3: unknown group") {
		t.Errorf("bad roll: %v", err)
	}
	authDir := filepath.Join(dir, "authority")
	c.must("credentials generate --election demo --roll " + roll + " --out " + authDir)
	public := filepath.Join(authDir, "demo-credentials.csv")
	if _, err := c.run("", "election open demo"); err == nil || !strings.Contains(userMessage(err), "no credential") {
		t.Errorf("open without credentials: %v", err)
	}
	if out := c.must("credentials import demo " + public); !strings.Contains(out, "credentials of 3 voters of demo imported") {
		t.Errorf("credentials import: %s", out)
	}
	f, _ := os.Open(filepath.Join(authDir, "demo-codes.csv"))
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 4 || strings.Join(recs[0], ",") != "voter_id,code" {
		t.Fatalf("codes file: %v %v", recs, err)
	}
	// A2 loses their code: the authority makes a new one, the server
	// takes the new credential, and only the new code signs in.
	out := c.must("credentials generate --election demo --roll " + roll + " --voter A2 --out " + authDir)
	if !strings.Contains(out, "credentials replace demo") {
		t.Errorf("replacement: %q", out)
	}
	if out := c.must("credentials replace demo " + filepath.Join(authDir, "demo-A2-credentials.csv")); !strings.Contains(out, "voter A2 of demo has a new credential") {
		t.Errorf("credentials replace: %q", out)
	}
	if _, err := c.run("", "credentials replace demo "+public); err == nil || !strings.Contains(userMessage(err), "one voter") {
		t.Errorf("replace with the whole file: %v", err)
	}
	if out, err := c.run("my long admin password\n", "official add --username chair --role admin --password-stdin"); err != nil || strings.Contains(out, "shown once") {
		t.Errorf("official add from stdin: %q, %v", out, err)
	}
	if out := c.must("official add --username clerk --role official"); !strings.Contains(out, "password (shown once): ") {
		t.Errorf("official add with a generated password: %q", out)
	}
	if _, err := c.run("", "official add --username x --role king"); err == nil {
		t.Error("official add with an unknown role succeeded")
	}
	if out := c.must("official disable clerk"); !strings.Contains(out, "clerk disabled") {
		t.Errorf("official disable: %q", out)
	}
	if out := c.must("official list"); !strings.Contains(out, "chair") || !regexp.MustCompile(`clerk\s+official\s+disabled`).MatchString(out) {
		t.Errorf("officials list: %q", out)
	}
	c.must("official enable clerk")
	if out, err := c.run("another long password\n", "official passwd clerk --password-stdin"); err != nil || !strings.Contains(out, "new password") || strings.Contains(out, "shown once") {
		t.Errorf("official passwd: %q, %v", out, err)
	}
	if _, err := c.run("", "official disable nobody"); err == nil || !strings.Contains(userMessage(err), "No official") {
		t.Errorf("official disable of an unknown name: %v", err)
	}
	if _, err := c.run("", "official disable"); !errors.Is(err, errUsage) {
		t.Errorf("official disable without a name: %v; want usage", err)
	}
	if _, err := c.run("", "election open demo"); err == nil || !strings.Contains(userMessage(err), "no key") {
		t.Errorf("open without a key: %v", err)
	}
	shares := filepath.Join(dir, "shares")
	url, logKey := c.board(t)
	c.ceremony(t, url, "demo", dir, shares, []string{"first passphrase 1", "second passphrase 2", "third passphrase 3"})
	c.must("election open demo")
	if out := c.must("election list"); !strings.Contains(out, "demo") || !strings.Contains(out, "open") {
		t.Errorf("list: %s", out)
	}
	c.must("election close demo")
	if _, err := c.run("", "election open demo"); err == nil {
		t.Error("reopening a closed election succeeded")
	}
	if out := c.must("election show demo"); !strings.Contains(out, `"status": "closed"`) {
		t.Errorf("show: %s", out)
	}

	// Tally with trustees 1 and 3; trustee 2 is away. Each checks the
	// bundle, and the sums in it, before decrypting them.
	c.must("tally start demo")
	tallied := filepath.Join(dir, "tallied.bundle")
	c.must("audit export demo --out " + tallied)
	share := func(i int) string { return filepath.Join(shares, fmt.Sprintf("demo-trustee-%d.share", i)) }
	decrypt := func(i int, bundleFile string) string {
		return fmt.Sprintf("trustees decrypt --url %s --election demo --share %s --bundle %s --log-key %s", url, share(i), bundleFile, logKey)
	}
	if _, err := c.run("wrong passphrase!!\n", decrypt(1, tallied)); err == nil {
		t.Error("decrypt with a wrong passphrase succeeded")
	}
	if _, err := c.run("", "tally finish demo"); err == nil {
		t.Error("tally finish without decryptions succeeded")
	}
	// The server's sums are not the ballots': the trustee decrypts nothing.
	owner, err := pgxpool.New(context.Background(), c.env.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	var sums []byte
	if err := owner.QueryRow(context.Background(), `SELECT sums FROM tallies WHERE election_id = 'demo'`).Scan(&sums); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(context.Background(), `UPDATE tallies SET sums = $1 WHERE election_id = 'demo'`, append([]byte{0, 0, 0, 9}, sums[4:]...)); err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(dir, "forged.bundle")
	c.must("audit export demo --out " + forged)
	if _, err := c.run("first passphrase 1\n", decrypt(1, forged)); err == nil || !strings.Contains(err.Error(), "decrypts nothing") {
		t.Errorf("decrypting sums that are not the ballots': %v", err)
	}
	if _, err := owner.Exec(context.Background(), `UPDATE tallies SET sums = $1 WHERE election_id = 'demo'`, sums); err != nil {
		t.Fatal(err)
	}
	if out := c.mustIn("first passphrase 1\n", decrypt(1, tallied)); !strings.Contains(out, "partial decryption of them is posted") {
		t.Errorf("decrypt: %s", out)
	}
	if _, err := c.run("first passphrase 1\n", decrypt(1, tallied)); err == nil {
		t.Error("a second decryption by the same trustee succeeded")
	}
	pf := filepath.Join(dir, "p3")
	os.WriteFile(pf, []byte("third passphrase 3\n"), 0o600)
	c.must(decrypt(3, tallied) + " --passphrase-file " + pf)
	if out := c.must("tally finish demo"); !strings.Contains(out, "results from trustees [1 3]") {
		t.Errorf("tally finish: %s", out)
	}
	c.must("publish demo")
	if out := c.must("election show demo"); !strings.Contains(out, `"status": "published"`) {
		t.Errorf("show after publish: %s", out)
	}

	// The whole story, from creation to publication, verifies.
	bundleFile := filepath.Join(dir, "demo.bundle")
	c.must("audit export demo --out " + bundleFile)
	f, ferr := os.Open(bundleFile)
	if ferr != nil {
		t.Fatal(ferr)
	}
	defer f.Close()
	if report, err := bundle.Verify(f, bundle.Options{}); err != nil || report.Status != "published" {
		t.Errorf("Verify(exported bundle) = %+v, %v", report, err)
	}
	if out := c.must("audit verify demo"); !strings.Contains(out, "published") {
		t.Errorf("audit verify: %s", out)
	}
	if _, err := c.run("", "audit verify nosuch"); err == nil {
		t.Error("audit verify of an unknown election succeeded")
	}
	// An insider with the owner's role adds a voter, with a credential of
	// their own, after the fact: the roll no longer matches the one
	// committed at opening.
	theirs, _ := ballot.DeriveCredential("demo", ballot.NewCode())
	if _, err := owner.Exec(context.Background(),
		`INSERT INTO voters (election_id, voter_id, group_id, region, pseudonym) VALUES ('demo', 'Z9', 'members', 'x', $1);`,
		bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(context.Background(),
		`INSERT INTO voter_credentials (election_id, voter_id, credential) VALUES ('demo', 'Z9', $1)`, theirs.Public()); err != nil {
		t.Fatal(err)
	}
	if out, err := c.run("", "audit verify demo"); err == nil || !strings.Contains(out, "the roll committed when the election opened") {
		t.Errorf("audit verify after adding a voter: %v\n%s", err, out)
	}
	if _, err := c.run("", "election frobnicate demo"); !errors.Is(err, errUsage) {
		t.Errorf("unknown command: %v", err)
	}
}

func TestDemoIsIdempotent(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	dir := t.TempDir()
	first := c.must("demo --dir " + dir)
	if !strings.Contains(first, "seeded and opened with 1000 voters") {
		t.Fatalf("first demo: %s", first)
	}
	voters, _ := os.ReadFile(filepath.Join(dir, "voters.csv"))
	officials, _ := os.ReadFile(filepath.Join(dir, "officials.csv"))
	if n := bytes.Count(voters, []byte("\n")); n != 1001 || !bytes.HasPrefix(voters, []byte("voter_id,code,link\n")) || !bytes.Contains(voters, []byte(",http://127.0.0.1:8080/e/demo#v=V")) {
		t.Errorf("voters.csv has %d lines", n)
	}
	if !bytes.HasPrefix(officials, []byte("username,password,role\nadmin,")) {
		t.Errorf("officials.csv = %q", officials)
	}
	trustees, _ := os.ReadFile(filepath.Join(dir, "trustees.csv"))
	if n := bytes.Count(trustees, []byte("\n")); n != 4 {
		t.Errorf("trustees.csv has %d lines; want 4", n)
	}
	for i := 1; i <= 3; i++ {
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("demo-trustee-%d.share", i))); err != nil {
			t.Errorf("share file %d: %v", i, err)
		}
	}

	second := c.must("demo --dir " + dir)
	if !strings.Contains(second, "already seeded (open)") {
		t.Errorf("second demo: %s", second)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "voters.csv"))
	if !bytes.Equal(again, voters) {
		t.Error("second demo changed voters.csv")
	}
	db, err := pgxpool.New(context.Background(), c.env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var elections, voterRows, officialRows int
	db.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM elections), (SELECT count(*) FROM voters), (SELECT count(*) FROM officials)`).
		Scan(&elections, &voterRows, &officialRows)
	if fmt.Sprint(elections, voterRows, officialRows) != "1 1000 1" {
		t.Errorf("after two demos: %d elections, %d voters, %d officials; want 1 1000 1", elections, voterRows, officialRows)
	}
}

// The README's primaryctl walkthrough runs as written, with the example
// files it names, against a fresh database.
func TestReadmeWalkthrough(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Running an election with primaryctl")
	if !ok {
		t.Fatal("README has no primaryctl walkthrough")
	}
	_, rest, _ = strings.Cut(rest, "```sh\n")
	script, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("the walkthrough's code block is not closed")
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "bin", "primaryctl")); err != nil {
		t.Fatalf("bin/primaryctl is not built (make test builds it): %v", err)
	}
	db := dbtest.New(t)
	dir := t.TempDir()
	for _, name := range []string{"bin", "examples"} {
		if err := os.Symlink(filepath.Join(root, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	// The trustees talk to a server, as with make run going.
	url := startPrimaryd(t, root, db.URL, filepath.Join(dir, "secrets"))
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DATABASE_URL="+db.URL, "DATABASE_OWNER_URL="+db.OwnerURL, "PRIMARYVOTE_SECRETS="+filepath.Join(dir, "secrets"), "URL="+url,
		"W1="+freeAddr(t), "W2="+freeAddr(t))
	// The witnesses it starts in the background go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 10 * time.Second
	t.Cleanup(func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		}
	})
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's walkthrough failed: %v\n%s", err, out)
	}
	for _, want := range []string{"election primary-2026 published", "pinned policy, quorum 2): the final checkpoint", "all checks passed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the walkthrough's output lacks %q:\n%s", want, out)
		}
	}
}

// board serves the API over the test's database, as primaryd would, until
// the test ends, and returns its URL and the log's verifier key. Its log,
// at debug level, goes to c.serverLog.
func (c *cli) board(t *testing.T) (url, logKey string) {
	t.Helper()
	tool, err := connect(context.Background(), &c.env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tool.close)
	logger := slog.New(slog.NewTextHandler(&c.serverLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(api.New(api.Config{}, api.Services{Elections: tool.elections, Database: tool.pool}, logger))
	t.Cleanup(srv.Close)
	return srv.URL, tool.signer.VerifierKey()
}

// ceremony runs election id's 2-of-n key ceremony through the commands, as
// the trustees (one passphrase each) and the officials would, against the
// API at url, and leaves each trustee's share in shares/ID-trustee-N.share.
// It checks the commands' refusals on the way.
func (c *cli) ceremony(t *testing.T, url, id, dir, shares string, passphrases []string) {
	t.Helper()
	os.MkdirAll(shares, 0o700)
	identity := func(i int) string { return filepath.Join(dir, fmt.Sprintf("trustee-%d.identity", i)) }
	on := func(i int) string {
		return fmt.Sprintf("--url %s --election %s --identity %s", url, id, identity(i))
	}
	if _, err := c.run("short\n", "trustees identity --name T --out "+identity(9)); err == nil {
		t.Error("an identity with a short passphrase")
	}
	register := "trustees register " + id + " --threshold 2"
	for i, p := range passphrases {
		out := c.mustIn(p+"\n", fmt.Sprintf("trustees identity --name Trustee-%d --out %s", i+1, identity(i+1)))
		if !strings.Contains(out, "public half") {
			t.Errorf("identity: %s", out)
		}
		register += " " + strings.TrimSuffix(identity(i+1), ".identity") + ".public.json"
	}
	if _, err := c.run(passphrases[0]+"\n", "trustees deal "+on(1)); err == nil || !strings.Contains(err.Error(), "no trustees registered") {
		t.Errorf("dealing before registration: %v", err)
	}
	if out := c.must(register); !strings.Contains(out, fmt.Sprintf("%d trustees registered", len(passphrases))) {
		t.Errorf("register: %s", out)
	}
	if out := c.must("trustees status --url " + url + " --election " + id); !strings.Contains(out, "step: deal") || !strings.Contains(out, "1 (Trustee-1)") {
		t.Errorf("status: %s", out)
	}
	if _, err := c.run("wrong passphrase!\n", "trustees deal "+on(1)); err == nil {
		t.Error("dealing with a wrong passphrase")
	}
	c.mustIn(passphrases[0]+"\n", "trustees deal "+on(1))
	if _, err := c.run(passphrases[0]+"\n", "trustees judge "+on(1)); err == nil || !strings.Contains(err.Error(), "not every trustee has dealt") {
		t.Errorf("judging before every deal: %v", err)
	}
	for i, p := range passphrases[1:] {
		c.mustIn(p+"\n", "trustees deal "+on(i+2))
	}
	for i, p := range passphrases {
		if out := c.mustIn(p+"\n", "trustees judge "+on(i+1)); !strings.Contains(out, "each matches") {
			t.Errorf("judge: %s", out)
		}
	}
	if out := c.mustIn(passphrases[0]+"\n", "trustees answer "+on(1)); !strings.Contains(out, "no complaint") || !strings.Contains(out, "step: finish") {
		t.Errorf("answer: %s", out)
	}
	if out := c.must("trustees finish " + id); !strings.Contains(out, "key is set") {
		t.Errorf("finish: %s", out)
	}
	for i, p := range passphrases {
		out := c.mustIn(p+"\n", fmt.Sprintf("trustees share %s --out %s", on(i+1), filepath.Join(shares, fmt.Sprintf("%s-trustee-%d.share", id, i+1))))
		if !strings.Contains(out, "matches the trustee's logged public key") {
			t.Errorf("share: %s", out)
		}
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startPrimaryd runs bin/primaryd on a free loopback port over the
// database and secrets, until the test ends, and returns its URL.
func startPrimaryd(t *testing.T, root, dbURL, secrets string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs bytes.Buffer
	cmd := exec.Command(filepath.Join(root, "bin", "primaryd"), "-addr", addr, "-secrets", secrets, "-log-level", "warn", "-metrics-addr", "")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	url := "http://" + addr
	for range 100 {
		if res, err := http.Get(url + "/healthz"); err == nil {
			res.Body.Close()
			return url
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("primaryd did not start:\n%s", logs.String())
	return ""
}

// No command's name is the start of another's, so that a command line names
// at most one: "tally finish" is never the tally of an election "finish".
func TestCommandNamesAreUnambiguous(t *testing.T) {
	t.Parallel()
	for i, a := range commands {
		if (a.run == nil) == (a.runEnv == nil) {
			t.Errorf("%s: exactly one of run and runEnv must be set", a.name)
		}
		for j, b := range commands {
			if i != j && (a.name == b.name || strings.HasPrefix(b.name, a.name+" ")) {
				t.Errorf("%q is the start of %q", a.name, b.name)
			}
		}
		if !strings.Contains(usage(), "  "+a.synopsis()[:len(a.name)]) {
			t.Errorf("the usage lacks %s", a.name)
		}
	}
}

func TestCommandLinesThatFitNoCommand(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.must("migrate")
	for line, want := range map[string]string{
		"":                         "",
		"frobnicate":               "",
		"election frobnicate demo": "",
		"election":                 "",
		"tally finish":             "usage: primaryctl tally finish ID",
		"tally start a b":          "usage: primaryctl tally start ID",
		"migrate now":              "usage: primaryctl migrate",
		"bench --nope":             "flag provided but not defined: -nope\nusage: primaryctl bench",
	} {
		_, err := c.run("", line)
		if !errors.Is(err, errUsage) {
			t.Errorf("%q: %v; want a usage error", line, err)
			continue
		}
		var ue usageError
		if errors.As(err, &ue) != (want != "") || want != "" && !strings.HasPrefix(ue.Error(), want) {
			t.Errorf("%q: %q; want %q", line, err, want)
		}
	}
}

// The credential authority runs with no database and no server secrets,
// and what it writes is what the documents say: every code derives the
// public credential listed for its voter.
func TestCredentialAuthority(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: Env{}} // no DATABASE_URL, no secrets directory
	dir := t.TempDir()
	roll := filepath.Join(dir, "roll.csv")
	os.WriteFile(roll, []byte("voter_id,group,region\nA1,members,서울\nA2,public,부산\nA3,members,제주\n"), 0o600)
	out := c.must("credentials generate --election e1 --roll " + roll + " --out " + filepath.Join(dir, "auth"))

	codes, err := os.ReadFile(filepath.Join(dir, "auth", "e1-codes.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "auth", "e1-codes.csv")); st.Mode().Perm() != 0o600 {
		t.Errorf("codes file mode %v; want 0600", st.Mode().Perm())
	}
	recs, err := csv.NewReader(bytes.NewReader(codes)).ReadAll()
	if err != nil || len(recs) != 4 || strings.Join(recs[0], ",") != "voter_id,code" {
		t.Fatalf("codes file: %v %v", recs, err)
	}
	public, err := os.ReadFile(filepath.Join(dir, "auth", "e1-credentials.csv"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(public)
	if !strings.Contains(out, "sha256 of the public credentials (publish it): "+hex.EncodeToString(sum[:])) {
		t.Errorf("the printed hash is not the file's: %s", out)
	}
	var listed []ballot.PublicCredential
	if err := ballot.ReadCredentials(bytes.NewReader(public), func(p ballot.PublicCredential) error {
		listed = append(listed, p)
		return nil
	}); err != nil || len(listed) != 3 {
		t.Fatalf("ReadCredentials = %v (%d lines)", err, len(listed))
	}
	for i, rec := range recs[1:] {
		cred, err := ballot.DeriveCredential("e1", rec[1])
		if err != nil || rec[0] != listed[i].VoterID || !bytes.Equal(cred.Public(), listed[i].P) {
			t.Errorf("voter %s: the code does not derive the listed credential (%v)", rec[0], err)
		}
	}
	if listed[1].Group != "public" {
		t.Errorf("public file: %s", public)
	}
	for _, rec := range recs[1:] {
		norm, _ := ballot.NormalizeCode(rec[1])
		if bytes.Contains(public, []byte(rec[1])) || bytes.Contains(public, []byte(norm)) {
			t.Errorf("the public file holds %s's code", rec[0])
		}
	}

	// Nothing is replaced, and a bad roll writes nothing.
	if _, err := c.run("", "credentials generate --election e1 --roll "+roll+" --out "+filepath.Join(dir, "auth")); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second run into the same directory: %v", err)
	}
	os.WriteFile(roll, []byte("voter_id,group,region\nA1,members,x\nA1,public,y\n"), 0o600)
	if _, err := c.run("", "credentials generate --election e1 --roll "+roll+" --out "+filepath.Join(dir, "bad")); err == nil || !strings.Contains(userMessage(err), `Line 3: duplicate voter_id "A1"`) {
		t.Errorf("a roll with a duplicate: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Error("a bad roll left a directory behind")
	}
	for _, line := range []string{
		"credentials generate --roll " + roll + " --out x",
		"credentials generate --election E1! --roll " + roll + " --out x",
		"credentials generate --election e1 --roll " + roll + " --out x --link http://vote.example.org",
		"credentials generate --election e1 --roll " + roll + " --out x --link https://vote.example.org/e/e1",
		"credentials generate --election e1 --roll " + roll + " --out x --link vote.example.org",
	} {
		if _, err := c.run("", line); err == nil {
			t.Errorf("%s: succeeded", line)
		}
	}
}

// With --link, the codes file gives each voter a voting link whose
// fragment holds their voter id and code.
func TestCredentialAuthorityLinks(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: Env{}}
	dir := t.TempDir()
	roll := filepath.Join(dir, "roll.csv")
	os.WriteFile(roll, []byte("voter_id,group,region\nA.1,members,서울\nA2,public,부산\n"), 0o600)
	c.must("credentials generate --election e1 --roll " + roll + " --out " + filepath.Join(dir, "auth") + " --link https://vote.example.org/")
	codes, _ := os.ReadFile(filepath.Join(dir, "auth", "e1-codes.csv"))
	recs, err := csv.NewReader(bytes.NewReader(codes)).ReadAll()
	if err != nil || len(recs) != 3 || strings.Join(recs[0], ",") != "voter_id,code,link" {
		t.Fatalf("codes file: %v %v", recs, err)
	}
	for _, rec := range recs[1:] {
		u, err := url.Parse(rec[2])
		if err != nil || u.Scheme != "https" || u.Host != "vote.example.org" || u.Path != "/e/e1" || u.RawQuery != "" {
			t.Fatalf("link %q", rec[2])
		}
		f, _ := url.ParseQuery(u.Fragment)
		if f.Get("v") != rec[0] || f.Get("c") != rec[1] {
			t.Errorf("link %q: the fragment does not hold %s's id and code", rec[2], rec[0])
		}
	}
	// The voters file of a bench or a demo reads with its links.
	if vs, err := loadtest.ReadVoters(bytes.NewReader(codes)); err != nil || len(vs) != 2 || vs[1].Code != recs[2][1] {
		t.Errorf("ReadVoters = %v, %v", vs, err)
	}
}

// primaryctl signin signs a voter in as their device does, against a
// server: the code, read from stdin, never leaves the process.
func TestSignInCommand(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 2, true)
	srv := httptest.NewServer(api.New(api.Config{}, api.Services{
		Database: env.DB.Pool, Elections: env.Elections, Credentials: auth.NewCredentials(env.DB.Pool, env.Secrets, time.Now),
		Officials: env.Officials, Tokens: env.Tokens, Log: env.Log,
	}, nil))
	defer srv.Close()
	c := &cli{t: t, env: Env{}}
	out, err := c.run(el.Codes["V00001"]+"\n", "signin --url "+srv.URL+" --election e1 V00001")
	if err != nil || !strings.Contains(out, `"token":"`) || !strings.Contains(out, `"voted":false`) {
		t.Errorf("signin = %q, %v", out, err)
	}
	if _, err := c.run(el.Codes["V00002"]+"\n", "signin --url "+srv.URL+" --election e1 V00001"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("signin with another's code = %v; want refused", err)
	}
	if _, err := c.run("not a code\n", "signin --url "+srv.URL+" --election e1 V00001"); err == nil {
		t.Error("signin with a malformed code succeeded")
	}
}

// primaryctl vote is the reference voter client: it encrypts, proves and
// signs on this side, casts, and checks the receipt's inclusion proof.
func TestVoteCommand(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 3, true)
	srv := httptest.NewServer(api.New(api.Config{}, api.Services{
		Database: env.DB.Pool, Elections: env.Elections, Credentials: auth.NewCredentials(env.DB.Pool, env.Secrets, time.Now),
		Officials: env.Officials, Tokens: env.Tokens, Log: env.Log,
	}, nil))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go env.Sequencer.Run(ctx, 20*time.Millisecond)
	c := &cli{t: t, env: Env{}}
	vote := "vote --url " + srv.URL + " --election e1 --log-key " + env.Signer.VerifierKey() + " "
	for _, bad := range []struct{ code, args, want string }{
		{el.Codes["V00001"], "V00001 leader=zz council=p", `no candidate "zz"`},
		{el.Codes["V00001"], "V00001 leader=a,b council=p", "exactly 1"},
		{el.Codes["V00001"], "V00001 leader", "want QUESTION=CANDIDATE"},
		{el.Codes["V00002"], "V00001 leader=a council=p", "401"},
		{"not a code", "V00001 leader=a council=p", "not a voter code"},
	} {
		if _, err := c.run(bad.code+"\n", vote+bad.args); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("vote %s = %v; want %q", bad.args, err, bad.want)
		}
	}
	if n := env.Count(t, `SELECT count(*) FROM ballots`); n != 0 {
		t.Fatalf("refused votes stored %d ballots", n)
	}
	out, err := c.run(el.Codes["V00001"]+"\n", vote+"V00001 leader=b council=q,s")
	if err != nil || !strings.Contains(out, `"tracking_code":"`) {
		t.Fatalf("vote = %q, %v", out, err)
	}
	var stored []byte
	env.DB.Pool.QueryRow(context.Background(), `SELECT content FROM ballots`).Scan(&stored)
	if code := ballot.TrackingCode(sha256.Sum256(stored)); !strings.Contains(out, code) {
		t.Errorf("receipt %s; the stored ballot's code is %s", out, code)
	}
	if _, err := c.run(el.Codes["V00001"]+"\n", vote+"V00001 leader=a council=p"); err == nil || !strings.Contains(err.Error(), "already voted") {
		t.Errorf("a second vote = %v; want already voted", err)
	}
	// A log key the server's checkpoints are not signed with: the proof is
	// not trusted.
	other, _ := record.GenerateSigner(fixture.LogOrigin)
	if _, err := c.run(el.Codes["V00002"]+"\n", "vote --url "+srv.URL+" --election e1 --log-key "+other.VerifierKey()+" V00002 leader=a council=p"); err == nil || !strings.Contains(err.Error(), "checkpoint") {
		t.Errorf("vote checked against another log key = %v; want the checkpoint refused", err)
	}
}
