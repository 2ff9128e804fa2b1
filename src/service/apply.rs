//! Making the kernel table match the config (`apply`, run at boot by the unit): which records
//! are refused and why, the plan, and carrying it out so that one bad record does not keep the
//! others from being restored. Returns what was planned, done, left out and refused.

use std::path::Path;

use anyhow::Result;

use super::{transaction, Ctx};
use crate::binfmt::{Entry, EntryName, Registration, RegistryError};
use crate::emulator::interpreter;
use crate::model::plan::{self, Action};
use crate::service::admit;
use crate::store::config::{Config, SystemConfig};
use crate::store::state::{file_id, State};
use crate::sys::privilege::require_admin;
use crate::{report, store};

/// What `apply` planned, did (with `--dry-run`: would do), left out and refused.
pub struct Outcome {
    pub dry_run: bool,
    /// Every planned action, "unchanged" included, in order, each with why it failed.
    pub actions: Vec<Done>,
    /// Configured entries `apply` does not register.
    pub refused: Vec<Refusal>,
    /// Configured entries whose name is held by an entry binfmtctl did not create: left alone.
    pub conflicts: Vec<Conflict>,
    /// Entries of `build --host-table` runs that are gone (killed), removed (with `--dry-run`:
    /// that would be removed).
    pub leftovers: Vec<String>,
}

/// One planned action, and, when the kernel refused it, what failed, why, and the fix.
pub struct Done {
    pub action: Action,
    pub error: Option<String>,
}

/// A configured entry `apply` does not register: the record's name, why in a few words (for
/// stdout's summary), and the whole warning with the fix (stderr, and `--json`'s `failed`).
pub struct Refusal {
    pub name: EntryName,
    pub why: String,
    pub msg: String,
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

/// Another tool's entry holding a configured name: its name, why in a few words, and the
/// whole warning.
pub struct Conflict {
    pub name: String,
    pub why: String,
    pub msg: String,
}

impl Outcome {
    /// The configured entries left out, with why: the refused ones, then those another tool's
    /// entry holds the name of.
    pub fn left_out(&self) -> Vec<(String, String)> {
        let refused = self.refused.iter().map(|f| (f.name.to_string(), &f.why));
        let held = self.conflicts.iter().map(|c| (c.name.clone(), &c.why));
        refused
            .chain(held)
            .map(|(n, why)| (n, why.clone()))
            .collect()
    }

    /// The messages of the actions the kernel refused.
    pub fn errors(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().filter_map(|d| d.error.as_deref())
    }

    /// What failed: the refusals, then the actions the kernel refused.
    pub fn failed(&self) -> Vec<String> {
        let refused = self.refused.iter().map(|f| f.msg.as_str());
        refused.chain(self.errors()).map(str::to_owned).collect()
    }

    /// True when an action changes the table.
    pub fn changed(&self) -> bool {
        self.actions.iter().any(|d| d.action.changes_anything())
    }

    /// True when some configured entry is planned (a removal is not one).
    pub fn others(&self) -> bool {
        self.actions
            .iter()
            .any(|d| !matches!(d.action, Action::Remove(_)))
    }

