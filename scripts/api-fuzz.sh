#!/usr/bin/env bash
# The API fuzz step (scripts/test.sh runs it after the debug build; docs/openapi.md):
# schemathesis (pinned in scripts/tools-venv.sh) generates requests from openapi.yaml for
# every operation it declares and runs all its checks against `imauth serve` (the debug
# binary, embedded store, fixture tests/api-fuzz/seed.json): no 5xx, status codes,
# content types, headers and bodies as documented, every schema-valid request accepted
# and every schema-violating one refused. Fixed seed, deterministic generation; a
# failure that tests/api-fuzz/hooks.py's allow-list does not name fails the step, and
# so does a run of fewer than MIN_CASES test cases.
#
# Environment: CARGO_TARGET_DIR (the debug binary: $CARGO_TARGET_DIR/debug/imauth),
# IMAUTH_CACHE (the tools virtualenv). Extra arguments go to `st run` (e.g. `-n 200`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MIN_CASES=1000
export IMAUTH_CACHE=${IMAUTH_CACHE:-$HOME/.cache/imauth}
IMAUTH=${CARGO_TARGET_DIR:-$IMAUTH_CACHE/target}/debug/imauth
# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh
ensure_tools_venv

work=$(mktemp -d)
server=""
cleanup() {
  [[ -z $server ]] || kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A free loopback port, chosen by the server itself.
"$IMAUTH" serve --addr 127.0.0.1:0 --seed tests/api-fuzz/seed.json \
  --password-policy insecure-fast 2>"$work/serve.log" >/dev/null &
server=$!
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/^imauth serving on //p' "$work/serve.log")
  [[ -z $url ]] || break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n $url ]] || { echo "imauth serve did not start" >&2; exit 1; }

access_token() { # user_id password
  python3 - "$url" "$1" "$2" <<'PY'
import json, sys, urllib.request
url, user_id, password = sys.argv[1:]
body = json.dumps({"user_id": int(user_id), "password": password}).encode()
request = urllib.request.Request(f"{url}/token/id", body, {"app_id": "demo"})
print(json.load(urllib.request.urlopen(request))["data"]["token"])
PY
}
admin_token() { # the app's admin token (Easemob client_credentials grant)
  python3 - "$url" <<'PY'
import json, sys, urllib.request
body = json.dumps({"grant_type": "client_credentials", "client_id": "demo-client",
                   "client_secret": "demo-client-secret-0123456789"}).encode()
request = urllib.request.Request(f"{sys.argv[1]}/demo-org/demo-app/token", body)
print(json.load(urllib.request.urlopen(request))["access_token"])
PY
}
IMAUTH_FUZZ_ACCESS_TOKEN=$(access_token 10001 alice-password)
IMAUTH_FUZZ_REVOKE_TOKEN=$(access_token 10004 revoker-password)
IMAUTH_FUZZ_ADMIN_TOKEN=$(admin_token)
export IMAUTH_FUZZ_ACCESS_TOKEN IMAUTH_FUZZ_REVOKE_TOKEN IMAUTH_FUZZ_ADMIN_TOKEN
export IMAUTH_FUZZ_HOOKS=$PWD/tests/api-fuzz/hooks.py

status=0
st --config-file tests/api-fuzz/schemathesis.toml run openapi.yaml --url "$url" \
  --checks all --report-dir "$work/report" "$@" 2>&1 | tee "$work/run.txt" || status=$?
if ((status != 0)); then
  echo "api-fuzz: schemathesis reported failures (above); server warnings and errors:" >&2
  grep -v '"level":"INFO"' "$work/serve.log" | tail -20 >&2
  exit "$status"
fi
cases=$(sed -nE 's/^ *([0-9]+) generated.*/\1/p' "$work/run.txt" | tail -1)
if [[ -z $cases ]] || ((cases < MIN_CASES)); then
  echo "api-fuzz: ${cases:-no} test cases, fewer than $MIN_CASES" >&2
  exit 1
fi
echo "api-fuzz: $cases test cases, 0 failures"
