//! Root's trust boundary (issue 11): one test per case and variant of the issue. Each runs
//! binfmtctl as root in the host's user namespace on a fake `--root` table (so the strict
//! rules apply and the host's table is never touched) with its files in temporary
//! directories (never the real /etc), and checks: exit 2, the message names the path and the
//! fix, the victim file and the fake table unchanged, nothing hung.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{fake_root, host, host_in, private, scratch, stderr, As, BIN};

const QEMU: &str = "/usr/bin/qemu-riscv64-static";
const RECORD: &str = "[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"/usr/bin/qemu-riscv64-static\"\nflags = \"PF\"\n";

/// A directory only root can change (0700 in sticky /tmp), with a fake table in it.
struct Safe {
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl Safe {
    fn new() -> Safe {
        let dir = tempfile::tempdir().unwrap();
        let root = fake_root(dir.path());
        Safe { dir, root }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A root-owned file outside anything a user controls, that must never change.
    fn victim(&self) -> PathBuf {
        let v = self.path("victim");
        fs::write(&v, "root's precious file\n").unwrap();
        v
    }

    /// The fake table as it is: every file and what it holds.
    fn table(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = fs::read_dir(&self.root)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let text = fs::read_to_string(e.path()).unwrap_or_else(|e| format!("<{e}>"));
                (e.file_name().to_string_lossy().into_owned(), text)
            })
            .collect();
        out.sort();
        out
    }
}

/// A directory owned by another user (uid 1000), mode 0755: theirs to change.
fn users_dir(parent: &Path, name: &str) -> PathBuf {
    let d = parent.join(name);
    fs::create_dir(&d).unwrap();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&d, Some(1000), Some(1000)).unwrap();
    d
}

