//! `binfmtctl run`: real foreign programs (riscv64 cross-compiled here, Debian's arm64 busybox)
//! run as an unprivileged user with no registration (qemu exec-ed directly), and through the
//! kernel in a private binfmt_misc instance; status, signal, argv[0] and environment pass through.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use binfmtctl::elf::{EM_IA_64, E_MACHINE};
use common::{fixture_dir, ok, private, scratch, stderr, stdout, As, BIN};

const LOADER: &str = "/lib/ld-linux-riscv64-lp64d.so.1";

/// binfmtctl as `nobody` (setpriv, no capabilities, no groups), in `dir`, with `$QEMU_LD_PREFIX`
/// cleared so that the sysroot search is what is tested.
fn nobody(dir: &Path) -> Command {
    assert!(
        nix::unistd::geteuid().is_root(),
        "tests as nobody need the test suite to run as root"
    );
    let mut c = Command::new(common::require("setpriv", "util-linux"));
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        BIN,
    ])
    .current_dir(dir)
    .env_remove("QEMU_LD_PREFIX");
    c
}

/// An empty directory for `--root`: a binfmt_misc that is not mounted, so whatever the host's
/// table holds, `run` executes qemu itself.
fn no_table() -> tempfile::TempDir {
    scratch()
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("run binfmtctl")
}

/// Assert an exact exit code, stdout and stderr.
#[track_caller]
fn assert_exact(o: &Output, code: i32, out: &str, err: &str) {
    assert_eq!(
        (o.status.code(), stdout(o).as_str(), stderr(o).as_str()),
        (Some(code), out, err),
        "{:?}",
        o.status
    );
}

/// Copy a fixture into `dir` (executable), changing it with `patch`.
fn patched(src: &Path, dir: &Path, name: &str, patch: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = fs::read(src).unwrap();
    patch(&mut bytes);
    let dst = dir.join(name);
    fs::write(&dst, bytes).unwrap();
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).unwrap();
    dst
}

#[test]
fn static_program_as_nobody_without_registration() {
    common::hello_riscv64(true);
    let root = no_table();
    for (exit, code) in [(None, 7), (Some("0"), 0), (Some("3"), 3)] {
        let mut cmd = nobody(fixture_dir());
        cmd.arg("--root")
            .arg(root.path())
            .args(["run", "./hello-riscv64", "a", "b c"]);
        if let Some(e) = exit {
            cmd.env("HELLO_EXIT", e);
        }
        assert_exact(
            &output(&mut cmd),
            code,
            "hello argv0=./hello-riscv64 [a] [b c]\n",
            "",
        );
    }
    // Options after the program are the program's.
    let o = output(nobody(fixture_dir()).arg("--root").arg(root.path()).args([
        "run",
        "./hello-riscv64",
        "--system",
        "-x",
    ]));
    assert_exact(&o, 7, "hello argv0=./hello-riscv64 [--system] [-x]\n", "");
}

#[test]
fn static_program_as_nobody_with_the_hosts_table() {
    // Whatever this machine's table holds (the tests never register there), run works.
    common::hello_riscv64(true);
    let o = output(nobody(fixture_dir()).args(["run", "./hello-riscv64", "x"]));
    assert_exact(&o, 7, "hello argv0=./hello-riscv64 [x]\n", "");
}

#[test]
fn a_program_in_path_keeps_the_name_typed() {
    common::hello_riscv64(true);
    let root = no_table();
    let o = output(
        nobody(Path::new("/"))
            .env("PATH", format!("/nonexistent:{}", fixture_dir().display()))
            .arg("--root")
            .arg(root.path())
            .args(["run", "hello-riscv64"]),
    );
    assert_exact(&o, 7, "hello argv0=hello-riscv64\n", "");
    let o = output(
        nobody(Path::new("/"))
            .env("PATH", "/nonexistent")
            .args(["run", "hello-riscv64"]),
    );
    assert_exact(
        &o,
        2,
        "",
        "binfmtctl: error: hello-riscv64: not found in $PATH; give its path, e.g. ./hello-riscv64\n",
    );
}

