//! Removing binfmtctl's registrations and their config records (`disable`, `tonistiigi
//! --uninstall`): which entries a request names, which of them are binfmtctl's, the removal
//! as one transaction kept in agreement with the config. Returns what was done, in order.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::{transaction, Ctx};
use crate::binfmt::{binfmtd, Entry, EntryName, Registration, Registry, RegistryError};
use crate::cli::DisableArgs;
use crate::model::glob;
use crate::model::plan::Action;
use crate::store::config::Config;
use crate::store::state::State;
use crate::sys::privilege::require_admin;
use crate::{report, store};

/// What `disable` did (with `--dry-run`: would do); `disable --json`, documented in README.md.
#[derive(Serialize)]
pub struct Outcome {
    pub dry_run: bool,
    /// Entries removed from the kernel table.
    pub removed: Vec<String>,
    /// Records removed from the config.
    pub forgotten: Vec<String>,
    /// Entries left alone because binfmtctl did not create them.
    pub left_alone: Vec<String>,
    /// Every change, in the order it was made.
    #[serde(skip)]
    pub steps: Vec<Step>,
}

/// One change `disable` makes.
pub enum Step {
    /// An entry removed from the kernel table.
    Remove(Action),
    /// A record removed from the config file.
    Forget { name: EntryName, config: PathBuf },
    /// binfmtctl's Nix settings and their include removed from this nix.conf.
    Nix(PathBuf),
}

impl Outcome {
    /// What was done (would be done), and where: one `#` line a step.
    pub fn text(&self, registry: &Registry) -> String {
        let would = if self.dry_run { "would " } else { "" };
        let mut text = String::new();
        for step in &self.steps {
            text += &match step {
                Step::Remove(a) => crate::render::actions::describe(registry, a, self.dry_run),
                Step::Forget { name, config } => {
                    format!("# {would}remove {name} from {}\n", config.display())
                }
                Step::Nix(conf) => format!(
                    "# {} binfmtctl's Nix settings and their include from {}\n",
                    if self.dry_run {
                        "would remove"
                    } else {
                        "removed"
                    },
                    conf.display()
                ),
            };
        }
        if text.is_empty() {
            text += "# nothing to disable: no such registration of binfmtctl's\n";
        }
        text
    }

    fn removals(&self) -> Vec<Action> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Remove(a) => Some(a.clone()),
                _ => None,
            })
            .collect()
    }
}

/// An entry to consider, and whether the user named it explicitly with --name.
struct Target {
    name: EntryName,
    explicit: bool,
}

