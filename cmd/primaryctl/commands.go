package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"primaryvote/audit"
	"primaryvote/audit/record"
	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/elections"
	"primaryvote/migrations"
)

var errUsage = errors.New("usage")

// Run executes one primaryctl command.
func Run(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	if args[0] == "bench" { // talks to a server, not the database
		return bench(ctx, env, args[1:])
	}
	if env.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set (make run prints it)")
	}
	cmd, rest := args[0], args[1:]
	if cmd == "officials" {
		cmd = "official"
	}
	switch {
	case cmd == "tally" && len(rest) > 0 && rest[0] == "finish",
		cmd != "tally" && cmd != "publish" && cmd != "demo" && len(rest) > 0 && !strings.HasPrefix(rest[0], "-"):
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	if cmd == "migrate" {
		return migrate(ctx, env)
	}
	t, err := connect(ctx, env)
	if err != nil {
		return err
	}
	defer t.close()
	if err := t.dispatch(ctx, cmd, rest); err != nil {
		return err
	}
	// Every step is checkpointed at once, whether or not a server is running.
	return t.sequence(ctx)
}

func (t *tool) dispatch(ctx context.Context, cmd string, rest []string) error {
	switch cmd {
	case "demo":
		return t.demo(ctx, rest)
	case "election create":
		return t.electionCreate(ctx, rest)
	case "election show":
		return t.electionShow(ctx, rest)
	case "election list":
		return t.electionList(ctx, rest)
	case "election open":
		return t.lifecycle(ctx, rest, t.elections.Open, "opened")
	case "election close":
		return t.lifecycle(ctx, rest, t.elections.Close, "closed")
	case "roll import":
		return t.rollImport(ctx, rest)
	case "credentials issue":
		return t.credentialsIssue(ctx, rest)
	case "official add":
		return t.officialAdd(ctx, rest)
	case "official list":
		return t.officialList(ctx, rest)
	case "official disable":
		return t.officialSetDisabled(ctx, rest, true)
	case "official enable":
		return t.officialSetDisabled(ctx, rest, false)
	case "official passwd":
		return t.officialPasswd(ctx, rest)
	case "trustees setup":
		return t.trusteesSetup(ctx, rest)
	case "trustees decrypt":
		return t.trusteesDecrypt(ctx, rest)
	case "tally":
		return t.tally(ctx, rest)
	case "tally finish":
		return t.tallyFinish(ctx, rest)
	case "publish":
		return t.lifecycle(ctx, rest, t.elections.Publish, "published")
	case "audit export":
		return t.auditExport(ctx, rest)
	case "audit verify":
		return t.auditVerify(ctx, rest)
	}
	return errUsage
}

// tool holds a command's connections and services.
type tool struct {
	env         *Env
	pool        *pgxpool.Pool
	elections   *elections.Store
	credentials *auth.Credentials
	officials   *auth.Officials
	// signer signs the log's checkpoints when the tool sequences the log.
	signer *record.Signer
	actor  string
}

// migrate applies the migrations as the schema's owner and grants the
// application's role (DATABASE_URL's user) its privileges.
func migrate(ctx context.Context, env *Env) error {
	if env.OwnerURL == "" {
		return errors.New("DATABASE_OWNER_URL is not set: migrations run as the schema's owner (make run prints its URL)")
	}
	app, err := migrations.Role(env.DatabaseURL)
	if err != nil {
		return err
	}
	n, err := migrations.Up(ctx, env.OwnerURL, app, slog.New(slog.NewTextHandler(env.Stderr, nil)))
	if err == nil {
		fmt.Fprintf(env.Stdout, "migrations applied: %d; %s holds exactly the application's privileges\n", n, app)
	}
	return err
}

func connect(ctx context.Context, env *Env) (*tool, error) {
	if err := migrations.Check(ctx, env.DatabaseURL); err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, env.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("couldn't connect: %w", err)
	}
	origin := env.LogOrigin
	if origin == "" {
		origin = record.DefaultOrigin
	}
	secrets, err := auth.LoadSecrets(env.SecretsDir, origin)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("couldn't load secrets: %w", err)
	}
	signer := secrets.Log
	actor := "cli"
	if u, err := user.Current(); err == nil {
		actor = "cli:" + u.Username
	}
	return &tool{
		env: env, pool: pool, actor: actor, signer: signer,
		elections:   elections.New(pool, time.Now, secrets, signer.VerifierKey()),
		credentials: auth.NewCredentials(pool, secrets, time.Now),
		officials:   auth.NewOfficials(pool, time.Now),
	}, nil
}

func (t *tool) close() { t.pool.Close() }

// sequence moves queued audit entries into the log and signs a checkpoint.
func (t *tool) sequence(ctx context.Context) error {
	if _, err := audit.NewSequencer(t.pool, t.signer, slog.New(slog.DiscardHandler)).Drain(ctx); err != nil {
		return fmt.Errorf("couldn't sequence the audit log: %w", err)
	}
	return nil
}

// parse parses flags and returns the positional arguments, which must number
// exactly want.
func parse(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	fs.SetOutput(io.Discard)
	// Allow flags after positional arguments: "roll import ID FILE" and
	// "credentials issue ID --out FILE" read naturally.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != want {
		return nil, errUsage
	}
	return pos, nil
}

