//! Directories of binfmtctl's own making (a check's probe directory, a build's directory):
//! the one way anything is written inside them.
//!
//! Such a directory is created exclusively (`mkdirat`, never an existing name, never through
//! a planted link) or, for the build's tmpfs mount point, opened only when it is the caller's
//! own plain directory; from then on it is held by its fd, and every directory, file and link
//! in it is made by `*at` calls relative to that fd, each name opened with `openat2`
//! (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`): a link planted inside, even by a program the
//! build runs, redirects nothing binfmtctl writes. Modes are set with `fchmod`, whatever the
//! umask.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

use rustix::fs::{self as rfs, FileType, Mode, OFlags};

use super::open_one;
use rustix::io::Errno;

/// A directory binfmtctl made (or owns) and writes in, held by its fd.
pub struct Scratch {
    fd: OwnedFd,
    /// The directories made or opened in it so far, by their path in it: a view's many links
    /// share a few directories, each opened once.
    dirs: Mutex<HashMap<PathBuf, KeptDir>>,
    path: PathBuf,
    remove_on_drop: bool,
}

impl Scratch {
    /// A new directory `<parent>/<prefix><unique>` with `mode`, created exclusively (another
    /// name when one is taken: left by a killed process whose pid came round again, or
    /// planted), removed with everything in it when dropped.
    pub fn create_unique_in(parent: &Path, prefix: &str, mode: u32) -> io::Result<Scratch> {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let at = open_dir_path(parent, true)?;
        let mut last = io::Error::other("no attempt");
        for _ in 0..64 {
            let name = format!(
                "{prefix}{}-{nanos:x}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            );
            let path = parent.join(&name);
            match make_dir_at(&at, OsStr::new(&name), mode) {
                Ok(fd) => {
                    return Ok(Scratch {
                        fd,
                        dirs: Mutex::default(),
                        path,
                        remove_on_drop: true,
                    })
                }
                Err(Errno::EXIST) => last = Errno::EXIST.into(),
                Err(e) => return Err(with_path(e.into(), "create", &path)),
            }
        }
        Err(last)
    }

    /// An existing directory of the caller's own (owned by the effective user, a directory,
    /// not a link), kept when dropped: the build's tmpfs mount point, or the tmpfs on it.
    pub fn open_own(path: &Path) -> io::Result<Scratch> {
        let fd = open_dir_path(path, false)?;
        let st = rfs::fstat(&fd).map_err(|e| with_path(e.into(), "examine", path))?;
        if st.st_uid != nix::unistd::geteuid().as_raw() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is not the caller's own directory", path.display()),
            ));
        }
        Ok(Scratch {
            fd,
            dirs: Mutex::default(),
            path: path.to_owned(),
            remove_on_drop: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Make `rel` a directory with `mode` (and any missing parents, 0755); an existing one
    /// keeps its mode, and must be a directory (never a link, a file).
    pub fn mkdir(&self, rel: &Path, mode: u32) -> io::Result<()> {
        self.in_parent(rel, "create", |parent, name| {
            match make_dir_at(parent, name, mode) {
                Err(Errno::EXIST) => open_one(
                    parent,
                    name,
                    OFlags::PATH | OFlags::DIRECTORY,
                    Mode::empty(),
                ),
                other => other,
            }
            .map(drop)
        })
    }

    /// A symlink `rel` -> `target` (parents made 0755 as needed).
    pub fn symlink(&self, rel: &Path, target: &Path) -> io::Result<()> {
        self.in_parent(rel, "create the link", |parent, name| {
            rfs::symlinkat(target, parent, name)
        })
    }

    /// A new file `rel` (never an existing name or a link) holding `contents`, with `mode`.
    /// Its path, for whoever executes or hands it on.
    pub fn write_new(&self, rel: &Path, contents: &[u8], mode: u32) -> io::Result<PathBuf> {
        let path = self.path.join(rel);
        let fd = self.in_parent(rel, "create", |parent, name| {
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL;
            let fd = open_one(parent, name, flags, Mode::from_raw_mode(mode))?;
            rfs::fchmod(&fd, Mode::from_raw_mode(mode))?;
            Ok(fd)
        })?;
        File::from(fd)
            .write_all(contents)
            .map_err(|e| with_path(e, "write", &path))?;
        Ok(path)
    }

    /// Run `act` on the directory holding `rel` (made 0755 where missing, each name on the
    /// way opened beneath this one, no link followed) and `rel`'s last name.
    fn in_parent<T>(
        &self,
        rel: &Path,
        what: &str,
        act: impl FnOnce(BorrowedFd<'_>, &OsStr) -> rustix::io::Result<T>,
    ) -> io::Result<T> {
        let fail = |e: Errno| with_path(e.into(), what, &self.path.join(rel));
        let mut names: Vec<&OsStr> = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(n) => names.push(n),
                Component::CurDir => {}
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{} leaves {}", rel.display(), self.path.display()),
                    ))
                }
            }
        }
        let Some(last) = names.pop() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("an empty name in {}", self.path.display()),
            ));
        };
        // Threads (check's probes) write in one directory: the cache is theirs in turn.
        let mut dirs = self.dirs.lock().unwrap_or_else(PoisonError::into_inner);
        let mut at = PathBuf::new();
        for n in names {
            let next = at.join(n);
            let parent = dirs.get(&at).map_or(self.fd.as_fd(), |d| d.fd.as_fd());
            // A directory kept open is used only while it still stands at its name: one moved
            // away (a link planted in its place) must not take binfmtctl's writes.
            let fresh = match dirs.get(&next) {
                Some(kept) if kept.stands_at(parent, n) => None,
                _ => Some(open_or_make_dir(parent, n).map_err(fail)?),
            };
            if let Some(dir) = fresh {
                dirs.insert(next.clone(), dir);
            }
            at = next;
        }
        let parent = dirs.get(&at).map_or(self.fd.as_fd(), |d| d.fd.as_fd());
        act(parent, last).map_err(fail)
    }
}

