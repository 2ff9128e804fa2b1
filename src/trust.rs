//! Root's trust boundary (issue 11): every file binfmtctl opens to write or replace, and every
//! file it reads to act on as root, is opened here and nowhere else.
//!
//! The rule is OpenSSH's StrictModes and sudo's vetting of sudoers: in the host (the initial
//! user namespace), a path root acts on is walked from `/` one component at a time, each
//! opened relative to the directory before it (`openat2` with `RESOLVE_NO_SYMLINKS |
//! RESOLVE_BENEATH`, so the kernel, not a check made earlier, decides what is opened), and
//! each directory must be owned by root (or the user running binfmtctl) and not writable by
//! group or others (a sticky directory such as `/tmp` excepted: there, only an entry's owner
//! may replace it, and every entry on the way must be trusted anyway). A symlink is followed
//! only when it sits in such a directory and is owned by root or that user; its target is then
//! walked the same way. The file itself must be a regular file (a FIFO, socket or device is
//! refused: opened with `O_NONBLOCK | O_NOFOLLOW` and `fstat`ed before anything is read), owned
//! likewise, not writable by group or others, and at most [`MAX_FILE`] bytes.
//!
//! Reads made only to show something (`export`, `status`, `--dry-run`) and everything in a
//! user namespace (a private binfmt_misc instance, where ownership cannot be judged exactly,
//! see SECURITY.md) are vetted for file type and size only.
//!
//! Writes are atomic: a temporary file created with `O_CREAT | O_EXCL | O_NOFOLLOW` in the
//! vetted directory (by its fd), written, given its mode with `fchmod` (0644 for a new file,
//! whatever the umask; an existing file keeps its own), fsynced and renamed over the target.
//! Directories binfmtctl creates get 0755 with `fchmod`, whatever the umask.

pub mod dest;
pub mod scratch;

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// The largest file binfmtctl reads (config, state, profiles, binfmt.d files, nix.conf): far
/// more than any of them holds; `--config /dev/zero` or a runaway file stops here.
pub const MAX_FILE: u64 = 1 << 20;

/// Symlinks followed before giving up, as the kernel's `MAXSYMLINKS`.
const MAX_SYMLINKS: u32 = 40;

/// Why a path is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// To act on it as root: register, remove, record (enable, disable, apply, import).
    Act,
    /// To show it only (export, status, check, `--dry-run`): type and size are checked.
    Show,
}

/// How strictly paths are judged: strict (owner and mode of every component) only where it
/// matters and can be judged, i.e. to act, in the host's user namespace.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    strict: bool,
    act: bool,
    me: u32,
}

impl Policy {
    pub fn new(use_: Use) -> Policy {
        let act = use_ == Use::Act;
        Policy {
            strict: act && host_namespace(),
            act,
            me: nix::unistd::geteuid().as_raw(),
        }
    }

    /// For writing: always to act.
    pub fn to_write() -> Policy {
        Policy::new(Use::Act)
    }

    fn trusts(self, uid: u32) -> bool {
        uid == 0 || uid == self.me
    }
}

/// A place on the way to a path that someone other than root could change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untrusted {
    /// The file, directory or symlink at fault.
    pub path: PathBuf,
    /// What is wrong with it, e.g. "is owned by uid 1000, not root".
    pub why: String,
}

impl std::fmt::Display for Untrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.path.display(), self.why)
    }
}

/// What the boundary refuses, or could not do. Every message names the path, what is wrong
/// and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("refusing {}: {culprit}, so users other than root could change what binfmtctl does as root; make it root's and not writable by others (chown root:root {p} && chmod go-w {p}), or use a path only root can change", .path.display(), p = .culprit.path.display())]
    Untrusted { path: PathBuf, culprit: Untrusted },
    #[error("refusing {}: it is {found}, not {wanted}; give binfmtctl the path of {wanted}", .path.display())]
    Type {
        path: PathBuf,
        found: &'static str,
        wanted: &'static str,
    },
    #[error("{} is a symlink; binfmtctl writes its files only into a real directory (give --config/--state-dir one)", .0.display())]
    LinkedDir(PathBuf),
    #[error("refusing {}: it is larger than {limit} bytes, more than binfmtctl reads from any file; check that it is the right file", .path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{} leads through more than {MAX_SYMLINKS} symlinks; fix the link", .0.display())]
    Loop(PathBuf),
    #[error("{} changed while binfmtctl opened it (it became a symlink); run the command again, and find out who changes it", .0.display())]
    Raced(PathBuf),
    // Not `source`: the message holds the cause, and `{err:#}` would print it twice.
    #[error("cannot {doing} {}: {err}", .path.display())]
    Io {
        path: PathBuf,
        doing: &'static str,
        err: io::Error,
    },
}

