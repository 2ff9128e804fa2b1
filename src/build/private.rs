//! The private binfmt_misc instance of a build (Linux >= 6.7): new user and mount namespaces,
//! binfmt_misc mounted inside, the host's entries carried over.

use anyhow::{Context as _, Result};

use crate::binfmt::{Entry, Registration};
use crate::{report, sys::namespace};

/// Linux >= 6.7 has one binfmt_misc instance per user namespace.
pub(super) fn private_instances_supported() -> bool {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (6, 7)
}

/// Enter a new user and mount namespace with a private binfmt_misc, carry the host's enabled
/// entries into it, then register `regs_for(the entries carried)`: a host entry that could not
/// be carried (an `F` entry whose interpreter is not reachable from here) serves nothing.
pub(super) fn enter_private_instance(
    host: &[Entry],
    regs_for: impl FnOnce(&[Entry]) -> Result<Vec<Registration>>,
) -> Result<()> {
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    let root = uid.is_root() && gid.as_raw() == 0;
    if root { namespace::enter_identity() } else { namespace::enter_as_root() }
        .context("binfmtctl build needs user namespaces for its private binfmt_misc instance (or run it as root with --host-table)")?;
    // Nothing mounted here may reach the parent namespace.
    namespace::make_mounts_private()?;
    let registry = crate::binfmt::Registry::mount_private()?;
    // `host` lists newest first; registering oldest first keeps which one wins.
    let mut carried: Vec<Entry> = Vec::new();
    for e in host.iter().rev() {
        match registry.register(&e.registration()) {
            Ok(()) => carried.insert(0, e.clone()),
            Err(err) => report::warn(&format!(
                "the host's entry {} cannot be carried into the build: {err}",
                e.name
            )),
        }
    }
    for r in &regs_for(&carried)? {
        registry
            .register(r)
            .with_context(|| format!("cannot register {} in the private instance", r.name))?;
    }
    if root {
        Ok(())
    } else {
        namespace::enter_as(uid, gid)
    }
}
