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
	"slices"
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

// command is one primaryctl command: the words that name it, its arguments
// and what it does (the usage is made from these), and how it runs. Exactly
// one of run, which gets the database and the services, and runEnv, which
// gets only the environment, is set.
type command struct {
	name string
	// args are the arguments after the name; each further string is a
	// continuation line, shown under the first.
	args   []string
	help   string
	run    func(t *tool, ctx context.Context, args []string) error
	runEnv func(ctx context.Context, env *Env, args []string) error
}

// commands is every command, in the order the usage lists them. No name is
// the start of another, so a command line names at most one.
var commands = []command{
	{name: "migrate", runEnv: migrate,
		help: "apply database migrations as the schema's owner (DATABASE_OWNER_URL) and grant DATABASE_URL's role exactly the application's privileges"},
	{name: "demo", args: []string{"[--dir DIR]"}, run: (*tool).demo,
		help: "seed the demo election (idempotent)"},
	{name: "election create", args: []string{"--file FILE"}, run: (*tool).electionCreate,
		help: "create an election from a definition"},
	{name: "election show", args: []string{"ID"}, run: (*tool).electionShow,
		help: "print an election as JSON"},
	{name: "election list", run: (*tool).electionList,
		help: "list elections"},
	{name: "election open", args: []string{"ID"}, help: "open an election for voting",
		run: func(t *tool, ctx context.Context, args []string) error {
			return t.lifecycle(ctx, args, t.elections.Open, "opened")
		}},
	{name: "election close", args: []string{"ID"}, help: "close an election",
		run: func(t *tool, ctx context.Context, args []string) error {
			return t.lifecycle(ctx, args, t.elections.Close, "closed")
		}},
	{name: "roll import", args: []string{"ID FILE"}, run: (*tool).rollImport,
		help: "replace a draft election's roll (CSV voter_id,group,region)"},
	{name: "credentials generate", args: []string{"--election ID --roll FILE", "--out DIR [--voter VID]"}, runEnv: credentialsGenerate,
		help: "the credential authority, offline: make every voter on the roll (or one who lost their code) a code and its public credential; write the private codes file and the public credentials file, and print the latter's SHA-256 to publish"},
	{name: "credentials import", args: []string{"ID FILE"}, run: (*tool).credentialsImport,
		help: "load the authority's public credentials file into a draft election (every voter on the roll, once)"},
	{name: "credentials replace", args: []string{"ID FILE"}, run: (*tool).credentialsReplace,
		help: "give a voter who lost their code the authority's new credential (a one-voter file); refused once they have voted"},
	{name: "official add", args: []string{"--username U --role R", "[--password-stdin]"}, run: (*tool).officialAdd,
		help: "add an official (admin, official or auditor); the password is read from stdin or generated and printed once"},
	{name: "official list", run: (*tool).officialList,
		help: "list officials: role, enabled or disabled"},
	{name: "official disable", args: []string{"U"}, help: "disable an account, ending its sessions within seconds",
		run: func(t *tool, ctx context.Context, args []string) error { return t.officialSetDisabled(ctx, args, true) }},
	{name: "official enable", args: []string{"U"}, help: "enable a disabled account again",
		run: func(t *tool, ctx context.Context, args []string) error {
			return t.officialSetDisabled(ctx, args, false)
		}},
	{name: "official passwd", args: []string{"U [--password-stdin]"}, run: (*tool).officialPasswd,
		help: "give an official a new password (read or generated)"},
	{name: "trustees identity", args: []string{"--name NAME --out FILE", "[--passphrase-file FILE]"}, runEnv: trusteesIdentity,
		help: "a trustee, on their own machine: make their identity for key ceremonies (signing and share keys), the private half under their passphrase; writes the public half beside it for the officials"},
	{name: "trustees register", args: []string{"ID --threshold K", "PUBLIC.json…"}, run: (*tool).trusteesRegister,
		help: "register a draft election's trustees, numbered in the order given, any K of whom will decrypt"},
	{name: "trustees deal", args: []string{"--election ID --identity FILE", "[--url U] [--passphrase-file FILE]"}, runEnv: trusteesDeal,
		help: "a trustee: deal (a secret polynomial, its commitments, a share sealed to each trustee) to the server's board"},
	{name: "trustees judge", args: []string{"--election ID --identity FILE", "[--url U] [--passphrase-file FILE] [--now]"}, runEnv: trusteesJudge,
		help: "a trustee: open the shares dealt to it, check each against its dealer's commitments, and post the verdict (complaints, if any)"},
	{name: "trustees answer", args: []string{"--election ID --identity FILE", "[--url U] [--passphrase-file FILE]"}, runEnv: trusteesAnswer,
		help: "a trustee complained about: reveal the share it dealt to each complainer, for anyone to check"},
	{name: "trustees finish", args: []string{"ID [--force]"}, run: (*tool).trusteesFinish,
		help: "decide the key ceremony from its messages (qualified and excluded dealers) and set the election key"},
	{name: "trustees share", args: []string{"--election ID --identity FILE", "--out FILE [--url U]", "[--passphrase-file FILE]"}, runEnv: trusteesShare,
		help: "a trustee: decide the ceremony from the board, check the server logged the same key, and write its share, under its passphrase"},
	{name: "witness init", args: []string{"--dir DIR --name NAME", "--log-key KEY"}, runEnv: witnessInit,
		help: "a camp, on its own machine: make a witness of the log whose published key is KEY (its signing key and state go to DIR); prints the witness's verifier key for the election's witness policy"},
	{name: "witness serve", args: []string{"--dir DIR [--addr A]", "[--name NAME --log-key KEY]"}, runEnv: witnessServe,
		help: "serve the witness (C2SP tlog-witness): cosign each checkpoint the log pushes if it extends the last one cosigned; refused ones are kept in DIR/refused as evidence (with --name and --log-key, make the witness first if DIR has none)"},
	{name: "witness key", args: []string{"--dir DIR"}, runEnv: witnessKey,
		help: "print a witness's verifier key"},
	{name: "witnesses set", args: []string{"ID FILE"}, run: (*tool).witnessesSet,
		help: "set a draft election's witness policy (JSON: quorum, witnesses' keys and addresses), logged; a checkpoint counts once a quorum cosigned it"},
	{name: "witnesses status", args: []string{"ID"}, run: (*tool).witnessesStatus,
		help: "how far each of an election's witnesses has cosigned the log"},
	{name: "log key", args: []string{"[--url U]"}, runEnv: logKey,
		help: "print the log's verifier key as the server states it (compare it with the one the committee published)"},
	{name: "trustees status", args: []string{"--election ID [--url U]"}, runEnv: trusteesStatus,
		help: "where an election's key ceremony is, and who it waits for"},
	{name: "tally start", args: []string{"ID"}, run: (*tool).tally,
		help: "add up a closed election's encrypted ballots"},
	{name: "trustees decrypt", args: []string{"--election ID --share FILE", "--bundle FILE --log-key KEY", "[--url U] [--passphrase-file FILE]"}, runEnv: trusteesDecrypt,
		help: "a trustee, on their own machine: verify the bundle against the published log key, make the sums again from the ballots, and post the partial decryption of those sums only"},
	{name: "tally finish", args: []string{"ID"}, run: (*tool).tallyFinish,
		help: "combine the trustees' decryptions into the results"},
	{name: "publish", args: []string{"ID"}, help: "make the results public",
		run: func(t *tool, ctx context.Context, args []string) error {
			return t.lifecycle(ctx, args, t.elections.Publish, "published")
		}},
	{name: "audit export", args: []string{"ID --out FILE"}, run: (*tool).auditExport,
		help: "write the election's audit bundle (for auditverify)"},
	{name: "audit verify", args: []string{"ID"}, run: (*tool).auditVerify,
		help: "verify the election straight from the database, against this server's own log key"},
	{name: "signin", args: []string{"--election ID [--url U] VOTER"}, runEnv: signIn,
		help: "sign a voter in as their device does: read the code from stdin, sign with the key it derives, print the session token (JSON)"},
	{name: "vote", args: []string{"--election ID [--url U] [--log-key K]", "VOTER QUESTION=CANDIDATE[,CANDIDATE…]…"}, runEnv: vote,
		help: "vote as the voter's device does (the reference client): read the code from stdin, sign in, encrypt, prove and sign the ballot here, cast it, print the receipt, and check the ballot's inclusion proof in the signed log"},
	{name: "check", args: []string{"--election FILE REVEALED"}, runEnv: checkCopy,
		help: "check a copy a voter checked on the ballot page, offline: make it again from its revealed text and the election (JSON, as the API serves it), print its tracking code and the candidates it encrypts"},
	{name: "bench", args: []string{"[--url U] [--election ID]", "[--voters FILE] [--concurrency N]", "[--rate R] [--surge X] [--limit N]", "[--out FILE] [--ledger FILE]"}, runEnv: bench,
		help: "play the voters of a credentials file through a server: sign in, ballot, cast, receipt; report latency percentiles, throughput and errors (--out JSON), and the ledger of acknowledged receipts (--ledger)"},
}

