//! Starting programs exactly: finding one in `$PATH` as execvp(3) does ([`resolve`]), then
//! `execve(2)` of that path ([`replace`], or [`spawn`] for a child), with no second try
//! through `/bin/sh`.
//!
//! std's `Command::exec` calls glibc's `execvp`, which runs a file the kernel refuses with
//! `ENOEXEC` as a shell script (`/bin/sh FILE`), slash in its path or not. For binfmtctl that
//! turns "no binfmt_misc entry runs this program" into a shell reading an ELF file ("Syntax
//! error: word unexpected") or, for a `#!` script whose interpreter is a foreign program, into
//! the script's body run by the host's shell. So `run`, `build` and `check` exec through here.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use nix::sys::signal::SigHandler;

/// Where execvp(3) looks when `$PATH` is unset (glibc's default).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Find the program as execvp(3) does: a name with a `/` is a path; otherwise the first
/// executable file of that name in `$PATH` (an empty entry is the current directory).
pub fn resolve(typed: &OsStr, path_var: Option<&OsStr>) -> anyhow::Result<PathBuf> {
    if typed.is_empty() {
        anyhow::bail!("the program name is empty; give a program to run");
    }
    if typed.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(typed));
    }
    let search = path_var.unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut not_executable = None;
    for dir in std::env::split_paths(search) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(typed);
        if !candidate.is_file() {
            continue;
        }
        if nix::unistd::access(&candidate, nix::unistd::AccessFlags::X_OK).is_ok() {
            return Ok(candidate);
        }
        not_executable.get_or_insert(candidate);
    }
    Err(match not_executable {
        Some(file) => NotRunnable::NotExecutable(file),
        None => NotRunnable::NotFound(typed.to_owned()),
    }
    .into())
}

/// A program [`resolve`] cannot give: its own type, so that `build` can end with 127 or 126
/// ([`NotRunnable::status`]) where `run` ends with 2.
#[derive(Debug, thiserror::Error)]
pub enum NotRunnable {
    #[error("{}: not found in $PATH; give its path, e.g. ./{}", .0.to_string_lossy(), .0.to_string_lossy())]
    NotFound(OsString),
    #[error("{}: permission denied: the file is not executable; chmod +x it, or give another path", .0.display())]
    NotExecutable(PathBuf),
}

impl NotRunnable {
    /// env(1)'s status for it: 127 not found, 126 not executable.
    pub fn status(&self) -> u8 {
        match self {
            NotRunnable::NotFound(_) => crate::exit_codes::NOT_FOUND,
            NotRunnable::NotExecutable(_) => crate::exit_codes::NOT_EXECUTABLE,
        }
    }
}

/// The file starts with `#!`.
pub fn is_script(path: &Path) -> bool {
    let mut start = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut start))
        .is_ok_and(|()| &start == b"#!")
}

/// Exec `program` with `argv` (argv[0] included) and the environment `env`, or this
/// process's own when `None` (nothing copied: `run`'s usual case, where every microsecond is
/// overhead on the program it starts). Returns only on failure, with the error of `execve`.
///
/// Like std before an exec, SIGPIPE goes back to its default action: Rust ignores it in its
/// own process, and the program must die of a closed pipe as it would started by a shell. The
/// signal mask is left as binfmtctl got it (std would clear it).
pub fn replace(
    program: &Path,
    argv: &[OsString],
    env: Option<Vec<(OsString, OsString)>>,
) -> io::Error {
    let c = |s: &OsStr| CString::new(s.as_bytes());
    let (Ok(path), Ok(args)) = (
        c(program.as_os_str()),
        argv.iter().map(|a| c(a)).collect::<Result<Vec<_>, _>>(),
    ) else {
        return io::Error::new(
            io::ErrorKind::InvalidInput,
            "an argument contains a NUL byte",
        );
    };
    let env: Option<Vec<CString>> = env.map(|env| {
        env.into_iter()
            .filter_map(|(name, value)| {
                let mut kv = name;
                kv.push("=");
                kv.push(value);
                c(&kv).ok()
            })
            .collect()
    });
    sigpipe(SigHandler::SigDfl);
    let result = match &env {
        Some(env) => nix::unistd::execve(&path, &args, env),
        // execv(3) is execve with `environ`: no PATH search, no /bin/sh retry.
        None => nix::unistd::execv(&path, &args),
    };
    // Failed: binfmtctl goes on (to report it), with a closed pipe an error again.
    sigpipe(SigHandler::SigIgn);
    match result {
        Ok(never) => match never {},
        Err(errno) => io::Error::from(errno),
    }
}

