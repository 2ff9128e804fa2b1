//! `enable`'s engine: a request (systems, or all) becomes registrations (named, with their
//! interpreter, vetted); they are planned over the kernel's table, written (recorded first as
//! binfmtctl's, so an interrupted run leaves nothing unknown), read back, recorded in the
//! config, and each system's probe is executed through the kernel. Returns what was planned
//! and done, for `enable` and `tonistiigi --install` to render.

mod prove;
mod resolve;

pub use resolve::entry_name;

use std::path::PathBuf;

use anyhow::{bail, Result};

use super::admit;
use super::{transaction, Ctx};
use crate::binfmt::{binfmtd, Entry, EntryName, Registration};
use crate::cli::EnableArgs;
use crate::emulator::interpreter::Interpreter;
use crate::model::plan::{self, Action, Foreign};
use crate::model::profile::Profile;
use crate::render::enable::{Enabled, Registered};
use crate::report;
use crate::store::{self, config::Config};
use crate::sys::privilege::require_admin;

/// What to enable, and how.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Systems by any name; `all` (alone) stands for every one.
    pub systems: Vec<String>,
    /// Every system with an installed interpreter the host does not run natively.
    pub all: bool,
    pub interpreter: Option<PathBuf>,
    /// The entry name, or with several systems a template ({cpu}, {system}).
    pub name: Option<String>,
    pub force: bool,
    pub credentials: bool,
    pub open_binary: bool,
    /// Register now, record nothing.
    pub runtime: bool,
    pub nix: bool,
    pub dry_run: bool,
}

impl From<&EnableArgs> for Request {
    fn from(a: &EnableArgs) -> Request {
        Request {
            systems: a.systems.clone(),
            all: a.all,
            interpreter: a.interpreter.clone(),
            name: a.name.clone(),
            force: a.force,
            credentials: a.credentials,
            open_binary: a.open_binary,
            runtime: a.runtime,
            nix: a.nix,
            dry_run: a.dry_run,
        }
    }
}

/// One system's registration, as resolved from the request.
struct Wanted<'a> {
    profile: &'a Profile,
    interpreter: Interpreter,
    reg: Registration,
    /// Registered with --force although users other than root can change the interpreter.
    forced: bool,
    /// Other systems the same entry serves (`enable all`), recorded with it.
    also: Vec<&'a Profile>,
}

/// Enable what `req` asks for (with `dry_run`, plan it only).
pub fn enable(ctx: &Ctx, req: &Request) -> Result<Enabled> {
    let wanted = resolve::resolve(ctx, req)?;
    if req.dry_run {
        let planned = plan_only(ctx, req, &wanted)?;
        return Ok(outcome(ctx, req, &wanted, planned, None));
    }
    require_admin("binfmtctl enable")?;
    let _lock = store::Lock::acquire(&ctx.config_path)?;
    let planned = register(ctx, req, &wanted)?;
    let checked = prove::prove(ctx, req, &wanted);
    Ok(outcome(ctx, req, &wanted, planned, Some(checked)))
}

/// Plan only (--dry-run): over the table as it is, if binfmt_misc is mounted.
fn plan_only(ctx: &Ctx, req: &Request, wanted: &[Wanted]) -> Result<Vec<Action>> {
    let current = ctx.registry.entries_if_mounted()?;
    let (config, state) = (ctx.config()?, ctx.state()?);
    let ours = |e: &Entry| ctx.is_ours(e, &config, &state);
    let actions = plan(req, wanted, &current, &ours)?;
    note_shadowed(wanted, &current, &actions, &ours, true);
    Ok(actions)
}

fn plan(
    req: &Request,
    wanted: &[Wanted],
    current: &[Entry],
    ours: &dyn Fn(&Entry) -> bool,
) -> Result<Vec<Action>> {
    let regs: Vec<Registration> = wanted.iter().map(|w| w.reg.clone()).collect();
    plan::plan_register(&regs, current, ours, req.force).map_err(|f| foreign_error(&f))
}