// lookup finds the command args name and returns it with the arguments
// after its name.
func lookup(args []string) (*command, []string) {
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return &commands[i], args[len(words):]
		}
	}
	return nil, nil
}

// usageError is a command line that does not fit its command; it reads as
// errUsage, and says what was wrong, if more than that, and the command's
// usage.
type usageError struct {
	cmd   *command
	cause error
}

func (e usageError) Error() string {
	msg := "usage: primaryctl " + e.cmd.synopsis()
	if e.cause != errUsage {
		msg = strings.TrimPrefix(e.cause.Error(), "usage: ") + "\n" + msg
	}
	return msg
}

func (e usageError) Is(target error) bool { return target == errUsage }

func (c *command) synopsis() string {
	return strings.TrimSpace(c.name + " " + strings.Join(c.args, " "))
}

// Run executes one primaryctl command.
func Run(ctx context.Context, env *Env, args []string) error {
	cmd, rest := lookup(args)
	if cmd == nil {
		return errUsage
	}
	err := cmd.exec(ctx, env, rest)
	if errors.Is(err, errUsage) {
		return usageError{cmd, err}
	}
	return err
}

func (c *command) exec(ctx context.Context, env *Env, args []string) error {
	if c.runEnv != nil {
		return c.runEnv(ctx, env, args)
	}
	if env.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set (make run prints it)")
	}
	t, err := connect(ctx, env)
	if err != nil {
		return err
	}
	defer t.close()
	if err := c.run(t, ctx, args); err != nil {
		return err
	}
	// Every step is checkpointed at once, whether or not a server is running.
	return t.sequence(ctx)
}

