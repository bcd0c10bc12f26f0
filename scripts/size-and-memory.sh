#!/usr/bin/env bash
# Binary size and memory of every function (BENCHMARKS.md).
#
# Builds every function and the do-nothing `noop-lambda` in the release profile for the
# host (x86_64 here; `sam build` builds the same profile for arm64), prints each binary's
# stripped size against the 6 MB budget, then runs each function once under the Lambda
# Runtime API emulator against DynamoDB Local (the real init path: IMAUTH_STORE=dynamodb,
# OWASP argon2) and prints its peak RSS (VmHWM after a login; the budget is 64 MB).
#
# Usage:
#   scripts/size-and-memory.sh              # release build, 3 runs for memory
#   scripts/size-and-memory.sh --quick      # CI smoke: debug binaries, 1 run, insecure-fast
#                                           # argon2, no budget verdicts
#   scripts/size-and-memory.sh --no-build   # measure what target/release holds
#
# Needs DynamoDB Local: started for the run via scripts/dynamodb-local.sh unless
# AWS_ENDPOINT_URL_DYNAMODB is already set (scripts/dynamodb-local.sh install once).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

QUICK=0
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "size-and-memory: unknown argument $arg" >&2; exit 2 ;;
  esac
done

# Without DynamoDB Local, re-run this script under it (started and stopped for the run).
if [[ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]]; then
  exec scripts/dynamodb-local.sh run -- "$0" "$@"
fi

FUNCTIONS=(token-id token-login token-user app-token token-refresh push-token jwks user-admin)
BUDGET_BYTES=6000000 # "< 6 MB"

if ((QUICK)); then
  PROFILE=debug
  CARGO_PROFILE=()
else
  PROFILE=release
  CARGO_PROFILE=(--release)
fi
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
BIN_DIR="$TARGET_DIR/$PROFILE"

if ((BUILD)); then
  pkgs=()
  for f in "${FUNCTIONS[@]}" noop-lambda; do pkgs+=(-p "$f"); done
  echo "==> cargo build ${CARGO_PROFILE[*]} ${pkgs[*]}" >&2
  nice cargo build "${CARGO_PROFILE[@]}" "${pkgs[@]}" --quiet
  echo "==> cargo build -p bench-tools --bin coldstart" >&2
  nice cargo build -p bench-tools --bin coldstart --quiet
fi

echo "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) cores, $(uname -m); $(date -u +%Y-%m-%dT%H:%MZ)"
echo "profile: $PROFILE ($BIN_DIR), host target $(rustc -vV | sed -n 's/^host: //p')"
echo
printf '%-14s %12s %12s %8s\n' binary "file bytes" "stripped" "budget"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
over=0
for f in "${FUNCTIONS[@]}" noop-lambda; do
  bin="$BIN_DIR/$f"
  [[ -x "$bin" ]] || { echo "missing $bin" >&2; exit 1; }
  size=$(stat -c %s "$bin")
  # The release profile strips symbols already; strip a copy to prove nothing is left.
  strip --strip-all -o "$tmp/$f" "$bin"
  stripped=$(stat -c %s "$tmp/$f")
  verdict="-"
  if ((!QUICK)) && [[ "$f" != noop-lambda ]]; then
    if ((stripped < BUDGET_BYTES)); then verdict=ok; else verdict=OVER; over=1; fi
  fi
  printf '%-14s %12d %9.2f MB %8s\n' "$f" "$size" "$(awk -v b="$stripped" 'BEGIN{print b/1e6}')" "$verdict"
done
echo

if ((QUICK)); then
  "$TARGET_DIR/debug/coldstart" --quick --bin-dir "$BIN_DIR" --store dynamodb
else
  "$TARGET_DIR/debug/coldstart" --runs 3 --bin-dir "$BIN_DIR" --store dynamodb
fi
if ((!QUICK)); then
  if ((over)); then
    echo "size budget (< 6 MB stripped): NOT met"
  else
    echo "size budget (< 6 MB stripped): met by every function"
  fi
  echo "memory budget: login peak RSS (peak RSS column, token-id/token-login/token-user/app-token) < 64 MB"
fi
