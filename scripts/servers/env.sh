#!/usr/bin/env bash
# shellcheck disable=SC2034  # the SRV_* variables are used by the scripts that source this file
# Addresses of the loopback test servers (see start.sh).
#
#   eval "$(scripts/servers/env.sh)"      # export TEST_REDIS_URL, TEST_MONGODB_URI, ...
#
# Ports can be overridden with TEST_REDIS_PORT, TEST_MONGODB_PORT, TEST_KAFKA_PORT,
# TEST_KAFKA_CONTROLLER_PORT, TEST_S3_PORT (and, for the benchmarks' FerretDB on PostgreSQL,
# BENCH_MONGOPG_PORT and BENCH_POSTGRES_PORT). A TEST_*_URL/URI/BROKER/ENDPOINT already set in
# the environment is printed unchanged.
#
# When sourced (by ensure.sh/start.sh/stop.sh) it only defines the SRV_* variables below and
# prints nothing.
set -euo pipefail

SRV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRV_CACHE="$SRV_ROOT/.cache"
SRV_BIN="$SRV_CACHE/bin"
SRV_RUN="$SRV_CACHE/run"

# The python that runs probe.py (standard library only): any python3, before any venv exists;
# once the table is read, the interpreter that read it (SRV_PYTHON).
srv_python() {
    [[ -n "${SRV_PYTHON:-}" ]] && { echo "$SRV_PYTHON"; return; }
    command -v python3 || command -v python3.12 || echo "$SRV_ROOT/.venv/bin/python"
}

# Names, ports (TEST_*_PORT overrides applied) and addresses: one table, scripts/servers/probe.py,
# which tests/servers.py reads too. It sets SRV_PYTHON, SRV_HOST, SRV_ALL, SRV_<NAME>_PORT,
# SRV_KAFKA_CONTROLLER_PORT and the maps SRV_PORTS, SRV_PORT_VARS, SRV_URLS.
if ! _srv_table="$("$(srv_python)" "$SRV_ROOT/scripts/servers/probe.py" shell)"; then
    echo "scripts/servers/probe.py could not read the server table (see above)" >&2
    return 2 2>/dev/null || exit 2
fi
eval "$_srv_table"
unset _srv_table

# Versions (bump here; the caches are keyed on them).
SRV_FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
SRV_KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
SRV_KAFKA_SCALA="2.13"

srv_known() { # NAME -> 0 if it is a server of the table, else a message and 2
    [[ -n "${SRV_PORTS[$1]+set}" ]] && return 0
    echo "unknown server '$1' (expected: ${SRV_ALL[*]})" >&2
    return 2
}

srv_port() { srv_known "$1" && echo "${SRV_PORTS[$1]}"; }

srv_port_var() { srv_known "$1" && echo "${SRV_PORT_VARS[$1]}"; }

srv_url() { srv_known "$1" && echo "${SRV_URLS[$1]}"; }

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "export TEST_REDIS_URL=${TEST_REDIS_URL:-$(srv_url redis)}"
    echo "export TEST_MONGODB_URI=${TEST_MONGODB_URI:-$(srv_url mongo)}"
    echo "export TEST_KAFKA_BROKER=${TEST_KAFKA_BROKER:-$(srv_url kafka)}"
    echo "export TEST_S3_ENDPOINT=${TEST_S3_ENDPOINT:-$(srv_url s3)}"
fi
