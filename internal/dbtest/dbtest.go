// Package dbtest gives each test its own freshly migrated PostgreSQL database.
//
// The server is the one named by DATABASE_URL, the application's role, and
// DATABASE_OWNER_URL, the schema's owner, which may create databases (make
// test starts a throwaway cluster and sets both). The schema is migrated once
// per test run into a template database; each test then gets a copy of it
// with CREATE DATABASE … TEMPLATE, which takes milliseconds, and the copy is
// dropped at cleanup. Tests use the copy as the application does, through
// its role; OwnerPool is for tests that play an insider with the owner's
// powers. Without both URLs the test fails: these tests never skip.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"primaryvote/migrations"
)

// DB is a test's own database.
type DB struct {
	// Pool and URL connect as the application's role (URL for a server
	// under test).
	Pool *pgxpool.Pool
	URL  string
	// OwnerPool and OwnerURL connect as the schema's owner, for migrations
	// and for tests that play an insider who holds it.
	OwnerPool *pgxpool.Pool
	OwnerURL  string
}

// New creates a database for t, migrated to the latest schema, and drops it
// when t ends.
func New(t testing.TB) *DB {
	t.Helper()
	ctx := context.Background()
	base := BaseURL(t)
	ownerBase := os.Getenv("DATABASE_OWNER_URL")
	if ownerBase == "" {
		t.Fatal("dbtest: DATABASE_OWNER_URL is not set; run the suite with `make test`, which provides a PostgreSQL cluster with both roles")
	}
	app, err := migrations.Role(base)
	if err != nil {
		t.Fatal(err)
	}

	admin, err := pgx.Connect(ctx, ownerBase)
	if err != nil {
		t.Fatalf("dbtest: couldn't connect to DATABASE_URL: %v", err)
	}
	defer admin.Close(ctx)

	tmpl, err := template(ctx, admin, ownerBase, app)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	name := "test_" + randomHex(8)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tmpl); err != nil {
		t.Fatalf("dbtest: couldn't create %s: %v", name, err)
	}
	u := withDatabase(base, name)
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		t.Fatalf("dbtest: couldn't open pool: %v", err)
	}
	ownerPool, err := pgxpool.New(ctx, withDatabase(ownerBase, name))
	if err != nil {
		t.Fatalf("dbtest: couldn't open pool: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		ownerPool.Close()
		c, err := pgx.Connect(context.Background(), ownerBase)
		if err != nil {
			t.Errorf("dbtest: couldn't connect to drop %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		// An autovacuum worker in the database runs as the bootstrap
		// superuser, which the test role may not terminate (SQLSTATE
		// 42501): wait for it to finish, as it does within moments.
		for try := 0; ; try++ {
			_, err = c.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
			var pgErr *pgconn.PgError
			if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "42501" || try == 100 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("dbtest: couldn't drop %s: %v", name, err)
		}
	})
	return &DB{Pool: pool, URL: u, OwnerPool: ownerPool, OwnerURL: withDatabase(ownerBase, name)}
}

// BaseURL returns DATABASE_URL, failing t when it is not set.
func BaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("DATABASE_URL")
	if u == "" {
		t.Fatal("dbtest: DATABASE_URL is not set; run the suite with `make test`, which provides a PostgreSQL cluster")
	}
	return u
}

// template returns the name of a database migrated to the current schema,
// creating it if no earlier test (in any process) did. An advisory lock makes
// concurrent test binaries build it once.
func template(ctx context.Context, admin *pgx.Conn, ownerBase, app string) (string, error) {
	sum, err := schemaDigest()
	if err != nil {
		return "", err
	}
	name := "tmpl_" + sum[:16]
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(7239001)"); err != nil {
		return "", fmt.Errorf("couldn't take template lock: %w", err)
	}
	defer admin.Exec(ctx, "SELECT pg_advisory_unlock(7239001)") //nolint:errcheck

	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("couldn't look up template: %w", err)
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("couldn't clear %s: %w", building, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return "", fmt.Errorf("couldn't create %s: %w", building, err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := migrations.Up(ctx, withDatabase(ownerBase, building), app, quiet); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return "", fmt.Errorf("couldn't finish template: %w", err)
	}
	return name, nil
}

// schemaDigest names the template after the migrations' content, so a changed
// migration gets a new template.
func schemaDigest() (string, error) {
	h := sha256.New()
	var names []string
	err := fs.WalkDir(migrations.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS(), n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	io.WriteString(h, migrations.Grants())
	return hex.EncodeToString(h.Sum(nil)), nil
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// byteaHex finds a bytea in pg_dump's output.
var byteaHex = regexp.MustCompile(`\\x([0-9a-f]+)`)

// Dump dumps the database at url as SQL, with every bytea value appended
// in decoded form so that a search sees the bytes, not their hex: what an
// insider with a copy of the database holds, for tests that search it.
func Dump(t testing.TB, url string) string {
	t.Helper()
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
		if len(matches) == 0 {
			t.Fatal("pg_dump not found: install postgresql-client")
		}
		bin = matches[len(matches)-1]
	}
	cmd := exec.Command(bin, "--no-owner", "--dbname", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, stderr.String())
	}
	var b strings.Builder
	b.Write(out)
	for _, m := range byteaHex.FindAllSubmatch(out, -1) {
		if raw, err := hex.DecodeString(string(m[1])); err == nil {
			b.WriteByte('\n')
			b.Write(raw)
		}
	}
	return b.String()
}
