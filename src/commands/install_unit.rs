//! `binfmtctl install-unit`: put systemd/binfmtctl.service in place, pointing at this binary.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result};

use crate::cli::InstallUnitArgs;
use crate::{exit_codes, report, store};

/// The unit as shipped (ExecStart=/usr/bin/binfmtctl ...).
pub const UNIT: &str = include_str!("../../systemd/binfmtctl.service");
const UNIT_NAME: &str = "binfmtctl.service";

/// The unit with `/usr/bin/binfmtctl` replaced by `exe` in the `Exec*=` lines: only there.
/// The comments that mention the shipped path (how to make `/usr/bin/binfmtctl` lead to a
/// `cargo install`ed one) would turn into nonsense advice with `exe` in it. With `config` (a
/// `--config` other than the default), every command is given it, and the unit's condition
/// looks for that file.
pub fn unit_for(exe: &Path, config: Option<&Path>) -> String {
    let mut program = systemd_word(&exe.display().to_string());
    if let Some(c) = config {
        program += &format!(" --config {}", systemd_word(&c.display().to_string()));
    }
    UNIT.split_inclusive('\n')
        .map(|line| {
            if line.starts_with("Exec") {
                line.replace("/usr/bin/binfmtctl", &program)
            } else if let (Some(c), true) = (config, line.starts_with("ConditionPathExists=")) {
                // A single path there, not a command line: only `%` is special.
                format!(
                    "ConditionPathExists={}\n",
                    c.display().to_string().replace('%', "%%")
                )
            } else {
                line.to_owned()
            }
        })
        .collect()
}

/// The `--config` the unit must pass on: None for the default; an error for one the unit
/// could not use (relative: the unit runs from `/`; a control character: unit syntax).
fn config_for_unit(config: &Path) -> Result<Option<&Path>> {
    if config == Path::new(crate::store::config::DEFAULT_PATH) {
        return Ok(None);
    }
    let shown = config.display();
    anyhow::ensure!(
        config.is_absolute(),
        "--config {shown}: the boot unit needs an absolute path (it runs from /); give --config $(realpath {shown})"
    );
    anyhow::ensure!(
        config.to_str().is_some_and(|c| !c.chars().any(char::is_control)),
        "--config {shown}: a path with control characters or that is not UTF-8 cannot go into a systemd unit; move the file"
    );
    Ok(Some(config))
}

/// A path as one word of an `Exec*=` line (systemd.service(5), "Command lines"): `%` is a
/// specifier there, doubled to stand for itself; a path with blanks, quotes, backslashes or
/// control characters is quoted, with C-style escapes inside (a newline as `\x0a`, never a
/// line of its own: issue 11, case 7).
fn systemd_word(path: &str) -> String {
    let escaped: String = path
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .chars()
        .map(|c| {
            if c.is_control() {
                format!("\\x{:02x}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect();
    if path
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\' || c == '\'')
    {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// What to do when the unit cannot be written for lack of permission.
fn write_hint(err: &anyhow::Error) -> Option<&'static str> {
    let denied = err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|e| {
            matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            )
        })
    });
    denied.then_some(
        "installing the unit needs root: run it with sudo, or add --dry-run to see what it would write",
    )
}

/// Why root's boot unit must not run the binary at `exe`, if it must not: users other than
/// root could replace it (SECURITY.md), or its path holds characters systemd would read as
/// syntax of the unit.
fn unfit(exe: &std::path::Path) -> Option<String> {
    let text = exe.to_string_lossy();
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Some(format!(
            "its path holds {c:?}, which systemd would read as syntax of the unit (a newline starts a new directive)"
        ));
    }
    if exe.to_str().is_none() {
        return Some("its path is not UTF-8".into());
    }
    crate::trust::untrusted(exe).map(|why| {
        format!("{why}, so users other than root could replace what root runs at every boot")
    })
}

