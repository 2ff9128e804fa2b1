//! `binfmtctl enable`: register qemu-user for systems, verify (read the entry back, then
//! execute the system's probe through the kernel), record in the config.

use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::Ctx;
use crate::binfmt::{Entry, EntryName, Flags, Registration};
use crate::cli::EnableArgs;
use crate::emulator::interpreter::{self, Interpreter};
use crate::emulator::trial::{self, Outcome, ProbeDir};
use crate::model::plan::{self, Action, Foreign};
use crate::model::profile::Profile;
use crate::probe::{self, Probe};
use crate::report;
use crate::store::config::{FlagsText, SystemConfig};
use crate::sys::privilege::require_admin;
use crate::{binfmt::binfmtd, binfmt::transaction, emulator::native, exit_codes, store};

#[derive(Serialize)]
struct Report {
    dry_run: bool,
    register_path: String,
    /// The config file written, or null with --runtime.
    config: Option<String>,
    actions: Vec<ActionReport>,
}

#[derive(Serialize)]
struct ActionReport {
    name: String,
    system: String,
    /// unchanged | enable | register | replace
    action: &'static str,
    line: String,
    interpreter: String,
    #[serde(rename = "static")]
    is_static: bool,
    flags: String,
    /// A plain exec of the system's probe through the kernel after registering, shaped as
    /// `check`'s `exec`; null with --dry-run.
    checked: Option<Outcome>,
    /// Why the system's programs do not run, and the fix; null when they run.
    problem: Option<String>,
    /// Other systems this entry runs, recorded with it (`enable all`: armv7l-linux beside
    /// armv6l-linux, whose magic, mask, interpreter and flags are the same).
    also: Vec<String>,
}

/// What executing a system's probe after registering showed.
struct Checked {
    outcome: Outcome,
    problem: Option<String>,
}

struct Wanted<'a> {
    profile: &'a Profile,
    interpreter: Interpreter,
    reg: Registration,
    /// Registered with --force although users other than root can change the interpreter.
    forced: bool,
    /// Other systems the same entry serves (`enable all`), recorded with it.
    also: Vec<&'a Profile>,
}

/// The systems asked for: `Some(names)`, or None for every one (`all`, `--all`).
fn asked(args: &EnableArgs) -> Result<Option<&[String]>> {
    let keyword = args.systems.iter().any(|s| s.eq_ignore_ascii_case("all"));
    if keyword && args.systems.len() > 1 {
        bail!(
            "`all` stands for every system with an installed interpreter; give either all or a list of systems ({}), not both",
            args.systems.join(",")
        );
    }
    if keyword && args.interpreter.is_some() {
        bail!("--interpreter applies to one system, not to all; enable the systems one at a time");
    }
    Ok((!(keyword || args.all)).then_some(&args.systems[..]))
}

/// Whether --name is a template ({cpu}, {system}) that names each of several systems.
fn is_template(name: &str) -> bool {
    name.contains("{cpu}") || name.contains("{system}")
}

/// The entry name of a system: --name, its placeholders filled in, else the system's name.
pub(super) fn entry_name(name: Option<&str>, profile: &Profile) -> String {
    name.map_or_else(
        || profile.system.to_string(),
        |t| {
            t.replace("{cpu}", profile.cpu.as_deref().unwrap_or(&profile.system))
                .replace("{system}", &profile.system)
        },
    )
}

/// --name without a placeholder, and --interpreter, name one system's entry and emulator.
fn one_system_options(args: &EnableArgs, asked: Option<&[String]>) -> Result<()> {
    let several = asked.is_none_or(|s| s.len() > 1);
    if several && args.name.as_deref().is_some_and(|n| !is_template(n)) {
        bail!(
            "--name {} applies to one system; for several, make it a template ({{cpu}} or {{system}} stand for each \
             system: --name 'qemu-{{cpu}}'), or enable the systems one at a time",
            args.name.as_deref().unwrap_or_default()
        );
    }
    if several && args.interpreter.is_some() {
        bail!("--interpreter applies to one system; enable the systems one at a time");
    }
    Ok(())
}

