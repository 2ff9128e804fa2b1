//! binfmt.d / NixOS / Debian formats: import of Debian's files, export read back by the real
//! consumers (systemd-binfmt in a private instance, nix-instantiate).

mod common;

use common::{ok, private, run, scratch, As};
use serde_json::Value;

#[test]
fn import_recognises_every_line_of_debians_qemu_user_static() {
    common::require("qemu-riscv64-static", "qemu-user-static");
    let confs: Vec<String> = std::fs::read_dir("/usr/lib/binfmt.d")
        .expect("/usr/lib/binfmt.d: apt-get install --no-install-recommends qemu-user-static")
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.contains("/qemu-"))
        .collect();
    assert!(confs.len() >= 29, "only {} qemu-*.conf files", confs.len());
    let mut args = vec!["import", "--dry-run", "--json"];
    args.extend(confs.iter().map(String::as_str));
    let v: Value = serde_json::from_str(&ok(&run(&args))).unwrap();
    assert_eq!(
        (&v["version"], &v["dry_run"]),
        (&1.into(), &true.into()),
        "{v}"
    );
    let rows = v["registrations"].as_array().unwrap();
    assert_eq!(rows.len(), confs.len());
    for r in rows {
        assert!(r["system"].is_string(), "not recognised: {r}");
    }
    let system_of = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .map(|r| r["system"].as_str().unwrap().to_owned())
    };
    for (entry, system) in [
        ("qemu-aarch64", "aarch64-linux"),
        ("qemu-arm", "armv7l-linux"),
        ("qemu-riscv64", "riscv64-linux"),
        ("qemu-ppc64le", "powerpc64le-linux"),
        ("qemu-mipsn32", "mips64-linuxabin32"),
        ("qemu-s390x", "s390x-linux"),
        ("qemu-sparc32plus", "sparc-linux"),
        ("qemu-microblaze", "microblaze-linux"),
    ] {
        assert_eq!(system_of(entry).as_deref(), Some(system), "{entry}");
    }
}

#[test]
fn import_records_and_export_round_trips_through_systemd_binfmt() {
    let systemd_binfmt = [
        "/lib/systemd/systemd-binfmt",
        "/usr/lib/systemd/systemd-binfmt",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("systemd-binfmt is missing: apt-get install --no-install-recommends systemd");
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"
bfc import /usr/lib/binfmt.d/qemu-riscv64.conf /usr/lib/binfmt.d/qemu-aarch64.conf >/dev/null 2>&1 || exit 3
bfc export --format binfmt.d > "$T/exported.conf" || exit 4
SYSTEMD_LOG_LEVEL=err {systemd_binfmt} "$T/exported.conf" || exit 5
ls /proc/sys/fs/binfmt_misc | sort | tr '\n' ' '; echo
bfc apply --json
"#
        ),
    );
    let text = ok(&out);
    assert!(
        text.starts_with("aarch64-linux register riscv64-linux status \n"),
        "{text}"
    );
    // What systemd-binfmt registered from the export is exactly what binfmtctl wants.
    let json = &text[text.find('{').unwrap()..];
    let v: Value = serde_json::from_str(json).unwrap();
    let verbs: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(verbs, ["unchanged", "unchanged"], "{text}");
    let exported = std::fs::read_to_string(t.path().join("exported.conf")).unwrap();
    assert!(
        exported.contains(":riscv64-linux:M::\\x7fELF\\x02\\x01"),
        "{exported}"
    );
    assert!(
        exported.contains(":/usr/libexec/qemu-binfmt/riscv64-binfmt-P:POF\n"),
        "{exported}"
    );
}

fn write_config(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        "[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"/usr/bin/qemu-riscv64-static\"\nflags = \"PF\"\n",
    )
    .unwrap();
    config
}

#[test]
fn nixos_export_evaluates_to_nixos_own_magic() {
    let nix = common::require("nix-instantiate", "nix-bin");
    let t = scratch();
    let config = write_config(t.path());
    let text = ok(&run(&[
        "--config",
        config.to_str().unwrap(),
        "export",
        "--format",
        "nixos",
    ]));
    let file = t.path().join("binfmt.nix");
    std::fs::write(&file, &text).unwrap();
    let eval = |attr: &str| {
        let o = std::process::Command::new(&nix)
            .args(["--eval", "--strict", "--json", "-E"])
            .arg(format!(
                "(import {}).boot.binfmt.registrations.\"riscv64-linux\".{attr}",
                file.display()
            ))
            .env("NIX_STATE_DIR", t.path().join("nix-state"))
            .output()
            .unwrap();
        serde_json::from_str::<Value>(&ok(&o)).unwrap()
    };
    let (magic, mask) = common::nixos_magic("riscv64-linux");
    assert_eq!(eval("magicOrExtension"), Value::from(magic));
    assert_eq!(eval("mask"), Value::from(mask));
    assert_eq!(eval("fixBinary"), Value::from(true));
    assert_eq!(eval("preserveArgvZero"), Value::from(true));
    assert_eq!(
        eval("interpreter"),
        Value::from("/usr/bin/qemu-riscv64-static")
    );
}

#[test]
fn debian_export_is_update_binfmts_format() {
    let t = scratch();
    let config = write_config(t.path());
    let text = ok(&run(&[
        "--config",
        config.to_str().unwrap(),
        "export",
        "--format",
        "debian",
    ]));
    let (magic, mask) = common::nixos_magic("riscv64-linux");
    assert_eq!(
        text,
        format!(
            "# /usr/share/binfmts/riscv64-linux\npackage binfmtctl\ninterpreter /usr/bin/qemu-riscv64-static\nmagic {magic}\noffset 0\nmask {mask}\ncredentials no\npreserve yes\nfix_binary yes\n\n"
        )
    );
}

#[test]
fn debian_export_says_it_leaves_out_flag_o() {
    let t = scratch();
    let config = write_config(t.path());
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("\"PF\"", "\"OPF\"");
    std::fs::write(&config, text).unwrap();
    let out = run(&[
        "--config",
        config.to_str().unwrap(),
        "export",
        "--format",
        "debian",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        common::stderr(&out),
        "binfmtctl: warning: riscv64-linux: the update-binfmts format has no field for flag O (open-binary); it is left out\n"
    );
}

#[test]
fn import_refuses_flag_c_without_credentials() {
    let t = scratch();
    let conf = t.path().join("c.conf");
    std::fs::write(&conf, r":x:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-riscv64-static:OCF").unwrap();
    let out = run(&["import", "--dry-run", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        common::stderr(&out),
        format!("binfmtctl: error: {}:1: entry x has flag C: setuid programs would run with raised privileges inside qemu-user, which is no security boundary; pass --credentials to import it anyway\n", conf.display())
    );
    let out = run(&[
        "import",
        "--dry-run",
        "--json",
        "--credentials",
        conf.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["registrations"][0]["flags"], "OCF");
    // The same warning as `enable --credentials`, naming what gets flag C.
    assert_eq!(
        common::stderr(&out),
        "binfmtctl: warning: flag C makes setuid/setgid emulated programs run with raised privileges inside qemu-user, \
         which was never designed to be a security boundary; any user who can run such a program may gain those \
         privileges (importing riscv64-linux with flag C)\n"
    );
}
