#!/usr/bin/env bash
# shellcheck disable=SC2034  # the SRV_* variables are used by the scripts that source this file
# Addresses of the loopback test servers (see start.sh).
#
#   eval "$(scripts/servers/env.sh)"      # export TEST_REDIS_URL, TEST_MONGODB_URI, ...
#
# Ports can be overridden with TEST_REDIS_PORT, TEST_MONGODB_PORT, TEST_KAFKA_PORT,
# TEST_KAFKA_CONTROLLER_PORT, TEST_S3_PORT. A TEST_*_URL/URI/BROKER/ENDPOINT already set in the
# environment is printed unchanged.
#
# When sourced (by ensure.sh/start.sh/stop.sh) it only defines the SRV_* variables below and
# prints nothing.
set -euo pipefail

SRV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRV_CACHE="$SRV_ROOT/.cache"
SRV_BIN="$SRV_CACHE/bin"
SRV_RUN="$SRV_CACHE/run"
SRV_HOST=127.0.0.1

SRV_REDIS_PORT="${TEST_REDIS_PORT:-16379}"
SRV_MONGO_PORT="${TEST_MONGODB_PORT:-27027}"
SRV_KAFKA_PORT="${TEST_KAFKA_PORT:-19092}"
SRV_KAFKA_CONTROLLER_PORT="${TEST_KAFKA_CONTROLLER_PORT:-19093}"
SRV_S3_PORT="${TEST_S3_PORT:-15000}"

# Versions (bump here; the caches are keyed on them).
SRV_FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
SRV_KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
SRV_KAFKA_SCALA="2.13"

SRV_ALL=(redis mongo kafka s3)

srv_port() {
    case "$1" in
        redis) echo "$SRV_REDIS_PORT" ;;
        mongo) echo "$SRV_MONGO_PORT" ;;
        kafka) echo "$SRV_KAFKA_PORT" ;;
        s3) echo "$SRV_S3_PORT" ;;
        *) echo "unknown server '$1' (expected: ${SRV_ALL[*]})" >&2; return 2 ;;
    esac
}

srv_port_var() {
    case "$1" in
        redis) echo TEST_REDIS_PORT ;;
        mongo) echo TEST_MONGODB_PORT ;;
        kafka) echo TEST_KAFKA_PORT ;;
        s3) echo TEST_S3_PORT ;;
    esac
}

srv_url() {
    case "$1" in
        redis) echo "redis://$SRV_HOST:$SRV_REDIS_PORT/0" ;;
        mongo) echo "mongodb://$SRV_HOST:$SRV_MONGO_PORT/" ;;
        kafka) echo "$SRV_HOST:$SRV_KAFKA_PORT" ;;
        s3) echo "http://$SRV_HOST:$SRV_S3_PORT" ;;
        *) echo "unknown server '$1' (expected: ${SRV_ALL[*]})" >&2; return 2 ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "export TEST_REDIS_URL=${TEST_REDIS_URL:-$(srv_url redis)}"
    echo "export TEST_MONGODB_URI=${TEST_MONGODB_URI:-$(srv_url mongo)}"
    echo "export TEST_KAFKA_BROKER=${TEST_KAFKA_BROKER:-$(srv_url kafka)}"
    echo "export TEST_S3_ENDPOINT=${TEST_S3_ENDPOINT:-$(srv_url s3)}"
fi
