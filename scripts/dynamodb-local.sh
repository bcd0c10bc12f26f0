#!/usr/bin/env bash
# Manage DynamoDB Local (from the npm package amplify-dynamodb-simulator) for tests.
#
# Usage:
#   scripts/dynamodb-local.sh install           # Java >= 17 + DynamoDB Local into the cache (idempotent)
#   scripts/dynamodb-local.sh start             # start in-memory on a free port (picked on 127.0.0.1);
#                                               # prints exactly http://127.0.0.1:PORT on stdout
#   scripts/dynamodb-local.sh stop              # stop what `start` started (no error if not running)
#   scripts/dynamodb-local.sh run -- CMD ARGS   # start, run CMD with AWS_ENDPOINT_URL_DYNAMODB,
#                                               # AWS_REGION and dummy credentials set, always stop,
#                                               # exit with CMD's status; CMD also gets
#                                               # DYNAMODB_LOCAL_PID (benchmarks count its CPU)
#
# Environment:
#   IMAUTH_CACHE                  cache root (default: <repo>/.cache); files go to $IMAUTH_CACHE/dynamodb-local
#   DYNAMODB_LOCAL_START_TIMEOUT  seconds to wait for readiness (default: 60)
#   DYNAMODB_LOCAL_JAVA_OPTS      extra JVM options, e.g. "-Xmx256m"
#
# All messages go to stderr; stdout carries only the endpoint URL (`start`) or CMD's output (`run`).
# `run` uses its own pid/port/log files, so it never touches an instance started with `start`.
# Notes: DynamoDB Local has no flag to pick the bind address; it listens on all interfaces.
# Ctrl-C (SIGINT to the process group) stops `run` at once; a SIGTERM sent to this script
# alone takes effect only when CMD exits (bash defers traps while a foreground command runs).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${IMAUTH_CACHE:-$REPO_ROOT/.cache}/dynamodb-local"
PKG_DIR="$CACHE_DIR/node_modules/amplify-dynamodb-simulator"
EMULATOR_DIR="$PKG_DIR/emulator"
JAR="$EMULATOR_DIR/DynamoDBLocal.jar"
START_TIMEOUT="${DYNAMODB_LOCAL_START_TIMEOUT:-60}"

# Files describing the running instance; `run` points STATE_DIR at a private directory.
STATE_DIR="$CACHE_DIR"
JAVA_BIN=java

log() { echo "dynamodb-local: $*" >&2; }
die() { log "error: $*"; exit 1; }

pid_file()  { echo "$STATE_DIR/dynamodb-local.pid"; }
port_file() { echo "$STATE_DIR/dynamodb-local.port"; }
log_file()  { echo "$STATE_DIR/dynamodb-local.log"; }

