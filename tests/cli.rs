//! User-facing behaviour that needs no kernel: exact errors, dry runs, JSON shapes.

mod common;

use common::{nixos_magic, ok, run, stderr, stdout};
use serde_json::Value;

/// The visible subcommands, in the order of `--help`.
const SUBCOMMANDS: [&str; 16] = [
    "enable",
    "disable",
    "apply",
    "export",
    "import",
    "nix-config",
    "status",
    "systems",
    "identify",
    "run",
    "check",
    "build",
    "install-unit",
    "tonistiigi",
    "completions",
    "man",
];

#[track_caller]
fn fails_with(args: &[&str], message: &str) {
    let out = run(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!("binfmtctl: error: {message}\n"),
        "{args:?}"
    );
    assert_eq!(stdout(&out), "", "{args:?}");
}

#[test]
fn dry_run_prints_the_line_nixos_writes() {
    let t = common::scratch();
    let config = t.path().join("config.toml");
    let out = run(&[
        "--config",
        config.to_str().unwrap(),
        "--root",
        t.path().to_str().unwrap(),
        "enable",
        "riscv64-linux",
        "--dry-run",
        "--interpreter",
        "/usr/bin/qemu-riscv64-static",
    ]);
    let text = ok(&out);
    let (magic, mask) = nixos_magic("riscv64-linux");
    // NixOS with preferStaticEmulators writes exactly this, with /run/binfmt/riscv64-linux.
    let nixos = format!(":riscv64-linux:M::{magic}:{mask}:/run/binfmt/riscv64-linux:PF");
    let ours = nixos.replace("/run/binfmt/riscv64-linux", "/usr/bin/qemu-riscv64-static");
    assert_eq!(
        text,
        format!(
            "# would write to {}/register\n{ours}\n# would record riscv64-linux in {}\n",
            t.path().display(),
            config.display()
        )
    );
    assert!(!config.exists(), "a dry run wrote the config");
}

#[test]
fn unknown_system_suggests_close_names() {
    fails_with(
        &["enable", "--dry-run", "riscv65"],
        "unknown system \"riscv65\" (did you mean riscv64, riscv32, riscv64-linux?); `binfmtctl systems` lists them all",
    );
    fails_with(
        &["enable", "--dry-run", "zzz"],
        "unknown system \"zzz\"; `binfmtctl systems` lists them all",
    );
}

#[test]
fn native_system_is_refused_without_force() {
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "this test describes an x86_64 host"
    );
    fails_with(
        &["enable", "--dry-run", "x86_64-linux"],
        "x86_64-linux runs natively on this host (x86_64); registering it would send its programs through the emulator, \
         and with a qemu of the host's own architecture every exec loops (ELOOP). Use --force if you really mean it",
    );
    fails_with(
        &["enable", "--dry-run", "i686-linux"],
        "i686-linux runs natively on this host (x86_64); registering it would send its programs through the emulator, \
         and with a qemu of the host's own architecture every exec loops (ELOOP). Use --force if you really mean it",
    );
}

#[test]
fn missing_interpreter_gives_install_hints() {
    fails_with(
        &[
            "enable",
            "--dry-run",
            "riscv64",
            "--interpreter",
            "/nonexistent/qemu",
        ],
        "interpreter /nonexistent/qemu does not exist; give the path of an installed emulator",
    );
    fails_with(
        &["enable", "--dry-run", "wasm32-wasi"],
        "no interpreter for wasm32-wasi found; install wasmtime or name one with --interpreter",
    );
}

#[test]
fn name_and_interpreter_take_one_system() {
    fails_with(
        &["enable", "--dry-run", "riscv64", "arm64", "--name", "x"],
        "--name x applies to one system; for several, make it a template ({cpu} or {system} stand for each system: \
         --name 'qemu-{cpu}'), or enable the systems one at a time",
    );
    fails_with(
        &[
            "enable",
            "--dry-run",
            "riscv64,arm64",
            "--interpreter",
            "/q",
        ],
        "--interpreter applies to one system; enable the systems one at a time",
    );
}

