//! Files binfmtctl persists (the config, the runtime state): read, and replace atomically
//! under an exclusive lock so concurrent invocations lose nothing and a crash never leaves a
//! torn file. Every open goes through the trust boundary (src/trust.rs).

pub mod config;
pub(crate) mod state;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use nix::fcntl::{Flock, FlockArg};

use crate::trust::{self, Perms, Policy, TrustError, Use};

/// Where the configuration is kept unless --config says otherwise.
pub const DEFAULT_CONFIG: &str = "/etc/binfmtctl/config.toml";

/// An exclusive lock on `<file>.lock` beside a file; released when dropped.
pub struct Lock {
    _flock: Flock<File>,
}

impl Lock {
    /// Take the lock for `path`, creating its directory (mode 0755) and lock file (0600) if
    /// needed. Blocks until other holders release it.
    ///
    /// Every command that changes the config takes this lock first, so this is where the
    /// config's directory is vetted first: in the host (the initial user namespace), a
    /// directory that users other than root could change is refused, since whoever can
    /// rewrite the config chooses what `binfmtctl apply` registers as root at boot
    /// (SECURITY.md).
    pub fn acquire(path: &Path) -> Result<Lock> {
        Self::take(path)
    }

    /// For a command that only reads the config (`apply`, at boot): as [`Lock::acquire`], but
    /// on a read-only file system there is no lock to take and none needed, since nobody can
    /// change the config there; None then. (The config is still vetted when it is read.)
    pub fn acquire_to_read(path: &Path) -> Result<Option<Lock>> {
        match Self::take(path) {
            Ok(lock) => Ok(Some(lock)),
            Err(e) if is_kind(&e, io::ErrorKind::ReadOnlyFilesystem) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn take(path: &Path) -> Result<Lock> {
        // Absolute for messages: `--config config.toml` names the directory it is in.
        let path = std::path::absolute(path)
            .with_context(|| format!("cannot resolve {}", path.display()))?;
        let lock_path = sidecar(&path, ".lock");
        let file = trust::open_lock(&lock_path).map_err(|e| {
            let dir = lock_path.parent().unwrap_or(Path::new("."));
            match &e {
                TrustError::Untrusted { culprit, .. } => anyhow::anyhow!(
                    "refusing to keep the configuration in {}: {culprit}, so users other than root could rewrite \
                     what binfmtctl registers as root; use a directory only root can change (the default is {})",
                    dir.display(),
                    DEFAULT_CONFIG
                ),
                TrustError::Io { err, .. } => {
                    let hint = if err.kind() == io::ErrorKind::ReadOnlyFilesystem {
                        format!(
                            " (is {} on a read-only file system? use --config to keep the configuration elsewhere)",
                            dir.display()
                        )
                    } else {
                        String::new()
                    };
                    anyhow::Error::new(io::Error::new(err.kind(), err.to_string())).context(format!(
                        "cannot open the lock file {}{hint}",
                        lock_path.display()
                    ))
                }
                _ => anyhow::Error::new(e),
            }
        })?;
        let flock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        Ok(Lock { _flock: flock })
    }
}

/// True when `err`, or an error it holds, is an I/O error of this kind.
pub fn is_kind(err: &anyhow::Error, kind: io::ErrorKind) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == kind)
            || c.downcast_ref::<TrustError>()
                .is_some_and(|e| e.io_kind() == Some(kind))
    })
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Read a file to act on it, `None` when it does not exist: vetted by the trust boundary
/// (owner, mode, type, at most [`trust::MAX_FILE`] bytes), UTF-8.
pub fn read_optional(path: &Path) -> Result<Option<String>> {
    read_for(path, Use::Act)
}

/// As [`read_optional`], for what `use_` says.
pub fn read_for(path: &Path, use_: Use) -> Result<Option<String>> {
    let Some(bytes) = trust::read(path, Policy::new(use_), trust::MAX_FILE)? else {
        return Ok(None);
    };
    String::from_utf8(bytes).map(Some).map_err(|_| {
        anyhow::anyhow!(
            "cannot read {}: it is not UTF-8 text; fix the file or remove it",
            path.display()
        )
    })
}

/// Replace `path` with `contents` atomically (see [`trust::replace`]): a new file gets
/// exactly `mode` (not filtered by the umask); an existing file keeps its mode, owner and
/// group (a nix.conf that other users' Nix reads must stay readable to them). When `path` is
/// a symlink, the file it leads to is replaced and the link is kept (NixOS links
/// /etc/nix/nix.conf elsewhere; a user may link the config into a repository), provided the
/// link and its target's directories pass the boundary.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    refuse_nix_store(path)?;
    trust::replace(path, contents, Perms::New(mode)).map_err(|e| written(e, path))
}

