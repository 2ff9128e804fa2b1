//! `binfmtctl check` in private binfmt_misc instances: it passes where emulation works and
//! fails, naming the fix, where it does not.

mod common;

use common::{check_messages as messages, check_system as system};

use common::{ok, private, scratch, As};
use serde_json::Value;

/// Run a script that ends with `bfc check --json`; return (exit status of check, report).
fn check(who: As, setup: &str) -> (i32, Value) {
    check_in(who, &scratch(), setup)
}

/// As [`check`], in the scratch directory `t`.
fn check_in(who: As, t: &tempfile::TempDir, setup: &str) -> (i32, Value) {
    let out = private(
        who,
        t.path(),
        &format!("{setup}\nbfc check --json > \"$T/report.json\"; echo \"check=$?\""),
    );
    let text = ok(&out);
    let code: i32 = text
        .trim()
        .rsplit("check=")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let report = std::fs::read_to_string(t.path().join("report.json")).unwrap();
    (
        code,
        serde_json::from_str(&report).unwrap_or_else(|e| panic!("{e}: {report}")),
    )
}

fn passes_for_enabled_systems(who: As) {
    let (code, report) = check(
        who,
        "bfc enable riscv64-linux arm64 s390x >/dev/null 2>&1 || exit 3",
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    for name in ["riscv64-linux", "aarch64-linux", "s390x-linux"] {
        let s = system(&report, name);
        assert_eq!(
            s["exec"],
            serde_json::json!({"result": "ran", "argv0_preserved": true}),
            "{s:#}"
        );
        assert_eq!(
            s["chroot"],
            serde_json::json!({"result": "ran", "argv0_preserved": true}),
            "{s:#}"
        );
        assert_eq!(s["winner"], name);
        assert_eq!(s["flags"], "PF");
        assert!(messages(s, "error").is_empty(), "{s:#}");
    }
}

#[test]
fn check_passes_for_enabled_systems() {
    passes_for_enabled_systems(As::Me);
}

#[test]
fn check_passes_for_enabled_systems_as_nobody() {
    passes_for_enabled_systems(As::Nobody);
}

#[test]
fn check_fails_without_f_in_the_chroot_case() {
    let (code, report) = check(
        As::Me,
        "bfc enable riscv64-linux --interpreter /usr/bin/qemu-riscv64 >/dev/null 2>&1 || exit 3",
    );
    assert_eq!(code, 1);
    let s = system(&report, "riscv64-linux");
    assert_eq!(
        s["exec"]["result"], "ran",
        "a plain exec works with a dynamic qemu"
    );
    assert_eq!(s["chroot"], serde_json::json!({"result": "no_interpreter"}));
    let errors = messages(s, "error");
    assert_eq!(errors, ["inside an empty chroot (what containers and the Nix sandbox see) the interpreter /usr/bin/qemu-riscv64 is not reachable: the entry lacks flag F | fix: register a static qemu with F: install qemu-user-static, then binfmtctl enable riscv64-linux --force"]);
    assert!(
        messages(s, "warning")
            .iter()
            .any(|w| w.starts_with("/usr/bin/qemu-riscv64 is dynamically linked")),
        "{s:#}"
    );
}

#[test]
fn check_fails_for_a_deleted_interpreter() {
    let (code, report) = check(
        As::Me,
        r#"cp /usr/bin/qemu-riscv64-static "$T/qemu" && bfc enable riscv64-linux --interpreter "$T/qemu" >/dev/null 2>&1 || exit 3
rm "$T/qemu""#,
    );
    assert_eq!(code, 1);
    let s = system(&report, "riscv64-linux");
    assert_eq!(
        s["exec"]["result"], "ran",
        "flag F keeps the deleted file running"
    );
    let errors = messages(s, "error");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("/qemu of entry riscv64-linux was deleted (flag F keeps the old file running until the entry is registered again) | fix: reinstall the emulator, or register the one installed now: binfmtctl enable riscv64-linux --force"), "{errors:?}");
}