/// A directory of a scratch directory kept open, with its identity when opened.
struct KeptDir {
    fd: OwnedFd,
    dev: u64,
    ino: u64,
}

impl KeptDir {
    /// Whether `name` in `parent` is (still) this directory, not something put in its place.
    fn stands_at(&self, parent: BorrowedFd<'_>, name: &OsStr) -> bool {
        rfs::statat(parent, name, rfs::AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| st.st_dev == self.dev && st.st_ino == self.ino)
    }
}

/// Open the directory `name` in `parent` (no link followed), made 0755 when missing.
fn open_or_make_dir(parent: BorrowedFd<'_>, name: &OsStr) -> rustix::io::Result<KeptDir> {
    let flags = OFlags::PATH | OFlags::DIRECTORY;
    let fd = match open_one(parent, name, flags, Mode::empty()) {
        Err(Errno::NOENT) => match make_dir_at(parent, name, 0o755) {
            // Made meanwhile by another thread or process: open what is there.
            Err(Errno::EXIST) => open_one(parent, name, flags, Mode::empty()),
            other => other,
        },
        other => other,
    }?;
    let st = rfs::fstat(&fd)?;
    Ok(KeptDir {
        fd,
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

/// `path` is (now) an empty directory of `uid`'s, not a link: created (0755) when missing,
/// given mode 0755 (whatever the umask) and the time now (so /tmp cleaners leave it alone).
pub fn own_empty_dir(path: &Path, uid: u32) -> io::Result<bool> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no directory", path.display()),
        ));
    };
    let at = open_dir_path(parent, true)?;
    match rfs::mkdirat(&at, name, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(with_path(e.into(), "create", path)),
    }
    // O_PATH: another user's directory (mode 0700 or not) is examined, then passed over.
    let fd = match open_one(&at, name, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()) {
        Ok(fd) => fd,
        // A link or a file squats the name.
        Err(Errno::LOOP | Errno::NOTDIR) => return Ok(false),
        Err(e) => return Err(with_path(e.into(), "open", path)),
    };
    let st = rfs::fstat(&fd).map_err(|e| with_path(e.into(), "examine", path))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory || st.st_uid != uid {
        return Ok(false);
    }
    let Ok(dir) = open_one(
        &fd,
        OsStr::new("."),
        OFlags::RDONLY | OFlags::DIRECTORY,
        Mode::empty(),
    ) else {
        return Ok(false);
    };
    if !is_empty(&dir) {
        return Ok(false);
    }
    let _ = rfs::fchmod(&dir, Mode::from_raw_mode(0o755));
    let _ = File::from(dir).set_modified(std::time::SystemTime::now());
    Ok(true)
}