/// Exit 2, and stderr is one error naming `path` and saying `fix`.
#[track_caller]
fn refused(o: &Output, path: &Path, fix: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    // An error, or `apply`'s refusal of one record (the others are still restored at boot).
    assert!(
        err.contains("binfmtctl: error: ") || err.contains("binfmtctl: warning: refused "),
        "{err}"
    );
    assert!(
        err.contains(&path.display().to_string()),
        "the message names {}: {err}",
        path.display()
    );
    assert!(err.contains(fix), "the message says {fix:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

const OWN_IT: &str = "chmod go-w";

/// Case 1: `--state-dir` that another user can change, holding `state.json -> victim`:
/// `enable` used to overwrite the victim with the state JSON (even when it then failed).
#[test]
fn case_1_a_planted_state_link_in_a_directory_others_can_change_is_not_written_through() {
    let s = Safe::new();
    let victim = s.victim();
    let open = scratch(); // 0777, as a world-writable directory under /tmp
    let theirs = users_dir(s.dir.path(), "theirs");
    for state in [open.path().to_owned(), theirs.clone()] {
        symlink(&victim, state.join("state.json")).unwrap();
        let before = s.table();
        let o = host_in(
            &s.root,
            &s.path("config.toml"),
            &state,
            &["enable", "riscv64-linux"],
        );
        refused(&o, &state, OWN_IT);
        assert_eq!(
            fs::read_to_string(&victim).unwrap(),
            "root's precious file\n"
        );
        assert_eq!(s.table(), before);
        assert!(!s.path("config.toml").exists());
    }
}

/// Case 1, second part: a `--root` another user controls, whose entry name is a link to a
/// root-owned file: `apply` used to write `-1` into that file. And in a root-owned table, an
/// entry file that is a symlink is never opened through.
#[test]
fn case_1_a_root_others_control_or_a_linked_entry_is_never_written_through() {
    let s = Safe::new();
    let victim = s.path("victim");
    let entry = "enabled\ninterpreter /bin/sh\nflags: \noffset 0\nmagic 4d5a\n";
    fs::write(&victim, entry).unwrap();
    let state = s.path("state");
    fs::create_dir(&state).unwrap();
    fs::write(
        state.join("state.json"),
        r#"{"entries":[{"name":"foo","line":":foo:M::MZ::/bin/sh:","interpreter_id":null}]}"#,
    )
    .unwrap();
    // Their table: a directory of uid 1000.
    let theirs = users_dir(s.dir.path(), "theirs");
    fs::write(theirs.join("register"), "").unwrap();
    fs::write(theirs.join("status"), "enabled\n").unwrap();
    symlink(&victim, theirs.join("foo")).unwrap();
    let o = host_in(&theirs, &s.path("config.toml"), &state, &["apply"]);
    refused(&o, &theirs, OWN_IT);
    assert_eq!(fs::read_to_string(&victim).unwrap(), entry);
    assert_eq!(fs::read_to_string(theirs.join("register")).unwrap(), "");

    // Root's table, an entry that is a link: reported, not written through.
    symlink(&victim, s.root.join("foo")).unwrap();
    let o = host_in(&s.root, &s.path("config.toml"), &state, &["apply"]);
    refused(
        &o,
        &s.root.join("foo"),
        "it is a symlink, not a regular file",
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), entry);
}

/// Sets up one variant of a test in a directory.
type Setup = fn(&Path);

/// Case 2: a state file users other than root can forge (its directory, or the file itself)
/// must not make `apply` remove another tool's entry.
#[test]
fn case_2_a_forged_state_does_not_make_apply_remove_another_tools_entry() {
    let forged = r#"{"entries":[{"name":"foreign","line":":foreign:M::MZ::/bin/sh:","interpreter_id":null}]}"#;
    let foreign = "enabled\ninterpreter /bin/sh\nflags: \noffset 0\nmagic 4d5a\n";
    let variants: [(&str, Setup); 3] = [
        ("directory of uid 1000", |state| {
            std::os::unix::fs::chown(state, Some(1000), None).unwrap();
        }),
        ("file of mode 0666", |state| {
            fs::set_permissions(state.join("state.json"), fs::Permissions::from_mode(0o666))
                .unwrap();
        }),
        ("file of uid 1000", |state| {
            std::os::unix::fs::chown(state.join("state.json"), Some(1000), None).unwrap();
        }),
    ];
    for (what, setup) in variants {
        let s = Safe::new();
        fs::write(s.root.join("foreign"), foreign).unwrap();
        let state = s.path("state");
        fs::create_dir(&state).unwrap();
        fs::write(state.join("state.json"), forged).unwrap();
        setup(&state);
        let o = host_in(&s.root, &s.path("config.toml"), &state, &["apply"]);
        refused(&o, &state, OWN_IT);
        assert_eq!(
            fs::read_to_string(s.root.join("foreign")).unwrap(),
            foreign,
            "{what}"
        );
        assert_eq!(fs::read_to_string(s.root.join("register")).unwrap(), "");
    }
}

/// A config that makes root's `apply` register a user's program with `forced_interpreters`.
fn hostile_config(interpreter: &Path) -> String {
    format!(
        "forced_interpreters = [\"{i}\"]\n\n[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"{i}\"\nflags = \"PF\"\n",
        i = interpreter.display()
    )
}

/// Case 3: the four ways around the config-directory check. Each time `apply` must refuse,
/// and the fake table stay empty.
#[test]
fn case_3_the_config_check_cannot_be_bypassed() {
    let s = Safe::new();
    let theirs = users_dir(s.dir.path(), "theirs");
    let qemu = theirs.join("qemu");
    fs::copy(QEMU, &qemu).unwrap();
    let config = hostile_config(&qemu);
    let state = s.path("state");

    // (a) A bare relative --config, run inside the user's directory.
    fs::write(theirs.join("config.toml"), &config).unwrap();
    let o = Command::new(BIN)
        .current_dir(&theirs)
        .args(["--root"])
        .arg(&s.root)
        .args(["--config", "config.toml", "--state-dir"])
        .arg(&state)
        .arg("apply")
        .output()
        .unwrap();
    refused(&o, &theirs, "use a directory only root can change");
    assert_eq!(fs::read_to_string(s.root.join("register")).unwrap(), "");

    // (b) A config in root's directory that is a symlink into the user's directory.
    let link = s.path("linked.toml");
    symlink(theirs.join("config.toml"), &link).unwrap();
    let o = host_in(&s.root, &link, &state, &["apply"]);
    refused(&o, &theirs, OWN_IT);

    // (c) A config file of mode 0666, and (d) one owned by the user, in root's directory.
    let c = s.path("c.toml");
    fs::write(&c, &config).unwrap();
    fs::set_permissions(&c, fs::Permissions::from_mode(0o666)).unwrap();
    let o = host_in(&s.root, &c, &state, &["apply"]);
    refused(&o, &c, OWN_IT);
    assert!(stderr(&o).contains("is writable by group and others (mode 0666)"));
    let d = s.path("d.toml");
    fs::write(&d, &config).unwrap();
    std::os::unix::fs::chown(&d, Some(1000), None).unwrap();
    let o = host_in(&s.root, &d, &state, &["apply"]);
    refused(&o, &d, OWN_IT);
    assert!(stderr(&o).contains("is owned by uid 1000, not root"));

    assert_eq!(fs::read_to_string(s.root.join("register")).unwrap(), "");
    assert_eq!(fs::read_to_string(&c).unwrap(), config);
    assert_eq!(fs::read_to_string(&d).unwrap(), config);
}

/// Case 6: a device node as `--config` is never replaced; a FIFO as `--config`, as an
/// `import` file or in the profiles directory, and `--config /dev/zero`, are refused at once
/// (`timeout 20` would end a hang with 124).
#[test]
fn case_6_devices_and_fifos_are_refused_never_replaced_or_read() {
    let s = Safe::new();
    let node = s.path("null");
    nix::sys::stat::mknod(
        &node,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    let wanted = "it is a character device, not a regular file";
    let o = host(&s.root, &node, &["enable", "riscv64-linux"]);
    refused(&o, &node, wanted);
    assert!(fs::symlink_metadata(&node)
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(fs::read_to_string(s.root.join("register")).unwrap(), "");

    let fifo = s.path("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let fifo_says = "it is a FIFO (named pipe), not a regular file";
    for args in [&["apply"][..], &["enable", "riscv64-linux"], &["export"]] {
        let o = host(&s.root, &fifo, args);
        refused(&o, &fifo, fifo_says);
    }
    let conf = s.path("fifo.conf");
    nix::unistd::mkfifo(&conf, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let config = s.path("config.toml");
    for dry in [&["--dry-run"][..], &[]] {
        let mut args = vec!["import", conf.to_str().unwrap()];
        args.extend_from_slice(dry);
        refused(&host(&s.root, &config, &args), &conf, fifo_says);
    }
    let profiles = s.path("profiles.d");
    fs::create_dir(&profiles).unwrap();
    let pfifo = profiles.join("x.toml");
    nix::unistd::mkfifo(&pfifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let p = profiles.to_str().unwrap();
    for args in [
        &["--profiles", p, "systems"][..],
        &["--profiles", p, "apply"],
    ] {
        refused(&host(&s.root, &config, args), &pfifo, fifo_says);
    }
    let zero = Path::new("/dev/zero");
    refused(&host(&s.root, zero, &["export"]), zero, wanted);
    assert!(!config.exists());
    assert_eq!(fs::read_to_string(s.root.join("register")).unwrap(), "");
}

/// Case 9: under `umask 077`, the directories binfmtctl creates are 0755 and its files 0644,
/// so unprivileged `run` and `identify` can still read them.
#[test]
fn case_9_directories_and_files_ignore_the_umask() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"umask 077
C() { "$B" --config "$T/etc/binfmtctl/config.toml" --state-dir "$T/run/binfmtctl" "$@"; }
C enable riscv64-linux >/dev/null 2>"$T/err" || { cat "$T/err"; exit 3; }
cd "$T" && stat -c '%n %a' etc etc/binfmtctl etc/binfmtctl/config.toml run run/binfmtctl run/binfmtctl/state.json
"#,
    );
    assert_eq!(
        common::ok(&out),
        "etc 755\netc/binfmtctl 755\netc/binfmtctl/config.toml 644\nrun 755\nrun/binfmtctl 755\nrun/binfmtctl/state.json 644\n"
    );
}

/// Case 9, second part: a state directory that is a symlink is refused before anything is
/// written (it used to be a warning, and the command went on).
#[test]
fn case_9_a_symlinked_state_directory_is_refused_before_anything_is_written() {
    let s = Safe::new();
    let config = s.path("config.toml");
    fs::write(&config, RECORD).unwrap();
    let real = s.path("real-state");
    fs::create_dir(&real).unwrap();
    let link = s.path("state");
    symlink(&real, &link).unwrap();
    for args in [&["apply"][..], &["enable", "riscv64-linux"]] {
        let o = host_in(&s.root, &config, &link, args);
        refused(
            &o,
            &link,
            "is a symlink; binfmtctl writes its files only into a real directory",
        );
        assert_eq!(fs::read_to_string(s.root.join("register")).unwrap(), "");
        assert_eq!(fs::read_dir(&real).unwrap().count(), 0);
    }
}

/// Case 4: config records get the command line's validation. An interpreter holding a
/// newline (it went into the register line and into Nix's settings as `trusted-users = *`)
/// stops the whole config; a directory as interpreter is refused.
#[test]
fn case_4_config_records_are_validated_like_the_command_line() {
    let s = Safe::new();
    let nix_conf = s.path("nix.conf");
    fs::write(&nix_conf, "sandbox = true\n").unwrap();
    let config = s.path("config.toml");
    let nix = nix_conf.to_str().unwrap();
    for (interp, says) in [
        ("/usr/bin/qemu\\ntrusted-users = *", "contains '\\n'"),
        ("/usr/bin/qemu\\tx", "contains '\\t'"),
        ("/usr/bin/q:emu", "contains ':'"),
        ("qemu", "must be an absolute path"),
    ] {
        let text = format!("nix = true\n\n{}", RECORD.replace(QEMU, interp));
        fs::write(&config, &text).unwrap();
        let o = host(&s.root, &config, &["--nix-conf", nix, "apply"]);
        refused(&o, &config, says);
        assert_eq!(fs::read_to_string(&config).unwrap(), text);
        assert_eq!(fs::read_to_string(&nix_conf).unwrap(), "sandbox = true\n");
        assert_eq!(fs::read_to_string(s.root.join("register")).unwrap(), "");
        assert!(!s.path("binfmtctl.conf").exists());
    }
    // A directory is no interpreter, with flag P or any other.
    fs::write(&config, RECORD.replace(QEMU, "/tmp").replace("PF", "P")).unwrap();
    let o = host(&s.root, &config, &["apply"]);
    refused(&o, Path::new("/tmp"), "is not an executable file");
    assert_eq!(fs::read_to_string(s.root.join("register")).unwrap(), "");
}

/// Case 8: flag C hand-edited into the config is refused unless the record says
/// `credentials = true` (what `enable --credentials` writes), and then always warned about.
#[test]
fn case_8_flag_c_in_the_config_needs_its_own_key_and_always_warns() {
    let s = Safe::new();
    let config = s.path("config.toml");
    let text = RECORD.replace("\"PF\"", "\"PCF\"");
    fs::write(&config, &text).unwrap();
    let o = host(&s.root, &config, &["apply"]);
    refused(&o, &config, "add `credentials = true` to the record");
    assert!(stderr(&o).contains("entry riscv64-linux has flag C"));
    assert_eq!(fs::read_to_string(s.root.join("register")).unwrap(), "");
    assert_eq!(fs::read_to_string(&config).unwrap(), text);

    fs::write(&config, format!("{text}credentials = true\n")).unwrap();
    let o = host(&s.root, &config, &["apply"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("binfmtctl: warning: flag C makes setuid/setgid emulated programs run with raised privileges"),
        "{}",
        stderr(&o)
    );
    assert!(fs::read_to_string(s.root.join("register"))
        .unwrap()
        .ends_with(":PCF"));
}

/// A local profile whose magic and mask accept this host's own programs.
fn capturing_profiles(s: &Safe) -> PathBuf {
    let dir = s.path("profiles.d");
    fs::create_dir(&dir).unwrap();
    for (file, magic, mask) in [
        ("elf.toml", r"\x7fELF", r"\xff\xff\xff\xff"),
        ("zero.toml", r"\x00", r"\x00"),
    ] {
        let system = file.trim_end_matches(".toml");
        fs::write(
            dir.join(file),
            format!("system = '{system}-linux'\ndescription = 'captures'\ninterpreters = ['qemu-riscv64-static']\nmagic = '{magic}'\nmask = '{mask}'\n"),
        )
        .unwrap();
    }
    dir
}

/// Case 5: `enable`, `apply` and `import` refuse an entry that captures the host's own
/// programs, before writing anything (`check` reports such an entry: the same rule).
#[test]
fn case_5_entries_that_capture_the_hosts_programs_are_refused_before_writing() {
    let s = Safe::new();
    let profiles = capturing_profiles(&s);
    let p = profiles.to_str().unwrap();
    let config = s.path("config.toml");
    let says = "accept this host's own";
    for system in ["elf-linux", "zero-linux"] {
        for extra in [&[][..], &["--dry-run"], &["--force"]] {
            let mut args = vec!["--profiles", p, "enable", system];
            args.extend_from_slice(extra);
            let o = host(&s.root, &config, &args);
            refused(&o, &profiles, says);
            assert!(!config.exists());
        }
        let text = RECORD.replace("riscv64-linux", system);
        fs::write(&config, &text).unwrap();
        let o = host(&s.root, &config, &["--profiles", p, "apply"]);
        refused(&o, &profiles, says);
        assert_eq!(fs::read_to_string(&config).unwrap(), text);
        fs::remove_file(&config).unwrap();
    }
    let conf = s.path("x.conf");
    for line in [
        r":x:M::\x7fELF:\xff\xff\xff\xff:/usr/bin/qemu-riscv64-static:F",
        r":x:M::\x00:\x00:/usr/bin/qemu-riscv64-static:F",
    ] {
        fs::write(&conf, format!("{line}\n")).unwrap();
        let o = host(&s.root, &config, &["import", conf.to_str().unwrap()]);
        refused(&o, &conf, says);
        assert!(!config.exists());
    }
    assert_eq!(fs::read_to_string(s.root.join("register")).unwrap(), "");
}

/// A copy of binfmtctl at `dir/name`, owned by `uid`.
fn copy_of_binfmtctl(dir: &Path, uid: u32) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let exe = dir.join("binfmtctl");
    fs::copy(BIN, &exe).unwrap();
    std::os::unix::fs::chown(&exe, Some(uid), None).unwrap();
    exe
}

fn install_unit(exe: &Path, units: &Path, extra: &[&str]) -> Output {
    // A copy just written may still be open in a child another test thread is forking
    // (ETXTBSY until that child execs): try again shortly.
    for _ in 0..50 {
        match Command::new(exe)
            .args(["install-unit", "--no-enable", "--unit-dir"])
            .arg(units)
            .args(extra)
            .output()
        {
            Err(e) if e.raw_os_error() == Some(nix::libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
    panic!("{} stayed busy (ETXTBSY)", exe.display())
}

/// Case 7: `install-unit` refuses a binary that a user can replace, or whose path holds a
/// newline (extra directives in root's unit), with the fix; `--force` installs anyway, with
/// a warning, and the path stays one word of the Exec lines.
#[test]
fn case_7_install_unit_refuses_a_binary_others_can_replace_or_a_path_systemd_would_misread() {
    let s = Safe::new();
    let units = s.path("units");
    let theirs = copy_of_binfmtctl(&s.path("home"), 1000);
    let o = install_unit(&theirs, &units, &[]);
    refused(&o, &theirs, "install -m 0755");
    assert!(stderr(&o).contains("is owned by uid 1000, not root"));
    assert!(!units.exists());

    let odd = copy_of_binfmtctl(&s.path("opt\nExecStartPre=/tmp/evil"), 0);
    let o = install_unit(&odd, &units, &[]);
    refused(&o, &s.path("opt"), "which systemd would read as syntax");
    assert!(stderr(&o).contains("install -m 0755"));
    assert!(!units.exists());

    for exe in [&theirs, &odd] {
        let o = install_unit(exe, &units, &["--force"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stderr(&o).contains("binfmtctl: warning: pointing binfmtctl.service at "));
        let unit = fs::read_to_string(units.join("binfmtctl.service")).unwrap();
        assert!(
            !unit
                .lines()
                .any(|l| l.starts_with("ExecStartPre=/tmp/evil")),
            "{unit}"
        );
    }
    // Root's copy in root's directories: installed without a word.
    let good = copy_of_binfmtctl(&s.path("bin"), 0);
    let o = install_unit(&good, &units, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

/// The other inputs root acts on: a profiles directory, a binfmt.d file to import and a
/// nix.conf that users other than root can change are refused to act (shown, they are read:
/// `--dry-run` changes nothing).
#[test]
fn profiles_imports_and_nix_conf_others_can_change_are_refused_to_act() {
    let s = Safe::new();
    let config = s.path("config.toml");
    let theirs = users_dir(s.dir.path(), "theirs");
    fs::write(
        theirs.join("x.toml"),
        "system = 'x-linux'\ndescription = 'd'\ninterpreters = ['q']\nmagic = 'MZ'\nmask = '\\xff\\xff'\n",
    )
    .unwrap();
    fs::write(&config, RECORD).unwrap();
    let p = theirs.to_str().unwrap();
    refused(
        &host(&s.root, &config, &["--profiles", p, "apply"]),
        &theirs,
        OWN_IT,
    );
    let o = host(&s.root, &config, &["--profiles", p, "apply", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let conf = theirs.join("q.conf");
    fs::write(
        &conf,
        ":riscv64-linux:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xf3\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/bin/qemu-riscv64-static:F\n",
    )
    .unwrap();
    let c = conf.to_str().unwrap();
    refused(&host(&s.root, &config, &["import", c]), &theirs, OWN_IT);
    assert_eq!(fs::read_to_string(&config).unwrap(), RECORD);
    let o = host(&s.root, &config, &["import", "--dry-run", c]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let nix_conf = theirs.join("nix.conf");
    fs::write(&nix_conf, "sandbox = true\n").unwrap();
    fs::write(&config, format!("nix = true\n\n{RECORD}")).unwrap();
    let o = host(
        &s.root,
        &config,
        &["--nix-conf", nix_conf.to_str().unwrap(), "apply"],
    );
    refused(&o, &theirs, OWN_IT);
    assert_eq!(fs::read_to_string(&nix_conf).unwrap(), "sandbox = true\n");
    assert_eq!(fs::read_to_string(s.root.join("register")).unwrap(), "");
}

#[test]
fn roots_probes_are_not_written_where_another_user_could_swap_them() {
    // The rule the build's directory follows (tests/build_dynamic.rs) holds for the probes
    // `check` and `enable` execute: under `sudo -E` with a per-user TMPDIR, that user could
    // otherwise swap a probe for a program of theirs between its write and root's exec.
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let t = scratch();
    let theirs = users_dir(t.path(), "user-tmp");
    let out = Command::new(BIN)
        .args(["check", "riscv64-linux", "--json"])
        .env("TMPDIR", &theirs)
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains(&format!(
            "the probe directory goes to /tmp, not {}: ",
            theirs.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        fs::read_dir(&theirs).unwrap().count(),
        0,
        "nothing of root's in it"
    );
}
