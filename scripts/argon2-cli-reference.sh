#!/usr/bin/env bash
# argon2id with Debian's `argon2` CLI (libargon2 20171227, Debian's build) at imauth's
# parameters (m=19456 KiB, t=2, p=1, 32-byte output): a second C yardstick beside the
# one in the login bench (`cargo bench -p shared --bench login`, which builds the PHC
# sources itself with -march=native).
#
# Debian builds the portable ref.c (no SSE/AVX: its libargon2.so.1 has no pmuludq, which
# opt.c's BlaMka needs), so this is the speed a distribution's libargon2 gives.
# The CLI prints the CPU time of one hash (clock(), including the 19 MiB allocation);
# this script runs it N times (default 30) and prints the median and minimum.
#
# Usage: scripts/argon2-cli-reference.sh [N]       (installs the `argon2` package if missing)
set -euo pipefail
runs="${1:-30}"

if ! command -v argon2 >/dev/null 2>&1; then
  echo "argon2-cli-reference: installing Debian's argon2 package" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq argon2 >&2
fi

lib="$(ldconfig -p | sed -n 's/.*libargon2\.so\.1 .*=> //p' | head -n1)"
impl=unknown
if [[ -n "$lib" ]] && command -v objdump >/dev/null 2>&1; then
  if objdump -d "$lib" | grep -q pmuludq; then impl="opt.c (SIMD)"; else impl="ref.c (portable)"; fi
fi

times=()
for _ in $(seq "$runs"); do
  t="$(printf 'alice-password' | argon2 somesalt0123456 -id -t 2 -k 19456 -p 1 -l 32 \
        | sed -n 's/^\([0-9.]*\) seconds$/\1/p')"
  times+=("$t")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$runs" -v impl="$impl" -v lib="${lib:-?}" '
  { t[NR] = $1 }
  END {
    printf "Debian argon2 CLI (%s, %s), argon2id m=19456 KiB t=2 p=1: median %.1f ms, min %.1f ms over %d runs (CPU time per hash, as the CLI reports it)\n",
      lib, impl, t[int((NR + 1) / 2)] * 1000, t[1] * 1000, n
  }'
