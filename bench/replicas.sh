#!/usr/bin/env bash
# One, two and three replicas of `steward serve` on one PostgreSQL behind the documented nginx
# (docs/deploy/nginx.conf): throughput of authenticated `GET /api/v1/me` and of draft creation
# through the proxy (wrk, 32 connections), and each replica's RSS idle and under load. Then the
# burst of issue 15 item 5: BURST posts due in the same second on three replicas, one killed
# with SIGKILL mid-burst and restarted; prints how many went out, how many times each reached
# the platform (the sandbox), how late the last one was, and how long the posts in flight at
# the kill took to settle after the restart. Every database it creates is dropped and every
# process it starts is stopped on exit, failure or interrupt.
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
    cargo build --release -p steward --bin steward >&2
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
    # Sampled halfway through the run. Waiting for this one child only: a bare `wait` would
    # also wait for the replicas and nginx, which never exit on their own.
    ( sleep "$(( ${DURATION%s} / 2 ))"; rss_all >"$WORK/loaded" ) &
    local sampler=$!
    drafts=$(wrk_rps -s "$WORK/draft.lua" "http://127.0.0.1:$proxy/api/v1/accounts/$account/posts")
    wait "$sampler"
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
start_replica 0
# Replica 1 (the one killed) logs the scheduler's lines, which carry its worker's name, so the
# script can tell its posts in flight from the others' (the round's span names the worker).
VICTIM_LOG=warn,steward_server::worker::publishing=info,steward_app::scheduler=info
EXTRA_ENV=(STEWARD_SCHEDULER_LEASE_SECS=10 "STEWARD_LOG=$VICTIM_LOG")
start_replica 1
EXTRA_ENV=(STEWARD_SCHEDULER_LEASE_SECS=10)
start_replica 2
read -r token user account < <(bench_owner "${REPLICA_PORT[0]}")
now_us=$(( $(date +%s%N) / 1000 ))
# Further ahead than a lease, so every replica has looked again and sleeps until the due instant.
due=$(( now_us + 12000000 ))
schedule_burst "$PG_URL" "$account" "$user" "$BURST" "$due" burst
published() { psql -tA "$PG_URL" -c "select count(*) from posts where id like 'burst-%' and state = 'published'"; }
wait_until_published() {
    local n=$1 deadline=$(( $(date +%s) + $2 ))
    while (( $(published) < n )); do
        (( $(date +%s) < deadline )) || return 1
        sleep 0.1
    done
}
wait_until_published $(( BURST / 5 )) 300 || { echo "FAIL: a fifth of the burst was not out within 5 minutes" >&2; exit 1; }
# A replica records a whole batch (STEWARD_SCHEDULER_BATCH, 200) at once; the kill waits
# until replica 1 holds posts in flight.
victim=$(grep -o 'worker-[0-9a-f]\{32\}' "$WORK/replica-1.log" | head -n 1 || true)
[[ -n $victim ]] || { echo "FAIL: replica 1 published nothing before the kill" >&2; exit 1; }
for _ in $(seq 1 1200); do
    (( $(psql -tA "$PG_URL" -c "select count(*) from publish_jobs where state = 'running' and lease_owner = '$victim'") > 0 )) && break
    sleep 0.02
done
port=${REPLICA_PORT[1]}
stop_replica 1 KILL
killed_at=$(( $(date +%s%N) / 1000 ))
at_kill=$(published)
# Its jobs stay `running` under its name until their lease runs out.
psql -q "$PG_URL" -c "create table bench_in_flight as select post_id from publish_jobs where state = 'running' and lease_owner = '$victim'"
EXTRA_ENV=(STEWARD_SCHEDULER_LEASE_SECS=10 "STEWARD_LOG=$VICTIM_LOG")
sleep 1
start_replica 1 "$port"
restarted_at=$(( $(date +%s%N) / 1000 ))
wait_until_published "$BURST" 600 || echo "not all published within 10 minutes of the restart" >&2
read -r n_pub n_platform n_keys n_resent last_s p50_s < <(psql -tA -F ' ' "$PG_URL" -c "
    select (select count(*) from posts where id like 'burst-%' and state = 'published'),
           (select count(*) from sandbox_posts where text like 'burst%'),
           (select count(distinct idempotency_key) from sandbox_posts where text like 'burst%'),
           (select count(*) from (select post_id from publish_attempts where post_id like 'burst-%' and not reconcile
                                  group by post_id having count(*) > 1) t),
           (select round((max(published_at) - $due) / 1e6, 1) from posts where id like 'burst-%'),
           (select round(((percentile_cont(0.5) within group (order by published_at) - $due) / 1e6)::numeric, 1) from posts where id like 'burst-%')")
read -r n_flight n_taken settle_restart_s settle_kill_s < <(psql -tA -F ' ' "$PG_URL" -c "
    select count(*),
           (select count(distinct post_id) from publish_attempts where reconcile and post_id in (select post_id from bench_in_flight)),
           coalesce(round((max(p.published_at) - $restarted_at) / 1e6, 1), 0),
           coalesce(round((max(p.published_at) - $killed_at) / 1e6, 1), 0)
    from bench_in_flight f join posts p on p.id = f.post_id")
echo "burst: $BURST posts due at once on 3 replicas (lease 10 s); replica 1 killed (SIGKILL) $(( (killed_at - due) / 1000 )) ms after the due time with $at_kill published, restarted and ready $(( (restarted_at - killed_at) / 1000 )) ms after the kill"
echo "burst: $n_pub published, $n_platform on the platform ($n_keys distinct keys), $n_resent sent more than once; median $p50_s s, last $last_s s after the due time (target <= 60 s)"
echo "burst: $n_flight posts in flight on the killed replica ($n_taken taken over by reconciliation): all settled $settle_restart_s s after the restart ($settle_kill_s s after the kill)"
psql -tA -F ' ' "$PG_URL" -c "select worker, count(*), sum(case when reconcile then 1 else 0 end) from publish_attempts group by worker order by 2 desc" \
    | awk '{ printf "burst: worker %s made %d attempts (%d reconciliations)\n", $1, $2, $3 }'
[[ $n_pub == "$BURST" && $n_platform == "$BURST" && $n_keys == "$BURST" && $n_resent == 0 ]] || { echo "FAIL: posts lost or doubled" >&2; exit 1; }
awk -v l="$last_s" 'BEGIN { exit !(l <= 60) }' || { echo "FAIL: the last post went out $last_s s after its due time (target 60 s)" >&2; exit 1; }
