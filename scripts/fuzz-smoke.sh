#!/usr/bin/env bash
# Fuzz smoke run for CI: build every cargo-fuzz target of fuzz/ and run each for a few seconds
# (default 15; first argument) from its seed corpus in fuzz/corpus/<target>. Fails on any crash.
# The long runs and their figures are in FUZZING.md.
#
# Only a stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets stable rustc accept the -Z flags
# cargo-fuzz passes (sanitizer, coverage instrumentation).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz from crates.io" >&2
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

cargo fuzz build
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in $(cargo fuzz list); do
  mkdir -p "$work/$t"
  # New inputs go to a scratch corpus; the seed corpus in the repository stays as it is.
  if ! cargo fuzz run "$t" "$work/$t" "$PWD/fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$work/$t.log" 2>&1; then
    cat "$work/$t.log" >&2
    echo "fuzz-smoke: $t FAILED (the crashing input is in fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
  cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1)
  echo "fuzz-smoke: $t ok: $runs runs in ${seconds} s, $cov"
done
