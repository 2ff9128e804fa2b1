//! systemd/binfmtctl.service for real: `systemd-analyze verify` (syntax, executables, and no
//! ordering cycle in the boot transaction), and a boot of Debian bookworm with systemd as PID 1
//! under systemd-nspawn, where the unit restores a riscv64 registration at boot, again after
//! systemd-binfmt restarts or stops and starts, and removes it at shutdown. See docs/boot.md.
//!
//! Such a container has no user namespace of its own, so its binfmt_misc is the HOST's global
//! instance (binfmt-domain.md section 7). The test therefore registers under a unique entry
//! name only, removes that entry from the host's table afterwards, on panic too (`HostTable`),
//! and checks with a canary entry that nothing in the container flushed the host's table (as
//! systemd-binfmt and systemd-shutdown would). It never touches another entry.

mod common;

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher as _, Hash as _, Hasher as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use common::{require, BIN, MANIFEST_DIR};
use nix::mount::{mount, umount2, MntFlags, MsFlags};

/// The unit exactly as shipped.
const UNIT: &str = include_str!("../systemd/binfmtctl.service");
/// Where the unit expects binfmtctl, as it appears in ExecStart= and ExecStop=.
const UNIT_BIN: &str = "/usr/bin/binfmtctl ";
/// The rootfs builder; its content is part of the cache key.
const ROOTFS_SCRIPT: &str = include_str!("../scripts/boot-test-rootfs.sh");
/// Seconds the container may take from start to power-off (a normal run takes a few).
const BOOT_TIMEOUT_SECS: u32 = 180;
const DEPS: &str = "debootstrap systemd-container";

fn text(o: &Output) -> String {
    format!(
        "{:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        common::stdout(o),
        common::stderr(o)
    )
}

#[track_caller]
fn require_root(what: &str) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "{what} needs root (debootstrap, systemd-nspawn, mounting binfmt_misc): run `sudo cargo test --test boot` or `bash scripts/test.sh` as root"
    );
}

// ---------------------------------------------------------------------------------------------
// systemd-analyze verify

/// Install `unit` (with ExecStart pointing at the built binary) into `<dir>/etc/systemd/system`
/// with `systemctl --root` (so [Install] is processed for real), then verify it together with
/// the transaction that boots the machine, where an ordering cycle would show.
fn verify(dir: &Path, unit: &str) -> Output {
    let systemctl = require("systemctl", "systemd");
    let analyze = require("systemd-analyze", "systemd");
    let units = dir.join("etc/systemd/system");
    fs::create_dir_all(&units).unwrap();
    fs::write(units.join("binfmtctl.service"), unit).unwrap();
    let o = Command::new(systemctl)
        .arg(format!("--root={}", dir.display()))
        .args(["enable", "binfmtctl.service"])
        .output()
        .unwrap();
    assert!(o.status.success(), "systemctl --root enable: {}", text(&o));
    for wants in ["sysinit.target.wants", "systemd-binfmt.service.wants"] {
        assert!(
            units.join(wants).join("binfmtctl.service").is_symlink(),
            "[Install] did not link {wants}: {}",
            text(&o)
        );
    }
    // The search path ends with ':' so that the system's own units (sysinit.target,
    // systemd-binfmt.service, ...) are found too.
    Command::new(analyze)
        .env("SYSTEMD_UNIT_PATH", format!("{}:", units.display()))
        // Man pages are often not installed (Debian container images drop them).
        .args(["verify", "--man=no"])
        .arg(units.join("binfmtctl.service"))
        .args(["default.target", "systemd-binfmt.service"])
        .output()
        .unwrap()
}