impl TrustError {
    /// The kind of the underlying I/O error, if that is what it is.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            TrustError::Io { err, .. } => Some(err.kind()),
            _ => None,
        }
    }

    fn io(path: &Path, doing: &'static str, err: impl Into<io::Error>) -> TrustError {
        TrustError::Io {
            path: path.to_owned(),
            doing,
            err: err.into(),
        }
    }
}

/// The judgement of one component's owner and mode, without following it: None when trusted.
/// `trusted` says which owners are (root, and whoever else the caller trusts). A sticky
/// directory may be writable by anyone: only an entry's owner may replace what is in it.
pub fn judge(uid: u32, mode: u32, kind: FileType, trusted: impl Fn(u32) -> bool) -> Option<String> {
    if !trusted(uid) {
        return Some(format!("is owned by uid {uid}, not root"));
    }
    let mode = mode & 0o7777;
    let sticky_dir = kind == FileType::Directory && mode & 0o1000 != 0;
    if kind != FileType::Symlink && !sticky_dir && mode & 0o022 != 0 {
        let who = match mode & 0o022 {
            0o020 => "group",
            0o002 => "others",
            _ => "group and others",
        };
        return Some(format!("is writable by {who} (mode {mode:04o})"));
    }
    None
}

/// A file type in words, for messages.
fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symlink",
        FileType::Fifo => "a FIFO (named pipe)",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "of an unknown type",
    }
}

/// A directory reached through the boundary: its fd (`O_PATH` or readable) and real path.
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// A readable fd of the directory (for fsync and readdir), from the `O_PATH` one.
    fn readable(&self) -> Result<OwnedFd, TrustError> {
        rfs::openat(
            &self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| TrustError::io(&self.path, "open the directory", e))
    }
}

/// Open one name in a directory, never following a symlink: `openat2` with
/// `RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH` (so not even a name holding `/` or `..` leaves the
/// directory), or, on kernels before 5.6, `openat` with `O_NOFOLLOW` (the same for one name).
fn open_one(
    dir: impl AsFd,
    name: &OsStr,
    flags: OFlags,
    mode: Mode,
) -> rustix::io::Result<OwnedFd> {
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS | ResolveFlags::BENEATH;
    match rfs::openat2(dir.as_fd(), name, flags, mode, resolve) {
        // ENOSYS: before Linux 5.6; EPERM: a seccomp profile older than openat2 (Docker
        // before 20.10) refuses it so. One name with O_NOFOLLOW is as safe.
        Err(Errno::NOSYS | Errno::PERM) => rfs::openat(dir, name, flags, mode),
        other => other,
    }
}

/// What one component of a directory path turned out to be.
enum Step {
    /// A directory, opened and vetted (made first when asked to).
    Entered(Dir),
    /// Nothing (and nothing to be made).
    Missing,
    /// A symlink, at this path: followed by the rules, or refused.
    Link(PathBuf),
}

/// Where a walk stands: the directories from `/` down to the current one.
struct Walk {
    policy: Policy,
    links: u32,
    /// The path asked for, for messages.
    asked: PathBuf,
}

impl Walk {
    fn new(policy: Policy, asked: &Path) -> Walk {
        Walk {
            policy,
            links: MAX_SYMLINKS,
            asked: asked.to_owned(),
        }
    }

    /// Vet an opened component by its fd.
    fn vet(&self, fd: impl AsFd, path: &Path, want: FileType) -> Result<rfs::Stat, TrustError> {
        let st = rfs::fstat(fd).map_err(|e| TrustError::io(path, "examine", e))?;
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind != want {
            return Err(TrustError::Type {
                path: path.to_owned(),
                found: kind_name(kind),
                wanted: kind_name(want),
            });
        }
        self.vet_owner(&st, path)?;
        Ok(st)
    }

    fn vet_owner(&self, st: &rfs::Stat, path: &Path) -> Result<(), TrustError> {
        if !self.policy.strict {
            return Ok(());
        }
        let kind = FileType::from_raw_mode(st.st_mode);
        match judge(st.st_uid, st.st_mode, kind, |u| self.policy.trusts(u)) {
            None => Ok(()),
            Some(why) => Err(TrustError::Untrusted {
                path: self.asked.clone(),
                culprit: Untrusted {
                    path: path.to_owned(),
                    why,
                },
            }),
        }
    }

    /// A symlink `name` in `dir`: vetted (its directory already is; its own owner counts in a
    /// sticky directory) and read. The target, as components to walk.
    fn follow(&mut self, dir: &Dir, name: &OsStr) -> Result<PathBuf, TrustError> {
        let path = dir.path.join(name);
        self.links = self
            .links
            .checked_sub(1)
            .ok_or_else(|| TrustError::Loop(self.asked.clone()))?;
        let st = rfs::statat(&dir.fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| TrustError::io(&path, "examine", e))?;
        self.vet_owner(&st, &path)?;
        let target = rfs::readlinkat(&dir.fd, name, Vec::new())
            .map_err(|e| TrustError::io(&path, "read the symlink", e))?;
        Ok(PathBuf::from(OsStr::from_bytes(target.as_bytes())))
    }