    /// Nothing failed, nothing was left to another tool.
    pub fn succeeded(&self) -> bool {
        self.refused.is_empty() && self.errors().next().is_none() && self.conflicts.is_empty()
    }
}

/// An `F` entry of ours whose interpreter file is no longer the one registered (a qemu
/// upgrade replaced it): the kernel still runs the old, open file until re-registered.
fn interpreter_replaced(state: &State, e: &Entry) -> bool {
    e.flags.fix_binary
        && state
            .get(&e.name)
            .and_then(|o| o.interpreter_id)
            .is_some_and(|registered| file_id(Path::new(&e.interpreter)) != Some(registered))
}

/// Records whose interpreter users other than root could change (SECURITY.md): refused in
/// the host's table unless `enable --force` recorded that interpreter in the config (then, and
/// in a user namespace's private instance, only a warning). The records refused, with why.
fn vet_interpreters(ctx: &Ctx, config: &Config) -> Vec<Refusal> {
    let mut refused: Vec<Refusal> = config
        .systems
        .iter()
        .filter_map(|r| vet(ctx, config, r))
        .collect();
    // A system the host runs natively would send every native exec through qemu (an exec loop
    // with a qemu of the host's own architecture): never at boot, whatever the config says.
    for r in &config.systems {
        let Some(reason) = crate::emulator::native::refusal(&r.system) else {
            continue;
        };
        if !refused.iter().any(|f| f.name == r.name) {
            refused.push(Refusal::new(
                &r.name,
                format!("{} runs natively on this host", r.system),
                &format!(
                    "{reason}; remove it from the config (binfmtctl disable --name {})",
                    r.name
                ),
            ));
        }
    }
    refused
}

/// One record's refusal, if it is refused (other than for running natively), its warnings
/// otherwise.
fn vet(ctx: &Ctx, config: &Config, r: &SystemConfig) -> Option<Refusal> {
    // An entry that would capture the host's own programs: never at boot (issue 11, case 5).
    // (A system the host runs natively is refused after, with its own reason.)
    let capture = ctx
        .desired(r)
        .ok()
        .filter(|_| crate::emulator::native::refusal(&r.system).is_none())
        .and_then(|reg| {
            let source = ctx.profiles.lookup(&r.system).ok()?.source.to_string();
            match admit::vet(&reg, &source, true) {
                Err(admit::Refusal::Captures(why)) => Some(why),
                _ => None,
            }
        });
    if let Some(msg) = capture {
        return Some(Refusal::new(
            &r.name,
            "its magic and mask accept this host's own programs",
            &format!(
                "{msg}; or remove the record (binfmtctl disable --name {})",
                r.name
            ),
        ));
    }
    // What `enable --interpreter` refuses: a directory, a file without an execute bit. A
    // missing one is left to the kernel (F) or to `check`: qemu may be reinstalled.
    if std::fs::metadata(&r.interpreter).is_ok_and(|m| !interpreter::is_executable_file(&m)) {
        return Some(Refusal::new(
            &r.name,
            format!("its interpreter {} is not an executable file", r.interpreter),
            &format!(
                "its interpreter {} is not an executable file; register an installed emulator \
                 (binfmtctl enable {} --name {} --interpreter PATH) or remove the record (binfmtctl disable --name {})",
                r.interpreter, r.system, r.name, r.name
            ),
        ));
    }
    if r.flags.0.credentials {
        report::warn(&format!(
            "{} (entry {} has flag C: credentials = true in the configuration)",
            report::texts::CREDENTIALS_WARNING,
            r.name
        ));
    }
    let why = interpreter::untrusted(Path::new(&r.interpreter))?;
    if interpreter::host_namespace() && !config.is_forced(&r.interpreter) {
        return Some(Refusal::new(
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
    }
    report::warn(&format!(
        "entry {}: its interpreter {} can be changed by users other than root ({why})",
        r.name, r.interpreter
    ));
    None
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
    err: &RegistryError,
) -> String {
    let name = &action.registration().name;
    let mut msg = format!("{} {name} failed: {err}", action.verb());
    if matches!(action, Action::Replace { .. }) {
        // The old entry was put back, as the newest: say what it now wins over.
        for note in transaction::reordered(&ctx.registry, &ctx.profiles, current, &[name]) {
            msg += &format!("; {note}");
        }
    }
    let r = action.registration();
    if matches!(action, Action::Remove(_)) || Path::new(&r.interpreter).exists() {
        return msg;
    }
    // Its interpreter is not installed (qemu removed since `enable`).
    if let Some(rec) = config.get(&r.name) {
        if let Ok(profile) = ctx.profiles.lookup(&rec.system) {
            let fix = missing_interpreter_fix(rec, &r.interpreter, profile.cpu.is_some());
            msg += &format!(". {fix}");
        }
    }
    msg
}

/// The fix for `rec`'s registration, failed because its interpreter is not installed: install
/// it again (qemu's packages for a system qemu emulates, `qemu`), register another, or stop
/// registering it.
fn missing_interpreter_fix(rec: &SystemConfig, interpreter: &str, qemu: bool) -> String {
    let install = if qemu {
        crate::report::texts::INSTALL_QEMU.to_owned()
    } else {
        format!("the package that has {interpreter}")
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
    format!(
        "Fix: install {interpreter} again ({install}), register another: binfmtctl enable {}{name} --interpreter PATH, \
         or stop registering it: binfmtctl disable {disable}",
        rec.system
    )
}

/// After the table changed: record what is ours, bring Nix in step, save the state.
fn finish(
    ctx: &Ctx,
    config: &Config,
    actions: &[Done],
    mut state: State,
    before: &State,
) -> Result<()> {
    // Unchanged entries of ours that the state lost (e.g. after a reboot) are recorded too.
    for d in actions {
        if let Action::Unchanged(r) = &d.action {
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

/// Another tool's entry holding a configured name: warned about, and left out.
fn conflict(ctx: &Ctx, f: &plan::Foreign) -> Conflict {
    let msg = format!(
        "entry {f} is not binfmtctl's; left alone (remove it, or give binfmtctl's record another name in {})",
        ctx.config_path.display()
    );
    report::warn(&msg);
    Conflict {
        name: f.name.to_string(),
        why: format!(
            "another tool's entry holds the name: interpreter {}, flags {:?}",
            f.current.interpreter,
            f.current.flags.to_string()
        ),
        msg,
    }
}

/// Carry out the actions (unless `dry_run`), recording what was done in `state`. At boot, one
/// bad record must not keep the others from being restored: a failed action does not stop
/// the rest.
fn perform_all(
    ctx: &Ctx,
    config: &Config,
    current: &[Entry],
    actions: Vec<Action>,
    dry_run: bool,
    state: &mut State,
) -> Vec<Done> {
    let mut done = Vec::new();
    for action in actions {
        let r = action.registration();
        let error = if dry_run || !action.changes_anything() {
            None
        } else {
            match transaction::perform(&ctx.registry, &action) {
                Ok(()) if matches!(action, Action::Remove(_)) => {
                    state.forget(&r.name);
                    None
                }
                Ok(()) => {
                    state.record(r);
                    None
                }
                Err(e) => Some(failure(ctx, config, current, &action, &e)),
            }
        };
        done.push(Done { action, error });
    }
    done
}

/// Make the table match the config (with `dry_run`, only plan it).
pub fn run(ctx: &Ctx, dry_run: bool) -> Result<Outcome> {
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
    let conflicts = foreign.iter().map(|f| conflict(ctx, f)).collect();
    let actions = perform_all(ctx, &config, &current, actions, dry_run, &mut state);
    if !dry_run {
        finish(ctx, &config, &actions, state, &state_before)?;
    }
    Ok(Outcome {
        dry_run,
        actions,
        refused,
        conflicts,
        leftovers,
    })
}

#[cfg(test)]
mod tests {
    use super::{missing_interpreter_fix, Conflict, Done, Outcome, Refusal};
    use crate::binfmt::Registration;
    use crate::model::plan::Action;
    use crate::store::config::SystemConfig;

    fn record(system: &str, name: &str) -> SystemConfig {
        toml::from_str(&format!(
            "system = {system:?}\nname = {name:?}\ninterpreter = \"/q\"\nflags = \"PF\"\n"
        ))
        .unwrap()
    }

    #[test]
    fn a_missing_interpreter_s_fix_names_the_package_and_the_record() {
        assert_eq!(
            missing_interpreter_fix(&record("riscv64-linux", "riscv64-linux"), "/q", true),
            "Fix: install /q again (Debian/Ubuntu: apt install qemu-user-static; Fedora: dnf install qemu-user-static), \
             register another: binfmtctl enable riscv64-linux --interpreter PATH, \
             or stop registering it: binfmtctl disable riscv64-linux"
        );
        assert_eq!(
            missing_interpreter_fix(&record("wasm", "w"), "/usr/bin/wasmtime", false),
            "Fix: install /usr/bin/wasmtime again (the package that has /usr/bin/wasmtime), \
             register another: binfmtctl enable wasm --name w --interpreter PATH, \
             or stop registering it: binfmtctl disable --name w"
        );
    }

    fn done(line: &str, error: Option<&str>) -> Done {
        let r: Registration = line.parse().unwrap();
        Done {
            action: Action::Register(r),
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn what_was_left_out_and_what_failed_come_refusals_first() {
        let mut outcome = Outcome {
            dry_run: false,
            actions: vec![
                done(":a:E::a::/q:", None),
                done(":b:E::b::/q:", Some("register b failed")),
            ],
            refused: vec![Refusal {
                name: "r".parse().unwrap(),
                why: "native".into(),
                msg: "refused r: native".into(),
            }],
            conflicts: vec![Conflict {
                name: "c".into(),
                why: "held".into(),
                msg: "entry c is not binfmtctl's".into(),
            }],
            leftovers: vec![],
        };
        assert_eq!(
            outcome.left_out(),
            [
                ("r".to_owned(), "native".to_owned()),
                ("c".to_owned(), "held".to_owned())
            ]
        );
        assert_eq!(outcome.failed(), ["refused r: native", "register b failed"]);
        assert_eq!(outcome.errors().collect::<Vec<_>>(), ["register b failed"]);
        assert!(outcome.changed() && outcome.others() && !outcome.succeeded());
        outcome.actions.pop();
        outcome.refused.clear();
        assert!(!outcome.succeeded(), "another tool's entry holds a name");
        outcome.conflicts.clear();
        assert!(outcome.succeeded());
    }
}
