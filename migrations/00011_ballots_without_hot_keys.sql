-- +goose Up

-- Every cast's foreign-key checks locked the election's row and its group's
-- row (FOR KEY SHARE) in every concurrent transaction: a handful of rows
-- that every cast shares, so PostgreSQL had to make a multixact for nearly
-- every ballot. A ballot's credential must be listed (ballots_credential_listed,
-- a row per voter, which implies the election); its group is the voter's,
-- read from the voter's row in the same cast. These two keys go.
ALTER TABLE ballots DROP CONSTRAINT ballots_election_id_fkey;
ALTER TABLE ballots DROP CONSTRAINT ballots_election_id_group_id_fkey;

-- +goose Down
ALTER TABLE ballots ADD CONSTRAINT ballots_election_id_fkey FOREIGN KEY (election_id) REFERENCES elections (id);
ALTER TABLE ballots ADD CONSTRAINT ballots_election_id_group_id_fkey
    FOREIGN KEY (election_id, group_id) REFERENCES voter_groups (election_id, id);