#[test]
fn check_fails_for_a_shadowed_entry() {
    let (code, report) = check(
        As::Me,
        r"bfc enable arm64 >/dev/null 2>&1 || exit 3
printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F' > /proc/sys/fs/binfmt_misc/register",
    );
    assert_eq!(code, 1);
    let s = system(&report, "aarch64-linux");
    assert_eq!(
        s["entries"],
        serde_json::json!(["qemu-aarch64", "aarch64-linux"])
    );
    assert_eq!(s["winner"], "qemu-aarch64");
    assert_eq!(
        s["exec"],
        serde_json::json!({"result": "ran", "argv0_preserved": false}),
        "the winner has no P"
    );
    assert_eq!(
        messages(s, "error"),
        ["entry aarch64-linux also accepts aarch64-linux programs but is shadowed by the newer entry qemu-aarch64: only qemu-aarch64 is used | fix: remove the one you do not want: binfmtctl disable --name aarch64-linux"]
    );
}

#[test]
fn check_of_a_system_without_entry_says_to_enable_it() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        "bfc check riscv64; echo \"check=$?\"; bfc check --json riscv64 > \"$T/r.json\"; true",
    );
    let text = ok(&out);
    // In the empty chroot too: ENOEXEC, no entry (glibc's execvp would have retried the probe
    // as a /bin/sh script, and the missing /bin/sh read as "interpreter not found").
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("r.json")).unwrap()).unwrap();
    let s = system(&report, "riscv64-linux");
    assert_eq!(s["exec"]["result"], "no_entry", "{s}");
    assert_eq!(s["chroot"]["result"], "no_entry", "{s}");
    assert!(
        text.contains("riscv64-linux  FAIL    -      -      no entry  no entry  -\n"),
        "{text}"
    );
    assert!(text.contains("error riscv64-linux: no binfmt_misc entry runs riscv64-linux programs: exec gives \"Exec format error\"\n    fix: binfmtctl enable riscv64-linux\n"), "{text}");
    assert!(text.trim_end().ends_with("check=1"), "{text}");
}

#[test]
fn check_warns_when_nix_lacks_the_platform() {
    common::require("nix", "nix-bin");
    let setup = |platforms: &str| {
        format!(
            "mkdir -p \"$T/nixconf\" && printf 'extra-platforms = {platforms}\\n' > \"$T/nixconf/nix.conf\" && export NIX_CONF_DIR=\"$T/nixconf\"\n\
             bfc enable riscv64-linux >/dev/null 2>&1 || exit 3"
        )
    };
    let nix_warning = "Nix is installed but riscv64-linux is not in its extra-platforms: Nix will refuse to build riscv64-linux derivations | fix: binfmtctl enable --nix riscv64-linux (then restart nix-daemon if one runs)";
    let (code, report) = check(As::Me, &setup("aarch64-linux"));
    assert_eq!(code, 0, "a warning does not fail the check");
    assert_eq!(messages(&report, "warning"), [nix_warning], "{report:#}");
    let (_, report) = check(As::Me, &setup("riscv64-linux"));
    assert!(
        !messages(&report, "warning")
            .iter()
            .any(|w| w.starts_with("Nix is installed")),
        "{report:#}"
    );
}

#[test]
fn check_does_not_ask_nix_to_add_a_system_the_host_runs_natively() {
    common::require("nix", "nix-bin");
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "this test describes an x86_64 host"
    );
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        "mkdir -p \"$T/nixconf\" && printf 'extra-platforms = aarch64-linux\\n' > \"$T/nixconf/nix.conf\" && export NIX_CONF_DIR=\"$T/nixconf\"\n\
         bfc check --json i386 i586 riscv64-linux > \"$T/report.json\"; echo \"check=$?\"",
    );
    ok(&out);
    let text = std::fs::read_to_string(t.path().join("report.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    // The same run warns for a foreign system: the warning itself is working.
    assert_eq!(
        messages(&report, "warning"),
        ["Nix is installed but riscv64-linux is not in its extra-platforms: Nix will refuse to build riscv64-linux derivations | fix: binfmtctl enable --nix riscv64-linux (then restart nix-daemon if one runs)"],
        "{report:#}"
    );
}

/// The NixOS riscv64 magic and mask with byte `at` of each replaced (`\xNN` escapes).
fn riscv64_with(at: usize, magic_byte: &str, mask_byte: &str) -> (String, String) {
    let (magic, mask) = common::nixos_magic("riscv64-linux");
    // Split into bytes: `\xNN` escapes, or plain characters ("ELF").
    let put = |s: &str, b: &str| {
        let mut bytes: Vec<&str> = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            let n = if rest.starts_with("\\x") { 4 } else { 1 };
            bytes.push(&rest[..n]);
            rest = &rest[n..];
        }
        bytes[at] = b;
        bytes.concat()
    };
    (put(&magic, magic_byte), put(&mask, mask_byte))
}

