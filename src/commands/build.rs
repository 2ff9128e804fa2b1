//! `binfmtctl build -- COMMAND`: the command line's side of the build engine (`crate::build`).

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::build::{Env, Request};
use crate::cli::BuildArgs;

pub fn run(ctx: &Ctx, args: &BuildArgs) -> Result<ExitCode> {
    crate::build::run(
        &Env {
            profiles: &ctx.profiles,
            registry: &ctx.registry,
        },
        &Request {
            systems: &args.systems,
            sysroots: &args.sysroots,
            report: args.report.as_deref(),
            host_table: args.host_table,
            command: &args.command,
        },
    )
}
