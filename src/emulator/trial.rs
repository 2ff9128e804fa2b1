//! Executing probes: write them out, exec them (plainly, or chrooted into an empty directory
//! inside fresh namespaces, which is what containers and the Nix sandbox see), and say what
//! the result means.

use std::fs;
use std::io;

use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::model::outcome::Outcome;
use crate::probe::{Probe, FIXED_STATUS, MARKER};
use crate::trust::scratch::{self, Scratch};

/// The argv[0] probes are run with: its first byte comes back as the exit status when argv[0]
/// reaches the program (flag P honoured).
pub const ARGV0: &str = "Zbinfmtctl-probe";
/// How the hidden `__exec-in-chroot` helper reports an exec failure on stderr.
pub const EXEC_ERROR_PREFIX: &str = "binfmtctl-exec-error: ";
/// How it reports that it could not set up the chroot (no namespaces): nothing was tested.
pub const SETUP_ERROR_PREFIX: &str = "binfmtctl-setup-error: ";

/// A private directory holding probes, in the temp directory the trust boundary allows
/// ([`scratch::temp_parent`]: root does not execute a probe from a directory another user
/// could swap); removed when dropped.
pub struct ProbeDir {
    dir: Scratch,
}

impl ProbeDir {
    /// A new empty directory (mode 0755).
    pub fn new() -> anyhow::Result<ProbeDir> {
        let tmp = scratch::temp_parent("the probe directory")?;
        let dir = Scratch::create_unique_in(&tmp, PROBE_DIR_PREFIX, 0o755)?;
        remove_stale_probe_dirs(&tmp, STALE_PROBE_DIR);
        Ok(ProbeDir { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a probe as an executable file named after its system.
    pub fn write(&self, probe: &Probe) -> io::Result<PathBuf> {
        self.dir
            .write_new(Path::new(probe.system), &probe.bytes, 0o755)
    }

    /// Write a probe alone in a directory of its own, [`ProbeDir::alone`] (a chroot holding
    /// nothing else).
    pub fn write_alone(&self, probe: &Probe) -> io::Result<()> {
        let rel = alone_in(probe).join(probe.system);
        self.dir.write_new(&rel, &probe.bytes, 0o755)?;
        Ok(())
    }

    /// The directory [`ProbeDir::write_alone`] writes `probe` in.
    pub fn alone(&self, probe: &Probe) -> PathBuf {
        self.path().join(alone_in(probe))
    }
}

/// A probe's own directory in a probe directory: `<system>.d`.
fn alone_in(probe: &Probe) -> PathBuf {
    PathBuf::from(format!("{}.d", probe.system))
}

const PROBE_DIR_PREFIX: &str = "binfmtctl-probe-";
/// A probe directory lives as long as one `check` or native measurement: seconds. One this
/// old was left by a process that was killed (SIGKILL skips `Drop`).
const STALE_PROBE_DIR: std::time::Duration = std::time::Duration::from_secs(3600);

/// Remove this user's probe directories in `tmp` older than `stale`: tidiness, errors are
/// ignored. Only directories (never a symlink: `remove_dir_all` does not follow them inside
/// either) owned by the effective user, so nothing of another user's is touched.
fn remove_stale_probe_dirs(tmp: &Path, stale: std::time::Duration) {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    let me = nix::unistd::geteuid().as_raw();
    for entry in entries.filter_map(Result::ok) {
        if !entry
            .file_name()
            .as_encoded_bytes()
            .starts_with(PROBE_DIR_PREFIX.as_bytes())
        {
            continue;
        }
        let Ok(m) = fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let old = m
            .modified()
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > stale));
        if m.is_dir() && m.uid() == me && old {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Read the result of running a probe from its output.
fn judge(probe: &Probe, out: &std::process::Output) -> Outcome {
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(reason) = stderr
        .lines()
        .find_map(|l| l.strip_prefix(SETUP_ERROR_PREFIX))
    {
        return Outcome::NotTested {
            reason: reason.to_owned(),
        };
    }
    if let Some(rest) = stderr
        .lines()
        .find_map(|l| l.strip_prefix(EXEC_ERROR_PREFIX))
    {
        return match rest.split_whitespace().next() {
            Some("ENOEXEC") => Outcome::NoEntry,
            Some("ENOENT") => Outcome::NoInterpreter,
            _ => Outcome::Failed {
                message: format!("exec failed: {rest}"),
            },
        };
    }
    if out.stdout != MARKER {
        let how = match (out.status.code(), out.status.signal()) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "an unknown status".to_owned(),
        };
        return Outcome::Failed {
            message: format!(
                "the probe printed {:?} and ended with {how}, not the marker{}",
                String::from_utf8_lossy(&out.stdout),
                if stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!("; stderr: {}", stderr.trim())
                }
            ),
        };
    }
    let status = out.status.code().unwrap_or(-1);
    let preserved = if probe.reads_argv0 {
        status == i32::from(ARGV0.as_bytes()[0])
    } else {
        status == i32::from(FIXED_STATUS)
    };
    Outcome::Ran {
        argv0_preserved: preserved && probe.reads_argv0,
    }
}

/// Exec a probe file with argv[0] = [`ARGV0`], letting the kernel dispatch.
pub fn exec(probe: &Probe, file: &Path) -> Outcome {
    let mut cmd = Command::new(file);
    cmd.arg0(ARGV0);
    match retrying_etxtbsy(|| cmd.output()) {
        Ok(out) => judge(probe, &out),
        Err(e) => match e.raw_os_error().map(nix::errno::Errno::from_raw) {
            Some(nix::errno::Errno::ENOEXEC) => Outcome::NoEntry,
            Some(nix::errno::Errno::ENOENT) if file.exists() => Outcome::NoInterpreter,
            Some(nix::errno::Errno::EACCES) if on_noexec(file) => Outcome::NotTested {
                reason: format!(
                    "{} is on a file system mounted noexec, where no program runs; set TMPDIR to a directory \
                     where programs may run",
                    file.parent().unwrap_or(file).display()
                ),
            },
            _ => Outcome::Failed {
                message: format!("cannot exec {}: {e}", file.display()),
            },
        },
    }
}

/// Whether `file` is on a file system mounted noexec (a hardened /tmp).
fn on_noexec(file: &Path) -> bool {
    nix::sys::statvfs::statvfs(file)
        .is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_NOEXEC))
}