fn is_empty(fd: &OwnedFd) -> bool {
    let Ok(dir) = rfs::Dir::read_from(fd) else {
        return false;
    };
    dir.into_iter()
        .all(|e| e.is_ok_and(|e| matches!(e.file_name().to_bytes(), b"." | b"..")))
}

/// Where a directory of binfmtctl's own goes (`what`: "the build's directory", "the
/// probe directory"): `$TMPDIR` (else /tmp) when only root and the caller can change the way
/// to it (root-owned directories not writable by others, or sticky like /tmp; the caller's
/// own). Another user's directory would let them swap it, and with it what root executes
/// from it (probes; the qemu a build's shim runs and the loaders qemu loads), under `sudo -E`
/// with a per-user TMPDIR: then /tmp, if it passes, with a note; else an error.
pub fn temp_parent(what: &str) -> anyhow::Result<PathBuf> {
    let uid = nix::unistd::getuid().as_raw();
    let tmp = std::env::temp_dir();
    let Some(why) = crate::trust::untrusted_except(&tmp, Some(uid)) else {
        return Ok(tmp);
    };
    let fallback = PathBuf::from("/tmp");
    if tmp != fallback && crate::trust::untrusted_except(&fallback, Some(uid)).is_none() {
        crate::report::note(&format!(
            "{what} goes to /tmp, not {}: {} {}, so another user could swap what is run from it",
            tmp.display(),
            why.path.display(),
            why.why
        ));
        return Ok(fallback);
    }
    anyhow::bail!(
        "cannot keep {what} in {}: {} {}, so another user could swap what is run from it; set TMPDIR \
         to a directory only you (and root) can change",
        tmp.display(),
        why.path.display(),
        why.why
    )
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.remove_on_drop {
            // std's remove_dir_all does not follow links, inside or at the top.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Append `bytes` with one write to the existing file `rel` beneath `dir`, no link followed:
/// the build's shim, as whatever user the build runs a program as, adding to its build
/// directory's report (`O_APPEND`: lines of concurrent shims never interleave).
pub fn append_beneath(dir: &Path, rel: &Path, bytes: &[u8]) -> io::Result<()> {
    let at = open_dir_path(dir, false)?;
    let fd = open_rel(&at, rel, OFlags::WRONLY | OFlags::APPEND, Mode::empty())?;
    File::from(fd).write_all(bytes)
}

/// Create the empty file `rel` beneath `dir` (0644), no link followed: Ok(false) when it
/// exists already (the shim's once-per-loader marker).
pub fn create_new_beneath(dir: &Path, rel: &Path) -> io::Result<bool> {
    let at = open_dir_path(dir, false)?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL;
    match open_rel(&at, rel, flags, Mode::from_raw_mode(0o644)) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(Errno::EXIST.raw_os_error()) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Open a directory by path; its last name a link only when `follow` (a parent the trust
/// boundary has vetted, links and all: `TMPDIR` may be one).
fn open_dir_path(path: &Path, follow: bool) -> io::Result<OwnedFd> {
    let nofollow = if follow {
        OFlags::empty()
    } else {
        OFlags::NOFOLLOW
    };
    let fd = rfs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | nofollow,
        Mode::empty(),
    )
    .map_err(|e| with_path(e.into(), "open the directory", path))?;
    let st = rfs::fstat(&fd).map_err(|e| with_path(e.into(), "examine", path))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(io::Error::other(format!(
            "{} is not a directory",
            path.display()
        )));
    }
    Ok(fd)
}

/// Open `rel` beneath `dir` one name at a time (each by [`open_one`]: no link followed, not
/// even on kernels without openat2), the directories on the way as `O_PATH` (no read
/// permission needed to pass through).
fn open_rel(dir: &OwnedFd, rel: &Path, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
    let names: Vec<&OsStr> = rel
        .components()
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a plain relative path", rel.display()),
            )),
        })
        .collect::<io::Result<_>>()?;
    let Some((last, on_the_way)) = names.split_last() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "an empty name"));
    };
    let mut at: Option<OwnedFd> = None;
    for n in on_the_way {
        let from = at.as_ref().unwrap_or(dir);
        at = Some(open_one(
            from,
            n,
            OFlags::PATH | OFlags::DIRECTORY,
            Mode::empty(),
        )?);
    }
    Ok(open_one(at.as_ref().unwrap_or(dir), last, flags, mode)?)
}

