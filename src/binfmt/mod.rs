//! The binfmt_misc registry: the line model, entry files, and the one place that reads and
//! writes the kernel's table. Everything here works on a root directory (by default
//! `/proc/sys/fs/binfmt_misc`), so the file formats can be exercised on a temp dir and the real
//! kernel in a private instance.

pub mod binfmtd;
pub mod bytes;
pub mod dispatch;
pub mod entry;
#[cfg(test)]
pub(crate) mod fake;
pub mod line;
pub(crate) mod table;

pub use dispatch::{matches, winner, wins};

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

pub use bytes::Bytes;
pub use entry::Entry;
pub use line::{EntryName, Flags, LineError, Matcher, Registration};
pub use table::Table;

/// Where binfmt_misc lives.
pub const DEFAULT_ROOT: &str = "/proc/sys/fs/binfmt_misc";
/// `BINFMTFS_MAGIC`, the superblock magic of a binfmt_misc mount.
const BINFMTFS_MAGIC: i64 = 0x4249_4e4d;

/// What went wrong with the kernel's table. Each message is complete, cause included, so no
/// variant has a `source()`: `{err:#}` would print the cause twice (it did: "ENOENT: No such
/// file or directory; the mount point does not exist; ...: ENOENT: No such file or directory").
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("binfmt_misc is not mounted at {}; run as root or: mount -t binfmt_misc binfmt_misc {}", .0.display(), .0.display())]
    NotMounted(PathBuf),
    #[error("cannot mount binfmt_misc at {}: {err}; {hint}", .root.display())]
    Mount {
        root: PathBuf,
        err: nix::Error,
        hint: &'static str,
    },
    #[error("permission denied writing {}: changing binfmt_misc needs root (CAP_SYS_ADMIN in the user namespace that mounted it); run with sudo", .0.display())]
    Permission(PathBuf),
    #[error("cannot write {}: binfmt_misc is mounted read-only at {}; remount it read-write: mount -o remount,rw {}", .0.display(), .1.display(), .1.display())]
    ReadOnly(PathBuf, PathBuf),
    #[error("an entry named {} already exists in {}", .0, .1.display())]
    Exists(String, PathBuf),
    // The line as written, between single quotes: copy-pasteable (`printf '%s' '...' >
    // register`), where Debug's escaping doubled every backslash of the \xNN escapes.
    #[error("the kernel refused '{line}' written to {}: {err}; {hint}", .path.display())]
    Rejected {
        path: PathBuf,
        line: String,
        err: io::Error,
        hint: String,
    },
    #[error("could not register the new {name} ({new}), nor put the old one back ({old})")]
    Lost {
        name: String,
        new: Box<RegistryError>,
        old: Box<RegistryError>,
    },
    #[error("{} is neither binfmt_misc nor an empty directory, so binfmtctl will not mount binfmt_misc over it (that would hide what it holds); check --root, or mount it yourself: mount -t binfmt_misc binfmt_misc DIR", .0.display())]
    NotEmpty(PathBuf),
    #[error("no entry named {} in {}", .0, .1.display())]
    NoSuchEntry(String, PathBuf),
    #[error("{}: {err}", .path.display())]
    Io { path: PathBuf, err: io::Error },
    /// Refused by the trust boundary (a `--root` users other than root can change, an entry
    /// file that is a symlink): the message says what and what to do.
    #[error("{0}")]
    Untrusted(String),
    #[error("{}: unexpected contents: {err}", .path.display())]
    Entry {
        path: PathBuf,
        err: entry::EntryError,
    },
}

/// A binfmt_misc instance, reached through the directory it is mounted on.
#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new(DEFAULT_ROOT)
    }
}

