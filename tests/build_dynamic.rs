//! `binfmtctl build` with the dynamically linked programs cross compilers make by default
//! (issue 15): an autotools project's `make check` and a make project that runs a generator it
//! just compiled, cross-built with Debian's toolchains for riscv64, aarch64 and armhf, no
//! `-static`, as an unprivileged user; three systems in one build; the loader found nowhere;
//! `--sysroot SYSTEM=DIR`; the host-table fallback.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{ok, private, scratch, stderr, stdout, As, BIN, MANIFEST_DIR};

/// The cross targets: (Nix system, GNU triple, Debian packages of the cross compiler).
const TARGETS: [(&str, &str, &str); 3] = [
    (
        "riscv64-linux",
        "riscv64-linux-gnu",
        "gcc-riscv64-linux-gnu libc6-dev-riscv64-cross",
    ),
    (
        "aarch64-linux",
        "aarch64-linux-gnu",
        "gcc-aarch64-linux-gnu libc6-dev-arm64-cross",
    ),
    (
        "armv7l-linux",
        "arm-linux-gnueabihf",
        "gcc-arm-linux-gnueabihf libc6-dev-armhf-cross",
    ),
];

fn require_toolchains() {
    common::require("make", "make");
    common::require("autoreconf", "autoconf automake");
    common::require("qemu-riscv64-static", "qemu-user-static");
    for (_, triple, packages) in TARGETS {
        common::require(&format!("{triple}-gcc"), packages);
    }
}

/// Run a shell script as nobody (the unprivileged user of these tests) in `dir`, with `$B`
/// binfmtctl and `$F` the fixtures directory.
fn as_nobody(dir: &Path, script: &str) -> Output {
    assert!(
        nix::unistd::geteuid().is_root(),
        "tests as nobody need the test suite to run as root"
    );
    Command::new(common::require("setpriv", "util-linux"))
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(["sh", "-c"])
        .arg(format!(
            "set -u\nB={BIN}\nF={MANIFEST_DIR}/tests/fixtures\nexport HOME={dir}\n{script}",
            dir = dir.display()
        ))
        .current_dir(dir)
        .env_remove("QEMU_LD_PREFIX")
        .output()
        .expect("run setpriv")
}

/// `make check`'s summary line for one count ("PASS", "FAIL"), as automake prints it.
fn count(text: &str, what: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("# {what}:"))?.trim().parse().ok())
}

#[test]
fn an_autotools_make_check_of_dynamic_programs_passes_under_build_for_riscv64_aarch64_and_armhf() {
    require_toolchains();
    let t = scratch();
    for (system, triple, _) in TARGETS {
        // Configured and built as the user, dynamically linked as the cross compiler links by
        // default; then `make check` without emulation, and under binfmtctl build.
        let out = as_nobody(
            t.path(),
            &format!(
                r#"cp -r "$F/autocalc" {triple} && cd {triple} || exit 90
autoreconf -fi >/dev/null 2>&1 || {{ echo "autoreconf failed" >&2; exit 91; }}
./configure --host={triple} >configure.log 2>&1 || {{ cat configure.log >&2; exit 92; }}
make check TESTS= >/dev/null 2>&1 || {{ echo "make failed" >&2; exit 93; }}
"$B" identify test-add calc
"#
            ),
        );
        let text = ok(&out);
        assert!(
            text.lines()
                .any(|l| l.starts_with("test-add ") && l.contains(system))
                && text.matches(", dynamic, interpreter /lib/ld-").count() == 2,
            "{triple}: the check programs are dynamically linked foreign programs:\n{text}"
        );
        let project = t.path().join(triple);
        let plain = private(As::Nobody, &project, "make check 2>&1; echo \"make=$?\"");
        let text = stdout(&plain);
        assert_eq!(
            count(&text, "PASS"),
            Some(0),
            "{triple} without emulation:\n{text}"
        );
        assert_eq!(
            count(&text, "FAIL"),
            Some(4),
            "{triple} without emulation:\n{text}"
        );
        assert!(!text.contains("make=0"), "{text}");

        let under = as_nobody(
            &project,
            "\"$B\" build -- make check 2>&1; echo \"make=$?\"",
        );
        let text = stdout(&under);
        assert_eq!(
            (count(&text, "PASS"), count(&text, "FAIL")),
            (Some(4), Some(0)),
            "{triple} under binfmtctl build:\n{text}\n{}",
            stderr(&under)
        );
        assert!(text.trim_end().ends_with("make=0"), "{text}");
    }
}

