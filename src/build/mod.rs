//! `binfmtctl build -- COMMAND`: run a cross build so that every foreign program it (or any
//! descendant) executes runs under qemu, without changing the machine for anyone else.
//!
//! On Linux >= 6.7 the registrations live in a private binfmt_misc instance: binfmtctl enters
//! a new user + mount namespace as root of it, mounts binfmt_misc (a private, empty instance),
//! carries the host's entries over, registers the wanted systems, then enters a nested user
//! namespace that maps the caller's own uid and gid back, and execs the command there (the
//! kernel looks handlers up in the nearest ancestor namespace that has an instance). On older
//! kernels, or with --host-table, root registers in the host table for the duration and
//! removes exactly what it added afterwards, also on Ctrl-C. A build killed with SIGKILL cannot;
//! its entries' names say which process made them (see `owner`), and the next host-table
//! build, or `apply`, removes them once that process is gone.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus};

use anyhow::{bail, Context as _, Result};

use crate::binfmt::{Entry, EntryName, Flags, Registration, Registry};
use crate::emulator::interpreter::{self, Interpreter};
use crate::model::profile::Profile;
use crate::model::profile::Profiles;
use crate::{emulator::native, emulator::sysroot, report, sys::namespace};

mod dir;
mod exec_report;
mod host_table;
mod nix_settings;
pub mod owner;
mod private;
pub mod shim;

use dir::{BuildDir, Contents};
pub use exec_report::render_report;
use exec_report::ReportDest;
pub use host_table::remove_leftovers;
use host_table::with_host_table;
use nix_settings::{check_nix_daemon, is_nix_command, nix_config, shim_sandbox_paths};
use private::{enter_private_instance, private_instances_supported};

/// A system to emulate during the build.
struct Wanted<'a> {
    profile: &'a Profile,
    interpreter: Interpreter,
}

/// What the engine needs from the command's context.
pub struct Env<'a> {
    pub profiles: &'a Profiles,
    pub registry: &'a Registry,
}

/// One build, as asked on the command line.
pub struct Request<'a> {
    /// `--system` (empty: every installed emulator the host needs).
    pub systems: &'a [String],
    /// `--sysroot SYSTEM=DIR`.
    pub sysroots: &'a [String],
    /// `--report FILE` (`-` for stderr).
    pub report: Option<&'a Path>,
    pub host_table: bool,
    /// The command and its arguments.
    pub command: &'a [OsString],
}

/// Run a build to its end: the command's exit status (or it, exec'd, in this process).
pub fn run(env: &Env, req: &Request) -> Result<ExitCode> {
    let wanted = select(env, req)?;
    let sysroots = given_sysroots(env, req, &wanted)?;
    // Opened before anything runs: a report that cannot be written stops the build now, not
    // after the command's work, whose exit status would then be lost.
    let report_dest = req.report.map(ReportDest::open).transpose()?;
    let how = How::decide(req, &wanted)?;
    let env_prefix = std::env::var_os("QEMU_LD_PREFIX");
    let plan = sysroot_view(&wanted, &sysroots, env_prefix.as_deref());
    let shims = Shims {
        report: if how.report {
            qemu_systems(&wanted)
        } else {
            Vec::new()
        },
        launch: launched(&wanted, &plan, how.private && !how.nix),
    };
    let contents = Contents {
        wanted: &wanted,
        plan: &plan,
        report: how.report,
        shims: &shims,
        given: &sysroots,
        env_prefix: env_prefix.as_deref(),
    };
    // Private: a tmpfs in the build's own mount namespace, on a directory of the caller's that
    // stays empty outside (nothing to remove, so binfmtctl can exec the command). The host
    // table: a directory in the temp dir, removed afterwards.
    let dir = if how.private {
        BuildDir::mountpoint()?
    } else {
        BuildDir::temp(&contents)?
    };
    if let (Some(dest), false) = (&report_dest, how.report) {
        dest.write(NOT_COLLECTED)?;
    }
    // One sysroot serves every system that needs one: it is the prefix itself (qemu -L DIR
    // exactly); several: the view of them all.
    let prefix = match plan.single_source() {
        Some(one) => Some(one.to_owned()),
        None => (!plan.links.is_empty()).then(|| dir.view()),
    };
    // Read before anything is registered: what the build carries over, and what Nix's sandbox
    // must reach of it.
    let host_entries = enabled_entries(env.registry);
    let vars = variables(&wanted, &host_entries, &dir, &shims, prefix);
    let start = || start_command(env, req.command, &vars);
    let status = if how.private {
        enter_private_instance(&host_entries, |carried| {
            namespace::mount_tmpfs(&dir.path)?;
            dir.fill(&contents)?;
            registrations(&wanted, carried, &dir, &shims, "binfmtctl-")
        })?;
        if !how.report {
            return Err(become_command(env, req.command, &vars));
        }
        wait_blocking_signals(start)
    } else {
        with_host_table(env, &wanted, &dir, &shims, start)
    }?;
    if let (Some(dest), true) = (&report_dest, how.report) {
        // The command has run: its status is what counts, a lost report only a warning.
        if let Err(err) = dest.write(&render_report(&shim::read_report(&dir.path))) {
            report::warn(&format!("{err:#}"));
        }
    }
    // Before pass_on, which may die the command's death by its signal.
    drop(dir);
    Ok(shim::pass_on(status))
}

