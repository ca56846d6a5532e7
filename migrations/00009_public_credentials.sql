-- +goose Up

-- A voter's credential is now the public key P = x·G that the credential
-- authority derived from the voter's code (ballot/FORMAT.md); the server
-- holds no code and no hash of one. A voter signs in by signing with x.
-- No credential is shared by two voters of an election.
DROP TABLE voter_credentials;
CREATE TABLE voter_credentials (
    election_id text NOT NULL,
    voter_id    text NOT NULL,
    credential  bytea NOT NULL CHECK (length(credential) = 32),
    PRIMARY KEY (election_id, voter_id),
    UNIQUE (election_id, credential),
    FOREIGN KEY (election_id, voter_id) REFERENCES voters (election_id, voter_id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE voter_credentials;
CREATE TABLE voter_credentials (
    election_id text NOT NULL,
    voter_id    text NOT NULL,
    code_hash   bytea NOT NULL CHECK (length(code_hash) = 32),
    PRIMARY KEY (election_id, voter_id),
    FOREIGN KEY (election_id, voter_id) REFERENCES voters (election_id, voter_id) ON DELETE CASCADE
);