/// Shell lines registering `good` (static qemu, PF) and then a newer entry `name` that
/// accepts only one kind of riscv64 program, with a missing interpreter.
fn good_and_partial(name: &str, magic: &str, mask: &str) -> String {
    let (good_magic, good_mask) = common::nixos_magic("riscv64-linux");
    format!(
        "printf '%s' ':good:M::{good_magic}:{good_mask}:/usr/bin/qemu-riscv64-static:PF' > /proc/sys/fs/binfmt_misc/register || exit 3\n\
         printf '%s' ':{name}:M::{magic}:{mask}:/nonexistent/qemu:' > /proc/sys/fs/binfmt_misc/register || exit 3"
    )
}

#[test]
fn check_blames_the_entry_the_kernel_uses_for_the_probe() {
    // `exec-only` has \xff\xff as e_type mask: it accepts non-PIE (ET_EXEC) programs only,
    // the probe among them, and wins for them over the older `good`.
    let (magic, mask) = riscv64_with(16, r"\x02", r"\xff");
    let (code, report) = check(As::Me, &good_and_partial("exec-only", &magic, &mask));
    assert_eq!(code, 1, "{report:#}");
    let s = system(&report, "riscv64-linux");
    assert_eq!(s["winner"], "exec-only", "{s:#}");
    assert_eq!(s["entries"], serde_json::json!(["exec-only", "good"]));
    assert_eq!(s["exec"], serde_json::json!({"result": "no_interpreter"}));
    assert_eq!(
        messages(s, "error"),
        [
            "entry exec-only matches, but the kernel cannot start its interpreter /nonexistent/qemu (ENOENT: it, or the loader of a dynamic one, is missing) | fix: install the emulator again, or register the one installed: binfmtctl enable riscv64-linux --interpreter /usr/bin/qemu-riscv64-static --force",
            "the interpreter /nonexistent/qemu of entry exec-only was deleted | fix: reinstall the emulator, or register the one installed now: binfmtctl enable riscv64-linux --force",
            "entry exec-only accepts only non-PIE (ET_EXEC) riscv64-linux programs and, being newer, takes them from entry good: they run with /nonexistent/qemu | fix: remove it: echo -1 > /proc/sys/fs/binfmt_misc/exec-only",
        ]
    );
}

#[test]
fn check_fails_for_a_newer_entry_that_takes_only_pie_programs() {
    // `pie-only` (e_type ET_DYN, mask \xff) leaves the probe (ET_EXEC) to `good` but takes
    // every PIE riscv64 program, and its interpreter is missing: they all fail.
    let (magic, mask) = riscv64_with(16, r"\x03", r"\xff");
    let hello = common::hello_riscv64(false);
    let (code, report) = check(
        As::Me,
        &format!(
            "{}\n{} >/dev/null 2>&1; [ $? = 127 ] || {{ echo 'a PIE riscv64 program did not fail with 127' >&2; exit 4; }}",
            good_and_partial("pie-only", &magic, &mask),
            hello.display()
        ),
    );
    assert_eq!(code, 1, "{report:#}");
    let s = system(&report, "riscv64-linux");
    assert_eq!(s["winner"], "good", "{s:#}");
    assert_eq!(s["exec"]["result"], "ran");
    assert_eq!(
        messages(s, "error"),
        ["entry pie-only accepts only PIE (ET_DYN) riscv64-linux programs and, being newer, takes them from entry good: they run with /nonexistent/qemu | fix: remove it: echo -1 > /proc/sys/fs/binfmt_misc/pie-only"]
    );
}

/// `check` of riscv64-linux (enabled) where new user namespaces are refused: the private
/// instance's max_user_namespaces is 0 (a limit of this namespace and its children only; the
/// host's stays as it was), then `then` runs.
fn check_without_user_namespaces(then: &str) -> (i32, Value) {
    check(
        As::Me,
        &format!(
            "bfc enable riscv64-linux >/dev/null 2>&1 || exit 3\n\
             echo 0 > /proc/sys/user/max_user_namespaces || exit 4\n\
             unshare --user true 2>/dev/null && exit 5\n{then}"
        ),
    )
}

