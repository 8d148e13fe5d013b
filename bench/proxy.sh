#!/usr/bin/env bash
# Checks the documented reverse proxy (docs/deploy/nginx.conf, docs/deploy.md) in front of three
# replicas on one PostgreSQL: requests flow to every replica, and a rolling restart (each
# replica stopped with SIGTERM and started again, one after the other) under continuous load
# answers no error and loses no post due meanwhile. Exits non-zero on any failure.
#
#   bench/proxy.sh
#   BIN=target/release/steward bench/proxy.sh
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh

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
PG_DB="bench_proxy_$$"
PG_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
MASTER_KEY=$(new_master_key)
EXTRA_ENV=(STEWARD_SCHEDULER_LEASE_SECS=10)
NGINX_PID=""
cleanup() {
    stop_nginx
    for i in 0 1 2; do [[ -n ${REPLICA_PID[$i]:-} ]] && stop_replica "$i" KILL; done
    psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_ADMIN_DB" -c "drop database if exists $PG_DB with (force)" >/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_ADMIN_DB" -c "create database $PG_DB" >/dev/null

for i in 0 1 2; do start_replica "$i"; done
PROXY_PORT=$(free_port)
start_nginx "$PROXY_PORT" 0 1 2
BASE="http://127.0.0.1:$PROXY_PORT"
read -r TOKEN USER_ID ACCOUNT < <(bench_owner "$PROXY_PORT")
AUTH="Authorization: Bearer $TOKEN"

# 1. Requests flow through the proxy to every replica.
for _ in $(seq 1 60); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$BASE/api/v1/me") == 200 ]] || { echo "GET /me through nginx failed" >&2; exit 1; }
done
for i in 0 1 2; do
    served=$(curl -sf "http://127.0.0.1:${REPLICA_PORT[$i]}/metrics" | awk '/^steward_http_requests_total/ && /\/api\/v1\/me/ && /status="200"/ { n += $NF } END { print n + 0 }')
    echo "replica $i served $served of the GET /me requests"
    (( served > 0 )) || { echo "replica $i got no request through nginx" >&2; exit 1; }
done

# 2. A rolling restart under load: wrk reads /me and creates drafts through nginx while each
#    replica in turn is stopped (SIGTERM, graceful) and started again on its port; posts are
#    due all along.
NOW_US=$(( $(date +%s%N) / 1000 ))
schedule_burst "$PG_URL" "$ACCOUNT" "$USER_ID" 100 $(( NOW_US + 5000000 )) rolling-a
schedule_burst "$PG_URL" "$ACCOUNT" "$USER_ID" 100 $(( NOW_US + 15000000 )) rolling-b
cat >"$WORK/mixed.lua" <<LUA
local n = 0
request = function()
    n = n + 1
    if n % 4 == 0 then
        return wrk.format("POST", "/api/v1/accounts/$ACCOUNT/posts",
            { ["Authorization"] = "Bearer $TOKEN", ["Content-Type"] = "application/json" },
            '{"text":"written during a rolling restart"}')
    end
    return wrk.format("GET", "/api/v1/me", { ["Authorization"] = "Bearer $TOKEN" })
end
local statuses = {}
response = function(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    if status >= 400 and (statuses[status] or 0) <= 3 then io.stderr:write(status .. " " .. body .. "\n") end
end
LUA
wrk -t2 -c8 -d40s --timeout 30s -s "$WORK/mixed.lua" "$BASE" >"$WORK/wrk.out" &
WRK_PID=$!
sleep 3
for i in 0 1 2; do
    port=${REPLICA_PORT[$i]}
    stop_replica "$i" TERM
    sleep 1
    start_replica "$i" "$port"
    echo "replica $i restarted on port $port"
    sleep 6
done
wait "$WRK_PID"
cat "$WORK/wrk.out"
if grep -qE 'Non-2xx|Socket errors' "$WORK/wrk.out"; then
    echo "FAIL: errors through nginx during the rolling restart; nginx's log:" >&2
    sort "$WORK/nginx/logs/error.log" | cut -c21- | sort | uniq -c | sort -rn | head -20 >&2
    exit 1
fi

# Every post due during the restart goes out, once.
for _ in $(seq 1 120); do
    done_n=$(psql -tA "$PG_URL" -c "select count(*) from posts where id like 'rolling-%' and state = 'published'")
    [[ $done_n == 200 ]] && break
    sleep 1
done
read -r published distinct_keys sandbox_rows < <(psql -tA -F ' ' "$PG_URL" -c "
    select (select count(*) from posts where id like 'rolling-%' and state = 'published'),
           (select count(distinct idempotency_key) from sandbox_posts where text like 'rolling-%'),
           (select count(*) from sandbox_posts where text like 'rolling-%')")
echo "posts due during the restart: $published of 200 published; $sandbox_rows on the platform ($distinct_keys keys)"
[[ $published == 200 && $sandbox_rows == 200 && $distinct_keys == 200 ]] || { echo "FAIL: posts lost or doubled" >&2; exit 1; }
echo "OK: requests flow to all three replicas; rolling restart with no error and no lost post"
