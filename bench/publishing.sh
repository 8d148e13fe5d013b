#!/usr/bin/env bash
# Publishing scheduler benchmarks (issue 5), on SQLite and on PostgreSQL, 127.0.0.1 only:
#  (a) 10,000 approved posts due in the same minute, published through the sandbox: posts/s and
#      how late the last one went out after its due time (target: all within 60 s);
#  (b) CPU used by an idle `steward serve` with 100,000 posts scheduled over the next month
#      (target ≈ 0), from /proc/<pid>/stat (utime + stime) over 60 s.
#
#   bench/publishing.sh                 # POSTS=10000 IDLE_POSTS=100000 IDLE_SECONDS=60
#   SKIP_PG=1 bench/publishing.sh       # SQLite only
#   BIN=target/debug/steward bench/publishing.sh   # skip the release build (say so when reporting)
#
# PostgreSQL: each scenario gets a fresh database `bench_pub_<pid>_<n>` created through
# PG_ADMIN_DB (default `test`) on postgres://postgres@127.0.0.1:5432 and dropped at the end.
#
# The posts are written straight into the database (state `scheduled`, one owner approval each)
# while the server is stopped, then the server is started and left to publish.
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh

POSTS=${POSTS:-10000}
IDLE_POSTS=${IDLE_POSTS:-100000}
IDLE_SECONDS=${IDLE_SECONDS:-60}
SKIP_PG=${SKIP_PG:-0}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
PG_ADMIN_DB=${PG_ADMIN_DB:-test}
if [[ -z ${BIN:-} ]]; then
    cargo build --release -p steward >&2
    BIN=$PWD/target/release/steward
fi

WORK=$(mktemp -d)
SERVER_PID=""
PG_DBS=()
pg_admin() { psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_ADMIN_DB" -c "$1" >/dev/null; }
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    for db in "${PG_DBS[@]}"; do
        pg_admin "drop database if exists $db" || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# The scenario's backend: BACKEND (sqlite|postgres), DATA (data dir), DB_URL (postgres only).
new_scenario() {   # backend, name
    BACKEND=$1
    DATA="$WORK/$1-$2"
    mkdir -p "$DATA"
    DB_URL=""
    if [[ $BACKEND == postgres ]]; then
        local db="bench_pub_$$_${#PG_DBS[@]}"
        pg_admin "create database $db"
        PG_DBS+=("$db")
        DB_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$db"
    fi
}

# Runs SQL on the scenario's database, printing rows as space-separated values.
sql() {
    if [[ $BACKEND == postgres ]]; then
        psql -q -X -A -t -F ' ' -v ON_ERROR_STOP=1 "$DB_URL" -c "$1"
    else
        sqlite3 -separator ' ' "$DATA/steward.db" "$1"
    fi
}

start() {   # port
    local db_env=()
    [[ -n $DB_URL ]] && db_env=(STEWARD_DATABASE_URL="$DB_URL")
    env STEWARD_SIGNUP=open STEWARD_DATA_DIR="$DATA" STEWARD_LISTEN="127.0.0.1:$1" STEWARD_LOG=warn "${db_env[@]}" \
        "$BIN" serve >"$DATA.out" 2>"$DATA.log" &
    SERVER_PID=$!
    wait_ready "$1"
}

stop() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# Prints "<account id> <owner id>" after creating one sandbox account through the API.
setup() {
    local port
    port=$(free_port)
    start "$port"
    local base="http://127.0.0.1:$port/api/v1"
    local owner token account
    owner=$(curl -s -X POST "$base/auth/register" -H 'content-type: application/json' \
        -d '{"email":"bench@example.com","password":"a-long-enough-passphrase","display_name":"Bench"}' | jq -r .id)
    token=$(curl -s -X POST "$base/auth/login" -H 'content-type: application/json' \
        -d '{"email":"bench@example.com","password":"a-long-enough-passphrase"}' | jq -r .token)
    account=$(curl -s -X POST "$base/accounts" -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d '{"platform":"sandbox","handle":"@bench","credentials":{}}' | jq -r .id)
    stop
    echo "$account $owner"
}

# Inserts $1 scheduled posts due from $4 (µs) every $5 µs, each approved by the owner.
insert_posts() {   # count, account, owner, first_due_us, step_us
    if [[ $BACKEND == postgres ]]; then
        psql -q -X -v ON_ERROR_STOP=1 "$DB_URL" <<SQL
BEGIN;
INSERT INTO posts (id, account_id, author_id, state, version, title, text, media, scheduled_at, scheduled_by,
                   created_at, updated_at)
SELECT 'bench-' || lpad(i::text, 7, '0'), '$2', '$3', 'scheduled', 1, NULL, 'bench post ' || i, '[]', $4 + i * $5, '$3',
       $4, $4 FROM generate_series(0::bigint, $1 - 1) AS i;
INSERT INTO post_approvals (post_id, version, approver_id, by_owner, approved_at)
SELECT id, 1, '$3', true, created_at FROM posts WHERE id LIKE 'bench-%';
COMMIT;
ANALYZE;
SQL
    else
        sqlite3 "$DATA/steward.db" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1)
INSERT INTO posts (id, account_id, author_id, state, version, title, text, media, scheduled_at, scheduled_by,
                   created_at, updated_at)
SELECT printf('bench-%07d', i), '$2', '$3', 'scheduled', 1, NULL, printf('bench post %d', i), '[]', $4 + i * $5, '$3',
       $4, $4 FROM n;
INSERT INTO post_approvals (post_id, version, approver_id, by_owner, approved_at)
SELECT id, 1, '$3', 1, created_at FROM posts WHERE id LIKE 'bench-%';
COMMIT;
SQL
    fi
}