#[test]
fn check_falls_back_to_a_mount_namespace_without_user_namespaces() {
    // Root of the private instance's user namespace has CAP_SYS_ADMIN there: the chroot test
    // runs in a mount namespace of its own.
    let (code, report) = check_without_user_namespaces("");
    assert_eq!(code, 0, "{report:#}");
    let s = system(&report, "riscv64-linux");
    assert_eq!(
        s["chroot"],
        serde_json::json!({"result": "ran", "argv0_preserved": true}),
        "{s:#}"
    );
    assert!(messages(s, "error").is_empty(), "{s:#}");
}

#[test]
fn check_warns_when_the_chroot_cannot_be_set_up() {
    // As before, but check runs without capabilities (uid 0 gains none at exec with the
    // noroot securebits): no user namespace and no fallback, so the chroot is not tested.
    let (code, report) = check_without_user_namespaces(
        "bfc() { setpriv --securebits +noroot,+noroot_locked --inh-caps -all --bounding-set -all -- \"$B\" --config \"$T/config.toml\" --state-dir \"$T/state\" \"$@\"; }",
    );
    assert_eq!(code, 0, "{report:#}");
    let s = system(&report, "riscv64-linux");
    assert_eq!(s["exec"]["result"], "ran", "{s:#}");
    assert_eq!(s["chroot"]["result"], "not_tested", "{s:#}");
    let reason = s["chroot"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("cannot create a user namespace"),
        "{reason}"
    );
    assert!(reason.contains("No space left on device"), "{reason}");
    assert!(messages(s, "error").is_empty(), "{s:#}");
    let warnings = messages(s, "warning");
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with(&format!("chroot not tested: {reason} | fix: "))),
        "{warnings:?}"
    );
}

#[test]
fn check_does_not_fail_a_system_it_has_no_probe_for() {
    // NixOS's wasm entry (wasm32-wasi and wasm64-wasi share its magic), run by wasmtime.
    let (code, report) = check(
        As::Me,
        r"printf '%s' ':wasm:M::\x00asm::/bin/true:' > /proc/sys/fs/binfmt_misc/register || exit 3",
    );
    assert_eq!(code, 0, "{report:#}");
    for name in ["wasm32-wasi", "wasm64-wasi"] {
        let s = system(&report, name);
        assert_eq!(s["winner"], "wasm");
        assert_eq!(s["exec"], serde_json::json!({"result": "not_probed"}));
        assert_eq!(s["chroot"], serde_json::json!({"result": "not_probed"}));
        assert!(messages(s, "error").is_empty(), "{s:#}");
        let warnings = messages(s, "warning");
        assert!(
            warnings.contains(&format!("{name} not probed: binfmtctl has no probe program for it, so whether entry wasm runs its programs is unknown | fix: run a {name} program by hand to test entry wasm (interpreter /bin/true)")),
            "{warnings:?}"
        );
        assert!(!s.to_string().contains("qemu"), "{s:#}");
    }
}

#[test]
fn check_says_a_dynamic_qemu_with_f_cannot_load_in_the_chroot() {
    let (magic, mask) = common::nixos_magic("riscv64-linux");
    let (code, report) = check(
        As::Me,
        &format!("printf '%s' ':riscv64-linux:M::{magic}:{mask}:/usr/bin/qemu-riscv64:PF' > /proc/sys/fs/binfmt_misc/register || exit 3"),
    );
    assert_eq!(code, 1);
    let s = system(&report, "riscv64-linux");
    assert_eq!(s["flags"], "PF");
    assert_eq!(s["exec"]["result"], "ran");
    assert_eq!(s["chroot"], serde_json::json!({"result": "no_interpreter"}));
    assert_eq!(
        messages(s, "error"),
        ["inside an empty chroot (what containers and the Nix sandbox see) the interpreter /usr/bin/qemu-riscv64 does not start: it has flag F but is dynamically linked, and its loader and libraries are not there | fix: use a static qemu: binfmtctl enable riscv64-linux --interpreter /usr/bin/qemu-riscv64-static --force"]
    );
}

