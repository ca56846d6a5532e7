-- +goose Up

-- An election's definition and results live in the audit log alone, where
-- they are written once (election.create, election.tallied) and read back by
-- everything that depends on them: the ballot, the cast, the tally, the
-- results pages and the bundle. A copy in a table could be rewritten by
-- whoever holds the database without the log, or the verifier, noticing.
ALTER TABLE elections DROP COLUMN definition;
DROP TABLE results;

-- The title and window stay in the elections table only to list elections;
-- they never change, and the status only moves forward one step at a time.
-- +goose StatementBegin
CREATE FUNCTION elections_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    steps CONSTANT text[] := ARRAY['draft', 'open', 'closed', 'tallied', 'published'];
BEGIN
    IF NEW.id <> OLD.id OR NEW.title <> OLD.title OR NEW.created_at <> OLD.created_at
       OR NEW.opens_at IS DISTINCT FROM OLD.opens_at OR NEW.closes_at IS DISTINCT FROM OLD.closes_at THEN
        RAISE EXCEPTION 'election %: only its status changes', OLD.id;
    END IF;
    IF NEW.status <> OLD.status
       AND array_position(steps, NEW.status) <> array_position(steps, OLD.status) + 1 THEN
        RAISE EXCEPTION 'election %: % cannot become %', OLD.id, OLD.status, NEW.status;
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER elections_forward_only BEFORE UPDATE ON elections
    FOR EACH ROW EXECUTE FUNCTION elections_forward_only();
-- +goose StatementBegin
CREATE FUNCTION elections_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'elections are never deleted';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER elections_kept BEFORE DELETE OR TRUNCATE ON elections
    FOR EACH STATEMENT EXECUTE FUNCTION elections_kept();

-- Lifecycle entries (election.*) are a handful per election among its
-- ballots; reading one back (the definition, the results, the status an
-- export states) takes a few index pages with this index, whatever the
-- election's size. Queries repeat the predicate literally so that the
-- planner can use it for any kind.
CREATE INDEX audit_log_lifecycle ON audit_log (election_id, kind, position) WHERE kind LIKE 'election.%';

-- +goose Down
DROP INDEX audit_log_lifecycle;
DROP TRIGGER elections_kept ON elections;
DROP FUNCTION elections_kept;
DROP TRIGGER elections_forward_only ON elections;
DROP FUNCTION elections_forward_only;
CREATE TABLE results (
    election_id text PRIMARY KEY REFERENCES elections (id),
    body        jsonb NOT NULL
);
ALTER TABLE elections ADD COLUMN definition jsonb;
