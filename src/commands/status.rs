//! `binfmtctl status`: every entry in the table, whose it is, what it runs, which one wins.

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::service::status::{collect, EntryStatus};
use crate::{exit_codes, report};

pub fn run(ctx: &Ctx, json: bool) -> Result<ExitCode> {
    let status = collect(ctx)?;
    if json {
        report::print_json(&status)?;
        return Ok(exit_codes::success());
    }
    if !status.mounted {
        report::print(&format!(
            "binfmt_misc is not mounted at {}: no entries (`binfmtctl enable` mounts it)\n",
            status.root
        ))?;
        return Ok(exit_codes::success());
    }
    let rows: Vec<Vec<String>> = status
        .entries
        .iter()
        .map(|e| {
            let interp = match (e.interpreter_exists, e.interpreter_static) {
                (false, _) => format!("{} (missing)", e.interpreter),
                (true, Some(true)) => format!("{} (static)", e.interpreter),
                (true, Some(false)) => format!("{} (dynamic)", e.interpreter),
                (true, None) => e.interpreter.clone(),
            };
            let systems = systems_cell(e);
            let owner = match &e.owner.file {
                Some(f) if e.owner.kind == "binfmt.d" => f.clone(),
                _ => e.owner.kind.to_owned(),
            };
            vec![
                e.name.clone(),
                if e.enabled { "yes" } else { "no" }.to_owned(),
                if e.flags.is_empty() {
                    "-".to_owned()
                } else {
                    e.flags.clone()
                },
                owner,
                interp,
                systems,
            ]
        })
        .collect();
    let facility = if status.enabled == Some(true) {
        ""
    } else {
        " (the facility is DISABLED: no entry is used)"
    };
    let mut text = format!(
        "binfmt_misc at {}{facility}, newest entry first (it wins):\n",
        status.root
    );
    text += &report::table(
        &[
            "NAME",
            "ENABLED",
            "FLAGS",
            "OWNER",
            "INTERPRETER",
            "SYSTEMS",
        ],
        &rows,
    );
    if rows.is_empty() {
        text += "(no entries)\n";
    }
    report::print(&text)?;
    Ok(exit_codes::success())
}

/// The SYSTEMS cell: the systems an entry runs, those it runs only some programs of, and
/// those a newer entry takes from it.
fn systems_cell(e: &EntryStatus) -> String {
    let mut cells: Vec<String> = e.systems.clone();
    cells.extend(
        e.partly
            .iter()
            .map(|p| format!("{} ({} only)", p.system, p.programs.join(", "))),
    );
    let mut systems = if cells.is_empty() {
        "-".to_owned()
    } else {
        cells.join(",")
    };
    for s in &e.shadowed {
        systems += &format!(" [{} shadowed by {}]", s.system, s.by);
    }
    systems
}
