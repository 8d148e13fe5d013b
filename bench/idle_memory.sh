#!/usr/bin/env bash
# Where an idle server's resident memory is: starts `steward serve` on a fresh SQLite data
# directory, signs a user up and in and connects a sandbox account, waits WAIT seconds (2),
# then prints VmRSS, the threads by name and the largest mappings from /proc/<pid>/smaps
# (the binary's code is `r-xp`, its read-only data `r--p`, the main malloc arena `[heap]`).
#
#   BIN=target/release/steward bench/idle_memory.sh     # RUNS=1 WAIT=2
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
BIN=${BIN:-$PWD/target/release/steward}
RUNS=${RUNS:-1}
W=$(mktemp -d)
PID=""
trap '[[ -n $PID ]] && kill $PID 2>/dev/null; rm -rf "$W"' EXIT
for run in $(seq 1 "$RUNS"); do
    PORT=$(free_port)
    rm -rf "$W/d"
    STEWARD_DATA_DIR=$W/d STEWARD_LISTEN=127.0.0.1:$PORT STEWARD_SIGNUP=open STEWARD_LOG=warn "$BIN" serve >"$W/out" 2>&1 &
    PID=$!
    wait_ready "$PORT"
    sleep 2
    bench_owner "$PORT" >/dev/null
    sleep "${WAIT:-2}"
    threads=$(for t in /proc/$PID/task/*; do cat "$t/comm"; done | sort | uniq -c | awk '{ printf "%s%s×%s", (NR > 1 ? ", " : ""), $1, $2 }')
    echo "run $run: VmRSS $(rss_mib "$PID") MiB; threads: $threads"
    awk '/^[0-9a-f]/ { name = $6 " " $2 } /^Rss:/ { r[name] += $2 } END { for (n in r) if (r[n] > 300) printf "%8d KiB  %s\n", r[n], n }' \
        "/proc/$PID/smaps" | sort -rn | head -6
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
done
