#!/bin/sh
# Run once by the postgres image when it initialises its data directory: the
# schema's owner, which runs the migrations and nothing else, and the
# application's role, which owns nothing (the migrations grant it exactly
# what the service needs).
set -eu
: "${PRIMARYVOTE_OWNER_PASSWORD:?set PRIMARYVOTE_OWNER_PASSWORD}"
: "${PRIMARYVOTE_APP_PASSWORD:?set PRIMARYVOTE_APP_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
	-v ownerpw="$PRIMARYVOTE_OWNER_PASSWORD" -v apppw="$PRIMARYVOTE_APP_PASSWORD" <<'SQL'
CREATE ROLE primaryvote_owner LOGIN PASSWORD :'ownerpw';
CREATE ROLE primaryvote LOGIN PASSWORD :'apppw';
CREATE DATABASE primaryvote OWNER primaryvote_owner;
SQL