#[test]
fn the_unit_passes_systemd_analyze_verify_without_ordering_cycles() {
    assert_eq!(
        UNIT.matches(UNIT_BIN).count(),
        2,
        "ExecStart= and ExecStop= should both run {UNIT_BIN}"
    );
    // verify checks that ExecStart's program exists: point it at the binary just built.
    let unit = UNIT.replace(UNIT_BIN, &format!("{BIN} "));
    let t = tempfile::tempdir().unwrap();
    let o = verify(t.path(), &unit);
    assert!(o.status.success(), "systemd-analyze verify: {}", text(&o));
    assert!(
        !common::stderr(&o).contains("binfmtctl"),
        "systemd-analyze verify warned about the unit: {}",
        text(&o)
    );

    // The check has teeth: an early unit ordered after basic.target is a cycle through
    // sysinit.target, and verify must say so.
    let cyclic = unit.replace(
        "\nAfter=local-fs.target\n",
        "\nAfter=local-fs.target basic.target\n",
    );
    assert_ne!(cyclic, unit, "the unit no longer has After=local-fs.target");
    let t = tempfile::tempdir().unwrap();
    let o = verify(t.path(), &cyclic);
    assert!(
        !o.status.success() && common::stderr(&o).contains("ordering cycle"),
        "verify did not catch a deliberate ordering cycle: {}",
        text(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// The host's global binfmt_misc table

/// The host's global binfmt_misc table, mounted on a temporary directory (in the host's
/// namespaces, that is the instance the container uses) for as long as the test runs, and the
/// test's own entry in it, removed when dropped (on panic too).
///
/// Holding a mount matters: since Linux 6.7 ("binfmt_misc: cleanup on filesystem umount") an
/// instance's entries are all removed when its last mount goes away. Without this mount, the
/// container's exit alone would empty the table and hide whether binfmtctl.service cleaned up;
/// with it, the test sees what a host where systemd mounted binfmt_misc would keep.
///
/// It also registers a canary: an entry of someone else's, as far as the container can tell
/// (an extension entry that matches nothing), which must survive everything the container does.
struct HostTable {
    dir: tempfile::TempDir,
    entry: String,
    canary: String,
}

impl HostTable {
    /// Mount the table and choose an entry name nobody else uses (the test's pid and a
    /// random number).
    fn mount() -> HostTable {
        let dir = tempfile::Builder::new()
            .prefix("binfmtctl-boottest-table")
            .tempdir()
            .unwrap();
        mount(
            Some("binfmt_misc"),
            dir.path(),
            Some("binfmt_misc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .unwrap_or_else(|e| {
            panic!(
                "mount -t binfmt_misc binfmt_misc {}: {e}",
                dir.path().display()
            )
        });
        let random = RandomState::new().hash_one(std::time::SystemTime::now());
        let entry = format!(
            "binfmtctl-boottest-{}-{:08x}",
            std::process::id(),
            random & 0xffff_ffff
        );
        let canary = format!("{entry}-canary");
        let table = HostTable { dir, entry, canary };
        let line = format!(":{0}:E::{0}::/bin/false:", table.canary);
        fs::write(table.dir.path().join("register"), &line)
            .unwrap_or_else(|e| panic!("register the canary {line}: {e}"));
        table
    }

    /// The entries' names.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "register" && n != "status")
            .collect();
        names.sort();
        names
    }

    /// Remove one of the test's entries if it is there (write -1 to it; nothing else is
    /// touched). Returns whether it was there.
    fn remove(&self, name: &str) -> std::io::Result<bool> {
        let path = self.dir.path().join(name);
        if !path.exists() {
            return Ok(false);
        }
        fs::write(&path, "-1")?;
        if path.exists() {
            return Err(std::io::Error::other(format!(
                "{} is still there after writing -1",
                path.display()
            )));
        }
        Ok(true)
    }
}

impl Drop for HostTable {
    fn drop(&mut self) {
        match self.remove(&self.entry) {
            Ok(true) => eprintln!(
                "boot test: removed the leftover entry {} from the host's table",
                self.entry
            ),
            Ok(false) => {}
            Err(e) => eprintln!(
                "boot test: CANNOT remove {name} from the host's binfmt_misc table: {e}; remove it by hand: mount -t binfmt_misc binfmt_misc /mnt && echo -1 > /mnt/{name} && umount /mnt",
                name = self.entry
            ),
        }
        if let Err(e) = self.remove(&self.canary) {
            eprintln!(
                "boot test: CANNOT remove the canary {name}: {e}; remove it by hand: mount -t binfmt_misc binfmt_misc /mnt && echo -1 > /mnt/{name} && umount /mnt",
                name = self.canary
            );
        }
        if umount2(self.dir.path(), MntFlags::empty()).is_err() {
            let _ = umount2(self.dir.path(), MntFlags::MNT_DETACH);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The root file system

fn cache_key() -> String {
    // DefaultHasher is not stable across Rust releases; a new key only means one rebuild.
    let mut h = std::hash::DefaultHasher::new();
    ROOTFS_SCRIPT.hash(&mut h);
    format!("bookworm-{:016x}", h.finish())
}

/// The pristine rootfs, built by scripts/boot-test-rootfs.sh on first use and kept in
/// target/boot-rootfs-cache/ (keyed by the script's content). Never booted itself.
fn pristine_rootfs() -> PathBuf {
    let cache = Path::new(MANIFEST_DIR).join("target/boot-rootfs-cache");
    fs::create_dir_all(&cache).unwrap();
    // Concurrent test runs build it once.
    let lock = fs::File::create(cache.join(".lock")).unwrap();
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .expect("lock target/boot-rootfs-cache/.lock");
    let key = cache_key();
    let pristine = cache.join(&key);
    if pristine.exists() {
        eprintln!("boot test: reusing {}", pristine.display());
        return pristine;
    }
    // Older builds (another version of the script) would only fill the disk.
    for e in fs::read_dir(&cache).unwrap() {
        let e = e.unwrap();
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with("bookworm-") && n != key {
            fs::remove_dir_all(e.path()).unwrap();
        }
    }
    let t = Instant::now();
    eprintln!(
        "boot test: building {} with debootstrap (once; takes a minute or two)",
        pristine.display()
    );
    let status = Command::new("bash")
        .arg(Path::new(MANIFEST_DIR).join("scripts/boot-test-rootfs.sh"))
        .arg(&pristine)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .unwrap();
    assert!(
        status.success() && pristine.exists(),
        "scripts/boot-test-rootfs.sh {} failed ({status}); its output is above. Is Debian's mirror reachable? (set DEBIAN_MIRROR to use another)",
        pristine.display()
    );
    eprintln!("boot test: rootfs built in {:.0?}", t.elapsed());
    pristine
}

fn put(root: &Path, path: &str, content: &str, mode: u32) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, content).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
}

fn put_file(root: &Path, path: &str, from: &Path) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::copy(from, &p)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), p.display()));
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The config inside the container: riscv64-linux under the unique name.
const CONFIG: &str = r#"[[system]]
system = "riscv64-linux"
name = "@NAME@"
interpreter = "/usr/bin/qemu-riscv64-static"
flags = "PF"
"#;

