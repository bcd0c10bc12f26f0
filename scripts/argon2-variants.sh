#!/usr/bin/env bash
# Rust argon2 vs the C reference built several ways, at imauth's parameters (argon2id
# m=19456 KiB, t=2, p=1): the "Rust vs C in detail" figures of BENCHMARKS.md.
#
# Builds bench/argon2-lab (its own small workspace) once per variant into
# target/argon2-lab/<variant> and runs it:
#   native       libargon2 opt.c with -march=native (argon2-sys "simd"; AVX-512/AVX2 here)
#   haswell      opt.c with CFLAGS=-march=haswell (AVX2)
#   x86-64       opt.c with CFLAGS=-march=x86-64 (SSE2 only)
#   ref          the portable ref.c (what Debian's libargon2 is)
#   rust-native  Rust built with RUSTFLAGS=-C target-cpu=native, C as in native
# then, from the native build, the work area on 4 KiB vs transparent huge pages
# (`pages vec|huge`, fresh processes) and one vs two verifies at once (`parallel 1|2`).
#
# Usage: scripts/argon2-variants.sh [VARIANT...]     (default: all; LAB_SECS=6 per run)
# The opt.c variants are x86-only (argon2-sys builds opt.c from x86 intrinsics).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
lab=bench/argon2-lab/Cargo.toml
variants=("$@")
((${#variants[@]})) || variants=(native haswell x86-64 ref rust-native)

build() { # variant, then env assignments / cargo flags
  local v=$1; shift
  echo "==> building $v" >&2
  env "$@" nice cargo build --release --quiet --manifest-path "$lab" --target-dir "target/argon2-lab/$v" \
    ${NO_DEFAULT:+--no-default-features}
}

for v in "${variants[@]}"; do
  case "$v" in
    native)      build native ;;
    haswell)     build haswell CFLAGS=-march=haswell ;;
    x86-64)      build x86-64 CFLAGS=-march=x86-64 ;;
    ref)         NO_DEFAULT=1 build ref ;;
    rust-native) build rust-native RUSTFLAGS="-C target-cpu=native" ;;
    *) echo "argon2-variants: unknown variant $v" >&2; exit 2 ;;
  esac
  echo "--- $v (load average $(cut -d' ' -f1 /proc/loadavg))"
  "target/argon2-lab/$v/release/argon2-lab"
done

if [[ " ${variants[*]} " == *" native "* ]]; then
  bin=target/argon2-lab/native/release
  echo "--- work area pages (fresh process each)"
  for _ in 1 2 3; do "$bin/pages" vec; "$bin/pages" huge; done
  echo "--- one vs two verifies at once"
  "$bin/parallel" 1
  "$bin/parallel" 2
fi
