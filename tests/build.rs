//! `binfmtctl build` end to end with real tools: a cross-compiled make project whose build runs
//! a generator built for the target, a real Nix building a `system = "riscv64-linux"`
//! derivation, and the host's global table left byte-identical.

mod common;

use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{ok, private, scratch, stderr, stdout, As, BIN, MANIFEST_DIR};

fn copy_project(to: &Path) -> PathBuf {
    let dir = to.join("crossgen");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["Makefile", "gen.c", "main.c"] {
        std::fs::copy(
            Path::new(MANIFEST_DIR)
                .join("tests/fixtures/crossgen")
                .join(f),
            dir.join(f),
        )
        .unwrap();
    }
    common::set_mode(&dir, 0o777);
    dir
}

/// Run a shell command in an EMPTY private binfmt_misc instance: what a machine without any
/// registration sees, whatever this machine's table holds.
fn without_emulation(dir: &Path, script: &str) -> Output {
    private(As::Me, dir, script)
}

#[test]
fn make_fails_plainly_and_succeeds_under_build_with_a_report_naming_the_generator() {
    common::require("make", "make");
    common::require(
        "riscv64-linux-gnu-gcc",
        "gcc-riscv64-linux-gnu libc6-dev-riscv64-cross",
    );
    let t = scratch();
    let project = copy_project(t.path());
    let plain = without_emulation(&project, "make 2>&1; echo \"make=$?\"");
    let text = stdout(&plain);
    assert!(
        text.contains("./gen > table.h") && text.contains("Exec format error"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("make=2"), "{text}");

    ok(&Command::new("make")
        .arg("clean")
        .current_dir(&project)
        .output()
        .unwrap());
    let report = t.path().join("report.txt");
    let out = Command::new(BIN)
        .args(["build", "--report"])
        .arg(&report)
        .args(["--", "make"])
        .current_dir(&project)
        .output()
        .unwrap();
    ok(&out);
    let report = std::fs::read_to_string(&report).unwrap();
    let gen = project.join("gen").canonicalize().unwrap();
    assert!(
        report.starts_with(
            "binfmtctl build report: 1 foreign program(s) executed under emulation, 1 exec(s), "
        ),
        "{report}"
    );
    assert!(
        report.contains(&format!("  riscv64-linux  {}\n", gen.display())),
        "{report}"
    );
    let app = Command::new("qemu-riscv64-static")
        .arg(project.join("app"))
        .output()
        .unwrap();
    assert_eq!(ok(&app), "long is 64 bits; 7 squared is 49\n");
}

fn nix_env(cmd: &mut Command, store: &Path) {
    // A single-user store of the test's own, sandbox on, nothing substituted.
    cmd.env("NIX_STORE_DIR", store.join("store"))
        .env("NIX_STATE_DIR", store.join("var"))
        .env("NIX_LOG_DIR", store.join("log"))
        .env(
            "NIX_CONFIG",
            "build-users-group =\nsandbox = true\nsubstituters =\n",
        )
        .env_remove("NIX_REMOTE");
}

/// In `dir`: `riscv.nix`, a `system = "riscv64-linux"` derivation whose builder is a static
/// riscv64 program (`builder`), and `<store>` for the test's own single-user store.
fn riscv_derivation(dir: &Path) -> PathBuf {
    common::require("nix-build", "nix-bin");
    let gcc = common::require(
        "riscv64-linux-gnu-gcc",
        "gcc-riscv64-linux-gnu libc6-dev-riscv64-cross",
    );
    let builder = dir.join("builder");
    ok(&Command::new(gcc)
        .args(["-static", "-O2", "-o"])
        .arg(&builder)
        .arg(Path::new(MANIFEST_DIR).join("tests/fixtures/nix-builder.c"))
        .output()
        .unwrap());
    let drv = dir.join("riscv.nix");
    std::fs::write(
        &drv,
        "derivation { name = \"riscv-hello\"; system = \"riscv64-linux\"; builder = ./builder; }\n",
    )
    .unwrap();
    drv
}

/// The output path a nix-build printed (last line of `text`) holds what the riscv64 builder
/// writes, in `store`.
#[track_caller]
fn assert_built_by_riscv64(text: &str, store: &Path) {
    let result = Path::new(text.lines().last().unwrap_or_default().trim());
    assert!(result.starts_with(store.join("store")), "{text}");
    assert_eq!(
        std::fs::read_to_string(result).unwrap(),
        "built by a riscv64 builder, 64-bit long\n"
    );
}

#[test]
fn nix_builds_a_riscv64_derivation_only_under_build() {
    let t = scratch();
    let drv = riscv_derivation(t.path());
    let store = t.path().join("nix");

    let mut plain = Command::new("nix-build");
    plain.arg(&drv).arg("--no-out-link");
    nix_env(&mut plain, &store);
    let out = plain.output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("a 'riscv64-linux' with features {} is required to build"),
        "{}",
        stderr(&out)
    );

    let mut built = Command::new(BIN);
    built
        .args([
            "build",
            "--system",
            "riscv64-linux",
            "--report",
            "-",
            "--",
            "nix-build",
        ])
        .arg(&drv)
        .arg("--no-out-link");
    nix_env(&mut built, &store);
    let out = built.output().unwrap();
    assert_built_by_riscv64(&ok(&out), &store);
    assert!(
        stderr(&out).contains(
            "binfmtctl build report: not collected. Nix runs builders inside its sandbox"
        ),
        "{}",
        stderr(&out)
    );
}

