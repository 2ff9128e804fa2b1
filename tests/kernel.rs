//! Kernel-level tests of enable/disable/status: the real binary, in a private binfmt_misc
//! instance, executing real foreign programs.

mod common;

use common::{nixos_magic, ok, private, private_unmounted, scratch, stderr, stdout, As};
use serde_json::Value;

fn unescape_hex(text: &str) -> String {
    // The kernel prints magic/mask as plain hex; NixOS writes \xNN escapes with letters literal.
    let mut out = String::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            out += &text[i + 2..i + 4].to_ascii_lowercase();
            i += 4;
        } else {
            out += &format!("{:02x}", b[i]);
            i += 1;
        }
    }
    out
}

fn enable_runs_and_disable_restores(who: As) {
    let hello = common::hello_riscv64(true);
    let t = scratch();
    let out = private(
        who,
        t.path(),
        &format!(
            r#"
H={hello}
$H; echo "before=$?"
bfc enable riscv64-linux >"$T/enable.out" 2>&1 || {{ cat "$T/enable.out"; exit 3; }}
$H one two; echo "after=$?"
cat /proc/sys/fs/binfmt_misc/riscv64-linux
bfc disable riscv64-linux || exit 4
$H; echo "disabled=$?"
test -e /proc/sys/fs/binfmt_misc/riscv64-linux && echo STILL-THERE
id -u
"#,
            hello = hello.display()
        ),
    );
    let text = ok(&out);
    let err = stderr(&out);
    assert!(
        text.contains("before=126") && err.contains("Exec format error"),
        "{text}\n{err}"
    );
    assert!(
        text.contains(&format!(
            "hello argv0={} [one] [two]\nafter=7",
            hello.display()
        )),
        "{text}"
    );
    assert!(text.contains("flags: PF\n"), "{text}");
    let (magic, mask) = nixos_magic("riscv64-linux");
    assert!(
        text.contains(&format!(
            "magic {}\nmask {}\n",
            unescape_hex(&magic),
            unescape_hex(&mask)
        )),
        "{text}"
    );
    assert!(text.contains("disabled=126"), "{text}");
    assert!(!text.contains("STILL-THERE"), "{text}");
    assert!(
        text.trim_end().ends_with("\n0"),
        "inside the namespace the caller is root: {text}"
    );
}

#[test]
fn enable_runs_riscv64_and_disable_restores_enoexec_as_root() {
    enable_runs_and_disable_restores(As::Me);
}

#[test]
fn enable_runs_riscv64_and_disable_restores_enoexec_as_nobody() {
    enable_runs_and_disable_restores(As::Nobody);
}

#[test]
fn enable_mounts_binfmt_misc_when_unmounted() {
    let t = scratch();
    let out = private_unmounted(
        As::Me,
        t.path(),
        "test -e /proc/sys/fs/binfmt_misc/register && echo MOUNTED-BEFORE; bfc enable riscv64 && test -e /proc/sys/fs/binfmt_misc/riscv64-linux && echo OK",
    );
    let text = ok(&out);
    assert!(
        !text.contains("MOUNTED-BEFORE") && text.contains("OK"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("binfmtctl: mounted binfmt_misc at /proc/sys/fs/binfmt_misc"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn debian_busybox_arm64_runs_after_enable_aarch64() {
    let bb = common::busybox_arm64();
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            "bfc enable arm64 >/dev/null && {} echo real debian arm64 && bfc status",
            bb.display()
        ),
    );
    let text = ok(&out);
    assert!(text.starts_with("real debian arm64\n"), "{text}");
    assert!(
        text.contains("aarch64-linux  yes      PF     binfmtctl"),
        "{text}"
    );
}

#[test]
fn enable_is_idempotent_and_replaces_its_own_entry() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"
bfc enable riscv64-linux >/dev/null || exit 3
bfc enable riscv64-linux --json > "$T/again.json" || exit 4
bfc enable riscv64-linux --interpreter /usr/bin/qemu-riscv64 --json > "$T/dyn.json" 2>"$T/dyn.err" || exit 5
cat /proc/sys/fs/binfmt_misc/riscv64-linux
"#,
    );
    let text = ok(&out);
    let again: Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("again.json")).unwrap())
            .unwrap();
    assert_eq!(again["actions"][0]["action"], "unchanged");
    let dynamic: Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("dyn.json")).unwrap()).unwrap();
    assert_eq!(dynamic["actions"][0]["action"], "replace");
    assert_eq!(dynamic["actions"][0]["flags"], "P");
    assert_eq!(dynamic["actions"][0]["static"], false);
    assert!(
        text.contains("interpreter /usr/bin/qemu-riscv64\nflags: P\n"),
        "{text}"
    );
    let warn = std::fs::read_to_string(t.path().join("dyn.err")).unwrap();
    assert!(warn.contains("binfmtctl: warning: /usr/bin/qemu-riscv64 is dynamically linked: registering without F"), "{warn}");
    let config = std::fs::read_to_string(t.path().join("config.toml")).unwrap();
    assert!(
        config.contains("interpreter = \"/usr/bin/qemu-riscv64\"\nflags = \"P\""),
        "{config}"
    );
}