/// What `--report FILE` holds when a Nix command's emulated programs cannot be reported.
const NOT_COLLECTED: &str = "binfmtctl build report: not collected. Nix runs builders inside its sandbox, which hides binfmtctl's report \
     channel (its shim interpreter is not reachable there), so which programs ran emulated cannot be told.\n";

/// How a build runs.
struct How {
    /// In a private binfmt_misc instance (else in the host's table).
    private: bool,
    /// The command is Nix's.
    nix: bool,
    /// Emulated programs are reported.
    report: bool,
}

impl How {
    /// From the request and the kernel: refuses a report in the host table, and a Nix command
    /// whose daemon cannot be given the systems.
    fn decide(req: &Request, wanted: &[Wanted]) -> Result<How> {
        let nix = is_nix_command(&req.command[0]);
        check_nix_daemon(req.command, nix, wanted)?;
        let private = !req.host_table && private_instances_supported();
        // The report needs binfmtctl itself as the interpreter, exec-ing the real qemu from
        // its build directory; Nix builders run in Nix's sandbox, where that directory is not
        // reachable: there, say so instead.
        let report = req.report.is_some() && !nix;
        if !private && report {
            bail!(
                "--report needs a private binfmt_misc instance (Linux >= 6.7, not --host-table): in the host table its shim \
                 would stand in front of every user's emulated programs for the duration of the build"
            );
        }
        Ok(How {
            private,
            nix,
            report,
        })
    }
}

/// The host's enabled entries, to carry into the private instance (none when unmounted).
fn enabled_entries(registry: &Registry) -> Vec<Entry> {
    if !registry.is_mounted() {
        return Vec::new();
    }
    registry
        .entries()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.enabled)
        .collect()
}

/// Dynamically linked programs: one sysroot view for every system (`sysroot::view`), handed
/// to whichever qemu runs them as `$QEMU_LD_PREFIX`.
fn sysroot_view(
    wanted: &[Wanted],
    given: &[(String, PathBuf)],
    env_prefix: Option<&std::ffi::OsStr>,
) -> sysroot::view::Plan {
    let profiles: Vec<&Profile> = wanted.iter().map(|w| w.profile).collect();
    sysroot::view::plan(
        Path::new("/"),
        &profiles,
        given,
        env_prefix,
        &sysroot::loader_header_quick,
    )
}

/// The systems whose loader no sysroot has, when `allowed`: their dynamic programs would fail
/// with qemu's "Could not open", so binfmtctl's shim takes their PIE programs and says what
/// to install, once per loader (see [`Shims`]). Allowed only in a private instance (in the
/// host table it would stand in front of everyone's programs) and not for a Nix command
/// (Nix's loaders are store paths). Only systems emulated by qemu (the shim passes qemu's
/// options).
fn launched<'a>(wanted: &[Wanted<'a>], plan: &sysroot::view::Plan, allowed: bool) -> Vec<&'a str> {
    if !allowed {
        return Vec::new();
    }
    qemu_systems(wanted)
        .into_iter()
        .filter(|s| !plan.served.contains_key(*s))
        .collect()
}

/// The wanted systems whose interpreter is qemu (it takes `-0 ARGV0`: `preserve_argv0`).
fn qemu_systems<'a>(wanted: &[Wanted<'a>]) -> Vec<&'a str> {
    wanted
        .iter()
        .filter(|w| w.profile.preserve_argv0)
        .map(|w| &*w.profile.system)
        .collect()
}

