#!/usr/bin/env bash
# The deploy path, checked (README "Deploy"; scripts/test.sh runs this after the tests):
#
#   1. tools: a cached virtualenv with aws-sam-cli, cfn-lint, cargo-lambda, ziglang and
#      openapi-spec-validator from PyPI (pinned in scripts/tools-venv.sh), and rustup's
#      aarch64-unknown-linux-gnu standard library;
#   2. sam validate --lint, cfn-lint template.yaml, openapi-spec-validator openapi.yaml;
#   3. sam build (arm64, BuildMethod rust-cargolambda), then every artifact is checked to
#      be an aarch64 ELF executable under the size budget.
#
# What `sam build` runs for each function (aws-lambda-builders' rust_cargo workflow) is
# `cargo lambda build --release --arm64 --bin <Binary>` in the workspace root, one
# function after another, all in one target directory: the first function compiles the
# dependencies, each later one only compiles and links its own binary. (Building all the
# binaries first in one `cargo lambda build --bin a --bin b ...` does not help: measured
# here, sam build's single-binary invocations then recompile most of the dependency graph
# under different unit hashes, doubling a cold build.) So the build time is the
# dependency build plus one link per function, which is why the `ci` profile below is
# Cargo's dev profile (no optimisation but the hashing and signing crates', no LTO).
#
# Environment:
#   IMAUTH_CACHE            cache root (default <repo>/.cache): venv/, sam-target-*/
#   IMAUTH_SAM_TARGET_DIR   cargo target directory for the arm64 build (default
#                           $IMAUTH_CACHE/sam-target-<profile>, kept between runs; one
#                           per profile, so switching profiles rebuilds nothing)
#   IMAUTH_SAM_PROFILE      `ci` (default) = `sam build` in its debug mode
#                           (SAM_BUILD_MODE=debug: `cargo lambda build` without
#                           --release, so Cargo's dev profile, as the tests build on the
#                           host): the same toolchain, cross-compilation, zig link and SAM
#                           wiring, several times faster (sizes are reported, not
#                           enforced); what scripts/test.sh builds.
#                           `release` = the release profile of Cargo.toml (fat LTO, one
#                           codegen unit: what ships; ~30 min cold on 2 cores): the size
#                           check, a separate command:
#                             IMAUTH_SAM_PROFILE=release scripts/sam-checks.sh
#   AWS_REGION              default us-east-1 (sam validate needs a region, no account)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

step() { printf '\n==> %s\n' "$*" >&2; }
elapsed() { printf '    (%ss)\n' "$(($(date +%s) - $1))" >&2; }

CACHE=${IMAUTH_CACHE:-$ROOT/.cache}
TARGET=aarch64-unknown-linux-gnu
MAX_BINARY_BYTES=6000000 # "under 6 MB", decimal: the stricter reading

# --- 1. tools ---------------------------------------------------------------------
# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh
ensure_tools_venv
VENV=$TOOLS_VENV

if ! rustup target list --installed | grep -qx "$TARGET"; then
  step "rustup target add $TARGET"
  rustup target add "$TARGET"
fi

export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-$AWS_REGION}
export SAM_CLI_TELEMETRY=0
# aws-lc is not in the tree (TLS is rustls on ring); should it come back, no jitter entropy.
export AWS_LC_SYS_NO_JITTER_ENTROPY=1
profile=${IMAUTH_SAM_PROFILE:-ci}
export CARGO_TARGET_DIR=${IMAUTH_SAM_TARGET_DIR:-$CACHE/sam-target-$profile}
case $profile in
  release) ;;
  ci)
    # Proves the same toolchain, cross-compilation, link and SAM wiring in a fraction of
    # the time. Measured cold on the quiet 2-core machine (eight functions): 129 s, where
    # the release profile with LTO off and opt-level 1 took 241 s (it still optimises
    # every dependency for size, "z" in Cargo.toml). The artifacts are not what ships.
    export SAM_BUILD_MODE=debug
    ;;
  *) echo "IMAUTH_SAM_PROFILE must be release or ci, not $profile" >&2; exit 1 ;;
esac

# --- 2. static checks ---------------------------------------------------------------
step "sam validate --lint"
sam validate --lint --template template.yaml

step "cfn-lint template.yaml"
cfn-lint template.yaml

step "openapi-spec-validator openapi.yaml"
openapi-spec-validator openapi.yaml

# --- 3. sam build -------------------------------------------------------------------
# Function logical id and binary, from the template (the test deploy_consistency checks
# that these are exactly the functions/ crates).
mapfile -t functions < <("$VENV/bin/python" - <<'EOF'
from samtranslator.yaml_helper import yaml_parse
template = yaml_parse(open("template.yaml").read())
for logical_id, resource in template["Resources"].items():
    if resource.get("Type") == "AWS::Serverless::Function":
        print(logical_id, resource["Metadata"]["BuildProperties"]["Binary"])
EOF
)
if [[ ${#functions[@]} -eq 0 ]]; then
  echo "found no functions in template.yaml" >&2
  exit 1
fi
step "sam build (profile: $profile, target dir: $CARGO_TARGET_DIR)"
started=$(date +%s)
nice sam build --template template.yaml
elapsed "$started"

step "artifacts"
status=0
for f in "${functions[@]}"; do
  id=${f% *}
  artifact=.aws-sam/build/$id/bootstrap
  if [[ ! -f $artifact ]]; then
    echo "$id: no $artifact" >&2
    status=1
    continue
  fi
  # ELF, 64-bit, little-endian, e_machine 183 (EM_AARCH64).
  header=$(od -An -tx1 -N20 "$artifact" | tr -d ' \n')
  size=$(stat -c %s "$artifact")
  printf '    %-22s %8d bytes\n' "$id" "$size" >&2
  if [[ ${header:0:8} != 7f454c46 || ${header:8:2} != 02 || ${header:36:4} != b700 ]]; then
    echo "$id: $artifact is not an aarch64 ELF executable" >&2
    status=1
  fi
  if [[ $profile == release ]] && ((size > MAX_BINARY_BYTES)); then
    echo "$id: $size bytes is over the budget of $MAX_BINARY_BYTES (DESIGN §7)" >&2
    status=1
  fi
done
exit "$status"
