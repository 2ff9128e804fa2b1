//! `binfmtctl apply` in a private binfmt_misc instance: restoring after a flush, idempotence,
//! stale entries, others' entries, and re-registering after an interpreter upgrade.

mod common;

use common::{ok, private, scratch, stderr, stdout, As};
use serde_json::Value;

#[test]
fn apply_restores_exactly_the_configured_entries_after_a_flush() {
    let t = scratch();
    let hello = common::hello_riscv64(true);
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"
bfc enable riscv64-linux arm64 >/dev/null 2>&1 || exit 3
cd /proc/sys/fs/binfmt_misc
snap > "$T/before"
echo -1 > status    # what systemd-binfmt does when it starts or stops
ls | sort | tr '\n' ' '; echo
{hello}; echo "flushed=$?"
bfc apply --json > "$T/first.json" || exit 4
snap > "$T/after"
bfc apply --json > "$T/second.json" || exit 5
snap > "$T/after2"
{hello}; echo "restored=$?"
"#,
            hello = hello.display()
        ),
    );
    let text = ok(&out);
    assert!(text.starts_with("register status \n"), "{text}");
    assert!(
        text.contains("flushed=126") && text.contains("restored=7"),
        "{text}"
    );
    let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap();
    assert_eq!(
        read("before"),
        read("after"),
        "apply restored something else"
    );
    assert_eq!(
        read("after"),
        read("after2"),
        "the second apply changed the table"
    );
    let first: Value = serde_json::from_str(&read("first.json")).unwrap();
    let verbs: Vec<&str> = first["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(verbs, ["register", "register"]);
    let second: Value = serde_json::from_str(&read("second.json")).unwrap();
    let verbs: Vec<&str> = second["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(verbs, ["unchanged", "unchanged"]);
}

#[test]
fn apply_removes_its_stale_entries_and_leaves_others_alone() {
    let t = scratch();
    let foreign = r":qemu-m68k:M::\x7fELF\x01\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x04:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff:/usr/bin/qemu-m68k-static:F";
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"
printf '%s' '{foreign}' > /proc/sys/fs/binfmt_misc/register || exit 3
bfc enable riscv64-linux arm64 >/dev/null 2>&1 || exit 4
# Forget aarch64 in the config by hand, as an admin editing the file would.
awk 'BEGIN{{RS="";ORS="\n\n"}} !/aarch64/' "$T/config.toml" > "$T/c2" && mv "$T/c2" "$T/config.toml"
bfc apply || exit 5
ls /proc/sys/fs/binfmt_misc | sort | tr '\n' ' '
"#
        ),
    );
    let text = ok(&out);
    assert!(
        text.contains("# write -1 to /proc/sys/fs/binfmt_misc/aarch64-linux\n"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("qemu-m68k register riscv64-linux status"),
        "{text}"
    );
}

#[test]
fn apply_reports_a_foreign_entry_holding_a_configured_name() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"
bfc enable riscv64-linux arm64 >/dev/null 2>&1 || exit 3
echo -1 > /proc/sys/fs/binfmt_misc/status
printf '%s' ':riscv64-linux:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/run/binfmt/riscv64-linux:P' > /proc/sys/fs/binfmt_misc/register
bfc apply >/dev/null 2>"$T/err"; echo "rc=$?"
cat "$T/err"
grep interpreter /proc/sys/fs/binfmt_misc/riscv64-linux
test -e /proc/sys/fs/binfmt_misc/aarch64-linux && echo AARCH64-RESTORED
"#,
    );
    let text = ok(&out);
    assert!(text.contains("rc=2"), "{text}");
    assert!(text.contains("binfmtctl: warning: entry riscv64-linux (interpreter /run/binfmt/riscv64-linux, flags \"P\") is not binfmtctl's; left alone"), "{text}");
    assert!(
        text.contains("interpreter /run/binfmt/riscv64-linux\n"),
        "{text}"
    );
    assert!(
        text.contains("AARCH64-RESTORED"),
        "the other entries are still restored: {text}"
    );
}