#[test]
fn another_tools_entry_shadowed_by_binfmtctls_working_one_is_a_warning() {
    // What Debian users have after `apt install qemu-user-static` and `binfmtctl enable`.
    let (code, report) = check(
        As::Me,
        "grep -v '^#' /usr/lib/binfmt.d/qemu-riscv64.conf > /proc/sys/fs/binfmt_misc/register || exit 3\n\
         bfc enable riscv64-linux >/dev/null 2>&1 || exit 4",
    );
    assert_eq!(code, 0, "{report}");
    let s = system(&report, "riscv64-linux");
    assert_eq!(s["winner"], "riscv64-linux");
    assert!(messages(s, "error").is_empty(), "{s}");
    assert_eq!(
        messages(s, "warning")[0],
        "entry qemu-riscv64 also accepts riscv64-linux programs but is shadowed by the newer entry riscv64-linux: \
          only riscv64-linux is used (entry qemu-riscv64 is not binfmtctl's) | fix: remove it for good where it comes \
          from (/usr/lib/binfmt.d/qemu-riscv64.conf; for Debian's binfmt-support: update-binfmts --disable qemu-riscv64)"
    );
}

#[test]
fn checking_only_native_systems_needs_no_binfmt_misc() {
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "this test describes an x86_64 host"
    );
    let t = scratch();
    let out = common::private_unmounted(As::Me, t.path(), "bfc check x86_64-linux; echo rc=$?");
    let text = ok(&out);
    assert!(text.contains("x86_64-linux  ok "), "{text}");
    assert!(
        text.contains("warning: binfmt_misc is not mounted at /proc/sys/fs/binfmt_misc"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("rc=0"), "{text}");
}

#[test]
fn another_tools_entry_shadowed_where_no_probe_runs_stays_a_warning() {
    // wasm32-wasi has no probe: that the winner works is not disproved, so another tool's
    // shadowed entry is no error.
    let (code, report) = check(
        As::Me,
        r"printf ':wasmtime:M::\x00asm:\xff\xff\xff\xff:/bin/true:' > /proc/sys/fs/binfmt_misc/register || exit 3
bfc enable --runtime --interpreter /bin/true wasm32-wasi >/dev/null 2>&1; [ $? -le 1 ] || exit 4
bfc check --json wasm32-wasi > /dev/null",
    );
    let s = system(&report, "wasm32-wasi");
    assert!(messages(s, "error").is_empty(), "{s}");
    assert_eq!(code, 0, "{report}");
}

/// Issue 13, item 1: armv6l-linux and armv7l-linux (identical magics) enabled together send
/// every program to the same qemu-arm with the same flags: not a problem, whichever wins.
/// When the two differ (another interpreter for one), the shadowed one still is.
#[test]
fn entries_that_run_programs_alike_may_shadow_each_other() {
    let (code, report) = check(
        As::Me,
        "bfc enable armv6l-linux armv7l-linux >/dev/null 2>&1 || exit 3",
    );
    assert_eq!(code, 0, "{report:#}");
    for name in ["armv6l-linux", "armv7l-linux"] {
        let s = system(&report, name);
        assert!(messages(s, "error").is_empty(), "{s:#}");
        assert_eq!(s["exec"]["result"], "ran", "{s:#}");
    }

    common::require("qemu-arm", "qemu-user");
    let (code, report) = check(
        As::Me,
        "bfc enable armv6l-linux >/dev/null 2>&1 || exit 3\n\
         bfc enable armv7l-linux --interpreter /usr/bin/qemu-arm >/dev/null 2>&1 || exit 3",
    );
    assert_eq!(code, 1, "{report:#}");
    let s = system(&report, "armv6l-linux");
    assert!(
        messages(s, "error").contains(&"entry armv6l-linux also accepts armv6l-linux programs but is shadowed by the newer entry armv7l-linux: only armv7l-linux is used | fix: remove the one you do not want: binfmtctl disable --name armv6l-linux".to_owned()),
        "{s:#}"
    );
}

