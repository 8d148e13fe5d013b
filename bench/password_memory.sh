#!/usr/bin/env bash
# Memory of password hashing (Argon2id, m=19 MiB, t=2, p=1): resident memory (VmRSS) of
# `steward serve` on a fresh SQLite data directory when idle, after the first sign-in, at the
# peak of 128 concurrent sign-ups (VmHWM, reset just before the burst) and 30 s after it.
# 127.0.0.1 only; the burst is bounded (128 requests) and the script stops the server itself.
#
#   bench/password_memory.sh        # RUNS=3 BURST=128 SETTLE_SECONDS=30; BIN=… to skip the build
#
# The server runs with its defaults (hash budget: one per core, 64 waiting), so some sign-ups
# of the burst may be answered 503 with Retry-After: the script counts the answers by status.
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-3}
BURST=${BURST:-128}
SETTLE_SECONDS=${SETTLE_SECONDS:-30}
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

hwm_mib() {
    awk '/^VmHWM:/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"
}

PASSWORD=bench-memory-passphrase-2026
printf 'run\tidle_MiB\tafter_first_signin_MiB\tburst_peak_MiB\tafter_%ss_MiB\tanswers\n' "$SETTLE_SECONDS"
for run in $(seq 1 "$RUNS"); do
    port=$(free_port)
    rm -rf "$WORK/data"
    STEWARD_DATA_DIR=$WORK/data STEWARD_LISTEN=127.0.0.1:$port STEWARD_SIGNUP=open STEWARD_LOG=warn \
        "$BIN" serve >"$WORK/out.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "$port"
    sleep 2
    idle=$(rss_mib "$SERVER_PID")

    curl -s -o /dev/null -X POST -H 'content-type: application/json' \
        -d "{\"email\":\"first@bench.test\",\"password\":\"$PASSWORD\",\"display_name\":\"First\"}" \
        "http://127.0.0.1:$port/api/v1/auth/register"
    curl -s -o /dev/null -X POST -H 'content-type: application/json' \
        -d "{\"email\":\"first@bench.test\",\"password\":\"$PASSWORD\"}" \
        "http://127.0.0.1:$port/api/v1/auth/login"
    sleep 2
    after_first=$(rss_mib "$SERVER_PID")

    # Peak resident memory from here on: writing 5 to clear_refs resets VmHWM.
    echo 5 >"/proc/$SERVER_PID/clear_refs"
    seq 1 "$BURST" | xargs -P "$BURST" -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 -X POST \
        -H 'content-type: application/json' \
        -d "{\"email\":\"burst{}@bench.test\",\"password\":\"$PASSWORD\",\"display_name\":\"Burst\"}" \
        "http://127.0.0.1:$port/api/v1/auth/register" >"$WORK/codes"
    peak=$(hwm_mib "$SERVER_PID")
    sleep "$SETTLE_SECONDS"
    settled=$(rss_mib "$SERVER_PID")
    answers=$(sort "$WORK/codes" | uniq -c | awk '{ printf "%s%s×%s", (NR > 1 ? " " : ""), $1, $2 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$idle" "$after_first" "$peak" "$settled" "$answers"

    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
done
