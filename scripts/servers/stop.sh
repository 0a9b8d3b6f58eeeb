#!/usr/bin/env bash
# Stop the loopback test servers that start.sh started (all of them if no name is given).
#
#   scripts/servers/stop.sh [NAME...]          # SIGTERM, wait (bounded), then SIGKILL
#   scripts/servers/stop.sh --kill NAME...     # SIGKILL at once (crash simulation in fault tests)
#
# Only processes recorded in .cache/run/NAME.pid (and whose command line matches) are touched.
# Data under .cache/run/NAME/ is kept (Kafka topics and FerretDB data survive a restart);
# remove that directory to start from scratch.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/ensure.sh"

stop_timeout() {
    if [[ -n "${SERVERS_STOP_TIMEOUT:-}" ]]; then echo "$SERVERS_STOP_TIMEOUT"; return; fi
    case "$1" in kafka) echo 45 ;; *) echo 15 ;; esac
}

# PostgreSQL's SIGTERM waits for its clients to leave; SIGINT is its fast shutdown.
stop_signal() { case "$1" in postgres) echo INT ;; *) echo TERM ;; esac; }

stop_one() { # NAME KILL(0|1)
    local name="$1" hard="$2" pid
    pid="$(running_pid "$name")"
    if [[ -z "$pid" ]]; then
        rm -f "$SRV_RUN/$name.pid" "$SRV_RUN/$name.port"
        echo "$name: not running"
        return 0
    fi
    # start.sh runs each server as the leader of its own session/process group: signal the group.
    if [[ "$hard" == 1 ]]; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    else
        local sig; sig="$(stop_signal "$name")"
        kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
    fi
    local deadline=$((SECONDS + $(stop_timeout "$name")))
    while alive "$pid"; do
        if ((SECONDS >= deadline)); then
            [[ "$hard" == 0 ]] || die "$name (pid $pid) survives SIGKILL"
            log "$name (pid $pid) still running after SIGTERM; sending SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            deadline=$((SECONDS + 10))
            hard=1
        fi
        sleep 0.2
    done
    rm -f "$SRV_RUN/$name.pid" "$SRV_RUN/$name.port"
    echo "$name: stopped (pid $pid$([[ "$hard" == 1 ]] && echo ", killed"))"
}

stop_main() {
    local hard=0
    if [[ "${1:-}" == "--kill" ]]; then hard=1; shift; fi
    local -a names=("$@")
    [[ ${#names[@]} -gt 0 ]] || names=("${SRV_ALL[@]}")
    local name
    for name in "${names[@]}"; do srv_port "$name" >/dev/null || exit 2; done
    for name in "${names[@]}"; do stop_one "$name" "$hard"; done
}

stop_main "$@"
