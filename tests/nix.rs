//! Nix integration: `enable --nix` / `disable --nix` keep the user's nix.conf intact.

mod common;

use common::{ok, private, scratch, As};
use serde_json::Value;

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
    // bfc passes --config "$T/config.toml": the header names that file, not the default.
    assert!(
        text.contains(&format!(
            "--- owned\n# Written by binfmtctl from {}/config.toml; do not edit.",
            t.path().display()
        )),
        "{text}"
    );
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

/// Write `text` to `path`, creating its directory first.
fn put(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn lines_appended_after_the_block_are_not_joined_by_disable() {
    // nix.conf without a final newline: binfmtctl adds one before its block, and must leave
    // it when the user has written more lines after the block.
    let t = scratch();
    let conf = t.path().join("nix/nix.conf");
    put(&conf, "sandbox = true");
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"N={conf}
bfc --nix-conf "$N" enable --nix riscv64-linux >/dev/null 2>"$T/err" || {{ cat "$T/err"; exit 3; }}
echo "max-jobs = 4" >> "$N"
bfc --nix-conf "$N" disable --nix riscv64-linux >/dev/null 2>"$T/err" || {{ cat "$T/err"; exit 4; }}
"#,
            conf = conf.display()
        ),
    );
    ok(&out);
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        "sandbox = true\nmax-jobs = 4\n"
    );
}

#[test]
fn modes_do_not_follow_the_umask_and_the_backup_is_as_private_as_nix_conf() {
    let t = scratch();
    let (open, secret) = (
        t.path().join("nix/nix.conf"),
        t.path().join("secret/nix.conf"),
    );
    for (f, mode) in [(&open, 0o644), (&secret, 0o600)] {
        put(f, "sandbox = true\n");
        common::set_mode(f, mode);
    }
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"N={open}
P={secret}
umask 077
bfc --nix-conf "$N" enable --nix riscv64-linux >/dev/null 2>"$T/err" || {{ cat "$T/err"; exit 3; }}
stat -c '%n %a' "$N" "$N.binfmtctl-backup" "$T/nix/binfmtctl.conf" "$T/config.toml"
bfc --nix-conf "$N" disable --nix riscv64-linux >/dev/null 2>"$T/err" || {{ cat "$T/err"; exit 4; }}
stat -c '%n %a' "$N"
umask 022
bfc --nix-conf "$P" enable --nix riscv64-linux >/dev/null 2>"$T/err" || {{ cat "$T/err"; exit 5; }}
stat -c '%n %a' "$P" "$P.binfmtctl-backup"
"#,
            open = open.display(),
            secret = secret.display()
        ),
    );
    let (n, p, t) = (open.display(), secret.display(), t.path().display());
    assert_eq!(
        ok(&out),
        format!(
            "{n} 644\n{n}.binfmtctl-backup 644\n{t}/nix/binfmtctl.conf 644\n{t}/config.toml 644\n\
             {n} 644\n\
             {p} 600\n{p}.binfmtctl-backup 600\n"
        )
    );
}

#[test]
fn a_nix_conf_whose_owner_binfmtctl_cannot_keep_is_left_alone() {
    // As nobody, root's nix.conf in a directory anyone may write: replacing it would hand it
    // to nobody. binfmtctl refuses and names the file.
    let t = scratch();
    let conf = t.path().join("nix/nix.conf");
    put(&conf, "sandbox = true\n");
    common::set_mode(conf.parent().unwrap(), 0o777);
    let out = private(
        As::Nobody,
        t.path(),
        &format!(
            r#"N={conf}
bfc --nix-conf "$N" enable --nix riscv64-linux >/dev/null 2>"$T/err"; echo "enable=$?"
ls -A "$T/nix"
"#,
            conf = conf.display()
        ),
    );
    let text = ok(&out);
    let err = std::fs::read_to_string(t.path().join("err")).unwrap();
    let n = conf.display();
    assert_eq!(text, "enable=2\nnix.conf\n", "nothing written: {err}");
    assert!(
        err.contains(&format!(
            "{n} belongs to uid 65534 (gid 65534), and binfmtctl, running as uid 0, cannot give {n}.binfmtctl-backup that owner"
        )) && err.contains(&format!("run binfmtctl as root or as the owner of {n}\n")),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "sandbox = true\n");
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&conf).unwrap()),
        0,
        "still root's"
    );
}