#[test]
fn malformed_config_names_file_and_line() {
    let t = common::scratch();
    let config = t.path().join("config.toml");
    std::fs::write(&config, "[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"/q\"\nflags = \"PX\"\n").unwrap();
    fails_with(
        &["--config", config.to_str().unwrap(), "enable", "--dry-run", "riscv64"],
        &format!(
            "{}:5: unknown flag 'X'; the kernel accepts P, O, C and F; fix the file or remove the entry",
            config.display()
        ),
    );
}

#[test]
fn bad_entry_name_is_refused() {
    fails_with(
        &["enable", "--dry-run", "riscv64", "--name", "a/b"],
        "--name: entry name \"a/b\" is not allowed: it contains '/'",
    );
}

#[test]
fn systems_json_shape() {
    let out = run(&["--root", "/nonexistent", "systems", "--json"]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    let systems = v["systems"].as_array().unwrap();
    assert!(systems.len() >= 40, "{}", systems.len());
    let rv = systems
        .iter()
        .find(|s| s["system"] == "riscv64-linux")
        .unwrap();
    assert_eq!(rv["native"], false);
    assert_eq!(rv["cpu"], "riscv64");
    assert_eq!(rv["nixos"], true);
    assert_eq!(
        rv["enabled"],
        Value::Null,
        "binfmt_misc is not readable at /nonexistent"
    );
    assert_eq!(rv["configured"], false);
    assert!(rv["aliases"]
        .as_array()
        .unwrap()
        .contains(&Value::from("linux/riscv64")));
    common::require("qemu-riscv64-static", "qemu-user-static");
    assert_eq!(rv["interpreter"]["static"], true);
    assert!(rv["interpreter"]["path"]
        .as_str()
        .unwrap()
        .ends_with("/qemu-riscv64-static"));
    let x86 = systems
        .iter()
        .find(|s| s["system"] == "x86_64-linux")
        .unwrap();
    assert_eq!(x86["native"], true);
    let keys: Vec<&String> = rv.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "aliases",
            "configured",
            "cpu",
            "description",
            "enabled",
            "interpreter",
            "native",
            "nixos",
            "system"
        ]
    );
}

#[test]
fn status_when_unmounted_says_so() {
    let out = run(&["--root", "/nonexistent", "status"]);
    assert_eq!(
        ok(&out),
        "binfmt_misc is not mounted at /nonexistent: no entries (`binfmtctl enable` mounts it)\n"
    );
    let out = run(&["--root", "/nonexistent", "status", "--json"]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"version": 1, "root": "/nonexistent", "mounted": false, "enabled": null, "entries": []})
    );
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let text = ok(&run(&["completions", shell]));
        assert!(
            text.contains("enable") && text.contains("dry-run"),
            "{shell}: {text}"
        );
    }
    let bash = ok(&run(&["completions", "bash"]));
    let t = common::scratch();
    let f = t.path().join("c.bash");
    std::fs::write(&f, bash).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&f)
        .output()
        .unwrap();
    assert!(check.status.success(), "bash -n: {}", stderr(&check));
}

