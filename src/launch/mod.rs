//! The engine of `binfmtctl run`: run one program of any known system as if it were native,
//! as any user, with or without a binfmt_misc registration.
//!
//! Three ways to start it, chosen by [`route`](route::route): natively; through the kernel,
//! when a working registration will run it; or by exec-ing qemu-user directly, as NixOS's
//! binfmt-p-wrapper does (`qemu -0 ARGV0 [-L SYSROOT] [-E LD_X=..]... -- PROGRAM ARGS...`).
//! Every way ends in `exec`, so the program's exit status or signal is binfmtctl's, and
//! nothing is gained: no setuid, no namespace, no capability. This file holds the steps that
//! read the program, the table and the environment; `route` the pure choices; `messages` what
//! is said when the program cannot be started.

mod messages;
mod route;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};

use crate::binfmt::{winner, Entry, Registry, RegistryError};
use crate::elf::{self, ElfError, ElfInfo, ET_DYN, ET_EXEC};
use crate::emulator::interpreter::{self, Interpreter};
use crate::emulator::native;
use crate::emulator::sysroot::{self, Sysroot};
use crate::model::profile::{Profile, Profiles};

use messages::{
    cannot, natively_hint, no_emulator, no_system, nor_through_qemu, not_a_program, not_elf,
    not_this_system, script_not_run, sysroot_error,
};
use route::{direct, qemu_invocation, route, runs_natively, Invocation, Route};

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
    let info = match read_program(&path)? {
        Program::Elf(info) => info,
        // The kernel runs `#!` scripts itself (binfmt_script), foreign interpreter or not.
        Program::Script => return Err(run_script(ctx.profiles, &path, typed, rest)),
    };
    let profile = system_of(ctx.profiles, args.system, &path, &info)?;
    let (native, sysroot) = natively_or_sysroot(args, typed, profile, info.interp.as_deref())?;
    let launch = Launch {
        profile,
        interpreter: args.interpreter,
        typed,
        path: &path,
        rest,
        sysroot: match &sysroot {
            Some(Sysroot::Dir { path, .. }) => Some(path.as_path()),
            Some(Sysroot::Host) | None => None,
        },
    };
    // --interpreter names the emulator to use: the kernel's entry would ignore it.
    let kernel = !native
        && args.interpreter.is_none()
        && kernel_runs(ctx.registry, profile, &path, &info.header);
    let how = route(native, kernel, launch.sysroot.is_some());
    let invocation = match how {
        Route::Native | Route::Kernel => direct(&path, typed, rest),
        Route::Qemu => launch.by_qemu()?,
    };
    let err = exec(&invocation);
    // The kernel refused what it was expected to run: the binfmt_misc entry went away
    // meanwhile, or the host lacks a secondary system the native table assumes (32-bit x86
    // switched off with ia32_emulation=0). qemu runs it. Never for the host's own system: a
    // native program the kernel refuses is broken, and qemu of the host's architecture would
    // only crash on it.
    if err.raw_os_error() == Some(ENOEXEC)
        && (how == Route::Kernel || (how == Route::Native && secondary(profile)))
    {
        return Err(launch.through_qemu_after(&err));
    }
    Err(cannot(&invocation.program, &err))
}

/// What the file to run is.
enum Program {
    Elf(ElfInfo),
    /// Not ELF, but a `#!` script.
    Script,
}

/// Read the program's ELF header; refuse what is neither a program (an executable or a PIE)
/// nor a `#!` script.
fn read_program(path: &Path) -> Result<Program> {
    let info = match elf::read_file(path) {
        Ok(info) => info,
        Err(err @ ElfError::NotRegular { .. }) => return Err(err.into()),
        Err(_) if crate::sys::exec::is_script(path) => return Ok(Program::Script),
        Err(ElfError::InFile { err, .. }) if matches!(*err, ElfError::NotElf) => {
            return Err(not_elf(path))
        }
        Err(err) => return Err(err.into()),
    };
    if !matches!(info.e_type, ET_EXEC | ET_DYN) {
        return Err(not_a_program(path, &info));
    }
    Ok(Program::Elf(info))
}

/// Exec a `#!` script as it is; returns only the failure, explained.
fn run_script(profiles: &Profiles, path: &Path, typed: &OsStr, rest: &[OsString]) -> anyhow::Error {
    let err = exec(&direct(path, typed, rest));
    if err.raw_os_error() == Some(ENOEXEC) {
        return script_not_run(path, profiles);
    }
    cannot(path, &err)
}

/// The program's system: the one `--system` names, which must match its header, else the
/// first one whose magic matches (systems with identical magics, armv6l/armv7l, share a qemu).
fn system_of<'p>(
    profiles: &'p Profiles,
    asked: Option<&str>,
    path: &Path,
    info: &ElfInfo,
) -> Result<&'p Profile> {
    match asked {
        Some(name) => {
            let p = profiles.lookup(name)?;
            if !p.matcher().matches_header(&info.header) {
                return Err(not_this_system(path, info, p));
            }
            Ok(p)
        }
        None => profiles
            .for_header(&info.header)
            .first()
            .copied()
            .ok_or_else(|| no_system(path, info)),
    }
}

/// Whether the profile's system is not the host's own: a secondary one it also runs (i386 on
/// x86_64), or a foreign one. The table, not the measurement: measuring execs every probe
/// (~20 ms), too slow for an exec wrapper, and the table only claims what the CPU surely runs
/// (no AArch32 on aarch64).
fn secondary(profile: &Profile) -> bool {
    native::table().first() != Some(&&*profile.system)
}

/// The program, ready to be started through qemu.
struct Launch<'a> {
    profile: &'a Profile,
    /// `--interpreter`.
    interpreter: Option<&'a Path>,
    typed: &'a OsStr,
    path: &'a Path,
    rest: &'a [OsString],
    /// The `-L` directory of a dynamically linked program.
    sysroot: Option<&'a Path>,
}

impl Launch<'_> {
    /// qemu's command line: the `--interpreter` given, else the qemu found for the system.
    fn by_qemu(&self) -> Result<Invocation> {
        let qemu = match self.interpreter {
            Some(given) => Interpreter::at(given).map_err(|e| anyhow!(e))?,
            None => interpreter::find_once(self.profile)
                .ok_or_else(|| no_emulator(self.path, self.profile))?,
        };
        // A static qemu takes the environment as it is: no need to read it here.
        let env = (!qemu.is_static)
            .then(std::env::vars_os)
            .into_iter()
            .flatten();
        qemu_invocation(&qemu, self.typed, self.path, self.sysroot, self.rest, env)
    }

    /// After the kernel refused the program (`err`): exec qemu with it; returns only the
    /// failure of both.
    fn through_qemu_after(&self, err: &std::io::Error) -> anyhow::Error {
        let qemu = match self.by_qemu() {
            Ok(qemu) => qemu,
            Err(e) => return e.context(messages::cannot_execute(self.path, err)),
        };
        let again = exec(&qemu);
        nor_through_qemu(self.path, err, &qemu.program, &again)
    }
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
    let native = runs_natively(
        native_system,
        secondary(profile),
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
    use crate::binfmt::dispatch::tests::riscv64;

    #[test]
    fn an_entry_works_when_its_interpreter_exists_or_is_held_open() {
        // (flags, the interpreter exists) -> the entry works
        for (flags, exists, works) in [
            ("P", true, true),
            ("P", false, false),
            ("PF", true, true),
            ("PF", false, true),
        ] {
            let e = riscv64("e", "enabled", "/x", flags);
            assert_eq!(usable(&e, exists), works, "{flags} {exists}");
        }
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
}
