# Shared helpers of the bench/ scripts (sourced, not run).

# A free TCP port on 127.0.0.1 (the kernel picks it; tiny race until the server binds it).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Median of the numbers on stdin (one per line).
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a" } else if (NR % 2) { print v[(NR + 1) / 2] } else { printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 } }'
}

# min..max of the numbers on stdin.
spread() {
    sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo ".." hi }'
}

# Waits (up to ~30 s) until http://127.0.0.1:$1/readyz answers 200.
wait_ready() {
    local port=$1 i
    for i in $(seq 1 3000); do
        if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/readyz" || true) == 200 ]]; then
            return 0
        fi
        sleep 0.01
    done
    echo "server on port $port did not become ready" >&2
    return 1
}

# VmRSS of a process, in MiB (one decimal).
rss_mib() {
    awk '/^VmRSS:/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"
}

# --- Replicas on one PostgreSQL behind nginx (bench/proxy.sh, bench/replicas.sh) ---------------
# Uses: BIN, WORK, PG_URL (the shared database), MASTER_KEY (base64), EXTRA_ENV (array).
declare -a REPLICA_PID REPLICA_PORT

# start_replica I [PORT]: `steward serve` number I on PORT (a free one if not given).
start_replica() {
    local i=$1 port=${2:-$(free_port)}
    mkdir -p "$WORK/replica-$i"
    env STEWARD_SIGNUP=open STEWARD_DATA_DIR="$WORK/replica-$i" STEWARD_LISTEN="127.0.0.1:$port" \
        STEWARD_DATABASE_URL="$PG_URL" STEWARD_MASTER_KEY="$MASTER_KEY" STEWARD_LOG=warn \
        STEWARD_TRUSTED_PROXIES=127.0.0.1 "${EXTRA_ENV[@]}" \
        "$BIN" serve >>"$WORK/replica-$i.out" 2>>"$WORK/replica-$i.log" &
    REPLICA_PID[$i]=$!
    REPLICA_PORT[$i]=$port
    wait_ready "$port"
}

# stop_replica I [SIGNAL]: stops replica I (TERM: a graceful stop; KILL: a crash) and waits.
stop_replica() {
    local i=$1 sig=${2:-TERM}
    kill "-$sig" "${REPLICA_PID[$i]}" 2>/dev/null || true
    wait "${REPLICA_PID[$i]}" 2>/dev/null || true
}

# start_nginx PORT REPLICA...: nginx with docs/deploy/nginx.conf (the documented file), its
# listen port and upstream servers rewritten; sets NGINX_PID.
start_nginx() {
    local port=$1
    shift
    mkdir -p "$WORK/nginx/logs"
    local servers="" i
    for i in "$@"; do
        servers+="    server 127.0.0.1:${REPLICA_PORT[$i]} max_fails=3 fail_timeout=5s;\n"
    done
    awk -v servers="$servers" -v port="$port" '
        /^    server 127\.0\.0\.1:808[0-9]/ { if (!done) { printf "%s", servers; done = 1 } next }
        /^    listen 8080;/ { print "    listen 127.0.0.1:" port ";"; next }
        { print }' docs/deploy/nginx.conf >"$WORK/nginx/steward.conf"
    {
        [[ $(id -u) == 0 ]] && echo "user root;"
        echo "worker_processes 1; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/logs/error.log warn;"
        echo "events { worker_connections 1024; }"
        echo "http { access_log off; client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;"
        echo "  include $WORK/nginx/steward.conf; }"
    } >"$WORK/nginx/nginx.conf"
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
    NGINX_PID=$!
    wait_ready "$port"
}

stop_nginx() {
    if [[ -n ${NGINX_PID:-} ]]; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
        NGINX_PID=""
    fi
}

# A new master key (base64 of 32 random bytes), as a deployment shares one key file.
new_master_key() {
    head -c 32 /dev/urandom | base64
}