/// A stand-in for systemd-binfmt's ExecStart= and ExecStop= (both flush the whole table). The
/// real program would flush the HOST's global table from in there, which no test may do; this
/// removes only the test's entry, at the same moments, so a wrongly ordered or missing restart
/// of binfmtctl.service shows as a missing entry.
const FLUSH_DROPIN: &str = "[Unit]
# An empty condition resets all of systemd-binfmt's conditions (/proc/sys is read-only here,
# and there are no binfmt.d files): the stand-in runs whenever systemd-binfmt would.
ConditionPathExists=

[Service]
ExecStart=
ExecStart=/boottest/flush start
ExecStop=
ExecStop=/boottest/flush stop
";

const FLUSH: &str = r#"#!/bin/sh
# Stand-in for systemd-binfmt (see /etc/systemd/system/systemd-binfmt.service.d/). It looks at
# the table through its own mount: binfmtctl.service's may be gone (it unmounts when stopping).
t=/run/boottest-flush
mkdir -p $t && mount -t binfmt_misc binfmt_misc $t || exit 1
if [ -e $t/@NAME@ ]; then
  echo -1 > $t/@NAME@ && echo "systemd-binfmt $1: flushed" >> /boottest/log
else
  echo "systemd-binfmt $1: nothing to flush" >> /boottest/log
