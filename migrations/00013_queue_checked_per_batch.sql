-- +goose Up

-- The sequencer removes a batch of entries from the queue once they are in
-- the log. The check that each removed entry is in the log ran once a row,
-- before its delete: a PL/pgSQL call and a query a ballot, and the row lock
-- PostgreSQL takes (and writes to the WAL) for a BEFORE ROW trigger. It now
-- runs once a statement, after it, over the rows removed: one anti-join a
-- batch. A DELETE that removes anything not yet in the log still fails
-- whole, and changes nothing.
DROP TRIGGER audit_entries_moved_only ON audit_entries;
DROP FUNCTION audit_entries_moved_only;
-- +goose StatementBegin
CREATE FUNCTION audit_entries_moved_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT min(m.id) INTO missing FROM moved m
    WHERE NOT EXISTS (SELECT 1 FROM audit_log l WHERE l.entry_id = m.id);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'audit entries are append-only: entry % is not in the log yet', missing;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_entries_moved_only AFTER DELETE ON audit_entries
    REFERENCING OLD TABLE AS moved FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_moved_only();

-- One index serves both lookups of the queue (an entry by its ref for a
-- receipt, an election's first entry of a kind): one entry fewer a ballot.
DROP INDEX audit_entries_election;
DROP INDEX audit_entries_lookup;
CREATE INDEX audit_entries_lookup ON audit_entries (election_id, kind, ref);

-- +goose Down
DROP INDEX audit_entries_lookup;
CREATE INDEX audit_entries_lookup ON audit_entries (election_id, kind, ref) WHERE ref IS NOT NULL;
CREATE INDEX audit_entries_election ON audit_entries (election_id, id);
DROP TRIGGER audit_entries_moved_only ON audit_entries;
DROP FUNCTION audit_entries_moved_only;
-- +goose StatementBegin
CREATE FUNCTION audit_entries_moved_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_log WHERE entry_id = OLD.id) THEN
        RAISE EXCEPTION 'audit entries are append-only: entry % is not in the log yet', OLD.id;
    END IF;
    RETURN OLD;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_entries_moved_only BEFORE DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_moved_only();