# bench_owner PORT: registers and signs in bench@example.com, creates a sandbox account;
# prints "TOKEN USER_ID ACCOUNT_ID".
bench_owner() {
    local api="http://127.0.0.1:$1/api/v1" json='Content-Type: application/json' token user account
    user=$(curl -sf -H "$json" \
        -d '{"email":"bench@example.com","password":"bench-passphrase-2026","display_name":"Bench"}' "$api/auth/register" | jq -er .id)
    token=$(curl -sf -H "$json" -d '{"email":"bench@example.com","password":"bench-passphrase-2026"}' "$api/auth/login" | jq -er .token)
    account=$(curl -sf -H "$json" -H "Authorization: Bearer $token" \
        -d '{"platform":"sandbox","handle":"@bench","credentials":{}}' "$api/accounts" | jq -er .id)
    echo "$token $user $account"
}

# schedule_burst PSQL_URL ACCOUNT USER N DUE_US PREFIX: N approved posts scheduled for DUE_US
# (µs), written straight to the database in one transaction, as the integration test does.
schedule_burst() {
    local url=$1 account=$2 user=$3 n=$4 due=$5 prefix=$6
    psql -q -v ON_ERROR_STOP=1 "$url" >/dev/null <<SQL
BEGIN;
INSERT INTO posts (id, account_id, author_id, state, version, title, text, media, scheduled_at, scheduled_by, created_at, updated_at)
  SELECT '$prefix-' || g, '$account', '$user', 'scheduled', 1, NULL, '$prefix post ' || g, '[]', $due, '$user', $due - 60000000, $due - 60000000
  FROM generate_series(1, $n) g;
INSERT INTO post_versions (post_id, version, title, text, media, edited_by, created_at)
  SELECT id, 1, NULL, text, '[]', '$user', created_at FROM posts WHERE id LIKE '$prefix-%';
INSERT INTO post_approvals (post_id, version, approver_id, by_owner, approved_at)
  SELECT id, 1, '$user', true, created_at FROM posts WHERE id LIKE '$prefix-%';
COMMIT;
SQL
}

# --- One server at a time, SQLite then PostgreSQL (bench/http.sh, bench/writes.sh) --------------
# Uses: BIN, WORK; PG_DB is the database a script made (dropped by stop_server_and_database).
SKIP_PG=${SKIP_PG:-0}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
PG_ADMIN_DB=${PG_ADMIN_DB:-test}
SERVER_PID=""
PG_DB=""

# pg_admin SQL: runs SQL on the admin database.
pg_admin() { psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_ADMIN_DB" -c "$1" >/dev/null; }

# new_pg_database NAME: creates the database NAME (PG_DB, dropped at the end); sets PG_DB_URL.
new_pg_database() {
    PG_DB=$1
    pg_admin "create database $PG_DB"
    PG_DB_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
}

# start_server NAME [extra env...]: `steward serve` on a free port, its data directory under
# $WORK/NAME; sets PORT and SERVER_PID.
start_server() {
    local name=$1
    shift
    PORT=$(free_port)
    mkdir -p "$WORK/$name"
    env STEWARD_SIGNUP=open STEWARD_DATA_DIR="$WORK/$name" STEWARD_LISTEN="127.0.0.1:$PORT" "$@" \
        "$BIN" serve >"$WORK/$name.out" 2>"$WORK/$name.log" &
    SERVER_PID=$!
    wait_ready "$PORT"
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# For the exit trap: the server if it still runs, the database if one was made.
stop_server_and_database() {
    if [[ -n $SERVER_PID ]]; then
        stop_server
    fi
    if [[ -n $PG_DB ]]; then
        pg_admin "drop database if exists $PG_DB" || true
    fi
}

# wrk_checked WHAT WRK_ARGS...: one wrk run with --latency among its arguments; prints
# "REQUESTS REQ/S P50_MS P99_MS", or stops the script if any answer was not 2xx or 3xx
# ("wrk saw error responses WHAT"): a run where requests fail is not a measurement.
wrk_checked() {
    local what=$1 out
    shift
    out=$(wrk "$@")
    if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
        echo "$out" >&2
        echo "wrk saw error responses $what" >&2
        exit 1
    fi
    awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
            return v
        }
        $1 == "50%"           { p50 = ms($2) }
        $1 == "99%"           { p99 = ms($2) }
        $1 == "Requests/sec:" { rps = $2 }
        / requests in /       { n = $1 }
        END { printf "%d %s %.2f %.2f\n", n, rps, p50, p99 }
    ' <<<"$out"
}
