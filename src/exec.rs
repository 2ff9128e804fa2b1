//! Replacing this process with a program, exactly: `execve(2)` of the path given, with no
//! `$PATH` search and no second try through `/bin/sh`.
//!
//! std's `Command::exec` calls glibc's `execvp`, which runs a file the kernel refuses with
//! `ENOEXEC` as a shell script (`/bin/sh FILE`), slash in its path or not. For binfmtctl that
//! turns "no binfmt_misc entry runs this program" into a shell reading an ELF file ("Syntax
//! error: word unexpected") or, for a `#!` script whose interpreter is a foreign program, into
//! the script's body run by the host's shell. So `run`, `build` and `check` exec through here.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use nix::sys::signal::SigHandler;

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

/// Start `program` as a child with `argv` (argv[0] included) and exactly the environment
/// `env`, by `execve(2)` as [`replace`] does: no `$PATH` search, no `/bin/sh` retry. An exec
/// that fails (e.g. `ENOEXEC`) is the error of `spawn`. std resets the child's signal mask and
/// SIGPIPE before it runs the pre-exec hook, so the program starts as a shell would start it.
pub fn spawn(
    program: &Path,
    argv: &[OsString],
    env: &[(OsString, OsString)],
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
        .iter()
        .map(|(name, value)| {
            let mut kv = name.clone();
            kv.push("=");
            kv.push(value);
            c(&kv)
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut cmd = std::process::Command::new(program);
    exec_in_child(&mut cmd, path, args, vars);
    cmd.spawn()
}

/// Make `cmd`'s child exec through `execve` in its pre-exec hook (std would call `execvp`).
#[allow(unsafe_code)]
fn exec_in_child(
    cmd: &mut std::process::Command,
    path: CString,
    args: Vec<CString>,
    vars: Vec<CString>,
) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: the hook runs in the forked child of a single-threaded process (`build` starts
    // no threads before it spawns the command), so the allocation nix's execve makes for its
    // pointer arrays cannot deadlock on a lock another thread held at fork; it touches no
    // other state of the parent.
    unsafe {
        cmd.pre_exec(move || match nix::unistd::execve(&path, &args, &vars) {
            Ok(never) => match never {},
            Err(errno) => Err(io::Error::from(errno)),
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

    #[test]
    fn a_path_with_a_nul_byte_is_refused_not_truncated() {
        let err = replace(Path::new("/bin/true"), &[OsString::from("a\0b")], None);
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