func (t *tool) electionCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("election create", flag.ContinueOnError)
	file := fs.String("file", "", "definition file")
	if _, err := parse(fs, args, 0); err != nil || *file == "" {
		return errUsage
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	d, err := ballot.ParseDefinition(f)
	if err != nil {
		return err
	}
	if err := t.elections.Create(ctx, d, t.actor); err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "election %s created (draft): %d questions, %d groups\n", d.ID, len(d.Questions), len(d.Groups))
	return nil
}

func (t *tool) electionShow(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("election show", flag.ContinueOnError), args, 1)
	if err != nil {
		return err
	}
	e, err := t.elections.Get(ctx, pos[0])
	if err != nil {
		return err
	}
	enc := json.NewEncoder(t.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(e)
}

func (t *tool) electionList(ctx context.Context, args []string) error {
	if _, err := parse(flag.NewFlagSet("election list", flag.ContinueOnError), args, 0); err != nil {
		return err
	}
	list, err := t.elections.List(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(t.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTATUS\tTITLE")
	for _, e := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\n", e.ID, e.Status, e.Title)
	}
	return w.Flush()
}

func (t *tool) lifecycle(ctx context.Context, args []string, step func(context.Context, string, string) error, done string) error {
	pos, err := parse(flag.NewFlagSet("election", flag.ContinueOnError), args, 1)
	if err != nil {
		return err
	}
	if err := step(ctx, pos[0], t.actor); err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "election %s %s\n", pos[0], done)
	return nil
}

func (t *tool) rollImport(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("roll import", flag.ContinueOnError), args, 2)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[1])
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	sum, err := t.elections.ImportRoll(ctx, pos[0], bufio.NewReaderSize(f, 1<<16), t.actor)
	if err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "roll of %s imported: %d voters in %.2fs (sha256 %s)\n",
		pos[0], sum.Voters, time.Since(start).Seconds(), sum.Digest)
	return nil
}

func (t *tool) credentialsIssue(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("credentials issue", flag.ContinueOnError)
	out := fs.String("out", "", "file to write voter_id,code to")
	voter := fs.String("voter", "", "re-issue only this voter's code")
	pos, err := parse(fs, args, 1)
	if err != nil || (*out == "") == (*voter == "") {
		return errUsage
	}
	if *voter != "" {
		code, err := t.credentials.Reissue(ctx, pos[0], *voter, t.actor)
		if err != nil {
			return err
		}
		fmt.Fprintf(t.env.Stdout, "voter_id,code\n%s,%s\n", *voter, code)
		return nil
	}
	start := time.Now()
	n, err := writeFileAtomic(*out, func(w io.Writer) (int, error) {
		return t.credentials.IssueAll(ctx, pos[0], w, t.actor)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "credentials issued to %d voters of %s in %.2fs; codes written to %s\n",
		n, pos[0], time.Since(start).Seconds(), *out)
	return nil
}

// writeFileAtomic writes a private (0600) file through write and puts it in
// place only if write succeeds.
func writeFileAtomic(path string, write func(io.Writer) (int, error)) (int, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriter(tmp)
	n, err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("couldn't put %s in place (the new codes are in %s): %w", path, tmp.Name(), err)
	}
	return n, nil
}

func (t *tool) officialAdd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("official add", flag.ContinueOnError)
	username := fs.String("username", "", "username")
	roleName := fs.String("role", "", "admin, official or auditor")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	if _, err := parse(fs, args, 0); err != nil || *username == "" || *roleName == "" {
		return errUsage
	}
	role, err := auth.ParseRole(*roleName)
	if err != nil {
		return err
	}
	password, err := t.password(*fromStdin)
	if err != nil {
		return err
	}
	if err := t.officials.Add(ctx, *username, role, password, t.actor); err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "official %s added with role %s\n", *username, role)
	if !*fromStdin {
		fmt.Fprintf(t.env.Stdout, "password (shown once): %s\n", password)
	}
	return nil
}

// password reads a password from the first line of stdin, or makes one.
func (t *tool) password(fromStdin bool) (string, error) {
	if !fromStdin {
		return auth.NewPassword(), nil
	}
	line, err := bufio.NewReader(t.env.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("couldn't read the password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (t *tool) officialList(ctx context.Context, args []string) error {
	if _, err := parse(flag.NewFlagSet("official list", flag.ContinueOnError), args, 0); err != nil {
		return err
	}
	accounts, err := t.officials.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(t.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tROLE\tSTATE\tADDED")
	for _, a := range accounts {
		state := "enabled"
		if a.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Username, a.Role, state, a.Created.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func (t *tool) officialSetDisabled(ctx context.Context, args []string, disabled bool) error {
	name := "official enable"
	if disabled {
		name = "official disable"
	}
	pos, err := parse(flag.NewFlagSet(name, flag.ContinueOnError), args, 1)
	if err != nil {
		return err
	}
	if err := t.officials.SetDisabled(ctx, pos[0], disabled, t.actor); err != nil {
		return err
	}
	if disabled {
		fmt.Fprintf(t.env.Stdout, "official %s disabled: their sessions end within seconds\n", pos[0])
	} else {
		fmt.Fprintf(t.env.Stdout, "official %s enabled\n", pos[0])
	}
	return nil
}

func (t *tool) officialPasswd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("official passwd", flag.ContinueOnError)
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	password, err := t.password(*fromStdin)
	if err != nil {
		return err
	}
	if err := t.officials.SetPassword(ctx, pos[0], password, t.actor); err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "official %s has a new password\n", pos[0])
	if !*fromStdin {
		fmt.Fprintf(t.env.Stdout, "password (shown once): %s\n", password)
	}
	return nil
}
