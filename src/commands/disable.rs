//! `binfmtctl disable`: remove binfmtctl's own registrations and their config records.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::Ctx;
use crate::binfmt::{EntryName, Registration, RegistryError};
use crate::cli::DisableArgs;
use crate::model::plan::Action;
use crate::store::config::Config;
use crate::store::state::State;
use crate::sys::privilege::require_admin;
use crate::{binfmt::transaction, exit_codes, report, store};

#[derive(Serialize)]
struct Report {
    dry_run: bool,
    /// Entries removed from the kernel table.
    removed: Vec<String>,
    /// Records removed from the config.
    forgotten: Vec<String>,
    /// Entries left alone because binfmtctl did not create them.
    left_alone: Vec<String>,
}

/// An entry to consider, and whether the user named it explicitly with --name.
struct Target {
    name: EntryName,
    explicit: bool,
}

/// Every entry name a glob may match: the table's (when mounted), then the config's and the
/// state's, each once.
fn known_names(ctx: &Ctx, config: &Config, state: &State) -> Result<Vec<EntryName>> {
    let mut names: Vec<EntryName> = if ctx.registry.is_mounted() {
        ctx.registry
            .entries()?
            .into_iter()
            .map(|e| e.name)
            .collect()
    } else {
        Vec::new()
    };
    for n in config
        .systems
        .iter()
        .map(|r| &r.name)
        .chain(state.entries.iter().map(|o| &o.name))
    {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    Ok(names)
}

/// The names a glob matches, in `known`'s order; a note when none does (not an error, as a
/// --name nothing has: a script run twice succeeds).
fn matching(pattern: &str, known: &[EntryName]) -> Vec<EntryName> {
    let hits: Vec<EntryName> = known
        .iter()
        .filter(|n| crate::model::glob::matches(pattern, n.as_str()))
        .cloned()
        .collect();
    if hits.is_empty() {
        report::note(&format!(
            "no entry name matches {pattern}; nothing to disable for it (binfmtctl status lists the entries)"
        ));
    }
    hits
}

fn targets(ctx: &Ctx, args: &DisableArgs, config: &Config, state: &State) -> Result<Vec<Target>> {
    let mut out: Vec<Target> = Vec::new();
    let mut push = |name: EntryName, explicit: bool| {
        if !out.iter().any(|t| t.name == name) {
            out.push(Target { name, explicit });
        }
    };
    let globbed = args
        .name
        .iter()
        .chain(&args.systems)
        .any(|n| crate::model::glob::is_pattern(n));
    let known = if globbed {
        known_names(ctx, config, state)?
    } else {
        Vec::new()
    };
    for n in &args.name {
        if crate::model::glob::is_pattern(n) {
            for name in matching(n, &known) {
                push(name, true);
            }
            continue;
        }
        push(n.parse().with_context(|| format!("--name {n}"))?, true);
    }
    if args.all {
        config
            .systems
            .iter()
            .for_each(|r| push(r.name.clone(), false));
        state
            .entries
            .iter()
            .for_each(|o| push(o.name.clone(), false));
    }
    for s in &args.systems {
        // A glob names entries, not systems; what binfmtctl did not create is left alone
        // below (with how to remove it: --name).
        if crate::model::glob::is_pattern(s) {
            for name in matching(s, &known) {
                push(name, false);
            }
            continue;
        }
        let profile = ctx.profiles.lookup(s)?;
        config
            .systems
            .iter()
            .filter(|r| r.systems().any(|s| s == &*profile.system))
            .for_each(|r| push(r.name.clone(), false));
        // An entry under the system's own name that binfmtctl registered with --runtime.
        if let Ok(name) = profile.system.parse::<EntryName>() {
            push(name, false);
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
            .for_each(|o| push(o.name.clone(), false));
    }
    Ok(out)
}

/// Another tool's enabled entries that run a named system's programs (Debian's qemu-aarch64
/// for `disable arm64`): binfmtctl leaves them alone, and says which they are and how to
/// remove them, rather than only "nothing to disable" while the system's programs still run.
fn note_others_running(
    ctx: &Ctx,
    args: &DisableArgs,
    config: &Config,
    state: &State,
    report: &mut Report,
) {
    if args.systems.is_empty() || !ctx.registry.is_mounted() {
        return;
    }
    let Ok(entries) = ctx.registry.entries() else {
        return;
    };
    let scanned = crate::binfmt::binfmtd::scan(crate::binfmt::binfmtd::DIRS);
    let still = if report.removed.is_empty() {
        ""
    } else {
        "still "
    };
    for s in &args.systems {
        let Ok(profile) = ctx.profiles.lookup(s) else {
            continue;
        };
        let others: Vec<_> = entries
            .iter()
            .filter(|e| {
                e.enabled
                && profile.accepted_by(&e.matcher)
                && !ctx.is_ours(e, config, state)
                // Named in the report already: removed, or left alone with a warning.
                && !report
                    .removed
                    .iter()
                    .chain(&report.left_alone)
                    .any(|r| *r == e.name.as_str())
            })
            .collect();
        for e in others {
            let for_good = crate::binfmt::binfmtd::remove_for_good(&scanned, e)
                .map_or_else(String::new, |f| format!(", or {f}"));
            report::warn(&format!(
                "{system} programs {still}run through the entry {name} (not binfmtctl's, interpreter {interp}), \
                 which binfmtctl leaves alone: remove it with binfmtctl disable --name {name}{for_good}",
                system = profile.system,
                name = e.name,
                interp = e.interpreter,
            ));
            report.left_alone.push(e.name.to_string());
        }
    }
}

fn nothing_named(e: &RegistryError) {
    report::note(&format!(
        "{e}; nothing to disable (binfmtctl status lists the entries)"
    ));
}

/// `--nix` always records `nix = false` in the config: refused before anything is removed, as
/// `enable` refuses, where the config is NixOS's (issue 13, item 7).
fn refuse_nixos_config(ctx: &Ctx, args: &DisableArgs) -> Result<()> {
    if !args.nix || args.dry_run {
        return Ok(());
    }
    crate::store::config::Config::check_writable_for(
        &ctx.config_path,
        "Nix's settings for its emulated systems are the NixOS module's: set services.binfmtctl.addToNix = false \
         (or nix.settings.extra-platforms) in the NixOS configuration",
    )
}

pub fn run(ctx: &Ctx, args: &DisableArgs) -> Result<ExitCode> {
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
    let mut report = Report {
        dry_run: args.dry_run,
        removed: vec![],
        forgotten: vec![],
        left_alone: vec![],
    };
    let mut text = String::new();
    let mut removals = Vec::new();
    let would = if args.dry_run { "would " } else { "" };
    for t in targets(ctx, args, &config, &state)? {
        match ctx.registry.entry(&t.name) {
            Ok(entry) => {
                if t.explicit || ctx.is_ours(&entry, &config, &state) {
                    let path = ctx.registry.entry_path(&t.name);
                    text += &format!("# {would}write -1 to {}\n", path.display());
                    removals.push(Action::Remove((&entry).into()));
                    report.removed.push(t.name.to_string());
                } else {
                    report::warn(&format!(
                        "entry {} was not created by binfmtctl (interpreter {}); left alone. Remove it with --name {} if you mean to",
                        t.name, entry.interpreter, t.name
                    ));
                    report.left_alone.push(t.name.to_string());
                }
            }
            // A --name nothing knows: a typo, or disabled already. Said; not an error, so that
            // disabling twice (a script run again) succeeds.
            Err(e @ RegistryError::NoSuchEntry(..))
                if t.explicit && config.get(&t.name).is_none() && state.get(&t.name).is_none() =>
            {
                nothing_named(&e);
            }
            Err(e @ RegistryError::NotMounted(_))
                if t.explicit && config.get(&t.name).is_none() && state.get(&t.name).is_none() =>
            {
                return Err(e.into());
            }
            Err(RegistryError::NoSuchEntry(..) | RegistryError::NotMounted(_)) => {}
            Err(e) => return Err(e.into()),
        }
        state.forget(&t.name);
        if !args.runtime && config.get(&t.name).is_some() {
            text += &format!(
                "# {would}remove {} from {}\n",
                t.name,
                ctx.config_path.display()
            );
            config.remove(&t.name);
            report.forgotten.push(t.name.to_string());
        }
    }
    note_others_running(ctx, args, &config, &state, &mut report);
    if !args.dry_run {
        // The table before, to tell what putting the entries back would reorder.
        let before = ctx.registry.entries().unwrap_or_default();
        transaction::execute(&ctx.registry, &ctx.profiles, &removals)?;
        if !report.forgotten.is_empty() {
            if let Err(e) = config.save(&ctx.config_path) {
                // Keep the table and the config in agreement: put the entries back as they were.
                let rollback = transaction::undo(&ctx.registry, &ctx.profiles, &before, &removals);
                return Err(e.context(rollback.describe("the removals")));
            }
        }
        if args.nix {
            config.nix = false;
            config.save(&ctx.config_path)?;
            if crate::nixconf::uninstall(&ctx.nix_conf)? {
                text += &format!(
                    "# removed binfmtctl's Nix settings and their include from {}\n",
                    ctx.nix_conf.display()
                );
            }
        } else if !report.forgotten.is_empty() {
            ctx.sync_nix(&config)?;
        }
        if let Err(e) = state.save(&ctx.state_dir) {
            report::warn(&format!("{e:#}"));
        }
    }
    if args.dry_run && args.nix {
        text += &format!(
            "# would remove binfmtctl's Nix settings and their include from {}\n",
            ctx.nix_conf.display()
        );
    }
    if text.is_empty() {
        text += "# nothing to disable: no such registration of binfmtctl's\n";
    }
    if args.json {
        report::print_json(&report)?;
    } else {
        report::print(&text)?;
    }
    Ok(exit_codes::success())
}
