package audit

import (
	"context"
	"strings"
	"testing"

	"primaryvote/internal/dbtest"
)

// TestEntryLookupUsesItsIndex checks the plans a prepared statement falls
// back to (the generic plan) for the receipt lookups, on a fresh log and on
// a large one: each must use its (election, kind, ref) index, never scan an
// election's whole log. A plan made while the log was small once did, and
// cost 2 ms a receipt after 10,000 ballots.
func TestEntryLookupUsesItsIndex(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	check := func(stage string) {
		t.Helper()
		if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `PREPARE lookup(text, text, text) AS `+selectEntry); err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, `EXPLAIN EXECUTE lookup('X', 'e1', 'ballot.cast')`)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		if _, err := conn.Exec(ctx, `DEALLOCATE lookup; RESET plan_cache_mode`); err != nil {
			t.Fatal(err)
		}
		p := strings.Join(plan, "\n")
		if !strings.Contains(p, "audit_log_lookup") || !strings.Contains(p, "audit_entries_lookup") || strings.Contains(p, "Seq Scan") {
			t.Errorf("%s: %s\n%s", stage, selectEntry, p)
		}
	}
	check("empty log")
	if _, err := conn.Exec(ctx, `
		INSERT INTO audit_log (position, entry_id, election_id, kind, ref, record)
		SELECT i, i, 'e1', CASE WHEN i % 2 = 0 THEN 'ballot.cast' ELSE 'voter.signins' END, md5(i::text), '\x00'
		FROM generate_series(0, 20000) i;
		ANALYZE audit_log`); err != nil {
		t.Fatal(err)
	}
	check("20,000 entries")
}