/// Issue 13, item 3: Nix started by a shell or by make (not the build's command itself) sees
/// the emulated systems too, with the caller's own NIX_CONFIG kept (it holds the test store's
/// `build-users-group =` and `sandbox = true`).
#[test]
fn nix_started_by_sh_or_make_builds_a_riscv64_derivation() {
    common::require("make", "make");
    let t = scratch();
    riscv_derivation(t.path());
    std::fs::write(
        t.path().join("Makefile"),
        "all:\n\tnix-build riscv.nix --no-out-link\n",
    )
    .unwrap();
    for (i, command) in [
        &["sh", "-c", "nix-build riscv.nix --no-out-link"][..],
        &["make", "-s"][..],
    ]
    .into_iter()
    .enumerate()
    {
        // A store each: the second would otherwise find the output already built.
        let store = t.path().join(format!("nix-{i}"));
        let mut cmd = Command::new(BIN);
        cmd.args(["build", "--system", "riscv64", "--"])
            .args(command)
            .current_dir(t.path());
        nix_env(&mut cmd, &store);
        assert_built_by_riscv64(&ok(&cmd.output().unwrap()), &store);
    }
}

/// Nix started by make, behind binfmtctl's shim: with `--report` (the builder is reported),
/// and as the launcher of a system whose loader no sysroot has (riscv64's cross sysroot
/// hidden by a mount namespace of the test's). Nix's sandbox must reach the shim's directory
/// and its qemu, or the builder fails.
#[test]
fn nix_started_by_make_builds_behind_the_report_shim_and_the_launcher() {
    common::require("make", "make");
    let unshare = common::require("unshare", "util-linux");
    assert!(
        nix::unistd::geteuid().is_root(),
        "hiding the riscv64 sysroot needs a mount namespace: run the tests as root"
    );
    let t = scratch();
    riscv_derivation(t.path());
    std::fs::write(
        t.path().join("Makefile"),
        "all:\n\t@grep -h ^interpreter /proc/sys/fs/binfmt_misc/binfmtctl-riscv64-linux* >&2\n\
         \tnix-build riscv.nix --no-out-link\n",
    )
    .unwrap();
    for (i, report) in [true, false].into_iter().enumerate() {
        let store = t.path().join(format!("nix-{i}"));
        let mut cmd = Command::new(&unshare);
        cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg("mount -t tmpfs tmpfs /usr/riscv64-linux-gnu && exec \"$@\"")
            .args(["sh", BIN, "build", "--system", "riscv64-linux"])
            .args(if report {
                &["--report", "-"][..]
            } else {
                &[][..]
            })
            .args(["--", "make", "-s"])
            .current_dir(t.path());
        nix_env(&mut cmd, &store);
        let out = cmd.output().unwrap();
        assert_built_by_riscv64(&ok(&out), &store);
        let err = stderr(&out);
        assert!(
            err.contains("/shim/riscv64-linux\n"),
            "the shim was not registered: {err}"
        );
        if report {
            assert!(
                err.contains("binfmtctl build report: 1 foreign program(s) executed under emulation, 1 exec(s)"),
                "{err}"
            );
            assert!(err.contains("-builder\n"), "{err}");
        }
    }
}

