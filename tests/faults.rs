//! Faults (issue 7): binfmt_misc unmounted, /proc/sys or binfmt_misc read-only, an interpreter
//! deleted after registration, the config's directory full or read-only, and binfmtctl
//! killed with SIGKILL at random points, a rollback that registers entries again. Each in a
//! private binfmt_misc instance.

mod common;

use common::{check_messages as messages, check_system as system};

use std::fs;

use common::{ok, private, private_unmounted, scratch, stderr, stdout, As};
use serde_json::Value;

/// First lines of every script run with `private_unmounted`: if the host has binfmt_misc
/// mounted, the new mount namespace inherits that mount and binfmtctl would use the host's
/// table. Detach it there (propagation is private after `unshare --mount`); where the kernel
/// refuses (an inherited mount is locked), stop loudly rather than touch the host's table.
const DETACH_HOST_TABLE: &str = "umount /proc/sys/fs/binfmt_misc 2>/dev/null\n\
    test -e /proc/sys/fs/binfmt_misc/register && { echo 'the host has binfmt_misc mounted and it cannot be detached here: this test would use the host table; unmount it on the host to run this test' >&2; exit 98; }\n";

#[test]
fn unmounted_binfmt_misc_is_mounted_or_explained() {
    let t = scratch();
    let hello = common::hello_riscv64(true);
    let out = private_unmounted(
        As::Me,
        t.path(),
        &format!(
            r#"{DETACH_HOST_TABLE}bfc status; echo "status=$?"
bfc enable riscv64-linux >/dev/null 2>"$T/err" || {{ cat "$T/err"; exit 3; }}
grep mounted "$T/err"
{hello} a; echo "rc=$?"
# Unmounted again (the entries go with it): apply mounts and restores.
umount /proc/sys/fs/binfmt_misc && test ! -e /proc/sys/fs/binfmt_misc/register && echo gone
bfc apply >/dev/null 2>"$T/err" || {{ cat "$T/err"; exit 4; }}
grep mounted "$T/err"
{hello} b; echo "rc=$?"
"#,
            hello = hello.display()
        ),
    );
    let text = ok(&out);
    assert!(text.starts_with("binfmt_misc is not mounted at /proc/sys/fs/binfmt_misc: no entries (`binfmtctl enable` mounts it)\nstatus=0\n"), "{text}");
    assert_eq!(
        text.matches("binfmtctl: mounted binfmt_misc at /proc/sys/fs/binfmt_misc\n")
            .count(),
        2,
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "hello argv0={} [a]\nrc=7\ngone\n",
            hello.display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("hello argv0={} [b]\nrc=7\n", hello.display())),
        "{text}"
    );

    // Where binfmtctl may not mount (a user namespace without a mount namespace of its own),
    // it says what to do. --root points at an empty directory: never the host's table.
    let dir = t.path().join("mnt");
    fs::create_dir(&dir).unwrap();
    let o = std::process::Command::new(common::require("unshare", "util-linux"))
        .args(["--user", "--map-root-user", "--", common::BIN, "--root"])
        .arg(&dir)
        .arg("--config")
        .arg(t.path().join("c.toml"))
        .arg("--state-dir")
        .arg(t.path().join("s"))
        .args(["enable", "riscv64-linux"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "binfmtctl: error: cannot mount binfmt_misc at {}: EPERM: Operation not permitted; mounting needs root (CAP_SYS_ADMIN); run with sudo\n",
            dir.display()
        )
    );
    assert!(!t.path().join("c.toml").exists());
}

