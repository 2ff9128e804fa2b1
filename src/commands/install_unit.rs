//! `binfmtctl install-unit`: put systemd/binfmtctl.service in place, pointing at this binary.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result};

use crate::cli::InstallUnitArgs;
use crate::{exit_codes, output, store};

/// The unit as shipped (ExecStart=/usr/bin/binfmtctl ...).
pub const UNIT: &str = include_str!("../../systemd/binfmtctl.service");
const UNIT_NAME: &str = "binfmtctl.service";

/// The unit with `/usr/bin/binfmtctl` replaced by `exe` in the `Exec*=` lines: only there.
/// The comments that mention the shipped path (how to make `/usr/bin/binfmtctl` lead to a
/// `cargo install`ed one) would turn into nonsense advice with `exe` in it.
pub fn unit_for(exe: &Path) -> String {
    let exe = systemd_word(&exe.display().to_string());
    UNIT.split_inclusive('\n')
        .map(|line| {
            if line.starts_with("Exec") {
                line.replace("/usr/bin/binfmtctl", &exe)
            } else {
                line.to_owned()
            }
        })
        .collect()
}

/// A path as one word of an `Exec*=` line (systemd.service(5), "Command lines"): `%` is a
/// specifier there, doubled to stand for itself; a path with blanks, quotes or backslashes is
/// quoted, with C-style escapes inside.
fn systemd_word(path: &str) -> String {
    let escaped = path
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    if path
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\\' || c == '\'')
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

pub fn run(args: &InstallUnitArgs) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find binfmtctl itself")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let text = unit_for(&exe);
    let path = args.unit_dir.join(UNIT_NAME);
    if args.dry_run {
        output::print(&format!("# would write {}\n{text}", path.display()))?;
        if !args.no_enable {
            output::print(
                "# would run: systemctl daemon-reload && systemctl enable --now binfmtctl.service\n",
            )?;
        }
        return Ok(exit_codes::success());
    }
    store::write_atomic(&path, text.as_bytes(), 0o644).map_err(|err| match write_hint(&err) {
        Some(hint) => anyhow::anyhow!("{err:#}; {hint}"),
        None => err,
    })?;
    output::note(&format!(
        "wrote {} (ExecStart={} apply)",
        path.display(),
        exe.display()
    ));
    if args.no_enable {
        return Ok(exit_codes::success());
    }
    if !Path::new("/run/systemd/system").exists() {
        output::note("systemd is not running here: enable the unit once it is (systemctl enable --now binfmtctl.service)");
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
    output::note("enabled and started binfmtctl.service: it restores the registrations at boot and after every restart of systemd-binfmt");
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
        let unit = unit_for(Path::new("/opt/my tools/binfmtctl"));
        assert!(
            unit.contains("\nExecStart=\"/opt/my tools/binfmtctl\" apply\n"),
            "{unit}"
        );
    }
}