/// Issue 13, item 7: the extra-platforms warning is said once for all the systems Nix lacks,
/// not once a system.
#[test]
fn check_says_once_which_systems_nix_lacks() {
    common::require("nix", "nix-bin");
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        "mkdir -p \"$T/nixconf\" && printf 'extra-platforms = aarch64-linux\\n' > \"$T/nixconf/nix.conf\" && export NIX_CONF_DIR=\"$T/nixconf\"\n\
         bfc enable riscv64-linux s390x-linux aarch64-linux >/dev/null 2>&1 || exit 3\n\
         bfc check; echo \"check=$?\"",
    );
    let text = ok(&out);
    let nix: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("extra-platforms") || l.contains("--nix"))
        .collect();
    assert_eq!(
        nix,
        [
            "warning: Nix is installed but riscv64-linux, s390x-linux are not in its extra-platforms: Nix will refuse to build riscv64-linux, s390x-linux derivations",
            "    fix: binfmtctl enable --nix riscv64-linux s390x-linux (then restart nix-daemon if one runs)"
        ],
        "{text}"
    );
    assert!(text.ends_with("check=0\n"), "{text}");
}

#[test]
fn status_and_check_name_the_same_winner_for_a_newer_pie_only_entry() {
    // One rule for the kernel's choice (Profile::winners, registry::winner): a newer entry
    // that takes only PIE programs takes those from the older one. status used to need an
    // entry to take both kinds before it counted, and named no shadow where check named one.
    let (magic, mask) = common::nixos_magic("riscv64-linux");
    // The PIE-only entry: e_type 3 exactly (byte 16), the rest as NixOS's.
    let pie_magic = magic.replacen("\\x02\\x00\\xf3\\x00", "\\x03\\x00\\xf3\\x00", 1);
    let pie_mask = mask.replacen("\\xfe\\xff\\xff\\xff", "\\xff\\xff\\xff\\xff", 1);
    assert!(pie_magic != magic && pie_mask != mask, "{magic} {mask}");
    let t = common::scratch();
    let out = common::private(
        common::As::Me,
        t.path(),
        &format!(
            "printf '%s' ':rv-all:M::{magic}:{mask}:/usr/bin/qemu-riscv64-static:PF' > /proc/sys/fs/binfmt_misc/register || exit 98\n\
             printf '%s' ':rv-pie:M::{pie_magic}:{pie_mask}:/usr/bin/qemu-riscv64-static:PF' > /proc/sys/fs/binfmt_misc/register || exit 98\n\
             bfc status --json > \"$T/status.json\"\n\
             bfc status > \"$T/status.txt\"\n\
             bfc check riscv64-linux --json > \"$T/check.json\"; echo \"check=$?\""
        ),
    );
    assert!(
        common::stdout(&out).contains("check=1"),
        "{}",
        common::stderr(&out)
    );
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(t.path().join(f)).unwrap()).unwrap()
    };
    let status = read("status.json");
    let all = status["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "rv-all")
        .unwrap();
    assert_eq!(
        all["shadowed"],
        serde_json::json!([{"system": "riscv64-linux", "by": "rv-pie"}]),
        "{status:#}"
    );
    // status says which programs of riscv64-linux the PIE-only entry takes (what check
    // looks at), where it used to list no system for it.
    let pie = status["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "rv-pie")
        .unwrap();
    assert_eq!(pie["systems"], serde_json::json!([]), "{status:#}");
    assert_eq!(
        pie["partly"],
        serde_json::json!([{"system": "riscv64-linux", "programs": ["PIE (ET_DYN)"]}]),
        "{status:#}"
    );
    let text = std::fs::read_to_string(t.path().join("status.txt")).unwrap();
    let row = text.lines().find(|l| l.starts_with("rv-pie")).unwrap();
    assert!(row.ends_with("riscv64-linux (PIE (ET_DYN) only)"), "{text}");
    let check = read("check.json");
    let errors = common::check_messages(common::check_system(&check, "riscv64-linux"), "error");
    assert!(
        errors
            .iter()
            .any(|m| m.starts_with("entry rv-pie accepts only PIE (ET_DYN) riscv64-linux programs and, being newer, takes them from entry rv-all")),
        "{errors:#?}"
    );
}

/// Issue 13, item 7: `check` reads the nix.conf binfmtctl manages (`--nix-conf`, here a file
/// Nix itself would never read by that name, and `$NIX_CONF_DIR/nix.conf`), so that after
/// `enable --nix` it does not claim Nix lacks the platform.
#[test]
fn check_reads_the_nix_conf_binfmtctl_manages() {
    common::require("nix", "nix-bin");
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"mkdir -p "$T/empty" "$T/nixconf" && export NIX_CONF_DIR="$T/empty"
bfc --nix-conf "$T/mine.conf" enable --nix riscv64-linux >/dev/null 2>&1 || exit 3
bfc --nix-conf "$T/mine.conf" check 2>&1 | grep -c extra-platforms
bfc check 2>&1 | grep -c extra-platforms
# NIX_CONF_DIR through the default: its nix.conf includes binfmtctl's file.
printf 'sandbox = true\n' > "$T/nixconf/nix.conf"
NIX_CONF_DIR="$T/nixconf" bfc enable --nix riscv64-linux >/dev/null 2>&1 || exit 4
NIX_CONF_DIR="$T/nixconf" bfc check 2>&1 | grep -c extra-platforms
true
"#,
    );
    // Found: no warning; the default ($T/empty/nix.conf, nothing there): the warning, once.
    assert_eq!(ok(&out), "0\n1\n0\n");
}

