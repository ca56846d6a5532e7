-- +goose Up

-- An election's witness policy (audit/LOG.md, `witnesses.policy`): which
-- witnesses cosign the log's checkpoints, where to push to them, and how
-- many cosignatures make a checkpoint count. The log entry is the record;
-- this row is where the service reads it to push and to answer receipts.
CREATE TABLE witness_policies (
    election_id text  PRIMARY KEY REFERENCES elections (id),
    policy      bytea NOT NULL
);

-- Cosignatures the witnesses returned (C2SP tlog-cosignature), each a note
-- signature line over the checkpoint of that size, by the witness whose
-- verifier key is `witness`. Append-only, as the checkpoints are. (No
-- foreign key to audit_checkpoints: its check would need a privilege on the
-- checkpoints that no role has, since they are never updated.)
CREATE TABLE audit_cosignatures (
    witness   text        NOT NULL,
    size      bigint      NOT NULL,
    signature text        NOT NULL,
    cosigned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (witness, size)
);
CREATE INDEX audit_cosignatures_size ON audit_cosignatures (size);

CREATE TRIGGER audit_cosignatures_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_cosignatures FROM CURRENT_USER;

-- +goose Down
DROP TABLE audit_cosignatures;
DROP TABLE witness_policies;
