//! How `run` starts a program, as pure choices over values: natively, through the kernel's
//! binfmt_misc entry, or by exec-ing qemu-user directly, and qemu's command line
//! (`qemu -0 ARGV0 [-L SYSROOT] [-E LD_X=..]... -- PROGRAM ARGS...`).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::emulator::interpreter::Interpreter;

/// Whether the host runs the program itself. `native_system`: the host runs its system;
/// `secondary`: that system is not the host's own (i386 on x86_64); `sysroot_given`:
/// `--sysroot`; `host_loader`: for a dynamically linked program, whether the host has its
/// loader (None for a static one). A secondary system's dynamic program whose loader the
/// host lacks (no libc6-i386 on an amd64 machine), or that is given a `--sysroot`, runs under
/// qemu with a sysroot instead: exec-ing it would fail with a bare "No such file or directory".
pub(super) fn runs_natively(
    native_system: bool,
    secondary: bool,
    sysroot_given: bool,
    host_loader: Option<bool>,
) -> bool {
    match host_loader {
        _ if !native_system => false,
        _ if !secondary => true,
        None => true,
        Some(host_has_it) => host_has_it && !sysroot_given,
    }
}

/// How the program is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// exec it: the host runs it.
    Native,
    /// exec it: a working binfmt_misc entry runs it.
    Kernel,
    /// exec qemu-user with it.
    Qemu,
}

/// The route for a program. `kernel_runs_it`: the winning enabled entry of a mounted, enabled
/// binfmt_misc has a usable interpreter. `needs_sysroot`: qemu needs `-L` to find the loader,
/// which a registered interpreter would not be given.
pub(super) fn route(native: bool, kernel_runs_it: bool, needs_sysroot: bool) -> Route {
    if native {
        Route::Native
    } else if kernel_runs_it && !needs_sysroot {
        Route::Kernel
    } else {
        Route::Qemu
    }
}

/// What to `execve`: the file, `argv[0]`, `argv[1..]`, and the variables to take out of the
/// environment (everything else passes unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Invocation {
    pub(super) program: PathBuf,
    pub(super) argv0: OsString,
    pub(super) args: Vec<OsString>,
    pub(super) env_remove: Vec<OsString>,
}

/// Exec the program itself, `argv[0]` as the user typed it.
pub(super) fn direct(path: &Path, typed: &OsStr, rest: &[OsString]) -> Invocation {
    Invocation {
        program: path.to_owned(),
        argv0: typed.to_owned(),
        args: rest.to_vec(),
        env_remove: Vec::new(),
    }
}