    /// Open the directory `path`, vetting every component. `create`: make missing ones
    /// (0755, whatever the umask). `link_last`: whether the last component may be a symlink.
    /// None when it does not exist (and `create` is false).
    fn dir(
        &mut self,
        path: &Path,
        create: bool,
        link_last: bool,
    ) -> Result<Option<Dir>, TrustError> {
        let abs = std::path::absolute(path).map_err(|e| TrustError::io(path, "resolve", e))?;
        if !self.policy.strict && link_last && !create {
            if let Some(found) = self.open_directly(&abs) {
                return found;
            }
        }
        let mut stack = vec![self.root()?];
        let mut todo: VecDeque<OsString> = names(&abs);
        while let Some(name) = todo.pop_front() {
            if name == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            // (When a link is followed, its target's components come next: `last` is then
            // false until the target's own last one.)
            let last = todo.is_empty();
            let cur = stack
                .last()
                .ok_or_else(|| TrustError::Loop(self.asked.clone()))?;
            match self.step(cur, &name, create)? {
                Step::Entered(dir) => stack.push(dir),
                Step::Missing => return Ok(None),
                Step::Link(here) => {
                    if last && !link_last {
                        return Err(TrustError::LinkedDir(here));
                    }
                    let target = self.follow(cur, &name)?;
                    if target.is_absolute() {
                        stack.truncate(1);
                    }
                    for n in names(&target).into_iter().rev() {
                        todo.push_front(n);
                    }
                }
            }
        }
        stack
            .pop()
            .map(Some)
            .ok_or_else(|| TrustError::Loop(self.asked.clone()))
    }

    /// Not judging owners and following links anyway, there is nothing to vet on the way:
    /// one open instead of one a component (`run`, an exec wrapper, reads the profiles
    /// directory at every start). None when the walk must decide: anything but a directory
    /// takes it, for its message.
    fn open_directly(&self, abs: &Path) -> Option<Result<Option<Dir>, TrustError>> {
        match rfs::open(
            abs,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Some(self.vet(&fd, abs, FileType::Directory).map(|_| {
                Some(Dir {
                    fd,
                    path: abs.to_owned(),
                })
            })),
            Err(Errno::NOENT) => Some(Ok(None)),
            Err(_) => None,
        }
    }

    /// `/`, opened and vetted: where every walk starts.
    fn root(&self) -> Result<Dir, TrustError> {
        let root = rfs::open(
            "/",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| TrustError::io(Path::new("/"), "open", e))?;
        self.vet(&root, Path::new("/"), FileType::Directory)?;
        Ok(Dir {
            fd: root,
            path: PathBuf::from("/"),
        })
    }

    /// One component `name` below `cur`: the directory entered (made first when missing and
    /// `create`), missing, or a symlink to follow; anything else is refused by its type.
    fn step(&self, cur: &Dir, name: &OsStr, create: bool) -> Result<Step, TrustError> {
        let here = cur.path.join(name);
        match open_one(
            &cur.fd,
            name,
            OFlags::PATH | OFlags::DIRECTORY,
            Mode::empty(),
        ) {
            Ok(fd) => {
                self.vet(&fd, &here, FileType::Directory)?;
                Ok(Step::Entered(Dir { fd, path: here }))
            }
            Err(Errno::NOENT) if !create => Ok(Step::Missing),
            Err(Errno::NOENT) => {
                let fd = make_dir(&cur.fd, name, &here)?;
                self.vet(&fd, &here, FileType::Directory)?;
                Ok(Step::Entered(Dir { fd, path: here }))
            }
            Err(e) => {
                let st = rfs::statat(&cur.fd, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|_| TrustError::io(&here, "open", e))?;
                let kind = FileType::from_raw_mode(st.st_mode);
                if kind != FileType::Symlink {
                    return Err(TrustError::Type {
                        path: here,
                        found: kind_name(kind),
                        wanted: "a directory",
                    });
                }
                Ok(Step::Link(here))
            }
        }
    }

    /// The directory a file lives in and its name there, following symlinks at the file's
    /// place by the rules (in a trusted directory, owned by a trusted user). None when the
    /// directory does not exist and `create` is false.
    fn file(&mut self, path: &Path, create: bool) -> Result<Option<(Dir, OsString)>, TrustError> {
        let abs = std::path::absolute(path).map_err(|e| TrustError::io(path, "resolve", e))?;
        let (mut parent, mut name) = split(&abs)?;
        // The directory the caller named is a real one when acting (a symlinked config or
        // state directory is refused); directories reached through a file's link may be links.
        let mut link_last = !self.policy.act;
        loop {
            let Some(dir) = self.dir(&parent, create, link_last)? else {
                return Ok(None);
            };
            match rfs::statat(&dir.fd, &*name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                    let target = self.follow(&dir, &name)?;
                    let next = dir.path.join(target);
                    (parent, name) = split(&next)?;
                    link_last = true;
                }
                _ => return Ok(Some((dir, name))),
            }
        }
    }
}