#[test]
fn qemu_registered_without_a_sysroot_fails_on_dynamic_programs_where_build_succeeds() {
    // The issue's own failure: a registration alone does not give qemu the loader.
    require_toolchains();
    let t = scratch();
    let out = as_nobody(
        t.path(),
        "riscv64-linux-gnu-gcc -O2 -o hello \"$F/hello.c\" && \"$B\" identify hello",
    );
    assert!(ok(&out).contains("dynamic, interpreter /lib/ld-linux-riscv64-lp64d.so.1"));
    let (magic, mask) = common::nixos_magic("riscv64-linux");
    let plain = private(
        As::Nobody,
        t.path(),
        &format!(
            "printf '%s' ':rv:M::{magic}:{mask}:/usr/bin/qemu-riscv64-static:PF' > /proc/sys/fs/binfmt_misc/register || exit 98\n\
             ./hello one; echo \"hello=$?\""
        ),
    );
    assert!(
        stderr(&plain).contains("Could not open '/lib/ld-linux-riscv64-lp64d.so.1'"),
        "{}",
        stderr(&plain)
    );
    let under = as_nobody(
        t.path(),
        "HELLO_EXIT=0 \"$B\" build --system riscv64 -- ./hello one",
    );
    assert_eq!(ok(&under), "hello argv0=./hello [one]\n");
}

#[test]
fn a_generator_for_each_of_three_systems_runs_in_one_make_dynamically_and_the_report_lists_them() {
    require_toolchains();
    let t = scratch();
    let mut top = String::from("all:\n");
    for (_, triple, _) in TARGETS {
        top += &format!("\t$(MAKE) -C {triple} CC={triple}-gcc CFLAGS=-O2\n");
    }
    std::fs::write(t.path().join("Makefile"), top).unwrap();
    let mut setup = String::new();
    let mut clean = String::new();
    for (_, triple, _) in TARGETS {
        setup += &format!("mkdir {triple} && cp \"$F\"/crossgen/* {triple}/ || exit 90\n");
        clean += &format!("make -C {triple} clean >/dev/null\n");
    }
    ok(&as_nobody(t.path(), &setup));
    let plain = private(As::Nobody, t.path(), "make 2>&1; echo \"make=$?\"");
    assert!(
        stdout(&plain).contains("Exec format error") && !stdout(&plain).contains("make=0"),
        "{}",
        stdout(&plain)
    );
    ok(&as_nobody(t.path(), &clean));

    let under = as_nobody(
        t.path(),
        "\"$B\" build --report report.txt -- make >/dev/null",
    );
    ok(&under);
    let report = std::fs::read_to_string(t.path().join("report.txt")).unwrap();
    assert!(
        report.starts_with(
            "binfmtctl build report: 3 foreign program(s) executed under emulation, 3 exec(s), "
        ),
        "{report}"
    );
    for (system, triple, _) in TARGETS {
        let dir = t.path().join(triple);
        let gen = dir.join("gen").canonicalize().unwrap();
        let identify = stdout(&common::run(&["identify", &gen.display().to_string()]));
        assert!(identify.contains(", dynamic, interpreter"), "{identify}");
        // armv6l and armv7l share one magic: either name is the arm program's system.
        let system = if system == "armv7l-linux" {
            "armv"
        } else {
            system
        };
        assert!(
            report
                .lines()
                .any(|l| l.contains(&format!("  {system}"))
                    && l.ends_with(&gen.display().to_string())),
            "{report}"
        );
        let table = std::fs::read_to_string(dir.join("table.h")).unwrap();
        let bits = if triple.starts_with("arm") { 32 } else { 64 };
        assert!(
            table.starts_with(&format!("#define TARGET_LONG_BITS {bits}\n")),
            "{triple}: the generator ran as the target: {table}"
        );
    }
}