/// True for a path (resolved, see [`resolve_link`]) in the Nix store: read-only where Nix
/// mounts it so, and Nix's alone in any case (NixOS links /etc files there).
pub fn in_nix_store(resolved: &Path) -> bool {
    resolved.starts_with("/nix/store")
}

/// Nothing is ever written or created under /nix/store, even through a dangling link whose
/// target directories do not exist yet (issue 13, item 7).
fn refuse_nix_store(path: &Path) -> Result<()> {
    // A path that cannot be examined (a FIFO or a device for a directory) is left to the
    // trust boundary, whose refusal says what is wrong with it.
    let Ok(target) = resolve_link(path) else {
        return Ok(());
    };
    if in_nix_store(&target) {
        anyhow::bail!(
            "{} leads into the Nix store ({}), which only Nix may change; binfmtctl writes nothing there: \
             point it at a file outside /nix/store",
            path.display(),
            target.display()
        );
    }
    Ok(())
}

/// As [`write_atomic`], but the file gets the mode, owner and group of `like`: a backup of
/// `like` is exactly as readable as `like` itself (nix.conf may hold `access-tokens`).
pub fn write_atomic_like(path: &Path, contents: &[u8], like: &Path) -> Result<()> {
    refuse_nix_store(path)?;
    trust::replace(path, contents, Perms::Like(like)).map_err(|e| written(e, path))
}

fn written(e: TrustError, path: &Path) -> anyhow::Error {
    match e {
        // Refusals say what and why themselves.
        TrustError::Io { err, .. } => anyhow::Error::new(err).context(format!(
            "cannot write {} (the old file, if any, is unchanged)",
            path.display()
        )),
        _ => anyhow::Error::new(e),
    }
}

/// Remove a file through the trust boundary; false when it did not exist.
pub fn remove(path: &Path) -> Result<bool> {
    Ok(trust::remove(path)?)
}

