package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"primaryvote/ballot"
)

// readLines reads n non-empty lines from path, or from stdin when path is "".
func (t *tool) readLines(path string, n int) ([]string, error) {
	var r io.Reader = t.env.Stdin
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var lines []string
	sc := bufio.NewScanner(r)
	for len(lines) < n && sc.Scan() {
		if line := strings.TrimRight(sc.Text(), "\r"); line != "" {
			lines = append(lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(lines) < n {
		return nil, fmt.Errorf("need %d passphrases, one per line; got %d", n, len(lines))
	}
	return lines, nil
}

// trusteesSetup runs the key ceremony. Passphrases never come from the
// command line, where other users could read them.
func (t *tool) trusteesSetup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("trustees setup", flag.ContinueOnError)
	threshold := fs.Int("threshold", 0, "how many trustees it takes to decrypt")
	n := fs.Int("trustees", 0, "how many trustees")
	out := fs.String("out", "", "directory for the share files")
	passFile := fs.String("passphrases", "", "file with one passphrase per line (default: stdin)")
	pos, err := parse(fs, args, 1)
	if err != nil || *out == "" || *n == 0 || *threshold == 0 {
		return errUsage
	}
	passphrases, err := t.readLines(*passFile, *n)
	if err != nil {
		return err
	}
	files, err := setupTrustees(ctx, t, pos[0], *threshold, *n, *out, passphrases)
	if err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "election %s: key made and split %d-of-%d; share files:\n", pos[0], *threshold, *n)
	for _, f := range files {
		fmt.Fprintf(t.env.Stdout, "  %s\n", f)
	}
	return nil
}

// setupTrustees makes the key, writes every share file, stores the public
// data, and only then puts the files in place: a failure leaves no share
// files for a key that was never stored, and no stored key without its shares.
func setupTrustees(ctx context.Context, t *tool, id string, threshold, n int, dir string, passphrases []string) ([]string, error) {
	tr, shares, err := ballot.GenerateTrustees(id, threshold, n)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var temps, finals []string
	defer func() {
		for _, f := range temps {
			os.Remove(f)
		}
	}()
	for i, s := range shares {
		final := filepath.Join(dir, fmt.Sprintf("%s-trustee-%d.share", id, s.Index))
		if _, err := os.Stat(final); err == nil {
			return nil, fmt.Errorf("%s already exists", final)
		}
		f, err := os.CreateTemp(dir, ".share-*")
		if err != nil {
			return nil, err
		}
		temps = append(temps, f.Name())
		err = ballot.WriteShare(f, tr, s, passphrases[i])
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		finals = append(finals, final)
	}
	if err := t.elections.SetTrustees(ctx, id, tr, t.actor); err != nil {
		return nil, err
	}
	for i := range temps {
		if err := os.Rename(temps[i], finals[i]); err != nil {
			return nil, fmt.Errorf("the key is stored but share file %s could not be put in place (it is at %s): %w", finals[i], temps[i], err)
		}
	}
	temps = nil
	return finals, nil
}

func (t *tool) trusteesDecrypt(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("trustees decrypt", flag.ContinueOnError)
	shareFile := fs.String("share", "", "the trustee's share file")
	passFile := fs.String("passphrase-file", "", "file whose first line is the passphrase (default: stdin)")
	pos, err := parse(fs, args, 1)
	if err != nil || *shareFile == "" {
		return errUsage
	}
	lines, err := t.readLines(*passFile, 1)
	if err != nil {
		return errors.New("no passphrase: give it on stdin or with --passphrase-file")
	}
	f, err := os.Open(*shareFile)
	if err != nil {
		return err
	}
	defer f.Close()
	share, err := ballot.ReadShare(f, lines[0])
	if err != nil {
		return err
	}
	if err := t.elections.Decrypt(ctx, pos[0], share, fmt.Sprintf("trustee:%d", share.Index)); err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "trustee %d's partial decryption of %s is stored\n", share.Index, pos[0])
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
