//! The fallback without a private instance (Linux < 6.7, or --host-table): root registers in
//! the host's table for the duration and removes exactly what it added; the entries of builds
//! killed before they could are removed by the next one (see `owner`).

use std::path::Path;
use std::process::ExitStatus;

use anyhow::{bail, Context as _, Result};
use nix::sys::signal::SigmaskHow;

use super::dir::BuildDir;
use super::{owner, registrations, wait_blocking_signals, Env, Wanted};
use crate::binfmt::{Entry, Registration, Registry, RegistryError};
use crate::report;
use crate::sys::privilege::require_admin_without_dry_run;
use crate::sys::signals;

/// Unmounts a binfmt_misc that `with_host_table` mounted, whichever way it returns.
pub(super) struct UnmountOnDrop<'a>(Option<&'a Path>);

impl Drop for UnmountOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(root) = self.0 {
            // Best effort: a busy mount stays, and nothing is lost by it.
            let _ = nix::mount::umount(root);
        }
    }
}

/// The fallback: register in the host table for the duration, then remove exactly what was
/// added (the command's own changes to the table are left as they are). Killed builds' leftovers
/// are removed first.
pub(super) fn with_host_table(
    env: &Env,
    wanted: &[Wanted],
    dir: &BuildDir,
    shims: &super::Shims,
    start: impl FnOnce() -> Result<std::process::Child>,
) -> Result<ExitStatus> {
    require_admin_without_dry_run(
        "binfmtctl build without a private binfmt_misc instance (Linux < 6.7, or --host-table)",
    )?;
    let registry = &env.registry;
    // Unmounted again on every way out when mounted here (a container's /proc stays as it was).
    let _unmount = UnmountOnDrop(registry.ensure_mounted()?.then(|| registry.root()));
    // Before `current` is read: a leftover would otherwise pass for a host entry to carry.
    let _ = remove_leftovers(registry, false);
    let current: Vec<Entry> = registry
        .entries()?
        .into_iter()
        .filter(|e| e.enabled)
        .collect();
    let prefix = entry_prefix(registry);
    refuse_untrusted_interpreters(wanted)?;
    let regs = registrations(wanted, &current, dir, shims, &prefix)?;
    // Block the stop signals first: from the first registration on, cleanup must happen.
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&signals::stop()), None)
        .context("cannot block signals")?;
    let mut added: Vec<&Registration> = Vec::new();
    let mut outcome = Ok(());
    for r in &regs {
        match registry.register(r) {
            Ok(()) => added.push(r),
            Err(e) => {
                outcome = Err(anyhow::Error::new(e).context(format!(
                    "cannot register {} in {}",
                    r.name,
                    registry.root().display()
                )));
                break;
            }
        }
    }
    let status = outcome.and_then(|()| wait_blocking_signals(start));
    let mut cleanup_errors = Vec::new();
    for r in added.iter().rev() {
        if let Err(e) = registry.remove(&r.name) {
            cleanup_errors.push(format!("{}: {e}", r.name));
        }
    }
    if !cleanup_errors.is_empty() {
        report::warn(&format!(
            "could not remove the build's entries again: {}",
            cleanup_errors.join("; ")
        ));
    }
    status
}

/// The name prefix of this build's entries: it says which process made them (see `owner`),
/// so that the next build can remove them if this one is killed.
fn entry_prefix(registry: &Registry) -> String {
    match owner::current() {
        Ok(me) => me.prefix(),
        Err(err) => {
            report::warn(&format!(
                "cannot read this process's pid namespace and start time in /proc ({err}): if this build is killed \
                 with SIGKILL, its entries will not be recognised as leftovers; remove them with \
                 echo -1 > {}/{}<pid>-<system>",
                registry.root().display(),
                owner::PREFIX
            ));
            // The older name, pid alone, which no later build judges.
            format!("{}{}-", owner::PREFIX, std::process::id())
        }
    }
}

/// The host table is everyone's: the same rule as `enable` (SECURITY.md), no --force here.
fn refuse_untrusted_interpreters(wanted: &[Wanted]) -> Result<()> {
    if crate::emulator::interpreter::host_namespace() {
        for w in wanted {
            if let Some(why) = crate::emulator::interpreter::untrusted(&w.interpreter.path) {
                bail!(
                    "refusing to put the interpreter {} in the host table: {why}, so users other than root could replace \
                     what every emulated program runs; make it root's and not writable by others",
                    w.interpreter.path.display()
                );
            }
        }
    }
    Ok(())
}

/// Remove the entries of host-table builds that are gone (killed before they could remove
/// them), one line on stderr each; with `dry_run`, only say what would go. Nothing here stops
/// the caller: these entries are other builds' leftovers.
pub fn remove_leftovers(registry: &Registry, dry_run: bool) -> Vec<String> {
    let Ok(names) = registry.names() else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for (name, owner) in owner::leftovers(&names) {
        let what = format!(
            "{name}, left behind by build process {}, which is gone",
            owner.pid
        );
        if dry_run {
            report::note(&format!(
                "would remove {what} (write -1 to {})",
                registry.entry_path(&name).display()
            ));
            removed.push(name.to_string());
            continue;
        }
        match registry.remove(&name) {
            Ok(()) => {
                report::note(&format!("removed {what}"));
                removed.push(name.to_string());
            }
            // Another build removed it first.
            Err(RegistryError::NoSuchEntry(..)) => {}
            Err(e) => report::warn(&format!("cannot remove {what}: {e}")),
        }
    }
    removed
}
