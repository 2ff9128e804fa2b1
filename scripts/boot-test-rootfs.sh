#!/usr/bin/env bash
# Builds the pristine Debian bookworm root file system that tests/boot.rs boots with
# `systemd-nspawn --boot` (systemd as PID 1). tests/boot.rs runs it once and caches the result
# in target/boot-rootfs-cache/; each test run then boots a fresh copy.
#
#   bash scripts/boot-test-rootfs.sh DIR       (as root; DIR must not exist yet)
#
# It builds into DIR.partial and renames it to DIR only when everything succeeded, so an
# interrupted run never leaves a half-built DIR that would later be taken for a good one.
# The mirror is $DEBIAN_MIRROR, else the Debian mirror apt already uses here, else
# http://deb.debian.org/debian.
set -euo pipefail

if [ "$#" -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
if [ "$(id -u)" -ne 0 ]; then
  echo "$0: run as root (debootstrap needs it)" >&2
  exit 2
fi
if ! command -v debootstrap >/dev/null; then
  echo "$0: debootstrap is missing: apt-get install --no-install-recommends debootstrap systemd-container" >&2
  exit 2
fi
if [ -e "$dir" ]; then
  echo "$0: $dir exists already; remove it to build it again" >&2
  exit 2
fi

mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  # The first Debian archive URL in apt's sources, one-line (`deb [opts] URL suite`) or
  # deb822 (`URIs: URL`) format; not debian-security, which has no full archive.
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE '^(deb([[:space:]]+\[[^]]*\])?|URIs:)[[:space:]]+[^[:space:]]+' |
    grep -oE '[^[:space:]]+$' | grep -E '/debian/?$' | head -n1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

partial="$dir.partial"
rm -rf "$partial"
mkdir -p "$(dirname "$dir")"
echo "boot-test-rootfs: debootstrap bookworm from $mirror into $partial" >&2
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$partial" "$mirror" >&2
# Not needed to boot; keeps each test run's copy small.
rm -rf "$partial"/var/cache/apt/archives/*.deb "$partial"/var/lib/apt/lists/*
# The test must be the only thing that writes to binfmt_misc in there: inside the container
# it is the host's global table, and systemd-binfmt would flush all of it.
if find "$partial"/usr/lib/binfmt.d "$partial"/lib/binfmt.d "$partial"/etc/binfmt.d -type f 2>/dev/null | grep -q .; then
  echo "$0: the rootfs has binfmt.d files; refusing (systemd-binfmt would flush the host's table)" >&2
  exit 1
fi
mv "$partial" "$dir"
echo "boot-test-rootfs: done: $dir" >&2