#[test]
fn apply_re_registers_an_f_entry_whose_interpreter_was_replaced() {
    let t = scratch();
    let hello = common::hello_riscv64(true);
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"
cp /usr/bin/qemu-riscv64-static "$T/qemu" || exit 3
bfc enable riscv64-linux --interpreter "$T/qemu" >/dev/null 2>&1 || exit 4
bfc apply --json | grep -c '"unchanged"'
# A package upgrade replaces the file (new inode); the F entry still holds the old one.
cp /usr/bin/qemu-riscv64-static "$T/qemu.new" && mv "$T/qemu.new" "$T/qemu"
bfc apply --json | grep '"action"'
{hello}; echo "rc=$?"
bfc apply --json | grep -c '"unchanged"'
"#,
            hello = hello.display()
        ),
    );
    let text = ok(&out);
    assert!(text.starts_with("1\n"), "{text}");
    assert!(text.contains("\"action\": \"replace\""), "{text}");
    assert!(text.contains("rc=7\n1\n"), "{text}");
}

/// A scratch directory whose config.toml records `native` (a system an x86_64 host runs
/// itself, with `qemu`) and riscv64-linux.
fn native_and_riscv64(native: &str, qemu: &str) -> tempfile::TempDir {
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "this test describes an x86_64 host"
    );
    let t = scratch();
    std::fs::write(
        t.path().join("config.toml"),
        format!(
            "[[system]]\nsystem = \"{native}\"\nname = \"{native}\"\ninterpreter = \"/usr/bin/{qemu}\"\nflags = \"PF\"\n\n\
             [[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"/usr/bin/qemu-riscv64-static\"\nflags = \"PF\"\n"
        ),
    )
    .unwrap();
    t
}

#[test]
fn apply_never_registers_a_system_the_host_runs_natively() {
    let t = native_and_riscv64("x86_64-linux", "qemu-x86_64-static");
    let out = private(As::Me, t.path(), "bfc apply >/dev/null 2>\"$T/err\"; echo \"apply=$?\"; cat \"$T/err\"; ls /proc/sys/fs/binfmt_misc | tr '\\n' ' '");
    let text = ok(&out);
    assert!(text.starts_with("apply=2\n"), "{text}");
    assert!(
        text.contains(
            "binfmtctl: warning: refused x86_64-linux: x86_64-linux runs natively on this host"
        ),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("register riscv64-linux status"),
        "the other record is applied: {text}"
    );
}

#[test]
fn apply_removes_a_gone_builds_leftovers_but_not_a_running_ones_and_dry_run_only_says_so() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"
NS=$(build_ns)
cd /proc/sys/fs/binfmt_misc || exit 3
# Entries as `build --host-table` names them: one of a pid no process has, one of this
# shell (pid and start time, field 22 of /proc/PID/stat), which runs.
GONE=binfmtctl-build-$NS-99999999-5-riscv64-linux
RUNNING=binfmtctl-build-$NS-$$-$(cut -d' ' -f22 /proc/$$/stat)-aarch64-linux
for n in $GONE $RUNNING; do printf ':%s:E::zzq::/nonexistent:' "$n" > register || exit 4; done
bfc apply --dry-run --json 2>/dev/null >"$T/dry.json" || exit 5
bfc apply --dry-run >/dev/null 2>"$T/dry.err" || exit 5
echo "after dry run: $(ls | grep -c binfmtctl-build-)"
bfc apply >/dev/null 2>"$T/apply.err" || exit 6
echo "after apply: $(ls | grep binfmtctl-build- | tr '\n' ' ')"
echo "$GONE $RUNNING"
"#,
    );
    let text = ok(&out);
    let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap();
    let last = text.lines().last().unwrap_or_default();
    let (gone, running) = last.split_once(' ').unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        text,
        format!("after dry run: 2\nafter apply: {running} \n{last}\n")
    );
    let dry: serde_json::Value = serde_json::from_str(&read("dry.json")).unwrap();
    assert_eq!(dry["leftovers"], serde_json::json!([gone]), "{dry}");
    assert_eq!(
        read("dry.err"),
        format!("binfmtctl: would remove {gone}, left behind by build process 99999999, which is gone (write -1 to /proc/sys/fs/binfmt_misc/{gone})\n")
    );
    assert_eq!(
        read("apply.err"),
        format!(
            "binfmtctl: removed {gone}, left behind by build process 99999999, which is gone\n"
        )
    );
}

