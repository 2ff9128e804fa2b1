//! User and mount namespaces: the private binfmt_misc instance (Linux >= 6.7) and the empty
//! chroot that stands for a container. Only the calling process changes; callers run these
//! in a child (a hidden subcommand of binfmtctl itself) so the parent stays as it was.

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{Gid, Uid};

/// Enter a new user + mount namespace in which the caller is root (uid and gid 0 map to the
/// caller's own). Works unprivileged where user namespaces are allowed.
pub fn enter_as_root() -> Result<()> {
    let (uid, gid) = (Uid::current(), Gid::current());
    unshare_mapped(
        CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS,
        &format!("0 {uid} 1"),
        &format!("0 {gid} 1"),
    )
    .context("cannot create a user namespace: user namespaces may be disabled (sysctl user.max_user_namespaces, kernel.apparmor_restrict_unprivileged_userns)")
}

/// For root: enter a new user + mount namespace that maps every id to itself, so the command
/// keeps running as root and other users (Nix's build users) keep their identities. One
/// level is enough: root's files stay root's.
pub fn enter_identity() -> Result<()> {
    // Every id that exists here maps to itself (inside a container's user namespace that is
    // only the container's range, not all 2^32).
    let (uids, gids) = (
        identity_map("/proc/self/uid_map")?,
        identity_map("/proc/self/gid_map")?,
    );
    unshare_mapped(
        CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS,
        &uids,
        &gids,
    )
    .context("cannot create a user namespace")
}

/// The identity mapping of the ids this namespace has, from its `uid_map`/`gid_map`.
fn identity_map(path: &str) -> Result<String> {
    let text = fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    Ok(identity_lines(&text))
}

fn identity_lines(map: &str) -> String {
    let mut out = String::new();
    for (inside, _, count) in parse_id_map(map) {
        out += &format!("{inside} {inside} {count}\n");
    }
    out
}

/// The ranges of a `uid_map`/`gid_map` (user_namespaces(7)): (first id inside, first id
/// outside, count). Malformed lines are left out.
pub fn parse_id_map(map: &str) -> Vec<(u64, u64, u64)> {
    map.lines()
        .filter_map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            match f[..] {
                [inside, outside, count] => Some((inside, outside, count)),
                _ => None,
            }
        })
        .collect()
}

/// Enter a nested user namespace that maps `uid`/`gid` (the caller's ids outside) back, so the
/// command runs as the caller while it still sees the parent's private binfmt_misc instance.
pub fn enter_as(uid: Uid, gid: Gid) -> Result<()> {
    unshare_mapped(
        CloneFlags::CLONE_NEWUSER,
        &format!("{uid} 0 1"),
        &format!("{gid} 0 1"),
    )
    .context("cannot create a nested user namespace")
}

/// unshare, then write the id maps. A process may map its own ids only after denying
/// setgroups (user_namespaces(7)), and the denial is inherited: tools that call setgroups as
/// root (Nix does) then fail inside. So where setgroups is still allowed and we are root, a
/// helper left in the parent namespace (binfmtctl's hidden `__write-id-maps`) writes the maps,
/// and setgroups stays allowed.
fn unshare_mapped(flags: CloneFlags, uid_map: &str, gid_map: &str) -> Result<()> {
    let allowed = fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "allow");
    let root =
        crate::sys::privilege::has(caps::Capability::CAP_SETGID) && Uid::effective().is_root();
    if !(allowed && root) {
        unshare(flags).context("unshare")?;
        fs::write("/proc/self/setgroups", "deny").context("cannot write /proc/self/setgroups")?;
        return write_own_maps(uid_map, gid_map);
    }
    let me = std::env::current_exe().context("cannot find binfmtctl itself")?;
    let mut helper = Command::new(me)
        .args([
            "__write-id-maps",
            &std::process::id().to_string(),
            uid_map,
            gid_map,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot start the id-map helper")?;
    let unshared = unshare(flags).context("unshare");
    // Closing the helper's stdin tells it to go (or, after a failed unshare, to give up).
    let mut stdin = helper.stdin.take();
    if unshared.is_ok() {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(b"go\n");
        }
    }
    drop(stdin);
    let status = helper.wait().context("cannot wait for the id-map helper")?;
    unshared?;
    anyhow::ensure!(status.success(), "the id-map helper failed ({status})");
    Ok(())
}

fn write_own_maps(uid_map: &str, gid_map: &str) -> Result<()> {
    fs::write("/proc/self/uid_map", uid_map)
        .with_context(|| format!("cannot write /proc/self/uid_map ({uid_map})"))?;
    fs::write("/proc/self/gid_map", gid_map)
        .with_context(|| format!("cannot write /proc/self/gid_map ({gid_map})"))?;
    Ok(())
}

/// What `__write-id-maps PID UID_MAP GID_MAP` does: wait for "go" on stdin, then write the
/// maps of PID (which has just entered a new user namespace).
pub fn write_id_maps_for(pid: u32, uid_map: &str, gid_map: &str) -> Result<()> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    anyhow::ensure!(line.trim() == "go", "not told to go");
    let proc = Path::new("/proc").join(pid.to_string());
    fs::write(proc.join("uid_map"), uid_map)
        .with_context(|| format!("cannot write {}/uid_map", proc.display()))?;
    fs::write(proc.join("gid_map"), gid_map)
        .with_context(|| format!("cannot write {}/gid_map", proc.display()))?;
    Ok(())
}

/// Make every mount of this (new) mount namespace private: nothing mounted here afterwards
/// reaches the parent namespace.
pub fn make_mounts_private() -> Result<()> {
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("cannot make the mount namespace private")
}

/// Mount a small tmpfs (mode 0755) on `dir`, in this mount namespace only: a directory that
/// vanishes with the namespace, so nothing is left to remove.
pub fn mount_tmpfs(dir: &Path) -> Result<()> {
    nix::mount::mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
        Some("mode=0755,size=4m"),
    )
    .with_context(|| format!("cannot mount a tmpfs on {}", dir.display()))
}

/// chroot into `dir`, inside a fresh user + mount namespace, so no privilege is needed. Where
/// new user namespaces are refused (Docker's default seccomp profile, sysctl
/// user.max_user_namespaces = 0, Ubuntu's AppArmor restriction) a caller with CAP_SYS_ADMIN
/// (real root) takes a mount namespace alone: the chroot then sees the same binfmt_misc
/// entries, which is all the empty-chroot test needs.
pub fn chroot(dir: &Path) -> Result<()> {
    // Asked first: a failed attempt may leave the process in a new, unmapped user namespace.
    let admin = crate::sys::privilege::has(caps::Capability::CAP_SYS_ADMIN);
    if let Err(userns) = enter_as_root() {
        if !admin {
            return Err(userns);
        }
        unshare(CloneFlags::CLONE_NEWNS)
            .map_err(|e| anyhow::anyhow!("{userns:#}; nor a mount namespace without one: {e}"))?;
    }
    nix::unistd::chroot(dir).with_context(|| format!("cannot chroot into {}", dir.display()))?;
    nix::unistd::chdir("/").context("cannot chdir to / in the chroot")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn identity_keeps_the_ids_this_namespace_has() {
        assert_eq!(
            super::identity_lines("         0          0 4294967295\n"),
            "0 0 4294967295\n"
        );
        assert_eq!(
            super::identity_lines("0 1000 1\n1 100000 65536\n"),
            "0 0 1\n1 1 65536\n"
        );
    }
}
