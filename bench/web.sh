#!/usr/bin/env bash
# The web app's main pages: weight (HTML as served, plus the one stylesheet and one script;
# no page loads anything else) and server time per page (wrk over loopback, one connection,
# so the latency is one request at a time), signed in with the session cookie.
# The members page lists the owner and 40 pending invitations. The calendar with 1,000 posts
# has its own harness: cargo bench -p steward-server --bench calendar.
#
#   bench/web.sh                              # release build
#   STEWARD_BIN=target/debug/steward bench/web.sh
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-5s}
if [[ -z ${STEWARD_BIN:-} ]]; then
    cargo build --release -p steward >&2
    BIN=$PWD/target/release/steward
else
    BIN=$STEWARD_BIN
fi
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
    [[ -n $SERVER_PID ]] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

PORT=$(free_port)
env STEWARD_SIGNUP=open STEWARD_DATA_DIR="$WORK" STEWARD_LISTEN="127.0.0.1:$PORT" STEWARD_LOG=warn \
    "$BIN" serve >"$WORK/out" 2>"$WORK/log" &
SERVER_PID=$!
wait_ready "$PORT"
B="http://127.0.0.1:$PORT"
J='Content-Type: application/json'

curl -sf -H "$J" -d '{"email":"olivia@bench.test","password":"a-long-enough-passphrase","display_name":"Olivia"}' "$B/api/v1/auth/register" >/dev/null
TOKEN=$(curl -sf -H "$J" -d '{"email":"olivia@bench.test","password":"a-long-enough-passphrase"}' "$B/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
AUTH="Authorization: Bearer $TOKEN"
ACC=$(curl -sf -H "$J" -H "$AUTH" -d '{"platform":"sandbox","handle":"@bench","time_zone":"Europe/Paris","credentials":{}}' "$B/api/v1/accounts" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -sf -X PATCH -H "$J" -H "$AUTH" -d '{"max_members":50,"rules_text":"Be kind."}' "$B/api/v1/accounts/$ACC/settings" >/dev/null
for i in $(seq 1 40); do
    curl -sf -H "$J" -H "$AUTH" -d "{\"email\":\"person$i@bench.test\",\"role\":\"editor\",\"windows\":[{\"days\":[\"mon\",\"tue\"],\"start\":\"09:00\",\"end\":\"17:00\"}]}" \
        "$B/api/v1/accounts/$ACC/invitations" >/dev/null
done

COOKIE="Cookie: steward_session=$TOKEN"
ASSETS=$(( $(curl -s "$B/assets/steward.css" | wc -c) + $(curl -s "$B/assets/steward.js" | wc -c) ))
printf '%-28s %10s %10s %12s %10s\n' page html_B total_B p50_ms p99_ms
for page in "/" "/accounts/$ACC" "/accounts/$ACC/members" "/accounts/$ACC/settings" "/accounts/$ACC/calendar" \
    "/accounts/$ACC/review" "/accounts/$ACC/posts/new" "/security" "/connect" "/signin"; do
    hdr=$COOKIE
    [[ $page == /signin ]] && hdr="Accept: text/html"   # signed in, /signin would only redirect
    size=$(curl -s -H "$hdr" -o /dev/null -w '%{size_download}' "$B$page")
    out=$(wrk -t1 -c1 -d"$DURATION" --latency -H "$hdr" "$B$page")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    name=${page//$ACC/\{id\}}
    printf '%-28s %10s %10s %12s %10s\n' "$name" "$size" "$((size + ASSETS))" "$p50" "$p99"
done
