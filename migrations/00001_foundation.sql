-- +goose Up

-- An election and its definition. The definition (questions, candidates, groups)
-- is stored as the validated JSON document it was created from; it never changes
-- once the election leaves draft.
CREATE TABLE elections (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    title       text NOT NULL,
    status      text NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'open', 'closed', 'tallied', 'published')),
    opens_at    timestamptz,
    closes_at   timestamptz,
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (opens_at IS NULL OR closes_at IS NULL OR opens_at < closes_at)
);

-- Voter groups exist as rows so that the roll can reference them.
CREATE TABLE voter_groups (
    election_id text NOT NULL REFERENCES elections (id),
    id          text NOT NULL,
    PRIMARY KEY (election_id, id)
);

CREATE TABLE voters (
    election_id text NOT NULL,
    voter_id    text NOT NULL,
    group_id    text NOT NULL,
    region      text NOT NULL,
    -- The voter's name in the public audit log: HMAC-SHA256 under the
    -- election's pseudonym key, which only the server holds.
    pseudonym   bytea NOT NULL CHECK (length(pseudonym) = 32),
    PRIMARY KEY (election_id, voter_id),
    UNIQUE (election_id, pseudonym),
    FOREIGN KEY (election_id, group_id) REFERENCES voter_groups (election_id, id)
);

-- A voter's sign-in code, kept only as HMAC-SHA256 under the server's pepper.
CREATE TABLE voter_credentials (
    election_id text NOT NULL,
    voter_id    text NOT NULL,
    code_hash   bytea NOT NULL CHECK (length(code_hash) = 32),
    PRIMARY KEY (election_id, voter_id),
    FOREIGN KEY (election_id, voter_id) REFERENCES voters (election_id, voter_id) ON DELETE CASCADE
);

-- One row per voter who has cast a ballot. Its primary key is the rule "one
-- ballot per voter". It also holds the idempotency record of the cast: the
-- Idempotency-Key, an HMAC of the request body under a server secret (a plain
-- hash of a body with selections would reveal them), and the exact response.
CREATE TABLE participation (
    election_id     text NOT NULL,
    voter_id        text NOT NULL,
    idempotency_key text NOT NULL,
    request_hash    bytea NOT NULL CHECK (length(request_hash) = 32),
    response        bytea NOT NULL,
    PRIMARY KEY (election_id, voter_id),
    FOREIGN KEY (election_id, voter_id) REFERENCES voters (election_id, voter_id)
);

-- Ballots carry no voter column, no timestamp and no sequential id: nothing in
-- this table links a ballot to a voter or orders ballots by time. The content
-- is the encrypted ballot with its proofs; the tracking code is its SHA-256.
-- The voter's group is kept because results are counted per group.
CREATE TABLE ballots (
    election_id   text NOT NULL REFERENCES elections (id),
    tracking_code bytea NOT NULL CHECK (length(tracking_code) = 32),
    group_id      text NOT NULL,
    content       bytea NOT NULL,
    PRIMARY KEY (election_id, tracking_code),
    FOREIGN KEY (election_id, group_id) REFERENCES voter_groups (election_id, id)
);

CREATE TABLE officials (
    username      text PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'official', 'auditor')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The audit log. Entries are encoded once, when appended, and stored as-is.
CREATE TABLE audit_entries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    election_id text,
    kind        text NOT NULL,
    -- What the entry is about, for lookups (a ballot's tracking code).
    ref         text,
    body        bytea NOT NULL
);
CREATE INDEX audit_entries_election ON audit_entries (election_id, id);

-- +goose StatementBegin
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_entries_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();

-- +goose Down
DROP TABLE audit_entries;
DROP FUNCTION audit_entries_append_only;
DROP TABLE officials;
DROP TABLE ballots;
DROP TABLE participation;
DROP TABLE voter_credentials;
DROP TABLE voters;
DROP TABLE voter_groups;
DROP TABLE elections;
