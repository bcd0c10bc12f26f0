#!/usr/bin/env bash
# `sam local`, offline, against DynamoDB Local and a local Secrets Manager (docs/sam-local.md
# is this script, command for command; scripts/test.sh runs it after scripts/sam-checks.sh).
#
#   1. Docker: docker.io and qemu-user-static from apt when missing; binfmt_misc mounted and
#      qemu-aarch64 registered (the functions are arm64); dockerd started with no bridge
#      network (`--bridge=none --iptables=false`) unless one already answers.
#   2. A stand-in for the `provided.al2023` arm64 base image, built locally FROM scratch
#      out of Debian's arm64 libc6, libgcc-s1 and busybox-static (no container registry
#      is needed or reached). SAM adds its Runtime Interface Emulator on top.
#   3. DynamoDB Local (scripts/dynamodb-local.sh run, a private instance), the table and a fixture app and
#      user (`imauth`), a key set (`imauth keys init --file`) served by `imauth dev
#      secrets-manager` under the ARN passed as the KeysSecretArn parameter: the functions
#      read their keys through the same Secrets Manager call as in AWS.
#   4. `sam local invoke` of every function with its events, each answer checked; one
#      line per invoke with status and time. A control invoke with a key secret that does
#      not exist must fail its init.
#   5. `sam local start-api`: a login with the dashed `app-id` header and the JWKS over
#      HTTP; the JWKS must publish exactly the key ids of the key file and the login's
#      token must name one of them (keys read from anywhere else fail this).
#   Everything started here is stopped on exit, also on failure: containers, dockerd (if
#   started here), the Secrets Manager, DynamoDB Local (by `dynamodb-local.sh run`).
#
# Nothing leaves the machine: the functions are given loopback endpoints only (their
# containers share the host's network: scripts/sam-local/sam_on_host_network.py), SAM's
# own STS call goes to a dead loopback port, and no image is pulled.
#
# Needs root and apt (or Docker, qemu-user-static and binfmt_misc already set up); fails,
# saying why, where Docker cannot start: there is no silent skip.
#
# Usage: scripts/sam-local.sh [--no-build]
#   --no-build   use .aws-sam/build as it is (scripts/test.sh: sam-checks.sh just built it)
# Environment: IMAUTH_CACHE (default <repo>/.cache; the arm64 root filesystem is cached in
# $IMAUTH_CACHE/sam-local), CARGO_TARGET_DIR (where `imauth` is built; default target).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

die() { echo "sam-local: error: $*" >&2; exit 1; }

build=1
case ${1:-} in
  --no-build) build=0 ;;
  "") ;;
  *) die "unknown argument $1 (usage: scripts/sam-local.sh [--no-build])" ;;
esac

# DynamoDB Local: a private instance for this run (`dynamodb-local.sh run` starts it on a
# free port, exports AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION and dummy credentials, and
# stops it when this script ends), so an instance someone else started is never touched.
if [[ -z ${IMAUTH_SAM_LOCAL_DYNAMODB:-} ]]; then
  scripts/dynamodb-local.sh install
  IMAUTH_SAM_LOCAL_DYNAMODB=1 exec scripts/dynamodb-local.sh run -- "$PWD/scripts/sam-local.sh" "$@"
fi

# step NAME: a heading; the time since the previous step is booked to that one, and the
# list is printed at the end (where the time goes).
phases=()
phase_name=""
phase_start=$(date +%s)
book() {
  if [[ -n $phase_name ]]; then
    phases+=("$(printf '%4d s  %s' $(($(date +%s) - phase_start)) "$phase_name")")
  fi
}
step() {
  book
  phase_name=$*
  phase_start=$(date +%s)
  printf '\n==> %s\n' "$*" >&2
}

CACHE=${IMAUTH_CACHE:-$ROOT/.cache}
SAM_CACHE=$CACHE/sam-local
VENV=$CACHE/venv
IMAGE=imauth-local/provided-al2023-arm64:latest
KEYS_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:imauth/local-keys-AbCdEf
PUBLIC_KEYS_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:imauth/local-keys-public-AbCdEf
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
IMAUTH=$CARGO_TARGET_DIR/debug/imauth
started=$(date +%s)