/// The names to walk in a path (`.` dropped, `..` kept: resolved against real directories).
fn names(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn split(path: &Path) -> Result<(PathBuf, OsString), TrustError> {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => Ok((dir.to_owned(), name.to_owned())),
        _ => Err(TrustError::Type {
            path: path.to_owned(),
            found: "not a file name",
            wanted: "a regular file",
        }),
    }
}

/// Make a directory, exactly 0755 whatever the umask (case 9 of issue 11: under `umask 077`
/// unprivileged `run` could no longer read the state).
fn make_dir(parent: &OwnedFd, name: &OsStr, path: &Path) -> Result<OwnedFd, TrustError> {
    let created = match rfs::mkdirat(parent, name, Mode::from_raw_mode(0o755)) {
        Ok(()) => true,
        Err(Errno::EXIST) => false,
        Err(e) => return Err(TrustError::io(path, "create the directory", e)),
    };
    let fd = open_one(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .map_err(|e| TrustError::io(path, "open the directory", e))?;
    if created {
        rfs::fchmod(&fd, Mode::from_raw_mode(0o755))
            .map_err(|e| TrustError::io(path, "set the mode of", e))?;
    }
    Ok(fd)
}

/// Open a file (not a symlink) in a vetted directory to read it, without blocking on a FIFO
/// or a device; it must be a regular file, and, when strict and `owner` says so, trusted (a
/// file about to be replaced need not be: the rename in its vetted directory writes nothing
/// through it, and it keeps its owner).
fn open_regular(
    walk: &Walk,
    dir: &Dir,
    name: &OsStr,
    owner: bool,
) -> Result<Option<(File, rfs::Stat)>, TrustError> {
    let path = dir.path.join(name);
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
    match open_one(&dir.fd, name, flags, Mode::empty()) {
        Ok(fd) => {
            let st = if owner {
                walk.vet(&fd, &path, FileType::RegularFile)?
            } else {
                let types_only = Policy {
                    strict: false,
                    ..walk.policy
                };
                Walk::new(types_only, &path).vet(&fd, &path, FileType::RegularFile)?
            };
            Ok(Some((File::from(fd), st)))
        }
        Err(Errno::NOENT) => Ok(None),
        Err(Errno::LOOP) => Err(TrustError::Raced(path)),
        Err(e) => Err(TrustError::io(&path, "open", e)),
    }
}

/// Read a whole file, at most `limit` bytes: None when it or its directory does not exist.
pub fn read(path: &Path, policy: Policy, limit: u64) -> Result<Option<Vec<u8>>, TrustError> {
    let mut walk = Walk::new(policy, path);
    let Some((dir, name)) = walk.file(path, false)? else {
        return Ok(None);
    };
    read_in(&walk, &dir, &name, limit)
}

fn read_in(
    walk: &Walk,
    dir: &Dir,
    name: &OsStr,
    limit: u64,
) -> Result<Option<Vec<u8>>, TrustError> {
    let Some((file, st)) = open_regular(walk, dir, name, true)? else {
        return Ok(None);
    };
    let path = dir.path.join(name);
    let too_large = || TrustError::TooLarge {
        path: path.clone(),
        limit,
    };
    if u64::try_from(st.st_size).unwrap_or(u64::MAX) > limit {
        return Err(too_large());
    }
    let mut buf = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| TrustError::io(&path, "read", e))?;
    if buf.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(Some(buf))
}

/// A file read, and what it holds.
pub type FileContents = (PathBuf, Vec<u8>);