#[test]
fn a_nix_daemon_store_is_explained_not_attempted() {
    let out = Command::new(BIN)
        .args([
            "build",
            "--system",
            "riscv64-linux",
            "--",
            "nix-build",
            "x.nix",
        ])
        .env("NIX_REMOTE", "daemon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("binfmtctl: error: this Nix build would be done by the nix-daemon, which runs outside binfmtctl's private binfmt_misc instance and would refuse riscv64-linux derivations. Two ways out:\n  1. register for the whole machine and tell the daemon: sudo binfmtctl enable --nix riscv64-linux && sudo systemctl restart nix-daemon"), "{err}");
}

/// Issue 13, items 1 and 2: armv6l-linux and armv7l-linux have identical magics. Whether the
/// build emulates every installed system (no --system) or both are named, Nix gets both names
/// as platforms, one entry serves both, and an armv6l and an armv7l derivation both build.
#[test]
fn armv6l_and_armv7l_derivations_both_build_with_one_entry() {
    common::require("nix-build", "nix-bin");
    let gcc = common::require("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf");
    let t = scratch();
    ok(&Command::new(gcc)
        .args(["-static", "-O2", "-DARCH=\"arm\"", "-o"])
        .arg(t.path().join("builder"))
        .arg(Path::new(MANIFEST_DIR).join("tests/fixtures/nix-builder.c"))
        .output()
        .unwrap());
    for v in ["armv6l", "armv7l"] {
        std::fs::write(
            t.path().join(format!("{v}.nix")),
            format!(
                "derivation {{ name = \"{v}\"; system = \"{v}-linux\"; builder = ./builder; }}\n"
            ),
        )
        .unwrap();
    }
    let script = "echo \"$NIX_CONFIG\" | grep ^extra-platforms >&2; ls /proc/sys/fs/binfmt_misc | grep armv >&2; \
                  nix-build armv6l.nix --no-out-link && nix-build armv7l.nix --no-out-link";
    for (i, systems) in [
        &[][..],
        &["--system", "armv6l", "--system", "armv7l-linux"][..],
    ]
    .into_iter()
    .enumerate()
    {
        let store = t.path().join(format!("nix-{i}"));
        let mut cmd = Command::new(BIN);
        cmd.arg("build")
            .args(systems)
            .args(["--", "sh", "-c", script])
            .current_dir(t.path());
        nix_env(&mut cmd, &store);
        let out = cmd.output().unwrap();
        let built: Vec<String> = ok(&out)
            .lines()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        assert_eq!(
            built, ["built by a arm builder, 32-bit long\n"; 2],
            "{systems:?}"
        );
        let err = stderr(&out);
        let platforms = err.lines().next().unwrap_or_default();
        assert!(
            platforms.split(' ').any(|p| p == "armv6l-linux")
                && platforms.split(' ').any(|p| p == "armv7l-linux"),
            "{systems:?}: {err}"
        );
        assert_eq!(
            err.lines()
                .skip(1)
                .filter(|l| l.starts_with("binfmtctl-armv"))
                .collect::<Vec<_>>(),
            ["binfmtctl-armv6l-linux"],
            "{systems:?}: {err}"
        );
    }
    // The build's command itself nix-build, no --system (the case the issue names).
    let store = t.path().join("nix-direct");
    let mut cmd = Command::new(BIN);
    cmd.args(["build", "--", "nix-build", "armv7l.nix", "--no-out-link"])
        .current_dir(t.path());
    nix_env(&mut cmd, &store);
    let path = ok(&cmd.output().unwrap());
    assert_eq!(
        std::fs::read_to_string(path.trim()).unwrap(),
        "built by a arm builder, 32-bit long\n"
    );
}

/// A command that is not itself Nix may start Nix: binfmtctl cannot refuse it, but says once
/// that a nix-daemon would build outside the instance, and runs the command.
#[test]
fn a_nix_daemon_store_is_noted_for_a_command_that_may_start_nix() {
    // With -v only: on a machine with a nix-daemon it would otherwise come with every build.
    let quiet = Command::new(BIN)
        .args(["build", "--system", "riscv64-linux", "--", "true"])
        .env("NIX_REMOTE", "daemon")
        .output()
        .unwrap();
    assert_eq!(stderr(&quiet), "", "no note without -v");
    let out = Command::new(BIN)
        .args([
            "-v",
            "build",
            "--system",
            "riscv64-linux",
            "--",
            "sh",
            "-c",
            "exit 3",
        ])
        .env("NIX_REMOTE", "daemon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "binfmtctl: Nix here is served by a nix-daemon (daemon), which runs outside this build's private \
         binfmt_misc instance: a Nix command this build starts cannot build riscv64-linux derivations; \
         `binfmtctl build -- nix-build ...` explains the ways out\n"
    );
}

/// Every entry of the host's global table, name and contents, read through a mount of the
/// global instance on a scratch directory (the host's own namespaces: only root can).
fn global_table() -> String {
    assert!(
        nix::unistd::geteuid().is_root(),
        "reading the global table needs root"
    );
    let dir = tempfile::tempdir().unwrap();
    nix::mount::mount(
        Some("binfmt_misc"),
        dir.path(),
        Some("binfmt_misc"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .expect("mount the global binfmt_misc");
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    let mut text = String::new();
    for n in names {
        if n == "register" {
            continue;
        }
        text += &format!(
            "== {}\n{}",
            n.to_string_lossy(),
            std::fs::read_to_string(dir.path().join(&n)).unwrap_or_default()
        );
    }
    nix::mount::umount(dir.path()).unwrap();
    text
}

/// `binfmtctl build --system riscv64-linux -- sh -c SCRIPT` as nobody, in `dir`.
fn build_as_nobody(script: String, dir: &Path) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            BIN,
            "build",
            "--system",
            "riscv64-linux",
            "--",
            "sh",
            "-c",
        ])
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn as_nobody_the_global_table_is_byte_identical_and_files_are_the_callers() {
    let hello = common::hello_riscv64(true);
    let t = scratch();
    let before = global_table();
    let out = build_as_nobody(
        format!(
            "{} one && touch {}/made-by-build && id -u",
            hello.display(),
            t.path().display()
        ),
        t.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(7),
        "hello exits 7: {}",
        stderr(&out)
    );
    let after = global_table();
    assert_eq!(before, after, "the global table changed");
    assert!(
        stdout(&out).starts_with(&format!("hello argv0={} [one]\n", hello.display())),
        "{}",
        stdout(&out)
    );
    let meta = std::fs::metadata(t.path().join("made-by-build"));
    assert!(
        meta.is_err(),
        "sh -c stops at hello's exit 7; nothing after it runs"
    );
    let out = build_as_nobody(
        format!(
            "HELLO_EXIT=0 {} && touch {}/made-by-build && id -u",
            hello.display(),
            t.path().display()
        ),
        t.path(),
    );
    assert!(ok(&out).trim_end().ends_with("\n65534"), "{}", stdout(&out));
    assert_eq!(
        std::fs::metadata(t.path().join("made-by-build"))
            .unwrap()
            .uid(),
        65534,
        "files the build writes belong to the caller"
    );
}

#[test]
fn status_and_signals_pass_through() {
    let status = Command::new(BIN)
        .args(["build", "--system", "riscv64", "--", "sh", "-c", "exit 3"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    // SIGKILL: the one signal no environment can have ignored (a test runner may ignore
    // SIGTERM, and ignored signals are inherited).
    for report in [&["--report", "/dev/null"][..], &[]] {
        let status = Command::new(BIN)
            .args(["build", "--system", "riscv64"])
            .args(report)
            .args(["--", "sh", "-c", "kill -KILL $$"])
            .status()
            .unwrap();
        assert_eq!(status.signal(), Some(9), "{report:?}: {status:?}");
    }
}

#[test]
fn host_table_mode_registers_for_the_duration_and_restores_exactly_also_on_ctrl_c() {
    let hello = common::hello_riscv64(true);
    let t = scratch();
    // In a private instance, which plays the host table here.
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"
bfc enable arm64 >/dev/null 2>&1 || exit 3
snap > "$T/before"
bfc build --host-table --system riscv64 -- sh -c 'ls /proc/sys/fs/binfmt_misc | grep -c binfmtctl-build-; {hello}'; echo "build=$?"
snap > "$T/after"
setsid $B build --host-table --system riscv64 -- sh -c 'kill -INT 0; sleep 1'; echo "interrupted=$?"
snap > "$T/after-int"
"#,
            hello = hello.display()
        ),
    );
    let text = ok(&out);
    assert!(
        text.contains("1\nhello argv0=") && text.contains("build=7"),
        "{text}"
    );
    assert!(
        text.contains("interrupted=130"),
        "SIGINT passes through as 128+2: {text}"
    );
    let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap();
    assert_eq!(read("before"), read("after"));
    assert_eq!(read("before"), read("after-int"));
}

#[test]
fn host_table_mode_removes_a_killed_builds_entries_and_never_a_running_ones() {
    let t = scratch();
    // In a private instance, which plays the host table here. Builds: B runs all along
    // (aarch64), A is killed with SIGKILL (riscv64), C comes after and cleans up.
    let out = private(
        As::Me,
        t.path(),
        r#"
cd /proc/sys/fs/binfmt_misc || exit 3
until_ok() { i=0; until eval "$1"; do i=$((i+1)); [ $i -gt 200 ] && { echo "timed out: $1"; exit 4; }; sleep 0.05; done; }
$B build --host-table --system aarch64-linux -- sh -c 'until [ -e "$0/c-done" ]; do sleep 0.05; done' "$T" >"$T/b.out" 2>&1 &
BPID=$!
until_ok 'ls | grep -q -- "-$BPID-.*-aarch64-linux\$"'
$B build --host-table --system riscv64-linux -- sh -c 'echo $$ > "$0/a.pid"; exec sleep 30' "$T" >/dev/null 2>&1 &
APID=$!
until_ok '[ -s "$T/a.pid" ] && ls | grep -q -- "-$APID-.*-riscv64-linux\$"'
# $! is binfmtctl itself, not its command: SIGKILL leaves the command running, orphaned.
echo "killed=$(cat /proc/$APID/comm)"
kill -KILL $APID; wait $APID; echo "a=$?"
kill -0 "$(cat "$T/a.pid")" && echo "command-survived"
kill -KILL "$(cat "$T/a.pid")"
# Made by hand: a pid now another process's (this shell's, start time 1); a build in another
# pid namespace; an older binfmtctl's name (the pid alone).
NS=$(build_ns)
for n in "binfmtctl-build-$NS-$$-1-x-reused" "binfmtctl-build-1-${NS#*-}-99999999-1-x-elsewhere" "binfmtctl-build-99999999-x-old"; do
  printf ':%s:E::zzq::/nonexistent:' "$n" > register || exit 5
done
ls | sort > "$T/before-c"
$B build --host-table --system riscv64-linux -- sh -c 'ls /proc/sys/fs/binfmt_misc' >"$T/c.out" 2>"$T/c.err"; echo "c=$?"
ls | sort > "$T/after-c"
touch "$T/c-done"; wait $BPID; echo "b=$?"
ls | sort > "$T/end"
echo "apid=$APID bpid=$BPID me=$$ ns=$NS"
"#,
    );
    let text = ok(&out);
    let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap();
    let names = |f: &str| -> Vec<String> {
        let mut v: Vec<String> = read(f).lines().map(str::to_owned).collect();
        v.sort();
        v
    };
    let fact = |key: &str| -> String {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= in {text}"))
            .to_owned()
    };
    let (a, b, me) = (fact("apid"), fact("bpid"), fact("me"));
    let ns = fact("ns");
    let time_ns = ns.split_once('-').expect("<pid ns>-<time ns>").1;
    assert!(
        text.starts_with("killed=binfmtctl\na=137\ncommand-survived\nc=0\nb=0\n"),
        "{text}\nB: {}",
        read("b.out")
    );
    // A build's entry, found by owner (namespaces, pid) and system.
    let entry_of = |file: &str, pid: &str, system: &str| -> Option<String> {
        names(file).into_iter().find(|n| {
            n.starts_with(&format!("binfmtctl-build-{ns}-{pid}-"))
                && n.ends_with(&format!("-{system}"))
        })
    };
    let a_entry = entry_of("before-c", &a, "riscv64-linux").expect("A's entry outlived A");
    let b_entry = entry_of("before-c", &b, "aarch64-linux").expect("B's entry");
    let reused = format!("binfmtctl-build-{ns}-{me}-1-x-reused");
    let elsewhere = format!("binfmtctl-build-1-{time_ns}-99999999-1-x-elsewhere");
    let old = "binfmtctl-build-99999999-x-old".to_owned();
    let mut want = vec![
        "register".to_owned(),
        "status".to_owned(),
        a_entry.clone(),
        b_entry.clone(),
        reused.clone(),
        elsewhere.clone(),
        old.clone(),
    ];
    want.sort();
    assert_eq!(names("before-c"), want);

    let mut removed: Vec<String> = read("c.err").lines().map(str::to_owned).collect();
    removed.sort();
    let mut want = vec![
        format!("binfmtctl: removed {a_entry}, left behind by build process {a}, which is gone"),
        format!("binfmtctl: removed {reused}, left behind by build process {me}, which is gone"),
    ];
    want.sort();
    assert_eq!(removed, want);
    // C ran with B's entry and a riscv64 entry of its own: A's no longer stood for riscv64.
    let seen_by_c = names("c.out");
    assert!(seen_by_c.contains(&b_entry), "{seen_by_c:?}");
    assert!(!seen_by_c.contains(&a_entry), "{seen_by_c:?}");
    assert!(
        seen_by_c
            .iter()
            .any(|n| n.starts_with("binfmtctl-build-") && n.ends_with("-riscv64-linux")),
        "{seen_by_c:?}"
    );
    assert!(names("after-c").contains(&b_entry), "B's entry was removed");
    // At the end only what no one here can judge is left (B and C removed their own).
    let mut want = vec!["register".to_owned(), "status".to_owned(), elsewhere, old];
    want.sort();
    assert_eq!(names("end"), want);
}

#[test]
fn build_works_as_root_of_a_user_namespace_like_a_rootless_container() {
    let hello = common::hello_riscv64(true);
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            "$B build --system riscv64 -- sh -c 'cat /proc/self/uid_map; {}'; echo \"build=$?\"",
            hello.display()
        ),
    );
    let text = ok(&out);
    assert!(
        text.contains("hello argv0=") && text.contains("build=7"),
        "{text}"
    );
}

