package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
