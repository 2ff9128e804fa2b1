//! flake.nix and the NixOS module, checked offline with Debian's nix-bin: every Nix file
//! parses, and the module (evaluated against a stand-in for nixpkgs' lib) writes a config
//! binfmtctl reads, the same contract as boot.binfmt.emulatedSystems.

mod common;

use common::{ok, run, MANIFEST_DIR};
use serde_json::Value;

fn nix_instantiate() -> std::process::Command {
    let mut c = std::process::Command::new(common::require("nix-instantiate", "nix-bin"));
    c.current_dir(MANIFEST_DIR);
    c
}

#[test]
fn every_nix_file_parses() {
    for f in [
        "flake.nix",
        "nix/package.nix",
        "nix/module.nix",
        "tests/fixtures/module-eval.nix",
    ] {
        let out = nix_instantiate().args(["--parse", f]).output().unwrap();
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A Nix expression evaluated in the project's root, as JSON.
fn eval_expr(expr: &str) -> Value {
    let out = nix_instantiate()
        .args(["--eval", "--strict", "--json", "-E", expr])
        .output()
        .unwrap();
    serde_json::from_str(&ok(&out)).unwrap()
}

fn eval_module(systems: &str) -> Value {
    eval_module_with(systems, &[])
}

/// The module evaluated with further `--arg NAME EXPR` pairs (module-eval.nix's arguments).
fn eval_module_with(systems: &str, args: &[(&str, &str)]) -> Value {
    let mut c = nix_instantiate();
    c.args([
        "--eval",
        "--strict",
        "--json",
        "tests/fixtures/module-eval.nix",
        "--arg",
        "emulatedSystems",
        systems,
    ]);
    for (name, expr) in args {
        c.args(["--arg", name, expr]);
    }
    serde_json::from_str(&ok(&c.output().unwrap())).unwrap()
}

#[test]
fn the_module_writes_a_config_binfmtctl_reads() {
    let v = eval_module(r#"[ "riscv64-linux" "aarch64-linux" ]"#);
    assert_eq!(
        v["options"],
        serde_json::json!(["addToNix", "emulatedSystems", "enable", "package", "qemu"])
    );
    assert_eq!(v["assertions"], serde_json::json!([true, true]));
    assert_eq!(
        v["extraPlatforms"],
        serde_json::json!(["riscv64-linux", "aarch64-linux", "i686-linux"])
    );
    let t = common::scratch();
    let config = t.path().join("config.toml");
    std::fs::write(&config, v["configText"].as_str().unwrap()).unwrap();
    let lines = ok(&run(&["--config", config.to_str().unwrap(), "export"]));
    let (magic, mask) = common::nixos_magic("riscv64-linux");
    assert!(
        lines.contains(&format!(
            ":riscv64-linux:M::{magic}:{mask}:/nix/store/00000000000000000000000000000000-qemu-user-static/bin/qemu-riscv64:PF\n"
        )),
        "{lines}"
    );
    assert!(lines.contains(":aarch64-linux:M::"), "{lines}");
}

#[test]
fn the_module_refuses_the_host_system() {
    let v = eval_module(r#"[ "x86_64-linux" ]"#);
    assert_eq!(v["assertions"], serde_json::json!([false, true]));
}

/// Issue 13, items 5 and 6: a system the host runs natively (i686-linux on x86_64, which
/// NixOS's extra-platforms makes easy to copy) is refused at evaluation, with the option to
/// change; `binfmtctl apply` would refuse it at every boot.
#[test]
fn the_module_refuses_a_system_the_host_runs_natively_naming_the_option() {
    let v = eval_module(r#"[ "riscv64-linux" "i686-linux" ]"#);
    assert_eq!(
        v["failedAssertions"],
        serde_json::json!([
            "services.binfmtctl.emulatedSystems names i686-linux, which this x86_64-linux host runs natively: registering \
             it would send the host's own programs through qemu, and `binfmtctl apply` refuses it at every boot. Remove it \
             from services.binfmtctl.emulatedSystems (Nix builds for it without emulation; on x86_64, addToNix already \
             adds i686-linux to nix.settings.extra-platforms)."
        ])
    );
    // armv7l runs natively on an armv7l host, not on aarch64 (AArch32 is optional there).
    let arm = r#"[ "armv6l-linux" ]"#;
    let on = |host: &str| eval_module_with(arm, &[("hostSystem", &format!("\"{host}\""))]);
    assert_eq!(
        on("armv7l-linux")["assertions"],
        serde_json::json!([false, true])
    );
    assert_eq!(
        on("aarch64-linux")["assertions"],
        serde_json::json!([true, true])
    );
}

/// The module and binfmtctl read one table of what a host runs natively
/// (qemu-profiles/native/hosts.toml): for this host, they agree.
#[test]
fn the_module_and_binfmtctl_agree_on_what_this_host_runs_natively() {
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "this test describes an x86_64 host"
    );
    let from_nix: Vec<String> = serde_json::from_value(eval_expr(r#"(builtins.fromTOML (builtins.readFile ./qemu-profiles/native/hosts.toml))."x86_64-linux""#)).unwrap();
    assert_eq!(from_nix, binfmtctl::emulator::native::table());
}

/// Issue 13, items 5 and 6: the same system in boot.binfmt.emulatedSystems and
/// services.binfmtctl.emulatedSystems: NixOS's entry would hold the name, and the boot unit
/// would fail at every boot. Refused, naming the options.
#[test]
fn the_module_refuses_a_system_boot_binfmt_emulates_too() {
    let v = eval_module_with(
        r#"[ "riscv64-linux" "aarch64-linux" ]"#,
        &[(
            "binfmtEmulatedSystems",
            r#"[ "riscv64-linux" "s390x-linux" ]"#,
        )],
    );
    assert_eq!(
        v["failedAssertions"],
        serde_json::json!([
            "boot.binfmt.emulatedSystems and services.binfmtctl.emulatedSystems both name riscv64-linux: NixOS's entry \
             would hold the name and `binfmtctl apply` would fail at every boot. Remove it from boot.binfmt.emulatedSystems \
             (binfmtctl's registration replaces it) or from services.binfmtctl.emulatedSystems."
        ])
    );
    let apart = eval_module_with(
        r#"[ "aarch64-linux" ]"#,
        &[("binfmtEmulatedSystems", r#"[ "riscv64-linux" ]"#)],
    );
    assert_eq!(apart["failedAssertions"], serde_json::json!([]));
}

/// Issue 13, item 6: as NixOS's boot.binfmt, no extra-platforms (not even i686-linux) for an
/// empty list.
#[test]
fn the_module_adds_no_extra_platforms_for_an_empty_list() {
    let v = eval_module("[ ]");
    assert_eq!(v["extraPlatforms"], Value::Null);
    assert_eq!(v["failedAssertions"], serde_json::json!([]));
}

/// Issue 13, item 6: on a host the flake builds no package for (armv7l-linux) the module
/// evaluates, with `package` given and without (then built from this source), and `package`
/// has a defaultText, so the manual does not evaluate the default.
#[test]
fn the_module_evaluates_on_a_host_the_flake_has_no_package_for() {
    let host = ("hostSystem", "\"armv7l-linux\"");
    let given = eval_module_with(r#"[ "riscv64-linux" ]"#, &[host]);
    assert_eq!(
        given["systemPackages"],
        serde_json::json!(["/nix/store/00000000000000000000000000000000-binfmtctl"])
    );
    assert_eq!(
        given["extraPlatforms"],
        serde_json::json!(["riscv64-linux"])
    );
    let default = eval_module_with(
        r#"[ "riscv64-linux" ]"#,
        &[host, ("settings", "{ package = null; }")],
    );
    assert_eq!(
        default["systemPackages"],
        serde_json::json!(["/nix/store/00000000000000000000000000000000-binfmtctl-from-source"])
    );
    let x86 = eval_module_with(
        r#"[ "riscv64-linux" ]"#,
        &[("settings", "{ package = null; }")],
    );
    assert_eq!(
        x86["systemPackages"],
        serde_json::json!(["/nix/store/00000000000000000000000000000000-binfmtctl-flake"])
    );
    assert_eq!(
        given["packageDefaultText"],
        "binfmtctl.packages.${pkgs.stdenv.hostPlatform.system}.default"
    );
}

/// Issue 13, item 6: nix/package.nix, evaluated with stand-ins: its unit calls mountpoint and
/// umount by util-linux's store path (NixOS's service PATH has no util-linux), the patterns it
/// replaces are in systemd/binfmtctl.service (or --replace-fail would stop the build), and its
/// source leaves a local target/ out.
#[test]
fn the_package_unit_uses_store_paths_and_its_source_leaves_target_out() {
    let v: Value = serde_json::from_value(eval_expr(r#"let
  lib = { cleanSource = src: { inherit src; filter = _: _: true; }; cleanSourceWith = a: a; platforms.linux = [ ]; licenses = { mit = 1; asl20 = 2; }; };
  p = import ./nix/package.nix { inherit lib; rustPlatform.buildRustPackage = a: a; installShellFiles = null; util-linux = "/nix/store/u-util-linux"; };
in { postInstall = p.postInstall; target = p.src.filter (toString ./target) "directory"; src = p.src.filter (toString ./src) "directory"; }"#)).unwrap();
    assert_eq!(v["target"], false);
    assert_eq!(v["src"], true);
    let post = v["postInstall"].as_str().unwrap();
    assert!(
        post.contains("--replace-fail 'mountpoint -q' '/nix/store/u-util-linux/bin/mountpoint -q'")
            && post
                .contains("--replace-fail 'then umount' 'then /nix/store/u-util-linux/bin/umount'"),
        "{post}"
    );
    let unit =
        std::fs::read_to_string(format!("{MANIFEST_DIR}/systemd/binfmtctl.service")).unwrap();
    let stop_post = unit
        .lines()
        .find(|l| l.starts_with("ExecStopPost="))
        .unwrap();
    assert!(
        stop_post.contains("mountpoint -q") && stop_post.contains("then umount"),
        "{stop_post}"
    );
}

#[test]
fn nix_reads_every_profile() {
    // The module reads qemu-profiles/*.toml with builtins.fromTOML: every file must load there.
    let v: Value = serde_json::from_value(eval_expr(r#"let d = ./qemu-profiles; fs = builtins.filter (f: builtins.match ".*\\.toml" f != null) (builtins.attrNames (builtins.readDir d)); in map (f: (builtins.fromTOML (builtins.readFile (d + "/${f}"))).system) fs"#)).unwrap();
    let n = binfmtctl::model::profile::Profiles::builtin()
        .unwrap()
        .all()
        .len();
    assert_eq!(v.as_array().unwrap().len(), n);
}

/// Issue 13, item 4: the module gives P only where the profile says so (qemu), as NixOS's
/// `preserveArgvZero = isQemu`: wasm32-wasi's record has no P (nor F: wasmtime is dynamic).
#[test]
fn the_module_gives_p_only_to_qemu() {
    let v = eval_module(r#"[ "riscv64-linux" "wasm32-wasi" ]"#);
    let text = v["configText"].as_str().unwrap();
    assert!(
        text.contains("interpreter = \"/nix/store/00000000000000000000000000000000-wasmtime/bin/wasmtime\"\nflags = \"\"\n"),
        "{text}"
    );
    assert!(text.contains("qemu-riscv64\"\nflags = \"PF\"\n"), "{text}");
    // wasmtime, registered without F, must be reachable in the Nix sandbox (found by a
    // review); the static qemu with F needs nothing.
    assert_eq!(
        v["extraSandboxPaths"],
        serde_json::json!(["/nix/store/00000000000000000000000000000000-wasmtime/bin/wasmtime"])
    );
    assert_eq!(
        eval_module(r#"[ "riscv64-linux" ]"#)["extraSandboxPaths"],
        Value::Null
    );
}