// usage is the whole usage text, made from commands.
func usage() string {
	const width = 100
	left := 0
	for _, c := range commands {
		for i, a := range c.args {
			if i == 0 {
				a = c.name + " " + a
			} else {
				a = strings.Repeat(" ", len(c.name)+1) + a
			}
			left = max(left, len(a)+4)
		}
	}
	var b strings.Builder
	b.WriteString("usage: primaryctl COMMAND [ARGS]\n\n")
	for _, c := range commands {
		var lhs []string
		for i, a := range c.args {
			if i == 0 {
				lhs = append(lhs, c.name+" "+a)
			} else {
				lhs = append(lhs, strings.Repeat(" ", len(c.name)+1)+a)
			}
		}
		if len(lhs) == 0 {
			lhs = []string{c.name}
		}
		rhs := wrap(c.help, width-left-2)
		for i := range max(len(lhs), len(rhs)) {
			l, r := "", ""
			if i < len(lhs) {
				l = lhs[i]
			}
			if i < len(rhs) {
				r = rhs[i]
			}
			fmt.Fprintf(&b, "  %-*s%s\n", left-2, l, r)
		}
	}
	b.WriteString(envHelp)
	return strings.ReplaceAll(b.String(), " \n", "\n")
}

// wrap breaks s into lines of at most n bytes, at spaces.
func wrap(s string, n int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > n {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
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
func migrate(ctx context.Context, env *Env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	if env.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set (make run prints it)")
	}
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

// parse parses flags and returns the positional arguments, of which there
// must be exactly want (any number when want is negative).
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
	if want >= 0 && len(pos) != want {
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

// idAndFile parses the arguments ID FILE of the command name and opens the
// file, which the caller closes.
func idAndFile(name string, args []string) (string, *os.File, error) {
	pos, err := parse(flag.NewFlagSet(name, flag.ContinueOnError), args, 2)
	if err != nil {
		return "", nil, err
	}
	f, err := os.Open(pos[1])
	return pos[0], f, err
}

func (t *tool) rollImport(ctx context.Context, args []string) error {
	id, f, err := idAndFile("roll import", args)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	sum, err := t.elections.ImportRoll(ctx, id, bufio.NewReaderSize(f, 1<<16), t.actor)
	if err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "roll of %s imported: %d voters in %.2fs (sha256 %s)\n",
		id, sum.Voters, time.Since(start).Seconds(), sum.Digest)
	return nil
}

// credentialsImport loads the authority's public credentials file.
func (t *tool) credentialsImport(ctx context.Context, args []string) error {
	id, f, err := idAndFile("credentials import", args)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	sum, err := t.credentials.Import(ctx, id, f, t.actor)
	if err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "credentials of %d voters of %s imported in %.2fs (sha256 %s: check it is the one the authority published)\n",
		sum.Voters, id, time.Since(start).Seconds(), sum.SHA256)
	return nil
}

// credentialsReplace gives a voter who lost their code the authority's new
// credential.
func (t *tool) credentialsReplace(ctx context.Context, args []string) error {
	id, f, err := idAndFile("credentials replace", args)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := t.credentials.Replace(ctx, id, f, t.actor)
	if err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "voter %s of %s has a new credential; the old code no longer signs in\n", p.VoterID, id)
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
