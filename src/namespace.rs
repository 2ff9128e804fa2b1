//! User and mount namespaces: the private binfmt_misc instance (Linux >= 6.7) and the empty
//! chroot that stands for a container. Only the calling process changes; callers run these
//! in a child (a hidden subcommand of binfmtctl itself) so the parent stays as it was.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{Gid, Uid};

use crate::registry::{Registry, DEFAULT_ROOT};

/// Enter a new user + mount namespace in which the caller is root (uid and gid 0 map to the
/// caller's own). Works unprivileged where user namespaces are allowed.
pub fn enter_as_root() -> Result<()> {
    let (uid, gid) = (Uid::current(), Gid::current());
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
        .context("cannot create a user namespace (unshare CLONE_NEWUSER): user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces)")?;
    write_maps(&format!("0 {uid} 1"), &format!("0 {gid} 1"))
}

/// Enter a nested user namespace that maps `uid`/`gid` (the caller's ids outside) back, so the
/// command runs as the caller while it still sees the parent's private binfmt_misc instance.
pub fn enter_as(uid: Uid, gid: Gid) -> Result<()> {
    unshare(CloneFlags::CLONE_NEWUSER).context("cannot create a nested user namespace")?;
    write_maps(&format!("{uid} 0 1"), &format!("{gid} 0 1"))
}

fn write_maps(uid_map: &str, gid_map: &str) -> Result<()> {
    // gid_map needs setgroups denied first when unprivileged (user_namespaces(7)).
    fs::write("/proc/self/setgroups", "deny").context("cannot write /proc/self/setgroups")?;
    fs::write("/proc/self/uid_map", uid_map)
        .with_context(|| format!("cannot write /proc/self/uid_map ({uid_map})"))?;
    fs::write("/proc/self/gid_map", gid_map)
        .with_context(|| format!("cannot write /proc/self/gid_map ({gid_map})"))?;
    Ok(())
}

/// Mount a fresh binfmt_misc at the usual place. Inside a new user namespace on Linux >= 6.7
/// this is a private, empty instance; older kernels refuse (EPERM).
pub fn mount_private_binfmt_misc() -> Result<Registry> {
    let registry = Registry::new(DEFAULT_ROOT);
    nix::mount::mount(
        Some("binfmt_misc"),
        DEFAULT_ROOT,
        Some("binfmt_misc"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .context("cannot mount a private binfmt_misc instance (needs Linux >= 6.7)")?;
    Ok(registry)
}

/// chroot into `dir` (inside a fresh user + mount namespace, so no privilege is needed).
pub fn chroot(dir: &Path) -> Result<()> {
    enter_as_root()?;
    nix::unistd::chroot(dir).with_context(|| format!("cannot chroot into {}", dir.display()))?;
    nix::unistd::chdir("/").context("cannot chdir to / in the chroot")?;
    Ok(())
}