/// Exec qemu-user with the program: `qemu -0 ARGV0 [-L SYSROOT] [-E LD_X=..]... -- PATH ARGS`.
///
/// A dynamically linked qemu would itself obey `LD_PRELOAD`, `LD_LIBRARY_PATH`, ... meant for
/// the emulated program, so they move out of the environment into `-E` options, which qemu
/// sets for the program only (as NixOS's binfmt-p-wrapper.c does). A static qemu ignores them
/// and passes the environment on as it is. `--` ends qemu's options, so a program path
/// starting with `-` is not taken for one.
pub(super) fn qemu_invocation(
    qemu: &Interpreter,
    typed: &OsStr,
    path: &Path,
    sysroot: Option<&Path>,
    rest: &[OsString],
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Invocation> {
    let mut args: Vec<OsString> = vec!["-0".into(), typed.to_owned()];
    if let Some(dir) = sysroot {
        args.extend(["-L".into(), dir.into()]);
    }
    let mut env_remove = Vec::new();
    if !qemu.is_static {
        for (name, value) in env {
            if !name.as_bytes().starts_with(b"LD_") {
                continue;
            }
            let mut setting = name.clone();
            setting.push("=");
            setting.push(&value);
            // qemu splits an -E argument at commas (linux-user/main.c, handle_arg_set_env).
            if setting.as_bytes().contains(&b',') {
                bail!(
                    "the environment variable {} contains a comma, which {} cannot pass on to the program (qemu splits -E at commas); \
                     unset it, or use a statically linked qemu, which LD_* variables do not affect (apt install qemu-user-static)",
                    name.to_string_lossy(),
                    qemu.path.display()
                );
            }
            args.extend(["-E".into(), setting]);
            env_remove.push(name);
        }
    }
    args.extend(["--".into(), path.into()]);
    args.extend(rest.iter().cloned());
    Ok(Invocation {
        program: qemu.path.clone(),
        argv0: qemu.path.clone().into(),
        args,
        env_remove,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt as _;

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    fn oss(v: &[&str]) -> Vec<OsString> {
        v.iter().map(|s| os(s)).collect()
    }

    /// A dynamically linked qemu: it moves `LD_*` variables into `-E`.
    fn dynamic_qemu() -> Interpreter {
        Interpreter {
            path: PathBuf::from("/usr/bin/qemu-riscv64"),
            is_static: false,
        }
    }

    #[test]
    fn route_table() {
        // (native, a working registration, qemu needs -L) -> route
        let cases = [
            ((true, true, true), Route::Native),
            ((true, true, false), Route::Native),
            ((true, false, true), Route::Native),
            ((true, false, false), Route::Native),
            ((false, true, false), Route::Kernel),
            // The registered qemu would not get -L: it could not find the loader.
            ((false, true, true), Route::Qemu),
            ((false, false, false), Route::Qemu),
            ((false, false, true), Route::Qemu),
        ];
        for ((native, kernel, sysroot), expected) in cases {
            assert_eq!(
                route(native, kernel, sysroot),
                expected,
                "{native} {kernel} {sysroot}"
            );
        }
    }

    #[test]
    fn a_secondary_system_s_dynamic_program_runs_natively_only_with_the_host_s_loader() {
        // (native system, secondary, --sysroot, host has the loader) -> natively
        let cases = [
            ((false, true, false, Some(true)), false),
            ((true, false, true, Some(false)), true), // the host's own: always natively
            ((true, true, false, None), true),        // static i386
            ((true, true, false, Some(true)), true),  // libc6-i386 installed
            ((true, true, false, Some(false)), false), // no loader: qemu with a sysroot
            ((true, true, true, Some(true)), false),  // --sysroot asks for it
        ];
        for ((native, secondary, given, loader), expected) in cases {
            assert_eq!(
                runs_natively(native, secondary, given, loader),
                expected,
                "{native} {secondary} {given} {loader:?}"
            );
        }
    }

    #[test]
    fn direct_keeps_argv0() {
        assert_eq!(
            direct(
                Path::new("/usr/bin/hello"),
                OsStr::new("hello"),
                &oss(&["a", "b"])
            ),
            Invocation {
                program: PathBuf::from("/usr/bin/hello"),
                argv0: os("hello"),
                args: oss(&["a", "b"]),
                env_remove: vec![],
            }
        );
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        vars.iter().map(|(n, v)| (os(n), os(v))).collect()
    }

    /// (name, qemu, sysroot, argv[1..], variables taken out of the environment)
    type Case<'a> = (
        &'a str,
        &'a Interpreter,
        Option<&'a str>,
        Vec<&'a str>,
        Vec<&'a str>,
    );

    #[test]
    fn qemu_argv_and_environment() {
        let vars = env(&[
            ("HOME", "/root"),
            ("LD_LIBRARY_PATH", "/opt/lib:/x"),
            ("OLD_LD", "1"),
            ("LDFLAGS", "-s"),
            ("LD_PRELOAD", "/p.so"),
        ]);
        let dynamic = dynamic_qemu();
        let fixed = Interpreter {
            path: PathBuf::from("/usr/bin/qemu-riscv64-static"),
            is_static: true,
        };
        let rest = oss(&["a", "-b"]);
        let cases: Vec<Case> = vec![
            (
                "static qemu, no sysroot: the environment passes as it is",
                &fixed,
                None,
                vec!["-0", "./hello", "--", "./hello", "a", "-b"],
                vec![],
            ),
            (
                "static qemu with a sysroot",
                &fixed,
                Some("/usr/riscv64-linux-gnu"),
                vec![
                    "-0",
                    "./hello",
                    "-L",
                    "/usr/riscv64-linux-gnu",
                    "--",
                    "./hello",
                    "a",
                    "-b",
                ],
                vec![],
            ),
            (
                "dynamic qemu: LD_* move into -E, in environment order",
                &dynamic,
                Some("/usr/riscv64-linux-gnu"),
                vec![
                    "-0",
                    "./hello",
                    "-L",
                    "/usr/riscv64-linux-gnu",
                    "-E",
                    "LD_LIBRARY_PATH=/opt/lib:/x",
                    "-E",
                    "LD_PRELOAD=/p.so",
                    "--",
                    "./hello",
                    "a",
                    "-b",
                ],
                vec!["LD_LIBRARY_PATH", "LD_PRELOAD"],
            ),
        ];
        for (name, qemu, sysroot, args, removed) in cases {
            let inv = qemu_invocation(
                qemu,
                OsStr::new("./hello"),
                Path::new("./hello"),
                sysroot.map(Path::new),
                &rest,
                vars.clone(),
            )
            .unwrap();
            assert_eq!(
                inv,
                Invocation {
                    program: qemu.path.clone(),
                    argv0: qemu.path.clone().into(),
                    args: oss(&args),
                    env_remove: oss(&removed),
                },
                "{name}"
            );
        }
    }

    #[test]
    fn qemu_argv_keeps_bytes_that_are_not_utf8() {
        let qemu = dynamic_qemu();
        let odd = OsString::from_vec(vec![b'/', 0xff, b'x']);
        let inv = qemu_invocation(
            &qemu,
            &odd,
            Path::new(&odd),
            None,
            std::slice::from_ref(&odd),
            vec![(os("LD_PRELOAD"), odd.clone())],
        )
        .unwrap();
        let mut setting = os("LD_PRELOAD=");
        setting.push(&odd);
        assert_eq!(
            inv.args,
            vec![
                os("-0"),
                odd.clone(),
                os("-E"),
                setting,
                os("--"),
                odd.clone(),
                odd
            ]
        );
    }

    #[test]
    fn a_comma_cannot_go_through_minus_e() {
        let qemu = dynamic_qemu();
        let err = qemu_invocation(
            &qemu,
            OsStr::new("hello"),
            Path::new("/bin/hello"),
            None,
            &[],
            env(&[("LD_PRELOAD", "a.so,b.so")]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the environment variable LD_PRELOAD contains a comma, which /usr/bin/qemu-riscv64 cannot pass on to the program (qemu splits -E at commas); \
             unset it, or use a statically linked qemu, which LD_* variables do not affect (apt install qemu-user-static)"
        );
        // A static qemu passes the environment unchanged: no problem there.
        let fixed = Interpreter {
            is_static: true,
            ..qemu
        };
        assert!(qemu_invocation(
            &fixed,
            OsStr::new("hello"),
            Path::new("/bin/hello"),
            None,
            &[],
            env(&[("LD_PRELOAD", "a.so,b.so")]),
        )
        .is_ok());
    }
}
