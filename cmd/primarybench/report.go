package main

import (
	"fmt"
	"io"
	"sort"
)

// write prints the summary for people.
func (s *summary) write(w io.Writer) {
	fmt.Fprintf(w, "\n== primaryvote bench: %d voters, %s ballot, %d concurrent, %d cores ==\n", s.Voters, s.Ballot, s.Concurrency, s.Cores)
	fmt.Fprintf(w, "roll import           %.2f s\n", s.RollImportS)
	fmt.Fprintf(w, "credential authority  %.2f s (offline), import %.2f s\n", s.AuthorityS, s.ImportS)
	if l := s.Load; l != nil {
		fmt.Fprintf(w, "devices' ballots      %.2f s (keys, encryption, proofs, signatures), before the clock\n", l.PrepareSeconds)
		fmt.Fprintf(w, "voting                %.1f s at %.0f votes/s (%d acknowledged, %d failed, %d retries)\n",
			l.Seconds, l.VotesPerSec, l.Acknowledged, l.Failed, l.Retries)
		names := make([]string, 0, len(l.Endpoints))
		for n := range l.Endpoints {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			e := l.Endpoints[n]
			fmt.Fprintf(w, "  %-9s %8d  p50 %7.1f  p95 %7.1f  p99 %7.1f  max %8.1f ms\n", n, e.Count, e.P50, e.P95, e.P99, e.Max)
		}
		classes := make([]string, 0, len(l.Errors))
		for c := range l.Errors {
			classes = append(classes, c)
		}
		sort.Strings(classes)
		for _, c := range classes {
			fmt.Fprintf(w, "  retried after %-16s %d\n", c, l.Errors[c])
		}
		c := s.CPU
		if s.PostgresMeasured {
			fmt.Fprintf(w, "server CPU per vote   %.2f ms = primaryd %.2f + PostgreSQL %.2f (%.1f + %.1f s over %.1f s; load tester %.1f s)\n",
				c.ServerMsPerVote, c.PrimarydMsPerVote, c.PostgresMsPerVote, c.PrimarydS, c.PostgresS, c.WindowS, c.LoadTesterS)
		} else {
			fmt.Fprintf(w, "primaryd CPU per vote %.2f ms (%.1f s over %.1f s; load tester %.1f s); PostgreSQL not measured (no -pgdata)\n",
				c.PrimarydMsPerVote, c.PrimarydS, c.WindowS, c.LoadTesterS)
		}
		fmt.Fprintf(w, "server peak RSS       %.0f MiB\n", s.PeakRSSMiB)
		ws := s.Witnessing
		if ws.Witnesses > 0 {
			fmt.Fprintf(w, "log                   %.0f records/s, pushed to %d witnesses (all must cosign): at the end the most behind lagged %d records and all had caught up %.2f s later; their CPU %.1f s\n",
				ws.RecordsPerSec, ws.Witnesses, ws.LagAtEnd, ws.CatchUpS, ws.WitnessCPUS)
		} else {
			fmt.Fprintf(w, "log                   %.0f records/s, no witnesses\n", ws.RecordsPerSec)
		}
	}
	if s.TallyS > 0 {
		fmt.Fprintf(w, "tally + decrypt       %.2f s\n", s.TallyS)
	}
	if s.VerifyS > 0 {
		verdict := "passed"
		if !s.Verified {
			verdict = "FAILED"
		}
		fmt.Fprintf(w, "auditverify           %.2f s (%s)\n", s.VerifyS, verdict)
		for _, step := range s.VerifySteps {
			fmt.Fprintf(w, "  %s\n", step)
		}
	}
	if r := s.Reconciled; r != nil {
		fmt.Fprintf(w, "acknowledged %d = in the log %d = counted %d; lost %d, duplicated %d, unacknowledged %d, miscounted candidates %d\n",
			r.Acknowledged, r.Logged, r.Counted, len(r.Lost), len(r.Duplicated), r.Unacknowledged, len(r.Miscounted))
	}
}
