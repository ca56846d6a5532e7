package migrations_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"primaryvote/internal/dbtest"
	"primaryvote/migrations"
)

// The application's role owns nothing and holds exactly its privileges: it
// cannot change the log, truncate anything, create databases or grant
// itself more.
func TestApplicationRoleHoldsOnlyItsPrivileges(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	q := func(sql string, args ...any) bool {
		t.Helper()
		var b bool
		if err := db.Pool.QueryRow(ctx, sql, args...).Scan(&b); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return b
	}
	if q(`SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user)`) {
		t.Error("the application's role owns a table")
	}
	if q(`SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolbypassrls FROM pg_roles WHERE rolname = current_user`) {
		t.Error("the application's role is a superuser or may create databases or roles")
	}
	if q(`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user))`) {
		t.Error("the application's role owns a database")
	}
	for _, tc := range []struct {
		table, privilege string
		want             bool
	}{
		{"audit_log", "INSERT", true}, {"audit_log", "UPDATE", false}, {"audit_log", "DELETE", false}, {"audit_log", "TRUNCATE", false},
		{"audit_hashes", "UPDATE", false}, {"audit_hashes", "DELETE", false}, {"audit_checkpoints", "UPDATE", false}, {"audit_checkpoints", "DELETE", false},
		{"audit_entries", "INSERT", true}, {"audit_entries", "DELETE", true}, {"audit_entries", "UPDATE", false}, {"audit_entries", "TRUNCATE", false},
		{"ballots", "INSERT", true}, {"ballots", "UPDATE", false}, {"ballots", "DELETE", false},
		{"elections", "DELETE", false}, {"officials", "DELETE", false}, {"partial_decryptions", "UPDATE", false},
		{"voters", "TRUNCATE", false}, {"goose_db_version", "INSERT", false},
	} {
		if got := q(`SELECT has_table_privilege(current_user, $1, $2)`, tc.table, tc.privilege); got != tc.want {
			t.Errorf("%s on %s: %v; want %v", tc.privilege, tc.table, got, tc.want)
		}
	}
	for _, tc := range []struct {
		table, column string
		want          bool
	}{
		{"elections", "status", true}, {"elections", "title", false}, {"elections", "closes_at", false},
		{"officials", "disabled", true}, {"officials", "role", false}, {"voter_credentials", "credential", true}, {"voter_credentials", "voter_id", false},
	} {
		if got := q(`SELECT has_column_privilege(current_user, $1, $2, 'UPDATE')`, tc.table, tc.column); got != tc.want {
			t.Errorf("UPDATE of %s.%s: %v; want %v", tc.table, tc.column, got, tc.want)
		}
	}
	if err := migrations.Check(ctx, db.URL); err != nil {
		t.Errorf("Check(migrated) = %v", err)
	}
}

func TestUpRefusesAnApplicationThatOwnsTheSchema(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	owner, err := migrations.Role(db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = migrations.Up(context.Background(), db.OwnerURL, owner, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "must not own") {
		t.Errorf("Up with the owner as the application = %v; want refused", err)
	}
}

func TestCheckRefusesAnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	if _, err := db.OwnerPool.Exec(context.Background(), `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Check(context.Background(), db.URL); err == nil || !strings.Contains(err.Error(), "primaryctl migrate") {
		t.Errorf("Check(a version behind) = %v; want refused", err)
	}
}
