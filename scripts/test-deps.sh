#!/usr/bin/env bash
# Installs everything the test suite needs on a Debian/Ubuntu machine (run as root), and
# unpacks the real Debian foreign-architecture programs the tests execute into
# target/debian-fixtures/. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test-deps.sh: run as root (it uses apt-get)" >&2
  exit 2
fi

export DEBIAN_FRONTEND=noninteractive
packages=(
  qemu-user-static qemu-user            # the emulators: static (F flag) and dynamic
  gcc-riscv64-linux-gnu libc6-dev-riscv64-cross libc6-riscv64-cross   # riscv64 test programs
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross          # aarch64 dynamic programs under build
  gcc-arm-linux-gnueabihf libc6-dev-armhf-cross        # armhf dynamic programs under build
  gcc-i686-linux-gnu libc6-dev-i386-cross              # i386 dynamic programs under run (tests/run.rs)
  make autoconf automake                # the autotools projects built under build's tests
  util-linux                            # unshare, setpriv
  nix-bin                               # real Nix for the emulated-build tests
  systemd systemd-container debootstrap debian-archive-keyring # systemd-binfmt, systemd-analyze, the nspawn boot test
  dpkg-dev                              # dpkg-deb for unpacking foreign packages
  libc6-dev                             # libc.a: binfmtctl is linked statically (.cargo/config.toml)
  podman                                # builds the drop-in image (Containerfile) offline, tests/fleet.rs
  python3-venv                          # a venv under target/ for kubernetes-validate (PyPI)
)
# Note: not binfmt-support. Installing it registers every qemu-* entry in the host's global
# table, which the tests must never change.
missing=()
for p in "${packages[@]}"; do
  case "$p" in \#*) continue;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  need_update=1
fi
# A ppc64el sysroot unpacked with dpkg-deb -x, as people make one (tests/run.rs): its
# lib64/ld64.so.2 is an absolute symlink.
if ! dpkg --print-foreign-architectures | grep -qx ppc64el; then
  dpkg --add-architecture ppc64el
  need_update=1
fi
if [ "${#missing[@]}" -gt 0 ] || [ -n "${need_update:-}" ]; then
  apt-get update -qq
fi
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Real Debian programs for foreign architectures.
fixtures=target/debian-fixtures
mkdir -p "$fixtures"
if [ ! -x "$fixtures/busybox-arm64" ]; then
  tmp=$(mktemp -d); chmod 0755 "$tmp"
  (cd "$tmp" && apt-get download -qq busybox-static:arm64 >/dev/null)
  dpkg-deb -x "$tmp"/busybox-static_*_arm64.deb "$tmp/root"
  install -m 0755 "$tmp/root/bin/busybox" "$fixtures/busybox-arm64"
  rm -rf "$tmp"
fi
if [ ! -x "$fixtures/sysroot-ppc64el/usr/bin/getconf" ]; then
  tmp=$(mktemp -d); chmod 0755 "$tmp"
  (cd "$tmp" && apt-get download -qq libc6:ppc64el libc-bin:ppc64el >/dev/null)
  rm -rf "$fixtures/sysroot-ppc64el"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$fixtures/sysroot-ppc64el"; done
  rm -rf "$tmp"
fi
# A real third-party package for `binfmtctl build`: GNU Hello's source, as Debian ships it
# (its `make check` runs the cross-built program). From deb-src lines made from this
# machine's own apt sources, in a list directory of our own: the system's apt setup is left
# as it is.
if [ ! -f "$fixtures/hello.orig.tar.gz" ]; then
  tmp=$(mktemp -d); chmod 0755 "$tmp"
  mkdir -p "$tmp/parts" "$tmp/lists/partial"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && sed 's/^Types: deb$/Types: deb-src/' "$f" > "$tmp/parts/$(basename "$f")"
  done
  touch "$tmp/src.list"
  [ -f /etc/apt/sources.list ] && sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$tmp/src.list"
  apt_src=(-o Dir::Etc::SourceList="$tmp/src.list" -o Dir::Etc::SourceParts="$tmp/parts"
           -o Dir::State::Lists="$tmp/lists")
  apt-get "${apt_src[@]}" update -qq
  (cd "$tmp" && apt-get "${apt_src[@]}" source --download-only -qq hello >/dev/null 2>&1)
  install -m 0644 "$tmp"/hello_*.orig.tar.gz "$fixtures/hello.orig.tar.gz"
  rm -rf "$tmp"
fi
# kubernetes-validate (PyPI) checks deploy/kubernetes/*.yaml offline against its bundled
# schemas: in a venv of its own under target/, not system-wide.
if [ ! -x target/kubernetes-validate/bin/kubernetes-validate ]; then
  /usr/bin/python3 -m venv target/kubernetes-validate
  target/kubernetes-validate/bin/pip install -q 'kubernetes-validate>=1.30'
fi
chmod 0755 target "$fixtures"
echo "test dependencies installed; fixtures in $fixtures"
