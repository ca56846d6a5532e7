// Command primaryctl is the officials' and trustees' tool: it migrates the
// database, seeds the demo, defines elections, imports the roll, issues
// credentials, adds officials, runs the key ceremony, opens and closes
// elections, and tallies, decrypts and publishes the results.
//
// It reads DATABASE_URL and the secrets directory (PRIMARYVOTE_SECRETS,
// default .data/secrets), the same ones primaryd uses.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	pv "primaryvote"
	"primaryvote/auth"
)

const usage = `usage: primaryctl COMMAND [ARGS]

  migrate                                 apply database migrations as the schema's owner
                                          (DATABASE_OWNER_URL) and grant DATABASE_URL's role
                                          exactly the application's privileges
  demo [--dir DIR]                        seed the demo election (idempotent)
  election create --file FILE             create an election from a definition
  election show ID                        print an election as JSON
  election list                           list elections
  election open ID                        open an election for voting
  election close ID                       close an election
  roll import ID FILE                     replace a draft election's roll (CSV voter_id,group,region)
  credentials issue ID --out FILE         issue every voter a new code; write voter_id,code to FILE
  credentials issue ID --voter VID        re-issue one voter's code, printed on stdout
  official add --username U --role R      add an official (admin, official or auditor); the
               [--password-stdin]         password is read from stdin or generated and printed once
  official list                           list officials: role, enabled or disabled
  official disable U                      disable an account, ending its sessions within seconds
  official enable U                       enable a disabled account again
  official passwd U [--password-stdin]    give an official a new password (read or generated)
  trustees setup ID --threshold K         make the election key and split it among N trustees, any K
               --trustees N --out DIR     of whom can decrypt; one share file per trustee in DIR,
               [--passphrases FILE]       encrypted under their passphrases (N lines, FILE or stdin)
  tally ID                                add up a closed election's encrypted ballots
  trustees decrypt ID --share FILE        a trustee's partial decryption of the sums (passphrase
               [--passphrase-file FILE]   from FILE or the first line of stdin)
  tally finish ID                         combine the trustees' decryptions into the results
  publish ID                              make the results public
  audit export ID --out FILE              write the election's audit bundle (for auditverify)
  audit verify ID                         verify the election straight from the database, against
                                          this server's own log key
  bench [--url U] [--election ID]         play the voters of a credentials file through a server:
        [--voters FILE] [--concurrency N] sign in, ballot, cast, receipt; report latency percentiles,
        [--rate R] [--surge X] [--limit N] throughput and errors (--out JSON), and the ledger of
        [--out FILE] [--ledger FILE]       acknowledged receipts (--ledger)

Environment: DATABASE_URL (required: the application's role), DATABASE_OWNER_URL
(migrate only: the schema's owner), PRIMARYVOTE_SECRETS (default .data/secrets),
PRIMARYVOTE_LOG_ORIGIN (default primaryvote/log), both as primaryd has them.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	env := &Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		DatabaseURL: os.Getenv("DATABASE_URL"),
		OwnerURL:    os.Getenv("DATABASE_OWNER_URL"),
		SecretsDir:  envOr("PRIMARYVOTE_SECRETS", auth.DefaultSecretsDir),
		LogOrigin:   os.Getenv("PRIMARYVOTE_LOG_ORIGIN"),
	}
	if err := Run(ctx, env, os.Args[1:]); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "primaryctl:", userMessage(err))
		os.Exit(1)
	}
}

// userMessage shows domain errors by their message and others in full: this
// is an operator's tool, run by the people who may see internal detail.
func userMessage(err error) string {
	var de *pv.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return err.Error()
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Env is what a command runs with.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	DatabaseURL    string
	// OwnerURL connects as the schema's owner, for migrate alone.
	OwnerURL   string
	SecretsDir string
	// LogOrigin names the audit log, as the server does; empty means
	// record.DefaultOrigin.
	LogOrigin string
}
