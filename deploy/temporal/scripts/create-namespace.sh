#!/bin/sh
# One-shot (service temporal-create-namespace): once the Temporal frontend answers, register
# OneTrip's namespace (if missing) and its search attributes. Idempotent; runs on every
# `docker compose up`, before any worker or API replica starts.
#
# The worker registers the same search attributes at start-up (worker/temporal.py); doing it
# here first means replicas starting together never race to add them. The list must match
# workflows/search.py (tests/test_deploy.py checks it).
set -eu

: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${RETENTION:?}"

# Hand the CLI an IP address rather than the service name: name resolution inside its gRPC
# client has been reported to time out on compose networks.
host=${TEMPORAL_ADDRESS%:*}
port=${TEMPORAL_ADDRESS##*:}
ip=$(getent hosts "$host" | awk 'NR == 1 { print $1 }' || true)
case "$ip" in
    "") address=$TEMPORAL_ADDRESS ;;
    *:*) address="[$ip]:$port" ;;
    *) address="$ip:$port" ;;
esac

retry() {
    attempt=0
    until "$@"; do
        attempt=$((attempt + 1))
        if [ "$attempt" -ge 60 ]; then
            echo "gave up after $attempt attempts: $*" >&2
            return 1
        fi
        sleep 2
    done
}

ensure_namespace() {
    temporal operator namespace describe --address "$address" --namespace "$NAMESPACE" \
        >/dev/null 2>&1 ||
        temporal operator namespace create --address "$address" --namespace "$NAMESPACE" \
            --retention "$RETENTION"
}

echo "waiting for the Temporal frontend at $TEMPORAL_ADDRESS ($address)"
retry temporal operator cluster health --address "$address"
retry ensure_namespace
# A new namespace reaches every server role within seconds; the retries cover that window.
retry temporal operator search-attribute create --address "$address" --namespace "$NAMESPACE" \
    --name OneTripProcedure --type Keyword \
    --name OneTripDepartments --type KeywordList \
    --name OneTripState --type Keyword \
    --name OneTripDeadline --type Datetime
echo "namespace $NAMESPACE is ready (retention $RETENTION)"
