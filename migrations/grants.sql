-- The application's role gets exactly the privileges the service needs, and
-- no other: it owns nothing, so it can grant itself nothing, disable no
-- trigger and create no database. Applied after every migration, with
-- APP_ROLE replaced by the role's quoted name.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM APP_ROLE;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM APP_ROLE;
GRANT USAGE ON SCHEMA public TO APP_ROLE;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO APP_ROLE;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO APP_ROLE;
GRANT INSERT ON elections, voter_groups, voters, voter_credentials, ballots, spoiled_ballots, officials,
    election_keys, trustees, tallies, partial_decryptions,
    audit_entries, audit_log, audit_hashes, audit_checkpoints, audit_cosignatures, witness_policies TO APP_ROLE;
-- An election moves through its lifecycle; a draft's witness policy is
-- replaced; a lost credential is replaced; an official is disabled or given
-- a new password. Nothing else is updated.
GRANT UPDATE (status) ON elections TO APP_ROLE;
GRANT UPDATE (policy) ON witness_policies TO APP_ROLE;
GRANT UPDATE (credential) ON voter_credentials TO APP_ROLE;
GRANT UPDATE (password_hash, disabled) ON officials TO APP_ROLE;
-- A draft's roll and credentials are replaced whole; the sequencer removes the
-- entries it has moved into the log (a trigger refuses any other).
GRANT DELETE ON voters, voter_credentials, audit_entries TO APP_ROLE;