const FOREIGN: &str = r":riscv64-linux:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/run/binfmt/riscv64-linux:P";

#[test]
fn foreign_entry_is_not_touched_without_force() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"
printf '%s' '{FOREIGN}' > /proc/sys/fs/binfmt_misc/register || exit 3
bfc enable riscv64-linux aarch64-linux; echo "refused=$?"
test -e /proc/sys/fs/binfmt_misc/aarch64-linux && echo AARCH64-REGISTERED
test -e "$T/config.toml" && echo CONFIG-WRITTEN
bfc enable riscv64-linux --name riscv64-linux-binfmtctl >/dev/null || exit 4
bfc disable riscv64-linux >/dev/null || exit 5
grep interpreter /proc/sys/fs/binfmt_misc/riscv64-linux
test -e /proc/sys/fs/binfmt_misc/riscv64-linux-binfmtctl && echo BESIDE-STILL-THERE
bfc enable riscv64-linux --force >/dev/null || exit 6
grep interpreter /proc/sys/fs/binfmt_misc/riscv64-linux
"#
        ),
    );
    let text = ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains(
            "binfmtctl: error: entry riscv64-linux (interpreter /run/binfmt/riscv64-linux, flags \"P\") exists and was not created by binfmtctl (owner unknown); leave it, register beside it with --name riscv64-linux-binfmtctl, or replace it with --force\n"
        ),
        "{err}"
    );
    assert!(text.contains("refused=2"), "{text}");
    assert!(
        !text.contains("AARCH64-REGISTERED"),
        "all or nothing: {text}"
    );
    assert!(!text.contains("CONFIG-WRITTEN"), "{text}");
    assert!(
        text.contains("interpreter /run/binfmt/riscv64-linux\n"),
        "disable left the foreign entry: {text}"
    );
    assert!(!text.contains("BESIDE-STILL-THERE"), "{text}");
    assert!(
        text.trim_end()
            .ends_with("interpreter /usr/bin/qemu-riscv64-static"),
        "{text}"
    );
}

#[test]
fn disable_by_name_removes_a_foreign_entry() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"
printf '%s' '{FOREIGN}' > /proc/sys/fs/binfmt_misc/register || exit 3
bfc disable riscv64-linux 2>"$T/err"; cat "$T/err"
test -e /proc/sys/fs/binfmt_misc/riscv64-linux && echo STILL
bfc disable --name riscv64-linux
test -e /proc/sys/fs/binfmt_misc/riscv64-linux && echo STILL-AFTER-NAME; true
"#
        ),
    );
    let text = ok(&out);
    assert!(text.contains("binfmtctl: warning: entry riscv64-linux was not created by binfmtctl (interpreter /run/binfmt/riscv64-linux); left alone. Remove it with --name riscv64-linux if you mean to"), "{text}");
    assert!(text.contains("STILL\n"), "{text}");
    assert!(
        text.contains("# write -1 to /proc/sys/fs/binfmt_misc/riscv64-linux\n"),
        "{text}"
    );
    assert!(!text.contains("STILL-AFTER-NAME"), "{text}");
}

