// Command auditverify re-derives an election from its audit bundle and exits
// non-zero unless everything holds: the log's hash chain, Merkle tree and
// signed checkpoints (and any checkpoints saved earlier); that the bundle
// states what the log records (definition, trustees, status, sums, partial
// decryptions, results); the lifecycle; the roll; one ballot per voter, each
// cast while the election was open; every ballot's proofs; the sums; every
// partial decryption; and the results. See bundle.Verify for every check.
//
// Without --log-key it can show only that the bundle agrees with itself, and
// says so in its first and last lines.
//
//	auditverify [--log-key KEY] [--checkpoint FILE ...] [--json] BUNDLE
//	auditverify --db URL --log-key KEY [--checkpoint FILE ...] [--json] ELECTION
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"primaryvote/audit/bundle"
)

type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(s string) error { *f = append(*f, s); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auditverify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var checkpoints fileList
	fs.Var(&checkpoints, "checkpoint", "a checkpoint saved earlier; the log must extend it (repeatable)")
	logKey := fs.String("log-key", "", "the log's note verifier key, from a source you trust (required with --db)")
	dbURL := fs.String("db", "", "verify from this database instead of a bundle file")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the verification here")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 || (*dbURL != "" && *logKey == "") {
		fmt.Fprintln(stderr, "usage: auditverify [--log-key KEY] [--checkpoint FILE ...] [--json] BUNDLE\n       auditverify --db URL --log-key KEY [--checkpoint FILE ...] [--json] ELECTION")
		return 2
	}
	opts := bundle.Options{LogKey: *logKey, Checkpoints: map[string][]byte{}, FromDatabase: *dbURL != ""}
	if !*asJSON {
		opts.Progress = stderr
	}
	for _, f := range checkpoints {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(stderr, "auditverify:", err)
			return 2
		}
		opts.Checkpoints[f] = b
	}
	// The key and the saved checkpoints are checked before any work.
	if err := bundle.CheckOptions(opts); err != nil {
		fmt.Fprintln(stderr, "auditverify:", err)
		return 2
	}

	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(pf)
		}
		if err != nil {
			fmt.Fprintln(stderr, "auditverify:", err)
			return 2
		}
		defer pf.Close()
		defer pprof.StopCPUProfile()
	}

	var (
		report *bundle.Report
		err    error
	)
	if *dbURL != "" {
		report, err = fromDatabase(*dbURL, fs.Arg(0), *logKey, opts)
	} else {
		var f *os.File
		if f, err = os.Open(fs.Arg(0)); err != nil {
			fmt.Fprintln(stderr, "auditverify:", err)
			return 2
		}
		defer f.Close()
		report, err = bundle.Verify(f, opts)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(report)
	} else {
		printReport(stdout, report)
	}
	if err != nil {
		return 1
	}
	return 0
}

// fromDatabase streams a bundle from the database straight into the verifier.
func fromDatabase(url, election, logKey string, opts bundle.Options) (*bundle.Report, error) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return &bundle.Report{Failure: err.Error()}, err
	}
	defer pool.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(bundle.Export(ctx, pool, election, logKey, pw)) }()
	report, err := bundle.Verify(pr, opts)
	pr.CloseWithError(errors.New("verification stopped"))
	return report, err
}

// unpinned is what a report without a pinned key must say in its first and
// last lines.
const unpinned = "NO LOG KEY GIVEN: this shows only that the bundle agrees with itself, not that it is the service's log (pass --log-key with the key the service published)"

func printReport(w io.Writer, r *bundle.Report) {
	election := "bundle"
	if r.Election != "" {
		election = fmt.Sprintf("election %s (%s)", r.Election, r.Status)
	}
	if r.LogKeyPinned {
		fmt.Fprintf(w, "%s, log key pinned: %s\n", election, keyName(r.LogKey))
	} else {
		fmt.Fprintf(w, "%s: %s\n", election, unpinned)
	}
	for _, s := range r.Steps {
		fmt.Fprintf(w, "  ✓ %-24s %9d  %8.2fs\n", s.Name, s.Count, s.Duration.Seconds())
	}
	for _, refused := range r.Refused {
		fmt.Fprintf(w, "  refused partial decryption (not counted): %s\n", refused)
	}
	switch {
	case r.Failure != "":
		fmt.Fprintf(w, "FAILED: %s\n", r.Failure)
	case r.LogKeyPinned:
		saved := ""
		if r.SavedCheckpoints > 0 {
			saved = fmt.Sprintf(", extending the %d saved checkpoints given", r.SavedCheckpoints)
		}
		fmt.Fprintf(w, "all checks passed in %.2fs: the election follows from the log signed by %s%s\n", r.Elapsed.Seconds(), keyName(r.LogKey), saved)
	default:
		fmt.Fprintf(w, "consistent in %.2fs, but %s\n", r.Elapsed.Seconds(), unpinned)
	}
}

// keyName is a note verifier key's name and key hash, without the key.
func keyName(key string) string {
	name, rest, _ := strings.Cut(key, "+")
	hash, _, _ := strings.Cut(rest, "+")
	return name + "+" + hash
}
