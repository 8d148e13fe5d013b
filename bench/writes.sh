#!/usr/bin/env bash
# Writes that keep up (issue 15, item 4): creating a draft (`POST /api/v1/accounts/{id}/posts`)
# at 32 connections with wrk, beside the machine's raw single-row commit rate measured in the
# same run on the same disk: SQLite (WAL, synchronous=FULL, one row per transaction, Python's
# sqlite3) and PostgreSQL (pgbench, one-row INSERT per transaction at the same connections).
# The draft rate is measured in rounds on one account until it holds DRAFTS drafts, so a rate
# that falls as the account fills shows.
#
#   bench/writes.sh                  # DRAFTS=6500 CONNECTIONS=32 ROUND=4s
#   SKIP_PG=1 bench/writes.sh        # SQLite only
#   SKIP_SQLITE=1 bench/writes.sh    # PostgreSQL only
#   BIN=target/release/steward bench/writes.sh
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh

THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
ROUND=${ROUND:-4s}
DRAFTS=${DRAFTS:-6500}

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

if [[ -z ${BIN:-} ]]; then
    cargo build --release -p steward >&2
    BIN=$PWD/target/release/steward
fi

WORK=$(mktemp -d -p "${BENCH_DIR:-$PWD/target}")
cleanup() {
    stop_server_and_database
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Raw single-row commits per second on SQLite in $1 (WAL, synchronous=FULL), for 5 s.
sqlite_raw_rate() {
    python3 - "$1/raw.db" <<'PY'
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=FULL")
c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
n, start = 0, time.perf_counter()
while time.perf_counter() - start < 5:
    c.execute("BEGIN IMMEDIATE"); c.execute("INSERT INTO t (v) VALUES (?)", ("x" * 64,)); c.execute("COMMIT")
    n += 1
print(round(n / (time.perf_counter() - start)))
PY
}

# Raw single-row commits per second on PostgreSQL database $1 at $CONNECTIONS connections.
pg_raw_rate() {
    local db=$1
    psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$db" -c "create table raw_commits (id bigserial primary key, v text not null)" >/dev/null
    echo "insert into raw_commits (v) values (repeat('x', 64));" >"$WORK/raw.sql"
    pgbench -n -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -c "$CONNECTIONS" -j "$THREADS" -T 5 -f "$WORK/raw.sql" "$db" 2>/dev/null \
        | awk '/^tps/ { printf "%.0f\n", $3 }'
    psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$db" -c "drop table raw_commits" >/dev/null
}

# bench_backend NAME RAW_RATE [extra env...]
bench_backend() {
    local name=$1 raw=$2
    shift 2
    start_server "$name" STEWARD_LOG=warn "$@"
    local token account
    read -r token _ account < <(bench_owner "$PORT")
    cat >"$WORK/draft.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
wrk.body = '{"text":"A draft written by the write benchmark, long enough to look like a post."}'
LUA
    local url="http://127.0.0.1:$PORT/api/v1/accounts/$account/posts"
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -d '{"text":"warm-up"}' "$url") == 201 ]] || { echo "creating a draft did not answer 201" >&2; exit 1; }
    local count=1 round=0 rates=()
    printf '%-10s %8s %10s %8s %8s\n' "$name" "drafts" "drafts/s" "p50 ms" "p99 ms"
    while (( count < DRAFTS )); do
        round=$((round + 1))
        local line n rps p50 p99
        line=$(wrk_checked "creating drafts" -t"$THREADS" -c"$CONNECTIONS" -d"$ROUND" --latency -s "$WORK/draft.lua" "$url")
        read -r n rps p50 p99 <<<"$line"
        rps=$(printf '%.0f' "$rps")
        count=$((count + n))
        rates+=("$rps")
        printf '%-10s %8d %10.0f %8.2f %8.2f\n' "#$round" "$count" "$rps" "$p50" "$p99"
    done
    echo "RSS after load: $(rss_mib "$SERVER_PID") MiB"
    stop_server
    local first=${rates[0]} last=${rates[-1]} med
    med=$(printf '%s\n' "${rates[@]}" | median)
    awk -v n="$name" -v f="$first" -v l="$last" -v m="$med" -v r="$raw" 'BEGIN {
        printf "-- %s: raw single-row commits %d/s; drafts/s median %.0f = %.0f%% of raw (target >= 30%%); first round %.0f, last %.0f (last/first %.2f)\n",
            n, r, m, 100 * m / r, f, l, l / f }'
    echo
}

echo "wrk -t$THREADS -c$CONNECTIONS, rounds of $ROUND until $DRAFTS drafts, $(nproc) cores"
mkdir -p "$WORK/raw"
if [[ ${SKIP_SQLITE:-0} != 1 ]]; then
    RAW_SQLITE=$(sqlite_raw_rate "$WORK/raw")
    bench_backend sqlite "$RAW_SQLITE"
fi

if [[ $SKIP_PG != 1 ]]; then
    new_pg_database "bench_writes_$$"
    RAW_PG=$(pg_raw_rate "$PG_DB")
    bench_backend postgres "$RAW_PG" STEWARD_DATABASE_URL="$PG_DB_URL"
fi