#[test]
fn status_json_recognises_debian_entries_and_shadowing() {
    // Debian's qemu-user-static line for aarch64 (OCF flags, its own mask), registered first;
    // then binfmtctl's: the newer one wins.
    let debian = r":qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF";
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        &format!("printf '%s' '{debian}' > /proc/sys/fs/binfmt_misc/register || exit 3\nbfc enable aarch64 >/dev/null || exit 4\nbfc status --json"),
    );
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["mounted"], true);
    assert_eq!(v["enabled"], true);
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let (ours, theirs) = (&entries[0], &entries[1]);
    assert_eq!(ours["name"], "aarch64-linux");
    assert_eq!(ours["owner"]["kind"], "binfmtctl");
    assert_eq!(ours["interpreter_static"], true);
    assert_eq!(ours["systems"], serde_json::json!(["aarch64-linux"]));
    assert_eq!(ours["shadowed"], serde_json::json!([]));
    assert_eq!(theirs["name"], "qemu-aarch64");
    assert_eq!(theirs["flags"], "POF");
    // Debian's qemu-user-static ships this very line in /usr/lib/binfmt.d.
    let conf = "/usr/lib/binfmt.d/qemu-aarch64.conf";
    assert!(
        std::path::Path::new(conf).exists(),
        "{conf} is missing: apt-get install --no-install-recommends qemu-user-static"
    );
    assert_eq!(
        theirs["owner"],
        serde_json::json!({"kind": "binfmt.d", "file": conf})
    );
    assert_eq!(theirs["systems"], serde_json::json!(["aarch64-linux"]));
    assert_eq!(
        theirs["shadowed"],
        serde_json::json!([{"system": "aarch64-linux", "by": "aarch64-linux"}])
    );
    for key in [
        "name",
        "enabled",
        "interpreter",
        "interpreter_exists",
        "interpreter_static",
        "flags",
        "type",
        "offset",
        "magic",
        "mask",
        "extension",
        "systems",
        "owner",
        "shadowed",
    ] {
        assert!(ours.get(key).is_some(), "status --json entry lacks {key}");
    }
}

#[test]
fn enable_without_privilege_says_to_use_sudo() {
    common::require("setpriv", "util-linux");
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test drops to nobody and needs root"
    );
    let t = scratch();
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            common::BIN,
            "--config",
        ])
        .arg(t.path().join("c.toml"))
        .args(["enable", "riscv64-linux"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "binfmtctl: error: binfmtctl enable needs root (CAP_SYS_ADMIN) to change binfmt_misc; run it with sudo, or add --dry-run to see what it would do\n"
    );
    assert_eq!(stdout(&out), "");
}

#[test]
fn concurrent_enables_lose_nothing() {
    let systems = [
        "riscv64", "arm64", "armhf", "ppc64el", "s390x", "mips64el", "loong64", "m68k",
    ];
    let t = scratch();
    let script = format!(
        "for s in {}; do bfc enable \"$s\" >/dev/null 2>&1 & done; wait\nls /proc/sys/fs/binfmt_misc | grep -vc -e register -e status",
        systems.join(" ")
    );
    let text = ok(&private(As::Me, t.path(), &script));
    assert_eq!(text.trim(), "8", "{text}");
    let config = binfmtctl::store::config::Config::load(&t.path().join("config.toml")).unwrap();
    let mut names: Vec<String> = config.systems.iter().map(|s| s.system.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "aarch64-linux",
            "armv7l-linux",
            "loongarch64-linux",
            "m68k-linux",
            "mips64el-linux",
            "powerpc64le-linux",
            "riscv64-linux",
            "s390x-linux"
        ]
    );
}