fi
umount $t
"#;

/// The test proper, run by boottest.service once boot is done; writes key=value lines to
/// /boottest/result, which the host reads after the container powered off.
const RUN: &str = r#"#!/bin/sh
# The test's own view of the table, independent of binfmtctl's mount at
# /proc/sys/fs/binfmt_misc (which binfmtctl.service unmounts when it stops, in here).
t=/boottest/table
mkdir -p $t && mount -t binfmt_misc binfmt_misc $t || exit 1
e=$t/@NAME@
say() { echo "$*" >> /boottest/result; }
# `systemctl restart systemd-binfmt` returns once systemd-binfmt's own job is done; the jobs it
# pulled in (binfmtctl.service's, ordered after it) may still be queued or running.
settle() {
  i=0
  while systemctl list-jobs --no-legend | grep -q binfmt; do
    i=$((i + 1))
    if [ "$i" -gt 300 ]; then say "settle_timeout=$(systemctl list-jobs --no-legend | tr '\n' ';')"; break; fi
    sleep 0.1
  done
}
check() {  # PHASE: the entry, the unit, and a riscv64 program
  if [ -e "$e" ]; then say "$1.entry=$(tr '\n' ' ' < "$e")"; else say "$1.entry=absent"; fi
  say "$1.unit=$(systemctl is-active binfmtctl.service) $(systemctl show -P InvocationID binfmtctl.service)"
  out=$(/boottest/hello-riscv64 2>&1); say "$1.hello=$? $out"
  say "$1.table=$(ls $t | tr '\n' ' ')"
}
mono() { systemctl show -P "$2" "$1"; }
check boot
say "order.binfmt_exit=$(mono systemd-binfmt.service ExecMainExitTimestampMonotonic)"
say "order.binfmtctl_start=$(mono binfmtctl.service ExecMainStartTimestampMonotonic)"
say "order.binfmtctl_active=$(mono binfmtctl.service ActiveEnterTimestampMonotonic)"
say "order.sysinit_active=$(mono sysinit.target ActiveEnterTimestampMonotonic)"

systemctl restart systemd-binfmt.service
settle
check restart

systemctl stop systemd-binfmt.service
settle
check stopped
systemctl start systemd-binfmt.service
settle
check started

systemctl stop binfmtctl.service
settle
check unit_stopped
systemctl restart systemd-binfmt.service
settle
check unit_stopped_restart

say "cycles=$(journalctl -b --no-pager | grep -ci 'ordering cycle')"
umount $t
echo "boottest: done" >> /boottest/log
say done=ok
"#;

const RUN_UNIT: &str = "[Unit]
Description=binfmtctl boot test
Wants=binfmtctl.service
After=binfmtctl.service
# Power off either way; the host reads /boottest/result.
SuccessAction=poweroff
FailureAction=poweroff

[Service]
Type=oneshot
ExecStart=/boottest/run

[Install]
WantedBy=multi-user.target
";

/// A safety net for the host's table: stopped after binfmtctl.service at shutdown (it starts
/// before it), it records whether binfmt_misc is still mounted in the container and unmounts it
/// if so, because systemd-shutdown would otherwise flush the host's whole table. The unit's own
/// ExecStopPost= should have unmounted it already; the test fails if not.
const GUARD_UNIT: &str = "[Unit]
Description=binfmtctl boot test: keep systemd-shutdown away from the host's binfmt_misc
DefaultDependencies=no
Before=binfmtctl.service sysinit.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
ExecStop=/boottest/guard

[Install]
WantedBy=sysinit.target
";