WORK=$(mktemp -d)
dockerd_pid=""
secrets_pid=""
api_pid=""
cleanup() {
  local status=$? stop_start
  set +e
  stop_start=$(date +%s)
  book
  phase_name=""
  [[ -n $api_pid ]] && kill -TERM -- "-$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
  if docker info >/dev/null 2>&1; then
    # What SAM left behind: containers of the invoke image (start-api's, if interrupted).
    docker ps -aq --filter "ancestor=${IMAGE%:*}:rapid-arm64" | xargs -r docker rm -f >/dev/null
  fi
  [[ -n $secrets_pid ]] && kill "$secrets_pid" 2>/dev/null && wait "$secrets_pid" 2>/dev/null
  if [[ -n $dockerd_pid ]]; then
    kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null
    echo "sam-local: dockerd stopped" >&2
  fi
  rm -rf "$WORK"
  book
  phase_name="stopping what was started"
  phase_start=$stop_start
  book
  printf 'sam-local: %s\n' "${phases[@]}" >&2
  echo "sam-local: $(($(date +%s) - started)) s in all, exit $status" >&2
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. Docker, qemu and binfmt ---------------------------------------------------------
step "Docker engine, qemu-user-static, binfmt_misc"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
[[ -x /usr/bin/qemu-aarch64-static ]] || missing+=(qemu-user-static)
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || die "needs ${missing[*]}; run as root (apt-get) or install them"
  echo "apt-get install ${missing[*]}" >&2
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >"$WORK/apt.log" 2>&1 || { tail -n 20 "$WORK/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
fi
if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
    die "cannot mount binfmt_misc: arm64 binaries cannot run on this $(uname -m) machine"
fi
if [[ $(uname -m) != aarch64 && ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
  # The F flag in Debian's entry makes the kernel keep the interpreter open, so it also
  # runs arm64 binaries inside containers, where /usr/bin/qemu-aarch64-static is absent.
  cat /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register ||
    die "cannot register qemu-aarch64 with binfmt_misc"
fi

if docker info >/dev/null 2>&1; then
  echo "using the Docker engine already running" >&2
else
  dockerd --bridge=none --iptables=false --ip6tables=false >"$WORK/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.5
  done
  if ! docker info >/dev/null 2>&1; then
    tail -n 20 "$WORK/dockerd.log" >&2
    die "Docker could not start here (dockerd log above): sam local cannot run"
  fi
  echo "dockerd started (pid $dockerd_pid), no bridge network" >&2
fi

# --- 2. the stand-in base image ---------------------------------------------------------
step "base image $IMAGE (Debian arm64 libc6, libgcc-s1, busybox-static; FROM scratch)"
rootfs=$SAM_CACHE/rootfs
if [[ ! -x $rootfs/bin/busybox ]]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
  rm -rf "$SAM_CACHE" && mkdir -p "$SAM_CACHE/debs" "$rootfs.tmp"
  (cd "$SAM_CACHE/debs" && apt-get download -qq libc6:arm64 libgcc-s1:arm64 busybox-static:arm64 2>/dev/null)
  for deb in "$SAM_CACHE"/debs/*.deb; do dpkg-deb -x "$deb" "$rootfs.tmp"; done
  rm -rf "$rootfs.tmp/usr/share"
  # The shell and tools SAM's image build runs (mv, chmod), and a few for debugging.
  for applet in sh mv chmod cp rm ls cat env mkdir; do ln -s busybox "$rootfs.tmp/bin/$applet"; done
  mkdir -p "$rootfs.tmp"/{var/task,var/runtime,opt,tmp}
  chmod 1777 "$rootfs.tmp/tmp"
  mv "$rootfs.tmp" "$rootfs"
fi
"$rootfs/bin/busybox" true 2>/dev/null || die "an arm64 binary does not run here (binfmt_misc/qemu)"
docker build --quiet --platform linux/arm64 -t "$IMAGE" -f scripts/sam-local/Dockerfile "$SAM_CACHE" \
  >/dev/null 2>"$WORK/image.log" || { cat "$WORK/image.log" >&2; die "docker build of $IMAGE failed"; }

# --- 3. build, DynamoDB Local, fixtures, keys, Secrets Manager ---------------------------
if ((build)); then
  step "sam build (scripts/sam-checks.sh, ci profile)"
  IMAUTH_SAM_PROFILE=${IMAUTH_SAM_PROFILE:-ci} scripts/sam-checks.sh
fi
[[ -f .aws-sam/build/template.yaml ]] || die "no .aws-sam/build: run sam build (scripts/sam-checks.sh)"
[[ -x $IMAUTH ]] || cargo build -p imauth --quiet

step "table imauth-local, app demo and user alice in DynamoDB Local ($AWS_ENDPOINT_URL_DYNAMODB)"
export TABLE_NAME=imauth-local IMAUTH_PASSWORD_POLICY=insecure-fast
"$IMAUTH" table create >/dev/null
# The client secret is printed once: the client-credentials event gets it (with_tokens).
"$IMAUTH" app create --app-id demo --org-name demo-org --app-name demo-app \
  --client-id demo-client >"$WORK/app.json"
client_secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["client_secret"])' \
  "$WORK/app.json")
echo alice-password | "$IMAUTH" user create --app-id demo --user-id 10001 --username alice \
  --phone +8613800000000 --email alice@example.com >/dev/null
# events/user-admin/delete.json deletes user c.
echo c-password | "$IMAUTH" user create --app-id demo --user-id 10003 --username c >/dev/null

step "keys: imauth keys init --file, served by imauth dev secrets-manager"
# The key ids (never key material) are what the JWKS checks below compare with.
"$IMAUTH" keys init --file "$WORK/keys.json" >"$WORK/key-ids.json"
# The verify-only functions (jwks, push-token) get the public half only, as in AWS.
"$IMAUTH" keys public --file "$WORK/keys.json" >"$WORK/public-keys.json"
"$IMAUTH" dev secrets-manager --secret "$KEYS_SECRET_ARN=$WORK/keys.json" \
  --secret "$PUBLIC_KEYS_SECRET_ARN=$WORK/public-keys.json" >"$WORK/secrets-manager.json" &
secrets_pid=$!
for _ in $(seq 100); do [[ -s $WORK/secrets-manager.json ]] && break; sleep 0.1; done
secrets_endpoint=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["endpoint"])' "$WORK/secrets-manager.json") ||
  die "imauth dev secrets-manager did not start"
sed -e "s|@DYNAMODB_ENDPOINT@|$AWS_ENDPOINT_URL_DYNAMODB|" \
    -e "s|@SECRETS_MANAGER_ENDPOINT@|$secrets_endpoint|" events/env.local.json >"$WORK/env.json"
echo "DynamoDB Local $AWS_ENDPOINT_URL_DYNAMODB, Secrets Manager $secrets_endpoint" >&2

# --- 4. sam local invoke ----------------------------------------------------------------
# SAM's own AWS calls: STS to a dead loopback port, no telemetry, no image pulls.
export AWS_ENDPOINT_URL_STS=http://127.0.0.1:9 SAM_CLI_TELEMETRY=0
sam() { "$VENV/bin/python" scripts/sam-local/sam_on_host_network.py "$@"; }
local_args=(--skip-pull-image --invoke-image "$IMAGE" --env-vars "$WORK/env.json")

# invoke FUNCTION EVENT_FILE EXPECTED_STATUS [KEYS_SECRET_ARN]: one line with the status
# and the time;
# the answer is kept in $WORK/answer.json.
invoke() {
  local function=$1 event=$2 expected=$3 arn=${4:-$KEYS_SECRET_ARN} t0 t1 status
  t0=$(date +%s%N)
  sam local invoke "$function" -e "$event" "${local_args[@]}" \
    --parameter-overrides "KeysSecretArn=$arn" "PublicKeysSecretArn=$PUBLIC_KEYS_SECRET_ARN" \
    >"$WORK/answer.json" 2>"$WORK/invoke.log" || true
  t1=$(date +%s%N)
  # The HTTP status of the function's answer; `failed` when the function did not answer.
  status=$(python3 -c 'import json,sys
try: print(json.load(open(sys.argv[1]))["statusCode"])
except Exception: print("failed")' "$WORK/answer.json")
  printf 'invoke %-21s %-44s %-9s %5.1f s\n' "$function" "${event#"$WORK"/}" "$status" \
    "$(awk "BEGIN { print ($t1 - $t0) / 1e9 }")"
  if [[ $status != "$expected" ]]; then
    tail -n 15 "$WORK/invoke.log" >&2
    die "$function with $event answered $status, expected $expected"
  fi
}
# field PATH: a field of the last answer's JSON body (data.token, ...).
field() {
  python3 -c 'import json,sys
value = json.loads(json.load(open(sys.argv[1]))["body"])
for part in sys.argv[2].split("."): value = value[part]
print(value)' "$WORK/answer.json" "$1"
}
# with_tokens EVENT: the event with ACCESS_TOKEN, REFRESH_TOKEN and ADMIN_TOKEN replaced,
# and the fixture client secret of events/ by the one `app create` printed.
access_token= refresh_token= admin_token=
with_tokens() {
  local out=$WORK/$1
  mkdir -p "$(dirname "$out")"
  sed -e "s|ACCESS_TOKEN|$access_token|g" -e "s|REFRESH_TOKEN|$refresh_token|g" \
    -e "s|ADMIN_TOKEN|$admin_token|g" -e "s|demo-client-secret-0123456789|$client_secret|g" \
    "$1" >"$out"
  echo "$out"
}

step "sam local invoke, every function"
invoke TokenIdFunction events/token-id/ok.json 200
invoke TokenIdFunction events/token-id/wrong-password.json 401
invoke TokenIdFunction events/token-id/unknown-user.json 401
invoke TokenIdFunction events/token-id/get.json 405
invoke TokenLoginFunction events/token-login/ok-phone.json 200
invoke TokenLoginFunction events/token-login/ok-email.json 200
access_token=$(field data.token)
refresh_token=$(field data.refresh_token)
invoke TokenLoginFunction events/token-login/unknown-user.json 401
invoke TokenUserFunction events/token-user/ok.json 200
invoke TokenUserFunction events/token-user/wrong-password.json 401
invoke AppTokenFunction events/app-token/password-default-ttl.json 200
invoke AppTokenFunction "$(with_tokens events/app-token/client-credentials.json)" 200
admin_token=$(field access_token)
invoke AppTokenFunction "$(with_tokens events/app-token/inherit.json)" 200
invoke AppTokenFunction "$(with_tokens events/app-token/inherit-unknown-user.json)" 404
invoke UserAdminFunction "$(with_tokens events/user-admin/get.json)" 200
invoke UserAdminFunction "$(with_tokens events/user-admin/register.json)" 200
invoke UserAdminFunction "$(with_tokens events/user-admin/delete.json)" 200
invoke UserAdminFunction events/user-admin/register-no-token.json 401
invoke PushTokenFunction "$(with_tokens events/push-token/register-ring.json)" 200
invoke PushTokenFunction "$(with_tokens events/push-token/list-ring.json)" 200
invoke TokenRefreshFunction "$(with_tokens events/token-refresh/refresh.json)" 200
invoke JwksFunction events/jwks/get.json 200
python3 - "$WORK/answer.json" "$WORK/key-ids.json" <<'EOF' || die "the JWKS is not the key file's public keys"
import json, sys
published = {key["kid"] for key in json.loads(json.load(open(sys.argv[1]))["body"])["keys"]}
expected = {key["kid"] for key in json.load(open(sys.argv[2]))["keys"]}
assert published == expected, f"JWKS kids {published} != key file kids {expected}"
EOF
# Control: a key secret the local Secrets Manager does not hold must fail the cold start.
invoke TokenIdFunction events/token-id/ok.json failed "${KEYS_SECRET_ARN%-*}-wrong"
grep -q "configuration refused" "$WORK/invoke.log" || die "the control invoke failed, but not in init"

# --- 5. sam local start-api -------------------------------------------------------------
step "sam local start-api: a login (app-id header) and the JWKS"
api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
setsid "$VENV/bin/python" scripts/sam-local/sam_on_host_network.py local start-api \
  --host 127.0.0.1 --port "$api_port" "${local_args[@]}" \
  --parameter-overrides "KeysSecretArn=$KEYS_SECRET_ARN" "PublicKeysSecretArn=$PUBLIC_KEYS_SECRET_ARN" \
  >"$WORK/api.log" 2>&1 &
api_pid=$!
for _ in $(seq 120); do
  curl -s -o /dev/null "http://127.0.0.1:$api_port/" && break
  kill -0 "$api_pid" 2>/dev/null || { tail -n 20 "$WORK/api.log" >&2; die "sam local start-api exited"; }
  sleep 0.5
done
request() { # request NAME CURL_ARGS...: one line with status and time; body in $WORK/api-answer.json
  local name=$1 line
  shift
  line=$(curl -s -o "$WORK/api-answer.json" -w '%{http_code} %{time_total}' "$@")
  printf 'start-api %-52s %-9s %5.1f s\n' "$name" "${line% *}" "${line#* }"
  [[ ${line% *} == 200 ]] || { tail -n 20 "$WORK/api.log" >&2; die "$name answered ${line% *}"; }
}
request "POST /token/id (app-id: demo)" -X POST "http://127.0.0.1:$api_port/token/id" \
  -H 'app-id: demo' -H 'content-type: application/json' \
  -d '{"user_id":10001,"password":"alice-password"}'
cp "$WORK/api-answer.json" "$WORK/login.json"
request "GET /.well-known/jwks.json" "http://127.0.0.1:$api_port/.well-known/jwks.json"
python3 - "$WORK/login.json" "$WORK/api-answer.json" "$WORK/key-ids.json" <<'EOF' || die "start-api: the login's token or the JWKS is wrong"
import base64, json, sys
login = json.load(open(sys.argv[1]))
assert login["code"] == 200, login
token = login["data"]["token"]
header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
published = {key["kid"] for key in json.load(open(sys.argv[2]))["keys"]}
expected = {key["kid"] for key in json.load(open(sys.argv[3]))["keys"]}
assert published == expected, f"JWKS kids {published} != key file kids {expected}"
assert header["kid"] in published, f"token kid {header['kid']} not in the JWKS {published}"
EOF
echo "sam-local: every invoke and request answered as expected" >&2
