//! The build's own directory: the sysroot view that is its `$QEMU_LD_PREFIX`, and the files
//! of binfmtctl's shim (report, launcher). A tmpfs in the build's mount namespace for a private
//! instance; a temp directory removed afterwards for the host table.

use std::fs;
use std::os::unix::fs::{symlink, DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::PathBuf;

use anyhow::{Context as _, Result};

use super::{shim, Wanted};
use crate::emulator::sysroot;

/// What goes in a build directory.
pub(super) struct Contents<'a> {
    pub(super) wanted: &'a [Wanted<'a>],
    pub(super) plan: &'a sysroot::view::Plan,
    pub(super) report: bool,
    /// The systems binfmtctl's shim stands in front of.
    pub(super) shims: &'a super::Shims<'a>,
    pub(super) given: &'a [(String, PathBuf)],
    pub(super) env_prefix: Option<&'a std::ffi::OsStr>,
}

/// The build's own directory: `view/` (the sysroot view, the build's `$QEMU_LD_PREFIX`), and
/// for the systems whose interpreter is binfmtctl's shim (a report, or a loader found
/// nowhere): `shim/<system>` (binfmtctl itself, registered as the interpreter),
/// `qemu/<system>` (the real qemu), `hint/<system>` (what to do when a loader is missing),
/// `missing/` (one file a loader already reported missing), and `report.jsonl` with --report.
/// World-readable: a program the build starts as another user must find its loader too.
///
/// In a private instance it is a tmpfs mounted in the build's mount namespace on
/// [`BuildDir::mountpoint`]: it vanishes with the build, whatever kills it. In the host table
/// it is a new directory in the temp dir, removed when dropped.
pub(super) struct BuildDir {
    pub(super) path: PathBuf,
    remove_on_drop: bool,
}

impl BuildDir {
    /// The caller's own directory for the private tmpfs: `<temp dir>/binfmtctl-build-u<uid>`,
    /// created once and left empty (mounted on only inside builds' namespaces; its time set at
    /// every build so that /tmp cleaners leave it alone). One that another user owns, or that
    /// is not a plain directory, is passed over for a new one of this build's (left empty
    /// behind it).
    pub(super) fn mountpoint() -> Result<BuildDir> {
        let uid = nix::unistd::getuid();
        let parent = parent()?;
        // Squatted names are passed over for the next, `-1`, `-2`, ...: a few at most, each
        // the caller's own and left empty, so nothing piles up build after build.
        for n in 0..16 {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!("-{n}")
            };
            let path = parent.join(format!("{}u{uid}{suffix}", shim::BUILD_DIR_PREFIX));
            if own_empty_dir(&path, uid.as_raw())? {
                // Whatever the umask; and a new time for tmpfiles cleaners.
                let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o755));
                let _ = fs::File::open(&path)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                return Ok(BuildDir {
                    path,
                    remove_on_drop: false,
                });
            }
        }
        anyhow::bail!(
            "the build's directories {}/{}u{uid}* are all taken by other users or hold files; remove them, or \
             set TMPDIR to a directory of your own",
            parent.display(),
            shim::BUILD_DIR_PREFIX
        )
    }

    /// A new directory in the temp dir, filled, removed when dropped.
    pub(super) fn temp(contents: &Contents) -> Result<BuildDir> {
        let path =
            crate::emulator::trial::create_unique_dir_in(&parent()?, shim::BUILD_DIR_PREFIX, 0o755)
                .context("cannot create the build's directory")?;
        let dir = BuildDir {
            path,
            remove_on_drop: true,
        };
        fs::set_permissions(&dir.path, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} readable by all", dir.path.display()))?;
        dir.fill(contents)?;
        Ok(dir)
    }

    pub(super) fn fill(&self, c: &Contents) -> Result<()> {
        let mkdir = |sub: &str, mode: u32| -> Result<()> {
            let p = self.path.join(sub);
            fs::DirBuilder::new()
                .mode(mode)
                .create(&p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            // Whatever the umask.
            fs::set_permissions(&p, fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot set the mode of {}", p.display()))
        };
        if !c.plan.links.is_empty() {
            mkdir("view", 0o755)?;
            sysroot::view::create(&self.view(), c.plan).with_context(|| {
                format!(
                    "cannot create the sysroot view in {}",
                    self.view().display()
                )
            })?;
        }
        let shimmed: Vec<&Wanted> = c
            .wanted
            .iter()
            .filter(|w| c.shims.fronts(&w.profile.system))
            .collect();
        if shimmed.is_empty() {
            return Ok(());
        }
        let me =
            std::env::current_exe().context("cannot find binfmtctl itself for the build's shim")?;
        for sub in ["shim", "qemu", "hint"] {
            mkdir(sub, 0o755)?;
        }
        // Any user the build runs a program as may record a loader as reported.
        mkdir("missing", 0o1777)?;
        for w in shimmed {
            let system = &*w.profile.system;
            symlink(&me, self.shim(system))?;
            symlink(&w.interpreter.path, self.path.join("qemu").join(system))?;
            let looked_in = sysroot::view::looked_in(system, c.given, c.env_prefix);
            // Read by the launcher (shim::missing_loader), which knows the loader: the
            // profile's Debian architecture first, the places looked in, the option last.
            fs::write(
                self.path.join("hint").join(system),
                format!(
                    "{}\n{}\nbinfmtctl build --sysroot {system}=DIR\n",
                    w.profile.debian.as_deref().unwrap_or_default(),
                    looked_in.join("\n")
                ),
            )?;
        }
        if c.report {
            fs::OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o666)
                .open(self.path.join(shim::REPORT_FILE))?;
            // Whatever the umask: a program the build runs as another user is reported too
            // (the file is in the build's own tmpfs, or its own directory).
            fs::set_permissions(
                self.path.join(shim::REPORT_FILE),
                fs::Permissions::from_mode(0o666),
            )?;
        }
        Ok(())
    }

    pub(super) fn shim(&self, system: &str) -> PathBuf {
        self.path.join("shim").join(system)
    }

    pub(super) fn view(&self) -> PathBuf {
        self.path.join("view")
    }
}