/// A build's owner that /proc hides (mounted `hidepid=invisible`, read from a user namespace
/// that may not ptrace it) is not a gone owner: `apply` keeps its entry. As nobody: a user
/// namespace made by root may still see it.
#[test]
fn apply_keeps_the_entry_of_a_build_that_proc_hides() {
    let t = scratch();
    let out = private(
        As::Nobody,
        t.path(),
        r#"
export B T
unshare --pid --fork --mount sh -c '
  mount -t proc -o hidepid=invisible proc /proc || exit 7
  sleep 60 & P=$!
  NAME=binfmtctl-build-$(stat -L -c %i /proc/$P/ns/pid)-$(stat -L -c %i /proc/$P/ns/time)-$P-$(cut -d" " -f22 /proc/$P/stat)-riscv64-linux
  # A nested user namespace: the same pid namespace, no right to ptrace the owner.
  unshare --user --map-root-user --mount sh -c "
    [ -e /proc/$P ] && echo \"/proc shows $P: the test does not hide it\"
    mkdir -p \$T/mnt && mount -t binfmt_misc binfmt_misc \$T/mnt || exit 8
    printf \":%s:E::zzq::/nonexistent:\" $NAME > \$T/mnt/register || exit 9
    \$B --root \$T/mnt --config \$T/config.toml --state-dir \$T/state apply >/dev/null || exit 10
    ls \$T/mnt | grep -c binfmtctl-build-
  "
  rc=$?; kill $P; exit $rc
'
"#,
    );
    assert_eq!(ok(&out), "1\n", "{}", stderr(&out));
}

/// qemu uninstalled: the F entry still runs programs (the kernel holds the file open) and
/// cannot be registered again, so `apply` refuses to replace it instead of losing it.
#[test]
fn apply_keeps_a_working_f_entry_whose_interpreter_was_deleted() {
    let (t, _, out) = common::private_hello(
        r#"
cp /usr/bin/qemu-riscv64-static "$T/qemu" || exit 3
bfc enable riscv64-linux --interpreter "$T/qemu" >/dev/null 2>&1 || exit 4
rm "$T/qemu"
bfc apply >/dev/null 2>"$T/err"; echo "apply=$?"
ls /proc/sys/fs/binfmt_misc | grep -c riscv64-linux
{hello}; echo "rc=$?"
"#,
    );
    let text = ok(&out);
    let err = std::fs::read_to_string(t.path().join("err")).unwrap();
    assert!(text.starts_with("apply=2\n1\nhello argv0="), "{text}{err}");
    assert!(text.ends_with("rc=7\n"), "{text}");
    assert!(
        err.contains("with flag F the kernel opens the interpreter now, and")
            && err.contains("qemu does not exist"),
        "{err}"
    );
}

/// A configured interpreter that is not installed (qemu removed since `enable`): `apply`
/// exits 2 with an error, not a warning, that shows the register line as written (it can be
/// copied) and the fix; stdout marks the action FAILED; `--json`'s `failed` has the same text.
#[test]
fn apply_reports_a_missing_interpreter_as_an_error_with_the_fix() {
    let t = scratch();
    std::fs::write(
        t.path().join("config.toml"),
        "[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"/usr/bin/qemu-riscv64-staticX\"\nflags = \"PF\"\n",
    )
    .unwrap();
    let out = private(
        As::Me,
        t.path(),
        r#"
bfc apply >"$T/out" 2>"$T/err"; echo "apply=$?"
bfc apply --json >"$T/json" 2>/dev/null; echo "json=$?"
# The line in the message, pasted as it is, is what apply wrote (the kernel refuses it again).
sed -n "s/.*the kernel refused '\([^']*\)'.*/\1/p" "$T/err" > "$T/line"
grep -qxF "$(sed -n 2p "$T/out")" "$T/line" && echo same-line
"#,
    );
    assert_eq!(ok(&out), "apply=2\njson=2\nsame-line\n");
    let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap();
    let (magic, mask) = common::nixos_magic("riscv64-linux");
    let line = format!(":riscv64-linux:M::{magic}:{mask}:/usr/bin/qemu-riscv64-staticX:PF");
    assert_eq!(
        read("out"),
        format!(
            "# write to /proc/sys/fs/binfmt_misc/register\n{line}\n\
             # FAILED: register riscv64-linux (the error is on stderr)\n"
        )
    );
    let error = format!(
        "register riscv64-linux failed: the kernel refused '{line}' written to /proc/sys/fs/binfmt_misc/register: \
         No such file or directory (os error 2); with flag F the kernel opens the interpreter now, and \
         /usr/bin/qemu-riscv64-staticX does not exist. Fix: install /usr/bin/qemu-riscv64-staticX again \
         (Debian/Ubuntu: apt install qemu-user-static; Fedora: dnf install qemu-user-static), register another: \
         binfmtctl enable riscv64-linux --interpreter PATH, or stop registering it: binfmtctl disable riscv64-linux"
    );
    assert_eq!(read("err"), format!("binfmtctl: error: {error}\n"));
    let report: Value = serde_json::from_str(&read("json")).unwrap();
    assert_eq!(report["failed"], serde_json::json!([error]));
}

