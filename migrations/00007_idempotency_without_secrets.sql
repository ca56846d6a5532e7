-- +goose Up

-- A cast's idempotency record was the raw Idempotency-Key and an HMAC of the
-- request body under a key derived from the server's pepper. A request body
-- with selections has only a few dozen possible values, so whoever held the
-- database and the secrets directory could hash each and read every vote.
-- Now the record is SHA-256 of the key, which only the client holds, and an
-- HMAC of the body keyed by the key itself: there is nothing to try bodies
-- against. Records made the old way cannot be converted; they are replaced
-- by random bytes (a retry of such a cast gets "another request body").
ALTER TABLE participation ADD COLUMN idempotency_key_hash bytea;
UPDATE participation SET idempotency_key_hash = sha256(convert_to(idempotency_key, 'UTF8')),
    request_hash = sha256(convert_to(gen_random_uuid()::text, 'UTF8'));
ALTER TABLE participation ALTER COLUMN idempotency_key_hash SET NOT NULL,
    ADD CHECK (length(idempotency_key_hash) = 32),
    DROP COLUMN idempotency_key;
ALTER TABLE participation RENAME COLUMN request_hash TO request_mac;

-- +goose Down
ALTER TABLE participation RENAME COLUMN request_mac TO request_hash;
ALTER TABLE participation ADD COLUMN idempotency_key text;
UPDATE participation SET idempotency_key = encode(idempotency_key_hash, 'hex');
ALTER TABLE participation ALTER COLUMN idempotency_key SET NOT NULL, DROP COLUMN idempotency_key_hash;