/// Every file of a directory whose name ends with `.{ext}`, in name order, each read as by
/// [`read`]: (path, contents). None when the directory does not exist.
pub fn read_dir_files(
    path: &Path,
    policy: Policy,
    ext: &str,
    limit: u64,
) -> Result<Option<Vec<FileContents>>, TrustError> {
    let mut walk = Walk::new(policy, path);
    let Some(dir) = walk.dir(path, false, true)? else {
        return Ok(None);
    };
    let fd = dir.readable()?;
    let mut names: Vec<OsString> = Vec::new();
    let entries = rfs::Dir::read_from(&fd).map_err(|e| TrustError::io(&dir.path, "read", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TrustError::io(&dir.path, "read", e))?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if Path::new(name).extension().is_some_and(|e| e == ext) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    let mut out = Vec::new();
    for name in names {
        // A link in the directory is followed by the rules, as any file's.
        let file = dir.path.join(&name);
        let mut inner = Walk::new(policy, &file);
        let Some((d, n)) = inner.file(&file, false)? else {
            continue;
        };
        if let Some(text) = read_in(&inner, &d, &n, limit)? {
            out.push((file, text));
        }
    }
    Ok(Some(out))
}

/// The permissions a written file gets.
#[derive(Clone, Copy)]
pub enum Perms<'a> {
    /// A new file gets this mode; an existing one keeps its mode, owner and group.
    New(u32),
    /// Those of this file (a backup of nix.conf is as private as nix.conf).
    Like(&'a Path),
}

/// Replace the file at `path` with `contents`, atomically, through the boundary (see the
/// module's documentation). A symlink at `path` is written through by the rules: the file it
/// leads to is replaced in its own (vetted) directory and the link kept.
pub fn replace(path: &Path, contents: &[u8], perms: Perms) -> Result<(), TrustError> {
    let policy = Policy::to_write();
    let mut walk = Walk::new(policy, path);
    let Some((dir, name)) = walk.file(path, true)? else {
        return Err(TrustError::io(path, "write", io::ErrorKind::NotFound));
    };
    let target = dir.path.join(&name);
    let existing = open_regular(&walk, &dir, &name, false)?.map(|(_, st)| st);
    let given = Given::decide(policy, perms, existing.as_ref(), &target)?;
    let tmp = {
        let mut t = name.clone();
        t.push(format!(".tmp.{}", std::process::id()));
        t
    };
    let _ = rfs::unlinkat(&dir.fd, &*tmp, AtFlags::empty());
    if let Err(e) = write_and_rename(&dir, &tmp, &name, contents, &given, &target) {
        let _ = rfs::unlinkat(&dir.fd, &*tmp, AtFlags::empty());
        return Err(e);
    }
    sync_dir(&dir, &target);
    remove_stale_temporaries(&dir, &name);
    Ok(())
}

/// What a replacing file is given: its mode, its owner (None: whoever writes it) and the
/// file they come from, for messages.
struct Given {
    mode: u32,
    owner: Option<(u32, u32)>,
    from: PathBuf,
}

impl Given {
    /// From `perms`: those of the file named, or the replaced file's own (`existing`), or,
    /// for a new file, the mode asked for.
    fn decide(
        policy: Policy,
        perms: Perms,
        existing: Option<&rfs::Stat>,
        target: &Path,
    ) -> Result<Given, TrustError> {
        let of = |st: &rfs::Stat, from: &Path| Given {
            mode: st.st_mode & 0o7777,
            owner: Some((st.st_uid, st.st_gid)),
            from: from.to_owned(),
        };
        Ok(match perms {
            Perms::Like(like) => {
                let mut w = Walk::new(policy, like);
                let st = match w.file(like, false)? {
                    Some((d, n)) => open_regular(&w, &d, &n, false)?.map(|(_, st)| st),
                    None => None,
                }
                .ok_or_else(|| TrustError::io(like, "examine", io::ErrorKind::NotFound))?;
                of(&st, like)
            }
            Perms::New(mode) => match existing {
                Some(st) => of(st, target),
                None => Given {
                    mode,
                    owner: None,
                    from: target.to_owned(),
                },
            },
        })
    }
}

/// Write `contents` to the new temporary `tmp` in `dir`, give it its permissions, sync it and
/// rename it over `name`.
fn write_and_rename(
    dir: &Dir,
    tmp: &OsStr,
    name: &OsStr,
    contents: &[u8],
    given: &Given,
    target: &Path,
) -> Result<(), TrustError> {
    // 0600 until the permissions are applied: never readable by more users than the
    // finished file's.
    let fd = open_one(
        &dir.fd,
        tmp,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| TrustError::io(&dir.path.join(tmp), "create", e))?;
    let mut f = File::from(fd);
    f.write_all(contents)
        .map_err(|e| TrustError::io(target, "write", e))?;
    apply_perms(&f, given.mode, given.owner, &given.from, target)?;
    f.sync_all()
        .map_err(|e| TrustError::io(target, "sync", e))?;
    rfs::renameat(&dir.fd, tmp, &dir.fd, name)
        .map_err(|e| TrustError::io(target, "rename the new file over", e))?;
    Ok(())
}

/// Sync `dir` after `target` was renamed into it. The new file is in place, whatever happens
/// here: without the directory fsync only its durability across a crash is in doubt, a
/// warning, not an error.
fn sync_dir(dir: &Dir, target: &Path) {
    let synced = rfs::openat(
        &dir.fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .and_then(rfs::fsync);
    if let Err(e) = synced {
        crate::report::warn(&format!(
            "wrote {}, but cannot sync its directory {} to disk ({}); after a power loss the file may be back to its old contents",
            target.display(),
            dir.path.display(),
            io::Error::from(e)
        ));
    }
}

/// Give the open temporary file for `path` its permissions. fchown first: it clears set-id
/// bits. fchmod is not filtered by the umask.
fn apply_perms(
    f: &File,
    mode: u32,
    owner: Option<(u32, u32)>,
    from: &Path,
    path: &Path,
) -> Result<(), TrustError> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some((uid, gid)) = owner {
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
                    return Err(TrustError::io(
                        path,
                        "write",
                        io::Error::other(format!(
                            "{from} belongs to uid {uid} (gid {gid}), and binfmtctl, running as uid {me}, cannot give {path} that owner ({e}); run binfmtctl as root or as the owner of {from}",
                            from = from.display(),
                            path = path.display()
                        )),
                    ));
                }
                crate::report::warn(&format!(
                    "{from} has group {gid}, which binfmtctl cannot give {path} ({e}); its group is now {my_gid}",
                    from = from.display(),
                    path = path.display()
                ));
            }
        }
    }
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| TrustError::io(path, "set the mode of the new", e))
}

