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
	"primaryvote/audit/record"
	"primaryvote/auth"
)

// envHelp ends the usage.
const envHelp = `
Environment: DATABASE_URL (required: the application's role), DATABASE_OWNER_URL
(migrate only: the schema's owner), PRIMARYVOTE_SECRETS (default ` + auth.DefaultSecretsDir + `),
PRIMARYVOTE_LOG_ORIGIN (default ` + record.DefaultOrigin + `), both as primaryd has them.
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
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, ue)
			os.Exit(2)
		}
		if errors.Is(err, errUsage) {
			fmt.Fprint(os.Stderr, usage())
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
