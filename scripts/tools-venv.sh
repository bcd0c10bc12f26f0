# Sourced by scripts/sam-checks.sh and scripts/api-fuzz.sh: the cached tools virtualenv
# ($IMAUTH_CACHE/venv, or <repo>/.cache/venv) with the pinned PyPI packages below, created
# or brought up to date when the pins change; puts its bin/ first on PATH.
#
# Pinned: checked to install from PyPI and to work together here (cargo-lambda 1.9.2
# drives cargo-zigbuild; zig 0.15 is the newest it links aarch64 glibc binaries with;
# schemathesis 4.32.5 is the fuzzer of scripts/api-fuzz.sh, docs/openapi.md).
TOOLS_PY_PACKAGES=(
  aws-sam-cli==1.170.0
  cfn-lint==1.58.0
  cargo-lambda==1.9.2
  ziglang==0.15.2
  openapi-spec-validator==0.9.0
  schemathesis==4.32.5
)
TOOLS_VENV=${IMAUTH_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache}/venv

ensure_tools_venv() {
  local stamp=$TOOLS_VENV/.imauth-packages started
  if [[ ! -x $TOOLS_VENV/bin/sam || ! -x $TOOLS_VENV/bin/st || ! -f $stamp ||
    "$(cat "$stamp")" != "${TOOLS_PY_PACKAGES[*]}" ]]; then
    printf '\n==> installing %s into %s\n' "${TOOLS_PY_PACKAGES[*]}" "$TOOLS_VENV" >&2
    started=$(date +%s)
    python3 -m venv "$TOOLS_VENV"
    "$TOOLS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${TOOLS_PY_PACKAGES[@]}"
    printf '%s' "${TOOLS_PY_PACKAGES[*]}" >"$stamp"
    printf '    (%ss)\n' "$(($(date +%s) - started))" >&2
  fi
  export PATH="$TOOLS_VENV/bin:$PATH"
}
