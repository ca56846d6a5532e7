-- +goose Up

-- An encrypted ballot is a few kilobytes of random-looking bytes: above
-- PostgreSQL's 2 kB threshold, so every cast paid for a compression attempt
-- that never pays off and a second insert into the TOAST table and its index.
-- Ballots are kept inline in their row (up to a page) and never compressed.
ALTER TABLE ballots ALTER COLUMN content SET STORAGE EXTERNAL;
ALTER TABLE ballots SET (toast_tuple_target = 8160);

-- +goose Down
ALTER TABLE ballots RESET (toast_tuple_target);
ALTER TABLE ballots ALTER COLUMN content SET STORAGE EXTENDED;