#[test]
fn the_hosts_registrations_are_carried_into_the_private_instance() {
    // The private instance stands in for the host here: it holds an aarch64 entry of someone
    // else's; a build for riscv64 still runs arm64 programs through it.
    let busybox = common::busybox_arm64();
    let hello = common::hello_riscv64(true);
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r"printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F' > /proc/sys/fs/binfmt_misc/register || exit 3
$B build --system riscv64 -- sh -c '{busybox} echo carried && ls /proc/sys/fs/binfmt_misc 2>/dev/null; HELLO_EXIT=0 {hello}'; echo build=$?",
            busybox = busybox.display(),
            hello = hello.display()
        ),
    );
    let text = ok(&out);
    assert!(text.starts_with("carried\n"), "{text}");
    assert!(
        text.contains("hello argv0=") && text.trim_end().ends_with("build=0"),
        "{text}"
    );
}

#[test]
fn a_host_entry_that_cannot_be_carried_does_not_stand_in_for_the_builds_own() {
    // The "host" (a private instance here) runs riscv64 through an F entry whose qemu has been
    // deleted since (the kernel holds it open): it works there, but cannot be registered again
    // in the build's instance, so the build must register its own.
    let (t, hello, out) = common::private_hello(
        r"cp /usr/bin/qemu-riscv64-static $T/q-old || exit 3
printf '%s' ':riscv64-old:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'$T/q-old:PF > /proc/sys/fs/binfmt_misc/register || exit 4
rm $T/q-old
HELLO_EXIT=0 {hello} host || exit 5
HELLO_EXIT=0 $B build --system riscv64 -- {hello} build 2>$T/err; echo build=$?",
    );
    let text = ok(&out);
    assert_eq!(
        text,
        format!(
            "hello argv0={h} [host]\nhello argv0={h} [build]\nbuild=0\n",
            h = hello.display()
        ),
        "{}",
        std::fs::read_to_string(t.path().join("err")).unwrap_or_default()
    );
    assert!(
        std::fs::read_to_string(t.path().join("err"))
            .unwrap()
            .contains("the host's entry riscv64-old cannot be carried into the build"),
        "the build says which entry it could not carry"
    );
}