#[test]
fn read_only_proc_sys_and_read_only_binfmt_misc() {
    let t = scratch();
    let hello = common::hello_riscv64(true);
    let out = private_unmounted(
        As::Me,
        t.path(),
        &format!(
            r#"{DETACH_HOST_TABLE}# /proc/sys read-only, as in a container: binfmtctl's own mount still works.
mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys || exit 3
awk '$5 == "/proc/sys" {{ print "proc/sys", $6 }}' /proc/self/mountinfo | cut -d, -f1
bfc enable riscv64-linux >/dev/null 2>&1 || exit 4
{hello}; echo "rc=$?"
# binfmt_misc itself read-only: a clear error, nothing changed.
mount -o remount,ro /proc/sys/fs/binfmt_misc || exit 5
cp "$T/config.toml" "$T/before.toml"
bfc enable arm64; echo "enable=$?"
bfc disable riscv64-linux; echo "disable=$?"
cmp "$T/before.toml" "$T/config.toml" && echo config-intact
ls /proc/sys/fs/binfmt_misc
"#,
            hello = hello.display()
        ),
    );
    let text = ok(&out);
    let err = stderr(&out);
    assert!(text.starts_with("proc/sys ro\n"), "{text}");
    assert!(
        text.contains("hello argv0=") && text.contains("rc=7\n"),
        "{text}"
    );
    assert!(
        text.contains("enable=2\ndisable=2\nconfig-intact\nregister\nriscv64-linux\nstatus\n"),
        "{text}"
    );
    let ro = "binfmt_misc is mounted read-only at /proc/sys/fs/binfmt_misc; remount it read-write: mount -o remount,rw /proc/sys/fs/binfmt_misc";
    assert_eq!(
        err,
        format!(
            "binfmtctl: error: register aarch64-linux failed: cannot write /proc/sys/fs/binfmt_misc/register: {ro}; earlier changes were undone, the table is as it was\n\
             binfmtctl: error: remove riscv64-linux failed: cannot write /proc/sys/fs/binfmt_misc/riscv64-linux: {ro}; earlier changes were undone, the table is as it was\n"
        )
    );
}

#[test]
fn deleted_interpreters_f_keeps_working_and_check_reports_both() {
    let t = scratch();
    let hello = common::hello_riscv64(true);
    let busybox = common::busybox_arm64();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"cp /usr/bin/qemu-riscv64-static "$T/qemu-rv" && cp /usr/bin/qemu-aarch64 "$T/qemu-a64" || exit 3
bfc enable riscv64-linux --interpreter "$T/qemu-rv" >/dev/null 2>&1 || exit 4
bfc enable aarch64-linux --interpreter "$T/qemu-a64" >/dev/null 2>&1 || exit 5
grep flags /proc/sys/fs/binfmt_misc/riscv64-linux /proc/sys/fs/binfmt_misc/aarch64-linux
rm "$T/qemu-rv" "$T/qemu-a64"
{hello} x; echo "riscv64=$?"
{busybox} true 2>/dev/null; echo "aarch64=$?"
bfc check riscv64-linux aarch64-linux --json > "$T/check.json"; echo "check=$?"
"#,
            hello = hello.display(),
            busybox = busybox.display()
        ),
    );
    let text = ok(&out);
    assert!(
        text.starts_with(&format!(
            "/proc/sys/fs/binfmt_misc/riscv64-linux:flags: PF\n/proc/sys/fs/binfmt_misc/aarch64-linux:flags: P\nhello argv0={} [x]\nriscv64=7\n",
            hello.display()
        )),
        "F keeps the deleted interpreter running: {text}"
    );
    assert!(
        text.contains("aarch64=127\ncheck=1\n"),
        "without F the exec fails: {text}"
    );
    let report: Value =
        serde_json::from_str(&fs::read_to_string(t.path().join("check.json")).unwrap()).unwrap();
    let (rv, a64) = (
        system(&report, "riscv64-linux"),
        system(&report, "aarch64-linux"),
    );
    assert_eq!(rv["exec"]["result"], "ran", "{rv:#}");
    assert_ne!(a64["exec"]["result"], "ran", "{a64:#}");
    let t = t.path().display();
    assert!(messages(rv, "error").iter().any(|m| m.starts_with(&format!("the interpreter {t}/qemu-rv of entry riscv64-linux was deleted (flag F keeps the old file running until the entry is registered again)"))), "{rv:#}");
    assert!(
        messages(a64, "error")
            .iter()
            .any(|m| m.starts_with(&format!(
                "the interpreter {t}/qemu-a64 of entry aarch64-linux was deleted |"
            ))),
        "{a64:#}"
    );
}