/// The variables the build's command gets: every process of the build sees the emulated
/// systems as Nix platforms, not only a command that is itself `nix*` (make, a script or a
/// shell may start Nix); and `prefix` (a sysroot, or the view) as `$QEMU_LD_PREFIX`.
fn variables(
    wanted: &[Wanted],
    host: &[Entry],
    dir: &BuildDir,
    shims: &Shims,
    prefix: Option<PathBuf>,
) -> Vec<(OsString, OsString)> {
    let mut vars: Vec<(OsString, OsString)> = vec![(
        "NIX_CONFIG".into(),
        nix_config(
            std::env::var_os("NIX_CONFIG").unwrap_or_default(),
            wanted,
            host,
            &shim_sandbox_paths(wanted, dir, shims),
        ),
    )];
    if let Some(prefix) = prefix {
        vars.push(("QEMU_LD_PREFIX".into(), prefix.into()));
    }
    vars
}

/// Nothing to do after the command: become it; returns only the failure. execve, not std's
/// execvp: a program no entry runs must fail with "Exec format error", not be handed to
/// /bin/sh.
fn become_command(env: &Env, command: &[OsString], vars: &[(OsString, OsString)]) -> anyhow::Error {
    let path = match command_path(command) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let err = crate::sys::exec::replace(&path, command, Some(command_env(vars)));
    not_started(env, &path, &err)
}

/// The command's program, found as execvp(3) does; when it cannot be, an error that ends
/// binfmtctl as env(1) does (127 not found, 126 not executable).
fn command_path(command: &[OsString]) -> Result<PathBuf> {
    crate::sys::exec::resolve(&command[0], std::env::var_os("PATH").as_deref()).map_err(|err| {
        match err.downcast::<crate::sys::exec::NotRunnable>() {
            Ok(e) => crate::exit_codes::NotStarted {
                status: e.status(),
                message: e.to_string(),
            }
            .into(),
            Err(err) => err,
        }
    })
}

/// The command's program could not be executed (`err`): an error that ends binfmtctl as
/// env(1) does, 127 when there is no such file, 126 otherwise.
fn not_started(env: &Env, path: &Path, err: &std::io::Error) -> anyhow::Error {
    use crate::exit_codes::{NotStarted, NOT_EXECUTABLE, NOT_FOUND};
    let status = if err.kind() == std::io::ErrorKind::NotFound {
        NOT_FOUND
    } else {
        NOT_EXECUTABLE
    };
    NotStarted {
        status,
        message: format!(
            "cannot execute {}: {err}{}",
            path.display(),
            not_emulated(env, path, err)
        ),
    }
    .into()
}

/// `--sysroot SYSTEM=DIR`: each names a wanted system and a directory holding a loader for it.
fn given_sysroots(env: &Env, req: &Request, wanted: &[Wanted]) -> Result<Vec<(String, PathBuf)>> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for given in req.sysroots {
        let Some((name, dir)) = given
            .split_once('=')
            .filter(|(n, d)| !n.is_empty() && !d.is_empty())
        else {
            bail!("--sysroot {given}: expected SYSTEM=DIR, e.g. --sysroot riscv64-linux=/usr/riscv64-linux-gnu");
        };
        let profile = env.profiles.lookup(name)?;
        if !wanted.iter().any(|w| w.profile.system == profile.system) {
            bail!(
                "--sysroot {given}: {} is not emulated in this build; add --system {} or leave out the --sysroot",
                profile.system,
                profile.system
            );
        }
        if out.iter().any(|(s, _)| *s == *profile.system) {
            bail!(
                "--sysroot {given}: a sysroot for {} is given twice; give one",
                profile.system
            );
        }
        let dir = std::path::absolute(dir)
            .with_context(|| format!("--sysroot {given}: cannot make {dir} absolute"))?;
        if !dir.is_dir() {
            bail!("--sysroot {given}: {} is not a directory; name the sysroot that holds lib/ld-*.so*", dir.display());
        }
        let one = sysroot::view::plan(
            Path::new("/nonexistent"),
            &[profile],
            &[(profile.system.to_string(), dir.clone())],
            None,
            &sysroot::loader_header_quick,
        );
        if one.links.is_empty() {
            bail!(
                "--sysroot {given}: {} holds no loader for {} programs (looked in its lib/, lib64/, lib32/ for ld*.so*); \
                 name the sysroot of that architecture (e.g. /usr/<its GNU triple>)",
                dir.display(),
                profile.system
            );
        }
        out.push((profile.system.to_string(), dir));
    }
    Ok(out)
}

/// This process's environment with `set` added (replacing variables of the same names).
fn command_env(set: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
    std::env::vars_os()
        .filter(|(k, _)| set.iter().all(|(s, _)| s != k))
        .chain(set.iter().cloned())
        .collect()
}

