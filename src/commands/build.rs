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
//! its entries' names say which process made them (see `build_owner`), and the next host-table
//! build, or `apply`, removes them once that process is gone.

use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{symlink, DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus};

use anyhow::{bail, Context as _, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};

use super::{registration, require_admin_without_dry_run, Ctx};
use crate::cli::BuildArgs;
use crate::interpreter::{self, Interpreter};
use crate::profile::Profile;
use crate::registry::{Entry, EntryName, Flags, Registration, Registry, RegistryError};
use crate::shim::{self, Exec};
use crate::{build_owner, namespace, native, output, sysroot};

/// A system to emulate during the build.
struct Wanted<'a> {
    profile: &'a Profile,
    interpreter: Interpreter,
}

pub fn run(ctx: &Ctx, args: &BuildArgs) -> Result<ExitCode> {
    let wanted = select(ctx, args)?;
    let sysroots = given_sysroots(ctx, args, &wanted)?;
    // Opened before anything runs: a report that cannot be written stops the build now, not
    // after the command's work, whose exit status would then be lost.
    let report_dest = args.report.as_deref().map(ReportDest::open).transpose()?;
    let program = &args.command[0];
    let nix = is_nix_command(program);
    check_nix_daemon(&args.command, nix, &wanted)?;
    let private = !args.host_table && private_instances_supported();
    // The report needs binfmtctl itself as the interpreter, exec-ing the real qemu from its
    // build directory; Nix builders run in Nix's sandbox, where that directory is not
    // reachable: there, say so instead.
    let report = args.report.is_some() && !nix;
    if !private && report {
        bail!(
            "--report needs a private binfmt_misc instance (Linux >= 6.7, not --host-table): in the host table its shim \
             would stand in front of every user's emulated programs for the duration of the build"
        );
    }
    let host_entries: Vec<Entry> = if ctx.registry.is_mounted() {
        ctx.registry
            .entries()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.enabled)
            .collect()
    } else {
        Vec::new()
    };
    // Dynamically linked programs: one sysroot view for every system (sysroot::view), handed
    // to whichever qemu runs them as $QEMU_LD_PREFIX.
    let env_prefix = std::env::var_os("QEMU_LD_PREFIX");
    let profiles: Vec<&Profile> = wanted.iter().map(|w| w.profile).collect();
    let plan = sysroot::view::plan(
        Path::new("/"),
        &profiles,
        &sysroots,
        env_prefix.as_deref(),
        &sysroot::loader_header_quick,
    );
    // A system with no loader anywhere: its dynamic programs would fail with qemu's "Could not
    // open". binfmtctl's launcher stands in front of its qemu and says what to install, once
    // per loader. Not in the host table (it would stand in front of everyone's programs), not
    // for Nix (its sandbox hides the build directory; Nix's loaders are store paths anyway).
    // Only for systems named with --system: by default every installed emulator is wanted,
    // most without a sysroot, and the launcher costs their static programs an exec each.
    let launch: Vec<&str> = if private && !nix && !args.systems.is_empty() {
        wanted
            .iter()
            .map(|w| &*w.profile.system)
            .filter(|s| !plan.served.contains_key(*s))
            .collect()
    } else {
        Vec::new()
    };
    let contents = Contents {
        wanted: &wanted,
        plan: &plan,
        report,
        launch: &launch,
        given: &sysroots,
        env_prefix: env_prefix.as_deref(),
    };
    // Private: a tmpfs in the build's own mount namespace, on a directory of the caller's that
    // stays empty outside (nothing to remove, so binfmtctl can exec the command). The host
    // table: a directory in the temp dir, removed afterwards.
    let dir = if private {
        BuildDir::mountpoint()?
    } else {
        BuildDir::temp(&contents)?
    };
    if let (Some(dest), false) = (&report_dest, report) {
        dest.write(
            "binfmtctl build report: not collected. Nix runs builders inside its sandbox, which hides binfmtctl's report \
             channel (its shim interpreter is not reachable there), so which programs ran emulated cannot be told.\n",
        )?;
    }
    // Every process of the build sees the emulated systems as Nix platforms, not only a
    // command that is itself `nix*`: make, a script or a shell may start Nix (issue 13, item 3).
    let shimmed = |system: &str| report || launch.contains(&system);
    let mut env: Vec<(OsString, OsString)> = vec![(
        "NIX_CONFIG".into(),
        nix_config(
            std::env::var_os("NIX_CONFIG").unwrap_or_default(),
            &wanted,
            &shim_sandbox_paths(&wanted, &dir, &shimmed),
        ),
    )];
    if !plan.links.is_empty() {
        env.push(("QEMU_LD_PREFIX".into(), dir.view().into()));
    }
    let start = || start_command(ctx, &args.command, &env);
    let status = if private {
        enter_private_instance(&host_entries, |carried| {
            namespace::mount_tmpfs(&dir.path)?;
            dir.fill(&contents)?;
            registrations(&wanted, carried, &dir, &shimmed, "binfmtctl-")
        })?;
        if !report {
            // Nothing to do after the command: become it. execve, not std's execvp: a program
            // no entry runs must fail with "Exec format error", not be handed to /bin/sh.
            let path = super::run::resolve(program, std::env::var_os("PATH").as_deref())?;
            let err = crate::exec::replace(&path, &args.command, Some(command_env(&env)));
            bail!(
                "cannot execute {}: {err}{}",
                path.display(),
                not_emulated(ctx, &path, &err)
            );
        }
        wait_blocking_signals(start)
    } else {
        with_host_table(ctx, &wanted, &dir, &shimmed, start)
    }?;
    if let (Some(dest), true) = (&report_dest, report) {
        // The command has run: its status is what counts, a lost report only a warning.
        if let Err(err) = dest.write(&render_report(&shim::read_report(&dir.path))) {
            output::warn(&format!("{err:#}"));
        }
    }
    // Before pass_on, which may die the command's death by its signal.
    drop(dir);
    Ok(shim::pass_on(status))
}

