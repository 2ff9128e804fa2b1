//! `binfmtctl run PROGRAM`: the command line's side of the launcher (`crate::launch`).

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::cli::RunArgs;
use crate::launch::{Env, Request};

pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<ExitCode> {
    crate::launch::run(
        &Env {
            profiles: &ctx.profiles,
            registry: &ctx.registry,
        },
        &Request {
            system: args.system.as_deref(),
            sysroot: args.sysroot.as_deref(),
            interpreter: args.interpreter.as_deref(),
            command: &args.command,
        },
    )
}