#[test]
fn host_table_builds_running_together_each_keep_their_own_entry() {
    // Build 1's temporary entry must not stand in for build 2's: it goes when build 1 ends,
    // while build 2 still runs riscv64 programs.
    let (_t, hello, out) = common::private_hello(
        r#"
# Build 1 waits (20 s at most) until build 2 has run a program, then ends.
$B build --host-table --system riscv64 -- sh -c 'touch "$0/1-up"; i=0; until [ -e "$0/2-ran" ] || [ $i -ge 400 ]; do sleep 0.05; i=$((i+1)); done' "$T" &
P1=$!
until [ -e "$T/1-up" ]; do sleep 0.05; done
HELLO_EXIT=0 $B build --host-table --system riscv64 -- sh -c '{hello} first; touch "$0/2-ran"; until [ -e "$0/1-done" ]; do sleep 0.05; done; {hello} second' "$T" &
P2=$!
wait $P1; echo build1=$?; touch "$T/1-done"
wait $P2; echo build2=$?
echo left: $(ls /proc/sys/fs/binfmt_misc | grep -c binfmtctl-build-)
"#,
    );
    let text = ok(&out);
    assert_eq!(
        text,
        format!(
            "hello argv0={h} [first]\nbuild1=0\nhello argv0={h} [second]\nbuild2=0\nleft: 0\n",
            h = hello.display()
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_program_the_build_does_not_emulate_is_named_with_its_system() {
    // Emulating aarch64 only: the riscv64 program gets "Exec format error" (not /bin/sh
    // reading an ELF file) and the error says which --system it needs; the status is env(1)'s
    // for a program found but not executable, 126.
    let (_t, hello, out) =
        common::private_hello("$B build --system aarch64 -- {hello}; echo rc=$?");
    assert_eq!(stdout(&out), "rc=126\n", "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "binfmtctl: error: cannot execute {}: Exec format error (os error 8); it is a riscv64-linux program, \
             not emulated in this build (add --system riscv64-linux)\n",
            hello.display()
        )
    );
}

/// `binfmtctl build ARGS -- sh -c 'touch ran; exit 3'` in a new scratch directory: (the
/// directory, whether the command ran, the output).
fn build_touching(args: &[&str]) -> (tempfile::TempDir, bool, Output) {
    let t = scratch();
    let out = Command::new(BIN)
        .arg("build")
        .args(args)
        .args(["--", "sh", "-c", "touch ran; exit 3"])
        .current_dir(t.path())
        .output()
        .unwrap();
    let ran = t.path().join("ran").exists();
    (t, ran, out)
}

#[test]
fn a_system_the_host_runs_natively_is_refused_before_anything_runs() {
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "this test describes an x86_64 host"
    );
    for (given, system) in [("x86_64", "x86_64-linux"), ("i686-linux", "i686-linux")] {
        let (_t, ran, out) = build_touching(&["--system", given]);
        assert_eq!(out.status.code(), Some(2), "{given}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "binfmtctl: error: {system} runs natively on this host (x86_64); registering it would send its programs \
                 through the emulator, and with a qemu of the host's own architecture every exec loops (ELOOP). Leave \
                 out --system {given}\n"
            )
        );
        assert!(!ran, "{given}: the command ran");
    }
}

