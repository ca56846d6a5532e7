package main

import (
	"context"
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
		return 0, bundle.Export(ctx, t.pool, pos[0], t.signer.VerifierKey(), w)
	}); err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "bundle of %s written to %s\nlog key: %s\n", pos[0], *out, t.signer.VerifierKey())
	return nil
}