now_us() { echo $(( $(date +%s%N) / 1000 )); }

burst() {   # backend
    new_scenario "$1" burst
    echo "== (a) $1: $POSTS posts due in the same minute, sandbox =="
    local account owner
    read -r account owner < <(setup)
    local due=$(( $(now_us) + 15000000 ))     # all due 15 s from now, within one second
    insert_posts "$POSTS" "$account" "$owner" "$due" 100
    start "$(free_port)"
    while :; do
        local left
        left=$(sql "SELECT COUNT(*) FROM posts WHERE id LIKE 'bench-%' AND state <> 'published'")
        [[ $left == 0 ]] && break
        sleep 0.5
    done
    local first last held
    read -r first last held < <(sql \
        "SELECT MIN(published_at), MAX(published_at), (SELECT COUNT(*) FROM sandbox_posts) FROM posts WHERE id LIKE 'bench-%'")
    stop
    local span_ms=$(( (last - first) / 1000 ))
    local late_ms=$(( (last - due - (POSTS - 1) * 100) / 1000 ))
    echo "published: $POSTS (sandbox holds $held)"
    echo "first to last: ${span_ms} ms -> $(awk -v n="$POSTS" -v ms="$span_ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }') posts/s"
    echo "last post out ${late_ms} ms after its due time"
}

idle() {   # backend
    new_scenario "$1" idle
    echo "== (b) $1: idle server, $IDLE_POSTS posts scheduled over the next 30 days =="
    local account owner
    read -r account owner < <(setup)
    local start_us=$(( $(now_us) + 3600000000 ))   # the first one is due in an hour
    local step=$(( 30 * 86400 * 1000000 / IDLE_POSTS ))
    insert_posts "$IDLE_POSTS" "$account" "$owner" "$start_us" "$step"
    start "$(free_port)"
    sleep 5
    local tck u0 s0 u1 s1
    tck=$(getconf CLK_TCK)
    read -r u0 s0 < <(awk '{ print $14, $15 }' "/proc/$SERVER_PID/stat")
    sleep "$IDLE_SECONDS"
    read -r u1 s1 < <(awk '{ print $14, $15 }' "/proc/$SERVER_PID/stat")
    stop
    local ticks=$(( (u1 - u0) + (s1 - s0) ))
    echo "CPU over ${IDLE_SECONDS} s: ${ticks} ticks of 1/${tck} s = $(awk -v t="$ticks" -v h="$tck" -v s="$IDLE_SECONDS" 'BEGIN { printf "%.3f s (%.4f%% of one core)", t / h, 100 * t / h / s }')"
    if [[ $BACKEND == postgres ]]; then echo "(the server process only; PostgreSQL's backends are not counted)"; fi
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
BACKENDS=(sqlite)
[[ $SKIP_PG != 1 ]] && BACKENDS+=(postgres)
for b in "${BACKENDS[@]}"; do
    burst "$b"
    idle "$b"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
