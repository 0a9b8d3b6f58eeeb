#!/usr/bin/env bash
# Start loopback test servers in the background (installing them first, see ensure.sh).
#
#   scripts/servers/start.sh redis mongo kafka s3     # default: all four
#   scripts/servers/start.sh mongopg                  # for benchmarks: FerretDB on PostgreSQL
#
# BENCH_POSTGRES_OPTIONS adds `-c name=value` settings to that PostgreSQL when it starts (say
# "-c shared_preload_libraries=pg_stat_statements" to see which statements a benchmark runs).
#
# Idempotent: a server that already answers on its port is left alone. Waits until each server
# really answers its own protocol (bounded; SERVERS_START_TIMEOUT seconds overrides the default),
# and on failure prints the tail of its log. PIDs, logs and data live under .cache/run/:
#   .cache/run/NAME.pid  .cache/run/NAME.log  .cache/run/NAME/ (data, generated configs)
# Kafka and FerretDB keep their data across restarts; redis and moto keep nothing.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/ensure.sh"

# ------------------------------------------------------------------ probes
probe() { # NAME -> 0 if the server answers its own protocol (scripts/servers/probe.py)
    "$(srv_python)" "$SRV_ROOT/scripts/servers/probe.py" check "$1" "$SRV_HOST" "$(srv_port "$1")" \
        >/dev/null 2>&1
}

port_open() { # PORT -> 0 if something accepts TCP connections on it
    (exec 3<>"/dev/tcp/$SRV_HOST/$1") 2>/dev/null
}

# ------------------------------------------------------------------ processes
# launch NAME CMD... : run CMD detached (own session, stdin closed, output to the log, the
# start lock fd closed) and record its PID.
launch() {
    local name="$1"; shift
    local log pidf; log="$(log_file "$name")"; pidf="$(pid_file "$name")"
    rm -f "$pidf"
    srv_port "$name" >"$SRV_RUN/$name.port"
    echo "=== $(date '+%F %T') starting: $*" >>"$log"
    # shellcheck disable=SC2016  # $$ and $@ expand in the child bash
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$@" </dev/null >>"$log" 2>&1 9>&- &
    local i
    for ((i = 0; i < 50; i++)); do [[ -s "$pidf" ]] && return 0; sleep 0.1; done
    die "$name: no pid file after launch"
}

start_timeout() {
    if [[ -n "${SERVERS_START_TIMEOUT:-}" ]]; then echo "$SERVERS_START_TIMEOUT"; return; fi
    case "$1" in kafka) echo 120 ;; *) echo 45 ;; esac
}

log_tail() { # NAME: the current run's part of the log (since the last "=== ... starting" line)
    echo "----- last lines of .cache/run/$1.log -----" >&2
    awk '/^=== .* starting: /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$(log_file "$1")" \
        2>/dev/null | tail -n 40 | cut -c1-400 >&2 || true
}

wait_ready() { # NAME
    local name="$1" timeout pid deadline
    timeout="$(start_timeout "$name")"
    deadline=$((SECONDS + timeout))
    while ! probe "$name"; do
        pid="$(running_pid "$name")"
        if [[ -z "$pid" ]]; then
            log_tail "$name"
            die "$name exited during start-up (log: .cache/run/$name.log)"
        fi
        if ((SECONDS >= deadline)); then
            log_tail "$name"
            die "$name (pid $pid) did not answer on $SRV_HOST:$(srv_port "$name") within ${timeout} s" \
                "(log: .cache/run/$name.log; it is left running, stop it with scripts/servers/stop.sh $name)"
        fi
        sleep 0.3
    done
}

# ------------------------------------------------------------------ per server
start_redis() {
    local dir="$SRV_RUN/redis"
    mkdir -p "$dir"
    launch redis redis-server --bind "$SRV_HOST" --port "$SRV_REDIS_PORT" --protected-mode yes \
        --save '' --appendonly no --dir "$dir" --daemonize no --logfile '' --loglevel warning \
        --databases 64
}