/// How old another process's temporary file must be to count as left behind by a writer
/// that died (SIGKILL, power loss): a write takes milliseconds.
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Remove `<file>.tmp.<pid>` files that writers killed mid-write left beside `name`; errors
/// are ignored (tidiness, not repair: readers only ever see renamed files).
fn remove_stale_temporaries(dir: &Dir, name: &OsStr) {
    let mut prefix = name.to_owned();
    prefix.push(".tmp.");
    let Ok(fd) = dir.readable() else { return };
    let Ok(entries) = rfs::Dir::read_from(&fd) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for entry in entries.filter_map(Result::ok) {
        let n = OsStr::from_bytes(entry.file_name().to_bytes());
        if !n.as_bytes().starts_with(prefix.as_bytes()) {
            continue;
        }
        let stale = rfs::statat(&fd, n, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
            let modified = std::time::UNIX_EPOCH
                + std::time::Duration::from_secs(st.st_mtime.max(0).unsigned_abs());
            now.duration_since(modified)
                .is_ok_and(|age| age > STALE_AFTER)
        });
        if stale {
            let _ = rfs::unlinkat(&fd, n, AtFlags::empty());
        }
    }
}

/// Remove a file through the boundary (its directory vetted, a symlink at its place removed
/// itself, never what it leads to). Ok(false) when it did not exist.
pub fn remove(path: &Path) -> Result<bool, TrustError> {
    let mut walk = Walk::new(Policy::to_write(), path);
    let abs = std::path::absolute(path).map_err(|e| TrustError::io(path, "resolve", e))?;
    let (parent, name) = split(&abs)?;
    let Some(dir) = walk.dir(&parent, false, false)? else {
        return Ok(false);
    };
    match rfs::unlinkat(&dir.fd, &*name, AtFlags::empty()) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(TrustError::io(&abs, "remove", e)),
    }
}

/// Open (creating it, mode 0600) a lock file beside `path` in its vetted directory (created
/// 0755 when missing; a symlinked directory refused).
pub fn open_lock(path: &Path) -> Result<File, TrustError> {
    let mut walk = Walk::new(Policy::to_write(), path);
    let abs = std::path::absolute(path).map_err(|e| TrustError::io(path, "resolve", e))?;
    let (parent, name) = split(&abs)?;
    let Some(dir) = walk.dir(&parent, true, false)? else {
        return Err(TrustError::io(&parent, "open", io::ErrorKind::NotFound));
    };
    let fd = open_one(
        &dir.fd,
        &name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::NONBLOCK,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| TrustError::io(&abs, "open the lock file", e))?;
    walk.vet(&fd, &abs, FileType::RegularFile)?;
    Ok(File::from(fd))
}

/// Open an existing file of a kernel interface (binfmt_misc's `register` and entry files)
/// to write to it: its directory vetted (a `--root` that users other than root can change is
/// refused in the host), the file itself never a symlink and a regular file.
pub fn open_to_write(dir: &Path, name: &OsStr) -> Result<File, TrustError> {
    let path = dir.join(name);
    let mut walk = Walk::new(Policy::to_write(), &path);
    let Some(d) = walk.dir(dir, false, true)? else {
        return Err(TrustError::io(&path, "open", io::ErrorKind::NotFound));
    };
    let fd = match open_one(
        &d.fd,
        name,
        OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::LOOP) => {
            return Err(TrustError::Type {
                path,
                found: "a symlink",
                wanted: "a regular file",
            })
        }
        Err(e) => return Err(TrustError::io(&path, "open", e)),
    };
    walk.vet(&fd, &path, FileType::RegularFile)?;
    Ok(File::from(fd))
}

/// Vet a directory binfmtctl is about to act in (`--root`, before mounting or writing):
/// Ok(false) when it does not exist.
pub fn vet_dir(path: &Path) -> Result<bool, TrustError> {
    Ok(Walk::new(Policy::to_write(), path)
        .dir(path, false, true)?
        .is_some())
}

// The same rule for paths binfmtctl does not open but hands to the kernel or systemd (an
// interpreter, binfmtctl's own binary in a unit): walked by name, every symlink's target too.

