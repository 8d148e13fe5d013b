#!/usr/bin/env bash
# The API contract, tested from the outside: openapi-spec-validator on /api/openapi.json, then
# Schemathesis (v4) with every default check and the stateful phase against a fresh `steward demo`,
# once with the owner's token and once with a read-only token (nothing unsafe may answer 2xx).
# A fixed seed and a bounded number of examples keep it to a few minutes on 2 cores.
# Usage: .ci/schemathesis.sh [path/to/steward]   (default: target/debug/steward)
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-target/debug/steward}"
[ -x "$bin" ] || cargo build -p steward --locked
examples="${SCHEMATHESIS_EXAMPLES:-10}"
seed="${SCHEMATHESIS_SEED:-20261204}"

pip_install() {
  python3 -m pip install -q --disable-pip-version-check "$@" 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages "$@"
}
pip_install 'schemathesis>=4,<5' openapi-spec-validator >/dev/null
schemathesis() { python3 -m schemathesis.cli --config-file .ci/schemathesis.toml "$@"; }

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# The fuzzer sends thousands of requests with made-up credentials from one address: past the
# per-address limit they are rightly 429, which Schemathesis' ignored-auth check does not accept.
# Raised here (only here) so that check sees the 401 every such request gets below the limit.
STEWARD_REFUSED_CREDENTIALS_PER_MINUTE=1000000 STEWARD_DATA_DIR="$work/data" STEWARD_LISTEN="127.0.0.1:$port" "$bin" demo >"$work/demo.out" 2>"$work/demo.log" &
demo=$!
cleanup() { kill "$demo" 2>/dev/null || true; wait "$demo" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 60); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS "$base/readyz" >/dev/null

echo "== openapi-spec-validator"
curl -fsS "$base/api/openapi.json" >"$work/openapi.json"
python3 -c 'import sys; from openapi_spec_validator import validate; from openapi_spec_validator.readers import read_from_filename; validate(read_from_filename(sys.argv[1])[0]); print(sys.argv[1] + ": OK")' "$work/openapi.json"

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
session=$(curl -fsS -H 'content-type: application/json' \
  -d '{"email":"olivia@demo.steward.test","password":"olivia-demo-passphrase"}' "$base/api/v1/auth/login" | json "['token']")
token() {
  curl -fsS -H 'content-type: application/json' -H "authorization: Bearer $session" \
    -d "{\"name\":\"$1\",\"scopes\":$2}" "$base/api/v1/me/tokens" | json "['token']"
}
owner=$(token schemathesis-owner '["read","write"]')
reader=$(token schemathesis-read '["read"]')

common=(--url "$base" --seed "$seed" --max-examples "$examples" --workers 1 --request-timeout 10
  --suppress-health-check all --warnings off --generation-deterministic)

# Both runs always run, and any failure in either fails CI. The owner's run loads
# .ci/rules_hooks.py: it puts right, in generated valid data, the rules the document states in
# words only (an instant in the future, a window's end after its start, an uncommon password).
status=0
echo "== schemathesis: the owner's token, every default check, stateful phase included"
SCHEMATHESIS_HOOKS=rules_hooks PYTHONPATH=.ci schemathesis run "$work/openapi.json" "${common[@]}" \
  -H "Authorization: Bearer $owner" --exclude-path /api/v1/auth/logout \
  || { echo "schemathesis (owner): failures above"; status=1; }

echo "== schemathesis: a read-only token, nothing unsafe answers 2xx"
SCHEMATHESIS_HOOKS=scope_hooks PYTHONPATH=.ci schemathesis run "$work/openapi.json" "${common[@]}" \
  -H "Authorization: Bearer $reader" --checks no_success_outside_scope \
  --include-method POST --include-method PUT --include-method PATCH --include-method DELETE \
  --exclude-path /api/v1/auth/logout --phases examples,coverage,fuzzing || status=1
exit "$status"
