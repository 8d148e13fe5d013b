#!/usr/bin/env bash
# Publishing scheduler benchmarks (issue 5), SQLite, 127.0.0.1 only:
#  (a) 10,000 approved posts due in the same minute, published through the sandbox: posts/s and
#      how late the last one went out after its due time (target: all within 60 s);
#  (b) CPU used by an idle `steward serve` with 100,000 posts scheduled over the next month
#      (target ≈ 0), from /proc/<pid>/stat (utime + stime) over 60 s.
#
#   bench/publishing.sh                 # POSTS=10000 IDLE_POSTS=100000 IDLE_SECONDS=60
#   BIN=target/debug/steward bench/publishing.sh   # skip the release build (say so when reporting)
#
# The posts are written straight into the database (state `scheduled`, one owner approval each)
# while the server is stopped, then the server is started and left to publish.
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh

POSTS=${POSTS:-10000}
IDLE_POSTS=${IDLE_POSTS:-100000}
IDLE_SECONDS=${IDLE_SECONDS:-60}
if [[ -z ${BIN:-} ]]; then
    cargo build --release -p steward >&2
    BIN=$PWD/target/release/steward
fi

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

start() {   # data dir, port
    STEWARD_SIGNUP=open STEWARD_DATA_DIR="$1" STEWARD_LISTEN="127.0.0.1:$2" STEWARD_LOG=warn \
        "$BIN" serve >"$1.out" 2>"$1.log" &
    SERVER_PID=$!
    wait_ready "$2"
}

stop() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# Prints "<db path> <account id> <owner id>" for a fresh data dir with one sandbox account.
setup() {
    local data=$1 port
    port=$(free_port)
    start "$data" "$port"
    local base="http://127.0.0.1:$port/api/v1"
    local owner token account
    owner=$(curl -s -X POST "$base/auth/register" -H 'content-type: application/json' \
        -d '{"email":"bench@example.com","password":"a-long-enough-passphrase","display_name":"Bench"}' | jq -r .id)
    token=$(curl -s -X POST "$base/auth/login" -H 'content-type: application/json' \
        -d '{"email":"bench@example.com","password":"a-long-enough-passphrase"}' | jq -r .token)
    account=$(curl -s -X POST "$base/accounts" -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d '{"platform":"sandbox","handle":"@bench","credentials":{}}' | jq -r .id)
    stop
    echo "$data/steward.db $account $owner"
}

# Inserts $2 scheduled posts due from $5 (µs) every $6 µs, each approved by the owner.
insert_posts() {   # db, count, account, owner, first_due_us, step_us
    sqlite3 "$1" <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $2)
INSERT INTO posts (id, account_id, author_id, state, version, title, text, media, scheduled_at, scheduled_by,
                   created_at, updated_at)
SELECT printf('bench-%07d', i), '$3', '$4', 'scheduled', 1, NULL, printf('bench post %d', i), '[]', $5 + i * $6, '$4',
       $5, $5 FROM n;
INSERT INTO post_approvals (post_id, version, approver_id, by_owner, approved_at)
SELECT id, 1, '$4', 1, created_at FROM posts WHERE id LIKE 'bench-%';
COMMIT;
SQL
}

now_us() { echo $(( $(date +%s%N) / 1000 )); }

echo "== (a) $POSTS posts due in the same minute, sandbox =="
read -r db account owner < <(setup "$WORK/a")
due=$(( $(now_us) + 15000000 ))     # all due 15 s from now, within one second
insert_posts "$db" "$POSTS" "$account" "$owner" "$due" 100
port=$(free_port)
start "$WORK/a" "$port"
while :; do
    left=$(sqlite3 "$db" "SELECT COUNT(*) FROM posts WHERE id LIKE 'bench-%' AND state <> 'published'")
    [[ $left == 0 ]] && break
    sleep 0.5
done
read -r first last held < <(sqlite3 -separator ' ' "$db" \
    "SELECT MIN(published_at), MAX(published_at), (SELECT COUNT(*) FROM sandbox_posts) FROM posts WHERE id LIKE 'bench-%'")
stop
span_ms=$(( (last - first) / 1000 ))
late_ms=$(( (last - due - (POSTS - 1) * 100) / 1000 ))
echo "published: $POSTS (sandbox holds $held)"
echo "first to last: ${span_ms} ms -> $(awk -v n="$POSTS" -v ms="$span_ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }') posts/s"
echo "last post out ${late_ms} ms after its due time"

echo "== (b) idle server, $IDLE_POSTS posts scheduled over the next 30 days =="
read -r db account owner < <(setup "$WORK/b")
start_us=$(( $(now_us) + 3600000000 ))   # the first one is due in an hour
step=$(( 30 * 86400 * 1000000 / IDLE_POSTS ))
insert_posts "$db" "$IDLE_POSTS" "$account" "$owner" "$start_us" "$step"
port=$(free_port)
start "$WORK/b" "$port"
sleep 5
tck=$(getconf CLK_TCK)
read -r u0 s0 < <(awk '{ print $14, $15 }' "/proc/$SERVER_PID/stat")
sleep "$IDLE_SECONDS"
read -r u1 s1 < <(awk '{ print $14, $15 }' "/proc/$SERVER_PID/stat")
stop
ticks=$(( (u1 - u0) + (s1 - s0) ))
echo "CPU over ${IDLE_SECONDS} s: ${ticks} ticks of 1/${tck} s = $(awk -v t="$ticks" -v h="$tck" -v s="$IDLE_SECONDS" 'BEGIN { printf "%.3f s (%.4f%% of one core)", t / h, 100 * t / h / s }')"