pub fn run(ctx: &Ctx, args: &EnableArgs) -> Result<ExitCode> {
    let asked = asked(args)?;
    one_system_options(args, asked)?;
    let wanted = resolve(ctx, args, asked)?;
    let regs: Vec<Registration> = wanted.iter().map(|w| w.reg.clone()).collect();

    if args.dry_run {
        let current = if ctx.registry.is_mounted() {
            ctx.registry.entries()?
        } else {
            Vec::new()
        };
        let (config, state) = (ctx.config()?, ctx.state()?);
        let actions = plan::plan_register(
            &regs,
            &current,
            &|e| ctx.is_ours(e, &config, &state),
            args.force,
        )
        .map_err(|f| foreign_error(&f))?;
        note_shadowed(
            &wanted,
            &current,
            &actions,
            &|e| ctx.is_ours(e, &config, &state),
            true,
        );
        return report(ctx, args, &wanted, &actions, None);
    }

    require_admin("binfmtctl enable")?;
    let _lock = store::Lock::acquire(&ctx.config_path)?;
    let (mut config, mut state) = (ctx.config()?, ctx.state()?);
    check_writable(ctx, args, &config)?;
    if ctx.registry.ensure_mounted()? {
        report::note(&format!(
            "mounted binfmt_misc at {}",
            ctx.registry.root().display()
        ));
    }
    let current = ctx.registry.entries()?;
    let actions = plan::plan_register(
        &regs,
        &current,
        &|e| ctx.is_ours(e, &config, &state),
        args.force,
    )
    .map_err(|f| foreign_error(&f))?;
    // Write ahead: record the entries as binfmtctl's BEFORE writing them, so that if this
    // process dies between the kernel write and the config write (SIGKILL, power loss), the
    // entry left behind is still known as ours and `apply` removes it (tests/faults.rs).
    let state_before = state.clone();
    for w in &wanted {
        state.record(&w.reg);
    }
    if let Err(e) = state.save(&ctx.state_dir) {
        report::warn(&format!(
            "{e:#}; if binfmtctl is interrupted now, `binfmtctl apply` may not recognise these entries as its own"
        ));
    }
    if let Err(e) = transaction::execute(&ctx.registry, &ctx.profiles, &actions) {
        let _ = state_before.save(&ctx.state_dir);
        return Err(e.into());
    }

    let undo = |why: anyhow::Error| -> anyhow::Error {
        let rollback = transaction::undo(&ctx.registry, &ctx.profiles, &current, &actions);
        let _ = state_before.save(&ctx.state_dir);
        why.context(rollback.describe("the registrations"))
    };
    // Read back: the kernel must now hold exactly what was planned.
    read_back(ctx, &wanted).map_err(undo)?;
    for w in &wanted {
        if !args.runtime {
            config.upsert(SystemConfig {
                system: w.profile.system.to_string(),
                name: w.reg.name.clone(),
                interpreter: w.reg.interpreter.clone(),
                flags: FlagsText(w.reg.flags),
                credentials: w.reg.flags.credentials,
                also: w.also.iter().map(|p| p.system.to_string()).collect(),
            });
            if w.forced {
                config.force_interpreter(&w.reg.interpreter);
            }
        }
    }
    if !args.runtime {
        config.nix |= args.nix;
        config.save(&ctx.config_path).map_err(undo)?;
        ctx.sync_nix(&config)?;
    }
    if let Err(e) = state.save(&ctx.state_dir) {
        report::warn(&format!(
            "{e:#}; binfmtctl will treat these entries as its own only while the config lists them"
        ));
    }
    note_shadowed(
        &wanted,
        &current,
        &actions,
        &|e| ctx.is_ours(e, &config, &state),
        false,
    );
    let checked = prove(ctx, args, &wanted);
    report(ctx, args, &wanted, &actions, Some(&checked))
}

/// Execute each system's probe plainly through the kernel (what `check` does first): reading
/// the entry back proves what the kernel holds, not that programs run (binfmt_misc disabled
/// as a whole, an interpreter for another architecture). A registration that does not work
/// is kept, as asked, with a warning that says why and how to fix it.
fn prove(ctx: &Ctx, args: &EnableArgs, wanted: &[Wanted]) -> Vec<Checked> {
    // wasm and the like have no probe: nothing is run for them.
    let has_probe: Vec<Option<Probe>> = wanted
        .iter()
        .map(|w| probe::for_system(&w.profile.system))
        .collect();
    let probes: Vec<Probe> = has_probe.iter().flatten().cloned().collect();
    let outcomes = ProbeDir::new().and_then(|dir| {
        for p in &probes {
            dir.write(p)?;
        }
        Ok(trial::exec_each(&probes, dir.path()))
    });
    let outcomes = match outcomes {
        Ok(o) => o,
        Err(e) => {
            let reason = format!("cannot write the probe programs: {e}");
            report::warn(&format!(
                "{reason}; whether the programs run was not checked: run binfmtctl check"
            ));
            vec![Outcome::NotTested { reason }; probes.len()]
        }
    };
    // Only when a program got "Exec format error": binfmt_misc disabled as a whole explains it.
    let disabled =
        outcomes.contains(&Outcome::NoEntry) && ctx.registry.facility_enabled().is_ok_and(|on| !on);
    let mut outcomes = outcomes.into_iter();
    wanted
        .iter()
        .zip(&has_probe)
        .map(|(w, probe)| {
            let outcome = probe
                .as_ref()
                .and_then(|_| outcomes.next())
                .unwrap_or(Outcome::NotProbed);
            if let Outcome::NotTested { reason } = &outcome {
                report::warn(&format!(
                    "{}: whether its programs run was not checked: {reason}",
                    w.profile.system
                ));
            }
            let problem = not_running(w, args, &outcome, disabled, ctx);
            Checked { outcome, problem }
        })
        .collect()
}