/// The file a write to `path` replaces: `path` itself, or, when `path` is a symlink, the file
/// at the end of the chain of links (which need not exist yet), in its real directory. For
/// messages and checks only (NixOS's links into /nix/store); writes resolve through the
/// trust boundary.
pub fn resolve_link(path: &Path) -> Result<PathBuf> {
    // The kernel's limit on links followed in one path lookup (MAXSYMLINKS).
    const MAX_LINKS: usize = 40;
    let mut p = path.to_owned();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p)
                    .with_context(|| format!("cannot read the symlink {}", p.display()))?;
                p = p.parent().unwrap_or(Path::new("")).join(to);
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot examine {}", p.display()))
            }
            _ if p == path => return Ok(p),
            _ => {
                let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
                    anyhow::bail!(
                        "{} is a symlink to {}, which is not a file name; point it at a file",
                        path.display(),
                        p.display()
                    );
                };
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                return match fs::canonicalize(dir) {
                    Ok(dir) => Ok(dir.join(name)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(p),
                    Err(e) => Err(e).with_context(|| {
                        format!(
                            "{} is a symlink to {}, whose directory cannot be resolved; fix or remove the link",
                            path.display(),
                            p.display()
                        )
                    }),
                };
            }
        }
    }
    anyhow::bail!(
        "{} leads through more than {MAX_LINKS} symlinks; fix the link",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/c.toml");
        write_atomic(&p, b"one", 0o644).unwrap();
        write_atomic(&p, b"two", 0o644).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("c.toml")]);
    }

    #[test]
    fn temporaries_of_killed_writers_are_removed_once_stale() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        let (old, fresh) = (sidecar(&p, ".tmp.1"), sidecar(&p, ".tmp.2"));
        fs::write(&old, "half").unwrap();
        fs::write(&fresh, "half").unwrap();
        let long_ago = std::time::SystemTime::now() - 2 * trust::STALE_AFTER;
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        write_atomic(&p, b"x", 0o644).unwrap();
        assert!(!old.exists(), "a stale temporary file is removed");
        assert!(
            fresh.exists(),
            "a recent one may belong to a writer at work"
        );
    }

    #[test]
    fn failed_write_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        write_atomic(&p, b"old", 0o644).unwrap();
        // A directory where the temp file would go makes the write fail.
        fs::create_dir(sidecar(&p, &format!(".tmp.{}", std::process::id()))).unwrap();
        assert!(write_atomic(&p, b"new", 0o644).is_err());
        assert_eq!(fs::read_to_string(&p).unwrap(), "old");
    }

    #[test]
    fn files_are_created_with_safe_modes_and_never_through_symlinks() {
        use std::os::unix::fs::{symlink, PermissionsExt as _};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new/c.toml");
        let _lock = Lock::acquire(&p).unwrap();
        write_atomic(&p, b"x", 0o644).unwrap();
        let mode = |p: &Path| fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&dir.path().join("new")), 0o755);
        assert_eq!(mode(&sidecar(&p, ".lock")), 0o600);
        assert_eq!(mode(&p), 0o644, "exactly 0644, whatever the umask");

        // A symlinked directory is refused, for the lock and the file alike.
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        symlink(&elsewhere, dir.path().join("link")).unwrap();
        let through = dir.path().join("link/c.toml");
        let err = format!("{:#}", write_atomic(&through, b"x", 0o644).unwrap_err());
        assert!(
            err.contains(
                "link is a symlink; binfmtctl writes its files only into a real directory"
            ),
            "{err}"
        );
        assert!(Lock::acquire(&through).is_err());
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);

        // A symlink planted where the lock or the temporary file goes is not followed.
        let target = dir.path().join("target");
        fs::write(&target, "precious").unwrap();
        let q = dir.path().join("q.toml");
        symlink(&target, sidecar(&q, ".lock")).unwrap();
        assert!(Lock::acquire(&q).is_err(), "O_NOFOLLOW on the lock");
        symlink(
            &target,
            sidecar(&q, &format!(".tmp.{}", std::process::id())),
        )
        .unwrap();
        write_atomic(&q, b"new", 0o644).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
        assert_eq!(fs::read_to_string(&q).unwrap(), "new");
    }

    #[test]
    fn a_symlinked_file_is_written_through_and_the_links_are_kept() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        let target = dir.path().join("real/c.toml");
        fs::write(&target, "old").unwrap();
        // c.toml -> second -> real/c.toml, both relative.
        symlink("second", dir.path().join("c.toml")).unwrap();
        symlink("real/c.toml", dir.path().join("second")).unwrap();
        let p = dir.path().join("c.toml");
        assert_eq!(
            resolve_link(&p).unwrap(),
            fs::canonicalize(&target).unwrap()
        );
        write_atomic(&p, b"new", 0o644).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        for link in ["c.toml", "second"] {
            let m = fs::symlink_metadata(dir.path().join(link)).unwrap();
            assert!(m.file_type().is_symlink(), "{link} is still a link");
        }
        // A plain path resolves to itself.
        assert_eq!(resolve_link(&target).unwrap(), target);
    }

    #[test]
    #[cfg_attr(
        not(feature = "kernel-tier"),
        ignore = "kernel tier: needs root or Debian's packages; bash scripts/test.sh runs it"
    )]
    fn a_replaced_file_keeps_its_owner_group_and_mode_and_a_copy_gets_them_too() {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test gives files another owner: run the tests as root (bash scripts/test.sh)"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nix.conf");
        fs::write(&p, "access-tokens = github.com=secret\n").unwrap();
        std::os::unix::fs::chown(&p, Some(1234), Some(2345)).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        let backup = dir.path().join("nix.conf.binfmtctl-backup");
        fs::write(&backup, "an older backup").unwrap();
        write_atomic_like(&backup, b"copy", &p).unwrap();
        write_atomic(&p, b"new", 0o644).unwrap();
        for f in [&p, &backup] {
            let m = fs::metadata(f).unwrap();
            assert_eq!(
                (m.uid(), m.gid(), m.mode() & 0o7777),
                (1234, 2345, 0o640),
                "{}",
                f.display()
            );
        }
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
    }

    #[test]
    fn lock_is_exclusive_between_handles() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        let held = Lock::acquire(&p).unwrap();
        let f = File::options()
            .write(true)
            .open(sidecar(&p, ".lock"))
            .unwrap();
        assert!(Flock::lock(f, FlockArg::LockExclusiveNonblock).is_err());
        drop(held);
        let f = File::options()
            .write(true)
            .open(sidecar(&p, ".lock"))
            .unwrap();
        assert!(Flock::lock(f, FlockArg::LockExclusiveNonblock).is_ok());
    }

    #[test]
    fn only_paths_in_the_nix_store_count() {
        for (path, inside) in [
            ("/nix/store/0a1b-etc-nix.conf", true),
            ("/nix/store/0a1b-etc/etc/nix/nix.conf", true),
            ("/nix/storefront/nix.conf", false),
            ("/etc/static/nix/nix.conf", false),
            ("/home/me/dotfiles/nix.conf", false),
            ("nix/store/x/nix.conf", false),
        ] {
            assert_eq!(in_nix_store(Path::new(path)), inside, "{path}");
        }
    }
}
