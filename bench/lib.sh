# Shared helpers for bench/http.sh and bench/startup.sh (sourced, not run).

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
