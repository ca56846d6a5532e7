-- +goose Up

-- An official's account can be disabled (and enabled again). Every official
-- request checks the account, so disabling one ends its sessions at once.
ALTER TABLE officials ADD COLUMN disabled boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE officials DROP COLUMN disabled;
