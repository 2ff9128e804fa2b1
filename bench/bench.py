#!/usr/bin/env python3
"""binfmtctl's benchmarks: every comparison paired and interleaved, in private binfmt_misc
instances only. Started by bench/run.sh, which builds what is needed and passes the paths.

Method (also in BENCHMARKS.md):
- Each comparison has variants (A, B, C, ...). A round runs every variant once; the order
  rotates from round to round (ABC, BCA, CAB, ...) so no variant always goes first or last.
  The first `warmup` rounds are run and discarded. A "pair" is the two samples of the same
  round, so a slow moment of the shared machine hits both sides of a ratio.
- Timed region: from posix_spawn to the reaped exit status of the one command, measured with
  time.perf_counter_ns (CLOCK_MONOTONIC) by the worker INSIDE the namespace. Namespace creation,
  flushing the table, resetting state directories and checking the result are outside it.
- Reported per variant: median, interquartile range, min and max; per comparison: the ratio of
  medians to the baseline and the median of the per-round ratios with a bootstrap 95% interval.
"""

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
BINFMT = "/proc/sys/fs/binfmt_misc"
FLUSH = f"echo -1 > {BINFMT}/status"


class BenchError(Exception):
    pass


class Worker:
    """A worker process with its own private binfmt_misc instance (see worker.py)."""

    def __init__(self, label):
        self.label = label
        env = dict(os.environ, BENCH_PARENT_USERNS=os.readlink("/proc/self/ns/user"))
        self.proc = subprocess.Popen(
            ["unshare", "--user", "--map-root-user", "--mount",
             sys.executable, os.path.join(HERE, "worker.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        hello = self._read()
        if not hello.get("ready"):
            raise BenchError(f"worker {label}: {hello.get('fatal', hello)}")

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise BenchError(f"worker {self.label} died (exit {self.proc.wait()})")
        reply = json.loads(line)
        if "fatal" in reply:
            raise BenchError(f"worker {self.label}: {reply['fatal']}")
        return reply

    def call(self, req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        if "error" in reply:
            raise BenchError(f"worker {self.label}: {reply['error']}")
        return reply

    def sh(self, script):
        r = self.call({"op": "sh", "script": script})
        if r["rc"] != 0:
            raise BenchError(f"worker {self.label}: `{script}` failed ({r['rc']}): {r['err'].strip()}")
        return r["out"]

    def close(self):
        try:
            self.proc.stdin.write(json.dumps({"op": "exit"}) + "\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.proc.wait(timeout=30)


@dataclass
class Variant:
    label: str
    worker: Worker
    req: dict
    samples: list = field(default_factory=list)  # ns, one per measured round
    cpu: list = field(default_factory=list)  # s (user + sys, command and its reaped children)
    peak_kib: int = 0  # peak RSS under /usr/bin/time (median of a few runs), when measured
    rcs: list = field(default_factory=list)  # exit status per measured round
    outs: list = field(default_factory=list)  # captured stdout of failed rounds (capture=True)


def measure_rss(variants, reps=5):
    """Peak RSS of each variant's command, outside the timed rounds."""
    for v in variants:
        v.peak_kib = statistics.median(
            v.worker.call(dict(v.req, op="rss"))["maxrss_kb"] for _ in range(reps))


def run_paired(variants, rounds, warmup, progress=""):
    """Interleave the variants, rotating their order each round; keep the measured rounds."""
    n = len(variants)
    t0 = time.monotonic()
    for r in range(warmup + rounds):
        order = [variants[(r + i) % n] for i in range(n)]
        for v in order:
            reply = v.worker.call(dict(v.req, op="time"))
            if r >= warmup:
                v.samples.append(reply["ns"])
                v.rcs.append(reply["rc"])
                if reply["rc"] != 0 and "out" in reply:
                    v.outs.append(reply["out"])
                v.cpu.append(reply["utime"] + reply["stime"])
    if progress:
        print(f"  {progress}: {rounds} rounds (+{warmup} warm-up) x {n} variants in "
              f"{time.monotonic() - t0:.1f} s", file=sys.stderr)


# ---------------------------------------------------------------------------- statistics

def quartiles(xs):
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def bootstrap_median_ci(xs, reps=2000, seed=1):
    rnd = random.Random(seed)
    n = len(xs)
    meds = sorted(statistics.median(rnd.choices(xs, k=n)) for _ in range(reps))
    return meds[int(0.025 * reps)], meds[int(0.975 * reps) - 1]


def summary(ns):
    ms = [x / 1e6 for x in ns]
    q1, q3 = quartiles(ms)
    return {"median": statistics.median(ms), "q1": q1, "q3": q3, "min": min(ms), "max": max(ms), "n": len(ms)}


def paired_ratio(a, b):
    """Median of per-round ratios a_i / b_i, with a bootstrap 95% interval."""
    ratios = [x / y for x, y in zip(a, b)]
    lo, hi = bootstrap_median_ci(ratios)
    return statistics.median(ratios), lo, hi


def fmt_ms(x):
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def table(variants, baseline, rss=False, cpu=False):
    """Markdown rows: median, IQR, min-max, ratios to the baseline (ratio of medians and the
    median of paired per-round ratios with its 95% interval)."""
    head = "| variant | median ms | IQR ms | min-max ms | vs " + baseline.label + " (medians) | paired ratio [95% CI] |"
    sep = "|---|---:|---:|---:|---:|---:|"
    if cpu:
        head += " CPU ms (median) |"
        sep += "---:|"
    if rss:
        head += " peak RSS MiB |"
        sep += "---:|"
    lines = [head, sep]
    base = summary(baseline.samples)
    for v in variants:
        s = summary(v.samples)
        if v is baseline:
            ratio, paired = "1 (baseline)", "-"
        else:
            ratio = f"{s['median'] / base['median']:.3f}"
            m, lo, hi = paired_ratio(v.samples, baseline.samples)
            paired = f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
        row = (f"| {v.label} | {fmt_ms(s['median'])} | {fmt_ms(s['q1'])}-{fmt_ms(s['q3'])} | "
               f"{fmt_ms(s['min'])}-{fmt_ms(s['max'])} | {ratio} | {paired} |")
        if cpu:
            row += f" {fmt_ms(statistics.median(v.cpu) * 1e3)} |"
        if rss:
            row += f" {v.peak_kib / 1024:.1f} |"
        lines.append(row)
    return "\n".join(lines) + "\n"


def verdict(ok):
    return "**met**" if ok else "**MISSED**"


# ---------------------------------------------------------------------------- the comparisons

class Bench:
    def __init__(self, a):
        self.a = a
        self.bin = a.binfmtctl
        self.work = a.work
        self.out = []  # markdown sections
        self.raw = {}  # label -> samples, for the JSON file
        self.workers = []
        self.systems = json.load(open(a.systems_json))["systems"]

    def worker(self, label):
        w = Worker(label)
        self.workers.append(w)
        return w

    def close(self):
        for w in self.workers:
            w.close()

    def tmpfs(self, w, name):
        """A tmpfs at WORK/name, mounted in the worker's private mount namespace only."""
        path = os.path.join(self.work, name)
        w.sh(f"mkdir -p {path} && mount -t tmpfs -o mode=0755 tmpfs {path}")
        return path

    def section(self, title, text):
        block = f"## {title}\n\n{text}\n"
        self.out.append(block)
        print(block, flush=True)

    def keep(self, key, variants):
        self.raw[key] = {v.label: {"ns": v.samples, "cpu_s": v.cpu, "rc": v.rcs, "peak_rss_kib": v.peak_kib}
                         for v in variants}

    def env(self, **extra):
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": self.work, "LANG": "C.UTF-8"}
        env.update(extra)
        return env

    def bctl(self, *args, config=None, state=None):
        argv = ["binfmtctl"]
        if config:
            argv += ["--config", config]
        if state:
            argv += ["--state-dir", state]
        return {"path": self.bin, "argv": argv + list(args)}

    # -- 1. applying registrations for every system --------------------------------------

    def apply_all(self):
        a = self.a
        n = a.n_systems
        w = self.worker("apply")
        # binfmtctl's state directory is /run/binfmtctl by default: a tmpfs. Here too (a tmpfs
        # mounted in the worker's own mount namespace).
        state = self.tmpfs(w, "apply-state")
        ub = [a.update_binfmts, "--admindir", a.deb_admindir, "--importdir", a.deb_importdir]
        # update-binfmts' database: imported once (this registers too, privately), then flushed.
        w.sh(f"rm -rf {a.deb_admindir} && mkdir -p {a.deb_admindir} && {' '.join(ub)} --import && {FLUSH}")
        v = [
            Variant("binfmtctl apply", w, dict(self.bctl("apply", config=a.config_all, state=state),
                                              env=self.env(), prep=f"{FLUSH}; find {state} -mindepth 1 -delete",
                                              expect_entries=n)),
            Variant("systemd-binfmt FILE", w, dict(path=a.systemd_binfmt, argv=["systemd-binfmt", a.binfmt_d_all],
                                                  env=self.env(), prep=FLUSH, expect_entries=n)),
            Variant("update-binfmts --enable", w, dict(path=a.update_binfmts, argv=["update-binfmts"] + ub[1:] + ["--enable"],
                                                      env=self.env(), prep=FLUSH, expect_entries=n)),
        ]
        run_paired(v, a.rounds_apply, a.warmup, "apply from an empty table")
        self.keep("apply_empty", v)
        b, s, u = v
        sb, ss = summary(b.samples), summary(s.samples)
        text = (f"{n} registrations, one per system with an installed qemu (static, flags PF), each run "
                f"starting from an empty private table. Left out: {a.left_out}.\n\n")
        text += table(v, s, cpu=True)
        text += (f"\nGoal: binfmtctl apply within 1.5x systemd-binfmt: {sb['median'] / ss['median']:.2f}x "
                 f"{verdict(sb['median'] <= 1.5 * ss['median'])}\n")
        self.section("1. Apply every registration, from an empty table", text)

        # No-op: everything already registered. One instance per tool, set up once.
        wb, ws, wu = self.worker("noop-binfmtctl"), self.worker("noop-systemd"), self.worker("noop-update-binfmts")
        wdisk = self.worker("noop-binfmtctl-disk")
        state2 = self.tmpfs(wb, "noop-state")
        wb.sh(f"{self.bin} --config {a.config_all} --state-dir {state2} apply >/dev/null")
        state_disk = os.path.join(self.work, "noop-state-disk")
        wdisk.sh(f"rm -rf {state_disk} && {self.bin} --config {a.config_all} --state-dir {state_disk} apply >/dev/null")
        ws.sh(f"{a.systemd_binfmt} {a.binfmt_d_all}")
        wu.sh(f"{' '.join(ub)} --enable")
        v2 = [
            Variant("binfmtctl apply (no-op)", wb, dict(self.bctl("apply", config=a.config_all, state=state2),
                                                      env=self.env(), expect_entries=n)),
            Variant("binfmtctl apply (no-op, --state-dir on the ext4 disk)", wdisk,
                    dict(self.bctl("apply", config=a.config_all, state=state_disk), env=self.env(), expect_entries=n)),
            Variant("systemd-binfmt FILE (flushes, registers all again)", ws,
                    dict(path=a.systemd_binfmt, argv=["systemd-binfmt", a.binfmt_d_all], env=self.env(), expect_entries=n)),
            Variant("update-binfmts --enable (all enabled)", wu,
                    dict(path=a.update_binfmts, argv=["update-binfmts"] + ub[1:] + ["--enable"], env=self.env(),
                         expect_entries=n, expect_rc=None)),
            Variant("/bin/true (process spawn floor)", wb, dict(path="/bin/true", argv=["true"], env=self.env())),
        ]
        run_paired(v2, a.rounds_noop, a.warmup, "apply, no-op")
        self.keep("apply_noop", v2)
        nb = summary(v2[0].samples)
        text = (f"All {n} already registered; each tool in its own private instance. binfmtctl's state "
                "directory on a tmpfs (as /run/binfmtctl is), and once on disk.\n\n")
        text += table(v2, v2[2], cpu=True)
        text += f"\nGoal: no-op binfmtctl apply under 5 ms: {fmt_ms(nb['median'])} ms {verdict(nb['median'] < 5)}\n"
        self.section("1b. Apply when everything is already registered (no-op)", text)

    # -- 2. one emulated exec ------------------------------------------------------------

    def exec_paths(self):
        a = self.a
        hello, argv0 = a.hello, "hello-riscv64"
        env = self.env(HELLO_EXIT="0")
        want = f"hello argv0={argv0}\n"
        wb, wd, wn, wq = (self.worker("exec-binfmtctl"), self.worker("exec-debian"),
                          self.worker("exec-nixos"), self.worker("exec-direct"))
        st = os.path.join(self.work, "exec-state")
        wb.sh(f"rm -rf {st} {a.config_riscv64} && {self.bin} --config {a.config_riscv64} --state-dir {st} "
              f"enable riscv64-linux >/dev/null")
        wd.sh(f"grep -v '^#' {a.debian_conf} | head -1 > {BINFMT}/register")
        wn.sh(f"printf '%s\\n' '{a.nixos_line}' > {BINFMT}/register")
        for w in (wb, wd, wn):
            print(f"  {w.label}: " + w.sh(f"cat {BINFMT}/*-linux {BINFMT}/qemu-* 2>/dev/null | grep -E 'interpreter|flags' | tr '\\n' ' '"),
                  file=sys.stderr)
        kernel = dict(path=hello, argv=[argv0], env=env, cwd=os.path.dirname(hello))
        v = [
            Variant("qemu-riscv64-static -0 ARGV0 PROGRAM (direct, the floor)", wq,
                    dict(path=a.qemu_static, argv=["qemu-riscv64-static", "-0", argv0, hello], env=env)),
            Variant("binfmtctl's entry: static qemu, PF", wb, dict(kernel)),
            Variant("Debian's entry: riscv64-binfmt-P, OPF", wd, dict(kernel)),
            Variant("NixOS default: static P-wrapper + dynamic qemu, P", wn, dict(kernel)),
            Variant("qemu-riscv64 (dynamic) -0 ARGV0 PROGRAM (direct)", wq,
                    dict(path=a.qemu_dynamic, argv=["qemu-riscv64", "-0", argv0, hello], env=env)),
        ]
        for x in v:  # every path must really run the program and deliver argv[0]
            got = x.worker.call(dict(x.req, op="time", capture=True))["out"]
            if got != want:
                raise BenchError(f"{x.label}: printed {got!r}, expected {want!r}")
        run_paired(v, a.rounds_exec, a.warmup, "one emulated exec")
        measure_rss(v)
        self.keep("exec", v)
        q, b, _, n_ = v[0], v[1], v[2], v[3]
        rb, lo, hi = paired_ratio(b.samples, q.samples)
        mb, mn = summary(b.samples)["median"], summary(n_.samples)["median"]
        text = ("A static riscv64 hello (tests/fixtures/hello.c) exec'd once per sample; each registration "
                "is the only entry of its own private instance.\n\n")
        text += table(v, q, rss=True, cpu=True)
        text += (f"\nGoal: binfmtctl's entry within 2% of direct qemu: paired ratio {rb:.3f} [{lo:.3f}, {hi:.3f}] "
                 f"{verdict(rb <= 1.02)}\n"
                 f"Goal: faster than the NixOS default path: {fmt_ms(mb)} ms vs {fmt_ms(mn)} ms "
                 f"{verdict(mb < mn)}\n")
        self.section("2. The cost of one emulated exec", text)
        return wb

    # -- 3. binfmtctl run ------------------------------------------------------------------

    def run_cmd(self, registered_worker):
        a = self.a
        env = self.env(HELLO_EXIT="0")
        cwd = os.path.dirname(a.hello)
        prog = "./" + os.path.basename(a.hello)
        w = self.worker("run")
        empty = os.path.join(self.work, "empty-root")
        os.makedirs(empty, exist_ok=True)
        # A table as Debian's qemu-user-static leaves it: every /usr/lib/binfmt.d/qemu-*.conf.
        debian = self.worker("run-debian-table")
        confs = os.path.join(os.path.dirname(a.debian_conf), "qemu-*.conf")
        debian.sh(f"for f in {confs}; do grep -v '^#' \"$f\" > {BINFMT}/register; done")
        n_debian = int(debian.sh(f"ls {BINFMT} | grep -c '^qemu-'").strip())
        v = [
            Variant("qemu-riscv64-static -0 ./hello -- ./hello (direct)", w,
                    dict(path=a.qemu_static, argv=["qemu-riscv64-static", "-0", prog, "--", prog], env=env, cwd=cwd)),
            Variant("env qemu-riscv64-static ... (one extra dynamic exec: any wrapper's floor)", w,
                    dict(path="/usr/bin/env", argv=["env", a.qemu_static, "-0", prog, "--", prog], env=env, cwd=cwd)),
            Variant("static exec trampoline -> qemu-riscv64-static (a static wrapper's floor)", w,
                    dict(path=a.trampoline, argv=["tramp", prog, prog], env=env, cwd=cwd)),
            Variant("bench/rust-floor ./hello (run's job at the least, in Rust, built as binfmtctl)", w,
                    dict(path=a.rust_floor, argv=["rust-floor", prog], env=env, cwd=cwd)),
            Variant("binfmtctl run ./hello (empty private instance)", w,
                    dict(self.bctl("run", prog), env=env, cwd=cwd)),
            Variant("binfmtctl --root EMPTY-DIR run ./hello", w,
                    dict(self.bctl("--root", empty, "run", prog), env=env, cwd=cwd)),
            Variant("binfmtctl run ./hello (riscv64 registered: via the kernel)", registered_worker,
                    dict(self.bctl("run", prog), env=env, cwd=cwd)),
            Variant(f"binfmtctl run ./hello (Debian's {n_debian} qemu-* entries registered: via the kernel)", debian,
                    dict(self.bctl("run", prog), env=env, cwd=cwd)),
        ]
        want = f"hello argv0={prog}\n"
        for x in v:
            got = x.worker.call(dict(x.req, op="time", capture=True))["out"]
            if got != want:
                raise BenchError(f"{x.label}: printed {got!r}, expected {want!r}")
        run_paired(v, a.rounds_run, a.warmup, "binfmtctl run")
        measure_rss(v)
        self.keep("run", v)
        r, lo, hi = paired_ratio(v[4].samples, v[0].samples)
        text = "The same static riscv64 hello, started by `binfmtctl run` or by qemu directly.\n\n"
        text += table(v, v[0], rss=True, cpu=True)
        text += f"\nGoal: binfmtctl run (no registration) within 5% of direct qemu: paired ratio {r:.3f} [{lo:.3f}, {hi:.3f}] {verdict(r <= 1.05)}\n"
        c, clo, chi = paired_ratio(v[2].samples, v[0].samples)
        f, flo, fhi = paired_ratio(v[3].samples, v[0].samples)
        o, olo, ohi = paired_ratio(v[4].samples, v[3].samples)
        text += (f"\nThe floors, in the same rounds: the static C trampoline {c:.3f} [{clo:.3f}, {chi:.3f}], "
                 f"bench/rust-floor {f:.3f} [{flo:.3f}, {fhi:.3f}]; binfmtctl run over bench/rust-floor: "
                 f"{o:.3f} [{olo:.3f}, {ohi:.3f}]\n")
        self.section("3. binfmtctl run vs qemu directly", text)

    # -- 4. binfmtctl check ----------------------------------------------------------------

    def check(self):
        a = self.a
        w = self.worker("check")
        st = os.path.join(self.work, "check-state")
        w.sh(f"rm -rf {st} && {self.bin} --config {a.config_all} --state-dir {st} apply >/dev/null")
        base = self.bctl(config=a.config_all, state=st)

        def check_req(*args, **env):
            return dict(base, argv=base["argv"] + ["check", "--json"] + list(args), env=self.env(**env))

        # The systems `check` picks by itself; a run may fail spuriously (see below), so retry.
        for _ in range(5):
            report = json.loads(w.call(dict(check_req(), op="time", capture=True, expect_rc=None))["out"])
            if report["ok"]:
                break
        else:
            raise BenchError("binfmtctl check fails in the benchmark instance: " + json.dumps(report)[:2000])
        systems = [c["system"] for c in report["systems"]]
        # `check` of several systems can fail spuriously (exit 1): keep timing, count and explain.
        allv = Variant(f"binfmtctl check (all {len(systems)} systems)", w, dict(check_req(), capture=True, expect_rc=None))
        # Issue 14: check as it was before, one plain exec and one chroot exec a system, in the
        # same rounds (BINFMTCTL_CHECK_BOTH_EXECS=1 forces both; by default an entry with F gets
        # the chroot's alone, which proves the plain one).
        both = Variant(f"binfmtctl check (all {len(systems)} systems), both execs (BINFMTCTL_CHECK_BOTH_EXECS=1, as before issue 14)",
                       w, dict(check_req(BINFMTCTL_CHECK_BOTH_EXECS="1"), capture=True, expect_rc=None))
        singles = [Variant(f"binfmtctl check {s}", w, check_req(s)) for s in systems]
        # Where the time goes, measured in the same rounds.
        probe_dir = os.path.join(self.work, "chroot-probe")
        os.makedirs(probe_dir, exist_ok=True)
        subprocess.run(["cp", a.hello, os.path.join(probe_dir, "hello-riscv64")], check=True)
        no_nix = "/nonexistent"  # `check` looks Nix up in $PATH only
        diag = [
            Variant(f"binfmtctl check (all {len(systems)} systems), Nix not on PATH", w,
                    dict(check_req(PATH=no_nix), capture=True, expect_rc=None)),
            Variant("binfmtctl check riscv64-linux, Nix not on PATH", w, check_req("riscv64-linux", PATH=no_nix)),
            Variant("one plain probe exec (static riscv64 hello through its entry)", w,
                    dict(path=a.hello, argv=["hello-riscv64"], env=self.env(HELLO_EXIT="0"))),
            Variant("one chroot probe (binfmtctl __exec-in-chroot: namespaces, chroot, exec)", w,
                    dict(path=self.bin, argv=["binfmtctl", "__exec-in-chroot", probe_dir, "/hello-riscv64", "x"],
                         env=self.env(HELLO_EXIT="0"))),
        ]
        nix = shutil.which("nix")
        if nix:
            diag.append(Variant("nix show-config (every check runs it first)", w,
                                dict(path=nix, argv=["nix", "--extra-experimental-features", "nix-command", "show-config"],
                                     env=self.env())))
        run_paired([allv, both] + singles + diag, a.rounds_check, 1, "binfmtctl check")
        self.keep("check", [allv, both] + singles + diag)
        # Derived, per round: the sum of the singles (one after another), and the slowest one.
        sums = [sum(s.samples[i] for s in singles) for i in range(len(allv.samples))]
        by_median = sorted(singles, key=lambda s: statistics.median(s.samples))
        slow, fast = by_median[-1], by_median[0]
        sumv = Variant(f"sum of the {len(singles)} single checks (one after another)", w, {}, sums,
                       [sum(s.cpu[i] for s in singles) for i in range(len(sums))])
        rows = [allv, sumv, Variant(f"slowest single: {slow.label}", w, {}, slow.samples, slow.cpu),
                Variant(f"fastest single: {fast.label}", w, {}, fast.samples, fast.cpu)]
        text = (f"A private instance with all {a.n_systems} registrations; `check --json` then checks "
                f"{len(systems)} systems (armv6l-linux through the armv7l-linux entry). CPU = user + sys of "
                f"the command and everything it reaped, so CPU / {os.cpu_count()} cores is the wall-time floor "
                "even with perfect parallelism.\n\n")
        text += table(rows, rows[2], cpu=True)
        ma, ms_ = summary(allv.samples)["median"], summary(slow.samples)["median"]
        text += (f"\nGoal: check of every system at most 1.5x the slowest single check: {ma / ms_:.1f}x "
                 f"{verdict(ma <= 1.5 * ms_)}\n")
        for v in (allv, both, diag[0]):
            bad = sum(1 for rc in v.rcs if rc != 0)
            if bad:
                why = set()
                for out in v.outs:
                    try:
                        for c in json.loads(out)["systems"]:
                            if not c["ok"]:
                                why.add(c["problems"][0]["message"].split(": ", 1)[-1][:120] if c["problems"] else "?")
                    except (ValueError, KeyError):
                        why.add("unreadable output")
                text += (f"\n`{v.label}` exited 1 (a system failed) in {bad} of {len(v.rcs)} rounds: "
                         + "; ".join(sorted(why)) + "\n")
        cpu_ratio, cpu_lo, cpu_hi = paired_ratio(allv.cpu, both.cpu)
        text += (f"\nOne qemu start a system (issue 14): `check` of every system against itself forced to run "
                 f"both execs (BINFMTCTL_CHECK_BOTH_EXECS=1, today's behaviour before the change), paired in the "
                 f"same rounds:\n\n" + table([both, allv], both, cpu=True)
                 + f"\nCPU (user + sys, with every process reaped), paired per round: {cpu_ratio:.3f} "
                 f"[{cpu_lo:.3f}, {cpu_hi:.3f}] ({fmt_ms(statistics.median(allv.cpu) * 1e3)} vs "
                 f"{fmt_ms(statistics.median(both.cpu) * 1e3)} ms, medians)\n"
                 f"\nGoal: check of every system uses at most 0.6x the CPU of both execs: {cpu_ratio:.2f}x "
                 f"{verdict(cpu_ratio <= 0.6)}\n")
        text += "\nWhere the time goes (same rounds):\n\n" + table(diag, diag[1], cpu=True)
        cores = os.cpu_count()
        cpu_all, cpu_one = statistics.median(diag[0].cpu) * 1e3, statistics.median(diag[1].cpu) * 1e3
        per_system = (cpu_all - cpu_one) / (len(systems) - 1)
        budget = (1.5 * ms_ * cores - statistics.median(slow.cpu) * 1e3) / (len(systems) - 1)
        text += (f"\nWithout Nix on PATH, `check` of all systems used {fmt_ms(cpu_all)} ms of CPU: on {cores} cores "
                 f"no schedule can finish in less than {fmt_ms(cpu_all / cores)} ms (measured: "
                 f"{fmt_ms(summary(diag[0].samples)['median'])} ms). Each system adds about {fmt_ms(per_system)} ms "
                 f"of CPU (for an entry with F one chroot probe, a qemu start; in isolation a plain probe exec and a chroot probe cost "
                 f"{fmt_ms(statistics.median(diag[2].cpu) * 1e3)} and {fmt_ms(statistics.median(diag[3].cpu) * 1e3)} ms "
                 f"of CPU). To finish within 1.5x the slowest single check ({fmt_ms(1.5 * ms_)} ms) on "
                 f"{cores} cores, a system could cost at most about {fmt_ms(budget)} ms of CPU.\n")
        text += ("\nAll single checks (median ms): "
                 + ", ".join(f"{s.label.split()[-1]} {fmt_ms(summary(s.samples)['median'])}" for s in by_median) + "\n")
        self.section("4. binfmtctl check of every system", text)

    # -- 5. start-up -----------------------------------------------------------------------

    def startup(self):
        a = self.a
        w = self.worker("startup")
        st = os.path.join(self.work, "startup-state")
        w.sh(f"rm -rf {st} && {self.bin} --config {a.config_all} --state-dir {st} apply >/dev/null")
        c = dict(config=a.config_all, state=st)
        v = [
            Variant("/bin/true (process spawn floor)", w, dict(path="/bin/true", argv=["true"], env=self.env())),
            Variant("binfmtctl --version", w, dict(self.bctl("--version"), env=self.env())),
            Variant(f"binfmtctl status ({a.n_systems} entries)", w, dict(self.bctl("status", **c), env=self.env())),
            Variant("binfmtctl status --json", w, dict(self.bctl("status", "--json", **c), env=self.env())),
            Variant("binfmtctl systems", w, dict(self.bctl("systems", **c), env=self.env())),
            Variant("binfmtctl systems --json", w, dict(self.bctl("systems", "--json", **c), env=self.env())),
        ]
        run_paired(v, a.rounds_startup, a.warmup, "start-up")
        measure_rss(v)
        self.keep("startup", v)
        text = ("Wall time, CPU time (user + sys, children included) and peak resident memory (GNU time's "
                "%M: the largest process of the command's tree) in a private instance holding all "
                "registrations.\n\n")
        text += table(v, v[0], rss=True, cpu=True)
        self.section("5. Start-up: status and systems", text)


    # -- 6. binfmtctl build (issue 5) ----------------------------------------------------

    def build(self):
        a = self.a
        n_execs = 20
        # The set-up cost: namespaces, the private instance, the registrations.
        w = self.worker("build-setup")
        v = [
            Variant("true", w, dict(path="/bin/true", argv=["true"], env=self.env())),
            Variant("binfmtctl build --system riscv64-linux -- true", w,
                    dict(self.bctl("build", "--system", "riscv64-linux", "--", "true"), env=self.env())),
            Variant(f"binfmtctl build -- true (every system: {a.n_systems} registrations)", w,
                    dict(self.bctl("build", "--", "true"), env=self.env())),
        ]
        run_paired(v, a.rounds_startup, a.warmup, "build -- true")
        self.keep("build_true", v)
        t, one, every = (summary(x.samples)["median"] for x in v)
        text = ("The private instance's set-up, measured from inside a private instance (as for every other "
                "comparison; the build then nests one more instance, which the kernel allows).\n\n")
        text += table(v, v[0], cpu=True)
        text += (f"\nGoal: `build -- true` adds under 5 ms to `true`: {fmt_ms(one - t)} ms for one system "
                 f"{verdict(one - t < 5)}, {fmt_ms(every - t)} ms for every system {verdict(every - t < 5)}\n")
        self.section("6. binfmtctl build: set-up", text)

        # A build that executes N emulated programs: under build vs with the same entry in the
        # (here: the worker's own) table.
        script = os.path.join(self.work, "emulated-build.sh")
        with open(script, "w") as f:
            f.write(f"for i in $(seq {n_execs}); do {a.hello} >/dev/null; done\n")
        wt = self.worker("build-table")
        st = os.path.join(self.work, "build-state")
        wt.sh(f"rm -rf {st} {a.config_riscv64} && {self.bin} --config {a.config_riscv64} --state-dir {st} "
              f"enable riscv64-linux >/dev/null")
        wb = self.worker("build-private")
        env = self.env(HELLO_EXIT="0")
        v2 = [
            Variant(f"sh: {n_execs} emulated execs, riscv64 in the table", wt,
                    dict(path="/bin/sh", argv=["sh", script], env=env)),
            Variant(f"binfmtctl build --system riscv64-linux -- sh: the same {n_execs} execs", wb,
                    dict(self.bctl("build", "--system", "riscv64-linux", "--", "sh", script), env=env)),
            Variant(f"binfmtctl build --report /dev/null ... (every exec timed by the shim)", wb,
                    dict(self.bctl("build", "--system", "riscv64-linux", "--report", "/dev/null", "--", "sh", script),
                         env=env)),
        ]
        run_paired(v2, max(5, a.rounds_check * 2), a.warmup, "a build with emulated execs")
        self.keep("build_execs", v2)
        r, lo, hi = paired_ratio(v2[1].samples, v2[0].samples)
        rr, rlo, rhi = paired_ratio(v2[2].samples, v2[0].samples)
        text = (f"A shell script that executes the static riscv64 hello {n_execs} times.\n\n")
        text += table(v2, v2[0], cpu=True)
        text += (f"\nGoal: under build within 1.05x of the same entries in the table: paired ratio {r:.3f} "
                 f"[{lo:.3f}, {hi:.3f}] {verdict(r <= 1.05)}\n"
                 f"With --report (the shim starts binfmtctl once per emulated exec): {rr:.3f} [{rlo:.3f}, {rhi:.3f}]\n")
        self.section("6b. binfmtctl build: a build that runs emulated programs", text)


    def build_dynamic(self):
        """A dynamically linked program's exec under build (the kernel runs the registered
        qemu, which finds the loader through the build's sysroot view) against the same exec
        with the sysroot given to qemu by hand (`qemu -L`). Both inside the same kind of
        build, so the set-up cost is the same on both sides and only the exec differs."""
        a = self.a
        n_execs = 20
        sysroot = "/usr/riscv64-linux-gnu"
        qemu_l = os.path.join(self.work, "dynamic-qemu-L.sh")
        with open(qemu_l, "w") as f:
            f.write(f"for i in $(seq {n_execs}); do {a.qemu_static} -L {sysroot} {a.hello_dyn} >/dev/null; done\n")
        kernel = os.path.join(self.work, "dynamic-kernel.sh")
        with open(kernel, "w") as f:
            f.write(f"for i in $(seq {n_execs}); do {a.hello_dyn} >/dev/null; done\n")
        w = self.worker("build-dynamic")
        env = self.env(HELLO_EXIT="0")
        # Two systems with a sysroot each (riscv64's and aarch64's cross sysroots), so that
        # $QEMU_LD_PREFIX is the view of both, not one sysroot handed over as it is.
        build = ("build", "--system", "riscv64-linux", "--system", "aarch64-linux", "--", "sh")
        v = [
            Variant(f"build -- sh: {n_execs} x qemu-riscv64-static -L {sysroot} hello (by hand)", w,
                    dict(self.bctl(*build, qemu_l), env=env)),
            Variant(f"build -- sh: {n_execs} x hello (the kernel, the build's sysroot view)", w,
                    dict(self.bctl(*build, kernel), env=env)),
        ]
        run_paired(v, max(5, a.rounds_check * 2), a.warmup, "dynamic programs under build")
        self.keep("build_dynamic", v)
        if any(rc != 0 for x in v for rc in x.rcs):
            raise BenchError("a dynamic exec failed: " + "; ".join(o for x in v for o in x.outs[:1]))
        r, lo, hi = paired_ratio(v[1].samples, v[0].samples)
        text = (f"The dynamically linked riscv64 hello (Debian's cross gcc, no -static) executed {n_execs} "
                "times by a shell under `binfmtctl build --system riscv64-linux --system aarch64-linux`: through the "
                "kernel, where the registered qemu finds the loader and libc through the build's sysroot view of both "
                f"systems ($QEMU_LD_PREFIX), against qemu started by hand with `-L {sysroot}` in the same build.\n\n")
        text += table(v, v[0], cpu=True)
        text += (f"\nGoal: a dynamic program's exec under build within 1.05x of `qemu -L` by hand: paired ratio "
                 f"{r:.3f} [{lo:.3f}, {hi:.3f}] {verdict(r <= 1.05)}\n")
        self.section("6c. binfmtctl build: dynamically linked programs", text)


def machine():
    def first(path, key):
        try:
            for line in open(path):
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0].strip()
        except (OSError, IndexError):
            return "?"

    return {
        "nproc": os.cpu_count(),
        "cpu": first("/proc/cpuinfo", "model name"),
        "kernel": platform.release(),
        "qemu": out(["qemu-riscv64-static", "--version"]),
        "systemd": out(["/lib/systemd/systemd-binfmt", "--version"]),
        "python": platform.python_version(),
        "load": open("/proc/loadavg").read().split()[:3],
    }


def main():
    p = argparse.ArgumentParser()
    for name in ["binfmtctl", "hello", "hello-dyn", "trampoline", "rust-floor", "qemu-static", "qemu-dynamic", "systemd-binfmt", "update-binfmts",
                 "config-all", "config-riscv64", "binfmt-d-all", "deb-importdir", "deb-admindir",
                 "debian-conf", "nixos-line", "systems-json", "work", "out"]:
        p.add_argument("--" + name, required=True)
    p.add_argument("--n-systems", type=int, required=True)
    p.add_argument("--left-out", default="none", help="the systems left out of the registrations, and why")
    p.add_argument("--quick", action="store_true", help="few rounds: a smoke test of the harness")
    p.add_argument("--only", default="", help="comma-separated: apply,exec,run,check,startup,build,dynamic")
    a = p.parse_args()
    scale = 0.1 if a.quick else 1.0
    a.warmup = 3 if a.quick else 5
    a.rounds_apply = max(5, int(100 * scale))
    a.rounds_noop = max(5, int(200 * scale))
    a.rounds_exec = max(5, int(500 * scale))
    a.rounds_run = max(5, int(500 * scale))
    a.rounds_check = max(3, int(20 * scale))
    a.rounds_startup = max(5, int(150 * scale))
    only = set(filter(None, a.only.split(",")))

    m = machine()
    t0 = time.monotonic()
    b = Bench(a)
    head = (f"# binfmtctl benchmark results\n\n{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {m['nproc']} cores, "
            f"{m['cpu']}, Linux {m['kernel']}, {m['qemu']}, {m['systemd']}, Python {m['python']}; "
            f"load average at start {' '.join(m['load'])}. Times in milliseconds.\n")
    print(head, flush=True)
    try:
        registered = None
        if not only or "apply" in only:
            b.apply_all()
        if not only or "exec" in only or "run" in only:
            registered = b.exec_paths()
        if not only or "run" in only:
            b.run_cmd(registered)
        if not only or "check" in only:
            b.check()
        if not only or "startup" in only:
            b.startup()
        if not only or "build" in only:
            b.build()
        if not only or "build" in only or "dynamic" in only:
            b.build_dynamic()
    finally:
        b.close()
    elapsed = time.monotonic() - t0
    tail = f"\nWhole run: {elapsed:.0f} s.\n"
    print(tail)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(head + "\n" + "\n".join(b.out) + tail)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"machine": m, "samples": b.raw, "elapsed_s": elapsed}, f)
    print(f"results written to {a.out}/results.md and results.json", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        sys.exit(2)
