#!/usr/bin/env bash
# Time from process start to the first `GET /readyz` 200 on a fresh SQLite data directory, and
# the idle resident memory (VmRSS) of `steward serve` a few seconds later. Release build,
# 127.0.0.1 only.
#
#   bench/startup.sh              # RUNS=3 IDLE_SECONDS=5
#
# /readyz is polled every 5 ms. The poll is bash's /dev/tcp (no process per attempt, so the
# resolution is close to the 5 ms interval); set POLL=curl to poll with curl instead.
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-3}
IDLE_SECONDS=${IDLE_SECONDS:-5}
POLL=${POLL:-tcp}

cargo build --release -p steward >&2
BIN=$PWD/target/release/steward

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

# One /readyz request; succeeds when the status is 200.
ready_once() {
    local port=$1
    if [[ $POLL == curl ]]; then
        [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/readyz" || true) == 200 ]]
        return
    fi
    local status=""
    { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    printf 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 || { exec 3>&-; return 1; }
    read -r -t 2 _ status _ <&3 || true
    exec 3>&-
    [[ $status == 200 ]]
}

printf '%-6s %12s %12s\n' run "ready ms" "idle RSS MiB"
: >"$WORK/results"
for run in $(seq 1 "$RUNS"); do
    data="$WORK/data-$run"   # does not exist yet: a fresh data directory, created by steward
    port=$(free_port)
    t0=$(date +%s%N)
    STEWARD_SIGNUP=open STEWARD_DATA_DIR="$data" STEWARD_LISTEN="127.0.0.1:$port" \
        "$BIN" serve >"$WORK/out-$run" 2>"$WORK/log-$run" &
    SERVER_PID=$!
    ready=""
    for _ in $(seq 1 6000); do   # up to ~30 s
        if ready_once "$port"; then
            ready=$(date +%s%N)
            break
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/log-$run" >&2; echo "steward exited" >&2; exit 1; }
        sleep 0.005
    done
    [[ -n $ready ]] || { echo "steward did not become ready" >&2; exit 1; }
    ms=$(( (ready - t0) / 1000000 ))
    sleep "$IDLE_SECONDS"
    rss=$(rss_mib "$SERVER_PID")
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    printf '%-6s %12s %12s\n' "$run" "$ms" "$rss"
    echo "$ms $rss" >>"$WORK/results"
done

echo "-- medians of $RUNS runs (min..max)"
echo "start to first /readyz 200: $(awk '{ print $1 }' "$WORK/results" | median) ms ($(awk '{ print $1 }' "$WORK/results" | spread)) (target <= 300 ms)"
echo "idle VmRSS after ${IDLE_SECONDS}s: $(awk '{ print $2 }' "$WORK/results" | median) MiB ($(awk '{ print $2 }' "$WORK/results" | spread)) (target <= 30 MB)"