#[test]
fn man_page_covers_every_subcommand() {
    let text = ok(&run(&["man"]));
    assert!(text.contains(".TH binfmtctl 1"), "{text}");
    // One .SH each, in this order; every subcommand a .SS of COMMANDS.
    let sections: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix(".SH "))
        .collect();
    assert_eq!(
        sections,
        [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "\"GLOBAL OPTIONS\"",
            "COMMANDS",
            "EXAMPLES",
            "FILES",
            "ENVIRONMENT",
            "\"EXIT STATUS\"",
            "\"SEE ALSO\"",
            "VERSION"
        ]
    );
    let subsections: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix(".SS "))
        .collect();
    assert_eq!(subsections, SUBCOMMANDS);
    assert!(
        !text.contains("__exec-in-chroot"),
        "hidden commands stay hidden"
    );
    // Only this one page exists: no references to binfmtctl-enable(1) and the like.
    assert!(!text.contains("binfmtctl-"), "{text}");
    for needed in [
        "\\fBbinfmtctl enable riscv64\\-linux\\fR",
        "/etc/binfmtctl/config.toml",
        "/run/binfmtctl",
        "/etc/binfmtctl/profiles.d",
        "/etc/nix/binfmtctl.conf",
        "\\fBQEMU_LD_PREFIX\\fR",
        "\\fBNIX_CONF_DIR\\fR",
        "\\fBNO_COLOR\\fR",
        "binfmt.d(5), systemd\\-binfmt(8), update\\-binfmts(8)",
    ] {
        assert!(text.contains(needed), "{needed}: {text}");
    }
    // EXIT STATUS lists the codes of src/exit_codes.rs.
    let status = text.split(".SH \"EXIT STATUS\"").nth(1).unwrap();
    let status = status.split(".SH").next().unwrap();
    for code in [
        binfmtctl::exit_codes::SUCCESS,
        binfmtctl::exit_codes::WANTING,
        binfmtctl::exit_codes::ERROR,
        binfmtctl::exit_codes::NOT_FOUND,
        binfmtctl::exit_codes::NOT_EXECUTABLE,
    ] {
        assert!(
            status.contains(&format!(".TP\n\\fB{code}\\fR\n")),
            "{code}: {status}"
        );
    }
}

#[test]
fn completions_leave_out_the_hidden_internal_commands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let text = ok(&run(&["completions", shell]));
        for visible in ["install-unit", "nix-config", "state-dir", "dry-run"] {
            assert!(text.contains(visible), "{shell} lacks {visible}");
        }
        for hidden in ["native-probe", "write-id-maps", "exec-in-chroot"] {
            assert!(!text.contains(hidden), "{shell} offers {hidden}");
        }
    }
}

#[test]
fn install_unit_dry_run_puts_this_binary_in_the_exec_lines_only() {
    let out = run(&["install-unit", "--dry-run"]);
    let text = ok(&out);
    let exe = std::path::Path::new(common::BIN).canonicalize().unwrap();
    let shipped = std::fs::read_to_string(format!(
        "{}/systemd/binfmtctl.service",
        common::MANIFEST_DIR
    ))
    .unwrap();
    let want: String = shipped
        .lines()
        .map(|l| {
            if l.starts_with("Exec") {
                l.replace("/usr/bin/binfmtctl", &exe.display().to_string())
            } else {
                l.to_owned()
            }
        })
        .map(|l| l + "\n")
        .collect();
    assert_eq!(
        text,
        format!(
            "# would write /etc/systemd/system/binfmtctl.service\n{want}\
             # would run: systemctl daemon-reload && systemctl enable --now binfmtctl.service\n"
        )
    );
    assert!(
        text.contains(&format!("ExecStart={} apply\n", exe.display())),
        "{text}"
    );
    // The comment about symlinking a `cargo install`ed binary keeps its /usr/bin path.
    assert!(
        text.contains("(ln -s ~/.cargo/bin/binfmtctl /usr/bin/binfmtctl)"),
        "{text}"
    );
}

#[test]
fn install_unit_without_permission_says_to_use_sudo() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs binfmtctl as nobody and needs root"
    );
    // Root's directories (a 0777 one is refused by the trust boundary before any write).
    let t = tempfile::tempdir().unwrap();
    common::set_mode(t.path(), 0o755);
    let dir = t.path().join("units");
    std::fs::create_dir(&dir).unwrap();
    common::set_mode(&dir, 0o755);
    let out = std::process::Command::new(common::require("setpriv", "util-linux"))
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(common::BIN)
        .args(["install-unit", "--no-enable", "--unit-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "binfmtctl: error: cannot write {}/binfmtctl.service",
            dir.display()
        )) && err.ends_with(
            "Permission denied (os error 13); installing the unit needs root: run it with sudo, or add --dry-run to \
             see what it would write\n"
        ),
        "{err}"
    );
    assert!(!dir.join("binfmtctl.service").exists());
}

