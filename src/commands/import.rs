//! `binfmtctl import`: record the registrations of binfmt.d files in binfmtctl's config,
//! recognising the system each line is for. The engine is [`crate::service::import`].

use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::cli::ImportArgs;
use crate::service::import::{import, Imported, Request};
use crate::{exit_codes, report};

/// `import --json`, documented in README.md: `{"version": 1, "dry_run", "registrations": [...]}`.
#[derive(Serialize)]
struct Report<'a> {
    dry_run: bool,
    registrations: &'a [Imported],
}

pub fn run(ctx: &Ctx, args: &ImportArgs) -> Result<ExitCode> {
    let rows = import(ctx, &Request::from(args))?;
    if !args.dry_run {
        report::note(&format!(
            "recorded in {}; run `binfmtctl apply` to register",
            ctx.config_path.display()
        ));
    }
    if args.json {
        report::print_json(&Report {
            dry_run: args.dry_run,
            registrations: &rows,
        })?;
    } else {
        report::print(&render(&rows))?;
    }
    Ok(exit_codes::success())
}

fn render(rows: &[Imported]) -> String {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                format!("{}:{}", r.file.display(), r.line),
                r.name.clone(),
                r.system.clone().unwrap_or_else(|| "-".into()),
                r.recorded_as
                    .clone()
                    .unwrap_or_else(|| "(not imported)".into()),
                r.interpreter.clone(),
                r.flags.clone(),
            ]
        })
        .collect();
    report::table(
        &[
            "FILE",
            "ENTRY",
            "SYSTEM",
            "RECORDED AS",
            "INTERPRETER",
            "FLAGS",
        ],
        &table,
    )
}
