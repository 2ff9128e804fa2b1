//! `binfmtctl apply`: make the kernel table match the config (used at boot by the unit).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::cli::ApplyArgs;
use crate::service::apply::Outcome;
use crate::{exit_codes, report, service};

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

impl Report {
    fn new(outcome: Outcome) -> Report {
        Report {
            dry_run: outcome.dry_run,
            actions: outcome
                .actions
                .iter()
                .map(|d| {
                    let r = d.action.registration();
                    ActionRow {
                        name: r.name.to_string(),
                        action: d.action.verb(),
                        line: r.to_string(),
                    }
                })
                .collect(),
            failed: outcome.failed(),
            conflicts: outcome.conflicts.into_iter().map(|c| c.msg).collect(),
            leftovers: outcome.leftovers,
        }
    }
}

/// What each action writes, and where (the register line always: a failed line is looked
/// for there), and which failed (the error itself is said last on stderr, what journalctl
/// shows of the boot unit).
fn describe(ctx: &Ctx, outcome: &Outcome) -> String {
    let mut text = String::new();
    for d in &outcome.actions {
        let a = &d.action;
        if a.changes_anything() {
            text +=
                &crate::render::actions::describe_lines(&ctx.registry, a, outcome.dry_run, true);
        }
        if d.error.is_some() {
            text += &format!(
                "# FAILED: {} {} (the error is on stderr)\n",
                a.verb(),
                a.registration().name
            );
        }
    }
    text
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

pub fn run(ctx: &Ctx, args: ApplyArgs) -> Result<ExitCode> {
    let ApplyArgs { dry_run, json } = args;
    let outcome = service::apply::run(ctx, dry_run)?;
    let errors: Vec<String> = outcome.errors().map(str::to_owned).collect();
    let code = if outcome.succeeded() {
        exit_codes::success()
    } else {
        ExitCode::from(exit_codes::ERROR)
    };
    if json {
        report::print_json(&Report::new(outcome))?;
    } else {
        let mut text = describe(ctx, &outcome);
        text += &summary(
            &ctx.config_path,
            &outcome.left_out(),
            outcome.changed(),
            outcome.others(),
        );
        report::print(&text)?;
    }
    for e in &errors {
        report::error(e);
    }
    Ok(code)
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