#[test]
fn install_unit_writes_a_unit_systemd_accepts() {
    let analyze = common::require("systemd-analyze", "systemd");
    let t = tempfile::tempdir().unwrap();
    let out = run(&[
        "install-unit",
        "--no-enable",
        "--unit-dir",
        t.path().to_str().unwrap(),
    ]);
    ok(&out);
    let unit = t.path().join("binfmtctl.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    let exe = std::path::Path::new(common::BIN).canonicalize().unwrap();
    assert!(
        text.contains(&format!("ExecStart={} apply\n", exe.display())),
        "{text}"
    );
    assert!(
        text.lines()
            .filter(|l| l.starts_with("Exec"))
            .all(|l| !l.contains("/usr/bin/binfmtctl")),
        "{text}"
    );
    let verify = std::process::Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "systemd-analyze verify: {}{}",
        stdout(&verify),
        stderr(&verify)
    );
}

#[test]
fn identify_tells_systems_static_and_loader() {
    let hello = common::hello_riscv64(true);
    let dynamic = common::hello_riscv64(false);
    let out = run(&[
        "identify",
        "--json",
        hello.to_str().unwrap(),
        dynamic.to_str().unwrap(),
        "/bin/ls",
    ]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["version"], 1, "{v}");
    let v = &v["files"];
    assert_eq!(v[0]["systems"], serde_json::json!(["riscv64-linux"]));
    assert_eq!(v[0]["elf"]["static"], true);
    assert_eq!(v[0]["elf"]["machine"], 0xf3);
    assert_eq!(v[0]["elf"]["class"], 64);
    assert_eq!(v[1]["elf"]["static"], false);
    assert_eq!(v[1]["elf"]["interp"], "/lib/ld-linux-riscv64-lp64d.so.1");
    assert_eq!(v[2]["systems"], serde_json::json!(["x86_64-linux"]));
    let readme = std::path::Path::new(common::MANIFEST_DIR).join("README.md");
    let out = run(&["identify", readme.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "binfmtctl: error: {}: not an ELF file: it does not start with \\x7fELF\n",
            readme.display()
        )
    );
    assert!(
        stdout(&out).contains("error: "),
        "the table still lists the file: {}",
        stdout(&out)
    );
}

#[test]
fn enable_shows_the_register_line_only_with_verbose_or_dry_run_and_quiet_drops_notes() {
    common::hello_riscv64(true);
    let t = common::scratch();
    let out = common::private(
        common::As::Me,
        t.path(),
        "Q=/usr/bin/qemu-riscv64-static\n\
         bfc enable --runtime --interpreter $Q riscv64-linux >plain.out 2>plain.err; echo plain=$?\n\
         bfc disable --runtime riscv64-linux >/dev/null 2>&1\n\
         bfc -v enable --runtime --interpreter $Q riscv64-linux >verbose.out 2>verbose.err; echo verbose=$?\n\
         bfc disable --runtime riscv64-linux >/dev/null 2>&1\n\
         bfc enable --quiet --runtime --interpreter $Q riscv64-linux >quiet.out 2>quiet.err; echo quiet=$?\n\
         bfc -q -v status >/dev/null 2>conflict.err; echo conflict=$?\n",
    );
    assert_eq!(ok(&out), "plain=0\nverbose=0\nquiet=0\nconflict=2\n");
    let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap();
    let (magic, mask) = nixos_magic("riscv64-linux");
    let line = format!(":riscv64-linux:M::{magic}:{mask}:/usr/bin/qemu-riscv64-static:PF");
    let register = "/proc/sys/fs/binfmt_misc/register";
    assert_eq!(
        read("plain.out"),
        format!("# register riscv64-linux in {register}\n")
    );
    assert_eq!(
        read("verbose.out"),
        format!("# write to {register}\n{line}\n")
    );
    assert_eq!(read("quiet.out"), read("plain.out"));
    assert!(
        read("plain.err").starts_with("binfmtctl: riscv64-linux: "),
        "{}",
        read("plain.err")
    );
    assert_eq!(read("quiet.err"), "");
    assert!(
        read("conflict.err").contains("'--quiet' cannot be used with '--verbose'"),
        "{}",
        read("conflict.err")
    );
}

