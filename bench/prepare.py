#!/usr/bin/env python3
"""Writes the benchmark's inputs into WORK from `binfmtctl systems --json`:

- config-all.toml: one [[system]] table (name = system, static qemu, flags PF) per system that
  has an installed qemu and that this host does not run natively (registering a native system
  sends every native exec back into qemu: ELOOP). Of systems whose magic and mask are identical
  (armv6l-linux and armv7l-linux), only armv7l-linux is kept: Debian's update-binfmts refuses a
  second fix-binary format with the same magic, and the three tools must get the same lines.
- all.conf: the same registrations as binfmt.d lines (`binfmtctl export --format binfmt.d`).
- debian-import/NAME: the same as update-binfmts format files (`export --format debian`).
- config-riscv64.toml is left to `binfmtctl enable` in the exec benchmark.
- nixos-line: NixOS's riscv64-linux line for the default (non-static) path: same magic and mask,
  the P-wrapper behind WORK/run-binfmt/riscv64-linux, flag P.
Prints the number of registrations and the systems left out, with why.
"""

import json
import os
import subprocess
import sys

binfmtctl, work = sys.argv[1], sys.argv[2]
systems = json.load(open(os.path.join(work, "systems.json")))["systems"]

left_out = []
cand = []
for s in systems:
    if s["interpreter"] is None:
        left_out.append(f"{s['system']} (no interpreter installed)")
    elif s["native"]:
        left_out.append(f"{s['system']} (native here)")
    else:
        cand.append(s)


def config_text(items):
    return "".join(
        f'[[system]]\nsystem = "{s["system"]}"\nname = "{s["system"]}"\n'
        f'interpreter = "{s["interpreter"]["path"]}"\nflags = "PF"\n\n'
        for s in items)


def export(config, fmt):
    return subprocess.run([binfmtctl, "--config", config, "export", "--format", fmt],
                          check=True, capture_output=True, text=True).stdout


config_all = os.path.join(work, "config-all.toml")
with open(config_all, "w") as f:
    f.write(config_text(cand))
# Of systems with the same magic:mask keep one: armv7l-linux (Debian's armhf) before armv6l-linux.
PREFERRED = ["armv7l-linux"]
cand.sort(key=lambda s: s["system"] not in PREFERRED)
seen, keep = {}, []
lines = {l.split(":")[1]: l for l in export(config_all, "binfmt.d").splitlines() if l.startswith(":")}
for s in cand:
    f = lines[s["system"]].split(":")
    key = (f[4], f[5])
    if key in seen:
        left_out.append(f"{s['system']} (same magic and mask as {seen[key]})")
        continue
    seen[key] = s["system"]
    keep.append(s)
keep.sort(key=lambda s: s["system"])
with open(config_all, "w") as f:
    f.write(config_text(keep))
with open(os.path.join(work, "all.conf"), "w") as f:
    f.write(export(config_all, "binfmt.d"))

imp = os.path.join(work, "debian-import")
os.makedirs(imp, exist_ok=True)
for old in os.listdir(imp):
    os.unlink(os.path.join(imp, old))
for block in export(config_all, "debian").strip().split("\n\n"):
    head, body = block.split("\n", 1)
    assert head.startswith("# /usr/share/binfmts/"), head
    with open(os.path.join(imp, head.rsplit("/", 1)[1]), "w") as f:
        f.write(body + "\n")

riscv = lines["riscv64-linux"].split(":")
link = os.path.join(work, "run-binfmt", "riscv64-linux")
with open(os.path.join(work, "nixos-line"), "w") as f:
    f.write(f":riscv64-linux:M::{riscv[4]}:{riscv[5]}:{link}:P")

print(len(keep))
print("; ".join(left_out), file=sys.stderr)