/// `--sysroot SYSTEM=DIR`: each names a wanted system and a directory holding a loader for it.
fn given_sysroots(
    ctx: &Ctx,
    args: &BuildArgs,
    wanted: &[Wanted],
) -> Result<Vec<(String, PathBuf)>> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for given in &args.sysroots {
        let Some((name, dir)) = given
            .split_once('=')
            .filter(|(n, d)| !n.is_empty() && !d.is_empty())
        else {
            bail!("--sysroot {given}: expected SYSTEM=DIR, e.g. --sysroot riscv64-linux=/usr/riscv64-linux-gnu");
        };
        let profile = ctx.profiles.lookup(name)?;
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
    ctx: &Ctx,
    command: &[OsString],
    set: &[(OsString, OsString)],
) -> Result<std::process::Child> {
    let path = super::run::resolve(&command[0], std::env::var_os("PATH").as_deref())?;
    crate::exec::spawn(&path, command, &command_env(set)).map_err(|err| {
        anyhow::anyhow!(
            "cannot execute {}: {err}{}",
            path.display(),
            not_emulated(ctx, &path, &err)
        )
    })
}

/// The systems named with --system, else every system with an installed interpreter that
/// the host does not run natively (the fast table: this runs before every build).
fn select<'a>(ctx: &'a Ctx, args: &BuildArgs) -> Result<Vec<Wanted<'a>>> {
    let mut out: Vec<Wanted<'a>> = Vec::new();
    if args.systems.is_empty() {
        out.extend(
            interpreter::installed_for_foreign(&ctx.profiles, native::table())
                .into_iter()
                .map(|(profile, interpreter)| Wanted {
                    profile,
                    interpreter,
                }),
        );
        if out.is_empty() {
            bail!("no emulator is installed for any system; install qemu-user-static (apt install qemu-user-static) or name one with --system");
        }
    } else {
        for name in &args.systems {
            let p = ctx.profiles.lookup(name)?;
            // As `enable` refuses it: registered, every native exec would loop through a qemu
            // of the host's own architecture (ELOOP) or run needlessly emulated. The table, not
            // the measurement (~15 ms of probes): this runs before every build, and the table
            // only claims what the CPU surely runs.
            if native::table().contains(&&*p.system) {
                bail!(
                    "{} runs natively on this host ({}); its programs need no emulation, and registering it would send \
                     native programs through the emulator (every exec loops: ELOOP). Leave out --system {name}",
                    p.system,
                    std::env::consts::ARCH
                );
            }
            let interpreter = interpreter::find(p).with_context(|| {
                format!(
                    "no interpreter for {} found; {}",
                    p.system,
                    interpreter::install_hint_for(p, false)
                )
            })?;
            out.push(Wanted {
                profile: p,
                interpreter,
            });
        }
    }
    Ok(out)
}

