package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// statements profiles PostgreSQL over the voting window, as the CPU
// profiles do primaryd: pg_stat_statements, which scripts/bench preloads
// in its cluster when profiling, is reset as the clock starts and its
// costliest statements are written to postgres.txt when it stops. The
// statements are read with psql as the cluster's superuser, whose password
// scripts/pgcluster keeps beside the data directory.
type statements struct {
	url, out string
}

// newStatements returns the profile of the cluster at pgdata, written to
// dir, or nil when either is unset.
func newStatements(pgdata, dir string) (*statements, error) {
	if pgdata == "" || dir == "" {
		return nil, nil
	}
	cluster := filepath.Dir(pgdata)
	password, err := os.ReadFile(filepath.Join(cluster, "superuser.password"))
	if err != nil {
		return nil, fmt.Errorf("the cluster's superuser: %w", err)
	}
	port, err := os.ReadFile(filepath.Join(cluster, "port"))
	if err != nil {
		return nil, fmt.Errorf("the cluster's port: %w", err)
	}
	return &statements{
		url: fmt.Sprintf("postgresql://postgres:%s@127.0.0.1:%s/postgres", strings.TrimSpace(string(password)), strings.TrimSpace(string(port))),
		out: filepath.Join(dir, "postgres.txt"),
	}, nil
}

func (s *statements) psql(ctx context.Context, sql ...string) (string, error) {
	args := []string{"-X", "-q", "-A", "-F", " | ", "-v", "ON_ERROR_STOP=1", "-d", s.url}
	for _, q := range sql {
		args = append(args, "-c", q)
	}
	out, err := exec.CommandContext(ctx, "psql", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("psql: %w: %s", err, out)
	}
	return string(out), nil
}

// start creates the extension (before the clock) and reset clears its
// counts (as the clock starts).
func (s *statements) start(ctx context.Context) error {
	_, err := s.psql(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`, `SELECT pg_stat_statements_reset()`)
	if err != nil {
		return fmt.Errorf("pg_stat_statements (is it in shared_preload_libraries? scripts/bench preloads it with PROFILE): %w", err)
	}
	return nil
}

func (s *statements) reset(ctx context.Context) error {
	_, err := s.psql(ctx, `SELECT pg_stat_statements_reset()`)
	return err
}

// write writes the statements that took the most time since the reset.
func (s *statements) write(ctx context.Context) error {
	out, err := s.psql(ctx, `
SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
       round((total_exec_time / calls)::numeric, 3) AS mean_ms, rows,
       wal_bytes, left(regexp_replace(query, '\s+', ' ', 'g'), 240) AS query
FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 40`)
	if err != nil {
		return err
	}
	return os.WriteFile(s.out, []byte("PostgreSQL's statements over the voting window, the costliest first (pg_stat_statements)\n"+out), 0o644)
}