/// Why a registered system's programs do not run, from its probe's outcome, as `check` says
/// it (one diagnosis, [`crate::model::diagnose`]); None when they run (or nothing was run).
fn not_running(
    w: &Wanted,
    args: &EnableArgs,
    outcome: &Outcome,
    facility_disabled: bool,
    ctx: &Ctx,
) -> Option<String> {
    if !outcome.failed() {
        return None;
    }
    let system = &*w.profile.system;
    // The probe went to the entry the kernel uses for it (its own header decides), which may
    // be another, newer one.
    let table = ctx.registry.entries().unwrap_or_default();
    let winner = probe::for_system(system)
        .and_then(|p| crate::binfmt::winner(&table, std::path::Path::new(system), &p.bytes));
    let emulates_other = winner
        .filter(|_| matches!(outcome, Outcome::Failed { .. }))
        .and_then(|e| {
            crate::model::diagnose::emulated_by(&e.interpreter, w.profile, &ctx.profiles)
        });
    let own = interpreter::find(w.profile);
    let install_hint = interpreter::install_hint(w.profile);
    let enable = reenable_command(w, args);
    let problems = crate::model::diagnose::diagnose(&crate::model::diagnose::Facts {
        system,
        qemu: w.profile.cpu.is_some(),
        root: ctx.registry.root(),
        facility: if facility_disabled {
            crate::model::diagnose::Facility::Disabled
        } else {
            crate::model::diagnose::Facility::Enabled
        },
        winner,
        meant: Some(w.reg.name.as_str()),
        exec: outcome,
        chroot: None,
        emulates_other: emulates_other.as_deref(),
        interpreter_dynamic: false,
        own_emulator: own.as_ref().map(|i| (i.path.as_path(), i.is_static)),
        install_hint: &install_hint,
        enable: &enable,
    });
    let said: Vec<String> = problems
        .iter()
        .map(|p| format!("{}; {}", p.message, p.fix))
        .collect();
    (!said.is_empty()).then(|| {
        format!(
            "{system} is registered but its programs do not run: {}; run binfmtctl check {system}",
            said.join("; ")
        )
    })
}

/// `binfmtctl enable` again, with the same name and persistence.
fn reenable_command(w: &Wanted, args: &EnableArgs) -> String {
    let system = &*w.profile.system;
    let mut cmd = format!("binfmtctl enable {system}");
    if w.reg.name.as_str() != system {
        cmd += &format!(" --name {}", w.reg.name);
    }
    if args.runtime {
        cmd += " --runtime";
    }
    cmd
}

/// Before anything is registered: a config (a link into the Nix store) or a nix.conf that
/// binfmtctl may not write stops the command.
fn check_writable(
    ctx: &Ctx,
    args: &EnableArgs,
    config: &crate::store::config::Config,
) -> Result<()> {
    if args.runtime {
        return Ok(());
    }
    crate::store::config::Config::check_writable(&ctx.config_path)?;
    if args.nix || config.nix {
        crate::nixconf::check_editable(&ctx.nix_conf)?;
    }
    Ok(())
}

