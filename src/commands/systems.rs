//! `binfmtctl systems`: every known system, native or not, interpreter found, enabled.

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::service::status::{systems, SystemRow};
use crate::{exit_codes, report};

pub fn run(ctx: &Ctx, json: bool) -> Result<ExitCode> {
    let systems = systems(ctx)?;
    if json {
        report::print_json(&systems)?;
        return Ok(exit_codes::success());
    }
    let table_rows: Vec<Vec<String>> = systems.systems.iter().map(row).collect();
    report::print(&report::table(
        &[
            "SYSTEM",
            "NATIVE",
            "INTERPRETER",
            "ENABLED",
            "CONFIGURED",
            "ALIASES",
        ],
        &table_rows,
    ))?;
    Ok(exit_codes::success())
}

/// One system as a table row.
fn row(r: &SystemRow) -> Vec<String> {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    vec![
        r.system.clone(),
        yes_no(r.native),
        r.interpreter.as_ref().map_or_else(
            || "-".to_owned(),
            |i| {
                format!(
                    "{} ({})",
                    i.path.display(),
                    if i.is_static { "static" } else { "dynamic" }
                )
            },
        ),
        r.enabled.map_or_else(|| "?".to_owned(), yes_no),
        yes_no(r.configured),
        r.aliases.join(","),
    ]
}
