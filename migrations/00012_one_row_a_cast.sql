-- +goose Up

-- A cast is one row: the ballot, keyed by the credential that signed it, and
-- the voter's idempotency record beside it (SHA-256 of the Idempotency-Key;
-- the ballot's SHA-256 is its tracking code; the receipt sent). The voter is
-- the credential's, through voter_credentials, so the primary key
-- (election, credential) is both rules at once: one ballot per credential,
-- and, as a credential is one voter's and cannot be replaced once it has
-- voted (ballots_credential_listed refuses the update), one per voter.
-- Participation's row, its primary key and its foreign key to the voter's
-- row were a second insert, two more index entries and a row lock in every
-- cast; the ballot's own key on its tracking code was a third entry, and
-- nothing looks a ballot up by it.
ALTER TABLE ballots
    ADD COLUMN idempotency_key_hash bytea CHECK (length(idempotency_key_hash) = 32),
    ADD COLUMN response bytea;
UPDATE ballots b SET idempotency_key_hash = p.idempotency_key_hash, response = p.response
FROM participation p JOIN voter_credentials c USING (election_id, voter_id)
WHERE b.election_id = c.election_id AND b.credential = c.credential;
ALTER TABLE ballots
    ALTER COLUMN idempotency_key_hash SET NOT NULL,
    ALTER COLUMN response SET NOT NULL,
    ALTER COLUMN credential SET NOT NULL,
    ADD CONSTRAINT ballots_credential_size CHECK (length(credential) = 32),
    DROP CONSTRAINT ballots_credential_present,
    DROP CONSTRAINT ballots_pkey,
    DROP CONSTRAINT ballots_one_per_credential,
    ADD CONSTRAINT ballots_pkey PRIMARY KEY (election_id, credential);
DROP TABLE participation;

-- +goose Down
CREATE TABLE participation (
    election_id          text NOT NULL,
    voter_id             text NOT NULL,
    request_mac          bytea NOT NULL CONSTRAINT participation_request_hash_check CHECK (length(request_mac) = 32),
    response             bytea NOT NULL,
    idempotency_key_hash bytea NOT NULL CHECK (length(idempotency_key_hash) = 32),
    PRIMARY KEY (election_id, voter_id),
    FOREIGN KEY (election_id, voter_id) REFERENCES voters (election_id, voter_id)
);
INSERT INTO participation (election_id, voter_id, request_mac, response, idempotency_key_hash)
SELECT b.election_id, c.voter_id, b.tracking_code, b.response, b.idempotency_key_hash
FROM ballots b JOIN voter_credentials c USING (election_id, credential);
ALTER TABLE participation RENAME COLUMN request_mac TO ballot_sha256;
ALTER TABLE ballots
    DROP CONSTRAINT ballots_pkey,
    ADD CONSTRAINT ballots_one_per_credential UNIQUE (election_id, credential),
    ADD CONSTRAINT ballots_pkey PRIMARY KEY (election_id, tracking_code),
    ADD CONSTRAINT ballots_credential_present CHECK (credential IS NOT NULL AND length(credential) = 32) NOT VALID,
    DROP CONSTRAINT ballots_credential_size,
    ALTER COLUMN credential DROP NOT NULL,
    DROP COLUMN response,
    DROP COLUMN idempotency_key_hash;