#[test]
fn enable_beside_debians_entry_says_it_takes_precedence_and_how_to_keep_one() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"
conf=/usr/lib/binfmt.d/qemu-riscv64.conf
[ -f $conf ] || { echo "$conf is missing: apt install qemu-user-static" >&2; exit 3; }
grep -v '^#' $conf > /proc/sys/fs/binfmt_misc/register || exit 4
bfc enable --dry-run riscv64-linux >/dev/null 2>"$T/dry.err" || exit 5
bfc enable riscv64-linux >/dev/null 2>"$T/err" || exit 6
bfc enable riscv64-linux >/dev/null 2>"$T/again.err" || exit 7
"#,
    );
    ok(&out);
    let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap();
    let said = "binfmtctl: warning: the entry qemu-riscv64 (not binfmtctl's) also runs riscv64-linux programs; \
                riscv64-linux takes precedence over it and `binfmtctl check` reports it as shadowed. To keep one: \
                binfmtctl disable riscv64-linux, or remove it for good where it comes from \
                (/usr/lib/binfmt.d/qemu-riscv64.conf; for Debian's binfmt-support: update-binfmts --disable qemu-riscv64)\n";
    assert!(read("err").contains(said), "{}", read("err"));
    assert!(
        read("dry.err").contains(&said.replace("takes precedence", "would take precedence")),
        "{}",
        read("dry.err")
    );
}

/// `enable` proves its registration by running the system's probe through the kernel. An
/// emulator for another architecture, or binfmt_misc disabled as a whole, is registered as
/// asked but reported with the fix (which works), and the exit status is 1.
#[test]
fn enable_checks_that_the_systems_programs_run() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"
E=/proc/sys/fs/binfmt_misc
bfc enable riscv64-linux >/dev/null 2>"$T/ok.err"; echo "ok=$?"
bfc disable riscv64-linux >/dev/null || exit 3
bfc enable --runtime --interpreter /usr/bin/qemu-aarch64-static riscv64-linux --json >"$T/wrong.json" 2>"$T/wrong.err"; echo "wrong=$?"
grep interpreter $E/riscv64-linux
fix=$(sed -n 's/.* own emulator: binfmtctl \(.*\); run binfmtctl check .*/\1/p' "$T/wrong.err")
bfc $fix >/dev/null 2>"$T/fixed.err"; echo "fixed=$?"
grep interpreter $E/riscv64-linux
echo 0 > $E/status
bfc enable riscv64-linux >"$T/off.out" 2>"$T/off.err"; echo "off=$?"
sh -c "$(sed -n 's/.*; enable it: \(.*\); run binfmtctl check .*/\1/p' "$T/off.err")"
bfc enable riscv64-linux >/dev/null 2>"$T/on.err"; echo "on=$?"
"#,
    );
    let text = ok(&out);
    let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap();
    assert_eq!(
        text,
        "ok=0\nwrong=1\ninterpreter /usr/bin/qemu-aarch64-static\nfixed=0\n\
         interpreter /usr/bin/qemu-riscv64-static\noff=1\non=0\n",
        "{}{}",
        read("wrong.err"),
        read("off.err")
    );
    for quiet in ["ok.err", "fixed.err", "on.err"] {
        assert!(!read(quiet).contains("warning"), "{quiet}: {}", read(quiet));
    }
    let wrong = "riscv64-linux is registered but its programs do not run: the interpreter \
                 /usr/bin/qemu-aarch64-static emulates aarch64-linux, not riscv64-linux; register \
                 riscv64-linux's own emulator: binfmtctl enable riscv64-linux --runtime --interpreter \
                 /usr/bin/qemu-riscv64-static; run binfmtctl check riscv64-linux";
    assert_eq!(read("wrong.err"), format!("binfmtctl: warning: {wrong}\n"));
    let report: Value = serde_json::from_str(&read("wrong.json")).unwrap();
    let action = &report["actions"][0];
    assert_eq!(action["checked"]["result"], "failed", "{report:#}");
    assert_eq!(action["problem"], wrong, "{report:#}");
    assert!(
        read("off.err").ends_with(
            "binfmtctl: warning: riscv64-linux is registered but its programs do not run: binfmt_misc is \
             disabled as a whole (/proc/sys/fs/binfmt_misc/status reads \"disabled\"), so the kernel runs \
             no entry; enable it: echo 1 > /proc/sys/fs/binfmt_misc/status; run binfmtctl check riscv64-linux\n"
        ),
        "{}",
        read("off.err")
    );
}