/// What to register: for each wanted system that no carried or host entry serves (`serves`)
/// (those are carried over), its qemu with flags PF (P for a dynamic one); for a system
/// `shimmed` (a report, or no loader anywhere), always, binfmtctl's shim, so that it wins.
/// Systems with identical magics (armv6l/armv7l, i386..i686) get one entry, the first's: a
/// second would only shadow it (they stay wanted: Nix needs every name as a platform).
fn registrations(
    wanted: &[Wanted],
    carried: &[Entry],
    dir: &BuildDir,
    shimmed: &dyn Fn(&str) -> bool,
    prefix: &str,
) -> Result<Vec<Registration>> {
    wanted
        .iter()
        .enumerate()
        .filter(|(i, w)| !wanted[..*i].iter().any(|o| o.profile.matcher() == w.profile.matcher()))
        .map(|(_, w)| w)
        .filter(|w| shimmed(&w.profile.system) || !carried.iter().any(|e| serves(e, w.profile)))
        .map(|w| {
            // Never skipped quietly: the build would then run without emulation for it.
            let name: EntryName = format!("{prefix}{}", w.profile.system)
                .parse()
                .map_err(|e| anyhow::anyhow!("cannot name the build's entry for {}: {e}", w.profile.system))?;
            // The shim is binfmtctl itself: it takes flag P's argv whatever the system.
            let (interpreter, flags) = if shimmed(&w.profile.system) {
                let shim = Flags {
                    preserve_argv0: true,
                    fix_binary: true,
                    ..Flags::default()
                };
                (dir.shim(&w.profile.system), shim)
            } else {
                (
                    w.interpreter.path.clone(),
                    w.profile.flags(w.interpreter.is_static),
                )
            };
            let Some(interpreter) = interpreter.to_str() else {
                bail!(
                    "{}: binfmt_misc takes only UTF-8 interpreter paths; install qemu where its path is plain text \
                     (e.g. /usr/bin)",
                    interpreter.display()
                );
            };
            Ok(registration(w.profile, name, interpreter.to_owned(), flags))
        })
        .collect()
}

/// Unmounts a binfmt_misc that `with_host_table` mounted, whichever way it returns.
struct UnmountOnDrop<'a>(Option<&'a Path>);

impl Drop for UnmountOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(root) = self.0 {
            // Best effort: a busy mount stays, and nothing is lost by it.
            let _ = nix::mount::umount(root);
        }
    }
}