/// Another tool's enabled entry that also runs a wanted system's programs (Debian's
/// qemu-riscv64 beside riscv64-linux): binfmtctl's newer entry takes precedence, and `check`
/// reports the other as shadowed. Said now, with how to keep only one.
fn note_shadowed(
    wanted: &[Wanted],
    current: &[Entry],
    actions: &[Action],
    ours: &dyn Fn(&Entry) -> bool,
    dry_run: bool,
) {
    let scanned = binfmtd::scan(binfmtd::DIRS);
    for w in wanted {
        // Registered now, ours becomes the newest entry; left as it was, it keeps its place
        // (`current` lists the newest first).
        let registers = actions.iter().any(|a| {
            matches!(a, Action::Register(r) | Action::Replace { new: r, .. } if r.name == w.reg.name)
        });
        let place = current.iter().position(|e| e.name == w.reg.name);
        for (at, e) in current.iter().enumerate() {
            if e.name == w.reg.name || !e.enabled || ours(e) || !w.profile.accepted_by(&e.matcher) {
                continue;
            }
            let remove = crate::binfmt::binfmtd::remove_for_good(&scanned, e)
                .unwrap_or_else(|| format!("remove it (binfmtctl disable --name {})", e.name));
            if !registers && place.is_some_and(|p| at < p) {
                report::warn(&format!(
                    "the newer entry {other} (not binfmtctl's) also runs {system} programs and takes precedence over \
                     {name}, which is not used. To use {name}: {remove}, or register it again as the newest \
                     (binfmtctl disable {system} && binfmtctl enable {system})",
                    other = e.name,
                    system = w.profile.system,
                    name = w.reg.name,
                ));
                continue;
            }
            report::warn(&format!(
                "the entry {other} (not binfmtctl's) also runs {system} programs; {name} {takes} precedence over it and \
                 `binfmtctl check` reports it as shadowed. To keep one: binfmtctl disable {system}, or {remove}",
                other = e.name,
                system = w.profile.system,
                name = w.reg.name,
                takes = if dry_run { "would take" } else { "takes" },
            ));
        }
    }
}

/// The kernel must hold exactly what was registered.
fn read_back(ctx: &Ctx, wanted: &[Wanted]) -> Result<()> {
    for w in wanted {
        let entry = ctx.registry.entry(&w.reg.name)?;
        if !entry.enabled || !entry.registration().same_effect(&w.reg) {
            bail!(
                "after registering, {} reads back differently:\n{}",
                ctx.registry.entry_path(&w.reg.name).display(),
                crate::binfmt::Entry::render(&entry.registration(), entry.enabled)
            );
        }
    }
    Ok(())
}

fn resolve<'a>(
    ctx: &'a Ctx,
    args: &EnableArgs,
    asked: Option<&[String]>,
) -> Result<Vec<Wanted<'a>>> {
    let mut out: Vec<Wanted<'a>> = Vec::new();
    let Some(names) = asked else {
        let native: Vec<&str> = native::native()
            .systems
            .iter()
            .map(String::as_str)
            .collect();
        let found = interpreter::installed_for_foreign(&ctx.profiles, &native);
        if found.is_empty() {
            bail!(
                "no emulator is installed for any system this host does not run natively; install a static qemu-user \
                 (Debian/Ubuntu: apt install qemu-user-static), then binfmtctl enable all"
            );
        }
        for (profile, interpreter) in found {
            let w = want(args, profile, interpreter)?;
            // One entry where two systems share magic, mask, interpreter and flags (armv6l and
            // armv7l): a second would only shadow the first. Both names are recorded with it.
            match out.iter_mut().find(|o| {
                o.reg.matcher == w.reg.matcher
                    && o.reg.interpreter == w.reg.interpreter
                    && o.reg.flags == w.reg.flags
            }) {
                Some(first) => first.also.push(profile),
                None => out.push(w),
            }
        }
        return unique_names(out);
    };
    for name in names {
        let profile = ctx.profiles.lookup(name)?;
        if out.iter().any(|w| w.profile.system == profile.system) {
            continue;
        }
        if native::runs_natively(&profile.system) && !args.force {
            bail!(
                "{}. Use --force if you really mean it",
                native::native_reason(&profile.system)
            );
        }
        let interpreter = match &args.interpreter {
            Some(path) => Interpreter::at(path).map_err(anyhow::Error::msg)?,
            None => interpreter::find(profile).with_context(|| {
                format!(
                    "no interpreter for {} found; {}",
                    profile.system,
                    interpreter::install_hint(profile)
                )
            })?,
        };
        out.push(want(args, profile, interpreter)?);
    }
    unique_names(out)
}

