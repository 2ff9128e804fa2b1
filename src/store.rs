//! Files binfmtctl persists (the config, the runtime state): read, and replace atomically
//! under an exclusive lock so concurrent invocations lose nothing and a crash never leaves a
//! torn file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use nix::fcntl::{Flock, FlockArg};

/// An exclusive lock on `<file>.lock` beside a file; released when dropped.
pub struct Lock {
    _flock: Flock<File>,
}

impl Lock {
    /// Take the lock for `path`, creating its directory (mode 0755) and lock file (0600) if
    /// needed. Blocks until other holders release it.
    ///
    /// Every command that changes the config takes this lock first, so this is where the
    /// config's directory is vetted: in the host (the initial user namespace), a directory
    /// that users other than root could change is refused, since whoever can rewrite the
    /// config chooses what `binfmtctl apply` registers as root at boot (SECURITY.md).
    pub fn acquire(path: &Path) -> Result<Lock> {
        Self::take(path)
    }

    /// For a command that only reads the config (`apply`, at boot): as [`Lock::acquire`], but
    /// on a read-only file system there is no lock to take and none needed, since nobody can
    /// change the config there; None then.
    pub fn acquire_to_read(path: &Path) -> Result<Option<Lock>> {
        match Self::take(path) {
            Ok(lock) => Ok(Some(lock)),
            Err(e)
                if e.chain().any(|c| {
                    c.downcast_ref::<io::Error>()
                        .is_some_and(|e| e.kind() == io::ErrorKind::ReadOnlyFilesystem)
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn take(path: &Path) -> Result<Lock> {
        let lock_path = sidecar(path, ".lock");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_dir(dir)?;
            if crate::interpreter::host_namespace() {
                let abs = std::path::absolute(dir)
                    .with_context(|| format!("cannot resolve {}", dir.display()))?;
                let me = nix::unistd::geteuid().as_raw();
                if let Some(why) = crate::interpreter::untrusted_except(&abs, Some(me)) {
                    anyhow::bail!(
                        "refusing to keep the configuration in {}: {why}, so users other than root could rewrite \
                         what binfmtctl registers as root; use a directory only root can change (the default is {})",
                        dir.display(),
                        crate::config::DEFAULT_PATH
                    );
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&lock_path)
            .map_err(|e| {
                let hint = if e.kind() == io::ErrorKind::ReadOnlyFilesystem {
                    let dir = lock_path.parent().unwrap_or(Path::new("."));
                    format!(
                        " (is {} on a read-only file system? use --config to keep the configuration elsewhere)",
                        dir.display()
                    )
                } else {
                    String::new()
                };
                anyhow::Error::new(e).context(format!(
                    "cannot open the lock file {}{hint}",
                    lock_path.display()
                ))
            })?;
        let flock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        Ok(Lock { _flock: flock })
    }
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Create a directory and its parents with mode 0755 (root-owned when run as root). An
/// existing one must be a real directory: binfmtctl does not follow a symlink in the last
/// component to write its files elsewhere (temporary files are created with O_NOFOLLOW; a
/// file that is itself a symlink is written through to its target, see `write_atomic`).
pub fn create_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(m) => {
            let what = if m.file_type().is_symlink() {
                "a symlink"
            } else {
                "not a directory"
            };
            anyhow::bail!(
                "{} is {what}; binfmtctl writes its files only into a real directory (give --config/--state-dir one)",
                dir.display()
            );
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot examine {}", dir.display())),
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))
}

use std::os::unix::fs::DirBuilderExt as _;

/// Read a file, `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Replace `path` with `contents` atomically: write a temporary file in the same directory
/// (created exclusively, never following a symlink), fsync it, rename it over `path`, fsync
/// the directory. On any failure before the rename the old file is intact and the temporary
/// file is removed.
///
/// A new file gets exactly `mode` (not filtered by the umask); an existing file keeps its
/// mode, owner and group (a nix.conf that other users' Nix reads must stay readable to them).
/// When `path` is a symlink, the file it leads to is replaced and the link is kept (NixOS
/// links /etc/nix/nix.conf elsewhere; a user may link the config into a repository).
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let target = resolve_link(path)?;
    let perms = match fs::metadata(&target) {
        Ok(m) => Perms::of(&m, &target),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Perms {
            mode,
            owner: None,
            from: target.clone(),
        },
        Err(e) => return Err(e).with_context(|| format!("cannot examine {}", target.display())),
    };
    replace(&target, contents, &perms)
}

/// As [`write_atomic`], but the file gets the mode, owner and group of `like`: a backup of
/// `like` is exactly as readable as `like` itself (nix.conf may hold `access-tokens`).
pub fn write_atomic_like(path: &Path, contents: &[u8], like: &Path) -> Result<()> {
    let m = fs::metadata(like).with_context(|| format!("cannot examine {}", like.display()))?;
    replace(&resolve_link(path)?, contents, &Perms::of(&m, like))
}

/// The file a write to `path` replaces: `path` itself, or, when `path` is a symlink, the file
/// at the end of the chain of links (which need not exist yet), in its real directory.
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
                    // A dangling link into a missing directory: as written (the write creates
                    // the directory, as for a new config).
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

/// The mode and, for a file that exists, the owner and group a written file gets.
struct Perms {
    mode: u32,
    owner: Option<(u32, u32)>,
    /// The file they come from.
    from: PathBuf,
}

impl Perms {
    fn of(m: &fs::Metadata, from: &Path) -> Perms {
        use std::os::unix::fs::MetadataExt as _;
        Perms {
            mode: m.mode() & 0o7777,
            owner: Some((m.uid(), m.gid())),
            from: from.to_owned(),
        }
    }

    /// Give the open temporary file for `path` these permissions. fchown first: it clears
    /// set-id bits. fchmod is not filtered by the umask.
    fn apply(&self, f: &File, path: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        if let Some((uid, gid)) = self.owner {
            let (me, my_gid) = (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            );
            if (uid, gid) != (me, my_gid) {
                if let Err(e) = std::os::unix::fs::fchown(f, Some(uid), Some(gid)) {
                    // EPERM: not root; EINVAL: the owner is not mapped in this user namespace.
                    let refused = [nix::errno::Errno::EPERM, nix::errno::Errno::EINVAL]
                        .iter()
                        .any(|&n| e.raw_os_error() == Some(n as i32));
                    if !refused || uid != me {
                        anyhow::bail!(
                            "{from} belongs to uid {uid} (gid {gid}), and binfmtctl, running as uid {me}, cannot give {path} that owner ({e}); run binfmtctl as root or as the owner of {from}",
                            from = self.from.display(),
                            path = path.display()
                        );
                    }
                    crate::output::warn(&format!(
                        "{from} has group {gid}, which binfmtctl cannot give {path} ({e}); its group is now {my_gid}",
                        from = self.from.display(),
                        path = path.display()
                    ));
                }
            }
        }
        f.set_permissions(fs::Permissions::from_mode(self.mode))
            .with_context(|| format!("cannot set the mode of the new {}", path.display()))
    }
}

/// Write `contents` to `path` (not a symlink) through a temporary file that gets `perms`.
fn replace(path: &Path, contents: &[u8], perms: &Perms) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_dir(dir)?;
    let tmp = sidecar(path, &format!(".tmp.{}", std::process::id()));
    let result = (|| -> Result<()> {
        let _ = fs::remove_file(&tmp);
        // 0600 until `perms` are applied: the contents are never readable by more users than
        // the finished file's.
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&tmp)?;
        f.write_all(contents)?;
        perms.apply(&f, path)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e.context(format!(
            "cannot write {} (the old file, if any, is unchanged)",
            path.display()
        )));
    }
    // The rename happened: the new file is in place, whatever follows. Without the directory
    // fsync only its durability across a crash is in doubt, which is worth a warning, not an
    // error (callers would undo work that the file already records).
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        crate::output::warn(&format!(
            "wrote {}, but cannot sync its directory {} to disk ({e}); after a power loss the file may be back to its old contents",
            path.display(),
            dir.display()
        ));
    }
    remove_stale_temporaries(path);
    Ok(())
}

/// How old another process's temporary file must be to count as left behind by a writer
/// that died (SIGKILL, power loss): a write takes milliseconds.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Remove `<file>.tmp.<pid>` files that writers killed mid-write left beside `path`. They
/// are never read (readers only see the renamed file), so this is tidiness, not repair;
/// errors are ignored.
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut prefix = name.to_owned();
    prefix.push(".tmp.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let stale = entry
            .file_name()
            .as_encoded_bytes()
            .starts_with(prefix.as_encoded_bytes())
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE_AFTER));
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
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
        let long_ago = std::time::SystemTime::now() - 2 * STALE_AFTER;
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
}