start_mongo() {
    local dir="$SRV_RUN/mongo"
    if [[ "$(mongo_impl)" == mongod ]]; then
        mkdir -p "$dir/mongod"
        launch mongo mongod --bind_ip "$SRV_HOST" --port "$SRV_MONGO_PORT" --dbpath "$dir/mongod" \
            --quiet
        return
    fi
    mkdir -p "$dir/sqlite" "$dir/state"
    launch mongo env FERRETDB_TELEMETRY=disable DO_NOT_TRACK=1 "$SRV_BIN/ferretdb" \
        --listen-addr="$SRV_HOST:$SRV_MONGO_PORT" --handler=sqlite --sqlite-url="file:$dir/sqlite/" \
        --state-dir="$dir/state" --telemetry=disable --debug-addr=- --log-level=warn
}

start_postgres() {
    local dir="$SRV_RUN/postgres" bin
    bin="$(pg_bindir)"
    mkdir -p "$dir"
    # PostgreSQL refuses to run as root: as root, it runs as the `postgres` user of Debian's
    # package (setpriv execs, so the recorded PID is the server's).
    local -a as_pg=()
    if [[ "$(id -u)" == 0 ]]; then
        as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups)
        chown postgres "$dir"
    fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        log "initdb into .cache/run/postgres/data (first run only)..."
        "${as_pg[@]}" "$bin/initdb" -D "$dir/data" -A trust -U ferret -E UTF8 --no-sync \
            >>"$(log_file postgres)" 2>&1 || { log_tail postgres; die "initdb failed"; }
    fi
    # Loopback TCP only (no Unix socket: its directory would need the postgres user's rights).
    # synchronous_commit=off: a commit does not wait for its own fsync, as a managed database's
    # group commit does not make each client wait for one; a crash loses only the last commits.
    launch postgres "${as_pg[@]}" "$bin/postgres" -D "$dir/data" -p "$SRV_POSTGRES_PORT" \
        -c listen_addresses="$SRV_HOST" -c unix_socket_directories= -c synchronous_commit=off \
        -c max_connections=200 -c shared_buffers=128MB ${BENCH_POSTGRES_OPTIONS:-}  # split: -c pairs
}

start_mongopg() {
    local dir="$SRV_RUN/mongopg"
    mkdir -p "$dir/state"
    launch mongopg env FERRETDB_TELEMETRY=disable DO_NOT_TRACK=1 "$SRV_BIN/ferretdb" \
        --listen-addr="$SRV_HOST:$SRV_MONGOPG_PORT" --handler=postgresql \
        --postgresql-url="$(srv_url postgres)" \
        --state-dir="$dir/state" --telemetry=disable --debug-addr=- --log-level=warn
}

kafka_config() { # DIR -> writes server.properties and log4j.properties
    local dir="$1"
    cat >"$dir/server.properties" <<EOF
# generated by scripts/servers/start.sh: single-node KRaft broker+controller for tests
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$SRV_HOST:$SRV_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$SRV_HOST:$SRV_KAFKA_PORT,CONTROLLER://$SRV_HOST:$SRV_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$SRV_HOST:$SRV_KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
# quick recovery after a SIGKILL in fault tests (the restarted broker waits for its old session)
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=3000
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=16777216
log.retention.check.interval.ms=300000
EOF
    cat >"$dir/log4j.properties" <<'EOF'
# generated by scripts/servers/start.sh: warnings only, plus the start/stop lines
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.Kafka$=INFO
log4j.logger.org.apache.kafka.clients.NetworkClient=ERROR
log4j.logger.state.change.logger=ERROR
EOF
}

