//! `binfmtctl install-unit`: put systemd/binfmtctl.service in place, pointing at this binary.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result};

use crate::cli::InstallUnitArgs;
use crate::{exit_codes, output, store};

/// The unit as shipped (ExecStart=/usr/bin/binfmtctl ...).
pub const UNIT: &str = include_str!("../../systemd/binfmtctl.service");
const UNIT_NAME: &str = "binfmtctl.service";

/// The unit with every `/usr/bin/binfmtctl` replaced by `exe`.
pub fn unit_for(exe: &Path) -> String {
    UNIT.replace("/usr/bin/binfmtctl", &exe.display().to_string())
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
                "# would run: systemctl daemon-reload && systemctl enable binfmtctl.service\n",
            )?;
        }
        return Ok(exit_codes::success());
    }
    store::write_atomic(&path, text.as_bytes(), 0o644)?;
    output::note(&format!(
        "wrote {} (ExecStart={} apply)",
        path.display(),
        exe.display()
    ));
    if args.no_enable {
        return Ok(exit_codes::success());
    }
    if !Path::new("/run/systemd/system").exists() {
        output::note("systemd is not running here: enable the unit once it is (systemctl enable binfmtctl.service)");
        return Ok(exit_codes::success());
    }
    for argv in [&["daemon-reload"][..], &["enable", UNIT_NAME]] {
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
    output::note("enabled binfmtctl.service: it restores the registrations at boot and after every restart of systemd-binfmt");
    Ok(exit_codes::success())
}
