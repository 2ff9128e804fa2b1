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
    let exe = exe.display().to_string();
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
