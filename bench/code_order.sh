#!/usr/bin/env bash
# Makes crates/steward/code-order.txt: the functions of the release binary that run from start
# to a served API session, which the release link puts first (crates/steward/build.rs).
# Starts the binary under callgrind on a fresh SQLite data directory, signs up and in, connects
# a sandbox account, asks the common API reads, writes a draft, opens the sign-in page, lets the
# background workers run a few seconds, and lists every function callgrind saw run in it.
#
#   bench/code_order.sh                                # builds the release binary first
#   BIN=target/release/steward bench/code_order.sh     # that binary
#
# Run it again after a dependency or toolchain update (their functions' names change with
# them; names the build no longer has are skipped, and less of the hot code is together; after
# sqlx 0.9.0 -> 0.9.1, half the names were gone and idle memory rose from 15 to 22 MiB). It also
# writes code-order.deps, the Cargo.lock packages the list goes with, which a test compares;
# `bench/idle_memory.sh` shows how much of the code is resident.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)" >&2; exit 1; }
if [[ -z ${BIN:-} ]]; then
    cargo build --release -p steward --bin steward >&2
    BIN=$PWD/target/release/steward
fi
OUT_LIST=${OUT_LIST:-$PWD/crates/steward/code-order.txt}
W=$(mktemp -d)
PORT=$(free_port)
# With its malloc tunables already set, steward does not start itself again (which would leave
# valgrind behind).
env GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576:glibc.malloc.arena_max=2 STEWARD_SIGNUP=open \
    STEWARD_DATA_DIR="$W/d" STEWARD_LISTEN="127.0.0.1:$PORT" STEWARD_LOG=info \
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$W/cg.out" "$BIN" serve >"$W/out" 2>"$W/err" &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$W"' EXIT
wait_ready "$PORT"
read -r TOKEN _ ACCOUNT < <(bench_owner "$PORT")
api="http://127.0.0.1:$PORT/api/v1"
auth=(-H "Authorization: Bearer $TOKEN")
for _ in 1 2 3; do
    curl -sf -o /dev/null "${auth[@]}" "$api/me"
    curl -sf -o /dev/null "${auth[@]}" "$api/accounts"
    curl -sf -o /dev/null "${auth[@]}" "$api/accounts/$ACCOUNT"
    curl -sf -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' -d '{"text":"hello"}' "$api/accounts/$ACCOUNT/posts"
    curl -sf -o /dev/null "${auth[@]}" "$api/accounts/$ACCOUNT/posts"
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz"
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/signin"
done
sleep 5
kill -INT "$PID"
wait "$PID" 2>/dev/null || true
# callgrind names each object (ob=) and function (fn=, cfn=) once, then refers to it by number.
python3 - "$W/cg.out" "$BIN" "$OUT_LIST" <<'PY'
import os, re, subprocess, sys
profile, binary, out = sys.argv[1:]
binary = os.path.realpath(binary)
objects, functions, ran, current = {}, {}, set(), None
for line in open(profile):
    m = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
    if m:
        kind, number, name = m.groups()
        if name:
            objects[number] = name
        if kind == "ob":
            current = objects[number]
        continue
    m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
    if m:
        kind, number, name = m.groups()
        if name:
            functions[number] = re.sub(r"'\d+$", "", name)
        if kind == "fn" and current and os.path.realpath(current) == binary:
            ran.add(functions[number])
symbols = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
code = {parts[2] for parts in (line.split() for line in symbols.splitlines()) if len(parts) == 3 and parts[1] in "tTwW"}
hot = sorted(ran & code)
with open(out, "w") as f:
    f.write("".join(name + "\n" for name in hot))
print(f"{len(hot)} functions ran ({len(ran - code)} names not in the symbol table skipped) -> {out}")
PY
# The dependencies the list was made with: their functions' names change with their versions,
# so a test fails when Cargo.lock no longer matches (code_order.rs).
DEPS=${OUT_LIST%.txt}.deps
{
    echo "# The packages of Cargo.lock when code-order.txt was made (bench/code_order.sh writes this)."
    awk '/^name = /{ n = $3 } /^version = / && n != "" { print n, $3 }' Cargo.lock | tr -d '"' | sort -u
} >"$DEPS"
echo "its dependencies -> $DEPS"