/// Start the build's command as a child: found in `$PATH` as a shell would, exec'd with
/// execve (a program no entry runs fails with "Exec format error", and is not handed to
/// /bin/sh as a script), with `set` added to the environment.
fn start_command(
    env: &Env,
    command: &[OsString],
    set: &[(OsString, OsString)],
) -> Result<std::process::Child> {
    let path = command_path(command)?;
    crate::sys::exec::spawn(
        &path,
        command,
        Some(&command_env(set)),
        &crate::sys::signals::stop(),
    )
    .map_err(|err| not_started(env, &path, &err))
}

/// The systems named with --system, else every system with an installed interpreter that
/// the host does not run natively (the fast table: this runs before every build).
fn select<'a>(env: &'a Env<'a>, req: &Request) -> Result<Vec<Wanted<'a>>> {
    let mut out: Vec<Wanted<'a>> = Vec::new();
    if req.systems.is_empty() {
        out.extend(
            interpreter::installed_for_foreign(env.profiles, native::table())
                .into_iter()
                .map(|(profile, interpreter)| Wanted {
                    profile,
                    interpreter,
                }),
        );
        if out.is_empty() {
            bail!(
                "no emulator is installed for any system; install a static qemu-user ({}) or name one with --system",
                crate::report::texts::INSTALL_QEMU
            );
        }
    } else {
        for name in req.systems {
            let p = env.profiles.lookup(name)?;
            // The one native verdict, as enable, import and apply refuse it.
            if let Some(reason) = crate::emulator::native::refusal(&p.system) {
                bail!("{reason}. Leave out --system {name}");
            }
            let interpreter = interpreter::find_or_explain(p, false)?;
            out.push(Wanted {
                profile: p,
                interpreter,
            });
        }
    }
    Ok(out)
}

/// Which systems binfmtctl's shim stands in front of, and for which programs.
pub(super) struct Shims<'a> {
    /// `--report`: every program of these systems (qemu systems only: the shim passes qemu's
    /// `-0 ARGV0 --`).
    pub(super) report: Vec<&'a str>,
    /// Systems whose loader no sysroot has: the shim takes their PIE programs (what cross
    /// compilers make by default, dynamic ones among them) to say which loader is missing;
    /// their other programs go to qemu directly and pay nothing.
    pub(super) launch: Vec<&'a str>,
}

impl Shims<'_> {
    /// The shim has files for `system` in the build directory.
    pub(super) fn fronts(&self, system: &str) -> bool {
        self.report.contains(&system) || self.launch.contains(&system)
    }
}

/// What to register: for each wanted system that no carried or host entry serves (`serves`)
/// (those are carried over), its qemu with flags PF (P for a dynamic one); with a report,
/// binfmtctl's shim instead, for every program, so that it wins; for a system without a
/// loader, also the shim for its PIE programs, registered after (the newest entry wins).
/// Systems with identical magics (armv6l/armv7l, i386..i686) get one entry, the first's: a
/// second would only shadow it (they stay wanted: Nix needs every name as a platform).
fn registrations(
    wanted: &[Wanted],
    carried: &[Entry],
    dir: &BuildDir,
    shims: &Shims,
    prefix: &str,
) -> Result<Vec<Registration>> {
    let name = |system: &str, suffix: &str| -> Result<EntryName> {
        // Never skipped quietly: the build would then run without emulation for it.
        format!("{prefix}{system}{suffix}")
            .parse()
            .map_err(|e| anyhow::anyhow!("cannot name the build's entry for {system}: {e}"))
    };
    // The shim is binfmtctl itself: it takes flag P's argv whatever the system.
    let shim_flags = Flags {
        preserve_argv0: true,
        fix_binary: true,
        ..Flags::default()
    };
    let mut out = Vec::new();
    let unique = wanted
        .iter()
        .enumerate()
        .filter(|(i, w)| {
            !wanted[..*i]
                .iter()
                .any(|o| o.profile.matcher() == w.profile.matcher())
        })
        .map(|(_, w)| w);
    for w in unique {
        let system = &*w.profile.system;
        if shims.report.contains(&system) {
            out.push(w.profile.registration(
                name(system, "")?,
                utf8(&dir.shim(system))?,
                shim_flags,
            ));
            continue;
        }
        if !carried.iter().any(|e| serves(e, w.profile)) {
            out.push(w.profile.registration(
                name(system, "")?,
                utf8(&w.interpreter.path)?,
                w.profile.flags(w.interpreter.is_static),
            ));
        }
        if let Some(pie) = shims
            .launch
            .contains(&system)
            .then(|| pie_only(&w.profile.matcher()))
            .flatten()
        {
            out.push(Registration {
                name: name(system, "-pie")?,
                matcher: pie,
                interpreter: utf8(&dir.shim(system))?,
                flags: shim_flags,
            });
        }
    }
    Ok(out)
}