/// Two systems may not get one entry name (a --name template without {cpu} or {system}
/// differences: armv6l and armv7l are both qemu-{cpu} = qemu-arm).
fn unique_names(wanted: Vec<Wanted>) -> Result<Vec<Wanted>> {
    for (i, w) in wanted.iter().enumerate() {
        if let Some(other) = wanted[..i].iter().find(|o| o.reg.name == w.reg.name) {
            bail!(
                "{} and {} would both get the entry name {}; enable them one at a time with different --name",
                other.profile.system,
                w.profile.system,
                w.reg.name
            );
        }
    }
    Ok(wanted)
}

/// The registration of one system with its interpreter, vetted as every registration is.
fn want<'a>(
    args: &EnableArgs,
    profile: &'a Profile,
    interpreter: Interpreter,
) -> Result<Wanted<'a>> {
    let interp_text = interpreter
        .path
        .to_str()
        .with_context(|| {
            format!(
                "interpreter path {} is not UTF-8",
                interpreter.path.display()
            )
        })?
        .to_owned();
    let forced = vet_interpreter(&interpreter.path, args.force)?;
    let flags = Flags {
        open_binary: args.open_binary,
        credentials: args.credentials,
        ..profile.flags(interpreter.is_static)
    };
    if !interpreter.is_static {
        report::warn(&format!(
            "{} is dynamically linked: registering without F, so chroots, containers and the Nix sandbox will not find it, \
             and emulated programs' LD_* variables act on the host qemu; install a static qemu ({})",
            interpreter.path.display(),
            interpreter::install_hint(profile)
        ));
    }
    if args.credentials {
        report::warn(crate::report::texts::CREDENTIALS_WARNING);
    }
    let entry_name: EntryName = entry_name(args.name.as_deref(), profile)
        .parse()
        .context("--name")?;
    let reg = profile.registration(entry_name, interp_text, flags);
    reg.validate()
        .with_context(|| format!("cannot register {}", profile.system))?;
    // Never, not even with --force: the machine could run nothing afterwards.
    if let Some(why) = native::capture_refusal(&reg, &profile.source) {
        bail!("refusing to register {}: {why}", reg.name);
    }
    interpreter::check_text(&reg.interpreter).map_err(|why| {
        anyhow::anyhow!(
            "cannot register {}: interpreter {:?} {why}",
            profile.system,
            reg.interpreter
        )
    })?;
    Ok(Wanted {
        profile,
        interpreter,
        reg,
        forced,
        also: Vec::new(),
    })
}

/// Refuse, in the host's table, an interpreter that users other than root could change
/// (SECURITY.md): whoever can replace it runs code in every emulated program, root's
/// included. With --force it is registered with a warning, and true is returned so the config
/// records the decision for `apply`. In a user namespace's private instance it is only a
/// warning: the entry reaches that namespace's processes alone.
fn vet_interpreter(path: &std::path::Path, force: bool) -> Result<bool> {
    let Some(why) = interpreter::untrusted(path) else {
        return Ok(false);
    };
    let shown = path.display();
    if !interpreter::host_namespace() {
        report::warn(&format!(
            "interpreter {shown}: {why}; accepted because this binfmt_misc instance belongs to a user namespace \
             (the host's table would refuse it without --force)"
        ));
        return Ok(false);
    }
    if !force {
        bail!(
            "refusing the interpreter {shown}: {why}, so users other than root could replace what every emulated program runs; \
             make it root's and not writable by others (chown root:root {p} && chmod go-w {p}) or pass --force",
            p = why.path.display()
        );
    }
    report::warn(&format!(
        "registering {shown} although {why} (--force): users other than root can replace what every emulated program runs"
    ));
    Ok(true)
}

fn foreign_error(foreign: &[Foreign]) -> anyhow::Error {
    let scanned = binfmtd::scan(binfmtd::DIRS);
    let lines: Vec<String> = foreign
        .iter()
        .map(|f| {
            let owner = binfmtd::owner(&scanned, &f.current).map_or_else(
                || "owner unknown".to_owned(),
                |p| format!("from {}", p.display()),
            );
            format!(
                "entry {f} exists and was not created by binfmtctl ({owner}); \
                 leave it, register beside it with --name {}-binfmtctl, or replace it with --force",
                f.name
            )
        })
        .collect();
    anyhow::anyhow!("{}", lines.join("\n"))
}

