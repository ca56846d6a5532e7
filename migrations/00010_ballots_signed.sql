-- +goose Up

-- A ballot is now made and signed on the voter's device with the voter's
-- credential, and names its public credential P (ballot/FORMAT.md, version
-- 2). One ballot per credential, and only a listed credential: a ballot the
-- credential authority never keyed cannot be stored, and a credential that
-- has cast cannot be replaced (the foreign key refuses the update).
ALTER TABLE ballots ADD COLUMN credential bytea;
ALTER TABLE ballots ADD CONSTRAINT ballots_credential_present
    CHECK (credential IS NOT NULL AND length(credential) = 32) NOT VALID;
ALTER TABLE ballots ADD CONSTRAINT ballots_one_per_credential UNIQUE (election_id, credential);
ALTER TABLE ballots ADD CONSTRAINT ballots_credential_listed
    FOREIGN KEY (election_id, credential) REFERENCES voter_credentials (election_id, credential);

-- The idempotency record keeps the SHA-256 of the encrypted ballot sent
-- (its tracking hash), no longer a MAC of the request body.
ALTER TABLE participation RENAME COLUMN request_mac TO ballot_sha256;

-- +goose Down
ALTER TABLE participation RENAME COLUMN ballot_sha256 TO request_mac;
ALTER TABLE ballots DROP CONSTRAINT ballots_credential_listed;
ALTER TABLE ballots DROP CONSTRAINT ballots_one_per_credential;
ALTER TABLE ballots DROP CONSTRAINT ballots_credential_present;
ALTER TABLE ballots DROP COLUMN credential;