/// Run `setup`, then `bfc enable ENABLE` (its stderr kept) and `bfc check --json`:
/// (enable's stderr, check's exit status, the system in check's report).
fn enable_and_check(setup: &str, enable: &str, system_name: &str) -> (String, i32, Value) {
    let t = scratch();
    let (code, report) = check_in(
        As::Me,
        &t,
        &format!("{setup}\nbfc enable {enable} >/dev/null 2>\"$T/enable.err\""),
    );
    let enable_err = std::fs::read_to_string(t.path().join("enable.err")).unwrap();
    (enable_err, code, system(&report, system_name).clone())
}

/// What `enable` warns when a system's programs do not run, given check's problem.
fn enable_says(system: &str, message: &str, fix: &str) -> String {
    format!("binfmtctl: warning: {system} is registered but its programs do not run: {message}; {fix}; run binfmtctl check {system}\n")
}

/// Issue 14, section 4: with binfmt_misc switched off, check said "no entry ... fix: binfmtctl
/// enable" although the entry exists; enable said it right. Both now ask one diagnosis.
#[test]
fn check_and_enable_both_say_binfmt_misc_is_disabled() {
    let (enable_err, code, s) = enable_and_check(
        "bfc enable riscv64-linux >/dev/null 2>&1 || exit 3\necho 0 > /proc/sys/fs/binfmt_misc/status || exit 4",
        "riscv64-linux",
        "riscv64-linux",
    );
    assert_eq!(code, 1);
    assert_eq!(s["exec"]["result"], "no_entry", "{s:#}");
    let message = "binfmt_misc is disabled as a whole (/proc/sys/fs/binfmt_misc/status reads \"disabled\"), so the kernel runs no entry";
    let fix = "enable it: echo 1 > /proc/sys/fs/binfmt_misc/status";
    assert_eq!(messages(&s, "error"), [format!("{message} | fix: {fix}")]);
    assert!(
        enable_err.ends_with(&enable_says("riscv64-linux", message, fix)),
        "{enable_err}"
    );
}

/// Issue 14, section 4: with an --interpreter for another architecture, check said "may be
/// a qemu bug"; enable named the mismatch. Both now name it, and the fix works.
#[test]
fn check_and_enable_both_name_an_interpreter_for_another_architecture() {
    let (enable_err, code, s) = enable_and_check(
        "",
        "riscv64-linux --interpreter /usr/bin/qemu-aarch64-static",
        "riscv64-linux",
    );
    assert_eq!(code, 1);
    assert_eq!(s["exec"]["result"], "failed", "{s:#}");
    let message =
        "the interpreter /usr/bin/qemu-aarch64-static emulates aarch64-linux, not riscv64-linux";
    let fix = "register riscv64-linux's own emulator: binfmtctl enable riscv64-linux --interpreter /usr/bin/qemu-riscv64-static";
    assert_eq!(messages(&s, "error"), [format!("{message} | fix: {fix}")]);
    assert!(
        enable_err.ends_with(&enable_says("riscv64-linux", message, fix)),
        "{enable_err}"
    );
    // The fix, as said, makes the check pass.
    let (_, code, s) = enable_and_check(
        "bfc enable riscv64-linux --interpreter /usr/bin/qemu-aarch64-static >/dev/null 2>&1; [ $? = 1 ] || exit 3",
        "riscv64-linux --interpreter /usr/bin/qemu-riscv64-static",
        "riscv64-linux",
    );
    assert_eq!(code, 0, "{s:#}");
}