/// Register, under the config lock: plan, write ahead in the state, write to the kernel, read
/// back (undone on a mismatch), record in the config. Returns the actions carried out.
fn register(ctx: &Ctx, req: &Request, wanted: &[Wanted]) -> Result<Vec<Action>> {
    let (mut config, mut state) = (ctx.config()?, ctx.state()?);
    check_writable(ctx, req, &config)?;
    if ctx.registry.ensure_mounted()? {
        report::note(&format!(
            "mounted binfmt_misc at {}",
            ctx.registry.root().display()
        ));
    }
    let current = ctx.registry.entries()?;
    let actions = plan(req, wanted, &current, &|e| ctx.is_ours(e, &config, &state))?;
    // Write ahead: record the entries as binfmtctl's BEFORE writing them, so that if this
    // process dies between the kernel write and the config write (SIGKILL, power loss), the
    // entry left behind is still known as ours and `apply` removes it (tests/faults.rs).
    let state_before = state.clone();
    for w in wanted {
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
    read_back(ctx, wanted).map_err(undo)?;
    if !req.runtime {
        record(&mut config, req, wanted);
        ctx.save_config(&config).map_err(undo)?;
        ctx.sync_nix(&config)?;
    }
    if let Err(e) = state.save(&ctx.state_dir) {
        report::warn(&format!(
            "{e:#}; binfmtctl will treat these entries as its own only while the config lists them"
        ));
    }
    note_shadowed(
        wanted,
        &current,
        &actions,
        &|e| ctx.is_ours(e, &config, &state),
        false,
    );
    Ok(actions)
}

/// Record the registrations in the config (with an interpreter accepted by --force, and
/// `nix = true` with --nix).
fn record(config: &mut Config, req: &Request, wanted: &[Wanted]) {
    for w in wanted {
        let also = w.also.iter().map(|p| p.system.to_string()).collect();
        config.upsert(admit::record(&w.profile.system, &w.reg, also));
        if w.forced {
            config.force_interpreter(&w.reg.interpreter);
        }
    }
    config.nix |= req.nix;
}

/// What was planned (and, once registered, what the probes showed), row by row.
fn outcome(
    ctx: &Ctx,
    req: &Request,
    wanted: &[Wanted],
    planned: Vec<Action>,
    checked: Option<Vec<prove::Checked>>,
) -> Enabled {
    let dry_run = checked.is_none();
    let mut checked = checked.map(Vec::into_iter);
    let actions = wanted
        .iter()
        .zip(&planned)
        .map(|(w, a)| {
            let c = checked.as_mut().and_then(Iterator::next);
            Registered {
                name: w.reg.name.to_string(),
                system: w.profile.system.to_string(),
                action: a.verb(),
                line: w.reg.to_string(),
                interpreter: w.reg.interpreter.clone(),
                is_static: w.interpreter.is_static,
                flags: w.reg.flags.to_string(),
                problem: c.as_ref().and_then(|c| c.problem.clone()),
                checked: c.map(|c| c.outcome),
                also: w.also.iter().map(|p| p.system.to_string()).collect(),
            }
        })
        .collect();
    Enabled {
        dry_run,
        register_path: ctx.registry.root().join("register").display().to_string(),
        config: (!req.runtime).then(|| ctx.config_path.display().to_string()),
        actions,
        planned,
    }
}

/// Before anything is registered: a config (a link into the Nix store) or a nix.conf that
/// binfmtctl may not write stops the command.
fn check_writable(ctx: &Ctx, req: &Request, config: &Config) -> Result<()> {
    if req.runtime {
        return Ok(());
    }
    Config::check_writable(&ctx.config_path)?;
    if req.nix || config.nix {
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
            let remove = binfmtd::remove_for_good(&scanned, e)
                .unwrap_or_else(|| format!("remove it (binfmtctl disable --name {})", e.name));
            let newer = !registers && place.is_some_and(|p| at < p);
            report::warn(&shadowed(w, &e.name, &remove, newer, dry_run));
        }
    }
}

/// What `note_shadowed` says of `other`: it takes precedence (`newer`), or ours does.
fn shadowed(w: &Wanted, other: &EntryName, remove: &str, newer: bool, dry_run: bool) -> String {
    let (system, name) = (&w.profile.system, &w.reg.name);
    if newer {
        return format!(
            "the newer entry {other} (not binfmtctl's) also runs {system} programs and takes precedence over \
             {name}, which is not used. To use {name}: {remove}, or register it again as the newest \
             (binfmtctl disable {system} && binfmtctl enable {system})"
        );
    }
    let takes = if dry_run { "would take" } else { "takes" };
    format!(
        "the entry {other} (not binfmtctl's) also runs {system} programs; {name} {takes} precedence over it and \
         `binfmtctl check` reports it as shadowed. To keep one: binfmtctl disable {system}, or {remove}"
    )
}

/// The kernel must hold exactly what was registered.
fn read_back(ctx: &Ctx, wanted: &[Wanted]) -> Result<()> {
    for w in wanted {
        let entry = ctx.registry.entry(&w.reg.name)?;
        if !entry.enabled || !entry.registration().same_effect(&w.reg) {
            bail!(
                "after registering, {} reads back differently:\n{}",
                ctx.registry.entry_path(&w.reg.name).display(),
                Entry::render(&entry.registration(), entry.enabled)
            );
        }
    }
    Ok(())
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