/// Create `name` in `parent` with `mode` (set with fchmod, whatever the umask) and open it.
fn make_dir_at(parent: impl AsFd, name: &OsStr, mode: u32) -> rustix::io::Result<OwnedFd> {
    rfs::mkdirat(&parent, name, Mode::from_raw_mode(0o700))?;
    let fd = open_one(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY,
        Mode::empty(),
    )?;
    rfs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    Ok(fd)
}

#[allow(clippy::needless_pass_by_value)] // takes what `map_err` hands over
fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    use super::Scratch;
    use std::path::Path;

    fn tmp() -> Scratch {
        Scratch::create_unique_in(&std::env::temp_dir(), "binfmtctl-unit-scratch-", 0o700).unwrap()
    }

    #[test]
    fn creates_files_links_and_dirs_with_their_modes_whatever_the_umask() {
        let s = tmp();
        assert_eq!(
            std::fs::metadata(s.path()).unwrap().permissions().mode() & 0o7777,
            0o700
        );
        s.mkdir(Path::new("missing"), 0o1777).unwrap();
        let f = s.write_new(Path::new("a/b/probe"), b"x", 0o755).unwrap();
        s.symlink(Path::new("view/lib/ld.so"), Path::new("/lib/ld.so"))
            .unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"x");
        let mode = |p: &str| std::fs::symlink_metadata(s.path().join(p)).unwrap().mode() & 0o7777;
        assert_eq!(mode("missing"), 0o1777);
        assert_eq!(mode("a"), 0o755);
        assert_eq!(mode("a/b/probe"), 0o755);
        assert_eq!(
            std::fs::read_link(s.path().join("view/lib/ld.so")).unwrap(),
            Path::new("/lib/ld.so")
        );
        // Never an existing name.
        assert!(s.write_new(Path::new("a/b/probe"), b"y", 0o755).is_err());
        let path = s.path().to_owned();
        drop(s);
        assert!(!path.exists(), "removed when dropped");
    }

    #[test]
    fn unique_dirs_are_new_and_distinct() {
        let (a, b) = (tmp(), tmp());
        assert_ne!(a.path(), b.path());
        assert!(a.path().is_dir() && b.path().is_dir());
    }

    #[test]
    fn a_parent_reached_through_a_link_is_followed_as_vetted() {
        // TMPDIR may be a link (~/tmp -> /scratch/me): the trust boundary vets it, links and
        // all, before binfmtctl makes its directories there (found by a review).
        let real = tmp();
        let links = tmp();
        let link = links.path().join("tmpdir");
        std::os::unix::fs::symlink(real.path(), &link).unwrap();
        let made = Scratch::create_unique_in(&link, "binfmtctl-unit-x-", 0o755).unwrap();
        made.write_new(Path::new("f"), b"", 0o644).unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        assert!(super::own_empty_dir(&link.join("own"), uid).unwrap());
        assert!(real.path().join("own").is_dir());
        // But the directory itself is never a link.
        std::os::unix::fs::symlink(real.path().join("own"), links.path().join("own")).unwrap();
        assert!(!super::own_empty_dir(&links.path().join("own"), uid).unwrap());
        assert!(Scratch::open_own(&links.path().join("own")).is_err());
    }

    #[test]
    fn the_shims_writes_take_each_name_beneath_and_no_link() {
        let s = tmp();
        s.mkdir(Path::new("missing"), 0o1777).unwrap();
        s.write_new(Path::new("report.jsonl"), b"", 0o666).unwrap();
        let dir = s.path();
        assert!(super::create_new_beneath(dir, Path::new("missing/a")).unwrap());
        assert!(!super::create_new_beneath(dir, Path::new("missing/a")).unwrap());
        super::append_beneath(dir, Path::new("report.jsonl"), b"1\n").unwrap();
        super::append_beneath(dir, Path::new("report.jsonl"), b"2\n").unwrap();
        assert_eq!(std::fs::read(dir.join("report.jsonl")).unwrap(), b"1\n2\n");
        let elsewhere = tmp();
        std::os::unix::fs::symlink(elsewhere.path(), dir.join("linked")).unwrap();
        assert!(super::create_new_beneath(dir, Path::new("linked/a")).is_err());
        assert!(super::append_beneath(dir, Path::new("linked/x"), b"").is_err());
        assert!(super::create_new_beneath(dir, Path::new("../a")).is_err());
        // mkdir over an existing file or link is an error, not a success.
        assert!(s.mkdir(Path::new("report.jsonl"), 0o755).is_err());
        assert!(s.mkdir(Path::new("linked"), 0o755).is_err());
        assert!(s.mkdir(Path::new("missing"), 0o755).is_ok());
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_directory_moved_away_takes_no_more_writes() {
        // Found by a review: the directories kept open must still stand at their names.
        let s = tmp();
        let elsewhere = tmp();
        s.write_new(Path::new("sub/one"), b"", 0o644).unwrap();
        std::fs::rename(s.path().join("sub"), elsewhere.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), s.path().join("sub")).unwrap();
        assert!(s.write_new(Path::new("sub/two"), b"", 0o644).is_err());
        assert!(!elsewhere.path().join("moved/two").exists());
        assert!(!elsewhere.path().join("two").exists());
        // A directory made anew in its place is used.
        std::fs::remove_file(s.path().join("sub")).unwrap();
        std::fs::create_dir(s.path().join("sub")).unwrap();
        s.write_new(Path::new("sub/three"), b"", 0o644).unwrap();
        assert!(s.path().join("sub/three").exists());
    }

    #[test]
    fn a_link_planted_inside_redirects_nothing() {
        let s = tmp();
        let elsewhere = tmp();
        std::os::unix::fs::symlink(elsewhere.path(), s.path().join("shim")).unwrap();
        for rel in ["shim/x", "shim/sub/x"] {
            assert!(s.write_new(Path::new(rel), b"x", 0o644).is_err(), "{rel}");
        }
        assert!(s.symlink(Path::new("shim/l"), Path::new("/")).is_err());
        assert!(s.write_new(Path::new("../x"), b"x", 0o644).is_err());
        assert!(s.write_new(Path::new("/etc/x"), b"x", 0o644).is_err());
        std::os::unix::fs::symlink("/dev/null", s.path().join("file")).unwrap();
        assert!(s.write_new(Path::new("file"), b"x", 0o644).is_err());
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }

    #[test]
    fn open_own_takes_only_a_directory_of_the_callers() {
        let s = tmp();
        let own = Scratch::open_own(s.path()).unwrap();
        own.write_new(Path::new("f"), b"", 0o644).unwrap();
        drop(own);
        assert!(s.path().join("f").exists(), "kept when dropped");
        std::os::unix::fs::symlink(s.path(), s.path().join("link")).unwrap();
        assert!(Scratch::open_own(&s.path().join("link")).is_err());
        assert!(Scratch::open_own(&s.path().join("f")).is_err());
    }
}