/// `path` is (now) an empty directory of `uid`'s, no link: created when missing.
fn own_empty_dir(path: &std::path::Path, uid: u32) -> Result<bool> {
    use std::os::unix::fs::MetadataExt as _;
    match fs::DirBuilder::new().mode(0o755).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot create the build's directory {}", path.display()))
        }
    }
    Ok(
        fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_dir() && m.uid() == uid)
            && fs::read_dir(path).is_ok_and(|mut d| d.next().is_none()),
    )
}

/// Where the build's directory goes: `$TMPDIR` (else /tmp) when only root and the caller can
/// change the way to it (root-owned directories not writable by others, or sticky like /tmp;
/// the caller's own). Another user's directory would let them swap the build's directory,
/// and with it the qemu the shim runs and the loaders qemu loads, under the caller (root,
/// under `sudo -E` with a per-user TMPDIR): then /tmp, if it passes, with a note; else an
/// error.
fn parent() -> Result<PathBuf> {
    let uid = nix::unistd::getuid().as_raw();
    let tmp = std::env::temp_dir();
    let Some(why) = crate::trust::untrusted_except(&tmp, Some(uid)) else {
        return Ok(tmp);
    };
    let fallback = PathBuf::from("/tmp");
    if tmp != fallback && crate::trust::untrusted_except(&fallback, Some(uid)).is_none() {
        crate::report::note(&format!(
            "the build's directory goes to /tmp, not {}: {} {}, so another user could swap what the build runs",
            tmp.display(),
            why.path.display(),
            why.why
        ));
        return Ok(fallback);
    }
    anyhow::bail!(
        "cannot keep the build's directory in {}: {} {}, so another user could swap what the build runs; set TMPDIR \
         to a directory only you (and root) can change",
        tmp.display(),
        why.path.display(),
        why.why
    )
}

impl Drop for BuildDir {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}
