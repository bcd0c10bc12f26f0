#!/usr/bin/env bash
# What the browser test (tests/tests/browser.rs) needs; scripts/test.sh runs this before
# the tests:
#
#   1. headless Chromium: Debian's `chromium` package, installed with apt when no
#      `chromium` is on the PATH (needs root; ~40 s and ~300 MB the first time);
#   2. the Easemob web SDK, npm `easemob-websdk` pinned with its integrity hash by
#      tests/web/package-lock.json, installed with `npm ci` into $IMAUTH_CACHE/websdk
#      (npm itself from apt if missing); later runs find it there and touch no network.
#
# Environment: IMAUTH_CACHE (default ~/.cache/imauth), as scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE=${IMAUTH_CACHE:-$HOME/.cache/imauth}
WEBSDK=$CACHE/websdk

apt_install() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "web-client-deps: $* missing and not root: install it (apt-get install $*)" >&2
    exit 1
  fi
  printf '==> apt-get install %s\n' "$*" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v chromium >/dev/null || apt_install chromium

# Reinstall only when the lock file changed (a new pinned version).
if ! cmp -s tests/web/package-lock.json "$WEBSDK/package-lock.json" ||
  [[ ! -f $WEBSDK/node_modules/easemob-websdk/Easemob-chat.js ]]; then
  command -v npm >/dev/null || apt_install npm
  printf '==> npm ci easemob-websdk into %s\n' "$WEBSDK" >&2
  mkdir -p "$WEBSDK"
  cp tests/web/package.json tests/web/package-lock.json "$WEBSDK/"
  (cd "$WEBSDK" && npm ci --no-audit --no-fund --loglevel=error)
fi
