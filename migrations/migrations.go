// Package migrations holds the database schema as ordered SQL migrations,
// embedded in every binary and applied with goose, each in its own transaction.
//
// Up is safe to run from several processes at once (for example two primaryd
// starting together): a Postgres session lock lets one apply and the others wait.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// FS returns the migration files.
func FS() fs.FS { return files }

// Up applies every pending migration to the database at databaseURL and returns
// how many it applied.
func Up(ctx context.Context, databaseURL string, logger *slog.Logger) (int, error) {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return 0, fmt.Errorf("couldn't open database: %w", err)
	}
	defer db.Close()
	return up(ctx, db, logger)
}

func up(ctx context.Context, db *sql.DB, logger *slog.Logger) (int, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return 0, fmt.Errorf("couldn't create migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return 0, fmt.Errorf("couldn't load migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("couldn't apply migrations: %w", err)
	}
	for _, r := range results {
		logger.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return len(results), nil
}