/// The first component on the way to `path` that users other than root could change, or
/// None. Every component of the path is examined without following it; a symlink's own owner
/// is checked (in a sticky directory its owner may replace it) and then every component of
/// its target, recursively. Each file, directory and symlink must be owned by root, and no
/// file or directory may be writable by group or others, except directories with the sticky
/// bit (`/tmp`). A component that does not exist ends the walk: only the owner of its
/// (checked) parent could create it. POSIX ACLs are not examined.
///
/// "Root" is uid 0 of the user namespace binfmtctl runs in; inside a user namespace that does
/// not map the parent's root, the real root's files show up as the overflow uid (usually
/// 65534) and are accepted too: the check is exact only in the initial namespace (see
/// [`host_namespace`]).
pub fn untrusted(path: &Path) -> Option<Untrusted> {
    untrusted_except(path, None)
}

/// As [`untrusted`], also trusting files owned by `uid`.
pub fn untrusted_except(path: &Path, uid: Option<u32>) -> Option<Untrusted> {
    if !path.is_absolute() {
        return Some(Untrusted {
            path: path.to_owned(),
            why: "is not an absolute path".into(),
        });
    }
    let mut budget = MAX_SYMLINKS;
    walk_names(path, uid, &mut budget).err()
}

/// Check `path` component by component; the real path it leads to (or as far as it exists).
fn walk_names(path: &Path, uid: Option<u32>, budget: &mut u32) -> Result<PathBuf, Untrusted> {
    let mut real = PathBuf::from("/");
    check_component(&real, uid)?;
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                real.pop();
            }
            Component::Normal(name) => {
                let next = real.join(name);
                let Some(is_symlink) = check_component(&next, uid)? else {
                    return Ok(next);
                };
                if !is_symlink {
                    real = next;
                    continue;
                }
                *budget = budget.checked_sub(1).ok_or_else(|| Untrusted {
                    path: next.clone(),
                    why: format!("leads through more than {MAX_SYMLINKS} symlinks"),
                })?;
                let target = std::fs::read_link(&next).map_err(|e| Untrusted {
                    path: next.clone(),
                    why: format!("cannot be read: {e}"),
                })?;
                // A relative target is relative to the directory holding the link.
                real = walk_names(&real.join(target), uid, budget)?;
            }
        }
    }
    Ok(real)
}

/// Check one component (not following it). Ok(None) when it does not exist, else
/// Ok(Some(is_symlink)).
fn check_component(path: &Path, uid: Option<u32>) -> Result<Option<bool>, Untrusted> {
    use std::os::unix::fs::MetadataExt as _;
    let untrusted = |why: String| Untrusted {
        path: path.to_owned(),
        why,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(untrusted(format!("cannot be examined: {e}"))),
    };
    let kind = FileType::from_raw_mode(meta.mode());
    match judge(meta.uid(), meta.mode(), kind, |u| {
        trusted_owner(u) || uid == Some(u)
    }) {
        Some(why) => Err(untrusted(why)),
        None => Ok(Some(kind == FileType::Symlink)),
    }
}

/// The user namespace binfmtctl runs in, from `/proc/self/uid_map`: (initial namespace,
/// the parent namespace's root is mapped here).
fn user_namespace() -> (bool, bool) {
    static NS: std::sync::OnceLock<(bool, bool)> = std::sync::OnceLock::new();
    *NS.get_or_init(|| {
        let Ok(map) = std::fs::read_to_string("/proc/self/uid_map") else {
            // No /proc: assume the strictest case, the host.
            return (true, true);
        };
        let ranges = crate::sys::namespace::parse_id_map(&map);
        let initial = ranges == [(0, 0, 4_294_967_295)];
        let parent_root = ranges
            .iter()
            .any(|&(_, outside, count)| outside == 0 && count > 0);
        (initial, parent_root)
    })
}

/// True when binfmtctl runs in the initial user namespace, so the binfmt_misc instance it
/// changes is the host's table (in another user namespace, only an instance mounted there can
/// be changed: a private one, reaching only that namespace's processes).
pub fn host_namespace() -> bool {
    user_namespace().0
}