#[test]
fn full_or_read_only_config_directory_leaves_the_old_config_and_the_table_in_agreement() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"mkdir "$T/cfg" && mount -t tmpfs -o size=64k tmpfs "$T/cfg" || exit 3
C() { "$B" --config "$T/cfg/config.toml" --state-dir "$T/state" "$@"; }
C enable riscv64-linux >/dev/null 2>&1 || exit 4
cp "$T/cfg/config.toml" "$T/before.toml"
dd if=/dev/zero of="$T/cfg/fill" bs=4k 2>/dev/null
echo "== full"
C enable arm64 >/dev/null 2>"$T/err"; echo "enable=$?"; cat "$T/err"
cmp "$T/before.toml" "$T/cfg/config.toml" && echo config-intact
ls -A "$T/cfg"
ls /proc/sys/fs/binfmt_misc
C apply --dry-run
echo "== read-only"
rm "$T/cfg/fill" && mount -o remount,ro "$T/cfg" || exit 5
C enable arm64 >/dev/null 2>"$T/err"; echo "enable=$?"; cat "$T/err"
C disable riscv64-linux >/dev/null 2>"$T/err"; echo "disable=$?"; cat "$T/err"
cmp "$T/before.toml" "$T/cfg/config.toml" && echo config-intact
ls /proc/sys/fs/binfmt_misc
# A boot with /etc read-only: apply restores the table from the config without a lock.
echo -1 > /proc/sys/fs/binfmt_misc/status
C apply >/dev/null 2>"$T/err"; echo "apply=$?"; cat "$T/err"
ls /proc/sys/fs/binfmt_misc
"#,
    );
    let text = ok(&out);
    let cfg = format!("{}/cfg", t.path().display());
    assert_eq!(
        text,
        format!(
            "== full\nenable=2\n\
             binfmtctl: error: the registrations were undone, the table is as it was: cannot save the configuration: cannot write {cfg}/config.toml (the old file, if any, is unchanged): No space left on device (os error 28)\n\
             config-intact\nconfig.toml\nconfig.toml.lock\nfill\n\
             register\nriscv64-linux\nstatus\n\
             # the table already matches the configuration; nothing to do\n\
             == read-only\nenable=2\n\
             binfmtctl: error: cannot open the lock file {cfg}/config.toml.lock (is {cfg} on a read-only file system? use --config to keep the configuration elsewhere): Read-only file system (os error 30)\n\
             disable=2\n\
             binfmtctl: error: cannot open the lock file {cfg}/config.toml.lock (is {cfg} on a read-only file system? use --config to keep the configuration elsewhere): Read-only file system (os error 30)\n\
             config-intact\nregister\nriscv64-linux\nstatus\n\
             apply=0\nregister\nriscv64-linux\nstatus\n"
        )
    );
}

#[test]
fn a_directory_that_cannot_be_synced_after_the_rename_is_a_warning_not_an_undo() {
    // The config's directory may be written and searched but not read (mode 0333, root's):
    // as nobody, binfmtctl can replace the config but not open the directory to fsync it.
    // The config then already holds the new record, so the registration must stay.
    let t = scratch();
    let cfg = t.path().join("cfg");
    fs::create_dir(&cfg).unwrap();
    common::set_mode(&cfg, 0o333);
    let out = private(
        As::Nobody,
        t.path(),
        r#"C() { "$B" --config "$T/cfg/config.toml" --state-dir "$T/state" "$@"; }
C enable riscv64-linux >/dev/null 2>"$T/err"; echo "enable=$?"; cat "$T/err"
grep -c '^name = "riscv64-linux"$' "$T/cfg/config.toml"
ls /proc/sys/fs/binfmt_misc
"#,
    );
    let cfg = cfg.display();
    assert_eq!(
        ok(&out),
        format!(
            "enable=0\n\
             binfmtctl: warning: wrote {cfg}/config.toml, but cannot sync its directory {cfg} to disk (Permission denied (os error 13)); \
             after a power loss the file may be back to its old contents\n\
             binfmtctl: riscv64-linux: /usr/bin/qemu-riscv64-static (static, flags PF)\n\
             1\nregister\nriscv64-linux\nstatus\n"
        )
    );
}