fn report(
    ctx: &Ctx,
    args: &EnableArgs,
    wanted: &[Wanted],
    actions: &[Action],
    checked: Option<&[Checked]>,
) -> Result<ExitCode> {
    let dry_run = checked.is_none();
    let register_path = ctx.registry.root().join("register").display().to_string();
    let config = (!args.runtime).then(|| ctx.config_path.display().to_string());
    let rows: Vec<ActionReport> = wanted
        .iter()
        .zip(actions)
        .enumerate()
        .map(|(i, (w, a))| ActionReport {
            name: w.reg.name.to_string(),
            system: w.profile.system.to_string(),
            action: a.verb(),
            line: w.reg.to_string(),
            interpreter: w.reg.interpreter.clone(),
            is_static: w.interpreter.is_static,
            flags: w.reg.flags.to_string(),
            checked: checked.map(|c| c[i].outcome.clone()),
            problem: checked.and_then(|c| c[i].problem.clone()),
            also: w.also.iter().map(|p| p.system.to_string()).collect(),
        })
        .collect();
    // Exit 1 ("checked and found wanting") when a registered system's programs do not run.
    let code = if checked.is_some_and(|c| c.iter().any(|c| c.problem.is_some())) {
        exit_codes::wanting()
    } else {
        exit_codes::success()
    };
    let report = Report {
        dry_run,
        register_path,
        config,
        actions: rows,
    };
    // After the notes on what was registered: said last, it is what the user reads.
    let warn_problems = || {
        for p in report.actions.iter().filter_map(|a| a.problem.as_deref()) {
            report::warn(p);
        }
    };
    if args.json {
        warn_problems();
        report::print_json(&report)?;
        return Ok(code);
    }
    let mut text = String::new();
    for (row, action) in report.actions.iter().zip(actions) {
        let would = if dry_run { "would " } else { "" };
        text += &crate::report::actions::describe(&ctx.registry, action, dry_run);
        if let Some(config) = &report.config {
            text += &format!("# {would}record {} in {config}\n", row.name);
        }
        if !dry_run {
            let kind = if row.is_static { "static" } else { "dynamic" };
            let also = if row.also.is_empty() {
                String::new()
            } else {
                format!(", also for {}", row.also.join(", "))
            };
            report::note(&format!(
                "{}: {} ({kind}, flags {}{also})",
                row.system, row.interpreter, row.flags
            ));
        }
    }
    warn_problems();
    report::print(&text)?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::{asked, entry_name, is_template};
    use crate::cli::{Cli, Command, EnableArgs};

    fn args(words: &[&str]) -> EnableArgs {
        let argv = std::iter::once("binfmtctl")
            .chain(std::iter::once("enable"))
            .chain(words.iter().copied());
        match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Command::Enable(a)) => a,
            other => panic!("{words:?}: {other:?}"),
        }
    }

    #[test]
    fn all_as_a_word_or_an_option_asks_for_every_system_and_never_beside_names() {
        assert_eq!(asked(&args(&["all"])).unwrap(), None);
        assert_eq!(asked(&args(&["ALL"])).unwrap(), None);
        assert_eq!(asked(&args(&["--all"])).unwrap(), None);
        assert_eq!(
            asked(&args(&["riscv64,arm64"])).unwrap(),
            Some(&["riscv64".to_owned(), "arm64".to_owned()][..])
        );
        let err = asked(&args(&["all,riscv64"])).unwrap_err().to_string();
        assert_eq!(
            err,
            "`all` stands for every system with an installed interpreter; give either all or a list of systems \
             (all,riscv64), not both"
        );
        assert!(asked(&args(&["all", "--interpreter", "/q"])).is_err());
    }

    #[test]
    fn a_name_template_names_each_system_by_its_cpu_or_system() {
        let profiles = crate::model::profile::Profiles::builtin().unwrap();
        let p = |s: &str| profiles.lookup(s).unwrap();
        for (name, system, want) in [
            (None, "arm64", "aarch64-linux"),
            (Some("qemu-{cpu}"), "arm64", "qemu-aarch64"),
            (Some("qemu-{cpu}"), "armv7l-linux", "qemu-arm"),
            (Some("qemu-{cpu}"), "armv6l-linux", "qemu-arm"),
            (Some("ci-{system}"), "riscv64", "ci-riscv64-linux"),
            (Some("fixed"), "riscv64", "fixed"),
            // No qemu cpu (wasm): the system's name stands in.
            (Some("x-{cpu}"), "wasm32-wasi", "x-wasm32-wasi"),
        ] {
            assert_eq!(entry_name(name, p(system)), want, "{name:?} {system}");
        }
        assert!(is_template("qemu-{cpu}") && is_template("{system}-x"));
        assert!(!is_template("qemu-arm") && !is_template("{arch}"));
    }
}