#[test]
fn global_options_are_shown_once_under_a_heading_and_every_command_has_examples() {
    let top = ok(&run(&["--help"]));
    assert_eq!(top.matches("Global options:\n").count(), 1, "{top}");
    for sub in SUBCOMMANDS {
        let help = ok(&run(&[sub, "--help"]));
        assert_eq!(
            help.matches("Global options:\n").count(),
            1,
            "{sub}: {help}"
        );
        let (own, global) = help.split_once("Global options:\n").unwrap();
        for g in [
            "--root <DIR>",
            "--config <FILE>",
            "-q, --quiet",
            "-v, --verbose",
        ] {
            assert!(!own.contains(g) && global.contains(g), "{sub}: {g}: {help}");
        }
        assert!(
            help.contains("\nExamples:\n  ") && help.contains(&format!(" {sub}")),
            "{sub}: {help}"
        );
    }
}

#[test]
fn every_json_output_starts_with_version_1() {
    let t = common::scratch();
    let dir = t.path().to_str().unwrap();
    let config = format!("{dir}/config.toml");
    let state = format!("{dir}/state");
    let conf = t.path().join("qemu-riscv64.conf");
    let (magic, mask) = nixos_magic("riscv64-linux");
    std::fs::write(
        &conf,
        format!(":qemu-riscv64:M::{magic}:{mask}:/usr/bin/qemu-riscv64-static:F\n"),
    )
    .unwrap();
    let hello = common::hello_riscv64(true);
    let g = ["--root", dir, "--config", &config, "--state-dir", &state];
    for args in [
        &["status", "--json"][..],
        &["systems", "--json"],
        &["identify", "--json", hello.to_str().unwrap()],
        &["import", "--dry-run", "--json", conf.to_str().unwrap()],
        &["enable", "--dry-run", "--json", "riscv64-linux"],
        &["disable", "--dry-run", "--json", "--all"],
        &["apply", "--dry-run", "--json"],
        &["check", "--json", "riscv64-linux"],
        &["nix-config", "--systems", "--json"],
    ] {
        let out = run(&[&g[..], args].concat());
        let text = stdout(&out);
        assert!(
            text.starts_with("{\n  \"version\": 1,\n"),
            "{args:?}: {text}{}",
            stderr(&out)
        );
    }
}