#[test]
fn a_report_that_cannot_be_written_stops_the_build_before_it_runs() {
    let (_t, ran, out) = build_touching(&["--system", "riscv64", "--report", "/nonexistent/r.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "binfmtctl: error: cannot write the report to /nonexistent/r.txt; name a regular file in a directory you can \
         write (a symlink only where no one else can plant one), or - for stderr: No such file or directory (os error 2)\n"
    );
    assert!(!ran, "the command ran");
    // `-` is stderr, and the command's status passes through.
    let (_t, ran, out) = build_touching(&["--system", "riscv64", "--report", "-"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(ran);
    assert!(
        stderr(&out)
            .starts_with("binfmtctl build report: 0 foreign program(s) executed under emulation"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn build_hints_name_only_options_build_has() {
    let (_t, ran, out) = build_touching(&["--system", "wasm32"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "binfmtctl: error: no interpreter for wasm32-wasi found; install wasmtime\n"
    );
    assert!(!ran);
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs binfmtctl as nobody and needs root"
    );
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(BIN)
        .args(["build", "--host-table", "--system", "riscv64", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "binfmtctl: error: binfmtctl build without a private binfmt_misc instance (Linux < 6.7, or --host-table) needs \
         root (CAP_SYS_ADMIN) to change binfmt_misc; run it with sudo\n"
    );
}

#[test]
fn a_script_without_shebang_is_explained_not_run_by_a_shell() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        "printf 'echo hello\\n' > \"$T/nosb\" && chmod +x \"$T/nosb\" || exit 3\n$B build --system riscv64 -- \"$T/nosb\"; echo rc=$?",
    );
    // Found but not executable: 126, as env(1).
    assert_eq!(stdout(&out), "rc=126\n", "{}", stderr(&out));
    assert!(
        stderr(&out).ends_with(
            "nosb: Exec format error (os error 8); it is neither a program nor a #! script: begin it with #!/bin/sh, or run it with sh\n"
        ),
        "{}",
        stderr(&out)
    );
}
