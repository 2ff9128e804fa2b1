#!/usr/bin/env bash
# The whole test suite: installs the test dependencies when run as root (Debian/Ubuntu),
# then formatting, lints and every test. Kernel-level tests run in private binfmt_misc
# instances and never change the host's global table.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh   # Cargo >= 1.91 and the host C compiler, or says how to get them

if [ "$(id -u)" -eq 0 ]; then
  bash scripts/test-deps.sh
else
  echo "scripts/test.sh: not root, so not installing test dependencies; tests that need one say which" >&2
fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked --features kernel-tier -- -D warnings
# Both tiers: the pure unit tests, and those that need root, qemu, Nix or systemd (Cargo.toml,
# [features]).
cargo test --locked --all-targets --features kernel-tier
# A short fuzz run of every parser (cargo-fuzz on the stable toolchain; figures of the long
# runs in FUZZING.md).
bash scripts/fuzz-smoke.sh 10
