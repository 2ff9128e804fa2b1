//! `binfmtctl apply`: make the kernel table match the config (used at boot by the unit).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::binfmt::{Entry, EntryName, Registration};
use crate::cli::ApplyArgs;
use crate::emulator::interpreter;
use crate::model::plan::{self, Action};
use crate::store::config::Config;
use crate::store::state::{file_id, State};
use crate::sys::privilege::require_admin;
use crate::{binfmt::transaction, exit_codes, report, store};

/// `apply --json`, documented in README.md.
#[derive(Serialize)]
struct Report {
    dry_run: bool,
    /// Every action, "unchanged" included.
    actions: Vec<ActionRow>,
    /// Wanted entries whose name is held by an entry binfmtctl did not create: left alone.
    conflicts: Vec<String>,
    /// Actions that failed, with why.
    failed: Vec<String>,
    /// Entries of `build --host-table` runs that are gone (killed), removed (with `--dry-run`:
    /// that would be removed).
    leftovers: Vec<String>,
}

#[derive(Serialize)]
struct ActionRow {
    name: String,
    action: &'static str,
    line: String,
}

/// An `F` entry of ours whose interpreter file is no longer the one registered (a qemu
/// upgrade replaced it): the kernel still runs the old, open file until re-registered.
fn interpreter_replaced(state: &State, e: &Entry) -> bool {
    e.flags.fix_binary
        && state
            .get(&e.name)
            .and_then(|o| o.interpreter_id)
            .is_some_and(|registered| {
                file_id(std::path::Path::new(&e.interpreter)) != Some(registered)
            })
}

/// A configured entry `apply` does not register: the record's name, why in a few words (for
/// stdout's summary), and the whole warning with the fix (stderr, and `--json`'s `failed`).
struct Refusal {
    name: EntryName,
    why: String,
    msg: String,
}

impl Refusal {
    /// Warns with "refused NAME: DETAIL" and records it.
    fn new(name: &EntryName, why: impl Into<String>, detail: &str) -> Refusal {
        let msg = format!("refused {name}: {detail}");
        report::warn(&msg);
        Refusal {
            name: name.clone(),
            why: why.into(),
            msg,
        }
    }
}

/// Records whose interpreter users other than root could change (SECURITY.md): refused in
/// the host's table unless `enable --force` recorded that interpreter in the config (then, and
/// in a user namespace's private instance, only a warning). The records refused, with why.
fn vet_interpreters(ctx: &Ctx, config: &Config) -> Vec<Refusal> {
    let mut refused = Vec::new();
    for r in &config.systems {
        // An entry that would capture the host's own programs: never at boot (issue 11, case 5).
        // (A system the host runs natively is refused below, with its own reason.)
        let native = crate::emulator::native::runs_natively(&r.system);
        let capture = ctx.desired(r).ok().filter(|_| !native).and_then(|reg| {
            let source = ctx.profiles.lookup(&r.system).ok()?.source.to_string();
            crate::emulator::native::capture_refusal(&reg, &source)
        });
        if let Some(msg) = capture {
            refused.push(Refusal::new(
                &r.name,
                "its magic and mask accept this host's own programs",
                &format!(
                    "{msg}; or remove the record (binfmtctl disable --name {})",
                    r.name
                ),
            ));
            continue;
        }
        // What `enable --interpreter` refuses: a directory, a file without an execute bit. A
        // missing one is left to the kernel (F) or to `check`: qemu may be reinstalled.
        if std::fs::metadata(&r.interpreter).is_ok_and(|m| !interpreter::is_executable_file(&m)) {
            refused.push(Refusal::new(
                &r.name,
                format!("its interpreter {} is not an executable file", r.interpreter),
                &format!(
                    "its interpreter {} is not an executable file; register an installed emulator \
                     (binfmtctl enable {} --name {} --interpreter PATH) or remove the record (binfmtctl disable --name {})",
                    r.interpreter, r.system, r.name, r.name
                ),
            ));
            continue;
        }
        if r.flags.0.credentials {
            report::warn(&format!(
                "{} (entry {} has flag C: credentials = true in the configuration)",
                crate::report::texts::CREDENTIALS_WARNING,
                r.name
            ));
        }
        let Some(why) = interpreter::untrusted(Path::new(&r.interpreter)) else {
            continue;
        };
        if interpreter::host_namespace() && !config.is_forced(&r.interpreter) {
            refused.push(Refusal::new(
                &r.name,
                format!(
                    "its interpreter {} can be changed by users other than root",
                    r.interpreter
                ),
                &format!(
                    "its interpreter {} can be changed by users other than root ({why}); \
                     fix the permissions, or accept the risk with `binfmtctl enable {} --interpreter {} --name {} --force`",
                    r.interpreter, r.system, r.interpreter, r.name
                ),
            ));
        } else {
            report::warn(&format!(
                "entry {}: its interpreter {} can be changed by users other than root ({why})",
                r.name, r.interpreter
            ));
        }
    }
    // A system the host runs natively would send every native exec through qemu (an exec loop
    // with a qemu of the host's own architecture): never at boot, whatever the config says.
    for r in &config.systems {
        if crate::emulator::native::runs_natively(&r.system)
            && !refused.iter().any(|f| f.name == r.name)
        {
            refused.push(Refusal::new(
                &r.name,
                format!("{} runs natively on this host", r.system),
                &format!(
                    "{}; remove it from the config (binfmtctl disable --name {})",
                    crate::emulator::native::native_reason(&r.system),
                    r.name
                ),
            ));
        }
    }
    refused
}