#[test]
fn build_ends_as_env_does_when_its_command_cannot_start_and_tips_about_the_double_dash() {
    let t = common::scratch();
    let plain = t.path().join("plain");
    std::fs::write(&plain, "not a program\n").unwrap();
    for (command, status, message) in [
        (
            "nonexistent-command",
            127,
            "nonexistent-command: not found in $PATH; give its path, e.g. ./nonexistent-command"
                .to_owned(),
        ),
        (
            "./nonexistent",
            127,
            "cannot execute ./nonexistent: No such file or directory (os error 2)".to_owned(),
        ),
        (
            plain.to_str().unwrap(),
            126,
            format!(
                "cannot execute {}: Permission denied (os error 13)",
                plain.display()
            ),
        ),
    ] {
        let out = std::process::Command::new(common::BIN)
            .args(["build", "--system", "riscv64", "--", command])
            .current_dir(t.path())
            .output()
            .unwrap();
        assert_eq!(
            (out.status.code(), stderr(&out)),
            (Some(status), format!("binfmtctl: error: {message}\n")),
            "{command}"
        );
    }
    let out = run(&["build", "--system", "riscv64", "make", "-j4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "tip: the command to run goes after `--`: binfmtctl build --system riscv64 -- make -j4\n"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_profiles_directory_names_the_option() {
    fails_with(
        &["--profiles", "/missing", "systems"],
        "--profiles /missing: no such directory; give a directory of *.toml profiles, or leave out --profiles to use \
         /etc/binfmtctl/profiles.d",
    );
}

#[test]
fn disable_of_a_name_nothing_has_is_a_note_and_status_0_as_its_help_says() {
    let help = ok(&run(&["disable", "--help"]));
    let words = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains(
            "A name or glob nothing has is not an error: a note says so and the status is 0"
        ),
        "{help}"
    );
    let t = common::scratch();
    let out = common::private(
        common::As::Me,
        t.path(),
        "bfc disable --name nothing-here; echo status=$?",
    );
    assert_eq!(stdout(&out).lines().last(), Some("status=0"));
    assert!(
        stderr(&out).contains(
            "no entry named nothing-here in /proc/sys/fs/binfmt_misc; nothing to disable"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn install_unit_passes_a_given_config_on_and_refuses_a_relative_one() {
    let out = run(&[
        "--config",
        "/srv/binfmtctl.toml",
        "install-unit",
        "--dry-run",
    ]);
    let text = ok(&out);
    let exe = std::path::Path::new(common::BIN).canonicalize().unwrap();
    for line in [
        "ConditionPathExists=/srv/binfmtctl.toml\n".to_owned(),
        format!(
            "ExecStart={} --config /srv/binfmtctl.toml apply\n",
            exe.display()
        ),
        format!(
            "ExecStop={} --config /srv/binfmtctl.toml disable --all --runtime\n",
            exe.display()
        ),
    ] {
        assert!(text.contains(&line), "{line}: {text}");
    }
    fails_with(
        &["--config", "rel.toml", "install-unit", "--dry-run"],
        "--config rel.toml: the boot unit needs an absolute path (it runs from /); give --config $(realpath rel.toml)",
    );
}

#[test]
fn the_scripts_say_how_to_get_a_new_enough_cargo() {
    let t = common::scratch();
    let cargo = t.path().join("cargo");
    std::fs::write(&cargo, "#!/bin/sh\necho 'cargo 1.65.0'\n").unwrap();
    common::set_mode(&cargo, 0o755);
    let path = format!("{}:{}", t.path().display(), std::env::var("PATH").unwrap());
    for script in ["scripts/test.sh", "scripts/demo.sh"] {
        let out = std::process::Command::new("bash")
            .arg(script)
            .current_dir(common::MANIFEST_DIR)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{script}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with(&format!(
                "{script}: cargo 1.65.0 is too old: this repository needs Cargo >= 1.91"
            )) && stderr(&out).contains("rustup"),
            "{script}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn completions_complete_system_names_and_aliases() {
    // bash, for real: the completion function asked for `binfmtctl enable riscv` and `check arm`.
    let t = common::scratch();
    let script = t.path().join("c.bash");
    std::fs::write(&script, ok(&run(&["completions", "bash"]))).unwrap();
    let complete = |words: &str| {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                ". {}\nCOMP_WORDS=({words})\nCOMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
                 COMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n\
                 _binfmtctl binfmtctl \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .output()
            .unwrap();
        ok(&out)
    };
    assert_eq!(
        complete("binfmtctl enable riscv"),
        "riscv32\nriscv32-linux\nriscv64\nriscv64-linux\n"
    );
    let arm = complete("binfmtctl check arm");
    for alias in ["arm64", "armhf", "armv7l-linux"] {
        assert!(arm.lines().any(|l| l == alias), "{alias}: {arm}");
    }
    assert!(complete("binfmtctl enable al").lines().any(|l| l == "all"));
    // zsh and fish: the names are offered as the values of the system arguments.
    let zsh = ok(&run(&["completions", "zsh"]));
    assert!(
        zsh.contains(":(all aarch64 aarch64-linux ") && zsh.contains(" riscv64 riscv64-linux "),
        "{zsh}"
    );
    let fish = ok(&run(&["completions", "fish"]));
    for name in ["riscv64-linux", "linux/arm64", "ppc64el"] {
        assert!(fish.contains(&format!("{name}\\t")), "{name}: {fish}");
    }
}