/// Compile the dynamic riscv64 hello into `dir`, then run `script` as root of a new user and
/// mount namespace in which Debian's riscv64 cross sysroot is hidden under an empty tmpfs
/// (`$RV` is a bind mount of it made before, for --sysroot).
fn without_the_riscv64_sysroot(dir: &Path, script: &str) -> Output {
    require_toolchains();
    let hello = dir.join("hello");
    ok(&Command::new("riscv64-linux-gnu-gcc")
        .args(["-O2", "-o"])
        .arg(&hello)
        .arg(Path::new(MANIFEST_DIR).join("tests/fixtures/hello.c"))
        .output()
        .unwrap());
    Command::new(common::require("unshare", "util-linux"))
        .args(["--user", "--map-root-user", "--mount", "--", "sh", "-c"])
        .arg(format!(
            "set -u\nB={BIN}\nRV={dir}/rv\nmkdir \"$RV\" && mount --bind /usr/riscv64-linux-gnu \"$RV\" \
             && mount -t tmpfs tmpfs /usr/riscv64-linux-gnu || exit 99\n{script}",
            dir = dir.display()
        ))
        .current_dir(dir)
        .env_remove("QEMU_LD_PREFIX")
        .output()
        .unwrap()
}

#[test]
fn a_loader_found_nowhere_is_named_with_its_package_once_per_build() {
    let t = scratch();
    let out = without_the_riscv64_sysroot(
        t.path(),
        // No --system: the issue's own `binfmtctl build -- make check`.
        "\"$B\" build -- sh -c './hello; echo \"first=$?\"; ./hello; echo \"second=$?\"'",
    );
    assert_ne!(out.status.code(), Some(99), "{}", stderr(&out));
    assert_eq!(stdout(&out), "first=127\nsecond=127\n", "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(
        err,
        "binfmtctl build: ./hello is a dynamically linked riscv64-linux program and needs the loader \
         /lib/ld-linux-riscv64-lp64d.so.1, found neither on this machine nor in a sysroot (looked in: \
         /lib/ld-linux-riscv64-lp64d.so.1, /usr/*-*/lib/ld-linux-riscv64-lp64d.so.1); install it: apt install \
         libc6-riscv64-cross, or give binfmtctl build --sysroot riscv64-linux=DIR\n\
         binfmtctl build: ./hello is a dynamically linked riscv64-linux program and needs the loader \
         /lib/ld-linux-riscv64-lp64d.so.1, which is missing (see above)\n"
    );
}

#[test]
fn sysroot_system_dir_is_used_and_checked() {
    let t = scratch();
    let out = without_the_riscv64_sysroot(
        t.path(),
        "HELLO_EXIT=0 \"$B\" build --system riscv64 --sysroot riscv64-linux=\"$RV\" -- ./hello given; echo \"given=$?\"\n\
         QEMU_LD_PREFIX=\"$RV\" HELLO_EXIT=0 \"$B\" build --system riscv64 -- sh -c 'echo \"prefix=$QEMU_LD_PREFIX\"; ./hello env'; echo \"env=$?\"\n\
         \"$B\" build --system riscv64 --sysroot riscv64-linux=\"$RV/nothere\" -- true; echo \"missing=$?\"\n\
         \"$B\" build --system riscv64 --sysroot aarch64=/usr/aarch64-linux-gnu -- true; echo \"not-wanted=$?\"\n\
         \"$B\" build --system riscv64 --system aarch64 --sysroot aarch64=\"$RV\" -- true; echo \"foreign=$?\"\n\
         \"$B\" build --system riscv64 --sysroot \"$RV\" -- true; echo \"no-system=$?\"\n",
    );
    let text = stdout(&out);
    let err = stderr(&out);
    assert!(
        text.contains("hello argv0=./hello [given]\ngiven=0\n")
            && text.contains(&format!(
                "prefix={}/rv\nhello argv0=./hello [env]\nenv=0\n",
                t.path().display()
            )),
        "{text}\n{err}"
    );
    for (what, message) in [
        ("missing=2", "nothere is not a directory"),
        (
            "not-wanted=2",
            "aarch64-linux is not emulated in this build; add --system aarch64-linux",
        ),
        ("foreign=2", "holds no loader for aarch64-linux programs"),
        (
            "no-system=2",
            "expected SYSTEM=DIR, e.g. --sysroot riscv64-linux=/usr/riscv64-linux-gnu",
        ),
    ] {
        assert!(text.contains(what), "{what}: {text}");
        assert!(err.contains(message), "{message}: {err}");
    }
}