/// Before anything is registered: a nix.conf binfmtctl may not edit stops the command, and
/// the table is vetted (and mounted when it is not).
fn prepare(ctx: &Ctx, config: &Config) -> Result<()> {
    if config.nix {
        crate::nixconf::check_editable(&ctx.nix_conf)?;
    }
    if ctx.registry.ensure_mounted()? {
        report::note(&format!(
            "mounted binfmt_misc at {}",
            ctx.registry.root().display()
        ));
    }
    Ok(())
}

/// What failed, why, and the fix, for an action the kernel refused.
fn failure(
    ctx: &Ctx,
    config: &Config,
    current: &[Entry],
    action: &Action,
    err: &crate::binfmt::RegistryError,
) -> String {
    let name = &action.registration().name;
    let mut msg = format!("{} {name} failed: {err}", action.verb());
    if matches!(action, Action::Replace { .. }) {
        // The old entry was put back, as the newest: say what it now wins over.
        for note in transaction::reordered(&ctx.registry, &ctx.profiles, current, &[name]) {
            msg += &format!("; {note}");
        }
    }
    if let Some(fix) = missing_interpreter_fix(ctx, config, action) {
        msg += &format!(". {fix}");
    }
    msg
}

/// The fix for a registration that failed because its interpreter is not installed (qemu
/// removed since `enable`): install it again, register another, or stop registering it.
fn missing_interpreter_fix(ctx: &Ctx, config: &Config, action: &Action) -> Option<String> {
    let r = action.registration();
    if matches!(action, Action::Remove(_)) || Path::new(&r.interpreter).exists() {
        return None;
    }
    let rec = config.get(&r.name)?;
    let install = match ctx.profiles.lookup(&rec.system).ok()?.cpu {
        Some(_) => "apt install qemu-user-static; Fedora: dnf install qemu-user-static".to_owned(),
        None => format!("the package that has {}", r.interpreter),
    };
    let name = if rec.name.as_str() == rec.system {
        String::new()
    } else {
        format!(" --name {}", rec.name)
    };
    let disable = if name.is_empty() {
        rec.system.clone()
    } else {
        format!("--name {}", rec.name)
    };
    Some(format!(
        "Fix: install {} again ({install}), register another: binfmtctl enable {}{name} --interpreter PATH, \
         or stop registering it: binfmtctl disable {disable}",
        r.interpreter, rec.system
    ))
}

