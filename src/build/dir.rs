//! The build's own directory: the sysroot view that is its `$QEMU_LD_PREFIX`, and the files
//! of binfmtctl's shim (report, launcher). A tmpfs in the build's mount namespace for a private
//! instance; a temp directory removed afterwards for the host table.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::{shim, Wanted};
use crate::emulator::sysroot;
use crate::trust::scratch::{self, Scratch};

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
    /// The host table's directory, made and removed by binfmtctl (None: the tmpfs's).
    temp: Option<Scratch>,
}

impl BuildDir {
    /// The caller's own directory for the private tmpfs: `<temp dir>/binfmtctl-build-u<uid>`,
    /// created once and left empty (mounted on only inside builds' namespaces; its time set at
    /// every build so that /tmp cleaners leave it alone). One that another user owns, or that
    /// is not a plain directory, is passed over for a new one of this build's (left empty
    /// behind it).
    pub(super) fn mountpoint() -> Result<BuildDir> {
        let uid = nix::unistd::getuid();
        let parent = scratch::temp_parent("the build's directory")?;
        // Squatted names are passed over for the next, `-1`, `-2`, ...: a few at most, each
        // the caller's own and left empty, so nothing piles up build after build.
        for n in 0..16 {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!("-{n}")
            };
            let path = parent.join(format!("{}u{uid}{suffix}", shim::BUILD_DIR_PREFIX));
            if scratch::own_empty_dir(&path, uid.as_raw()).with_context(|| {
                format!("cannot create the build's directory {}", path.display())
            })? {
                return Ok(BuildDir { path, temp: None });
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
        let temp = Scratch::create_unique_in(
            &scratch::temp_parent("the build's directory")?,
            shim::BUILD_DIR_PREFIX,
            0o755,
        )
        .context("cannot create the build's directory")?;
        let dir = BuildDir {
            path: temp.path().to_owned(),
            temp: Some(temp),
        };
        dir.fill(contents)?;
        Ok(dir)
    }

    pub(super) fn fill(&self, c: &Contents) -> Result<()> {
        let own;
        let dir = if let Some(temp) = &self.temp {
            temp
        } else {
            own = Scratch::open_own(&self.path)?;
            &own
        };
        let mkdir = |sub: &str, mode: u32| dir.mkdir(Path::new(sub), mode);
        if !c.plan.links.is_empty() {
            mkdir("view", 0o755)?;
            sysroot::view::create(dir, Path::new("view"), c.plan).with_context(|| {
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
            dir.symlink(&Path::new("shim").join(system), &me)?;
            dir.symlink(&Path::new("qemu").join(system), &w.interpreter.path)?;
            let looked_in = sysroot::view::looked_in(system, c.given, c.env_prefix);
            // Read by the launcher (shim::missing_loader), which knows the loader: the
            // profile's Debian architecture first, the places looked in, the option last.
            let hint = format!(
                "{}\n{}\nbinfmtctl build --sysroot {system}=DIR\n",
                w.profile.debian.as_deref().unwrap_or_default(),
                looked_in.join("\n")
            );
            dir.write_new(&Path::new("hint").join(system), hint.as_bytes(), 0o644)?;
        }
        if c.report {
            // Writable by all: a program the build runs as another user is reported too
            // (the file is in the build's own tmpfs, or its own directory).
            dir.write_new(Path::new(shim::REPORT_FILE), b"", 0o666)?;
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