#[test]
fn the_host_table_fallback_runs_dynamic_programs_too() {
    require_toolchains();
    let t = scratch();
    ok(&Command::new("aarch64-linux-gnu-gcc")
        .args(["-O2", "-o"])
        .arg(t.path().join("hello"))
        .arg(Path::new(MANIFEST_DIR).join("tests/fixtures/hello.c"))
        .output()
        .unwrap());
    // In a private instance, which plays the host table here.
    let out = private(
        As::Me,
        t.path(),
        "snap > \"$T/before\"\nHELLO_EXIT=0 \"$B\" build --host-table --system aarch64 -- ./hello host; echo \"build=$?\"\nsnap > \"$T/after\"",
    );
    assert_eq!(
        ok(&out),
        "hello argv0=./hello [host]\nbuild=0\n",
        "{}",
        stderr(&out)
    );
    let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap();
    assert_eq!(read("before"), read("after"));
}

#[test]
fn a_private_build_leaves_only_its_empty_mountpoint_also_when_killed_and_passes_over_a_squatted_one(
) {
    require_toolchains();
    let t = scratch();
    // Sticky, as /tmp: a TMPDIR others could change is passed over for /tmp.
    common::set_mode(t.path(), 0o1777);
    let tmp = t.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    common::set_mode(&tmp, 0o1777);
    ok(&as_nobody(
        t.path(),
        "riscv64-linux-gnu-gcc -O2 -o hello \"$F/hello.c\"",
    ));
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let out = as_nobody(
        t.path(),
        &format!(
            "export TMPDIR={tmp}\nHELLO_EXIT=0 \"$B\" build --system riscv64 --system aarch64 --report - -- sh -c 'ls \"$QEMU_LD_PREFIX/lib\" | grep -c riscv64; ./hello'\n\
             \"$B\" build --system riscv64 -- sh -c 'kill -KILL $$'; echo \"killed=$?\"\n\
             \"$B\" build --system riscv64 --report - -- sh -c 'kill -KILL $$'; echo \"killed-report=$?\"",
            tmp = tmp.display()
        ),
    );
    assert_eq!(
        stdout(&out),
        "2\nhello argv0=./hello\nkilled=137\nkilled-report=137\n",
        "{}",
        stderr(&out)
    );
    assert_eq!(listing(), ["binfmtctl-build-u65534"]);
    assert_eq!(
        std::fs::read_dir(tmp.join("binfmtctl-build-u65534"))
            .unwrap()
            .count(),
        0
    );

    // Another user's directory of that name: not used, left as it was.
    std::fs::remove_dir(tmp.join("binfmtctl-build-u65534")).unwrap();
    std::fs::create_dir(tmp.join("binfmtctl-build-u65534")).unwrap();
    std::fs::write(tmp.join("binfmtctl-build-u65534/planted"), "x").unwrap();
    // Not even readable by the caller (found by a review: it was fatal, not passed over).
    common::set_mode(&tmp.join("binfmtctl-build-u65534"), 0o700);
    let out = as_nobody(
        t.path(),
        &format!(
            "export TMPDIR={tmp}\nHELLO_EXIT=0 \"$B\" build --system riscv64 -- ./hello",
            tmp = tmp.display()
        ),
    );
    assert_eq!(ok(&out), "hello argv0=./hello\n");
    assert_eq!(
        std::fs::read_dir(tmp.join("binfmtctl-build-u65534"))
            .unwrap()
            .count(),
        1,
        "the squatted directory is left as it was"
    );
    // Build after build, one directory of nobody's own beside it, empty: nothing piles up.
    for _ in 0..2 {
        ok(&as_nobody(
            t.path(),
            &format!(
                "export TMPDIR={tmp}\nHELLO_EXIT=0 \"$B\" build --system riscv64 -- ./hello",
                tmp = tmp.display()
            ),
        ));
    }
    assert_eq!(
        listing(),
        ["binfmtctl-build-u65534", "binfmtctl-build-u65534-1"]
    );
    assert_eq!(
        std::fs::read_dir(tmp.join("binfmtctl-build-u65534-1"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn gnu_hello_from_debians_source_passes_its_make_check_cross_built_for_riscv64_only_under_build() {
    // The issue's own report: GNU Hello (Debian's source package), --host=riscv64-linux-gnu,
    // `make check` was 0 PASS / 4 FAIL with "Could not open '/lib/ld-linux-riscv64...'".
    require_toolchains();
    let tarball = Path::new(MANIFEST_DIR).join("target/debian-fixtures/hello.orig.tar.gz");
    assert!(
        tarball.exists(),
        "{} is missing: run `bash scripts/test-deps.sh` as root (it downloads Debian's hello source)",
        tarball.display()
    );
    let t = scratch();
    let out = as_nobody(
        t.path(),
        &format!(
            r#"tar xzf {tarball} && cd hello-* || exit 90
./configure --host=riscv64-linux-gnu >configure.log 2>&1 || {{ cat configure.log >&2; exit 91; }}
make >make.log 2>&1 || {{ cat make.log >&2; exit 92; }}
"$B" identify hello
"#,
            tarball = tarball.display()
        ),
    );
    assert!(
        ok(&out).contains("riscv64-linux  ELF 64-bit LSB, RISC-V (0xf3), dynamic"),
        "{}",
        stdout(&out)
    );
    let project = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let plain = private(As::Nobody, &project, "make check 2>&1; echo \"make=$?\"");
    let text = stdout(&plain);
    assert_eq!(count(&text, "PASS"), Some(0), "without emulation:\n{text}");
    assert!(
        count(&text, "FAIL").is_some_and(|n| n >= 3),
        "without emulation:\n{text}"
    );
    let under = as_nobody(
        &project,
        "\"$B\" build -- make check 2>&1; echo \"make=$?\"",
    );
    let text = stdout(&under);
    assert!(
        count(&text, "PASS").is_some_and(|n| n >= 3) && count(&text, "FAIL") == Some(0),
        "under binfmtctl build:\n{text}\n{}",
        stderr(&under)
    );
    assert!(text.trim_end().ends_with("make=0"), "{text}");
}

#[test]
fn the_command_and_its_emulated_programs_start_with_no_signal_blocked_and_get_binfmtctls() {
    // std keeps the parent's signal mask in a child: binfmtctl blocks the stop signals while
    // it waits, so a build's command (bash, make, sleep: dash clears its mask itself) and, under
    // --report, every emulated program ignored Ctrl-C and SIGTERM.
    require_toolchains();
    let t = scratch();
    ok(&as_nobody(
        t.path(),
        "riscv64-linux-gnu-gcc -static -O2 -o sigblk -x c - <<'EOF'\n\
         #include <stdio.h>\n\
         #include <string.h>\n\
         int main(void) { FILE *f = fopen(\"/proc/self/status\", \"r\"); char l[256];\n\
           while (fgets(l, sizeof l, f)) if (!strncmp(l, \"SigBlk:\", 7)) fputs(l, stdout); return 0; }\n\
         EOF",
    ));
    for report in ["", "--report /dev/null"] {
        let out = as_nobody(
            t.path(),
            &format!(
                "\"$B\" build --system riscv64 {report} -- grep SigBlk /proc/self/status\n\
                 \"$B\" build --system riscv64 {report} -- ./sigblk\n\
                 start=$(date +%s); timeout 2 \"$B\" build --system riscv64 {report} -- sleep 30; echo \"timeout=$?\"\n\
                 echo \"took=$(( $(date +%s) - start ))\""
            ),
        );
        let text = ok(&out);
        assert!(
            text.starts_with("SigBlk:\t0000000000000000\nSigBlk:\t0000000000000000\ntimeout=124\n"),
            "{report}: {text}"
        );
        let took: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("took="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            took < 10,
            "{report}: SIGTERM to binfmtctl reached the command: {text}"
        );
    }
}

#[test]
fn a_tmpdir_another_user_can_change_is_not_where_roots_build_keeps_what_it_runs() {
    // Found by a review: under `sudo -E` with a per-user TMPDIR, the user could rename root's
    // build directory (a mount point only in the build's namespace) and plant the qemu the
    // report shim runs as root, or the loaders qemu loads.
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let t = tempfile::tempdir().unwrap();
    let theirs = t.path().join("user-tmp");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let out = Command::new(BIN)
        .args([
            "build",
            "--system",
            "riscv64",
            "--report",
            "/dev/null",
            "--",
            "true",
        ])
        .env("TMPDIR", &theirs)
        .output()
        .unwrap();
    ok(&out);
    assert!(
        stderr(&out).contains(&format!(
            "the build's directory goes to /tmp, not {0}: {0} is owned by uid 65534, not root",
            theirs.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_dir(&theirs).unwrap().count(),
        0,
        "nothing of root's in it"
    );
}

#[test]
fn an_arm_program_s_missing_loader_names_the_package_that_holds_that_loader() {
    // The package named is the one that holds the program's loader: libc6-armhf-cross for
    // /lib/ld-linux-armhf.so.3, libc6-armel-cross for /lib/ld-linux.so.3, whichever of the
    // two ARM systems (one magic) runs it.
    require_toolchains();
    let t = scratch();
    let hello = t.path().join("hello");
    ok(&Command::new("arm-linux-gnueabihf-gcc")
        .args(["-O2", "-o"])
        .arg(&hello)
        .arg(Path::new(MANIFEST_DIR).join("tests/fixtures/hello.c"))
        .output()
        .unwrap());
    let mut bytes = std::fs::read(&hello).unwrap();
    common::as_armel(&mut bytes);
    std::fs::write(t.path().join("armel"), bytes).unwrap();
    common::set_mode(&t.path().join("armel"), 0o755);
    let out = Command::new(common::require("unshare", "util-linux"))
        .args(["--user", "--map-root-user", "--mount", "--", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs tmpfs /usr/arm-linux-gnueabihf || exit 99\n\
             {BIN} build --system armhf -- sh -c './hello; echo \"status=$?\"; ./armel; echo \"status=$?\"'"
        ))
        .current_dir(t.path())
        .env_remove("QEMU_LD_PREFIX")
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "status=127\nstatus=127\n", "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "binfmtctl build: ./hello is a dynamically linked armv7l-linux program and needs the loader \
         /lib/ld-linux-armhf.so.3, found neither on this machine nor in a sysroot (looked in: \
         /lib/ld-linux-armhf.so.3, /usr/*-*/lib/ld-linux-armhf.so.3); install it: apt install \
         libc6-armhf-cross, or give binfmtctl build --sysroot armv7l-linux=DIR\n\
         binfmtctl build: ./armel is a dynamically linked armv7l-linux program and needs the loader \
         /lib/ld-linux.so.3, found neither on this machine nor in a sysroot (looked in: \
         /lib/ld-linux.so.3, /usr/*-*/lib/ld-linux.so.3); install it: apt install \
         libc6-armel-cross, or give binfmtctl build --sysroot armv7l-linux=DIR\n"
    );
}

#[test]
fn nix_gets_the_sandbox_path_of_the_host_entry_that_runs_a_system_not_of_the_one_it_did_not_register(
) {
    // Found by a review: a carried host entry without F (Debian's dynamic qemu) runs the
    // system, binfmtctl registers none of its own, and Nix's sandbox must reach that entry's
    // interpreter; NIX_CONFIG named the static qemu binfmtctl would have used.
    let (magic, mask) = common::nixos_magic("riscv64-linux");
    let qemu = common::require("qemu-riscv64", "qemu-user");
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            "printf '%s' ':rvhost:M::{magic}:{mask}:{qemu}:P' > /proc/sys/fs/binfmt_misc/register || exit 98\n\
             \"$B\" build --system riscv64 -- sh -c 'printf \"%s\\n\" \"$NIX_CONFIG\"'",
            qemu = qemu.display()
        ),
    );
    let text = ok(&out);
    assert!(
        text.contains(&format!("extra-sandbox-paths = {}\n", qemu.display())),
        "{text}"
    );
    assert!(!text.contains("qemu-riscv64-static"), "{text}");
}

#[test]
fn a_report_link_another_user_planted_is_not_written_through() {
    // root's `build --report DIR/r` where DIR is another user's and r their link to a file of
    // root's: refused, the file unchanged; a link where no one else can plant one (/dev/stderr)
    // and /dev/null still work.
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let t = tempfile::tempdir().unwrap();
    let victim = t.path().join("victim");
    std::fs::write(&victim, "root's\n").unwrap();
    let theirs = t.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::symlink(&victim, theirs.join("r")).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let run = |report: &Path| {
        Command::new(BIN)
            .args(["build", "--system", "riscv64", "--report"])
            .arg(report)
            .args(["--", "true"])
            .output()
            .unwrap()
    };
    let out = run(&theirs.join("r"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot write the report to")
            && stderr(&out).contains("(os error 40)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's\n");
    ok(&run(Path::new("/dev/null")));
    assert!(stderr(&ok_out(run(Path::new("/dev/stderr")))).starts_with("binfmtctl build report: "));
}

fn ok_out(o: Output) -> Output {
    ok(&o);
    o
}
