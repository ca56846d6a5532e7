package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"primaryvote/audit"
	"primaryvote/audit/bundle"
)

// auditExport sequences whatever is queued, then writes the bundle.
func (t *tool) auditExport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	out := fs.String("out", "", "the bundle file to write")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for the election's witnesses to cosign its last checkpoint")
	pos, err := parse(fs, args, 1)
	if err != nil || *out == "" {
		return errUsage
	}
	if err := t.sequence(ctx); err != nil {
		return err
	}
	if err := t.awaitWitnesses(ctx, pos[0], *wait); err != nil {
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

// awaitWitnesses pushes the log's newest checkpoint to the election's
// witnesses (as primaryd does) until a quorum of them has cosigned one that
// covers every record of the election, or wait has passed; then the bundle
// ends with a checkpoint they cosigned. It only warns when they have not:
// the bundle is still the log, but auditverify --policy will refuse it.
func (t *tool) awaitWitnesses(ctx context.Context, id string, wait time.Duration) error {
	done, err := audit.ElectionWitnessed(ctx, t.pool, id)
	if err != nil || done {
		return err
	}
	pusher, err := audit.NewPusher(t.pool, t.signer.VerifierKey(), slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	for !done && time.Now().Before(deadline) {
		if err := pusher.Round(ctx); err != nil {
			return err
		}
		if done, err = audit.ElectionWitnessed(ctx, t.pool, id); err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	fmt.Fprintf(t.env.Stderr, "warning: the witnesses of %s have not cosigned its last records (after %s):\n", id, wait)
	for _, w := range pusher.Status() {
		fmt.Fprintf(t.env.Stderr, "  %s: cosigned up to %d of %d %s\n", w.Name, w.Cosigned, w.LogSize, w.Error)
	}
	fmt.Fprintln(t.env.Stderr, "the bundle ends with a checkpoint they did not cosign: auditverify --policy refuses it; export again once they have")
	return nil
}
