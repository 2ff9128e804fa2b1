#!/usr/bin/env bash
# Build the drop-in image for tonistiigi/binfmt (Containerfile) with podman, offline:
#   scripts/build-image.sh [--binary PATH] [--tag TAG]
# The context (target/image-context/rootfs) holds binfmtctl (default: a release build of this
# checkout, statically linked by .cargo/config.toml), every /usr/bin/qemu-*-static of the host
# (Debian/Ubuntu: apt-get install --no-install-recommends qemu-user-static), and the empty
# directories binfmtctl writes to (/tmp for its probes, /run and /etc for its state and lock).
# Extra podman options (e.g. --root DIR --storage-driver vfs) come from $PODMAN_OPTS.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=localhost/binfmtctl:latest
binary=
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2;;
    --tag) tag=$2; shift 2;;
    *) echo "scripts/build-image.sh: unknown argument $1; usage: scripts/build-image.sh [--binary PATH] [--tag TAG]" >&2; exit 2;;
  esac
done
command -v podman >/dev/null || {
  echo "scripts/build-image.sh: podman is missing; install it: apt-get install --no-install-recommends podman" >&2; exit 2; }
if [ -z "$binary" ]; then
  cargo build --release --locked
  binary=$(ls target/*/release/binfmtctl | head -n 1)
fi
static() { ! od -An -c -N 4096 "$1" | tr -d ' \n' | grep -q 'ld-linux'; }
static "$binary" || {
  echo "scripts/build-image.sh: $binary is dynamically linked; a FROM scratch image needs a static one (build without RUSTFLAGS: .cargo/config.toml links statically)" >&2; exit 2; }
set -- /usr/bin/qemu-*-static
[ -e "$1" ] || {
  echo "scripts/build-image.sh: no /usr/bin/qemu-*-static; install them: apt-get install --no-install-recommends qemu-user-static" >&2; exit 2; }

context=target/image-context
rm -rf "$context"
mkdir -p "$context/rootfs/usr/bin" "$context/rootfs/run" "$context/rootfs/etc" \
         "$context/rootfs/proc" "$context/rootfs/dev" "$context/rootfs/sys" "$context/rootfs/tmp"
chmod 1777 "$context/rootfs/tmp"
install -m 0755 "$binary" "$context/rootfs/usr/bin/binfmtctl"
for q in "$@"; do install -m 0755 "$q" "$context/rootfs/usr/bin/"; done
# shellcheck disable=SC2086 # PODMAN_OPTS is a list of options
podman ${PODMAN_OPTS:-} build --pull=never --network=none -f Containerfile -t "$tag" "$context"
echo "built $tag"
