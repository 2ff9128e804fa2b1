#!/usr/bin/env python3
"""One benchmark worker: owns a PRIVATE binfmt_misc instance and runs commands in it on request.

Started by bench.py as `unshare --user --map-root-user --mount python3 worker.py`: a new user
namespace (the caller mapped to root) and a new mount namespace, where mounting binfmt_misc
gives a private, empty instance (Linux >= 6.7). Nothing done here reaches the host's global
table. Before anything else the worker proves that: it must be in a user namespace other than
its parent's (BENCH_PARENT_USERNS), the mount must succeed (in a non-initial user namespace the
kernel allows it only where each namespace gets its own instance), and the fresh instance must be
empty. Otherwise it refuses to run, so a flush (`echo -1 > status`) can never hit the host.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.
  {"op": "sh", "script": "..."}              untimed shell; reply rc, out, err
  {"op": "time", "argv": [...], "path": P, "env": {...}, "cwd": D,
   "prep": "...", "expect_rc": 0, "expect_entries": N, "capture": false}
      runs `prep` (untimed, must succeed), then spawns P with argv (argv[0] may differ from P)
      and times spawn-to-reaped with a monotonic clock (perf_counter_ns) around
      posix_spawn + wait4; reply ns, rc, user/sys CPU of the child and what it reaped (and
      maxrss_kb, which is NOT the command's own peak: an exec'd child inherits this Python
      process's RSS as its high-water mark; use "rss"); checks rc and, when given, the number
      of entries in the table afterwards (untimed).
  {"op": "rss", ...same as time}             peak RSS of the command (KiB) under /usr/bin/time
  {"op": "exit"}
"""

import json
import os
import subprocess
import sys
import tempfile
import time

BINFMT = "/proc/sys/fs/binfmt_misc"


def fail(msg):
    sys.stdout.write(json.dumps({"fatal": msg}) + "\n")
    sys.stdout.flush()
    sys.exit(3)


def entries():
    return sorted(n for n in os.listdir(BINFMT) if n not in ("register", "status"))


def setup_private_instance():
    parent = os.environ.get("BENCH_PARENT_USERNS")
    mine = os.readlink("/proc/self/ns/user")
    if not parent or parent == mine:
        fail(f"not in a new user namespace (mine {mine}, parent {parent}); refusing to touch binfmt_misc")
    r = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail("cannot mount a private binfmt_misc instance (Linux >= 6.7 and user namespaces needed): "
             + r.stderr.strip())
    have = entries()
    if have:
        fail(f"the freshly mounted binfmt_misc is not empty ({', '.join(have)}): not a private instance; refusing")


def spawn_timed(req, errf):
    path = req.get("path") or req["argv"][0]
    argv = req["argv"]
    env = req.get("env")
    if env is None:
        env = dict(os.environ)
    out_target = req.get("capture_to") or os.devnull
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, out_target, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644),
        (os.POSIX_SPAWN_DUP2, errf.fileno(), 2),
    ]
    cwd = req.get("cwd")
    old = None
    if cwd:
        old = os.getcwd()
        os.chdir(cwd)
    try:
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(path, argv, env, file_actions=actions)
        _, status, ru = os.wait4(pid, 0)
        t1 = time.perf_counter_ns()
    finally:
        if old:
            os.chdir(old)
    rc = os.waitstatus_to_exitcode(status)
    return t1 - t0, rc, ru


def handle(req, errf, scratch):
    op = req["op"]
    if op == "sh":
        r = subprocess.run(["sh", "-c", req["script"]], capture_output=True, text=True)
        return {"rc": r.returncode, "out": r.stdout, "err": r.stderr}
    if op == "entries":
        return {"entries": entries()}
    if op == "time":
        if req.get("prep"):
            r = subprocess.run(["sh", "-c", req["prep"]], capture_output=True, text=True)
            if r.returncode != 0:
                return {"error": f"prep failed ({r.returncode}): {r.stderr.strip()}"}
        errf.seek(0)
        errf.truncate()
        capture = os.path.join(scratch, "stdout") if req.get("capture") else None
        if capture:
            req = dict(req, capture_to=capture)
        ns, rc, ru = spawn_timed(req, errf)
        reply = {"ns": ns, "rc": rc, "maxrss_kb": ru.ru_maxrss,
                 "utime": ru.ru_utime, "stime": ru.ru_stime}
        if capture:
            with open(capture, encoding="utf-8", errors="replace") as f:
                reply["out"] = f.read()
        exp = req.get("expect_rc", 0)
        if exp is not None and rc != exp:
            errf.seek(0)
            reply["error"] = f"{' '.join(req['argv'])}: exit {rc}, expected {exp}: {errf.read()[-2000:]}"
        n = req.get("expect_entries")
        if n is not None and "error" not in reply:
            have = len(entries())
            if have != n:
                reply["error"] = f"{' '.join(req['argv'])}: {have} entries in the table afterwards, expected {n}"
        return reply
    if op == "rss":
        # Peak RSS from GNU time, a small process: wait4 from this (large) Python process would
        # report at least Python's own RSS, which an exec'd child inherits as its high-water mark.
        out = os.path.join(scratch, "rss")
        path = req.get("path") or req["argv"][0]
        r = spawn_timed(dict(req, path="/usr/bin/time",
                             argv=["time", "-f", "%M", "-o", out, path] + req["argv"][1:]), errf)
        if r[1] != req.get("expect_rc", 0) and req.get("expect_rc", 0) is not None:
            return {"error": f"/usr/bin/time {path}: exit {r[1]}"}
        with open(out) as f:
            return {"maxrss_kb": int(f.read().split()[-1])}
    return {"error": f"unknown op {op}"}


def main():
    setup_private_instance()
    scratch = tempfile.mkdtemp(prefix="binfmtctl-bench-worker-")
    errf = open(os.path.join(scratch, "stderr"), "w+", encoding="utf-8", errors="replace")
    sys.stdout.write(json.dumps({"ready": True, "userns": os.readlink("/proc/self/ns/user")}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "exit":
            break
        try:
            reply = handle(req, errf, scratch)
        except Exception as e:  # report, keep serving: the orchestrator decides
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    errf.close()
    subprocess.run(["rm", "-rf", scratch])


if __name__ == "__main__":
    main()
