#!/usr/bin/env bash
# The project's one test command (README "Test"; .ci/run calls exactly this).
#
# Installs what it needs (cargo-nextest, Java + DynamoDB Local, the tools virtualenv,
# Chromium and the Easemob web SDK for the browser test), checks formatting and lints,
# builds every binary (the Runtime-API tests drive the built function binaries), fuzzes
# the API from openapi.yaml (scripts/api-fuzz.sh),
# starts DynamoDB Local on a free loopback port for the run and stops it afterwards
# (also on failure), runs every test, smoke-runs the benchmarks (one pass each; the
# timing runs are `cargo bench`, see BENCHMARKS.md), checks the deploy path and runs the
# functions under `sam local` (scripts/sam-local.sh: needs root and apt, or Docker).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Each step's heading, and how long the one before it took (where the time goes).
test_started=$(date +%s)
step_started=""
step() {
  [[ -z $step_started ]] || printf '    (%ss)\n' "$(($(date +%s) - step_started))" >&2
  step_started=$(date +%s)
  printf '\n==> %s\n' "$*" >&2
}
trap 'printf "\ntest.sh: %ss in all\n" "$(($(date +%s) - test_started))" >&2' EXIT

# One cache per machine, outside the clone, so a fresh clone on a machine that ran this
# before reuses DynamoDB Local, the tool virtualenv and the compiled dependencies. A new
# machine fills it from scratch (registries only).
export IMAUTH_CACHE=${IMAUTH_CACHE:-$HOME/.cache/imauth}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$IMAUTH_CACHE/target}
mkdir -p "$IMAUTH_CACHE"

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "building every binary (for the Runtime-API tests)"
cargo build --workspace --bins --quiet

# openapi.yaml as the contract: schemathesis against `imauth serve` (docs/openapi.md).
step "API fuzz: every openapi.yaml operation, all checks, against imauth serve"
scripts/api-fuzz.sh

step "DynamoDB Local"
scripts/dynamodb-local.sh install

step "headless Chromium and the Easemob web SDK (for the browser test)"
scripts/web-client-deps.sh

step "tests (nextest), with DynamoDB Local running"
scripts/dynamodb-local.sh run -- cargo nextest run --workspace --no-fail-fast

step "benchmark smoke runs (one pass each, no timing claims)"
cargo test -p shared --bench login --bench requests --quiet
# The performance tools of BENCHMARKS.md, on the debug binaries built above: each fails
# only if something does not work (a function that does not start or answer, a failed
# login, a script error), never on a timing.
scripts/dynamodb-local.sh run -- scripts/size-and-memory.sh --quick --no-build
"$CARGO_TARGET_DIR/debug/coldstart" --quick --bin-dir "$CARGO_TARGET_DIR/debug" --store embedded
"$CARGO_TARGET_DIR/debug/spike" --quick --bin-dir "$CARGO_TARGET_DIR/debug"
"$CARGO_TARGET_DIR/debug/fault-in" >/dev/null
# One DynamoDB Local for both tools that need one (its start is most of their time).
scripts/dynamodb-local.sh run -- sh -c '"$1/login-timing" --quick && "$1/lambda-spike" --quick --bin-dir "$1"' \
    sh "$CARGO_TARGET_DIR/debug"

# The deploy path with the `ci` profile (the release-profile size check is the separate
# `IMAUTH_SAM_PROFILE=release scripts/sam-checks.sh`, BENCHMARKS.md), then the built
# functions under `sam local` against DynamoDB Local (docs/sam-local.md).
step "deploy path: SAM validate/lint, cfn-lint, OpenAPI, sam build (arm64, ci profile)"
IMAUTH_SAM_PROFILE=ci scripts/sam-checks.sh
step "sam local invoke / start-api against DynamoDB Local (Docker, arm64 under qemu)"
scripts/sam-local.sh --no-build
