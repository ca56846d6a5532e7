package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"

	"primaryvote/internal/loadtest"
)

// bench plays the voters in a credentials file through a running server.
func bench(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "the server")
	election := fs.String("election", "demo", "the election")
	votersFile := fs.String("voters", ".data/demo/voters.csv", "credentials file (voter_id,code)")
	concurrency := fs.Int("concurrency", 64, "voters in progress at once")
	rate := fs.Float64("rate", 0, "voters arriving per second (0: as fast as the concurrency allows)")
	surge := fs.Float64("surge", 1, "rate multiplier for the first fifth of the run (the opening surge)")
	out := fs.String("out", "", "write the report as JSON here")
	ledger := fs.String("ledger", "", "write the acknowledged receipts (voter_id,tracking_code) here")
	limit := fs.Int("limit", 0, "play only the first N voters")
	cpuProfile := fs.String("cpuprofile", "", "write the load tester's own CPU profile here")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	f, err := os.Open(*votersFile)
	if err != nil {
		return err
	}
	voters, err := loadtest.ReadVoters(f)
	f.Close()
	if err != nil {
		return err
	}
	if *limit > 0 && *limit < len(voters) {
		voters = voters[:*limit]
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(env.Stderr, "playing %d voters against %s (election %s)\n", len(voters), *url, *election)
	rep, err := loadtest.Run(ctx, loadtest.Config{BaseURL: *url, Election: *election, Voters: voters,
		Concurrency: *concurrency, Rate: *rate, Surge: *surge, Progress: env.Stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "voters %d  receipts %d  failed %d  in %.1fs  → %.0f votes/s  (%d retries)\n",
		rep.Voters, rep.Acknowledged, rep.Failed, rep.Seconds, rep.VotesPerSec, rep.Retries)
	names := make([]string, 0, len(rep.Endpoints))
	for n := range rep.Endpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l := rep.Endpoints[n]
		fmt.Fprintf(env.Stdout, "  %-9s %8d  p50 %7.1f  p95 %7.1f  p99 %7.1f  max %8.1f ms\n", n, l.Count, l.P50, l.P95, l.P99, l.Max)
	}
	for class, n := range rep.Errors {
		fmt.Fprintf(env.Stdout, "  error %-16s %d\n", class, n)
	}
	if *out != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if *ledger != "" {
		if err := rep.WriteLedger(*ledger); err != nil {
			return err
		}
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d voters got no receipt", rep.Failed)
	}
	return nil
}