/// For an "Exec format error": which system the program is for, and how to emulate it.
fn not_emulated(ctx: &Ctx, path: &Path, err: &std::io::Error) -> String {
    if err.raw_os_error() != Some(nix::libc::ENOEXEC) {
        return String::new();
    }
    match crate::elf::read_file(path) {
        Ok(info) => match ctx.profiles.for_header(&info.header).first() {
            Some(p) => format!(
                "; it is a {} program, not emulated in this build (add --system {})",
                p.system, p.system
            ),
            None => format!("; it is {}, which no profile describes", info.describe()),
        },
        // Read, and neither ELF nor `#!`: the kernel has no handler, and binfmtctl does not
        // hand it to /bin/sh as execvp(3) would.
        Err(crate::elf::ElfError::InFile { err, .. })
            if matches!(*err, crate::elf::ElfError::NotElf) && !super::run::is_script(path) =>
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
    !entry.name.as_str().starts_with(build_owner::PREFIX)
        && profile.accepted_by(&entry.matcher)
        && (entry.flags.fix_binary || Path::new(&entry.interpreter).exists())
}

/// Linux >= 6.7 has one binfmt_misc instance per user namespace.
fn private_instances_supported() -> bool {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (6, 7)
}

/// Enter a new user and mount namespace with a private binfmt_misc, carry the host's enabled
/// entries into it, then register `regs_for(the entries carried)`: a host entry that could not
/// be carried (an `F` entry whose interpreter is not reachable from here) serves nothing.
fn enter_private_instance(
    host: &[Entry],
    regs_for: impl FnOnce(&[Entry]) -> Result<Vec<Registration>>,
) -> Result<()> {
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    let root = uid.is_root() && gid.as_raw() == 0;
    if root { namespace::enter_identity() } else { namespace::enter_as_root() }
        .context("binfmtctl build needs user namespaces for its private binfmt_misc instance (or run it as root with --host-table)")?;
    // Nothing mounted here may reach the parent namespace.
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("cannot make the mount namespace private")?;
    let registry = namespace::mount_private_binfmt_misc()?;
    // `host` lists newest first; registering oldest first keeps which one wins.
    let mut carried: Vec<Entry> = Vec::new();
    for e in host.iter().rev() {
        match registry.register(&e.registration()) {
            Ok(()) => carried.insert(0, e.clone()),
            Err(err) => output::warn(&format!(
                "the host's entry {} cannot be carried into the build: {err}",
                e.name
            )),
        }
    }
    for r in &regs_for(&carried)? {
        registry
            .register(r)
            .with_context(|| format!("cannot register {} in the private instance", r.name))?;
    }
    if root {
        Ok(())
    } else {
        namespace::enter_as(uid, gid)
    }
}

/// The signals a terminal or a CI runner sends to stop a build: binfmtctl waits them out (the
/// command gets them too) so it can clean up and report, then dies the command's death.
fn stop_signals() -> SigSet {
    [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ]
    .into_iter()
    .collect()
}

/// Run the command to its end with the stop signals blocked in binfmtctl (std resets the
/// child's signal mask before exec, so the command gets them as usual).
fn wait_blocking_signals(
    start: impl FnOnce() -> Result<std::process::Child>,
) -> Result<ExitStatus> {
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&stop_signals()), None)
        .context("cannot block signals")?;
    let mut child = start()?;
    child.wait().context("cannot wait for the build's command")
}

/// The fallback: register in the host table for the duration, then remove exactly what was
/// added (the command's own changes to the table are left as they are). Killed builds' leftovers
/// are removed first.
fn with_host_table(
    ctx: &Ctx,
    wanted: &[Wanted],
    dir: &BuildDir,
    shimmed: &dyn Fn(&str) -> bool,
    start: impl FnOnce() -> Result<std::process::Child>,
) -> Result<ExitStatus> {
    require_admin_without_dry_run(
        "binfmtctl build without a private binfmt_misc instance (Linux < 6.7, or --host-table)",
    )?;
    let registry = &ctx.registry;
    // Unmounted again on every way out when mounted here (a container's /proc stays as it was).
    let _unmount = UnmountOnDrop(registry.ensure_mounted()?.then(|| registry.root()));
    // Before `current` is read: a leftover would otherwise pass for a host entry to carry.
    let _ = remove_leftovers(registry, false);
    let current: Vec<Entry> = registry
        .entries()?
        .into_iter()
        .filter(|e| e.enabled)
        .collect();
    let prefix = match build_owner::current() {
        Ok(me) => me.prefix(),
        Err(err) => {
            output::warn(&format!(
                "cannot read this process's pid namespace and start time in /proc ({err}): if this build is killed \
                 with SIGKILL, its entries will not be recognised as leftovers; remove them with \
                 echo -1 > {}/{}<pid>-<system>",
                registry.root().display(),
                build_owner::PREFIX
            ));
            // The older name, pid alone, which no later build judges.
            format!("{}{}-", build_owner::PREFIX, std::process::id())
        }
    };
    // The host table is everyone's: the same rule as `enable` (SECURITY.md), no --force here.
    if crate::interpreter::host_namespace() {
        for w in wanted {
            if let Some(why) = crate::interpreter::untrusted(&w.interpreter.path) {
                bail!(
                    "refusing to put the interpreter {} in the host table: {why}, so users other than root could replace \
                     what every emulated program runs; make it root's and not writable by others",
                    w.interpreter.path.display()
                );
            }
        }
    }
    let regs = registrations(wanted, &current, dir, shimmed, &prefix)?;
    // Block the stop signals first: from the first registration on, cleanup must happen.
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&stop_signals()), None)
        .context("cannot block signals")?;
    let mut added: Vec<&Registration> = Vec::new();
    let mut outcome = Ok(());
    for r in &regs {
        match registry.register(r) {
            Ok(()) => added.push(r),
            Err(e) => {
                outcome = Err(anyhow::Error::new(e).context(format!(
                    "cannot register {} in {}",
                    r.name,
                    registry.root().display()
                )));
                break;
            }
        }
    }
    let status = outcome.and_then(|()| wait_blocking_signals(start));
    let mut cleanup_errors = Vec::new();
    for r in added.iter().rev() {
        if let Err(e) = registry.remove(&r.name) {
            cleanup_errors.push(format!("{}: {e}", r.name));
        }
    }
    if !cleanup_errors.is_empty() {
        output::warn(&format!(
            "could not remove the build's entries again: {}",
            cleanup_errors.join("; ")
        ));
    }
    status
}

