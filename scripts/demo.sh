#!/usr/bin/env bash
# binfmtctl's main job, end to end, on a fresh Debian/Ubuntu machine (as root):
# install qemu-user-static and a riscv64 cross compiler, build binfmtctl, enable
# riscv64-linux, and run a riscv64 program as if it were native.
#
#   bash scripts/demo.sh            # registers riscv64-linux in the machine's table (kept across reboots
#                                   # once the systemd unit is installed); undo: binfmtctl disable riscv64-linux
#   bash scripts/demo.sh --private  # the same inside a private binfmt_misc instance (Linux >= 6.7):
#                                   # nothing changes for the rest of the machine
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/demo.sh: run as root (sudo bash scripts/demo.sh)" >&2
  exit 2
fi
. scripts/toolchain.sh   # Cargo >= 1.91 and the host C compiler, or says how to get them
need=()
command -v qemu-riscv64-static >/dev/null || need+=(qemu-user-static)
command -v riscv64-linux-gnu-gcc >/dev/null || need+=(gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)
dpkg-query -W -f='${Status}' libc6-dev 2>/dev/null | grep -q 'install ok installed' || need+=(libc6-dev)   # libc.a: a static binfmtctl
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cargo build --release --locked -q
# .cargo/config.toml builds for the host's target triple (a static binary): target/<triple>/.
bin=$PWD/target/$(rustc -vV | sed -n 's/^host: //p')/release/binfmtctl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
riscv64-linux-gnu-gcc -static -O2 -o "$work/hello-riscv64" tests/fixtures/hello.c

steps='
set -e
echo "--- without emulation:"
"$work/hello-riscv64" || true
echo "--- binfmtctl enable riscv64-linux:"
"$bin" $cfg enable riscv64-linux
echo "--- the same program, now:"
HELLO_EXIT=0 "$work/hello-riscv64" from riscv64
echo "--- binfmtctl status:"
"$bin" $cfg status
'
if [ "${1:-}" = "--private" ]; then
  cfg="--config $work/config.toml --state-dir $work/state"
  export bin work cfg
  unshare --user --map-root-user --mount sh -c "$steps"
else
  cfg=""
  export bin work cfg
  sh -c "$steps"
fi
