#!/usr/bin/env bash
# One, two and three replicas of `steward serve` on one PostgreSQL behind the documented nginx
# (docs/deploy/nginx.conf): throughput of authenticated `GET /api/v1/me` and of draft creation
# through the proxy (wrk, 32 connections), and each replica's RSS idle and under load. Then the
# burst of issue 15 item 5: BURST posts due in the same second on three replicas, one killed
# with SIGKILL mid-burst and restarted; prints how many went out, how many times each reached
# the platform (the sandbox), and how late the last one was.
#
#   bench/replicas.sh                     # DURATION=10s CONNECTIONS=32 BURST=2000
#   SKIP_SCALE=1 bench/replicas.sh        # the burst only
#   BIN=target/release/steward bench/replicas.sh
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh

THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10s}
BURST=${BURST:-2000}
SKIP_SCALE=${SKIP_SCALE:-0}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
PG_ADMIN_DB=${PG_ADMIN_DB:-test}
for tool in nginx wrk psql jq; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
if [[ -z ${BIN:-} ]]; then
    cargo build --release -p steward >&2
    BIN=$PWD/target/release/steward
fi

WORK=$(mktemp -d)
PG_DB=""
NGINX_PID=""
EXTRA_ENV=()
stop_all() {
    stop_nginx
    local i
    for i in "${!REPLICA_PID[@]}"; do stop_replica "$i" TERM; done
    REPLICA_PID=()
    if [[ -n $PG_DB ]]; then
        psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_ADMIN_DB" -c "drop database if exists $PG_DB with (force)" >/dev/null || true
        PG_DB=""
    fi
}
trap 'stop_all; rm -rf "$WORK"' EXIT INT TERM

fresh_database() {
    PG_DB="bench_replicas_$$_$1"
    PG_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
    psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_ADMIN_DB" -c "create database $PG_DB" >/dev/null
    MASTER_KEY=$(new_master_key)
}

rss_all() {
    local i out=""
    for i in "${!REPLICA_PID[@]}"; do out+="$(rss_mib "${REPLICA_PID[$i]}") "; done
    echo "${out% }"
}

wrk_rps() {
    local out
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@")
    if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
        echo "$out" >&2
        echo "wrk saw error responses" >&2
        exit 1
    fi
    awk '$1 == "Requests/sec:" { printf "%.0f\n", $2 }' <<<"$out"
}

scale() {
    local n=$1 i
    fresh_database "scale$n"
    for ((i = 0; i < n; i++)); do start_replica "$i"; done
    local proxy
    proxy=$(free_port)
    local replicas=()
    for ((i = 0; i < n; i++)); do replicas+=("$i"); done
    start_nginx "$proxy" "${replicas[@]}"
    local token user account
    read -r token user account < <(bench_owner "$proxy")
    sleep 2
    local idle
    idle=$(rss_all)
    cat >"$WORK/draft.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
wrk.body = '{"text":"A draft written by the replicas benchmark."}'
LUA
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -H "Authorization: Bearer $token" "http://127.0.0.1:$proxy/api/v1/me" >/dev/null
    local me drafts loaded
    me=$(wrk_rps -H "Authorization: Bearer $token" "http://127.0.0.1:$proxy/api/v1/me")
    ( sleep 5; rss_all >"$WORK/loaded" ) &
    drafts=$(wrk_rps -s "$WORK/draft.lua" "http://127.0.0.1:$proxy/api/v1/accounts/$account/posts")
    wait
    loaded=$(cat "$WORK/loaded")
    printf '%-9s %10s %10s   %-22s %-22s\n' "$n" "$me" "$drafts" "$idle" "$loaded"
    stop_all
}

if [[ $SKIP_SCALE != 1 ]]; then
    echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION through nginx, $(nproc) cores"
    printf '%-9s %10s %10s   %-22s %-22s\n' "replicas" "/me req/s" "drafts/s" "RSS idle MiB" "RSS under load MiB"
    for n in 1 2 3; do scale "$n"; done
    echo
fi

# The burst.
fresh_database burst
EXTRA_ENV=(STEWARD_SCHEDULER_LEASE_SECS=10)
for i in 0 1 2; do start_replica "$i"; done
read -r token user account < <(bench_owner "${REPLICA_PORT[0]}")
now_us=$(( $(date +%s%N) / 1000 ))
# Further ahead than a lease, so every replica has looked again and sleeps until the due instant.
due=$(( now_us + 12000000 ))
schedule_burst "$PG_URL" "$account" "$user" "$BURST" "$due" burst
published() { psql -tA "$PG_URL" -c "select count(*) from posts where id like 'burst-%' and state = 'published'"; }
while (( $(published) < BURST / 5 )); do sleep 0.1; done
port=${REPLICA_PORT[1]}
stop_replica 1 KILL
killed_at=$(( $(date +%s%N) / 1000 ))
at_kill=$(published)
sleep 1
start_replica 1 "$port"
for _ in $(seq 1 600); do
    (( $(published) >= BURST )) && break
    sleep 0.25
done
read -r n_pub n_platform n_keys last_s p50_s < <(psql -tA -F ' ' "$PG_URL" -c "
    select (select count(*) from posts where id like 'burst-%' and state = 'published'),
           (select count(*) from sandbox_posts where text like 'burst%'),
           (select count(distinct idempotency_key) from sandbox_posts where text like 'burst%'),
           (select round((max(published_at) - $due) / 1e6, 1) from posts where id like 'burst-%'),
           (select round((percentile_cont(0.5) within group (order by published_at) - $due) / 1e6, 1) from posts where id like 'burst-%')")
echo "burst: $BURST posts due at once on 3 replicas; replica 1 killed (SIGKILL) $(( (killed_at - due) / 1000 )) ms after the due time with $at_kill published, restarted 1 s later"
echo "burst: $n_pub published, $n_platform on the platform ($n_keys distinct keys); median $p50_s s, last $last_s s after the due time"
psql -tA -F ' ' "$PG_URL" -c "select worker, count(*), sum(case when reconcile then 1 else 0 end) from publish_attempts group by worker order by 2 desc" \
    | awk '{ printf "burst: worker %s made %d attempts (%d reconciliations)\n", $1, $2, $3 }'
[[ $n_pub == "$BURST" && $n_platform == "$BURST" ]] || { echo "FAIL: posts lost or doubled" >&2; exit 1; }