/// After the table changed: record what is ours, bring Nix in step, save the state.
fn finish(
    ctx: &Ctx,
    config: &crate::store::config::Config,
    actions: &[Action],
    mut state: State,
    before: &State,
) -> Result<()> {
    // Unchanged entries of ours that the state lost (e.g. after a reboot) are recorded too.
    for a in actions {
        if let Action::Unchanged(r) = a {
            if state.get(&r.name).is_none() {
                state.record(r);
            }
        }
    }
    ctx.sync_nix(config)?;
    // A no-op apply (every boot, every systemd-binfmt restart) writes nothing.
    if &state != before {
        if let Err(e) = state.save(&ctx.state_dir) {
            report::warn(&format!("{e:#}"));
        }
    }
    Ok(())
}

/// Another tool's entry holding a configured name: warned about, recorded in `--json`'s
/// `conflicts`, and returned as a left-out entry with why.
fn foreign_left_out(ctx: &Ctx, f: &plan::Foreign, report: &mut Report) -> (String, String) {
    let msg = format!(
        "entry {f} is not binfmtctl's; left alone (remove it, or give binfmtctl's record another name in {})",
        ctx.config_path.display()
    );
    report::warn(&msg);
    report.conflicts.push(msg);
    (
        f.name.to_string(),
        format!(
            "another tool's entry holds the name: interpreter {}, flags {:?}",
            f.current.interpreter,
            f.current.flags.to_string()
        ),
    )
}

/// What `apply` did not do and why, one comment line a configured entry it left out (`left_out`:
/// name and why), then, when it changed nothing, that it had nothing (else) to do. It never
/// says the table matches the configuration while it leaves a configured entry out (issue 13,
/// item 5).
fn summary(config: &Path, left_out: &[(String, String)], changed: bool, others: bool) -> String {
    let mut text = String::new();
    for (name, why) in left_out {
        text += &format!("# not registered: {name} ({why})\n");
    }
    if changed {
        return text;
    }
    if !left_out.is_empty() {
        text += if others {
            "# nothing else to do: every other configured entry is registered as configured\n"
        } else {
            "# nothing else to do\n"
        };
        text
    } else if config.exists() {
        "# the table already matches the configuration; nothing to do\n".to_owned()
    } else {
        format!(
            "# no configuration at {} (binfmtctl enable SYSTEM writes one); nothing to do\n",
            config.display()
        )
    }
}

/// Carry out the actions (or, dry run, only describe them), recording what was done in
/// `state` and `report`: the text for stdout, and the errors to say last on stderr (what
/// journalctl shows of the boot unit). At boot, one bad record must not keep the others from
/// being restored: a failed action does not stop the rest.
fn perform_all(
    ctx: &Ctx,
    config: &Config,
    current: &[Entry],
    actions: &[Action],
    state: &mut State,
    report: &mut Report,
) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut errors = Vec::new();
    for a in actions {
        let r = a.registration();
        if a.changes_anything() {
            text += &crate::report::actions::describe_lines(&ctx.registry, a, report.dry_run, true);
        }
        report.actions.push(ActionRow {
            name: r.name.to_string(),
            action: a.verb(),
            line: r.to_string(),
        });
        if report.dry_run || !a.changes_anything() {
            continue;
        }
        // At boot, one bad record must not keep the others from being restored.
        match transaction::perform(&ctx.registry, a) {
            Ok(()) if matches!(a, Action::Remove(_)) => state.forget(&r.name),
            Ok(()) => state.record(r),
            Err(e) => {
                text += &format!(
                    "# FAILED: {} {} (the error is on stderr)\n",
                    a.verb(),
                    r.name
                );
                let msg = failure(ctx, config, current, a, &e);
                errors.push(msg.clone());
                report.failed.push(msg);
            }
        }
    }
    (text, errors)
}

