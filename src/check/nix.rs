//! The Nix settings facts: the platforms Nix builds for, when Nix is installed, and the
//! checked systems it would refuse.

use std::path::Path;

use super::SystemCheck;
use crate::model::diagnose::{self, Problem};

/// Nix's platforms (`system`, `extra-platforms`), when Nix is installed: what `nix
/// show-config` says, reading `nix_conf` (`--nix-conf`, else `$NIX_CONF_DIR/nix.conf`, the file
/// binfmtctl manages) where Nix would look for it, plus what `nix_conf` and its includes set
/// themselves (a `--nix-conf` not named nix.conf, which Nix cannot be pointed at).
pub fn platforms(nix_conf: &Path) -> Option<Vec<String>> {
    let nix = which::which("nix").ok()?;
    let mut cmd = std::process::Command::new(nix);
    cmd.args([
        "--extra-experimental-features",
        "nix-command",
        "show-config",
    ]);
    if let Some(dir) = nix_conf
        .parent()
        .filter(|_| nix_conf.file_name().is_some_and(|n| n == "nix.conf"))
    {
        cmd.env("NIX_CONF_DIR", dir);
    }
    let out = cmd.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut platforms = crate::nixconf::platforms_in(nix_conf);
    for line in text.lines() {
        for key in ["system = ", "extra-platforms = "] {
            if let Some(v) = line.strip_prefix(key) {
                platforms.extend(v.split_whitespace().map(str::to_owned));
            }
        }
    }
    out.status.success().then_some(platforms)
}

/// The problem of the checked systems missing from Nix's `platforms`, when any. A system the
/// host runs natively needs no platform entry from binfmtctl (and `enable` refuses it): Nix
/// builds for it as the host's own, or not at all. The table, not the measurement: measuring
/// runs every probe again (~20 ms, on every check).
pub fn missing(checks: &[SystemCheck], platforms: &[String]) -> Option<Problem> {
    let native = crate::emulator::native::table();
    let missing: Vec<&str> = checks
        .iter()
        .map(|c| c.system.as_str())
        .filter(|s| !platforms.iter().any(|p| p == s) && !native.contains(s))
        .collect();
    diagnose::nix_platforms_missing(&missing)
}
