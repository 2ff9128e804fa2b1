//! Nix integration: `enable --nix` / `disable --nix` keep the user's nix.conf intact.

mod common;

use common::{ok, private, scratch, As};

fn round_trip(original: Option<&str>) {
    let t = scratch();
    let conf = t.path().join("nix/nix.conf");
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    if let Some(text) = original {
        std::fs::write(&conf, text).unwrap();
    }
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"
N={conf}
bfc --nix-conf "$N" enable --nix riscv64-linux arm64 >/dev/null 2>"$T/err" || {{ cat "$T/err"; exit 3; }}
echo "--- nix.conf"; cat "$N"
echo "--- owned"; cat "$T/nix/binfmtctl.conf"
echo "--- nix-config"; bfc --nix-conf "$N" nix-config
bfc --nix-conf "$N" disable --nix riscv64-linux arm64 >/dev/null || exit 4
test -e "$T/nix/binfmtctl.conf" && echo OWNED-LEFT; true
"#,
            conf = conf.display()
        ),
    );
    let text = ok(&out);
    let owned = conf.with_file_name("binfmtctl.conf");
    assert!(
        text.contains(&format!("!include {}\n", owned.display())),
        "{text}"
    );
    assert!(
        text.contains("extra-platforms = riscv64-linux aarch64-linux i686-linux\n"),
        "{text}"
    );
    assert!(
        !text.contains("extra-sandbox-paths"),
        "static qemu with F needs no sandbox paths: {text}"
    );
    assert!(
        text.contains("--- nix-config\nextra-platforms = riscv64-linux aarch64-linux i686-linux\n"),
        "{text}"
    );
    assert!(!text.contains("OWNED-LEFT"), "{text}");
    match original {
        Some(o) => assert_eq!(
            std::fs::read_to_string(&conf).unwrap(),
            o,
            "nix.conf not restored byte for byte"
        ),
        None => assert!(
            !conf.exists(),
            "binfmtctl created nix.conf and must remove it again"
        ),
    }
    if let Some(o) = original {
        let backup =
            std::fs::read_to_string(conf.with_file_name("nix.conf.binfmtctl-backup")).unwrap();
        assert!(
            backup.starts_with(o),
            "the backup holds the state before the last edit"
        );
    }
}

#[test]
fn enable_nix_then_disable_nix_leaves_nix_conf_byte_identical() {
    round_trip(Some(
        "# my settings\nsandbox = true\nextra-experimental-features = nix-command\n",
    ));
}

#[test]
fn nix_conf_without_final_newline_is_restored_exactly() {
    round_trip(Some("sandbox = true"));
}

#[test]
fn a_missing_nix_conf_is_created_and_removed_again() {
    round_trip(None);
}

#[test]
fn nix_accepts_binfmtctl_conf() {
    // Real Nix reads the include and the settings: `nix show-config` lists the platforms.
    let nix = common::require("nix", "nix-bin");
    let t = scratch();
    let conf = t.path().join("nix.conf");
    std::fs::write(&conf, "sandbox = true\n").unwrap();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            "bfc --nix-conf {} enable --nix riscv64-linux >/dev/null 2>&1 || exit 3",
            conf.display()
        ),
    );
    ok(&out);
    let shown = std::process::Command::new(nix)
        .args([
            "--extra-experimental-features",
            "nix-command",
            "show-config",
        ])
        .env("NIX_CONF_DIR", t.path())
        .output()
        .unwrap();
    let text = ok(&shown);
    let platforms = text
        .lines()
        .find(|l| l.starts_with("extra-platforms = "))
        .unwrap_or_default();
    assert!(
        platforms.contains("riscv64-linux") && platforms.contains("i686-linux"),
        "{platforms}"
    );
}
