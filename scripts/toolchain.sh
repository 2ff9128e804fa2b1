#!/usr/bin/env bash
# What scripts/test.sh and scripts/demo.sh need before they build: Cargo >= 1.91 (the
# repository's .cargo/config.toml sets build.target = "host-tuple", which older Cargo cannot
# read) and the host's C compiler and C library (Rust links with cc; the static build needs
# libc.a from libc6-dev). Sourced by both; as root it installs the C compiler when missing.
# Exits 2 with what to do when Cargo is missing or too old.

binfmtctl_toolchain() {
  local need_minor=91 how
  how="get a newer one with rustup: curl --proto '=https' -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal, then . \"\$HOME/.cargo/env\" (or rustup update stable); Debian 12's own cargo package is too old"
  if ! command -v cargo >/dev/null 2>&1; then
    echo "$0: cargo not found: this repository needs Cargo >= 1.$need_minor; $how" >&2
    exit 2
  fi
  local version minor
  version=$(cargo --version 2>/dev/null | awk '{print $2}')
  minor=$(printf '%s' "$version" | awk -F. '{print ($1 > 1) ? 1000 : $2}')
  if ! [ "${minor:-0}" -ge "$need_minor" ] 2>/dev/null; then
    echo "$0: cargo ${version:-of unknown version} is too old: this repository needs Cargo >= 1.$need_minor (.cargo/config.toml's build.target = \"host-tuple\"); $how" >&2
    exit 2
  fi
  if ! command -v cc >/dev/null 2>&1 || ! dpkg-query -W -f='${Status}' libc6-dev 2>/dev/null | grep -q 'install ok installed'; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
    else
      echo "$0: the host C compiler (cc) or libc6-dev is missing: Rust links with cc, and the static build needs libc.a; install them: sudo apt install gcc libc6-dev" >&2
      exit 2
    fi
  fi
}
binfmtctl_toolchain
