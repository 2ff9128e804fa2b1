//! The engine of `binfmtctl run`: run one program of any known system as if it were native,
//! as any user, with or without a binfmt_misc registration.
//!
//! Three ways to start it, chosen by [`route`]: natively; through the kernel, when a working
//! registration will run it; or by exec-ing qemu-user directly, as NixOS's binfmt-p-wrapper
//! does (`qemu -0 ARGV0 [-L SYSROOT] [-E LD_X=..]... -- PROGRAM ARGS...`). Every way ends in
//! `exec`, so the program's exit status or signal is binfmtctl's, and nothing is gained: no
//! setuid, no namespace, no capability.

use std::ffi::{OsStr, OsString};
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};

use crate::binfmt::{winner, Entry, Registry, RegistryError};
use crate::elf::{self, ElfError, ElfInfo};
use crate::emulator::interpreter::{self, Interpreter};
use crate::emulator::native;
use crate::emulator::sysroot::{self, Sysroot, SysrootError};
use crate::model::profile::{Profile, Profiles};

use crate::elf::{ET_DYN, ET_EXEC};
/// execve's "Exec format error": no binary handler, binfmt_misc included, takes the file.
const ENOEXEC: i32 = nix::libc::ENOEXEC;

/// What the engine needs from the command's context.
pub struct Env<'a> {
    pub profiles: &'a Profiles,
    pub registry: &'a Registry,
}

/// One program to run, as asked on the command line.
pub struct Request<'a> {
    /// `--system`: the program's system (default: read from the file).
    pub system: Option<&'a str>,
    /// `--sysroot DIR`.
    pub sysroot: Option<&'a Path>,
    /// `--interpreter Q`: the emulator to use.
    pub interpreter: Option<&'a Path>,
    /// The program and its arguments.
    pub command: &'a [OsString],
}

/// Run the program: ends by exec-ing it, so it returns only a failure to start it.
pub fn run(ctx: &Env, args: &Request) -> Result<ExitCode> {
    let Some((typed, rest)) = args.command.split_first() else {
        bail!("no program given; usage: binfmtctl run [OPTIONS] PROGRAM [ARGS]...");
    };
    let path = crate::sys::exec::resolve(typed, std::env::var_os("PATH").as_deref())?;
    let info = match elf::read_file(&path) {
        Ok(info) => info,
        Err(err @ ElfError::NotRegular { .. }) => return Err(err.into()),
        // The kernel runs `#!` scripts itself (binfmt_script), foreign interpreter or not.
        Err(_) if crate::sys::exec::is_script(&path) => {
            let err = exec(&direct(&path, typed, rest));
            if err.raw_os_error() == Some(ENOEXEC) {
                return Err(script_not_run(&path, ctx.profiles));
            }
            return Err(cannot(&path, &err));
        }
        Err(ElfError::InFile { err, .. }) if matches!(*err, ElfError::NotElf) => {
            bail!(
                "{}: not an ELF file (nor a #! script); binfmtctl run runs ELF programs",
                path.display()
            )
        }
        Err(err) => return Err(err.into()),
    };
    if !matches!(info.e_type, ET_EXEC | ET_DYN) {
        bail!(
            "{}: {} is not a program; binfmtctl run runs executables and PIE programs",
            path.display(),
            info.describe()
        );
    }
    let profile = match args.system {
        Some(name) => {
            let p = ctx.profiles.lookup(name)?;
            if !p.matcher().matches_header(&info.header) {
                anyhow::bail!(
                    "{} is {}, not a {} program; leave out --system to have it read from the file",
                    path.display(),
                    info.describe(),
                    p.system
                );
            }
            p
        }
        // The first match: systems with identical magics (armv6l/armv7l) share a qemu.
        None => match ctx.profiles.for_header(&info.header).first() {
            Some(profile) => profile,
            None => return Err(no_system(&path, &info)),
        },
    };
    // The table, not the measurement: measuring execs every probe (~20 ms), too slow for an
    // exec wrapper, and the table only claims what the CPU surely runs (no AArch32 on aarch64).
    let secondary = native::table().first() != Some(&&*profile.system);
    let (native, sysroot) = natively_or_sysroot(args, typed, profile, info.interp.as_deref())?;
    let sysroot_dir = match &sysroot {
        Some(Sysroot::Dir { path, .. }) => Some(path.as_path()),
        Some(Sysroot::Host) | None => None,
    };
    // --interpreter names the emulator to use: the kernel's entry would ignore it.
    let kernel = !native
        && args.interpreter.is_none()
        && kernel_runs(ctx.registry, profile, &path, &info.header);
    let by_qemu = || -> Result<Invocation> {
        let qemu = match args.interpreter {
            Some(given) => Interpreter::at(given).map_err(|e| anyhow!(e))?,
            None => interpreter::find_once(profile).ok_or_else(|| {
                anyhow!(
                    "{} is a {} program and no emulator for it was found; {}",
                    path.display(),
                    profile.system,
                    interpreter::install_hint(profile)
                )
            })?,
        };
        // A static qemu takes the environment as it is: no need to read it here.
        let env = (!qemu.is_static)
            .then(std::env::vars_os)
            .into_iter()
            .flatten();
        qemu_invocation(&qemu, typed, &path, sysroot_dir, rest, env)
    };
    let how = route(native, kernel, sysroot_dir.is_some());
    let invocation = match how {
        Route::Native | Route::Kernel => direct(&path, typed, rest),
        Route::Qemu => by_qemu()?,
    };
    let err = exec(&invocation);
    // The kernel refused what it was expected to run: the binfmt_misc entry went away
    // meanwhile, or the host lacks a secondary system the native table assumes (32-bit x86
    // switched off with ia32_emulation=0). qemu runs it. Never for the host's own system: a
    // native program the kernel refuses is broken, and qemu of the host's architecture would
    // only crash on it.
    if err.raw_os_error() == Some(ENOEXEC)
        && (how == Route::Kernel || (how == Route::Native && secondary))
    {
        let qemu = by_qemu()
            .map_err(|e| e.context(format!("cannot execute {}: {err}", path.display())))?;
        let again = exec(&qemu);
        return Err(anyhow!(
            "cannot execute {}: {err}; nor through {}: {again}",
            path.display(),
            qemu.program.display()
        ));
    }
    Err(cannot(&invocation.program, &err))
}

