#!/bin/sh
# Run once by the PostgreSQL image when its data directory is new (compose.yaml): the application's login role.
# The tables belong to the owner (POSTGRES_USER), who runs the migrations; `flask db upgrade` then grants this
# role rows only (fund/dbroles.py).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v app_password="$FUND_APP_PASSWORD" <<'SQL'
CREATE ROLE fund_app LOGIN PASSWORD :'app_password';
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO fund_app;
SQL