/// Remove the entries of host-table builds that are gone (killed before they could remove
/// them), one line on stderr each; with `dry_run`, only say what would go. Nothing here stops
/// the caller: these entries are other builds' leftovers.
pub(super) fn remove_leftovers(registry: &Registry, dry_run: bool) -> Vec<String> {
    let Ok(names) = registry.names() else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for (name, owner) in build_owner::leftovers(&names) {
        let what = format!(
            "{name}, left behind by build process {}, which is gone",
            owner.pid
        );
        if dry_run {
            output::note(&format!(
                "would remove {what} (write -1 to {})",
                registry.entry_path(&name).display()
            ));
            removed.push(name.to_string());
            continue;
        }
        match registry.remove(&name) {
            Ok(()) => {
                output::note(&format!("removed {what}"));
                removed.push(name.to_string());
            }
            // Another build removed it first.
            Err(RegistryError::NoSuchEntry(..)) => {}
            Err(e) => output::warn(&format!("cannot remove {what}: {e}")),
        }
    }
    removed
}

/// What goes in a build directory.
struct Contents<'a> {
    wanted: &'a [Wanted<'a>],
    plan: &'a sysroot::view::Plan,
    report: bool,
    /// The systems whose loader no sysroot has (binfmtctl's launcher stands in front of qemu).
    launch: &'a [&'a str],
    given: &'a [(String, PathBuf)],
    env_prefix: Option<&'a std::ffi::OsStr>,
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
struct BuildDir {
    path: PathBuf,
    remove_on_drop: bool,
}

impl BuildDir {
    /// The caller's own directory for the private tmpfs: `<temp dir>/binfmtctl-build-u<uid>`,
    /// created once and left empty (mounted on only inside builds' namespaces; its time set at
    /// every build so that /tmp cleaners leave it alone). One that another user owns, or that
    /// is not a plain directory, is passed over for a new one of this build's (left empty
    /// behind it).
    fn mountpoint() -> Result<BuildDir> {
        use std::os::unix::fs::MetadataExt as _;
        let uid = nix::unistd::getuid();
        let path = std::env::temp_dir().join(format!("{}u{uid}", shim::BUILD_DIR_PREFIX));
        match fs::DirBuilder::new().mode(0o755).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot create the build's directory {}", path.display())
                })
            }
        }
        let mine = fs::symlink_metadata(&path)
            .is_ok_and(|m| m.file_type().is_dir() && m.uid() == uid.as_raw());
        let path = if mine {
            // Whatever the umask; and a new time for tmpfiles cleaners.
            let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o755));
            let _ =
                fs::File::open(&path).and_then(|f| f.set_modified(std::time::SystemTime::now()));
            path
        } else {
            crate::trial::create_unique_dir(shim::BUILD_DIR_PREFIX, 0o755)
                .context("cannot create the build's directory")?
        };
        Ok(BuildDir {
            path,
            remove_on_drop: false,
        })
    }

    /// A new directory in the temp dir, filled, removed when dropped.
    fn temp(contents: &Contents) -> Result<BuildDir> {
        let path = crate::trial::create_unique_dir(shim::BUILD_DIR_PREFIX, 0o755)
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

    fn fill(&self, c: &Contents) -> Result<()> {
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
            .filter(|w| c.report || c.launch.contains(&&*w.profile.system))
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
            let hint = sysroot::install_hint(
                w.profile,
                &format!("binfmtctl build --sysroot {system}=DIR"),
            );
            fs::write(
                self.path.join("hint").join(system),
                format!("{}\n{hint}\n", looked_in.join("\n")),
            )?;
        }
        if c.report {
            fs::OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .open(self.path.join(shim::REPORT_FILE))?;
        }
        Ok(())
    }

    fn shim(&self, system: &str) -> PathBuf {
        self.path.join("shim").join(system)
    }

    fn view(&self) -> PathBuf {
        self.path.join("view")
    }
}