/// Whether the host runs the program itself ([`runs_natively`]), else the sysroot of a
/// dynamically linked one.
fn natively_or_sysroot(
    args: &Request,
    typed: &OsStr,
    profile: &Profile,
    interp: Option<&Path>,
) -> Result<(bool, Option<Sysroot>)> {
    let native_system = native::runs_natively(&profile.system);
    // The host's own system, not a secondary one it also runs (i386 on x86_64).
    let secondary = native::table().first() != Some(&&*profile.system);
    let native = runs_natively(
        native_system,
        secondary,
        args.sysroot.is_some(),
        interp.map(|loader| sysroot::loader_fits(profile, loader)),
    );
    let sysroot = find_sysroot(args, typed, profile, interp, native).map_err(|e| {
        if native_system {
            anyhow!("{e:#}; {}", natively_hint(profile))
        } else {
            e
        }
    })?;
    Ok((native, sysroot))
}

/// Whether the host runs the program itself. `native_system`: the host runs its system;
/// `secondary`: that system is not the host's own (i386 on x86_64); `sysroot_given`:
/// `--sysroot`; `host_loader`: for a dynamically linked program, whether the host has its
/// loader (None for a static one). A secondary system's dynamic program whose loader the
/// host lacks (no libc6-i386 on an amd64 machine), or that is given a `--sysroot`, runs under
/// qemu with a sysroot instead: exec-ing it would fail with a bare "No such file or directory".
fn runs_natively(
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

/// For a secondary native system's program (i386 on x86_64) whose loader is nowhere: how to
/// run it natively instead, the host's multilib C library (Debian's `libc6-i386`).
fn natively_hint(profile: &Profile) -> String {
    match &profile.debian {
        Some(arch) => format!(
            "or, to run it natively, install this machine's {arch} C library: apt install libc6-{arch}"
        ),
        None => format!("or install this machine's C library for {}", profile.system),
    }
}

/// How the program is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
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
fn route(native: bool, kernel_runs_it: bool, needs_sysroot: bool) -> Route {
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
struct Invocation {
    program: PathBuf,
    argv0: OsString,
    args: Vec<OsString>,
    env_remove: Vec<OsString>,
}

/// Exec the program itself, `argv[0]` as the user typed it.
fn direct(path: &Path, typed: &OsStr, rest: &[OsString]) -> Invocation {
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
fn qemu_invocation(
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

/// Replace this process; returns only on failure, with execve's error.
fn exec(inv: &Invocation) -> std::io::Error {
    let argv: Vec<OsString> = std::iter::once(inv.argv0.clone())
        .chain(inv.args.iter().cloned())
        .collect();
    let env = (!inv.env_remove.is_empty()).then(|| {
        std::env::vars_os()
            .filter(|(name, _)| !inv.env_remove.contains(name))
            .collect()
    });
    crate::sys::exec::replace(&inv.program, &argv, env)
}

/// A `#!` script the kernel refused: its interpreter is no program the kernel runs. Names
/// the interpreter, what it is, and the command that runs the script.
fn script_not_run(path: &Path, profiles: &crate::model::profile::Profiles) -> anyhow::Error {
    // The kernel reads the #! line from the first 256 bytes (BINPRM_BUF_SIZE) and splits the
    // interpreter from its one argument at the first blank.
    let mut head = Vec::new();
    let _ = std::fs::File::open(path).and_then(|f| f.take(256).read_to_end(&mut head));
    let line = head.strip_prefix(b"#!").unwrap_or(&head);
    let line = line.split(|&c| c == b'\n').next().unwrap_or_default();
    let line = line.trim_ascii_start();
    let end = line
        .iter()
        .position(|&c| c == b' ' || c == b'\t')
        .unwrap_or(line.len());
    let (interp, arg) = (&line[..end], line[end..].trim_ascii());
    let refused = format!(
        "{}: a #! script whose interpreter the kernel cannot run (Exec format error)",
        path.display()
    );
    if interp.is_empty() {
        return anyhow!("{refused}: its #! line names no interpreter");
    }
    let interp = Path::new(OsStr::from_bytes(interp));
    let profile = elf::read_file(interp)
        .ok()
        .and_then(|info| profiles.for_header(&info.header).first().copied());
    let Some(p) = profile else {
        return anyhow!(
            "{refused}: {} is no program binfmtctl knows a system for",
            interp.display()
        );
    };
    let arg = if arg.is_empty() {
        String::new()
    } else {
        format!(" {}", String::from_utf8_lossy(arg))
    };
    anyhow!(
        "{refused}: {} is a {} program; run it with binfmtctl run {}{arg} {}, or enable that system (binfmtctl \
         enable {})",
        interp.display(),
        p.system,
        interp.display(),
        path.display(),
        p.system
    )
}

fn cannot(program: &Path, err: &std::io::Error) -> anyhow::Error {
    anyhow!("cannot execute {}: {err}", program.display())
}

/// The sysroot of a foreign dynamically linked program (`interp`: its `PT_INTERP`), if any.
fn find_sysroot(
    args: &Request,
    typed: &OsStr,
    profile: &Profile,
    interp: Option<&Path>,
    native: bool,
) -> Result<Option<Sysroot>> {
    Ok(match interp {
        Some(loader) if !native => Some(
            sysroot::find(
                Path::new("/"),
                loader,
                args.sysroot,
                std::env::var_os("QEMU_LD_PREFIX").as_deref(),
                &|candidate| sysroot::loader_fits(profile, candidate),
            )
            .map_err(|err| sysroot_error(typed, profile, err))?,
        ),
        _ => None,
    })
}

fn no_system(path: &Path, info: &ElfInfo) -> anyhow::Error {
    let machine = elf::machine_name(info.machine)
        .map_or_else(|| format!("machine {:#x}", info.machine), str::to_owned);
    anyhow!(
        "{}: no known system runs {machine} programs ({}); `binfmtctl systems` lists the supported ones, or name one with --system",
        path.display(),
        info.describe()
    )
}

fn sysroot_error(typed: &OsStr, profile: &Profile, err: SysrootError) -> anyhow::Error {
    let program = Path::new(typed).display();
    match err {
        SysrootError::NotFound { loader, looked_in } => {
            let hint = sysroot::install_hint(profile.debian.as_deref(), &loader, "--sysroot DIR");
            anyhow!(
                "{program} needs the loader {}, found neither on this machine nor in a sysroot (looked in: {}); {hint}",
                loader.display(),
                looked_in.join(", ")
            )
        }
        err @ (SysrootError::Foreign { .. } | SysrootError::LinkOutside { .. }) => {
            anyhow!("{program}: {err}")
        }
        SysrootError::NotInGiven {
            loader,
            dir,
            missing,
        } => anyhow!(
            "{program} needs the loader {}, which the sysroot {} does not have ({} does not exist); give a --sysroot DIR that holds it",
            loader.display(),
            dir.display(),
            missing.display()
        ),
    }
}

/// True when exec-ing the program will go through a binfmt_misc entry that works. Any failure
/// to read the table counts as "no": qemu is then run directly, which needs no table.
fn kernel_runs(registry: &Registry, profile: &Profile, path: &Path, header: &[u8]) -> bool {
    if !registry.is_mounted() || !registry.facility_enabled().unwrap_or(false) {
        return false;
    }
    let Ok(names) = registry.names() else {
        return false;
    };
    // Read entry by entry, newest first, up to the winner: a Debian table holds ~30 entries
    // (a read each), and `run` is an exec wrapper. An entry removed between readdir and read
    // is skipped; one that cannot be read ends the search: without the winner known, qemu
    // directly is the way that surely works.
    let entries = names
        .iter()
        .map_while(|name| match registry.entry(name) {
            Ok(e) => Some(Some(e)),
            Err(RegistryError::NoSuchEntry(..)) => Some(None),
            Err(_) => None,
        })
        .flatten();
    // The winner must be an emulator entry for this system (its magic accepts the system's
    // programs), not, say, an extension entry a `.rv` file name happens to match.
    winner(entries, path, header).is_some_and(|e| {
        profile.accepted_by(&e.matcher)
            && usable(&e, Path::new(&e.interpreter).exists())
            && !ld_variables_would_reach(Path::new(&e.interpreter), profile)
    })
}

/// A dynamically linked registered interpreter obeys the `LD_*` variables meant for the
/// emulated program (LD_PRELOAD loads into qemu itself); the qemu route moves them into `-E`.
/// Checked only when such a variable is set.
fn ld_variables_would_reach(interpreter: &Path, profile: &Profile) -> bool {
    std::env::vars_os().any(|(name, _)| name.as_bytes().starts_with(b"LD_"))
        && elf::read_file(interpreter).is_ok_and(|i| i.interp.is_some())
        // Only when the qemu route has a qemu to run: else the registered one is the way.
        && interpreter::find_once(profile).is_some()
}

/// An entry works when its interpreter exists, or when the kernel holds it open (flag `F`);
/// and `run` promises argv[0] unchanged, which needs flag `P` (else qemu runs it directly).
fn usable(entry: &Entry, interpreter_exists: bool) -> bool {
    entry.flags.preserve_argv0 && (entry.flags.fix_binary || interpreter_exists)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binfmt::EntryName;
    use crate::model::profile::Profiles;
    use std::os::unix::ffi::OsStringExt as _;

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    fn oss(v: &[&str]) -> Vec<OsString> {
        v.iter().map(|s| os(s)).collect()
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
        let dynamic = Interpreter {
            path: PathBuf::from("/usr/bin/qemu-riscv64"),
            is_static: false,
        };
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
        let qemu = Interpreter {
            path: PathBuf::from("/usr/bin/qemu-riscv64"),
            is_static: false,
        };
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
        let qemu = Interpreter {
            path: PathBuf::from("/usr/bin/qemu-riscv64"),
            is_static: false,
        };
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

    fn entry(name: &str, text: &str) -> Entry {
        Entry::parse(name.parse::<EntryName>().unwrap(), text).unwrap()
    }

    const RISCV64_MAGIC: &str = "magic 7f454c460201010000000000000000000200f300\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

    #[test]
    fn the_newest_enabled_matching_entry_wins() {
        let profiles = Profiles::builtin().unwrap();
        let header = &profiles.lookup("riscv64-linux").unwrap().sample_headers()[1];
        let path = Path::new("./hello");
        let disabled = entry(
            "newest-disabled",
            &format!("disabled\ninterpreter /a\nflags: P\noffset 0\n{RISCV64_MAGIC}"),
        );
        let other = entry(
            "aarch64",
            "enabled\ninterpreter /b\nflags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n",
        );
        let newer = entry(
            "riscv64-newer",
            &format!("enabled\ninterpreter /c\nflags: P\noffset 0\n{RISCV64_MAGIC}"),
        );
        let older = entry(
            "riscv64-linux",
            &format!("enabled\ninterpreter /d\nflags: PF\noffset 0\n{RISCV64_MAGIC}"),
        );
        let entries = vec![
            disabled.clone(),
            other.clone(),
            newer.clone(),
            older.clone(),
        ];
        assert_eq!(winner(&entries, path, header), Some(&newer));
        assert_eq!(winner(&entries[3..], path, header), Some(&older));
        assert_eq!(winner(&[disabled, other], path, header), None);

        // An extension entry matches what follows the path's last dot.
        let ext = entry("ext", "enabled\ninterpreter /e\nflags: \nextension .rv\n");
        let both = [ext.clone(), older];
        assert_eq!(winner(&both, Path::new("./hello.rv"), header), Some(&ext));
        assert_eq!(
            winner(&both, Path::new("./hello.rv/x"), b"").map(|e| &e.name),
            None
        );
        assert_eq!(winner(&both, Path::new("./hello"), header), Some(&both[1]));
    }

    #[test]
    fn an_entry_works_when_its_interpreter_exists_or_is_held_open() {
        let p = entry(
            "p",
            &format!("enabled\ninterpreter /x\nflags: P\noffset 0\n{RISCV64_MAGIC}"),
        );
        let f = entry(
            "f",
            &format!("enabled\ninterpreter /x\nflags: PF\noffset 0\n{RISCV64_MAGIC}"),
        );
        assert!(usable(&p, true));
        assert!(!usable(&p, false));
        assert!(usable(&f, true));
        assert!(usable(&f, false));
    }

    #[test]
    fn kernel_runs_nothing_without_a_mounted_table() {
        let t = tempfile::tempdir().unwrap();
        let profiles = crate::model::profile::Profiles::builtin().unwrap();
        assert!(!kernel_runs(
            &Registry::new(t.path()),
            profiles.lookup("riscv64-linux").unwrap(),
            Path::new("./hello"),
            b"\x7fELF"
        ));
    }

    #[test]
    fn sysroot_messages() {
        let profiles = Profiles::builtin().unwrap();
        let riscv64 = profiles.lookup("riscv64-linux").unwrap();
        let no_debian = Profile {
            debian: None,
            ..riscv64.clone()
        };
        let not_found = || SysrootError::NotFound {
            loader: PathBuf::from("/lib/ld-linux-riscv64-lp64d.so.1"),
            looked_in: vec![
                "/lib/ld-linux-riscv64-lp64d.so.1".into(),
                "/usr/*/lib/ld-linux-riscv64-lp64d.so.1".into(),
            ],
        };
        assert_eq!(
            sysroot_error(OsStr::new("./hello"), riscv64, not_found()).to_string(),
            "./hello needs the loader /lib/ld-linux-riscv64-lp64d.so.1, found neither on this machine nor in a sysroot \
             (looked in: /lib/ld-linux-riscv64-lp64d.so.1, /usr/*/lib/ld-linux-riscv64-lp64d.so.1); \
             install it: apt install libc6-riscv64-cross, or give --sysroot DIR"
        );
        assert_eq!(
            sysroot_error(OsStr::new("./hello"), &no_debian, not_found()).to_string(),
            "./hello needs the loader /lib/ld-linux-riscv64-lp64d.so.1, found neither on this machine nor in a sysroot \
             (looked in: /lib/ld-linux-riscv64-lp64d.so.1, /usr/*/lib/ld-linux-riscv64-lp64d.so.1); give --sysroot DIR"
        );
        let given = SysrootError::NotInGiven {
            loader: PathBuf::from("/lib/ld-linux-riscv64-lp64d.so.1"),
            dir: PathBuf::from("/opt/rv"),
            missing: PathBuf::from("/opt/rv/lib/ld-linux-riscv64-lp64d.so.1"),
        };
        assert_eq!(
            sysroot_error(OsStr::new("hello"), riscv64, given).to_string(),
            "hello needs the loader /lib/ld-linux-riscv64-lp64d.so.1, which the sysroot /opt/rv does not have \
             (/opt/rv/lib/ld-linux-riscv64-lp64d.so.1 does not exist); give a --sysroot DIR that holds it"
        );
    }

    #[test]
    fn no_system_names_the_machine() {
        let mut bytes = std::fs::read("/bin/true").unwrap();
        bytes[18..20].copy_from_slice(&0x32u16.to_le_bytes());
        let info = elf::parse(&bytes).unwrap();
        assert_eq!(
            no_system(Path::new("./ia64"), &info).to_string(),
            "./ia64: no known system runs IA-64 programs (ELF 64-bit LSB, IA-64 (0x32), dynamic, interpreter /lib64/ld-linux-x86-64.so.2); \
             `binfmtctl systems` lists the supported ones, or name one with --system"
        );
        bytes[18..20].copy_from_slice(&0x4242u16.to_le_bytes());
        let info = elf::parse(&bytes).unwrap();
        assert!(no_system(Path::new("x"), &info)
            .to_string()
            .starts_with("x: no known system runs machine 0x4242 programs (ELF 64-bit LSB, unknown machine (0x4242)"));
    }
}