pub fn run(ctx: &Ctx, args: ApplyArgs) -> Result<ExitCode> {
    let ApplyArgs { dry_run, json } = args;
    if !dry_run {
        require_admin("binfmtctl apply")?;
    }
    let _lock = if dry_run {
        None
    } else {
        store::Lock::acquire_to_read(&ctx.config_path)?
    };
    let (config, mut state) = (ctx.config()?, ctx.state()?);
    let state_before = state.clone();
    let refused = vet_interpreters(ctx, &config);
    let wanted: Vec<Registration> = config
        .systems
        .iter()
        .filter(|r| !refused.iter().any(|f| f.name == r.name))
        .map(|r| ctx.desired(r))
        .collect::<Result<_>>()?;
    if !dry_run {
        prepare(ctx, &config)?;
    }
    let (current, leftovers) = if ctx.registry.is_mounted() {
        // Cheap (a readdir, a /proc lookup per build entry) and where an administrator who
        // finds a killed `build --host-table`'s entries looks to repair the table.
        let leftovers = crate::build::remove_leftovers(&ctx.registry, dry_run);
        (ctx.registry.entries()?, leftovers)
    } else {
        (Vec::new(), Vec::new())
    };
    // A refused record's entry, if registered, is left as it is: neither restored nor removed.
    let (actions, foreign) = plan::plan_apply(
        &wanted,
        &current,
        &|e| !refused.iter().any(|f| f.name == e.name) && ctx.is_ours(e, &config, &state),
        &|e| interpreter_replaced(&state, e),
    );
    let mut left_out: Vec<(String, String)> = refused
        .iter()
        .map(|f| (f.name.to_string(), f.why.clone()))
        .collect();
    let mut report = Report {
        dry_run,
        actions: Vec::new(),
        conflicts: Vec::new(),
        failed: refused.into_iter().map(|f| f.msg).collect(),
        leftovers,
    };
    for f in &foreign {
        left_out.push(foreign_left_out(ctx, f, &mut report));
    }
    let (mut text, errors) = perform_all(ctx, &config, &current, &actions, &mut state, &mut report);
    if !dry_run {
        finish(ctx, &config, &actions, state, &state_before)?;
    }
    if json {
        report::print_json(&report)?;
    } else {
        let others = actions.iter().any(|a| !matches!(a, Action::Remove(_)));
        text += &summary(
            &ctx.config_path,
            &left_out,
            actions.iter().any(Action::changes_anything),
            others,
        );
        report::print(&text)?;
    }
    for e in &errors {
        report::error(e);
    }
    Ok(if report.failed.is_empty() && report.conflicts.is_empty() {
        exit_codes::success()
    } else {
        ExitCode::from(exit_codes::ERROR)
    })
}

#[cfg(test)]
mod tests {
    use super::summary;
    use std::path::Path;

    type Case<'a> = (&'a [(String, String)], bool, bool, &'a str);

    /// Issue 13, item 5: an entry left out is said, and "the table already matches" only when
    /// nothing is left out.
    #[test]
    fn the_summary_says_what_was_left_out_and_never_that_all_matches() {
        let config = Path::new("/");
        let left = vec![(
            "i686-linux".to_owned(),
            "i686-linux runs natively on this host".to_owned(),
        )];
        let cases: &[Case] = &[
            (&[], false, true, "# the table already matches the configuration; nothing to do\n"),
            (&[], true, true, ""),
            (
                &left,
                false,
                true,
                "# not registered: i686-linux (i686-linux runs natively on this host)\n\
                 # nothing else to do: every other configured entry is registered as configured\n",
            ),
            (
                &left,
                false,
                false,
                "# not registered: i686-linux (i686-linux runs natively on this host)\n# nothing else to do\n",
            ),
            (
                &left,
                true,
                true,
                "# not registered: i686-linux (i686-linux runs natively on this host)\n",
            ),
        ];
        for (i, (left_out, changed, others, want)) in cases.iter().enumerate() {
            assert_eq!(
                summary(config, left_out, *changed, *others),
                *want,
                "case {i}"
            );
        }
    }
}
