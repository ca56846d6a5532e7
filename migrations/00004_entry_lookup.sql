-- +goose Up

-- A receipt looks an entry up by (election, kind, ref), first in the log and
-- then in the queue. Indexes on exactly those columns keep the lookup at a
-- few index pages whatever the planner believes about the tables' sizes: a
-- prepared statement planned while the log was small otherwise goes on
-- scanning the election's whole log.
CREATE INDEX audit_log_lookup ON audit_log (election_id, kind, ref) WHERE ref IS NOT NULL;
DROP INDEX audit_log_ref;
CREATE INDEX audit_entries_lookup ON audit_entries (election_id, kind, ref) WHERE ref IS NOT NULL;

-- +goose Down
DROP INDEX audit_entries_lookup;
CREATE INDEX audit_log_ref ON audit_log (ref) WHERE ref IS NOT NULL;
DROP INDEX audit_log_lookup;