#[test]
fn dynamic_program_finds_the_debian_cross_sysroot() {
    let hello = common::hello_riscv64(false);
    assert!(
        Path::new("/usr/riscv64-linux-gnu")
            .join(&LOADER[1..])
            .exists(),
        "install libc6-riscv64-cross (bash scripts/test-deps.sh installs it)"
    );
    let root = no_table();
    let o = output(nobody(fixture_dir()).arg("--root").arg(root.path()).args([
        "run",
        "./hello-riscv64-dynamic",
        "x",
    ]));
    assert_exact(&o, 7, "hello argv0=./hello-riscv64-dynamic [x]\n", "");

    // Named explicitly: --sysroot, or qemu's own $QEMU_LD_PREFIX.
    let o = output(
        nobody(fixture_dir())
            .arg("--root")
            .arg(root.path())
            .args(["run", "--sysroot", "/usr/riscv64-linux-gnu"])
            .arg(&hello),
    );
    assert_exact(&o, 7, &format!("hello argv0={}\n", hello.display()), "");
    let o = output(
        nobody(fixture_dir())
            .env("QEMU_LD_PREFIX", "/usr/riscv64-linux-gnu")
            .env("HELLO_EXIT", "0")
            .arg("--root")
            .arg(root.path())
            .args(["run", "./hello-riscv64-dynamic"]),
    );
    assert_exact(&o, 0, "hello argv0=./hello-riscv64-dynamic\n", "");

    // A --sysroot without the loader is refused, not silently replaced.
    let o = output(nobody(fixture_dir()).arg("--root").arg(root.path()).args([
        "run",
        "--sysroot",
        "/nonexistent",
        "./hello-riscv64-dynamic",
    ]));
    assert_exact(
        &o,
        2,
        "",
        &format!(
            "binfmtctl: error: ./hello-riscv64-dynamic needs the loader {LOADER}, which the sysroot /nonexistent does not have \
             (/nonexistent{LOADER} does not exist); give a --sysroot DIR that holds it\n"
        ),
    );
}

#[test]
fn a_missing_loader_is_reported_with_what_to_install() {
    let hello = common::hello_riscv64(false);
    let t = scratch();
    // The same program, its PT_INTERP naming a loader no machine has (same length, so the
    // program headers stay valid).
    let fake = format!(
        "/nonexistent/{}",
        "l".repeat(LOADER.len() - "/nonexistent/".len())
    );
    patched(&hello, t.path(), "no-loader", |bytes| {
        let needle = format!("{LOADER}\0");
        let at = bytes
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .expect("PT_INTERP string in the dynamic hello");
        bytes[at..at + LOADER.len()].copy_from_slice(fake.as_bytes());
    });
    let o = output(nobody(t.path()).args(["run", "./no-loader"]));
    assert_exact(
        &o,
        2,
        "",
        &format!(
            "binfmtctl: error: ./no-loader needs the loader {fake}, found neither on this machine nor in a sysroot \
             (looked in: {fake}, /usr/*{fake}); install it: apt install libc6-riscv64-cross, or give --sysroot DIR\n"
        ),
    );
}