const GUARD: &str = r#"#!/bin/sh
if mountpoint -q /proc/sys/fs/binfmt_misc; then
  echo "shutdown: binfmt_misc was still mounted" >> /boottest/log
  umount /proc/sys/fs/binfmt_misc
else
  echo "shutdown: binfmt_misc was not mounted" >> /boottest/log
fi
"#;

/// Put binfmtctl, its unit (unchanged), qemu, the config, the riscv64 program and the test
/// units into the rootfs, and enable the units as an administrator would.
fn install(root: &Path, name: &str, hello: &Path, qemu: &Path) {
    let fill = |s: &str| s.replace("@NAME@", name);
    put_file(root, "/usr/bin/binfmtctl", Path::new(BIN));
    put_file(root, "/usr/bin/qemu-riscv64-static", qemu);
    put_file(root, "/boottest/hello-riscv64", hello);
    put(root, "/etc/systemd/system/binfmtctl.service", UNIT, 0o644);
    put(root, "/etc/binfmtctl/config.toml", &fill(CONFIG), 0o644);
    put(
        root,
        "/etc/systemd/system/systemd-binfmt.service.d/boottest-stand-in.conf",
        FLUSH_DROPIN,
        0o644,
    );
    put(root, "/boottest/flush", &fill(FLUSH), 0o755);
    put(root, "/boottest/run", &fill(RUN), 0o755);
    put(
        root,
        "/etc/systemd/system/boottest.service",
        RUN_UNIT,
        0o644,
    );
    put(
        root,
        "/etc/systemd/system/boottest-guard.service",
        GUARD_UNIT,
        0o644,
    );
    put(root, "/boottest/guard", GUARD, 0o755);
    let o = Command::new(require("systemctl", "systemd"))
        .arg(format!("--root={}", root.display()))
        .args([
            "enable",
            "binfmtctl.service",
            "boottest.service",
            "boottest-guard.service",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "systemctl --root enable: {}", text(&o));
    // Debian's systemd has no binfmt.d files; if some appear, the stand-in still keeps the
    // real systemd-binfmt from running, but say so.
    for d in ["usr/lib/binfmt.d", "etc/binfmt.d"] {
        if let Ok(rd) = fs::read_dir(root.join(d)) {
            assert_eq!(rd.count(), 0, "{d} in the rootfs is not empty");
        }
    }
}

/// Boot the rootfs with systemd as PID 1 until it powers itself off (or the timeout hits).
fn boot(root: &Path, machine: &str, log: &Path) -> std::process::ExitStatus {
    let nspawn = require("systemd-nspawn", DEPS);
    let logfile = fs::File::create(log).unwrap();
    Command::new(require("timeout", "coreutils"))
        .args(["--kill-after=15", &BOOT_TIMEOUT_SECS.to_string()])
        .arg(nspawn)
        .args([
            "--boot",
            "--register=no",
            "--keep-unit",
            "--machine",
            machine,
        ])
        .arg("--setenv=SYSTEMD_COLORS=0")
        .arg("-D")
        .arg(root)
        .stdin(Stdio::null())
        .stdout(logfile.try_clone().unwrap())
        .stderr(logfile)
        .status()
        .unwrap()
}

/// What the container left behind: /boottest/result (`key=value` lines), and everything a
/// failure message should show.
struct Results {
    text: String,
    /// The prefix of the test's own entry names (the entry and the canary).
    ours: String,
    /// The result, the stand-in's log, the journal and the console, for failure messages.
    context: String,
}

impl Results {
    fn read(root: &Path, console: &Path, ours: &str) -> Results {
        let read = |p: &str| fs::read_to_string(root.join(p)).unwrap_or_default();
        let tail = |text: &str, n: usize| {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        let journal = Command::new("journalctl")
            .arg("-D")
            .arg(root.join("var/log/journal"))
            .args(["-o", "short-monotonic", "--no-pager"])
            .output()
            .map_or_else(|e| format!("journalctl: {e}"), |o| common::stdout(&o));
        let text = read("boottest/result");
        let context = format!(
            "\n--- /boottest/result\n{text}--- /boottest/log (the systemd-binfmt stand-in)\n{}--- journal (last 80 lines)\n{}\n--- console (last 20 lines)\n{}",
            read("boottest/log"),
            tail(&journal, 80),
            tail(&fs::read_to_string(console).unwrap_or_default(), 20),
        );
        Results {
            text,
            ours: ours.to_owned(),
            context,
        }
    }

    #[track_caller]
    fn get(&self, key: &str) -> &str {
        self.text
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .unwrap_or_else(|| panic!("no {key}= in the container's result{}", self.context))
    }

    #[track_caller]
    fn mono(&self, key: &str) -> u64 {
        self.get(key)
            .parse()
            .unwrap_or_else(|e| panic!("{key}: {e}{}", self.context))
    }

    /// The entry is registered as configured, the unit is active, and the riscv64 program ran.
    /// Returns the unit's invocation id.
    #[track_caller]
    fn restored(&self, phase: &str) -> String {
        let entry = self.get(&format!("{phase}.entry"));
        assert!(
            entry.starts_with("enabled interpreter /usr/bin/qemu-riscv64-static flags: PF "),
            "{phase}: the entry is not registered as configured: {entry}{}",
            self.context
        );
        let hello = self.get(&format!("{phase}.hello"));
        assert_eq!(
            hello, "7 hello argv0=/boottest/hello-riscv64",
            "{phase}: the riscv64 program did not run{}",
            self.context
        );
        let unit = self.get(&format!("{phase}.unit"));
        let id = unit.strip_prefix("active ").unwrap_or_else(|| {
            panic!(
                "{phase}: binfmtctl.service is not active: {unit}{}",
                self.context
            )
        });
        assert_eq!(
            id.len(),
            32,
            "{phase}: invocation id {id:?}{}",
            self.context
        );
        id.to_owned()
    }

    /// The entry is gone, binfmtctl.service is inactive, and the program cannot run (unless
    /// another tool has entries in the host's table just then, which the test must leave alone).
    #[track_caller]
    fn removed(&self, phase: &str) {
        let entry = self.get(&format!("{phase}.entry"));
        let unit = self.get(&format!("{phase}.unit"));
        assert!(
            entry == "absent" && unit.starts_with("inactive"),
            "{phase}: expected the entry removed and binfmtctl.service inactive, got entry {entry}, unit {unit}{}",
            self.context
        );
        let hello = self.get(&format!("{phase}.hello"));
        let others: Vec<&str> = self
            .get(&format!("{phase}.table"))
            .split_whitespace()
            .filter(|n| !["register", "status"].contains(n) && !n.starts_with(&self.ours))
            .collect();
        if others.is_empty() {
            assert!(
                hello.starts_with("126 ") && hello.ends_with("Exec format error"),
                "{phase}: the riscv64 program still ran: {hello}{}",
                self.context
            );
        } else {
            eprintln!("boot test: {phase}: other entries were in the host's table ({others:?}); not checking that the program fails");
        }
    }
}

/// What the container found, phase by phase (see RUN).
fn assert_behaviour(r: &Results, root: &Path) {
    // At boot: registered, after systemd-binfmt finished and before sysinit.target.
    let boot_id = r.restored("boot");
    let binfmt_exit = r.mono("order.binfmt_exit");
    assert!(
        binfmt_exit > 0,
        "the systemd-binfmt stand-in did not run{}",
        r.context
    );
    assert!(
        r.mono("order.binfmtctl_start") >= binfmt_exit,
        "binfmtctl.service started before systemd-binfmt finished{}",
        r.context
    );
    assert!(
        r.mono("order.binfmtctl_active") <= r.mono("order.sysinit_active"),
        "binfmtctl.service was not done before sysinit.target{}",
        r.context
    );
    // `systemctl restart systemd-binfmt` (flushes on stop and on start): restarted after it.
    let restart_id = r.restored("restart");
    assert_ne!(
        boot_id, restart_id,
        "binfmtctl.service was not restarted{}",
        r.context
    );
    // stop (PartOf stops binfmtctl, whose ExecStop removes the entry), then start (the Wants
    // from WantedBy=systemd-binfmt.service starts it again).
    r.removed("stopped");
    r.restored("started");
    // Even when binfmtctl.service had been stopped, restarting systemd-binfmt brings it back.
    r.removed("unit_stopped");
    r.restored("unit_stopped_restart");
    assert_eq!(
        r.get("cycles"),
        "0",
        "systemd found an ordering cycle{}",
        r.context
    );
    // At shutdown, ExecStopPost= unmounted the container's binfmt_misc (systemd-shutdown
    // would have flushed the host's table through it).
    let log = fs::read_to_string(root.join("boottest/log")).unwrap_or_default();
    let shutdown = log.split("boottest: done\n").nth(1).unwrap_or_default();
    assert!(
        shutdown.contains("shutdown: binfmt_misc was not mounted\n"),
        "shutdown: binfmtctl.service left binfmt_misc mounted in the container{}",
        r.context
    );
}

/// A fresh copy of the pristine rootfs in target/boot-rootfs-runs/ (deleted when dropped).
fn fresh_rootfs() -> (tempfile::TempDir, PathBuf) {
    let pristine = pristine_rootfs();
    let runs = Path::new(MANIFEST_DIR).join("target/boot-rootfs-runs");
    fs::create_dir_all(&runs).unwrap();
    let run = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&runs)
        .unwrap();
    let root = run.path().join("rootfs");
    let t = Instant::now();
    let o = Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(&pristine)
        .arg(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "cp -a: {}", text(&o));
    eprintln!("boot test: fresh copy in {:.1?}", t.elapsed());
    (run, root)
}

#[test]
fn boot_restores_the_registration_and_again_after_systemd_binfmt_restarts() {
    require_root("the boot test");
    require("debootstrap", DEPS);
    require("systemd-nspawn", DEPS);
    let qemu = Path::new("/usr/bin/qemu-riscv64-static");
    assert!(
        qemu.exists(),
        "{} is missing: apt-get install --no-install-recommends qemu-user-static",
        qemu.display()
    );
    let hello = common::hello_riscv64(true);
    let t0 = Instant::now();

    let (run, root) = fresh_rootfs();

    // From here on the entry may be in the host's table: dropping `table` removes it.
    let table = HostTable::mount();
    let before = table.names();
    install(&root, &table.entry, &hello, qemu);

    let console = run.path().join("console.log");
    let t = Instant::now();
    let status = boot(&root, &table.entry, &console);
    eprintln!(
        "boot test: the container ran for {:.1?} ({status})",
        t.elapsed()
    );
    let r = Results::read(&root, &console, &table.entry);
    assert!(
        status.success(),
        "systemd-nspawn failed or timed out after {BOOT_TIMEOUT_SECS}s (124 = timeout){}",
        r.context
    );
    assert_eq!(
        r.get("done"),
        "ok",
        "the test unit did not finish{}",
        r.context
    );
    assert!(
        !r.text.contains("settle_timeout="),
        "systemd's jobs did not settle{}",
        r.context
    );

    assert_behaviour(&r, &root);

    // The host's table: binfmtctl.service removed its entry at the container's shutdown, and
    // nothing in the container touched anyone else's (the canary).
    let after = table.names();
    assert!(
        !after.contains(&table.entry),
        "{} was still in the host's table after the container's shutdown{}",
        table.entry,
        r.context
    );
    assert!(
        after.contains(&table.canary),
        "the container removed another entry ({}) from the host's table{}",
        table.canary,
        r.context
    );
    eprintln!(
        "boot test: passed in {:.1?}; the host's binfmt_misc table before: {before:?}, after: {after:?}",
        t0.elapsed()
    );
}