/// `config` is the global `--config`: the unit runs binfmtctl with it.
pub fn run(args: &InstallUnitArgs, config: &Path) -> Result<ExitCode> {
    let config = config_for_unit(config)?;
    let exe = std::env::current_exe().context("cannot find binfmtctl itself")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    if let Some(why) = unfit(&exe) {
        // Quoted for the shell the fix is pasted into; control characters shown escaped.
        let shown = format!("{:?}", exe.display().to_string());
        let fix = format!(
            "install it where only root can change it and run that copy: install -m 0755 {shown} /usr/local/bin/ && \
             /usr/local/bin/binfmtctl install-unit"
        );
        if !args.force {
            anyhow::bail!(
                "refusing to point binfmtctl.service at {shown}: {why}; {fix} (or pass --force)"
            );
        }
        report::warn(&format!(
            "pointing binfmtctl.service at {shown} although {why} (--force); {fix}"
        ));
    }
    let text = unit_for(&exe, config);
    let path = args.unit_dir.join(UNIT_NAME);
    if args.dry_run {
        report::print(&format!("# would write {}\n{text}", path.display()))?;
        if !args.no_enable {
            report::print(
                "# would run: systemctl daemon-reload && systemctl enable --now binfmtctl.service\n",
            )?;
        }
        return Ok(exit_codes::success());
    }
    store::write_atomic(&path, text.as_bytes(), 0o644).map_err(|err| match write_hint(&err) {
        Some(hint) => anyhow::anyhow!("{err:#}; {hint}"),
        None => err,
    })?;
    report::note(&format!(
        "wrote {} (ExecStart={} apply)",
        path.display(),
        exe.display()
    ));
    if args.no_enable {
        return Ok(exit_codes::success());
    }
    if !Path::new("/run/systemd/system").exists() {
        report::note("systemd is not running here: enable the unit once it is (systemctl enable --now binfmtctl.service)");
        return Ok(exit_codes::success());
    }
    // --now: ExecStop (remove binfmtctl's entries at shutdown, where systemd-shutdown would
    // flush a container's host table) runs only for an active unit. Starting it runs
    // `binfmtctl apply` (when the config exists), which registers what the config holds and
    // touches no other tool's entries: what the next boot would do anyway.
    for argv in [&["daemon-reload"][..], &["enable", "--now", UNIT_NAME]] {
        let status = Command::new("systemctl")
            .args(argv)
            .status()
            .context("cannot run systemctl")?;
        anyhow::ensure!(
            status.success(),
            "systemctl {} failed ({status})",
            argv.join(" ")
        );
    }
    report::note("enabled and started binfmtctl.service: it restores the registrations at boot and after every restart of systemd-binfmt");
    Ok(exit_codes::success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_lines_take_any_path_as_one_word() {
        assert_eq!(
            systemd_word("/usr/local/bin/binfmtctl"),
            "/usr/local/bin/binfmtctl"
        );
        assert_eq!(
            systemd_word("/opt/my tools/binfmtctl"),
            "\"/opt/my tools/binfmtctl\""
        );
        assert_eq!(systemd_word("/opt/100%/binfmtctl"), "/opt/100%%/binfmtctl");
        assert_eq!(systemd_word("/opt/a\"b\\c"), "\"/opt/a\\\"b\\\\c\"");
        assert_eq!(
            systemd_word("/opt/a\nExecStartPre=/x/binfmtctl"),
            "\"/opt/a\\x0aExecStartPre=/x/binfmtctl\""
        );
        let unit = unit_for(Path::new("/opt/a\nExecStartPre=/x/binfmtctl"), None);
        assert!(!unit.contains("\nExecStartPre=/x"), "{unit}");
        let unit = unit_for(Path::new("/opt/my tools/binfmtctl"), None);
        assert!(
            unit.contains("\nExecStart=\"/opt/my tools/binfmtctl\" apply\n"),
            "{unit}"
        );
    }

    #[test]
    fn a_config_other_than_the_default_goes_into_every_command_and_the_condition() {
        let unit = unit_for(
            Path::new("/usr/bin/binfmtctl"),
            Some(Path::new("/srv/b c/x%.toml")),
        );
        for line in [
            "ConditionPathExists=/srv/b c/x%%.toml\n",
            "ExecStart=/usr/bin/binfmtctl --config \"/srv/b c/x%%.toml\" apply\n",
            "ExecStop=/usr/bin/binfmtctl --config \"/srv/b c/x%%.toml\" disable --all --runtime\n",
        ] {
            assert!(unit.contains(line), "{line}: {unit}");
        }
        assert_eq!(
            config_for_unit(Path::new(crate::store::config::DEFAULT_PATH)).unwrap(),
            None
        );
        assert!(config_for_unit(Path::new("rel.toml"))
            .unwrap_err()
            .to_string()
            .contains("needs an absolute path"));
    }
}
