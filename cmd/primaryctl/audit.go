package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"primaryvote/audit/bundle"
)

// auditExport sequences whatever is queued, then writes the bundle.
func (t *tool) auditExport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	out := fs.String("out", "", "the bundle file to write")
	pos, err := parse(fs, args, 1)
	if err != nil || *out == "" {
		return errUsage
	}
	if err := t.sequence(ctx); err != nil {
		return err
	}
	if _, err := writeFileAtomic(*out, func(w io.Writer) (int, error) {
		return 0, t.elections.Export(ctx, pos[0], w)
	}); err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "bundle of %s written to %s\nlog key: %s\n", pos[0], *out, t.signer.VerifierKey())
	return nil
}

// auditVerify sequences the log, then streams the election's bundle straight
// from the database into the verifier, against this server's own log key:
// an operator's check. Reviewers run auditverify on an exported bundle,
// against the key the service published.
func (t *tool) auditVerify(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("audit verify", flag.ContinueOnError), args, 1)
	if err != nil {
		return err
	}
	if err := t.sequence(ctx); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(t.elections.Export(ctx, pos[0], pw)) }()
	report, err := bundle.Verify(pr, bundle.Options{LogKey: t.signer.VerifierKey(), FromDatabase: true})
	pr.CloseWithError(errors.New("verification stopped"))
	report.WriteText(t.env.Stdout)
	return err
}