/// A registration the kernel refuses (with F it opens the interpreter, and a noexec mount
/// makes that fail) after binfmtctl replaced a DISABLED entry of its own: the rollback
/// registers the old entry again, which makes it enabled and the newest. It must come back
/// disabled, and where it now wins over an entry that used to win, the error says so and how
/// to undo that (and the command it gives works).
#[test]
fn rollback_puts_a_disabled_entry_back_disabled_and_reports_what_it_now_wins_over() {
    let t = scratch();
    let (magic, mask) = common::nixos_magic("riscv64-linux");
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"mkdir "$T/noexec" && mount -t tmpfs -o noexec,mode=0755 tmpfs "$T/noexec" || exit 3
mkdir "$T/noexec/rv" "$T/noexec/a64" || exit 3
cp /usr/bin/qemu-riscv64-static "$T/noexec/rv/" && cp /usr/bin/qemu-aarch64-static "$T/noexec/a64/" || exit 3
E=/proc/sys/fs/binfmt_misc
state() {{ echo "$1: $(head -1 $E/riscv64-linux) $(grep flags: $E/riscv64-linux) $(grep interpreter $E/riscv64-linux)"; }}
fails() {{ p=$1; shift; PATH="$T/noexec/$p:$PATH" bfc enable "$@" >/dev/null 2>"$T/err"; echo "rc=$?"; grep '^binfmtctl: error' "$T/err"; }}
bfc enable riscv64-linux >/dev/null 2>&1 || exit 4
echo 0 > $E/riscv64-linux
state before
echo "== the new riscv64 interpreter is refused: the old entry is put back"
fails rv riscv64-linux
state after
echo "== riscv64 is replaced, then aarch64 is refused: the replacement is undone"
fails a64 riscv64-linux aarch64-linux --open-binary
state after
ls $E | sort | tr '\n' ' '; echo
echo "== riscv64-linux enabled, another tool's newer entry for riscv64 wins"
echo 1 > $E/riscv64-linux
printf '%s\n' ':qemu-riscv64:M::{magic}:{mask}:/usr/bin/qemu-riscv64-static:F' > $E/register || exit 5
ls -U $E | grep riscv64 | tr '\n' ' '; echo
fails a64 riscv64-linux aarch64-linux --open-binary
state after
ls -U $E | grep riscv64 | tr '\n' ' '; echo
sed -n 's/.*register it again: //p' "$T/err" > "$T/fix.sh"
sh "$T/fix.sh" || echo "fix failed"
ls -U $E | grep riscv64 | tr '\n' ' '; echo
"#
        ),
    );
    let text = ok(&out);
    let e = "/proc/sys/fs/binfmt_misc";
    let noexec = format!("{}/noexec", t.path().display());
    let refused = |line: &str, interp: &str| {
        format!(
            "the kernel refused '{line}' written to {e}/register: Permission denied (os error 13); with flag F the kernel opens the interpreter now, and {interp} cannot be opened: check its permissions, and that it is not on a noexec mount"
        )
    };
    let rv =
        |interp: &str, flags: &str| format!(":riscv64-linux:M::{magic}:{mask}:{interp}:{flags}");
    let a64_interp = format!("{noexec}/a64/qemu-aarch64-static");
    let (a64_magic, a64_mask) = common::nixos_magic("aarch64-linux");
    let a64 = format!(":aarch64-linux:M::{a64_magic}:{a64_mask}:{a64_interp}:POF");
    let qemu_rv = format!(":qemu-riscv64:M::{magic}:{mask}:/usr/bin/qemu-riscv64-static:F");
    let rv_interp = format!("{noexec}/rv/qemu-riscv64-static");
    let old = "flags: PF interpreter /usr/bin/qemu-riscv64-static";
    assert_eq!(
        text,
        format!(
            "before: disabled {old}\n\
             == the new riscv64 interpreter is refused: the old entry is put back\n\
             rc=2\n\
             binfmtctl: error: replace riscv64-linux failed: {}; earlier changes were undone, the table is as it was\n\
             after: disabled {old}\n\
             == riscv64 is replaced, then aarch64 is refused: the replacement is undone\n\
             rc=2\n\
             binfmtctl: error: register aarch64-linux failed: {}; earlier changes were undone, the table is as it was\n\
             after: disabled {old}\n\
             register riscv64-linux status \n\
             == riscv64-linux enabled, another tool's newer entry for riscv64 wins\n\
             qemu-riscv64 riscv64-linux \n\
             rc=2\n\
             binfmtctl: error: register aarch64-linux failed: {}; earlier changes were undone, but riscv64-linux was registered again and, \
             as the newest entry, now runs riscv64-linux programs instead of qemu-riscv64; to give qemu-riscv64 precedence back, register it again: \
             echo -1 > {e}/qemu-riscv64 && printf '%s\\n' '{qemu_rv}' > {e}/register\n\
             after: enabled {old}\n\
             riscv64-linux qemu-riscv64 \n\
             qemu-riscv64 riscv64-linux \n",
            refused(&rv(&rv_interp, "PF"), &rv_interp),
            refused(&a64, &a64_interp),
            refused(&a64, &a64_interp),
        ),
        "{}",
        stderr(&out)
    );
}