/// An interpreter path as binfmt_misc takes it.
fn utf8(path: &Path) -> Result<String> {
    match path.to_str() {
        Some(p) => Ok(p.to_owned()),
        None => bail!(
            "{}: binfmt_misc takes only UTF-8 interpreter paths; install qemu where its path is plain text \
             (e.g. /usr/bin)",
            path.display()
        ),
    }
}

/// A system's ELF magic narrowed to PIE programs (`e_type` `ET_DYN` exactly, in the magic's
/// byte order); None for what is no ELF magic at offset 0.
fn pie_only(m: &crate::binfmt::Matcher) -> Option<crate::binfmt::Matcher> {
    let crate::binfmt::Matcher::Magic {
        offset: 0,
        magic,
        mask,
    } = m
    else {
        return None;
    };
    let magic = crate::binfmt::Bytes(crate::elf::with_e_type(&magic.0, crate::elf::ET_DYN)?);
    let mut mask = mask
        .clone()
        .unwrap_or_else(|| crate::binfmt::Bytes(vec![0xff; magic.0.len()]));
    let e_type = crate::elf::E_TYPE..crate::elf::E_TYPE + 2;
    mask.0[e_type].copy_from_slice(&[0xff, 0xff]);
    Some(crate::binfmt::Matcher::Magic {
        offset: 0,
        magic,
        mask: Some(mask),
    })
}

/// For an "Exec format error": which system the program is for, and how to emulate it.
fn not_emulated(env: &Env, path: &Path, err: &std::io::Error) -> String {
    if err.raw_os_error() != Some(nix::libc::ENOEXEC) {
        return String::new();
    }
    match crate::elf::read_file(path) {
        Ok(info) => match env.profiles.for_header(&info.header).first() {
            Some(p) => format!(
                "; it is a {} program, not emulated in this build (add --system {})",
                p.system, p.system
            ),
            None => format!("; it is {}, which no profile describes", info.describe()),
        },
        // Read, and neither ELF nor `#!`: the kernel has no handler, and binfmtctl does not
        // hand it to /bin/sh as execvp(3) would.
        Err(crate::elf::ElfError::InFile { err, .. })
            if matches!(*err, crate::elf::ElfError::NotElf)
                && !crate::sys::exec::is_script(path) =>
        {
            "; it is neither a program nor a #! script: begin it with #!/bin/sh, or run it with sh"
                .to_owned()
        }
        Err(_) => String::new(),
    }
}

/// Whether an enabled entry runs a system's programs: it accepts them and its interpreter is
/// there (or held open by the kernel, flag `F`). Another build's temporary entry never serves:
/// it goes when that build ends.
fn serves(entry: &Entry, profile: &Profile) -> bool {
    !entry.name.as_str().starts_with(owner::PREFIX)
        && profile.accepted_by(&entry.matcher)
        && (entry.flags.fix_binary || Path::new(&entry.interpreter).exists())
}

/// Run the command to its end (started by `exec::spawn`: the stop signals are blocked in
/// binfmtctl and passed on to the command, which starts with an empty mask).
fn wait_blocking_signals(
    start: impl FnOnce() -> Result<std::process::Child>,
) -> Result<ExitStatus> {
    let mut child = start()?;
    child.wait().context("cannot wait for the build's command")
}

#[cfg(test)]
mod tests {
    use super::pie_only;
    use crate::binfmt::Matcher;
    use crate::model::profile::Profiles;

    #[test]
    fn the_launcher_entry_takes_only_pie_programs_of_its_system() {
        let profiles = Profiles::builtin().unwrap();
        // (system, e_type bytes of ET_DYN in its byte order)
        for (system, dyn_bytes) in [("riscv64-linux", [3, 0]), ("s390x-linux", [0, 3])] {
            let profile = profiles.lookup(system).unwrap();
            let Some(Matcher::Magic {
                offset: 0,
                magic,
                mask: Some(mask),
            }) = pie_only(&profile.matcher())
            else {
                panic!("{system}: no PIE-only matcher");
            };
            assert_eq!(magic.0[16..18], dyn_bytes, "{system}");
            assert_eq!(mask.0[16..18], [0xff, 0xff], "{system}: e_type exactly");
            let pie = pie_only(&profile.matcher()).unwrap();
            for (i, header) in profile.sample_headers().iter().enumerate() {
                // The profile's samples: ET_EXEC first, then ET_DYN.
                assert_eq!(pie.matches_header(header), i == 1, "{system} sample {i}");
            }
        }
        assert_eq!(pie_only(&Matcher::Extension("wasm".into())), None);
    }
}
