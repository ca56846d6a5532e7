-- +goose Up

-- The check that every entry the sequencer removes from the queue is in the
-- log (migration 00013) joined the removed rows to the log. Not knowing
-- how few rows a batch removes, PostgreSQL hashed the whole log for it: a
-- scan that grew with every record, to tens of milliseconds a batch at a
-- primary's size. Each removed entry is now looked up on its own in the
-- log's entry_id index, so a batch costs the same at any size. A DELETE
-- that removes anything not yet in the log still fails whole.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_entries_moved_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT m.id INTO missing FROM moved m
    LEFT JOIN LATERAL (SELECT true AS found FROM audit_log l WHERE l.entry_id = m.id LIMIT 1) f ON true
    WHERE f.found IS NULL
    ORDER BY m.id LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'audit entries are append-only: entry % is not in the log yet', missing;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_entries_moved_only() RETURNS trigger LANGUAGE plpgsql AS $$
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