impl Drop for BuildDir {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Per program: how many times it ran and for how long, most time first.
pub fn render_report(execs: &[Exec]) -> String {
    let mut per: Vec<(PathBuf, String, usize, u64)> = Vec::new();
    for e in execs {
        match per
            .iter_mut()
            .find(|(p, s, ..)| p == &e.path && s == &e.system)
        {
            Some(row) => {
                row.2 += 1;
                row.3 += e.nanos;
            }
            None => per.push((e.path.clone(), e.system.clone(), 1, e.nanos)),
        }
    }
    per.sort_by(|a, b| b.3.cmp(&a.3).then(a.0.cmp(&b.0)));
    let secs = |n: u64| format!("{:.3} s", std::time::Duration::from_nanos(n).as_secs_f64());
    let total: u64 = per.iter().map(|r| r.3).sum();
    let mut text = format!(
        "binfmtctl build report: {} foreign program(s) executed under emulation, {} exec(s), {} in all\n",
        per.len(),
        execs.len(),
        secs(total)
    );
    if !per.is_empty() {
        let rows: Vec<Vec<String>> = per
            .iter()
            .map(|(p, s, n, t)| vec![n.to_string(), secs(*t), s.clone(), p.display().to_string()])
            .collect();
        text += &output::table(&["COUNT", "TIME", "SYSTEM", "PATH"], &rows);
    }
    text
}

/// Where the report goes: stderr (`-`) or a file, created before the command runs.
enum ReportDest {
    Stderr,
    File(PathBuf, fs::File),
}

impl ReportDest {
    fn open(dest: &Path) -> Result<ReportDest> {
        if dest == Path::new("-") {
            return Ok(ReportDest::Stderr);
        }
        let file = fs::File::create(dest).with_context(|| {
            format!(
                "cannot write the report to {}; name a file in a directory you can write, or - for stderr",
                dest.display()
            )
        })?;
        Ok(ReportDest::File(dest.to_owned(), file))
    }

    fn write(&self, text: &str) -> Result<()> {
        match self {
            ReportDest::Stderr => {
                eprint!("{text}");
                Ok(())
            }
            ReportDest::File(path, file) => {
                let mut file: &fs::File = file;
                file.write_all(text.as_bytes())
                    .with_context(|| format!("cannot write the report to {}", path.display()))
            }
        }
    }
}

/// `nix`, `nix-build`, `nix-store`, `nix-shell`, `nix-instantiate`... by program name.
fn is_nix_command(program: &OsString) -> bool {
    Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "nix" || n.starts_with("nix-"))
}

/// A Nix command served by a nix-daemon is refused with the ways out; any other command may
/// start Nix, which cannot be seen from here: one note, so that Nix's "a 'riscv64-linux' ...
/// is required" is not a riddle.
fn check_nix_daemon(command: &[OsString], nix: bool, wanted: &[Wanted]) -> Result<()> {
    let Some(remote) = nix_daemon_store(command) else {
        return Ok(());
    };
    let systems: Vec<&str> = wanted.iter().map(|w| &*w.profile.system).collect();
    if nix {
        bail!("{}", daemon_explanation(&systems, &command[0]));
    }
    output::note(&format!(
        "Nix here is served by a nix-daemon ({remote}), which runs outside this build's private binfmt_misc \
         instance: a Nix command this build starts cannot build {} derivations; `binfmtctl build -- nix-build ...` \
         explains the ways out",
        systems.join(", ")
    ));
    Ok(())
}

/// Where binfmtctl's shim stands in front of a qemu (a report, or the launcher), Nix's
/// sandbox must reach the build directory and that qemu, or a builder fails: the paths to
/// add to its `extra-sandbox-paths`.
fn shim_sandbox_paths(
    wanted: &[Wanted],
    dir: &BuildDir,
    shimmed: &dyn Fn(&str) -> bool,
) -> Vec<PathBuf> {
    let qemus: Vec<PathBuf> = wanted
        .iter()
        .filter(|w| shimmed(&w.profile.system))
        .map(|w| w.interpreter.path.clone())
        .collect();
    if qemus.is_empty() {
        return qemus;
    }
    std::iter::once(dir.path.clone()).chain(qemus).collect()
}