/// Issue 14, section 4: table rows reached 412 columns because failure messages sat in the
/// EXEC and CHROOT cells. Cells are words; messages go below, each said once.
#[test]
fn check_table_cells_are_words_and_messages_go_below() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        "bfc enable riscv64-linux --interpreter /usr/bin/qemu-aarch64-static >/dev/null 2>&1; [ $? = 1 ] || exit 3\n\
         bfc enable arm64 >/dev/null 2>&1 || exit 3\n\
         PATH=/nonexistent bfc check\n\
         echo 0 > /proc/sys/fs/binfmt_misc/status || exit 4\n\
         echo ==\n\
         PATH=/nonexistent bfc check\n\
         true",
    );
    let text = ok(&out);
    let (wrong, off) = text.split_once("==\n").unwrap();
    assert_eq!(
        wrong,
        "SYSTEM         RESULT  ENTRY          FLAGS  EXEC    CHROOT  ARGV0\n\
         riscv64-linux  FAIL    riscv64-linux  PF     failed  failed  -\n\
         aarch64-linux  ok      aarch64-linux  PF     ran     ran     yes\n\
         error riscv64-linux: the interpreter /usr/bin/qemu-aarch64-static emulates aarch64-linux, not riscv64-linux\n    \
         fix: register riscv64-linux's own emulator: binfmtctl enable riscv64-linux --interpreter /usr/bin/qemu-riscv64-static\n"
    );
    assert_eq!(
        off,
        "SYSTEM         RESULT  ENTRY          FLAGS  EXEC      CHROOT    ARGV0\n\
         riscv64-linux  FAIL    riscv64-linux  PF     no entry  no entry  -\n\
         aarch64-linux  FAIL    aarch64-linux  PF     no entry  no entry  -\n\
         error riscv64-linux, aarch64-linux: binfmt_misc is disabled as a whole (/proc/sys/fs/binfmt_misc/status reads \"disabled\"), so the kernel runs no entry\n    \
         fix: enable it: echo 1 > /proc/sys/fs/binfmt_misc/status\n"
    );
}

/// Issue 14, section 4: for an entry with F, the exec in the empty chroot proves the plain
/// one (the kernel runs the interpreter file it opened at registration, wherever the exec
/// happens) and carries the argv[0] test: one qemu start a system, not two. Counted as the
/// probe execs strace sees; `BINFMTCTL_CHECK_BOTH_EXECS=1` brings the plain one back.
#[test]
fn check_starts_qemu_once_for_an_entry_with_f() {
    common::require("strace", "strace");
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"bfc enable riscv64-linux arm64 >/dev/null 2>&1 || exit 3
bfc enable riscv64-linux --interpreter /usr/bin/qemu-riscv64 --name rv-dyn --runtime --force >/dev/null 2>&1; [ $? -le 1 ] || exit 3
traced() { strace -f -qq -e trace=execve -o "$T/trace" "$B" --config "$T/config.toml" --state-dir "$T/state" check --json "$@" > "$T/report.json"
  grep -c 'execve("[^"]*/\(aarch64\|riscv64\)-linux"' "$T/trace"; }
traced arm64 riscv64-linux; cp "$T/report.json" "$T/one.json"
BINFMTCTL_CHECK_BOTH_EXECS=1 traced arm64 riscv64-linux
true"#,
    );
    let text = ok(&out);
    // arm64 (PF): the chroot's exec only; riscv64-linux's winner rv-dyn (no F, a dynamic
    // qemu) still gets both, as the chroot cannot prove anything there. Forced: both each.
    assert_eq!(text, "3\n4\n", "{}", common::stderr(&out));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("one.json")).unwrap()).unwrap();
    let arm = system(&report, "aarch64-linux");
    assert_eq!(arm["exec_implied"], true, "{arm:#}");
    assert_eq!(
        arm["exec"],
        serde_json::json!({"result": "ran", "argv0_preserved": true})
    );
    let rv = system(&report, "riscv64-linux");
    assert_eq!(rv["winner"], "rv-dyn", "{rv:#}");
    assert_eq!(rv["exec_implied"], false, "{rv:#}");
    assert_eq!(rv["exec"]["result"], "ran", "{rv:#}");
    assert_eq!(rv["chroot"]["result"], "no_interpreter", "{rv:#}");
}