/// binfmtctl killed with SIGKILL at random moments during enable, disable and apply
/// (`BINFMTCTL_KILLS` times, default 60): after every kill the config parses, `apply`
/// succeeds, and afterwards the table holds exactly the config's entries.
#[test]
fn sigkill_at_random_points_never_tears_the_config_and_apply_repairs() {
    let kills: u32 = std::env::var("BINFMTCTL_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(60);
    let t = scratch();
    fs::write(
        t.path().join("kill.sh"),
        format!(
            r#"bfc() {{ "$B" --config "$T/config.toml" --state-dir "$T/state" "$@"; }}
names() {{ ls /proc/sys/fs/binfmt_misc | grep -v -x -e register -e status | sort | tr '\n' ' '; }}
systems=(riscv64-linux aarch64-linux powerpc64le-linux s390x-linux)
for i in $(seq 1 {kills}); do
  a=${{systems[RANDOM % 4]}}; b=${{systems[RANDOM % 4]}}
  case $((RANDOM % 4)) in
    0) op="enable $a" ;; 1) op="enable $a $b --open-binary" ;; 2) op="disable $a" ;; 3) op="apply" ;;
  esac
  delay=$((RANDOM % 80))
  # A simple command, so that $! is binfmtctl itself (a function would run in a subshell).
  "$B" --config "$T/config.toml" --state-dir "$T/state" $op >/dev/null 2>&1 & pid=$!
  sleep "0.$(printf %03d $delay)"
  kill -9 $pid 2>/dev/null; wait $pid; rc=$?
  bfc export --format binfmt.d > "$T/export" 2>"$T/export.err" && parse=ok || parse="BAD $(cat "$T/export.err")"
  bfc apply >/dev/null 2>"$T/apply.err" && apply=ok || apply="BAD $(cat "$T/apply.err")"
  bfc apply --dry-run | grep -q 'nothing to do' && again=nothing || again=BAD
  wanted=$(grep '^:' "$T/export" | cut -d: -f2 | sort | tr '\n' ' ')
  [ "$wanted" = "$(names)" ] && table=same || table="BAD table [$(names)] config [$wanted]"
  echo "$i rc=$rc op=$op delay=${{delay}}ms parse=$parse apply=$apply again=$again table=$table"
done
echo "leftover temporary files: $(ls -A "$T" "$T/state" | grep -c '\.tmp\.')"
"#
        ),
    )
    .unwrap();
    let out = private(As::Me, t.path(), "export B T\nbash \"$T/kill.sh\"");
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(" rc=")).collect();
    assert_eq!(lines.len(), kills as usize, "{text}{}", stderr(&out));
    let killed = lines.iter().filter(|l| l.contains(" rc=137 ")).count();
    let bad: Vec<&&str> = lines.iter().filter(|l| l.contains("BAD")).collect();
    eprintln!(
        "SIGKILL: {kills} runs, {killed} killed before finishing, {} finished first; {}",
        kills as usize - killed,
        text.lines().last().unwrap_or_default()
    );
    assert!(
        bad.is_empty(),
        "{}",
        bad.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(killed > 0, "no run was killed mid-way: {text}");
    let _ = stdout(&out);
}
