//! Nix under `build`: the settings every process of the build gets (`NIX_CONFIG`), and the
//! nix-daemon, which builds outside the build's private instance.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::dir::BuildDir;
use super::Wanted;
use crate::binfmt::Entry;
use crate::report;

/// `nix`, `nix-build`, `nix-store`, `nix-shell`, `nix-instantiate`... by program name.
pub(super) fn is_nix_command(program: &OsString) -> bool {
    Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "nix" || n.starts_with("nix-"))
}

/// A Nix command served by a nix-daemon is refused with the ways out; any other command may
/// start Nix, which cannot be seen from here: one note with -v, so that Nix's "a
/// 'riscv64-linux' ... is required" is not a riddle.
pub(super) fn check_nix_daemon(command: &[OsString], nix: bool, wanted: &[Wanted]) -> Result<()> {
    let Some(remote) = nix_daemon_store(command) else {
        return Ok(());
    };
    let systems: Vec<&str> = wanted.iter().map(|w| &*w.profile.system).collect();
    if nix {
        bail!("{}", daemon_explanation(&systems, &command[0]));
    }
    // Said only with -v: on a machine with a nix-daemon it would come with every build, Nix
    // or not.
    if !report::verbose() {
        return Ok(());
    }
    report::note(&format!(
        "Nix here is served by a nix-daemon ({remote}), which runs outside this build's private binfmt_misc \
         instance: a Nix command this build starts cannot build {} derivations; `binfmtctl build -- nix-build ...` \
         explains the ways out",
        systems.join(", ")
    ));
    Ok(())
}

/// Where binfmtctl's shim stands in front of a qemu (a report, or the launcher), Nix's
/// sandbox must reach the build directory and that qemu, or a builder fails: the paths to
/// add to its `extra-sandbox-paths`.
pub(super) fn shim_sandbox_paths(
    wanted: &[Wanted],
    dir: &BuildDir,
    shims: &super::Shims,
) -> Vec<PathBuf> {
    let qemus: Vec<PathBuf> = wanted
        .iter()
        .filter(|w| shims.fronts(&w.profile.system))
        .map(|w| w.interpreter.path.clone())
        .collect();
    if qemus.is_empty() {
        return qemus;
    }
    std::iter::once(dir.path.clone()).chain(qemus).collect()
}

/// NIX_CONFIG for the command: the caller's (`caller`), plus the emulated systems as extra
/// platforms, and as extra sandbox paths the interpreters that run them without F (the
/// build's own, or a carried `host` entry's) and `shim_paths` (the build directory and the
/// qemus behind binfmtctl's shim).
pub(super) fn nix_config(
    caller: OsString,
    wanted: &[Wanted],
    host: &[Entry],
    shim_paths: &[PathBuf],
) -> OsString {
    // For each system the interpreter that will run it: a host entry that serves it is carried
    // over and runs it (`registrations` adds none of binfmtctl's), with its own flag F.
    let regs: Vec<(String, String, bool)> = wanted
        .iter()
        .map(
            |w| match host.iter().find(|e| super::serves(e, w.profile)) {
                Some(e) => (
                    w.profile.system.to_string(),
                    e.interpreter.clone(),
                    e.flags.fix_binary,
                ),
                None => (
                    w.profile.system.to_string(),
                    w.interpreter.path.display().to_string(),
                    w.interpreter.is_static,
                ),
            },
        )
        .collect();
    let mut settings = crate::nixconf::NixSettings::new(&regs, "");
    for p in shim_paths {
        let p = p.display().to_string();
        if !settings.sandbox_paths.contains(&p) {
            settings.sandbox_paths.push(p);
        }
    }
    let mut config = caller;
    if !config.is_empty() && !config.as_encoded_bytes().ends_with(b"\n") {
        config.push("\n");
    }
    config.push(settings.lines());
    config
}

/// The nix-daemon that would serve a Nix command's store (its `--store`, else `$NIX_REMOTE`,
/// else a daemon socket and a store this user cannot write), as the store's name; `None` for
/// a local store. A daemon builds in its own namespaces, outside the private instance.
pub(super) fn nix_daemon_store(command: &[OsString]) -> Option<String> {
    let store_arg = command
        .windows(2)
        .find(|w| w[0] == "--store")
        .map(|w| w[1].to_string_lossy().into_owned())
        .or_else(|| {
            command
                .iter()
                .find_map(|a| a.to_str()?.strip_prefix("--store=").map(str::to_owned))
        });
    let remote = store_arg
        .or_else(|| std::env::var("NIX_REMOTE").ok())
        .unwrap_or_default();
    let daemon = if remote.is_empty() || remote == "auto" {
        Path::new("/nix/var/nix/daemon-socket/socket").exists()
            && nix::unistd::access("/nix/store", nix::unistd::AccessFlags::W_OK).is_err()
    } else {
        remote.starts_with("daemon") || remote.starts_with("unix://")
    };
    daemon.then(|| {
        if remote.is_empty() || remote == "auto" {
            "daemon".to_owned()
        } else {
            remote
        }
    })
}

/// Why a Nix build served by a nix-daemon would fail under `build`, and the two ways out.
pub(super) fn daemon_explanation(systems: &[&str], program: &OsString) -> String {
    format!(
        "this Nix build would be done by the nix-daemon, which runs outside binfmtctl's private binfmt_misc \
         instance and would refuse {} derivations. Two ways out:\n  1. register for the whole machine and tell the \
         daemon: sudo binfmtctl enable --nix {} && sudo systemctl restart nix-daemon; then run the build directly;\n  \
         2. build with a single-user store the build itself owns, e.g. binfmtctl build -- {} --store $HOME/nix-root ...",
        systems.join(", "),
        systems.join(" "),
        Path::new(program).display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nix_commands_are_recognised() {
        for (p, want) in [
            ("nix-build", true),
            ("/usr/bin/nix", true),
            ("nix-store", true),
            ("make", false),
            ("nixie", false),
        ] {
            assert_eq!(is_nix_command(&OsString::from(p)), want, "{p}");
        }
    }
}