/// `table`'s names, then the other names not among them, each once: every entry name a glob
/// may match.
fn known_names<'a>(
    mut names: Vec<EntryName>,
    more: impl IntoIterator<Item = &'a EntryName>,
) -> Vec<EntryName> {
    for n in more {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    names
}

/// The names in the table (when mounted), the config and the state.
fn all_names(ctx: &Ctx, config: &Config, state: &State) -> Result<Vec<EntryName>> {
    let table = ctx
        .registry
        .entries_if_mounted()?
        .into_iter()
        .map(|e| e.name)
        .collect();
    Ok(known_names(
        table,
        config
            .systems
            .iter()
            .map(|r| &r.name)
            .chain(state.entries.iter().map(|o| &o.name)),
    ))
}

/// The names a glob matches, in `known`'s order; a note when none does (not an error, as a
/// --name nothing has: a script run twice succeeds).
fn matching(pattern: &str, known: &[EntryName]) -> Vec<EntryName> {
    let hits: Vec<EntryName> = known
        .iter()
        .filter(|n| glob::matches(pattern, n.as_str()))
        .cloned()
        .collect();
    if hits.is_empty() {
        report::note(&format!(
            "no entry name matches {pattern}; nothing to disable for it (binfmtctl status lists the entries)"
        ));
    }
    hits
}

/// Targets in the order first named, each once.
#[derive(Default)]
struct Targets(Vec<Target>);

impl Targets {
    fn push(&mut self, name: EntryName, explicit: bool) {
        if !self.0.iter().any(|t| t.name == name) {
            self.0.push(Target { name, explicit });
        }
    }
}

fn targets(ctx: &Ctx, args: &DisableArgs, config: &Config, state: &State) -> Result<Vec<Target>> {
    let mut out = Targets::default();
    let globbed = args
        .name
        .iter()
        .chain(&args.systems)
        .any(|n| glob::is_pattern(n));
    let known = if globbed {
        all_names(ctx, config, state)?
    } else {
        Vec::new()
    };
    for n in &args.name {
        if glob::is_pattern(n) {
            for name in matching(n, &known) {
                out.push(name, true);
            }
            continue;
        }
        out.push(n.parse().with_context(|| format!("--name {n}"))?, true);
    }
    if args.all {
        config
            .systems
            .iter()
            .for_each(|r| out.push(r.name.clone(), false));
        state
            .entries
            .iter()
            .for_each(|o| out.push(o.name.clone(), false));
    }
    for s in &args.systems {
        // A glob names entries, not systems; what binfmtctl did not create is left alone
        // below (with how to remove it: --name).
        if glob::is_pattern(s) {
            for name in matching(s, &known) {
                out.push(name, false);
            }
            continue;
        }
        system_targets(ctx, s, config, state, &mut out)?;
    }
    Ok(out.0)
}

/// The entries that may run a named system's programs.
fn system_targets(
    ctx: &Ctx,
    s: &str,
    config: &Config,
    state: &State,
    out: &mut Targets,
) -> Result<()> {
    let profile = ctx.profiles.lookup(s)?;
    config
        .systems
        .iter()
        .filter(|r| r.systems().any(|s| s == &*profile.system))
        .for_each(|r| out.push(r.name.clone(), false));
    // An entry under the system's own name that binfmtctl registered with --runtime.
    if let Ok(name) = profile.system.parse::<EntryName>() {
        out.push(name, false);
    }
    // Entries binfmtctl registered (--runtime among them) under another name that run
    // the system's programs: `enable --runtime --name foo riscv64-linux`. Whether each is
    // still binfmtctl's in the table is decided, as for every target, by `is_ours`.
    // An entry the config records is for the system its record says (armv6l/armv7l and
    // i386..i686 have identical magics: each accepts the other's programs); a --runtime
    // one, for every system whose programs it runs.
    state
        .entries
        .iter()
        .filter(|o| match config.get(&o.name) {
            Some(r) => r.systems().any(|s| s == &*profile.system),
            None => o
                .line
                .parse::<Registration>()
                .is_ok_and(|r| profile.accepted_by(&r.matcher)),
        })
        .for_each(|o| out.push(o.name.clone(), false));
    Ok(())
}

/// Another tool's enabled entries that run a named system's programs (Debian's qemu-aarch64
/// for `disable arm64`): binfmtctl leaves them alone, and says which they are and how to
/// remove them, rather than only "nothing to disable" while the system's programs still run.
fn note_others_running(
    ctx: &Ctx,
    args: &DisableArgs,
    config: &Config,
    state: &State,
    out: &mut Outcome,
) {
    if args.systems.is_empty() || !ctx.registry.is_mounted() {
        return;
    }
    let Ok(entries) = ctx.registry.entries() else {
        return;
    };
    let scanned = binfmtd::scan(binfmtd::DIRS);
    let still = if out.removed.is_empty() { "" } else { "still " };
    for s in &args.systems {
        let Ok(profile) = ctx.profiles.lookup(s) else {
            continue;
        };
        let others: Vec<&Entry> = entries
            .iter()
            .filter(|e| {
                e.enabled
                && profile.accepted_by(&e.matcher)
                && !ctx.is_ours(e, config, state)
                // Named in the outcome already: removed, or left alone with a warning.
                && !out
                    .removed
                    .iter()
                    .chain(&out.left_alone)
                    .any(|r| *r == e.name.as_str())
            })
            .collect();
        for e in others {
            let for_good = binfmtd::remove_for_good(&scanned, e)
                .map_or_else(String::new, |f| format!(", or {f}"));
            report::warn(&format!(
                "{system} programs {still}run through the entry {name} (not binfmtctl's, interpreter {interp}), \
                 which binfmtctl leaves alone: remove it with binfmtctl disable --name {name}{for_good}",
                system = profile.system,
                name = e.name,
                interp = e.interpreter,
            ));
            out.left_alone.push(e.name.to_string());
        }
    }
}

/// `--nix` always records `nix = false` in the config: refused before anything is removed, as
/// `enable` refuses, where the config is NixOS's (issue 13, item 7).
fn refuse_nixos_config(ctx: &Ctx, args: &DisableArgs) -> Result<()> {
    if !args.nix || args.dry_run {
        return Ok(());
    }
    Config::check_writable_for(
        &ctx.config_path,
        "Nix's settings for its emulated systems are the NixOS module's: set services.binfmtctl.addToNix = false \
         (or nix.settings.extra-platforms) in the NixOS configuration",
    )
}

/// Whether one target's entry is removed: the removal when it is (named with --name, or
/// binfmtctl's), a warning when it is left alone, nothing when there is no such entry.
fn consider(
    ctx: &Ctx,
    t: &Target,
    config: &Config,
    state: &State,
    out: &mut Outcome,
) -> Result<()> {
    let recorded = config.get(&t.name).is_some() || state.get(&t.name).is_some();
    match ctx.registry.entry(&t.name) {
        Ok(entry) if t.explicit || ctx.is_ours(&entry, config, state) => {
            out.steps
                .push(Step::Remove(Action::Remove((&entry).into())));
            out.removed.push(t.name.to_string());
        }
        Ok(entry) => {
            report::warn(&format!(
                "entry {} was not created by binfmtctl (interpreter {}); left alone. Remove it with --name {} if you mean to",
                t.name, entry.interpreter, t.name
            ));
            out.left_alone.push(t.name.to_string());
        }
        // A --name nothing knows: a typo, or disabled already. Said; not an error, so that
        // disabling twice (a script run again) succeeds.
        Err(e @ RegistryError::NoSuchEntry(..)) if t.explicit && !recorded => {
            report::note(&format!(
                "{e}; nothing to disable (binfmtctl status lists the entries)"
            ));
        }
        Err(e @ RegistryError::NotMounted(_)) if t.explicit && !recorded => {
            return Err(e.into());
        }
        Err(RegistryError::NoSuchEntry(..) | RegistryError::NotMounted(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Carry the removals out, then save the config (putting the entries back if that fails),
/// Nix's settings and the state.
fn commit(
    ctx: &Ctx,
    args: &DisableArgs,
    mut config: Config,
    state: &State,
    out: &mut Outcome,
) -> Result<()> {
    let removals = out.removals();
    // The table before, to tell what putting the entries back would reorder.
    let before = ctx.registry.entries().unwrap_or_default();
    transaction::execute(&ctx.registry, &ctx.profiles, &removals)?;
    if !out.forgotten.is_empty() {
        if let Err(e) = ctx.save_config(&config) {
            // Keep the table and the config in agreement: put the entries back as they were.
            let rollback = transaction::undo(&ctx.registry, &ctx.profiles, &before, &removals);
            return Err(e.context(rollback.describe("the removals")));
        }
    }
    if args.nix {
        config.nix = false;
        ctx.save_config(&config)?;
        if crate::nixconf::uninstall(&ctx.nix_conf)? {
            out.steps.push(Step::Nix(ctx.nix_conf.clone()));
        }
    } else if !out.forgotten.is_empty() {
        ctx.sync_nix(&config)?;
    }
    if let Err(e) = state.save(&ctx.state_dir) {
        report::warn(&format!("{e:#}"));
    }
    Ok(())
}

/// Remove the entries `args` names that binfmtctl may remove, and their config records (not
/// with `--runtime`); with `--dry-run`, only say what would be.
pub fn run(ctx: &Ctx, args: &DisableArgs) -> Result<Outcome> {
    if !args.dry_run {
        require_admin("binfmtctl disable")?;
    }
    refuse_nixos_config(ctx, args)?;
    let _lock = if args.dry_run {
        None
    } else {
        Some(store::Lock::acquire(&ctx.config_path)?)
    };
    let (mut config, mut state) = (ctx.config()?, ctx.state()?);
    let mut out = Outcome {
        dry_run: args.dry_run,
        removed: vec![],
        forgotten: vec![],
        left_alone: vec![],
        steps: vec![],
    };
    for t in targets(ctx, args, &config, &state)? {
        consider(ctx, &t, &config, &state, &mut out)?;
        state.forget(&t.name);
        if !args.runtime && config.get(&t.name).is_some() {
            config.remove(&t.name);
            out.steps.push(Step::Forget {
                name: t.name.clone(),
                config: ctx.config_path.clone(),
            });
            out.forgotten.push(t.name.to_string());
        }
    }
    note_others_running(ctx, args, &config, &state, &mut out);
    if !args.dry_run {
        commit(ctx, args, config, &state, &mut out)?;
    } else if args.nix {
        out.steps.push(Step::Nix(ctx.nix_conf.clone()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{known_names, Outcome, Step};
    use crate::binfmt::{EntryName, Registry};
    use crate::model::plan::Action;

    fn name(s: &str) -> EntryName {
        s.parse().unwrap()
    }

    #[test]
    fn known_names_are_the_table_s_then_the_others_once() {
        let more = [name("b"), name("c"), name("a"), name("c")];
        assert_eq!(
            known_names(vec![name("a"), name("b")], &more),
            [name("a"), name("b"), name("c")]
        );
    }

    #[test]
    fn the_text_says_each_step_and_what_a_dry_run_would_do() {
        let registry = Registry::new("/b");
        let entry: crate::binfmt::Entry = crate::binfmt::Entry::parse(
            name("qemu-x"),
            "enabled\ninterpreter /q\nflags: \nextension .x\n",
        )
        .unwrap();
        let steps = || {
            vec![
                Step::Remove(Action::Remove((&entry).into())),
                Step::Forget {
                    name: name("qemu-x"),
                    config: "/etc/c.toml".into(),
                },
                Step::Nix("/etc/nix/nix.conf".into()),
            ]
        };
        let outcome = |dry_run, steps| Outcome {
            dry_run,
            removed: vec![],
            forgotten: vec![],
            left_alone: vec![],
            steps,
        };
        assert_eq!(
            outcome(true, steps()).text(&registry),
            "# would write -1 to /b/qemu-x\n# would remove qemu-x from /etc/c.toml\n\
             # would remove binfmtctl's Nix settings and their include from /etc/nix/nix.conf\n"
        );
        assert_eq!(
            outcome(false, steps()).text(&registry),
            "# write -1 to /b/qemu-x\n# remove qemu-x from /etc/c.toml\n\
             # removed binfmtctl's Nix settings and their include from /etc/nix/nix.conf\n"
        );
        assert_eq!(
            outcome(false, vec![]).text(&registry),
            "# nothing to disable: no such registration of binfmtctl's\n"
        );
    }
}