kafka_java() { # prints the JVM command prefix
    printf '%s\n' java -Xms128m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -Djava.awt.headless=true -Dlog4j.configuration="file:$SRV_RUN/kafka/log4j.properties" \
        -Dkafka.logs.dir="$SRV_RUN/kafka/logs" -cp "$SRV_CACHE/kafka/libs/*"
}

start_kafka() {
    local dir="$SRV_RUN/kafka"
    mkdir -p "$dir/data" "$dir/logs"
    kafka_config "$dir"
    local -a java; mapfile -t java < <(kafka_java)
    if [[ ! -f "$dir/data/meta.properties" ]]; then
        log "formatting Kafka KRaft storage in .cache/run/kafka/data (first start only, ~5 s)..."
        # Fixed cluster id: a local throw-away cluster. Reformat = rm -rf .cache/run/kafka.
        if ! "${java[@]}" kafka.tools.StorageTool format -t "MkU3OEVBNTcwNTJENDM2Qg" \
            -c "$dir/server.properties" >>"$(log_file kafka)" 2>&1; then
            tail -n 30 "$(log_file kafka)" >&2
            die "kafka storage format failed (log: .cache/run/kafka.log)"
        fi
    fi
    launch kafka "${java[@]}" kafka.Kafka "$dir/server.properties"
}

start_s3() {
    launch s3 "$(s3_python)" -m moto.server -H "$SRV_HOST" -p "$SRV_S3_PORT"
}

# ------------------------------------------------------------------ main
start_one() {
    local name="$1" pid how
    if probe "$name"; then
        pid="$(running_pid "$name")"
        if [[ -n "$pid" ]]; then
            how="already up (pid $pid)"
        else
            # Reused as it is: say so, since a server left by another checkout (whose data
            # directory may be gone) answers the probe but can fail the tests.
            how="already up, NOT started by this checkout: stop it if tests fail oddly"
        fi
    else
        pid="$(running_pid "$name")"
        local running_port
        running_port="$(cat "$SRV_RUN/$name.port" 2>/dev/null || true)"
        if [[ -n "$pid" && -n "$running_port" && "$running_port" != "$(srv_port "$name")" ]]; then
            die "$name is already running on port $running_port (pid $pid), not on" \
                "$(srv_port "$name"): stop it first (scripts/servers/stop.sh $name)"
        fi
        if [[ -n "$pid" ]]; then
            log "$name (pid $pid) is running but not answering yet; waiting..."
        else
            if port_open "$(srv_port "$name")"; then
                die "port $SRV_HOST:$(srv_port "$name") is taken by something that is not a working" \
                    "$name server (set $(srv_port_var "$name") to use another port)"
            fi
            log "starting $name on $SRV_HOST:$(srv_port "$name") (log: .cache/run/$name.log)..."
            "start_$name"
        fi
        local t0=$SECONDS
        wait_ready "$name"
        how="started in $((SECONDS - t0)) s (pid $(running_pid "$name"))"
    fi
    echo "$name: $(srv_url "$name")  [$how]"
}

start_main() {
    local -a names=("$@")
    [[ ${#names[@]} -gt 0 ]] || names=("${SRV_DEFAULT[@]}")
    local name
    for name in "${names[@]}"; do srv_port "$name" >/dev/null || exit 2; done
    # FerretDB on PostgreSQL needs its PostgreSQL first, whatever order it was named in.
    if [[ " ${names[*]} " == *" mongopg "* ]]; then
        local -a rest=()
        for name in "${names[@]}"; do [[ "$name" == postgres ]] || rest+=("$name"); done
        names=(postgres "${rest[@]}")
    fi
    "$(dirname "${BASH_SOURCE[0]}")/ensure.sh" "${names[@]}"
    mkdir -p "$SRV_RUN"
    for name in "${names[@]}"; do
        # one starter at a time per server (parallel test workers)
        (
            flock -w 300 9 || die "timed out waiting for the $name start lock"
            start_one "$name"
        ) 9>"$SRV_RUN/.start-$name.lock"
    done
}

start_main "$@"
