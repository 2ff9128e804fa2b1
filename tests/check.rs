//! `binfmtctl check` in private binfmt_misc instances: it passes where emulation works and
//! fails, naming the fix, where it does not.

mod common;

use common::{check_messages as messages, check_system as system};

use common::{ok, private, scratch, As};
use serde_json::Value;

/// Run a script that ends with `bfc check --json`; return (exit status of check, report).
fn check(who: As, setup: &str) -> (i32, Value) {
    let t = scratch();
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
    let out = private(As::Me, t.path(), "bfc check riscv64; echo \"check=$?\"");
    let text = ok(&out);
    assert!(
        text.contains("riscv64-linux  FAIL    -      -      Exec format error (no entry)"),
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
    assert!(
        messages(system(&report, "riscv64-linux"), "warning").contains(&nix_warning.to_owned()),
        "{report:#}"
    );
    let (_, report) = check(As::Me, &setup("riscv64-linux"));
    assert!(
        !messages(system(&report, "riscv64-linux"), "warning")
            .iter()
            .any(|w| w.starts_with("Nix is installed")),
        "{report:#}"
    );
}
