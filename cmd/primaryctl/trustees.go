package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"

	"primaryvote/audit/bundle"
	"primaryvote/ballot"
)

// trusteesDecrypt is a trustee's decryption, on their own machine: it
// verifies the election's audit bundle against the published log key,
// every ballot's proofs and signature included, which makes the sums again
// from the ballots and checks that the server's logged sums are those; then
// it decrypts only those sums with the trustee's share and posts the
// partial decryption with its proof. A server whose sums differ from the
// ballots' (say, one ballot alone, to read it) gets nothing.
func trusteesDecrypt(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("trustees decrypt", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "the server")
	election := fs.String("election", "", "the election's id")
	shareFile := fs.String("share", "", "the trustee's share file")
	bundleFile := fs.String("bundle", "", "the election's audit bundle (primaryctl audit export, or GET …/audit/bundle), after `tally start`")
	logKey := fs.String("log-key", "", "the log's verifier key, as the election committee published it")
	passFile := fs.String("passphrase-file", "", "file whose first line is the passphrase (default: stdin)")
	if _, err := parse(fs, args, 0); err != nil || *election == "" || *shareFile == "" || *bundleFile == "" || *logKey == "" {
		return errUsage
	}
	pass, err := readPassphrase(env, *passFile)
	if err != nil {
		return err
	}
	f, err := os.Open(*shareFile)
	if err != nil {
		return err
	}
	share, err := ballot.ReadShare(f, pass)
	f.Close()
	if err != nil {
		return err
	}
	if share.ElectionID != *election {
		return fmt.Errorf("the share is for election %q, not %q", share.ElectionID, *election)
	}
	b, err := os.Open(*bundleFile)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(env.Stdout, "checking the bundle against log key %s: every ballot's proofs, and the sums made again from the ballots…\n", *logKey)
	report, err := bundle.Verify(bufio.NewReaderSize(b, 1<<20), bundle.Options{LogKey: *logKey})
	if err != nil {
		return fmt.Errorf("the bundle does not verify, so trustee %d decrypts nothing: %w", share.Index, err)
	}
	if report.Election != *election {
		return fmt.Errorf("the bundle is election %q's, not %q's", report.Election, *election)
	}
	if report.Sums == nil {
		return fmt.Errorf("the bundle has no sums: the officials run `primaryctl tally start %s` and export the bundle after it", *election)
	}
	e, t := report.VerifiedElection, report.Trustees
	if !t.CheckShare(share) {
		return fmt.Errorf("trustee %d's share does not match its public key in the bundle", share.Index)
	}
	p, err := e.PartialDecrypt(t, report.Sums, share)
	if err != nil {
		return err
	}
	srv := newServer(*url, *election)
	body := map[string]any{"trustee": p.Trustee, "shares": ballot.Hex(p.EncodeShares()), "proof": ballot.Hex(p.Proof)}
	if err := srv.post(ctx, "/partials", body); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "the sums of the %d ballots are the ballots' own; trustee %d's partial decryption of them is posted\n", report.Sums.Ballots(), p.Trustee)
	return nil
}

func (t *tool) tally(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("tally", flag.ContinueOnError), args, 1)
	if err != nil {
		return err
	}
	sums, err := t.elections.Tally(ctx, pos[0], t.actor)
	if err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "election %s tallied: %d ballots; trustees can now decrypt\n", pos[0], sums.Ballots())
	return nil
}

func (t *tool) tallyFinish(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("tally finish", flag.ContinueOnError), args, 1)
	if err != nil {
		return err
	}
	report, err := t.elections.FinishTally(ctx, pos[0], t.actor)
	if report != nil {
		for _, r := range report.Rejected {
			fmt.Fprintf(t.env.Stderr, "rejected: %s\n", r.Reason)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "election %s: results from trustees %v\n", pos[0], report.Used)
	for _, q := range report.Results.Questions {
		fmt.Fprintf(t.env.Stdout, "%s\n", q.Title)
		for _, c := range q.Candidates {
			fmt.Fprintf(t.env.Stdout, "  %2d %-20s %7d votes  %6.2f%%\n", c.Number, c.Name, c.Total, c.Combined)
		}
	}
	return nil
}