# Major version of a java binary ("1.8.0_x" -> 8, "17.0.15" -> 17), empty if unknown.
java_major() {
    local v
    v="$("$1" -version 2>&1 | sed -nE 's/.*version "([^"]+)".*/\1/p' | head -n1)"
    case "$v" in
        1.*) v="${v#1.}" ;;
    esac
    echo "${v%%[._-]*}"
}

ensure_java() {
    local major
    if command -v java >/dev/null 2>&1; then
        major="$(java_major java)"
        if [[ "$major" =~ ^[0-9]+$ ]] && ((major >= 17)); then
            JAVA_BIN=java
            return
        fi
        log "java on PATH is version '${major:-unknown}', need >= 17"
    fi
    local candidate
    for candidate in /usr/lib/jvm/java-17-openjdk-*/bin/java; do
        if [[ -x "$candidate" ]]; then
            JAVA_BIN="$candidate"
            return
        fi
    done
    log "installing openjdk-17-jre-headless (apt-get)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >&2
    major="$(command -v java >/dev/null 2>&1 && java_major java || true)"
    if [[ "$major" =~ ^[0-9]+$ ]] && ((major >= 17)); then
        JAVA_BIN=java
    else
        for candidate in /usr/lib/jvm/java-17-openjdk-*/bin/java; do
            [[ -x "$candidate" ]] && JAVA_BIN="$candidate"
        done
    fi
    [[ -x "$(command -v "$JAVA_BIN")" ]] || die "no usable java >= 17 after install"
}

cmd_install() {
    ensure_java
    if [[ -f "$JAR" ]]; then
        return
    fi
    command -v npm >/dev/null 2>&1 || die "npm is required to install DynamoDB Local"
    mkdir -p "$CACHE_DIR"
    log "installing amplify-dynamodb-simulator into $CACHE_DIR"
    npm install --prefix "$CACHE_DIR" --no-audit --no-fund --loglevel=error \
        amplify-dynamodb-simulator >&2
    [[ -f "$JAR" ]] || die "DynamoDBLocal.jar not found at $JAR after npm install"
    log "installed $("$JAVA_BIN" -jar "$JAR" -version 2>/dev/null | tail -n1 || true)"
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# True if the process in the pid file is alive and is DynamoDB Local.
is_running() {
    local pid
    [[ -f "$(pid_file)" ]] || return 1
    pid="$(cat "$(pid_file)")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    grep -qa DynamoDBLocal "/proc/$pid/cmdline" 2>/dev/null
}

# True once DynamoDB Local answers ListTables on the given port.
answers() {
    curl -s --max-time 2 -X POST "http://127.0.0.1:$1/" \
        -H 'Content-Type: application/x-amz-json-1.0' \
        -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=dummy/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x' \
        -d '{}' 2>/dev/null | grep -q '"TableNames"'
}

cmd_start() {
    cmd_install
    mkdir -p "$STATE_DIR"

    if is_running; then
        local port
        port="$(cat "$(port_file)")"
        if answers "$port"; then
            log "already running (pid $(cat "$(pid_file)"))"
            echo "http://127.0.0.1:$port"
            return
        fi
        cmd_stop
    fi

    local -a args=(-inMemory -disableTelemetry)
    # Which flags this jar supports (-help output cached, it costs ~1 s of JVM startup).
    local help help_file="$CACHE_DIR/DynamoDBLocal.help"
    if [[ ! -s "$help_file" || "$JAR" -nt "$help_file" ]]; then
        (cd "$EMULATOR_DIR" && "$JAVA_BIN" -jar "$JAR" -help >"$help_file" 2>&1) || true
    fi
    help="$(cat "$help_file")"
    grep -q -- '-disableTelemetry' <<<"$help" || args=(-inMemory)
    local host_flag=""
    grep -qE -- '^ *-host ' <<<"$help" && host_flag="-host"

    local port pid logf deadline
    logf="$(log_file)"
    for _ in 1 2 3; do
        port="$(free_port)"
        # C1 only (no C2 compiler): this JVM lives for one test or benchmark run, and C2
        # spent the CPU the functions needed compiling DynamoDB Local's request path; with
        # C1 alone a 600-login spike cost the emulator 1.27 s of CPU instead of 3.1 s
        # (BENCHMARKS.md section 10). DYNAMODB_LOCAL_JAVA_OPTS comes later and can undo it.
        local -a cmd=("$JAVA_BIN" -XX:TieredStopAtLevel=1)
        # shellcheck disable=SC2206 # intentional word splitting of user JVM options
        [[ -n "${DYNAMODB_LOCAL_JAVA_OPTS:-}" ]] && cmd+=(${DYNAMODB_LOCAL_JAVA_OPTS})
        cmd+=("-Djava.library.path=$EMULATOR_DIR/DynamoDBLocal_lib" -jar "$JAR" "${args[@]}" -port "$port")
        [[ -n "$host_flag" ]] && cmd+=("$host_flag" 127.0.0.1)

        # setsid: own process group, so `stop` can kill it and any children together.
        (cd "$EMULATOR_DIR" && exec setsid "${cmd[@]}") >"$logf" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$(pid_file)"
        echo "$port" >"$(port_file)"

        deadline=$((SECONDS + START_TIMEOUT))
        while ((SECONDS < deadline)); do
            if answers "$port"; then
                log "ready on port $port (pid $pid)"
                echo "http://127.0.0.1:$port"
                return
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done

        if kill -0 "$pid" 2>/dev/null; then
            log "not ready after ${START_TIMEOUT}s; log tail ($logf):"
            tail -n 30 "$logf" >&2 || true
            cmd_stop
            exit 1
        fi
        wait "$pid" 2>/dev/null || true
        if grep -qi 'address already in use' "$logf"; then
            log "port $port was taken, retrying"
            continue
        fi
        break
    done
    log "failed to start; log tail ($logf):"
    tail -n 30 "$logf" >&2 || true
    rm -f "$(pid_file)" "$(port_file)"
    exit 1
}

cmd_stop() {
    if is_running; then
        local pid
        pid="$(cat "$(pid_file)")"
        # Whole process group (started via setsid), falling back to the pid itself.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped (pid $pid)"
    fi
    rm -f "$(pid_file)" "$(port_file)"
}

cmd_run() {
    [[ "${1:-}" == "--" ]] && shift
    (($# > 0)) || die "usage: $0 run -- CMD [ARGS...]"

    STATE_DIR="$CACHE_DIR/run.$$"
    trap 'cmd_stop; rm -rf "$STATE_DIR"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    local url status=0
    url="$(cmd_start)"
    export AWS_ENDPOINT_URL_DYNAMODB="$url"
    export AWS_REGION="${AWS_REGION:-us-east-1}"
    export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
    export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
    DYNAMODB_LOCAL_PID="$(cat "$(pid_file)")"
    export DYNAMODB_LOCAL_PID

    "$@" || status=$?
    exit "$status"
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    run) shift; cmd_run "$@" ;;
    *)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
