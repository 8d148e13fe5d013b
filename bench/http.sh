#!/usr/bin/env bash
# Throughput and latency of authenticated `GET /api/v1/me` and `GET /api/v1/accounts/{id}` (as an
# editor) beside `GET /healthz` (no database) and `GET /readyz` (one `SELECT 1`), with wrk,
# against a release build on 127.0.0.1 only, each as a share of a bare axum server (same axum and
# tokio, `examples/bare_axum.rs`) measured in the same runs. SQLite first, then PostgreSQL (a
# fresh database, dropped afterwards).
#
#   bench/http.sh                     # RUNS=3 THREADS=2 CONNECTIONS=32 DURATION=10s
#   SKIP_PG=1 bench/http.sh           # SQLite only
#   PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432 PG_ADMIN_DB=test bench/http.sh
#   BIN=target/release/steward BARE=target/release/examples/bare_axum bench/http.sh   # already built
#
# Prints one line per wrk run (requests/s, p50, p99) and the medians.
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-3}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10s}

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

if [[ -z ${BIN:-} || -z ${BARE:-} ]]; then
    cargo build --release -p steward --bin steward --example bare_axum >&2
    BIN=${BIN:-$PWD/target/release/steward}
    BARE=${BARE:-$PWD/target/release/examples/bare_axum}
fi

WORK=$(mktemp -d)
BARE_PID=""
cleanup() {
    if [[ -n $BARE_PID ]]; then
        kill "$BARE_PID" 2>/dev/null || true
        wait "$BARE_PID" 2>/dev/null || true
    fi
    stop_server_and_database
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# wrk_run LABEL PATH [wrk args...]: one wrk run; prints "LABEL rps p50_ms p99_ms".
# WRK_PORT overrides the port (the bare axum reference).
wrk_run() {
    local label=$1 path=$2 line n rps p50 p99
    shift 2
    line=$(wrk_checked "on $path" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "http://127.0.0.1:${WRK_PORT:-$PORT}$path")
    read -r n rps p50 p99 <<<"$line"
    printf '%-16s %10.0f %8.2f %8.2f\n' "$label" "$rps" "$p50" "$p99"
}

# As the owner (session token $1) of ACCOUNT ($2): invites an editor who signs up and accepts;
# prints the editor's session token.
editor_setup() {
    local owner=$1 account=$2 api="http://127.0.0.1:$PORT/api/v1" json='Content-Type: application/json'
    local invite editor
    invite=$(curl -sf -H "$json" -H "Authorization: Bearer $owner" \
        -d '{"email":"editor@example.com","role":"editor"}' "$api/accounts/$account/invitations" | jq -er .token)
    curl -sf -o /dev/null -H "$json" \
        -d '{"email":"editor@example.com","password":"bench-passphrase-2026","display_name":"Editor"}' "$api/auth/register"
    editor=$(curl -sf -H "$json" -d '{"email":"editor@example.com","password":"bench-passphrase-2026"}' "$api/auth/login" | jq -er .token)
    curl -sf -o /dev/null -X POST -H "Authorization: Bearer $editor" "$api/invitations/$invite/accept"
    echo "$editor"
}

# bench_backend NAME [extra env...]
bench_backend() {
    local name=$1
    shift
    start_server "$name" "$@"
    local token account editor
    read -r token _ account < <(bench_owner "$PORT")
    local auth="Authorization: Bearer $token"
    editor=$(editor_setup "$token" "$account")
    local editor_auth="Authorization: Bearer $editor"
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "$editor_auth" "http://127.0.0.1:$PORT/api/v1/accounts/$account") == 200 ]] \
        || { echo "GET /api/v1/accounts/{id} did not answer 200 for the editor" >&2; exit 1; }
    # Warm-up (and checks that /me really answers 200 with this token).
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "$auth" "http://127.0.0.1:$PORT/api/v1/me") == 200 ]] \
        || { echo "/api/v1/me did not answer 200" >&2; exit 1; }
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT/healthz" >/dev/null
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -H "$auth" "http://127.0.0.1:$PORT/api/v1/me" >/dev/null

    local results="$WORK/$name.results"
    : >"$results"
    printf '%-16s %10s %8s %8s\n' "$name run" "req/s" "p50 ms" "p99 ms"
    local run
    for run in $(seq 1 "$RUNS"); do
        WRK_PORT=$BARE_PORT wrk_run "bare#$run" / | tee -a "$results"
        wrk_run "healthz#$run" /healthz | tee -a "$results"
        wrk_run "readyz#$run" /readyz | tee -a "$results"
        wrk_run "me#$run" /api/v1/me -H "$auth" | tee -a "$results"
        wrk_run "account#$run" "/api/v1/accounts/$account" -H "$editor_auth" | tee -a "$results"
    done
    echo "RSS after load: $(rss_mib "$SERVER_PID") MiB"
    stop_server

    local what col
    echo "-- $name: medians of $RUNS runs (min..max)"
    for what in bare healthz readyz me account; do
        local line="$what"
        for col in 2 3 4; do
            local vals
            vals=$(awk -v w="$what" -v c="$col" 'index($1, w "#") == 1 { print $c }' "$results")
            line+=" | $(median <<<"$vals") ($(spread <<<"$vals"))"
        done
        echo "$line"
    done
    local bare_rps
    bare_rps=$(awk 'index($1, "bare#") == 1 { print $2 }' "$results" | median)
    for what in healthz readyz me account; do
        local rps
        rps=$(awk -v w="$what" 'index($1, w "#") == 1 { print $2 }' "$results" | median)
        awk -v w="$what" -v m="$rps" -v b="$bare_rps" 'BEGIN { printf "%s = %.0f%% of bare axum\n", w, 100 * m / b }'
    done
    echo "(targets: me >= 50% on SQLite, >= 40% on PostgreSQL; account >= 30% on PostgreSQL)"
    echo
}

BARE_PORT=$(free_port)
"$BARE" "127.0.0.1:$BARE_PORT" >"$WORK/bare.out" 2>&1 &
BARE_PID=$!
for _ in $(seq 1 500); do
    curl -sf -o /dev/null "http://127.0.0.1:$BARE_PORT/" && break
    sleep 0.01
done

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, $RUNS runs, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "columns: req/s | p50 ms | p99 ms"
echo
bench_backend sqlite

if [[ $SKIP_PG != 1 ]]; then
    new_pg_database "bench_http_$$"
    bench_backend postgres STEWARD_DATABASE_URL="$PG_DB_URL"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