impl Registry {
    pub fn new(root: impl Into<PathBuf>) -> Registry {
        Registry { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of an entry's file.
    pub fn entry_path(&self, name: &EntryName) -> PathBuf {
        self.root.join(name.as_str())
    }

    /// True when binfmt_misc is mounted at the root (its `register` file exists).
    pub fn is_mounted(&self) -> bool {
        self.root.join("register").exists()
    }

    /// Mount binfmt_misc at the root when it is not mounted. Returns true when it mounted.
    ///
    /// Every command that writes to the table calls this first, so this is where the root is
    /// vetted by the trust boundary: in the host, a `--root` that users other than root can
    /// change is refused before anything is mounted or written (issue 11, case 1).
    pub fn ensure_mounted(&self) -> Result<bool, RegistryError> {
        crate::trust::vet_dir(&self.root).map_err(|e| RegistryError::Untrusted(e.to_string()))?;
        if self.is_mounted() {
            return Ok(false);
        }
        // An automount point answers the first access by mounting; is_mounted() triggered it.
        if let Ok(st) = nix::sys::statfs::statfs(&self.root) {
            if st.filesystem_type().0 == BINFMTFS_MAGIC && self.is_mounted() {
                return Ok(false);
            }
        }
        // Never over a directory with something in it (a mistyped --root /tmp): the mount would
        // hide it. The usual mount point, /proc/sys/fs/binfmt_misc, is empty until mounted.
        if std::fs::read_dir(&self.root).is_ok_and(|mut d| d.next().is_some()) {
            return Err(RegistryError::NotEmpty(self.root.clone()));
        }
        self.mount()
        .map_err(|err| RegistryError::Mount {
            root: self.root.clone(),
            err,
            hint: match err {
                nix::Error::EPERM | nix::Error::EACCES => "mounting needs root (CAP_SYS_ADMIN); run with sudo",
                nix::Error::ENODEV => "this kernel has no binfmt_misc: run `modprobe binfmt_misc` or use a kernel built with CONFIG_BINFMT_MISC",
                nix::Error::ENOENT => "the mount point does not exist; is /proc mounted?",
                nix::Error::EROFS => "the file system is read-only here",
                _ => "check that binfmt_misc is available in this kernel",
            },
        })?;
        Ok(true)
    }

    /// Mount binfmt_misc at the root as it is: the one mount of binfmt_misc, here and in a
    /// build's or a test's private instance (a new user namespace's own, on Linux >= 6.7).
    pub fn mount(&self) -> nix::Result<()> {
        nix::mount::mount(
            Some("binfmt_misc"),
            &self.root,
            Some("binfmt_misc"),
            nix::mount::MsFlags::MS_NOSUID
                | nix::mount::MsFlags::MS_NODEV
                | nix::mount::MsFlags::MS_NOEXEC,
            None::<&str>,
        )
    }

    /// Mount a fresh binfmt_misc at the usual place and return it. Inside a new user
    /// namespace on Linux >= 6.7 this is a private, empty instance; older kernels refuse (EPERM).
    pub fn mount_private() -> anyhow::Result<Registry> {
        use anyhow::Context as _;
        let registry = Registry::new(DEFAULT_ROOT);
        registry
            .mount()
            .context("cannot mount a private binfmt_misc instance (needs Linux >= 6.7)")?;
        Ok(registry)
    }

    /// Every entry as [`Registry::entries`] reads them; none where binfmt_misc is not
    /// mounted (nothing registered, nothing to read).
    pub fn entries_if_mounted(&self) -> Result<Vec<Entry>, RegistryError> {
        if self.is_mounted() {
            self.entries()
        } else {
            Ok(Vec::new())
        }
    }

    /// Every entry, in directory order: newest first on the kernels seen here (6.x), which is
    /// also the order the kernel tries them in (the newest matching entry wins). `check`
    /// verifies the winner by executing probes rather than trusting this order.
    pub fn entries(&self) -> Result<Vec<Entry>, RegistryError> {
        let mut out = Vec::new();
        for name in self.names()? {
            match self.entry(&name) {
                Ok(e) => out.push(e),
                // Removed between readdir and read: not an error.
                Err(RegistryError::NoSuchEntry(..)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The names of every entry, in directory order, without reading the entries.
    pub fn names(&self) -> Result<Vec<EntryName>, RegistryError> {
        if !self.is_mounted() {
            return Err(RegistryError::NotMounted(self.root.clone()));
        }
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |err| RegistryError::Io { path, err }
        };
        let mut out = Vec::new();
        for dirent in fs::read_dir(&self.root).map_err(io_err(&self.root))? {
            let dirent = dirent.map_err(io_err(&self.root))?;
            let file_name = dirent.file_name();
            let Some(name) = file_name.to_str() else {
                continue;
            };
            if matches!(name, "register" | "status") {
                continue;
            }
            if let Ok(name) = name.parse::<EntryName>() {
                out.push(name);
            }
        }
        Ok(out)
    }

    /// One entry, or `NoSuchEntry`.
    pub fn entry(&self, name: &EntryName) -> Result<Entry, RegistryError> {
        let path = self.entry_path(name);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RegistryError::NoSuchEntry(
                    name.to_string(),
                    self.root.clone(),
                ))
            }
            Err(err) => return Err(RegistryError::Io { path, err }),
        };
        Entry::parse(name.clone(), &text).map_err(|err| RegistryError::Entry { path, err })
    }

    /// Whether the whole facility is enabled (`status` reads "enabled").
    pub fn facility_enabled(&self) -> Result<bool, RegistryError> {
        let path = self.root.join("status");
        let text = fs::read_to_string(&path).map_err(|err| RegistryError::Io { path, err })?;
        Ok(text.trim() == "enabled")
    }

    /// Register one line, in one `write(2)`, as the kernel requires.
    pub fn register(&self, reg: &Registration) -> Result<(), RegistryError> {
        let path = self.root.join("register");
        let line = reg.to_string();
        let mut file = open_for_write(&path, &self.root)?;
        file.write(line.as_bytes())
            .map(|_| ())
            .map_err(|err| register_error(&self.root, reg, err))
    }

    /// The error `register` would surely give for `reg` without trying: flag `F` and an
    /// interpreter that does not exist (the kernel opens it when it registers). For a caller
    /// that must not remove anything it cannot put back before a registration that fails.
    pub fn refusal(&self, reg: &Registration) -> Option<RegistryError> {
        interpreter_refusal(&self.root, reg)
    }

    /// Remove one entry (write `-1` to its file).
    pub fn remove(&self, name: &EntryName) -> Result<(), RegistryError> {
        self.write_entry(name, "-1")
    }

    /// Enable or disable one entry (write `1` or `0` to its file).
    pub fn set_enabled(&self, name: &EntryName, enabled: bool) -> Result<(), RegistryError> {
        self.write_entry(name, if enabled { "1" } else { "0" })
    }

    fn write_entry(&self, name: &EntryName, what: &str) -> Result<(), RegistryError> {
        let path = self.entry_path(name);
        if !path.exists() {
            return Err(RegistryError::NoSuchEntry(
                name.to_string(),
                self.root.clone(),
            ));
        }
        let mut file = open_for_write(&path, &self.root)?;
        file.write_all(what.as_bytes())
            .map_err(|err| RegistryError::Io { path, err })
    }
}

/// Open a file of the table to write, through the trust boundary: the root vetted, the file
/// never a symlink (an entry name planted as a link to a root-owned file) and a regular file.
fn open_for_write(path: &Path, root: &Path) -> Result<fs::File, RegistryError> {
    let name = path.file_name().unwrap_or_default();
    let err = match crate::trust::open_to_write(root, name) {
        Ok(file) => return Ok(file),
        Err(crate::trust::TrustError::Io { err, .. }) => err,
        Err(refused) => return Err(RegistryError::Untrusted(refused.to_string())),
    };
    Err(match err.kind() {
        io::ErrorKind::PermissionDenied => RegistryError::Permission(path.to_owned()),
        io::ErrorKind::ReadOnlyFilesystem => {
            RegistryError::ReadOnly(path.to_owned(), root.to_owned())
        }
        io::ErrorKind::NotFound if !root.join("register").exists() => {
            RegistryError::NotMounted(root.to_owned())
        }
        _ => RegistryError::Io {
            path: path.to_owned(),
            err,
        },
    })
}

/// What a write of `reg` to `register` in the table at `root` that failed with `err` means.
fn register_error(root: &Path, reg: &Registration, err: io::Error) -> RegistryError {
    let path = root.join("register");
    match err.raw_os_error() {
        Some(libc_errno::EEXIST) => RegistryError::Exists(reg.name.to_string(), root.to_owned()),
        Some(libc_errno::EPERM | libc_errno::EACCES) if !reg.flags.fix_binary => {
            RegistryError::Permission(path)
        }
        _ => RegistryError::Rejected {
            path,
            line: reg.to_string(),
            hint: explain_register_errno(&err, reg),
            err,
        },
    }
}

/// The kernel's answer to registering `reg` with flag `F` when its interpreter does not
/// exist (it opens the interpreter while registering): see [`Registry::refusal`].
fn interpreter_refusal(root: &Path, reg: &Registration) -> Option<RegistryError> {
    if !reg.flags.fix_binary || Path::new(&reg.interpreter).exists() {
        return None;
    }
    let err = io::Error::from_raw_os_error(libc_errno::ENOENT);
    Some(register_error(root, reg, err))
}

/// What a failed write to `register` means, in words a user can act on.
fn explain_register_errno(err: &io::Error, reg: &Registration) -> String {
    let interp = &reg.interpreter;
    match err.raw_os_error() {
        Some(libc_errno::EINVAL) => "the kernel found the line malformed (see the binfmt_misc documentation)".to_owned(),
        Some(libc_errno::ENOENT) => format!("with flag F the kernel opens the interpreter now, and {interp} does not exist"),
        Some(libc_errno::EACCES | libc_errno::EPERM) => format!("with flag F the kernel opens the interpreter now, and {interp} cannot be opened: check its permissions, and that it is not on a noexec mount"),
        Some(libc_errno::ENOEXEC) => format!("{interp} is not an executable the kernel can open"),
        Some(libc_errno::ENOMEM) => "the kernel is out of memory".to_owned(),
        _ => "see the binfmt_misc documentation".to_owned(),
    }
}

/// errno values used here, without a libc dependency.
mod libc_errno {
    pub const EPERM: i32 = nix::errno::Errno::EPERM as i32;
    pub const ENOENT: i32 = nix::errno::Errno::ENOENT as i32;
    pub const ENOEXEC: i32 = nix::errno::Errno::ENOEXEC as i32;
    pub const ENOMEM: i32 = nix::errno::Errno::ENOMEM as i32;
    pub const EACCES: i32 = nix::errno::Errno::EACCES as i32;
    pub const EEXIST: i32 = nix::errno::Errno::EEXIST as i32;
    pub const EINVAL: i32 = nix::errno::Errno::EINVAL as i32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries_from_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("register"), "").unwrap();
        fs::write(dir.path().join("status"), "enabled\n").unwrap();
        let reg: Registration = ":n:M::MZ::/usr/bin/wine:F".parse().unwrap();
        fs::write(dir.path().join("n"), Entry::render(&reg, true)).unwrap();
        let r = Registry::new(dir.path());
        assert!(r.is_mounted());
        assert!(r.facility_enabled().unwrap());
        let entries = r.entries().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].registration(), reg);
        let missing: EntryName = "m".parse().unwrap();
        assert!(matches!(
            r.entry(&missing),
            Err(RegistryError::NoSuchEntry(..))
        ));
    }

    #[test]
    fn not_mounted_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::new(dir.path());
        let err = r.entries().unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "binfmt_misc is not mounted at {0}; run as root or: mount -t binfmt_misc binfmt_misc {0}",
                dir.path().display()
            )
        );
    }
}