/// `disable SYSTEM` finds binfmtctl's own `--runtime` entry under another name; `--name` of
/// an entry nobody knows says so and succeeds (disabling twice is no error); a system only
/// another tool's entry runs is named, with how to remove that entry.
#[test]
fn disable_finds_its_renamed_runtime_entry_and_names_what_it_cannot_disable() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"
E=/proc/sys/fs/binfmt_misc
conf=/usr/lib/binfmt.d/qemu-aarch64.conf
[ -f $conf ] || { echo "$conf is missing: apt install qemu-user-static" >&2; exit 3; }
bfc enable --runtime --name foo riscv64-linux >/dev/null 2>&1 || exit 4
bfc disable riscv64-linux; echo "renamed=$?"
test -e $E/foo && echo FOO-STILL-THERE
bfc disable --name nosuch 2>"$T/nosuch.err"; echo "nosuch=$?"
grep -v '^#' $conf > $E/register || exit 5
bfc disable arm64 2>"$T/foreign.err"; echo "foreign=$?"
test -e $E/qemu-aarch64 && echo qemu-aarch64-kept
"#,
    );
    let text = ok(&out);
    let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap();
    assert_eq!(
        text,
        "# write -1 to /proc/sys/fs/binfmt_misc/foo\nrenamed=0\n# nothing to disable: no such registration of binfmtctl's\nnosuch=0\n\
         # nothing to disable: no such registration of binfmtctl's\nforeign=0\nqemu-aarch64-kept\n"
    );
    assert_eq!(
        read("nosuch.err"),
        "binfmtctl: no entry named nosuch in /proc/sys/fs/binfmt_misc; nothing to disable (binfmtctl status lists the entries)\n"
    );
    let err = read("foreign.err");
    assert!(
        err.starts_with("binfmtctl: warning: aarch64-linux programs run through the entry qemu-aarch64 (not binfmtctl's, interpreter ")
            && err.ends_with(
                "), which binfmtctl leaves alone: remove it with binfmtctl disable --name qemu-aarch64, or remove it for good \
                 where it comes from (/usr/lib/binfmt.d/qemu-aarch64.conf; for Debian's binfmt-support: update-binfmts --disable qemu-aarch64)\n"
            ),
        "{err}"
    );
}

#[test]
fn systems_says_nothing_is_enabled_while_binfmt_misc_is_switched_off() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"bfc enable riscv64-linux >/dev/null 2>&1 || exit 3
bfc systems --json > "$T/on.json" || exit 4
echo 0 > /proc/sys/fs/binfmt_misc/status || exit 5
bfc systems --json > "$T/off.json" || exit 6
"#,
    );
    ok(&out);
    let enabled = |f: &str| {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(t.path().join(f)).unwrap()).unwrap();
        v["systems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["system"] == "riscv64-linux")
            .unwrap()["enabled"]
            .clone()
    };
    assert_eq!(enabled("on.json"), true);
    assert_eq!(
        enabled("off.json"),
        false,
        "status 0: the kernel runs no entry"
    );
}

#[test]
fn a_root_that_is_a_directory_with_files_is_never_mounted_over() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"mkdir "$T/b" && echo important > "$T/b/file" || exit 3
bfc --root "$T/b" enable --runtime aarch64 2>"$T/err"; echo "enable=$?"
cat "$T/b/file"
"#,
    );
    assert_eq!(ok(&out), "enable=2\nimportant\n");
    let err = std::fs::read_to_string(t.path().join("err")).unwrap();
    assert!(
        err.contains("/b is neither binfmt_misc nor an empty directory, so binfmtctl will not mount binfmt_misc over it"),
        "{err}"
    );
}

#[test]
fn disabling_a_system_leaves_one_with_the_same_magic_alone() {
    // armv6l-linux and armv7l-linux have identical magics: each accepts the other's programs.
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"bfc enable armv6l-linux >/dev/null 2>&1; [ $? -le 1 ] || exit 3
bfc disable armv7l-linux
ls /proc/sys/fs/binfmt_misc | grep -c armv6l-linux
grep -c 'system = "armv6l-linux"' "$T/config.toml"
"#,
    );
    assert_eq!(
        ok(&out),
        "# nothing to disable: no such registration of binfmtctl's\n1\n1\n"
    );
}