#[test]
fn not_elf_and_not_a_program() {
    let o = output(
        Command::new(BIN)
            .current_dir(common::MANIFEST_DIR)
            .args(["run", "./README.md"]),
    );
    assert_exact(
        &o,
        2,
        "",
        "binfmtctl: error: ./README.md: not an ELF file (nor a #! script); binfmtctl run runs ELF programs\n",
    );

    // An ELF program of a machine no profile covers (IA-64).
    let t = scratch();
    patched(&common::hello_riscv64(true), t.path(), "ia64", |b| {
        b[E_MACHINE..E_MACHINE + 2].copy_from_slice(&EM_IA_64.to_le_bytes());
    });
    let o = output(nobody(t.path()).args(["run", "./ia64"]));
    assert_exact(
        &o,
        2,
        "",
        "binfmtctl: error: ./ia64: no known system runs IA-64 programs (ELF 64-bit LSB, IA-64 (0x32), static); \
         `binfmtctl systems` lists the supported ones, or name one with --system\n",
    );

    // An object file is not a program.
    patched(&common::hello_riscv64(true), t.path(), "obj", |b| b[16] = 1);
    let o = output(nobody(t.path()).args(["run", "./obj"]));
    assert_exact(
        &o,
        2,
        "",
        "binfmtctl: error: ./obj: ELF 64-bit LSB relocatable, RISC-V (0xf3) is not a program; binfmtctl run runs executables and PIE programs\n",
    );

    let o = output(nobody(t.path()).args(["run", "--system", "riscv65", "./ia64"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("binfmtctl: error: unknown system \"riscv65\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn scripts_run_directly() {
    let t = scratch();
    let script = t.path().join("s.sh");
    fs::write(&script, "#!/bin/sh\necho \"script $0 $*\"\nexit 4\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let o = output(nobody(t.path()).args(["run", "./s.sh", "x", "y"]));
    assert_exact(&o, 4, "script ./s.sh x y\n", "");
}

#[test]
fn native_programs_run_natively() {
    let o = output(nobody(Path::new("/")).args(["run", "/bin/true"]));
    assert_exact(&o, 0, "", "");
    let o = output(nobody(Path::new("/")).args(["run", "/bin/sh", "-c", "exit 5"]));
    assert_exact(&o, 5, "", "");
    // Found in $PATH; argv[0] as typed.
    let o = output(nobody(Path::new("/")).args(["run", "sh", "-c", "echo $0"]));
    assert_exact(&o, 0, "sh\n", "");
    // exec, not spawn-and-wait: a signal is the program's own.
    let o = output(nobody(Path::new("/")).args(["run", "/bin/sh", "-c", "kill -TERM $$"]));
    assert_eq!(o.status.signal(), Some(15), "{:?}", o.status);
    // exec failures are reported with the path.
    let t = scratch();
    fs::copy("/bin/true", t.path().join("true")).unwrap();
    fs::set_permissions(t.path().join("true"), fs::Permissions::from_mode(0o644)).unwrap();
    let o = output(nobody(t.path()).args(["run", "./true"]));
    assert_exact(
        &o,
        2,
        "",
        "binfmtctl: error: cannot execute ./true: Permission denied (os error 13)\n",
    );
}

#[test]
fn signal_dispositions_are_not_inherited_from_binfmtctl() {
    // Rust ignores SIGPIPE; the program must start as it would without binfmtctl.
    // Except for glibc's two internal signals, 32 (SIGCANCEL) and 33 (SIGSETXID), which no
    // program can set (glibc's sigaction refuses them): glibc's posix_spawn leaves them
    // ignored in a child when its parent has glibc's handlers installed (this statically linked
    // test does), and a statically linked binfmtctl installs its own handler for 33 at start,
    // which exec resets to the default.
    let glibc_internal: u64 = 0b11 << 31;
    let line = |o: &Output| {
        stdout(o)
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .map(|mask| u64::from_str_radix(mask.trim(), 16).unwrap() & !glibc_internal)
    };
    let plain = Command::new("grep")
        .args(["SigIgn", "/proc/self/status"])
        .output()
        .unwrap();
    let o = output(nobody(Path::new("/")).args(["run", "grep", "SigIgn", "/proc/self/status"]));
    assert!(line(&plain).is_some());
    assert_eq!(line(&o), line(&plain));
}

#[test]
fn a_foreign_program_killed_by_a_signal() {
    let busybox = common::busybox_arm64();
    let root = no_table();
    let o = output(
        nobody(Path::new("/"))
            .arg("--root")
            .arg(root.path())
            .arg("run")
            .arg(&busybox)
            .args(["sh", "-c", "echo $0; kill -TERM $$"]),
    );
    assert_eq!(o.status.signal(), Some(15), "{:?} {}", o.status, stderr(&o));
    assert_eq!(stdout(&o), "sh\n");
}

#[test]
fn ld_variables_reach_the_program_not_a_dynamic_qemu() {
    common::require("qemu-riscv64", "qemu-user");
    common::hello_riscv64(true);
    let root = no_table();
    let preload_errors = |o: &Output| {
        stderr(o)
            .matches("from LD_PRELOAD cannot be preloaded")
            .count()
    };
    // A dynamically linked binfmtctl's ld.so complains once (a statically linked one, the
    // default build, never). A further complaint would be qemu's, had LD_PRELOAD stayed in its
    // environment.
    let own_complaints = usize::from(
        binfmtctl::elf::read_file(Path::new(BIN))
            .unwrap()
            .interp
            .is_some(),
    );
    let o = output(
        Command::new(BIN)
            .current_dir(fixture_dir())
            .env("LD_PRELOAD", "/nonexistent.so")
            .arg("--root")
            .arg(root.path())
            .args([
                "run",
                "--interpreter",
                "/usr/bin/qemu-riscv64",
                "./hello-riscv64",
                "a",
            ]),
    );
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert_eq!(stdout(&o), "hello argv0=./hello-riscv64 [a]\n");
    assert_eq!(preload_errors(&o), own_complaints, "{}", stderr(&o));

    // The emulated program does get it (-E), and the rest of the environment unchanged.
    let busybox = common::busybox_arm64();
    for qemu in ["/usr/bin/qemu-aarch64", "/usr/bin/qemu-aarch64-static"] {
        let o = output(
            Command::new(BIN)
                .env("LD_PRELOAD", "/nonexistent.so")
                .env("LD_LIBRARY_PATH", "/nonexistent/lib")
                .env("BINFMTCTL_TEST", "kept")
                .arg("--root")
                .arg(root.path())
                .args(["run", "--interpreter", qemu])
                .arg(&busybox)
                .arg("env"),
        );
        let text = ok(&o);
        for line in [
            "LD_PRELOAD=/nonexistent.so",
            "LD_LIBRARY_PATH=/nonexistent/lib",
            "BINFMTCTL_TEST=kept",
        ] {
            assert!(text.lines().any(|l| l == line), "{qemu}: {line}\n{text}");
        }
        assert_eq!(preload_errors(&o), own_complaints, "{qemu}: {}", stderr(&o));
    }
}

#[test]
fn no_emulator() {
    common::hello_riscv64(true);
    let root = no_table();
    let o = output(nobody(fixture_dir()).arg("--root").arg(root.path()).args([
        "run",
        "--interpreter",
        "/nonexistent/qemu",
        "./hello-riscv64",
    ]));
    assert_exact(
        &o,
        2,
        "",
        "binfmtctl: error: interpreter /nonexistent/qemu does not exist; give the path of an installed emulator\n",
    );
}

/// In a private binfmt_misc instance with riscv64 registered, `run` leaves static programs to
/// the kernel: the registered interpreter (a wrapper that says so) runs them. `--interpreter`
/// names the emulator to use, so it takes the qemu route; so does a dynamic program whose
/// loader only a sysroot holds (-L, which a registered qemu would not get).
#[test]
fn through_the_kernel_in_a_private_instance() {
    let hello = common::hello_riscv64(true);
    common::hello_riscv64(false);
    let t = scratch();
    let out = private(
        As::Nobody,
        t.path(),
        &format!(
            r#"
cd {fixtures}
printf '#!/bin/sh\necho via-kernel >&2\np=$1; a0=$2; shift 2\nexec /usr/bin/qemu-riscv64-static -0 "$a0" "$p" "$@"\n' > "$T/wrap"
chmod 0755 "$T/wrap"
bfc enable riscv64-linux --interpreter "$T/wrap" >"$T/enable.out" 2>&1 || {{ cat "$T/enable.out"; exit 3; }}
"$B" run ./hello-riscv64 a 2>"$T/e1"; echo "kernel=$? $(grep -c via-kernel "$T/e1")"
"$B" run --interpreter /usr/bin/qemu-riscv64-static ./hello-riscv64 a 2>"$T/e2"; echo "forced=$? $(grep -c via-kernel "$T/e2")"
"$B" run ./hello-riscv64-dynamic b 2>"$T/e3"; echo "dynamic=$? $(grep -c via-kernel "$T/e3")"
"$B" run --interpreter /nonexistent/qemu ./hello-riscv64-dynamic 2>&1; echo "dynamic-bogus=$?"
echo 0 >/proc/sys/fs/binfmt_misc/riscv64-linux
"$B" run --interpreter /nonexistent/qemu {hello} 2>&1; echo "disabled=$?"
"$B" run {hello} 2>"$T/e4"; echo "disabled-found=$? $(grep -c via-kernel "$T/e4")"
"#,
            fixtures = fixture_dir().display(),
            hello = hello.display(),
        ),
    );
    let text = ok(&out);
    let bogus = "binfmtctl: error: interpreter /nonexistent/qemu does not exist; give the path of an installed emulator";
    assert_eq!(
        text,
        format!(
            "hello argv0=./hello-riscv64 [a]\nkernel=7 1\n\
             hello argv0=./hello-riscv64 [a]\nforced=7 0\n\
             hello argv0=./hello-riscv64-dynamic [b]\ndynamic=7 0\n\
             {bogus}\ndynamic-bogus=2\n\
             {bogus}\ndisabled=2\n\
             hello argv0={hello}\ndisabled-found=7 0\n",
            hello = hello.display()
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_system_that_does_not_match_the_program_is_refused() {
    let o = Command::new(BIN)
        .args(["run", "--system", "riscv64-linux", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "binfmtctl: error: /bin/true is ELF 64-bit LSB, x86-64 (0x3e), dynamic, interpreter /lib64/ld-linux-x86-64.so.2, not a riscv64-linux program; leave out --system to have it read from the file\n"
    );
}

#[test]
fn a_script_whose_interpreter_is_foreign_and_not_emulated_fails_and_its_body_never_runs() {
    // No registration: the kernel cannot run the script's riscv64 interpreter. glibc's execvp
    // would then run the script with /bin/sh (its body, "echo"); binfmtctl must not.
    let hello = common::hello_riscv64(true);
    let t = scratch();
    let (script, out) = run_script(
        t.path(),
        &format!("#!{} 9\necho THE-HOST-SHELL-RAN-IT\n", hello.display()),
    );
    assert_eq!(stdout(&out), "rc=2\n", "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "binfmtctl: error: {s}: a #! script whose interpreter the kernel cannot run (Exec format error): {h} is a \
             riscv64-linux program; run it with binfmtctl run {h} 9 {s}, or enable that system (binfmtctl enable \
             riscv64-linux)\n",
            s = script.display(),
            h = hello.display()
        )
    );
}

#[test]
fn a_fifo_is_refused_at_once_not_waited_on() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        "mkfifo \"$T/fifo\" && chmod +x \"$T/fifo\" || exit 3\ntimeout 20 $B run \"$T/fifo\"; echo rc=$?",
    );
    assert_eq!(stdout(&out), "rc=2\n", "{}", stderr(&out));
    assert!(
        stderr(&out).ends_with("fifo: not a regular file but a FIFO; programs are regular files\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_extension_entry_matching_the_name_is_not_taken_for_the_programs_emulator() {
    // A newer `E` entry for `.rv` files would get the program (here /bin/echo would print its
    // arguments): run goes to qemu instead, since that entry is no riscv64 emulator.
    let (t, _, out) = common::private_hello(
        r"bfc enable riscv64-linux >/dev/null 2>&1 || exit 3
printf ':ext:E::rv::/bin/echo:P' > /proc/sys/fs/binfmt_misc/register || exit 4
cp {hello} $T/a.rv
HELLO_EXIT=0 $B run $T/a.rv x; echo rc=$?",
    );
    assert_eq!(
        stdout(&out),
        format!("hello argv0={}/a.rv [x]\nrc=0\n", t.path().display()),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_sysroot_whose_loader_is_for_another_architecture_is_refused_by_name() {
    // The loader's name is right, its contents are an x86_64 program: not riscv64's loader.
    let dynamic = common::hello_riscv64(false);
    let t = scratch();
    let lib = t.path().join("sysroot/lib");
    fs::create_dir_all(&lib).unwrap();
    fs::copy("/bin/true", lib.join("ld-linux-riscv64-lp64d.so.1")).unwrap();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            "$B run --sysroot $T/sysroot {}; echo rc=$?",
            dynamic.display()
        ),
    );
    assert_eq!(stdout(&out), "rc=2\n", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/sysroot/lib/ld-linux-riscv64-lp64d.so.1 is not a loader for the program's architecture"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ld_variables_never_reach_a_dynamic_registered_qemu() {
    // riscv64 registered with Debian's dynamically linked qemu (P, no F): through the kernel,
    // LD_PRELOAD would load into qemu itself. run takes the qemu route, which moves it to -E.
    common::require("qemu-riscv64", "qemu-user");
    let (_t, _, out) = common::private_hello(
        r"bfc enable riscv64-linux --interpreter /usr/bin/qemu-riscv64 >/dev/null 2>&1; [ $? -le 1 ] || exit 3
LD_PRELOAD=/nonexistent.so HELLO_EXIT=0 $B run {hello} x; echo rc=$?",
    );
    assert!(stdout(&out).ends_with(" [x]\nrc=0\n"), "{}", stdout(&out));
    assert!(
        !stderr(&out).contains("cannot be preloaded"),
        "the host's ld.so saw LD_PRELOAD: {}",
        stderr(&out)
    );
}

#[test]
fn a_native_program_the_kernel_refuses_is_reported_not_handed_to_qemu() {
    // /bin/true with no program headers: an x86_64 ELF the kernel refuses (ENOEXEC). qemu
    // of the host's own architecture would only crash on it.
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        "cp /bin/true \"$T/bad\" && printf '\\000\\000' | dd of=\"$T/bad\" bs=1 seek=56 conv=notrunc 2>/dev/null || exit 3\n\
         $B run \"$T/bad\"; echo rc=$?",
    );
    assert_eq!(stdout(&out), "rc=2\n", "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "binfmtctl: error: cannot execute {}/bad: Exec format error (os error 8)\n",
            t.path().display()
        )
    );
}

#[test]
fn a_script_whose_hashbang_names_nothing_says_so() {
    let t = scratch();
    let (_, out) = run_script(t.path(), "#!   \necho THE-HOST-SHELL-RAN-IT\n");
    assert_eq!(stdout(&out), "rc=2\n", "{}", stderr(&out));
    assert!(
        stderr(&out).ends_with("its #! line names no interpreter\n"),
        "{}",
        stderr(&out)
    );
}

/// Write an executable script `text` into `dir` and `binfmtctl run` it in a private instance
/// (no registration); the output ends with `rc=<its exit status>`.
fn run_script(dir: &Path, text: &str) -> (PathBuf, Output) {
    let script = dir.join("s.sh");
    fs::write(&script, text).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let out = private(
        As::Me,
        dir,
        &format!("$B run {}; echo rc=$?", script.display()),
    );
    (script, out)
}

/// tests/fixtures/hello.c compiled dynamically with `gcc` (a cross compiler) into `dir`.
fn cross_hello(gcc: &str, package: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("hello-{gcc}"));
    ok(&Command::new(common::require(gcc, package))
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(Path::new(common::MANIFEST_DIR).join("tests/fixtures/hello.c"))
        .output()
        .unwrap());
    out
}

/// `script` (sh) as root of a new user and mount namespace, in `dir`, where `$B` is binfmtctl;
/// it hides what it must with mounts that vanish with it.
fn hidden(dir: &Path, script: &str) -> Output {
    output(
        Command::new(common::require("unshare", "util-linux"))
            .args(["--user", "--map-root-user", "--mount", "--", "sh", "-c"])
            .arg(format!("set -u\nB={BIN}\n{script}"))
            .current_dir(dir)
            .env_remove("QEMU_LD_PREFIX"),
    )
}

#[test]
fn an_i386_dynamic_program_uses_a_sysroot_when_the_host_lacks_its_loader() {
    let t = scratch();
    cross_hello("i686-linux-gnu-gcc", "gcc-i686-linux-gnu", t.path());
    assert!(
        Path::new("/usr/i686-linux-gnu/lib/ld-linux.so.2").exists(),
        "install libc6-i386-cross (bash scripts/test-deps.sh installs it)"
    );
    let root = no_table();
    // Found by the search (or, where libc6-i386 is installed, run natively), given with
    // --sysroot, or with $QEMU_LD_PREFIX: the same program output either way.
    for (sysroot, env) in [
        (None, None),
        (Some("/usr/i686-linux-gnu"), None),
        (None, Some("/usr/i686-linux-gnu")),
    ] {
        let mut cmd = nobody(t.path());
        cmd.arg("--root").arg(root.path()).arg("run");
        if let Some(s) = sysroot {
            cmd.args(["--sysroot", s]);
        }
        if let Some(e) = env {
            cmd.env("QEMU_LD_PREFIX", e);
        }
        let o = output(cmd.arg("./hello-i686-linux-gnu-gcc").env("HELLO_EXIT", "0"));
        assert_exact(&o, 0, "hello argv0=./hello-i686-linux-gnu-gcc\n", "");
    }
    // --sysroot is honoured, not ignored because x86_64 runs i386 programs.
    let o = output(nobody(t.path()).args([
        "run",
        "--sysroot",
        "/nonexistent",
        "./hello-i686-linux-gnu-gcc",
    ]));
    assert_exact(
        &o,
        2,
        "",
        "binfmtctl: error: ./hello-i686-linux-gnu-gcc needs the loader /lib/ld-linux.so.2, which the sysroot \
         /nonexistent does not have (/nonexistent/lib/ld-linux.so.2 does not exist); give a --sysroot DIR that \
         holds it; or, to run it natively, install this machine's i386 C library: apt install libc6-i386\n",
    );
    // The loader nowhere (the cross sysroot hidden, and the host's libc6-i386 if any):
    // the error names the loader and the packages, not "No such file or directory".
    let o = hidden(
        t.path(),
        "mount -t tmpfs tmpfs /usr/i686-linux-gnu || exit 99\n\
         if [ -e /lib/ld-linux.so.2 ]; then mount --bind /dev/null /lib/ld-linux.so.2 || exit 99; fi\n\
         \"$B\" run ./hello-i686-linux-gnu-gcc",
    );
    assert_exact(
        &o,
        2,
        "",
        "binfmtctl: error: ./hello-i686-linux-gnu-gcc needs the loader /lib/ld-linux.so.2, found neither on this \
         machine nor in a sysroot (looked in: /lib/ld-linux.so.2, /usr/*/lib/ld-linux.so.2); install it: apt \
         install libc6-i386-cross, or give --sysroot DIR; or, to run it natively, install this machine's i386 C \
         library: apt install libc6-i386\n",
    );
}

#[test]
fn an_arm_program_s_missing_loader_names_the_package_that_holds_that_loader() {
    let t = scratch();
    let armhf = cross_hello(
        "arm-linux-gnueabihf-gcc",
        "gcc-arm-linux-gnueabihf",
        t.path(),
    );
    // The same program asking for armel's loader.
    patched(&armhf, t.path(), "armel", |bytes| common::as_armel(bytes));
    let o = hidden(
        t.path(),
        "mount -t tmpfs tmpfs /usr/arm-linux-gnueabihf || exit 99\n\
         \"$B\" run ./hello-arm-linux-gnueabihf-gcc; \"$B\" run ./armel",
    );
    assert_exact(
        &o,
        2,
        "",
        "binfmtctl: error: ./hello-arm-linux-gnueabihf-gcc needs the loader /lib/ld-linux-armhf.so.3, found \
         neither on this machine nor in a sysroot (looked in: /lib/ld-linux-armhf.so.3, \
         /usr/*/lib/ld-linux-armhf.so.3); install it: apt install libc6-armhf-cross, or give --sysroot DIR\n\
         binfmtctl: error: ./armel needs the loader /lib/ld-linux.so.3, found neither on this machine nor in a \
         sysroot (looked in: /lib/ld-linux.so.3, /usr/*/lib/ld-linux.so.3); install it: apt install \
         libc6-armel-cross, or give --sysroot DIR\n",
    );
}

/// Debian's libc6:ppc64el and libc-bin:ppc64el unpacked with dpkg-deb -x (scripts/test-deps.sh).
fn ppc64el_sysroot() -> PathBuf {
    let dir = Path::new(common::MANIFEST_DIR).join("target/debian-fixtures/sysroot-ppc64el");
    assert!(
        dir.join("usr/bin/getconf").exists(),
        "{} is missing: run bash scripts/test-deps.sh",
        dir.display()
    );
    dir
}

#[test]
fn a_dpkg_deb_sysroot_s_absolute_loader_link_is_named_with_the_fix() {
    let sysroot = ppc64el_sysroot();
    let t = scratch();
    let copy = t.path().join("ppc64el");
    ok(&Command::new("cp")
        .arg("-a")
        .arg(&sysroot)
        .arg(&copy)
        .output()
        .unwrap());
    let root = no_table();
    let getconf = copy.join("usr/bin/getconf");
    let c = copy.display();
    let expected = format!(
        "binfmtctl: error: {g}: {c}/lib64/ld64.so.2 is a symlink to /lib/powerpc64le-linux-gnu/ld64.so.2, which \
         qemu -L {c} looks for on this machine, not in the sysroot, where it is \
         {c}/lib/powerpc64le-linux-gnu/ld64.so.2; make the link relative: ln -sfn \
         ../lib/powerpc64le-linux-gnu/ld64.so.2 {c}/lib64/ld64.so.2\n",
        g = getconf.display()
    );
    // getconf LONG_BIT with --sysroot, or with $QEMU_LD_PREFIX.
    let getconf_in = |given: bool| {
        let mut cmd = nobody(t.path());
        cmd.arg("--root").arg(root.path()).arg("run");
        if given {
            cmd.arg("--sysroot").arg(&copy);
        } else {
            cmd.env("QEMU_LD_PREFIX", &copy);
        }
        output(cmd.arg(&getconf).arg("LONG_BIT"))
    };
    assert_exact(&getconf_in(true), 2, "", &expected);
    assert_exact(&getconf_in(false), 2, "", &expected);
    // The fix the message gives works.
    ok(&Command::new("ln")
        .args(["-sfn", "../lib/powerpc64le-linux-gnu/ld64.so.2"])
        .arg(copy.join("lib64/ld64.so.2"))
        .output()
        .unwrap());
    let o = getconf_in(true);
    assert_exact(&o, 0, "64\n", "");
}