#[test]
fn a_symlinked_nix_conf_stays_a_link_and_its_target_is_restored_exactly() {
    use std::os::unix::fs::symlink;
    let t = scratch();
    let (link, target) = (
        t.path().join("nix/nix.conf"),
        t.path().join("store/nix.conf"),
    );
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    let original = "sandbox = true\nmax-jobs = 2";
    put(&target, original);
    common::set_mode(&target, 0o444);
    symlink("../store/nix.conf", &link).unwrap();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"N={link}
bfc --nix-conf "$N" enable --nix riscv64-linux >/dev/null 2>"$T/err" || {{ cat "$T/err"; exit 3; }}
test -L "$N" && echo "enabled: link kept"
grep -c '^!include {owned}$' "$T/store/nix.conf"
bfc --nix-conf "$N" disable --nix riscv64-linux >/dev/null 2>"$T/err" || {{ cat "$T/err"; exit 4; }}
test -L "$N" && echo "disabled: link kept"
stat -c '%a' "$T/store/nix.conf"
"#,
            link = link.display(),
            owned = link.with_file_name("binfmtctl.conf").display()
        ),
    );
    assert_eq!(
        ok(&out),
        "enabled: link kept\n1\ndisabled: link kept\n444\n"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), original);
}

#[test]
fn a_nix_conf_linked_into_the_nix_store_is_refused_before_anything_is_registered() {
    // A dangling link stands for NixOS's /etc/nix/nix.conf -> /etc/static/... -> /nix/store/...
    // (the store itself cannot be written here); binfmtctl never follows it to read anything.
    let t = scratch();
    let link = t.path().join("nix/nix.conf");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    let store = "/nix/store/00000000000000000000000000000000-binfmtctl-test/nix.conf";
    std::os::unix::fs::symlink(store, &link).unwrap();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"N={link}
bfc --nix-conf "$N" enable --nix riscv64-linux; echo "enable=$?"
ls -A "$T" "$T/nix"; snap # an empty table
"#,
            link = link.display()
        ),
    );
    let text = ok(&out);
    assert_eq!(
        common::stderr(&out),
        format!(
            "binfmtctl: error: {} is managed by NixOS (a link into /nix/store: {store}); set nix.settings.extra-platforms \
             (or use binfmtctl's NixOS module, services.binfmtctl) instead\n",
            link.display()
        )
    );
    let t = t.path().display();
    assert_eq!(
        text,
        format!(
            "enable=2\n{t}:\nconfig.toml.lock\nnix\n\n{t}/nix:\nnix.conf\n== status\nenabled\n"
        )
    );
}

/// Issue 13, item 7: without --nix-conf, `--nix` writes where Nix itself reads:
/// `$NIX_CONF_DIR/nix.conf` (here /etc/nix does not exist, and must not be created).
#[test]
fn enable_nix_honours_nix_conf_dir() {
    assert!(
        !std::path::Path::new("/etc/nix").exists(),
        "this test proves /etc/nix is left alone by its absence: run it where /etc/nix does not exist"
    );
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"mkdir "$T/nixconf" && printf 'sandbox = true\n' > "$T/nixconf/nix.conf"
NIX_CONF_DIR="$T/nixconf" bfc enable --nix riscv64-linux >/dev/null 2>&1 || exit 3
cat "$T/nixconf/nix.conf"; grep ^extra-platforms "$T/nixconf/binfmtctl.conf"
if test -e /etc/nix; then echo "/etc/nix CREATED"; fi
"#,
    );
    let dir = t.path().join("nixconf");
    assert_eq!(
        ok(&out),
        format!(
            "sandbox = true\n# binfmtctl: emulated systems for Nix (`binfmtctl disable --nix` removes these two lines)\n\
             !include {}/binfmtctl.conf\nextra-platforms = riscv64-linux i686-linux\n",
            dir.display()
        )
    );
}

/// Issue 13, item 7: a config that is a link into the Nix store is refused before anything is
/// registered, with what to do (NixOS's module, or --runtime), whether its target exists on a
/// read-only store (no bare EROFS) or dangles (nothing is created under /nix/store). The
/// test's own tmpfs stands in for /nix/store, in its mount namespace.
#[test]
fn a_config_linked_into_the_nix_store_is_refused_and_nothing_is_created_there() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"mount -t tmpfs tmpfs /nix/store || exit 99
mkdir /nix/store/0-etc && : > /nix/store/0-etc/config.toml
mount -o remount,ro,bind /nix/store || exit 99
ln -s /nix/store/0-etc/config.toml "$T/ro.toml"
ln -s /nix/store/1-etc/binfmtctl/config.toml "$T/dangling.toml"
for c in ro dangling; do
  "$B" --config "$T/$c.toml" --state-dir "$T/state" enable riscv64-linux; echo "$c=$?"
