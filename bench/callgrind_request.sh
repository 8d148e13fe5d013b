#!/usr/bin/env bash
# Instructions per request (valgrind callgrind, user space only: the count does not move with
# the machine's load). Starts `steward serve` under callgrind on a fresh SQLite data directory,
# signs a user in, warms up, then counts only while `wrk -t1 -c4 -d30s` runs.
#
#   BIN=target/release/steward bench/callgrind_request.sh me       # GET /api/v1/me
#   BIN=target/release/steward bench/callgrind_request.sh healthz  # GET /healthz
#
# Prints the request count, the total and the instructions per request; the profile stays in
# $OUT (default target/callgrind.<kind>.out) for `callgrind_annotate`.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
KIND=${1:-me}
BIN=${BIN:-$PWD/target/release/steward}
OUT=${OUT:-$PWD/target/callgrind.$KIND.out}
W=$(mktemp -d)
PORT=$(free_port)
# With its malloc tunables already set, steward does not start itself again (which would leave
# valgrind behind).
env GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576:glibc.malloc.arena_max=2 STEWARD_SIGNUP=open \
    STEWARD_DATA_DIR="$W" STEWARD_LISTEN="127.0.0.1:$PORT" STEWARD_LOG=info \
    valgrind --tool=callgrind --callgrind-out-file="$OUT" --instr-atstart=no "$BIN" serve >"$W/out" 2>"$W/err" &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$W"' EXIT
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 1; done
base="http://127.0.0.1:$PORT/api/v1/auth"
curl -sf -o /dev/null -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"bench-passphrase-2026","display_name":"Bench"}' "$base/register"
TOKEN=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"bench-passphrase-2026"}' "$base/login" | jq -er .token)
if [[ $KIND == me ]]; then P=/api/v1/me; else P=/healthz; fi
wrk -t1 -c4 -d5s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$P" >/dev/null
callgrind_control -i on "$PID" >/dev/null 2>&1
n=$(wrk -t1 -c4 -d30s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$P" | awk '/requests in/ { print $1 }')
callgrind_control -i off "$PID" >/dev/null 2>&1
kill "$PID"
wait "$PID" 2>/dev/null || true
total=$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "$KIND: $n requests, $total instructions, $((total / n)) per request"
