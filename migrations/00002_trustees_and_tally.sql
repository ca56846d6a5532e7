-- +goose Up

-- The public outcome of an election's key ceremony. The secret key is never
-- stored anywhere; each trustee holds a share of it in their own file.
CREATE TABLE election_keys (
    election_id text PRIMARY KEY REFERENCES elections (id),
    threshold   int NOT NULL CHECK (threshold >= 1),
    public_key  bytea NOT NULL CHECK (length(public_key) = 32),
    -- Feldman commitments C_0 … C_{threshold-1}, 32 bytes each.
    commitments bytea NOT NULL CHECK (length(commitments) = 32 * threshold)
);

CREATE TABLE trustees (
    election_id text NOT NULL REFERENCES election_keys (election_id),
    trustee     int NOT NULL CHECK (trustee >= 1),
    public_key  bytea NOT NULL CHECK (length(public_key) = 32),
    PRIMARY KEY (election_id, trustee)
);

-- The encrypted sums per question, candidate and group, made once after the
-- election closes.
CREATE TABLE tallies (
    election_id text PRIMARY KEY REFERENCES elections (id),
    ballots     int NOT NULL,
    sums        bytea NOT NULL
);

-- Each trustee's partial decryption of the sums, with its proof.
CREATE TABLE partial_decryptions (
    election_id text NOT NULL REFERENCES tallies (election_id),
    trustee     int NOT NULL,
    shares      bytea NOT NULL,
    proof       bytea NOT NULL,
    PRIMARY KEY (election_id, trustee),
    FOREIGN KEY (election_id, trustee) REFERENCES trustees (election_id, trustee)
);

-- The decrypted counts and percentages, per group and combined.
CREATE TABLE results (
    election_id text PRIMARY KEY REFERENCES elections (id),
    body        jsonb NOT NULL
);

-- +goose Down
DROP TABLE results;
DROP TABLE partial_decryptions;
DROP TABLE tallies;
DROP TABLE trustees;
DROP TABLE election_keys;