/// NIX_CONFIG for the command: the caller's (`caller`), plus the emulated systems as extra
/// platforms, and as extra sandbox paths the interpreters registered without F and
/// `shim_paths` (the build directory and the qemus behind binfmtctl's shim).
fn nix_config(caller: OsString, wanted: &[Wanted], shim_paths: &[PathBuf]) -> OsString {
    let regs: Vec<(String, String, bool)> = wanted
        .iter()
        .map(|w| {
            (
                w.profile.system.to_string(),
                w.interpreter.path.display().to_string(),
                w.interpreter.is_static,
            )
        })
        .collect();
    let mut settings = crate::nixconf::NixSettings::new(&regs, "");
    for p in shim_paths {
        let p = p.display().to_string();
        if !settings.sandbox_paths.contains(&p) {
            settings.sandbox_paths.push(p);
        }
    }
    let mut config = caller;
    if !config.is_empty() && !config.as_encoded_bytes().ends_with(b"\n") {
        config.push("\n");
    }
    config.push(settings.lines());
    config
}

/// The nix-daemon that would serve a Nix command's store (its `--store`, else `$NIX_REMOTE`,
/// else a daemon socket and a store this user cannot write), as the store's name; `None` for
/// a local store. A daemon builds in its own namespaces, outside the private instance.
fn nix_daemon_store(command: &[OsString]) -> Option<String> {
    let store_arg = command
        .windows(2)
        .find(|w| w[0] == "--store")
        .map(|w| w[1].to_string_lossy().into_owned())
        .or_else(|| {
            command
                .iter()
                .find_map(|a| a.to_str()?.strip_prefix("--store=").map(str::to_owned))
        });
    let remote = store_arg
        .or_else(|| std::env::var("NIX_REMOTE").ok())
        .unwrap_or_default();
    let daemon = if remote.is_empty() || remote == "auto" {
        Path::new("/nix/var/nix/daemon-socket/socket").exists()
            && nix::unistd::access("/nix/store", nix::unistd::AccessFlags::W_OK).is_err()
    } else {
        remote.starts_with("daemon") || remote.starts_with("unix://")
    };
    daemon.then(|| {
        if remote.is_empty() || remote == "auto" {
            "daemon".to_owned()
        } else {
            remote
        }
    })
}

/// Why a Nix build served by a nix-daemon would fail under `build`, and the two ways out.
fn daemon_explanation(systems: &[&str], program: &OsString) -> String {
    format!(
        "this Nix build would be done by the nix-daemon, which runs outside binfmtctl's private binfmt_misc \
         instance and would refuse {} derivations. Two ways out:\n  1. register for the whole machine and tell the \
         daemon: sudo binfmtctl enable --nix {} && sudo systemctl restart nix-daemon; then run the build directly;\n  \
         2. build with a single-user store the build itself owns, e.g. binfmtctl build -- {} --store $HOME/nix-root ...",
        systems.join(", "),
        systems.join(" "),
        Path::new(program).display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_groups_by_program() {
        let e = |p: &str, n| Exec {
            system: "riscv64-linux".into(),
            path: PathBuf::from(p),
            nanos: n,
        };
        let text = render_report(&[
            e("/b/gen", 1_000_000_000),
            e("/b/t", 5_000_000),
            e("/b/gen", 500_000_000),
        ]);
        assert_eq!(
            text,
            "binfmtctl build report: 2 foreign program(s) executed under emulation, 3 exec(s), 1.505 s in all\n\
             COUNT  TIME     SYSTEM         PATH\n\
             2      1.500 s  riscv64-linux  /b/gen\n\
             1      0.005 s  riscv64-linux  /b/t\n"
        );
        assert_eq!(render_report(&[]), "binfmtctl build report: 0 foreign program(s) executed under emulation, 0 exec(s), 0.000 s in all\n");
    }

    #[test]
    fn nix_commands_are_recognised() {
        for (p, want) in [
            ("nix-build", true),
            ("/usr/bin/nix", true),
            ("nix-store", true),
            ("make", false),
            ("nixie", false),
        ] {
            assert_eq!(is_nix_command(&OsString::from(p)), want, "{p}");
        }
    }
}