#[test]
fn apply_without_a_configuration_says_so() {
    let t = scratch();
    let out = private(As::Me, t.path(), "bfc apply");
    assert_eq!(
        ok(&out),
        format!(
            "# no configuration at {}/config.toml (binfmtctl enable SYSTEM writes one); nothing to do\n",
            t.path().display()
        )
    );
}

/// Issue 13, item 5: with another tool's entry holding a configured name (NixOS's
/// boot.binfmt.emulatedSystems naming the same system as services.binfmtctl), `apply` does not
/// say "the table already matches the configuration": it says which entry it did not register
/// and why, and exits 2.
#[test]
fn apply_says_which_configured_entry_another_tools_entry_kept_out() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"
bfc enable riscv64-linux >/dev/null 2>&1 || exit 3
echo -1 > /proc/sys/fs/binfmt_misc/status
printf '%s' ':riscv64-linux:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/run/binfmt/riscv64-linux:P' > /proc/sys/fs/binfmt_misc/register
bfc apply 2>/dev/null; echo "rc=$?"
"#,
    );
    assert_eq!(
        ok(&out),
        "# not registered: riscv64-linux (another tool's entry holds the name: interpreter /run/binfmt/riscv64-linux, flags \"P\")\n\
         # nothing else to do\n\
         rc=2\n"
    );
}

/// Issue 13, item 5: an i686-linux record on x86_64 (a system the host runs natively, which
/// NixOS's extra-platforms list made easy to copy) is refused at every apply; the second apply,
/// with riscv64-linux already registered, says so instead of "nothing to do".
#[test]
fn apply_says_it_left_out_a_system_the_host_runs_natively() {
    let t = native_and_riscv64("i686-linux", "qemu-i386-static");
    let out = private(
        As::Me,
        t.path(),
        "bfc apply >/dev/null 2>&1; bfc apply 2>\"$T/err\"; echo \"rc=$?\"; ls /proc/sys/fs/binfmt_misc | tr '\\n' ' '",
    );
    assert_eq!(
        ok(&out),
        "# not registered: i686-linux (i686-linux runs natively on this host)\n\
         # nothing else to do: every other configured entry is registered as configured\n\
         rc=2\nregister riscv64-linux status "
    );
    let err = std::fs::read_to_string(t.path().join("err")).unwrap();
    assert!(
        err.contains(
            "binfmtctl: warning: refused i686-linux: i686-linux runs natively on this host"
        ) && err.contains("binfmtctl disable --name i686-linux"),
        "{err}"
    );
}

#[test]
fn enable_import_apply_and_build_give_one_native_verdict_in_the_same_words() {
    // One rule (native::runs_natively, native::native_reason) for the four commands that
    // refuse a system the host runs natively (issue 12): enable measured, the others read
    // the table, and each said it differently.
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "this test describes an x86_64 host"
    );
    // (Import recognises NixOS's i686 line by its interpreter as i386-linux: the same verdict.)
    let reason = "-linux runs natively on this host (x86_64); registering it would send its programs \
                  through the emulator, and with a qemu of the host's own architecture every exec loops (ELOOP)";
    let t = scratch();
    let (magic, mask) = common::nixos_magic("i686-linux");
    std::fs::write(
        t.path().join("i686.conf"),
        format!(":i686-linux:M::{magic}:{mask}:/usr/bin/qemu-i386-static:PF\n"),
    )
    .unwrap();
    std::fs::write(
        t.path().join("native.toml"),
        "[[system]]\nsystem = \"i686-linux\"\nname = \"i686-linux\"\ninterpreter = \"/usr/bin/qemu-i386-static\"\nflags = \"PF\"\n",
    )
    .unwrap();
    let out = private(
        As::Me,
        t.path(),
        "bfc enable i686-linux 2>&1; echo \"enable=$?\"\n\
         bfc import \"$T/i686.conf\" 2>&1; echo \"import=$?\"\n\
         \"$B\" --config \"$T/native.toml\" --state-dir \"$T/state\" apply 2>&1; echo \"apply=$?\"\n\
         \"$B\" build --system i686-linux -- true 2>&1; echo \"build=$?\"",
    );
    let text = stdout(&out);
    for (command, code) in [("enable", 2), ("import", 0), ("apply", 2), ("build", 2)] {
        assert!(
            text.contains(&format!("{command}={code}\n")),
            "{command}: {text}"
        );
    }
    assert_eq!(
        text.matches(reason).count(),
        4,
        "the same reason, once from each: {text}"
    );
}
