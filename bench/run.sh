#!/usr/bin/env bash
# binfmtctl's benchmarks (issue 6): builds what they need, runs every comparison paired and
# interleaved inside private binfmt_misc instances, and writes medians, spread and ratios as
# markdown to stdout and to target/bench/results.md (raw samples: results.json).
#
#   bash bench/run.sh            # the full run (about 2-3 minutes on 2 cores)
#   bash bench/run.sh --quick    # a few rounds of everything: checks the harness, not the numbers
#   bash bench/run.sh --only exec,run   # any of apply, exec, run, check, startup, build, dynamic
#
# Needs Linux >= 6.7 (a private binfmt_misc per user namespace) and user namespaces; works as
# root or as an ordinary user. The host's global binfmt_misc table is never written: every
# registration, flush and tool run happens in a worker that entered a new user + mount
# namespace, mounted its own instance and checked that it is empty (bench/worker.py).
# Debian's update-binfmts is taken from the binfmt-support package UNPACKED into
# target/bench/ (apt-get download + dpkg-deb -x), never installed: installing it registers
# every qemu-* format in the global table.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/target/bench
mkdir -p "$work"

# --- packages -------------------------------------------------------------------------------
need=()
command -v qemu-riscv64-static >/dev/null || need+=(qemu-user-static)
command -v qemu-riscv64 >/dev/null || need+=(qemu-user)
command -v riscv64-linux-gnu-gcc >/dev/null || need+=(gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)
# a second cross sysroot: section 6c's build has two systems, so its prefix is the view
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
# gcc with a static libc, for the P-wrapper
echo 'int main(void){return 0;}' | gcc -static -x c -o /dev/null - 2>/dev/null || need+=(gcc libc6-dev)
[ -x /lib/systemd/systemd-binfmt ] || need+=(systemd)
command -v unshare >/dev/null || need+=(util-linux)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v python3 >/dev/null || need+=(python3)
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench/run.sh: missing packages: ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
    exit 2
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

debian_conf=/usr/lib/binfmt.d/qemu-riscv64.conf   # Debian's registration, from qemu-user-static
if [ ! -f "$debian_conf" ]; then
  echo "bench/run.sh: $debian_conf is missing (Debian's qemu-user-static ships it); reinstall qemu-user-static" >&2
  exit 2
fi

# update-binfmts: the installed one if any, else unpacked from the package (no maintainer
# scripts run, so nothing is registered anywhere).
if command -v update-binfmts >/dev/null; then
  update_binfmts=$(command -v update-binfmts)
else
  update_binfmts=$work/binfmt-support/usr/sbin/update-binfmts
  if [ ! -x "$update_binfmts" ]; then
    tmp=$(mktemp -d); chmod 0755 "$tmp"
    (cd "$tmp" && apt-get download -qq binfmt-support >/dev/null 2>&1) || {
      echo "bench/run.sh: cannot download binfmt-support (apt-get download binfmt-support); run apt-get update first" >&2
      exit 2
    }
    rm -rf "$work/binfmt-support"
    dpkg-deb -x "$tmp"/binfmt-support_*.deb "$work/binfmt-support"
    rm -rf "$tmp"
  fi
fi

# --- builds ---------------------------------------------------------------------------------
echo "bench: building binfmtctl (release) and the fixtures" >&2
cargo build --release --locked -q
# .cargo/config.toml builds for the host's target triple (a static binary): target/<triple>/.
bin=$root/target/$(rustc -vV | sed -n 's/^host: //p')/release/binfmtctl
riscv64-linux-gnu-gcc -static -O2 -o "$work/hello-riscv64" tests/fixtures/hello.c
# What cross compilers make by default: dynamically linked (loader and libc from Debian's cross
# sysroot /usr/riscv64-linux-gnu, libc6-riscv64-cross).
riscv64-linux-gnu-gcc -O2 -o "$work/hello-riscv64-dyn" tests/fixtures/hello.c
# The NixOS default path's P-wrapper, in front of the dynamically linked qemu, reached through
# a symlink as NixOS's /run/binfmt/riscv64-linux is.
gcc -static -O2 -std=c99 -Wall -Wextra -DTARGET_QEMU="\"$(command -v qemu-riscv64)\"" \
  -o "$work/qemu-riscv64-binfmt-P" bench/binfmt-p-wrapper.c
# The floor of any wrapper that is itself a small static program: the same wrapper in front of
# the static qemu (used in the `binfmtctl run` comparison).
gcc -static -O2 -std=c99 -Wall -Wextra -DTARGET_QEMU="\"$(command -v qemu-riscv64-static)\"" \
  -o "$work/static-trampoline" bench/binfmt-p-wrapper.c
# The floor of a Rust program doing `run`'s job at the least (read the header, find qemu in
# $PATH, exec it), built as binfmtctl is (.cargo/config.toml: glibc linked statically).
cargo build --release --locked -q --manifest-path bench/rust-floor/Cargo.toml --target-dir "$work/rust-floor"
rust_floor=$work/rust-floor/$(rustc -vV | sed -n 's/^host: //p')/release/rust-floor
mkdir -p "$work/run-binfmt"
ln -sfn "$work/qemu-riscv64-binfmt-P" "$work/run-binfmt/riscv64-linux"

# --- inputs ---------------------------------------------------------------------------------
"$bin" systems --json > "$work/systems.json"
n_systems=$(python3 bench/prepare.py "$bin" "$work" 2> "$work/left-out")
echo "bench: $n_systems registrations; left out: $(cat "$work/left-out")" >&2

# A look at the global table before and after (read-only), when it is mounted.
global_snapshot() {
  if mountpoint -q /proc/sys/fs/binfmt_misc 2>/dev/null; then
    ls /proc/sys/fs/binfmt_misc | sort | tr '\n' ' '
  else
    echo "(not mounted)"
  fi
}
before=$(global_snapshot)

python3 bench/bench.py \
  --binfmtctl "$bin" --hello "$work/hello-riscv64" --hello-dyn "$work/hello-riscv64-dyn" --trampoline "$work/static-trampoline" --rust-floor "$rust_floor" \
  --qemu-static "$(command -v qemu-riscv64-static)" --qemu-dynamic "$(command -v qemu-riscv64)" \
  --systemd-binfmt /lib/systemd/systemd-binfmt --update-binfmts "$update_binfmts" \
  --config-all "$work/config-all.toml" --config-riscv64 "$work/config-riscv64.toml" \
  --binfmt-d-all "$work/all.conf" --deb-importdir "$work/debian-import" \
  --deb-admindir "$work/debian-admin" --debian-conf "$debian_conf" \
  --nixos-line "$(cat "$work/nixos-line")" --systems-json "$work/systems.json" \
  --n-systems "$n_systems" --left-out "$(cat "$work/left-out")" --work "$work" --out "$work" "$@"

after=$(global_snapshot)
if [ "$before" != "$after" ]; then
  echo "bench: note: the global binfmt_misc table changed during the run (before: $before; after: $after)." >&2
  echo "bench: this benchmark only writes inside private instances; another program changed it." >&2
fi