done
ls -A /nix/store; snap
"#,
    );
    let text = ok(&out);
    assert_eq!(text, "ro=2\ndangling=2\n0-etc\n== status\nenabled\n");
    let t = t.path().display();
    assert_eq!(
        common::stderr(&out),
        format!(
            "binfmtctl: error: {t}/ro.toml is managed by NixOS (a link into the read-only Nix store: /nix/store/0-etc/config.toml): \
             use services.binfmtctl.emulatedSystems in the NixOS configuration, or --runtime to register without recording\n\
             binfmtctl: error: {t}/dangling.toml is managed by NixOS (a link into the read-only Nix store: \
             /nix/store/1-etc/binfmtctl/config.toml): use services.binfmtctl.emulatedSystems in the NixOS configuration, \
             or --runtime to register without recording\n"
        )
    );
}

/// Issue 13, item 7: `disable --nix` with a config that is a link into the (read-only) Nix
/// store, as NixOS's /etc/binfmtctl/config.toml, is refused before anything is removed, as
/// `enable` is, with what to do in the NixOS configuration instead.
#[test]
fn disable_nix_with_a_config_linked_into_the_nix_store_is_refused_before_anything_is_removed() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"bfc enable --runtime riscv64-linux >/dev/null 2>&1 || exit 3
mount -t tmpfs tmpfs /nix/store || exit 99
mkdir /nix/store/0-etc && : > /nix/store/0-etc/config.toml
mount -o remount,ro,bind /nix/store || exit 99
ln -s /nix/store/0-etc/config.toml "$T/ro.toml"
"$B" --config "$T/ro.toml" --state-dir "$T/state" --nix-conf "$T/nix.conf" disable --nix riscv64-linux; echo "disable=$?"
ls /proc/sys/fs/binfmt_misc | grep -c riscv64-linux
"#,
    );
    assert_eq!(ok(&out), "disable=2\n1\n");
    assert_eq!(
        common::stderr(&out),
        format!(
            "binfmtctl: error: {}/ro.toml is managed by NixOS (a link into the read-only Nix store: \
             /nix/store/0-etc/config.toml): Nix's settings for its emulated systems are the NixOS module's: set \
             services.binfmtctl.addToNix = false (or nix.settings.extra-platforms) in the NixOS configuration\n",
            t.path().display()
        )
    );
}

/// Issue 13, item 8: `nix-config --systems` prints what a machines line needs, and every
/// emulated system it prints is one `check` proves runs in this (private) instance; the native
/// ones are what the host runs by itself.
#[test]
fn nix_config_systems_are_what_check_proves_runs() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"bfc enable riscv64-linux aarch64-linux s390x-linux >/dev/null 2>&1 || exit 3
bfc nix-config --systems
bfc nix-config --systems --json > "$T/systems.json" || exit 4
bfc check --json > "$T/check.json" || exit 5
"#,
    );
    let line = ok(&out);
    let read = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(t.path().join(f)).unwrap()).unwrap()
    };
    let (systems, check) = (read("systems.json"), read("check.json"));
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let all = list(&systems["systems"]);
    assert_eq!(line, format!("{}\n", all.join(",")));
    assert_eq!(
        all[0], "x86_64-linux",
        "the host's own system first: {line}"
    );
    assert_eq!(
        list(&systems["emulated"]),
        ["riscv64-linux", "aarch64-linux", "s390x-linux"]
    );
    let ran: Vec<String> = check["systems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["exec"]["result"] == "ran" && s["ok"] == true)
        .map(|s| s["system"].as_str().unwrap().to_owned())
        .collect();
    for s in list(&systems["emulated"]) {
        assert!(
            ran.contains(&s),
            "{s} printed but check does not prove it runs: {check:#}"
        );
    }
    for s in &ran {
        assert!(all.contains(s), "{s} runs but is not printed: {line}");
    }
    for s in binfmtctl::emulator::native::table() {
        assert!(all.contains(&(*s).to_owned()), "native {s} missing: {line}");
    }
}
