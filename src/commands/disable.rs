//! `binfmtctl disable`: remove binfmtctl's own registrations and their config records.

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::cli::DisableArgs;
use crate::{exit_codes, report, service};

pub fn run(ctx: &Ctx, args: &DisableArgs) -> Result<ExitCode> {
    let outcome = service::disable::run(ctx, args)?;
    if args.json {
        report::print_json(&outcome)?;
    } else {
        report::print(&outcome.text(&ctx.registry))?;
    }
    Ok(exit_codes::success())
}