/// Exec each probe plainly (see [`exec`]), all at once in threads: the files are in `dir`,
/// named after their systems, as [`ProbeDir::write`] leaves them, every one written (and
/// closed) before the first is executed (a file still open for writing in a child being forked
/// makes exec fail with ETXTBSY). The outcomes in the order of `probes`.
pub fn exec_each(probes: &[Probe], dir: &Path) -> Vec<Outcome> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = probes
            .iter()
            .map(|p| scope.spawn(move || exec(p, &dir.join(p.system))))
            .collect();
        handles
            .into_iter()
            .zip(probes)
            .map(|(h, p)| {
                h.join().unwrap_or_else(|_| Outcome::Failed {
                    message: format!(
                        "binfmtctl hit an internal error running the {} probe",
                        p.system
                    ),
                })
            })
            .collect()
    })
}

/// Try `attempt` again while it fails with ETXTBSY (a just-written file's descriptor still
/// open in a process another thread forked an instant ago), up to 20 more times.
fn retrying_etxtbsy<T>(mut attempt: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let mut tries = 0;
    loop {
        match attempt() {
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ETXTBSY as i32) && tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            other => return other,
        }
    }
}

/// Exec a probe chrooted into its (otherwise empty) directory, in fresh user and mount
/// namespaces (a mount namespace alone for root where user namespaces are refused: see
/// `namespace::chroot`), through the hidden `__exec-in-chroot` subcommand of this very binary.
/// [`Outcome::NotTested`] when the chroot could not be set up.
pub fn exec_in_chroot(probe: &Probe, dir: &Path) -> Outcome {
    let me = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            return Outcome::Failed {
                message: format!("cannot find binfmtctl itself: {e}"),
            }
        }
    };
    let inside = Path::new("/").join(probe.system);
    match Command::new(me)
        .arg("__exec-in-chroot")
        .arg(dir)
        .arg(&inside)
        .arg(ARGV0)
        .output()
    {
        Ok(out) => judge(probe, &out),
        Err(e) => Outcome::Failed {
            message: format!("cannot start the chroot helper: {e}"),
        },
    }
}

/// What `__exec-in-chroot` does: enter namespaces, chroot, exec. Returns only on failure,
/// with the line to print on stderr in the form `judge` reads: a failure to set up the chroot
/// (namespaces refused) apart from a failed exec, which is a finding about the entry.
pub fn chroot_and_exec(dir: &Path, program: &Path, argv0: &str) -> String {
    if let Err(e) = crate::sys::namespace::chroot(dir) {
        return format!("{SETUP_ERROR_PREFIX}{e:#}");
    }
    let Err(err) = retrying_etxtbsy(|| {
        Err::<std::convert::Infallible, _>(crate::sys::exec::replace(
            program,
            &[argv0.into()],
            None,
        ))
    });
    let name = err.raw_os_error().map_or_else(
        || "EIO".to_owned(),
        |n| format!("{:?}", nix::errno::Errno::from_raw(n)),
    );
    format!("{EXEC_ERROR_PREFIX}{name} {err}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn exec_is_tried_again_only_while_the_file_is_busy() {
        use nix::errno::Errno;
        // (errors before the attempt that succeeds) -> (attempts, the error returned)
        let cases = [
            (vec![], 1, None),
            (vec![Errno::ETXTBSY; 3], 4, None),
            (vec![Errno::ENOEXEC], 1, Some(Errno::ENOEXEC)),
            (vec![Errno::ETXTBSY; 30], 21, Some(Errno::ETXTBSY)),
        ];
        for (errors, attempts, returned) in cases {
            let mut n = 0;
            let got = super::retrying_etxtbsy(|| {
                n += 1;
                errors
                    .get(n - 1)
                    .map_or(Ok(()), |&e| Err(std::io::Error::from(e)))
            });
            assert_eq!(n, attempts, "{errors:?}");
            assert_eq!(
                got.err().and_then(|e| e.raw_os_error()),
                returned.map(|e| e as i32),
                "{errors:?}"
            );
        }
    }

    #[test]
    fn probe_dirs_of_killed_processes_are_removed_once_stale() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = |name: &str| {
            let p = tmp.path().join(name);
            std::fs::create_dir(&p).unwrap();
            std::fs::write(p.join("riscv64-linux"), "probe").unwrap();
            p
        };
        let (old, fresh, other) = (
            dir("binfmtctl-probe-1-a-0"),
            dir("binfmtctl-probe-2-b-0"),
            dir("unrelated-1"),
        );
        let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        for p in [&old, &other] {
            std::fs::File::open(p)
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        super::remove_stale_probe_dirs(tmp.path(), super::STALE_PROBE_DIR);
        assert!(
            !old.exists(),
            "a stale probe directory is removed, contents and all"
        );
        assert!(fresh.exists(), "a recent one may belong to a check at work");
        assert!(other.exists(), "other directories are never touched");
    }
}
