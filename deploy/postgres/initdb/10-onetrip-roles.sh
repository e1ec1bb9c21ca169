#!/bin/sh
# Runs once, when the postgres service initialises an empty data volume
# (/docker-entrypoint-initdb.d). The image may source this file rather than execute it, so it
# neither exits nor changes shell options.
#
# Two login roles, so that neither application can read the other's data:
#   temporal  owns the `temporal` and `temporal_visibility` databases, which the
#             temporal-admin-tools job creates (hence CREATEDB) and migrates;
#   onetrip   owns the `onetrip` database (the store), migrated by `onetrip store migrate`.
# Passwords come from the environment (.env); changing them later needs ALTER ROLE, because
# this script never runs again on an initialised volume.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v temporal_password="${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is not set}" \
    -v store_password="${STORE_DB_PASSWORD:?STORE_DB_PASSWORD is not set}" <<'SQL'
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE ROLE onetrip LOGIN PASSWORD :'store_password';
CREATE DATABASE onetrip OWNER onetrip ENCODING 'UTF8' TEMPLATE template0;
SQL
