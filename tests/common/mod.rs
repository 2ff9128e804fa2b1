//! Shared test support: the built binary, fixtures (real foreign programs), and running
//! commands inside a private binfmt_misc instance (new user + mount namespace), so no test
//! ever touches the host's global table.
#![allow(dead_code)] // each test crate uses a part of this

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub const BIN: &str = env!("CARGO_BIN_EXE_binfmtctl");
pub const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Fail loudly (never skip) when a tool the test needs is missing.
pub fn require(program: &str, package: &str) -> PathBuf {
    which::which(program).unwrap_or_else(|_| {
        panic!("{program} is missing: install it with `apt-get install --no-install-recommends {package}` (or run `bash scripts/test.sh` as root, which installs every test dependency)")
    })
}

/// A directory for fixtures that lives as long as the test run, readable by every user.
pub fn fixture_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(MANIFEST_DIR).join("target/test-fixtures");
        fs::create_dir_all(&dir).expect("create target/test-fixtures");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod fixtures");
        dir
    })
}

/// Cross-compile tests/fixtures/hello.c for riscv64, static or dynamic.
pub fn hello_riscv64(static_link: bool) -> PathBuf {
    static STATIC: OnceLock<PathBuf> = OnceLock::new();
    static DYNAMIC: OnceLock<PathBuf> = OnceLock::new();
    let cell = if static_link { &STATIC } else { &DYNAMIC };
    cell.get_or_init(|| {
        let gcc = require(
            "riscv64-linux-gnu-gcc",
            "gcc-riscv64-linux-gnu libc6-dev-riscv64-cross",
        );
        let out = fixture_dir().join(if static_link {
            "hello-riscv64"
        } else {
            "hello-riscv64-dynamic"
        });
        let mut cmd = Command::new(gcc);
        cmd.args(["-O2", "-o"])
            .arg(&out)
            .arg(Path::new(MANIFEST_DIR).join("tests/fixtures/hello.c"));
        if static_link {
            cmd.arg("-static");
        }
        let o = cmd.output().expect("run riscv64-linux-gnu-gcc");
        assert!(
            o.status.success(),
            "riscv64-linux-gnu-gcc failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    })
    .clone()
}

/// Debian's busybox-static for arm64, unpacked by scripts/test-deps.sh.
pub fn busybox_arm64() -> PathBuf {
    let p = Path::new(MANIFEST_DIR).join("target/debian-fixtures/busybox-arm64");
    assert!(
        p.exists(),
        "{} is missing: run `bash scripts/test-deps.sh` as root (it downloads Debian's busybox-static:arm64)",
        p.display()
    );
    p
}

/// NixOS's table of magics (tests/fixtures/nixos-binfmt-magics.tsv, a copy of the project's
/// shared data with its provenance in its first line): one row a system, comments left out.
pub fn nixos_table() -> Vec<Vec<String>> {
    let path = Path::new(MANIFEST_DIR).join("tests/fixtures/nixos-binfmt-magics.tsv");
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// The magic and mask NixOS writes for a system, from [`nixos_table`].
pub fn nixos_magic(system: &str) -> (String, String) {
    nixos_table()
        .into_iter()
        .find(|f| f[0] == system)
        .map_or_else(
            || panic!("{system} is not in tests/fixtures/nixos-binfmt-magics.tsv"),
            |f| (f[2].clone(), f.get(3).cloned().unwrap_or_default()),
        )
}

/// chmod.
pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A scratch directory every user may use (for tests run as nobody).
pub fn scratch() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("binfmtctl-test")
        .tempdir()
        .expect("tempdir");
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
    d
}

/// Who runs the private instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum As {
    /// The test's own user (root in CI).
    Me,
    /// An unprivileged user (nobody), via setpriv; needs the test to run as root.
    Nobody,
}

/// Run a shell script inside a new user + mount namespace where binfmt_misc is a private,
/// empty instance mounted at /proc/sys/fs/binfmt_misc (Linux >= 6.7). `$B` is binfmtctl,
/// `$T` the scratch directory; `bfc` runs binfmtctl with --config/--state-dir in `$T`;
/// `snap` prints every entry of the table, name and contents; `build_ns` the pid and time
/// namespaces as `build --host-table` puts them in its entries' names (`<pid ns>-<time ns>`).
pub fn private(who: As, dir: &Path, script: &str) -> Output {
    private_with(who, dir, script, true)
}

/// `private` as the test's own user, in a new scratch directory, with `{hello}` in the script
/// standing for the static riscv64 hello program: (the directory, the program, the output).
pub fn private_hello(script: &str) -> (tempfile::TempDir, PathBuf, Output) {
    let hello = hello_riscv64(true);
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        &script.replace("{hello}", &hello.display().to_string()),
    );
    (t, hello, out)
}

/// As `private`, but leaves binfmt_misc unmounted (binfmtctl must mount it).
pub fn private_unmounted(who: As, dir: &Path, script: &str) -> Output {
    private_with(who, dir, script, false)
}

fn private_with(who: As, dir: &Path, script: &str, mount: bool) -> Output {
    let unshare = require("unshare", "util-linux");
    // Without our own mount, the namespace would inherit a mount of the host's instance (if
    // the host has one) and the script would change the host's table: hide it first, and
    // refuse to go on if it cannot be hidden.
    let unmount = if mount {
        ""
    } else {
        // An inherited mount is locked in a user namespace (cannot be unmounted): cover it
        // with an empty tmpfs, which binfmtctl then sees as "not mounted".
        "if [ -e /proc/sys/fs/binfmt_misc/register ]; then mount -t tmpfs -o size=4k tmpfs /proc/sys/fs/binfmt_misc || exit 99; \
         [ -e /proc/sys/fs/binfmt_misc/register ] && { echo 'the host binfmt_misc mount cannot be covered here' >&2; exit 99; }; fi"
    };
    let prelude = format!(
        "set -u\nB={bin}\nT={dir}\nbfc() {{ \"$B\" --config \"$T/config.toml\" --state-dir \"$T/state\" \"$@\"; }}\n\
         snap() {{ for f in $(ls /proc/sys/fs/binfmt_misc | sort); do [ \"$f\" = register ] || {{ echo \"== $f\"; cat \"/proc/sys/fs/binfmt_misc/$f\"; }}; done; }}\n\
         build_ns() {{ echo \"$(stat -L -c %i /proc/self/ns/pid)-$(stat -L -c %i /proc/self/ns/time 2>/dev/null || echo 0)\"; }}\n{mount}\n",
        bin = BIN,
        dir = dir.display(),
        mount = if mount { "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || exit 99" } else { unmount },
    );
    let mut cmd = match who {
        As::Me => Command::new(&unshare),
        As::Nobody => {
            assert!(
                nix::unistd::geteuid().is_root(),
                "tests as nobody need the test suite to run as root"
            );
            let mut c = Command::new(require("setpriv", "util-linux"));
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&unshare);
            c
        }
    };
    cmd.args(["--user", "--map-root-user", "--mount", "--", "sh", "-c"])
        .arg(prelude + script);
    cmd.current_dir(dir);
    let out = cmd.output().expect("run unshare");
    assert_ne!(
        out.status.code(),
        Some(99),
        "mounting a private binfmt_misc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Run binfmtctl outside any namespace (for commands that do not write).
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run binfmtctl")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert success, showing both streams when not.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// The entry of one system in a `check --json` report.
pub fn check_system<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["systems"]
        .as_array()
        .expect("a check report has systems")
        .iter()
        .find(|s| s["system"] == name)
        .unwrap_or_else(|| panic!("{name} not in {report:#}"))
}

/// The problems of one severity ("error" or "warning") of a checked system, as
/// "message | fix: fix" lines.
pub fn check_messages(s: &serde_json::Value, severity: &str) -> Vec<String> {
    s["problems"]
        .as_array()
        .expect("a checked system has problems")
        .iter()
        .filter(|p| p["severity"] == severity)
        .map(|p| {
            format!(
                "{} | fix: {}",
                p["message"].as_str().unwrap_or_default(),
                p["fix"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// A stand-in for a binfmt_misc mount in the host's namespace: a directory with `register`
/// and `status` files, so the host-table rules can be exercised without the host's table.
pub fn fake_root(dir: &Path) -> PathBuf {
    let root = dir.join("fake-binfmt_misc");
    fs::create_dir(&root).expect("mkdir fake root");
    fs::write(root.join("register"), "").expect("write register");
    fs::write(root.join("status"), "enabled\n").expect("write status");
    root
}

/// binfmtctl in the host's (initial) user namespace, with --root on a fake table, the config
/// given and the state directory beside it.
pub fn host(root: &Path, config: &Path, args: &[&str]) -> Output {
    host_in(root, config, &config.with_file_name("state"), args)
}

/// As [`host`], with the state directory given.
pub fn host_in(root: &Path, config: &Path, state: &Path, args: &[&str]) -> Output {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the host-table rules apply to root in the initial user namespace: run the tests as root"
    );
    Command::new("timeout")
        .arg("20")
        .arg(BIN)
        .arg("--root")
        .arg(root)
        .arg("--config")
        .arg(config)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .expect("run binfmtctl")
}

/// An armhf program's bytes changed to ask for armel's loader, `/lib/ld-linux.so.3` (a shorter
/// name, NUL-padded, so the program headers stay valid).
pub fn as_armel(bytes: &mut [u8]) {
    let needle = b"/lib/ld-linux-armhf.so.3\0";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("PT_INTERP string in the armhf program");
    bytes[at..at + needle.len()].fill(0);
    bytes[at..at + "/lib/ld-linux.so.3".len()].copy_from_slice(b"/lib/ld-linux.so.3");
}
