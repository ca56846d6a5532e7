-- +goose Up

-- Copies of ballots that voters checked instead of casting (ballot/FORMAT.md,
-- "Checking a copy"). The tracking code keeps a checked copy from ever being
-- cast; the entry is what the log gets when the election closes (all the
-- copies together, in tracking-code order). Nothing here names the voter.
CREATE TABLE spoiled_ballots (
    election_id   text  NOT NULL REFERENCES elections (id),
    tracking_code bytea NOT NULL CHECK (length(tracking_code) = 32),
    entry         bytea NOT NULL,
    PRIMARY KEY (election_id, tracking_code)
);

-- +goose Down
DROP TABLE spoiled_ballots;