#[test]
fn enable_with_a_noexec_temp_dir_says_it_could_not_check_and_succeeds() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        // $T only the caller's to change: a TMPDIR others could change is passed over.
        r#"chmod 0755 "$T" && mkdir "$T/nx" && mount -t tmpfs -o noexec tmpfs "$T/nx" || exit 3
TMPDIR="$T/nx" bfc enable riscv64-linux >/dev/null 2>"$T/err"; echo "enable=$?"
"#,
    );
    assert_eq!(ok(&out), "enable=0\n");
    let err = std::fs::read_to_string(t.path().join("err")).unwrap();
    assert!(
        err.contains("riscv64-linux: whether its programs run was not checked: ")
            && err
                .contains("is on a file system mounted noexec, where no program runs; set TMPDIR"),
        "{err}"
    );
}

#[test]
fn enable_again_behind_a_newer_broken_entry_blames_that_entry() {
    // binfmtctl's entry is registered first; another tool's newer entry (its interpreter
    // missing) then takes riscv64 programs. enable again changes nothing of binfmtctl's, so it
    // must not claim precedence, and the failed probe is that entry's fault, not binfmtctl's.
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"bfc enable --runtime riscv64-linux >/dev/null 2>&1 || exit 3
printf '%s' ':qemu-riscv64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/nonexistent/qemu-riscv64:P' > /proc/sys/fs/binfmt_misc/register || exit 4
bfc enable --runtime riscv64-linux >/dev/null 2>"$T/err"; echo "enable=$?"
"#,
    );
    assert_eq!(ok(&out), "enable=1\n");
    let err = std::fs::read_to_string(t.path().join("err")).unwrap();
    assert!(
        err.contains("the newer entry qemu-riscv64 (not binfmtctl's) also runs riscv64-linux programs and takes precedence over riscv64-linux, which is not used"),
        "{err}"
    );
    assert!(!err.contains("riscv64-linux takes precedence"), "{err}");
    assert!(
        err.contains("riscv64-linux is registered but its programs do not run: its programs go to the newer entry qemu-riscv64 (interpreter /nonexistent/qemu-riscv64), which does not run them: interpreter not found (ENOENT)"),
        "{err}"
    );
}

#[test]
fn disable_removes_a_renamed_runtime_entry_of_a_system_whose_magic_another_shares() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r"bfc enable --runtime --name foo armv6l-linux >/dev/null 2>&1; [ $? -le 1 ] || exit 3
bfc disable --runtime armv6l-linux >/dev/null
ls /proc/sys/fs/binfmt_misc | grep -c '^foo$'
",
    );
    assert_eq!(stdout(&out), "0\n", "{}", stderr(&out));
}

/// Issue 13, item 4: flag P only where the profile says the interpreter takes it (qemu). A
/// wasm32-wasi registration gets none, and its interpreter sees the program's argv once.
/// wasmtime is not packaged in Debian 12 (and its wasm programs would add nothing here): a
/// two-line shell script stands in as the custom interpreter, printing the argv it gets.
#[test]
fn a_wasm_registration_has_no_p_and_its_program_sees_argv_once() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"
printf '#!/bin/sh\nprintf "[%%s]" "$@"; echo\n' > "$T/fake-wasmtime"
chmod 0755 "$T/fake-wasmtime"
printf '\000asm\001\000\000\000' > "$T/prog.wasm"
chmod 0755 "$T/prog.wasm"
bfc enable wasm32-wasi --interpreter "$T/fake-wasmtime" >"$T/enable.out" 2>&1 || { cat "$T/enable.out"; exit 3; }
grep ^flags /proc/sys/fs/binfmt_misc/wasm32-wasi
cd "$T" && ./prog.wasm a b
"#,
    );
    assert_eq!(ok(&out), "flags: \n[./prog.wasm][a][b]\n");
}