/// Owners trusted like root: uid 0 here and, where the parent's root is not mapped, the
/// overflow uid its files show up as.
fn trusted_owner(uid: u32) -> bool {
    if uid == 0 {
        return true;
    }
    let overflow = std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(65534);
    uid == overflow && !user_namespace().1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt as _};

    fn strict() -> Policy {
        let p = Policy::new(Use::Act);
        assert!(
            p.strict && nix::unistd::geteuid().is_root(),
            "these tests judge owners: run them as root in the initial user namespace (bash scripts/test.sh)"
        );
        p
    }

    fn chmod(p: &Path, mode: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    #[cfg_attr(
        not(feature = "kernel-tier"),
        ignore = "kernel tier: needs root or Debian's packages; bash scripts/test.sh runs it"
    )]
    fn fifos_devices_directories_and_huge_files_are_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let big = d.path().join("big");
        fs::write(&big, vec![b'x'; 11]).unwrap();
        for (path, says) in [
            (
                fifo.as_path(),
                "it is a FIFO (named pipe), not a regular file",
            ),
            (
                Path::new("/dev/null"),
                "it is a character device, not a regular file",
            ),
            (
                Path::new("/dev/zero"),
                "it is a character device, not a regular file",
            ),
            (d.path(), "it is a directory, not a regular file"),
            (big.as_path(), "it is larger than 10 bytes"),
        ] {
            let err = read(path, strict(), 10).unwrap_err().to_string();
            assert!(err.contains(says), "{}: {err}", path.display());
            assert!(err.contains(&path.display().to_string()), "{err}");
        }
        assert_eq!(read(&d.path().join("missing"), strict(), 10).unwrap(), None);
        // A device is never replaced by a regular file.
        let err = replace(Path::new("/dev/null"), b"x", Perms::New(0o644)).unwrap_err();
        assert!(
            err.to_string()
                .contains("refusing /dev/null: it is a character device"),
            "{err}"
        );
        assert!(fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device_like());
    }

    trait CharDevice {
        fn is_char_device_like(&self) -> bool;
    }
    impl CharDevice for fs::FileType {
        fn is_char_device_like(&self) -> bool {
            std::os::unix::fs::FileTypeExt::is_char_device(self)
        }
    }

    #[test]
    #[cfg_attr(
        not(feature = "kernel-tier"),
        ignore = "kernel tier: needs root or Debian's packages; bash scripts/test.sh runs it"
    )]
    fn a_link_planted_in_a_directory_others_can_change_is_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        let open = d.path().join("open");
        fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        symlink(&victim, open.join("state.json")).unwrap();
        let err = replace(&open.join("state.json"), b"{}", Perms::New(0o644)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "refusing {o}/state.json: {o} is writable by group and others (mode 0777), so users other than root could change what binfmtctl does as root; make it root's and not writable by others (chown root:root {o} && chmod go-w {o}), or use a path only root can change",
                o = open.display()
            )
        );
        assert!(read(&open.join("state.json"), strict(), MAX_FILE).is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        // Shown only (export, status): the type is checked, the owner is not.
        assert!(read(&open.join("state.json"), Policy::new(Use::Show), MAX_FILE).is_ok());
    }

    #[test]
    #[cfg_attr(
        not(feature = "kernel-tier"),
        ignore = "kernel tier: needs root or Debian's packages; bash scripts/test.sh runs it"
    )]
    fn a_link_in_a_trusted_directory_is_followed_when_its_target_is_trusted_too() {
        let d = tempfile::tempdir().unwrap();
        let (etc, repo) = (d.path().join("etc"), d.path().join("repo"));
        fs::create_dir(&etc).unwrap();
        fs::create_dir(&repo).unwrap();
        fs::write(repo.join("c.toml"), "old").unwrap();
        symlink("../repo/c.toml", etc.join("c.toml")).unwrap();
        replace(&etc.join("c.toml"), b"new", Perms::New(0o644)).unwrap();
        assert_eq!(fs::read_to_string(repo.join("c.toml")).unwrap(), "new");
        assert!(fs::symlink_metadata(etc.join("c.toml"))
            .unwrap()
            .file_type()
            .is_symlink());
        // The same link into a directory others can change is refused.
        chmod(&repo, 0o757);
        let err = read(&etc.join("c.toml"), strict(), MAX_FILE)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "{} is writable by others (mode 0757)",
                repo.display()
            )),
            "{err}"
        );
        // A config file others can write, or another user's, is refused.
        chmod(&repo, 0o755);
        chmod(&repo.join("c.toml"), 0o666);
        assert!(read(&etc.join("c.toml"), strict(), MAX_FILE).is_err());
        chmod(&repo.join("c.toml"), 0o644);
        std::os::unix::fs::chown(repo.join("c.toml"), Some(1000), None).unwrap();
        let err = read(&etc.join("c.toml"), strict(), MAX_FILE)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("c.toml is owned by uid 1000, not root"),
            "{err}"
        );
    }

    #[test]
    fn kernel_files_are_opened_only_as_regular_files_never_through_links() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("register"), "").unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        symlink(&victim, d.path().join("entry")).unwrap();
        assert!(open_to_write(d.path(), OsStr::new("register")).is_ok());
        let err = open_to_write(d.path(), OsStr::new("entry")).unwrap_err();
        assert!(
            err.to_string()
                .contains("it is a symlink, not a regular file"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn created_directories_and_files_get_exact_modes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b/state.json");
        replace(&p, b"{}", Perms::New(0o644)).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&d.path().join("a")), 0o755);
        assert_eq!(mode(&d.path().join("a/b")), 0o755);
        assert_eq!(mode(&p), 0o644);
    }
}
