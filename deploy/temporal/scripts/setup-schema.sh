#!/bin/sh
# One-shot (service temporal-admin-tools): create Temporal's two PostgreSQL databases if they
# are missing and bring their schemas to the version shipped in this admin-tools image.
# Every step is idempotent: `create` ignores an existing database, `setup-schema -v 0.0`
# leaves a newer schema alone, `update-schema` applies only the versions not yet applied.
# So the job runs on every `docker compose up`, and after an image upgrade it is what
# migrates Temporal's schema before the new server starts.
#
# Connection: SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD from the environment (read by
# temporal-sql-tool itself, so the password never appears on a command line).
set -eu

: "${SQL_HOST:?}" "${SQL_PORT:?}" "${SQL_USER:?}" "${SQL_PASSWORD:?}"
SCHEMA=/etc/temporal/schema/postgresql/v12

sql() {
    temporal-sql-tool --plugin postgres12 --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" "$@"
}

# The database may accept connections a moment after its health check first passes.
attempt=0
until sql --db temporal create-database; do
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 30 ]; then
        echo "PostgreSQL at $SQL_HOST:$SQL_PORT did not accept the temporal role" >&2
        exit 1
    fi
    sleep 2
done

sql --db temporal setup-schema -v 0.0
sql --db temporal update-schema -d "$SCHEMA/temporal/versioned"

sql --db temporal_visibility create-database
sql --db temporal_visibility setup-schema -v 0.0
sql --db temporal_visibility update-schema -d "$SCHEMA/visibility/versioned"

echo "Temporal schemas are up to date (temporal, temporal_visibility)"
