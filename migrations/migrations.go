// Package migrations holds the database schema as ordered SQL migrations,
// embedded in every binary and applied with goose, each in its own transaction.
//
// Two roles use the database. The schema's owner applies the migrations
// (primaryctl migrate, with DATABASE_OWNER_URL) and does nothing else; the
// application's role (DATABASE_URL), which primaryd and every other
// primaryctl command use, owns nothing and holds exactly the privileges in
// grants.sql, so that it cannot change the log's protection: no UPDATE or
// DELETE on the log, no TRUNCATE, no triggers to disable, no GRANT to itself.
// Services only Check that the schema is current.
//
// Up is safe to run from several processes at once: a Postgres session lock
// lets one apply and the others wait.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed 0*.sql
var files embed.FS

//go:embed grants.sql
var grants string

// FS returns the migration files.
func FS() fs.FS { return files }

// Grants returns the SQL that grants the application's role its privileges.
func Grants() string { return grants }

// Up applies every pending migration as the schema's owner (ownerURL), then
// grants appRole, the application's role, exactly its privileges. It returns
// how many migrations it applied.
func Up(ctx context.Context, ownerURL, appRole string, logger *slog.Logger) (int, error) {
	if appRole == "" {
		return 0, fmt.Errorf("migrations: no application role to grant privileges to")
	}
	db, err := sql.Open("pgx", ownerURL)
	if err != nil {
		return 0, fmt.Errorf("couldn't open database: %w", err)
	}
	defer db.Close()
	var owner string
	if err := db.QueryRowContext(ctx, `SELECT current_user`).Scan(&owner); err != nil {
		return 0, fmt.Errorf("couldn't connect as the schema's owner: %w", err)
	}
	if owner == appRole {
		return 0, fmt.Errorf("migrations: the schema's owner and the application's role are both %q; the application must not own the schema", owner)
	}
	n, err := up(ctx, db, logger)
	if err != nil {
		return n, err
	}
	q := strings.ReplaceAll(grants, "APP_ROLE", pgx.Identifier{appRole}.Sanitize())
	if _, err := db.ExecContext(ctx, q); err != nil {
		return n, fmt.Errorf("couldn't grant %s its privileges: %w", appRole, err)
	}
	return n, nil
}

// Role returns the user a database URL connects as.
func Role(databaseURL string) (string, error) {
	c, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return "", fmt.Errorf("couldn't parse the database URL: %w", err)
	}
	return c.User, nil
}

// Check returns an error unless the database at databaseURL has every
// migration this binary knows, and no later one.
func Check(ctx context.Context, databaseURL string) error {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return fmt.Errorf("couldn't open database: %w", err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("couldn't load migrations: %w", err)
	}
	sources := p.ListSources()
	target := sources[len(sources)-1].Version
	// Read the version table directly: goose would try to create it, which
	// the application's role may not.
	var current sql.NullInt64
	err = db.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&current)
	if err != nil {
		return fmt.Errorf("couldn't read the schema's version (has the schema's owner run primaryctl migrate?): %w", err)
	}
	if current.Int64 != target {
		return fmt.Errorf("the database schema is at version %d; this program needs %d: the schema's owner runs primaryctl migrate (with DATABASE_OWNER_URL)", current.Int64, target)
	}
	return nil
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
