-- +goose Up

-- audit_entries is where every action appends, in its own transaction. The
-- sequencer moves entries from there into audit_log, in batches, giving each
-- its position and chain hash; an entry leaves audit_entries only once its
-- record is in the log.
CREATE TABLE audit_log (
    position    bigint PRIMARY KEY CHECK (position >= 0),
    entry_id    bigint NOT NULL UNIQUE,
    election_id text,
    kind        text NOT NULL,
    ref         text,
    -- The record: "PVL1" ‖ position ‖ previous chain hash ‖ entry body.
    record      bytea NOT NULL
);
CREATE INDEX audit_log_election ON audit_log (election_id, position);
CREATE INDEX audit_log_ref ON audit_log (ref) WHERE ref IS NOT NULL;

-- The RFC 6962 tree's stored hashes (golang.org/x/mod/sumdb/tlog numbering).
CREATE TABLE audit_hashes (
    idx  bigint PRIMARY KEY CHECK (idx >= 0),
    hash bytea NOT NULL CHECK (length(hash) = 32)
);

-- Signed checkpoints, one per sequenced batch.
CREATE TABLE audit_checkpoints (
    size       bigint PRIMARY KEY CHECK (size > 0),
    signed     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_hashes_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- A queued entry may be deleted only once the log holds its record.
DROP TRIGGER audit_entries_append_only ON audit_entries;
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();
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

-- Besides the triggers, the application's role gives up the privileges to
-- change the log at all (an owner may revoke its own privileges): changing a
-- record would take a deliberate GRANT first, and the triggers still refuse.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_hashes, audit_checkpoints FROM CURRENT_USER;
REVOKE UPDATE, TRUNCATE ON audit_entries FROM CURRENT_USER;

-- +goose Down
GRANT UPDATE, DELETE, TRUNCATE ON audit_log, audit_hashes, audit_checkpoints TO CURRENT_USER;
GRANT UPDATE, TRUNCATE ON audit_entries TO CURRENT_USER;
DROP TRIGGER audit_entries_moved_only ON audit_entries;
DROP FUNCTION audit_entries_moved_only;
DROP TRIGGER audit_entries_append_only ON audit_entries;
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();
DROP TABLE audit_checkpoints;
DROP TABLE audit_hashes;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only;