/// Start `program` as a child with `argv` (argv[0] included) and the environment `env` (this
/// process's own when `None`), by `execve(2)` as [`replace`] does: no `$PATH` search, no
/// `/bin/sh` retry. An exec that fails (e.g. `ENOEXEC`) is the error of `spawn`.
///
/// `signals` are blocked here and passed on to the child by a thread reading them from a
/// signalfd (made before the child starts, so none is lost): whoever signals this process (a
/// terminal, a CI runner, `timeout`) reaches the child. The child starts with an empty signal
/// mask and SIGPIPE at its default, as a shell starts a program: std keeps the parent's mask
/// in the child, so the pre-exec hook clears it.
pub fn spawn(
    program: &Path,
    argv: &[OsString],
    env: Option<&[(OsString, OsString)]>,
    signals: &nix::sys::signal::SigSet,
) -> io::Result<std::process::Child> {
    let c = |s: &OsStr| {
        CString::new(s.as_bytes()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "an argument or variable contains a NUL byte",
            )
        })
    };
    let path = c(program.as_os_str())?;
    let args = argv.iter().map(|a| c(a)).collect::<io::Result<Vec<_>>>()?;
    let vars = env
        .map(|env| {
            env.iter()
                .map(|(name, value)| {
                    let mut kv = name.clone();
                    kv.push("=");
                    kv.push(value);
                    c(&kv)
                })
                .collect::<io::Result<Vec<_>>>()
        })
        .transpose()?;
    nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_BLOCK,
        Some(signals),
        None,
    )?;
    let forward = nix::sys::signalfd::SignalFd::new(signals)?;
    let mut cmd = std::process::Command::new(program);
    exec_in_child(&mut cmd, path, args, vars);
    let child = cmd.spawn()?;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    std::thread::spawn(move || {
        while let Ok(Some(info)) = forward.read_signal() {
            if let Ok(sig) =
                nix::sys::signal::Signal::try_from(i32::try_from(info.ssi_signo).unwrap_or(0))
            {
                let _ = nix::sys::signal::kill(pid, sig);
            }
        }
    });
    Ok(child)
}

/// Make `cmd`'s child clear its signal mask and exec through `execve` (`execv` when `vars`
/// is `None`) in its pre-exec hook (std would keep the mask and call `execvp`).
#[allow(unsafe_code)]
fn exec_in_child(
    cmd: &mut std::process::Command,
    path: CString,
    args: Vec<CString>,
    vars: Option<Vec<CString>>,
) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: the hook runs in the forked child. pthread_sigmask is async-signal-safe; the
    // allocation nix's execve makes for its pointer arrays cannot deadlock: the callers
    // (`build`, the report shim) start no other thread before the fork but the signal
    // forwarder, which holds no allocator lock while it waits in read(2).
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::signal::pthread_sigmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&nix::sys::signal::SigSet::empty()),
                None,
            )?;
            let result = match &vars {
                Some(vars) => nix::unistd::execve(&path, &args, vars),
                None => nix::unistd::execv(&path, &args),
            };
            match result {
                Ok(never) => match never {},
                Err(errno) => Err(io::Error::from(errno)),
            }
        });
    }
}

/// Set SIGPIPE's action: default before the exec (std set it to "ignore" at start-up), back
/// to "ignore" when the exec failed.
#[allow(unsafe_code)]
fn sigpipe(action: SigHandler) {
    debug_assert!(matches!(action, SigHandler::SigDfl | SigHandler::SigIgn));
    // SAFETY: SIG_DFL and SIG_IGN install no handler, so no code of ours can run in signal
    // context; nix marks `signal` unsafe for the handlers it can install, not for these.
    let _ = unsafe { nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, action) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::PathBuf;

    #[test]
    fn a_path_with_a_nul_byte_is_refused_not_truncated() {
        let err = replace(Path::new("/bin/true"), &[OsString::from("a\0b")], None);
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn resolve_like_execvp() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let file = |path: &Path, mode: u32| {
            std::fs::write(path, b"").unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        file(&a.join("plain"), 0o644);
        file(&b.join("plain"), 0o755);
        file(&b.join("prog"), 0o755);
        file(&a.join("only-plain"), 0o644);
        std::fs::create_dir(a.join("dir")).unwrap();
        let search = std::env::join_paths([&a, &b]).unwrap();
        let ok = |name: &str| resolve(OsStr::new(name), Some(&search)).map_err(|e| e.to_string());
        assert_eq!(ok("prog"), Ok(b.join("prog")));
        // Not executable in the first directory: the next one's.
        assert_eq!(ok("plain"), Ok(b.join("plain")));
        assert_eq!(
            ok("only-plain"),
            Err(format!(
                "{}: permission denied: the file is not executable; chmod +x it, or give another path",
                a.join("only-plain").display()
            ))
        );
        assert_eq!(
            ok("dir"),
            Err("dir: not found in $PATH; give its path, e.g. ./dir".to_owned())
        );
        // A name with a slash is a path, taken as it is.
        assert_eq!(ok("./x/y"), Ok(PathBuf::from("./x/y")));
        assert_eq!(ok("rel/prog"), Ok(PathBuf::from("rel/prog")));
        assert_eq!(
            ok(""),
            Err("the program name is empty; give a program to run".to_owned())
        );
        // $PATH unset: glibc's default.
        assert_eq!(
            resolve(OsStr::new("sh"), None).unwrap(),
            PathBuf::from("/bin/sh")
        );
    }
}
