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

fn eval_module(systems: &str) -> Value {
    let out = nix_instantiate()
        .args([
            "--eval",
            "--strict",
            "--json",
            "tests/fixtures/module-eval.nix",
            "--arg",
            "emulatedSystems",
            systems,
        ])
        .output()
        .unwrap();
    serde_json::from_str(&ok(&out)).unwrap()
}

#[test]
fn the_module_writes_a_config_binfmtctl_reads() {
    let v = eval_module(r#"[ "riscv64-linux" "aarch64-linux" ]"#);
    assert_eq!(
        v["options"],
        serde_json::json!(["addToNix", "emulatedSystems", "enable", "package", "qemu"])
    );
    assert_eq!(v["assertions"], serde_json::json!([true]));
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
    assert_eq!(v["assertions"], serde_json::json!([false]));
}

#[test]
fn nix_reads_every_profile() {
    // The module reads qemu-profiles/*.toml with builtins.fromTOML: every file must load there.
    let out = nix_instantiate()
        .args([
            "--eval",
            "--strict",
            "--json",
            "-E",
            r#"let d = ./qemu-profiles; fs = builtins.filter (f: builtins.match ".*\\.toml" f != null) (builtins.attrNames (builtins.readDir d)); in map (f: (builtins.fromTOML (builtins.readFile (d + "/${f}"))).system) fs"#,
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    let n = binfmtctl::profile::Profiles::builtin().unwrap().all().len();
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
}
