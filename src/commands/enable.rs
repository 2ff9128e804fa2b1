//! `binfmtctl enable`: register qemu-user for systems, verify (read the entry back, then
//! execute the system's probe through the kernel), record in the config. The engine is
//! [`crate::service::enable`]; what it says, [`crate::render::enable`].

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::cli::EnableArgs;
use crate::exit_codes;
use crate::service::enable::{enable, Request};

pub fn run(ctx: &Ctx, args: &EnableArgs) -> Result<ExitCode> {
    let enabled = enable(ctx, &Request::from(args))?;
    crate::render::enable::show(&ctx.registry, &enabled, args.json)?;
    // Exit 1 ("checked and found wanting") when a registered system's programs do not run.
    Ok(if enabled.found_wanting() {
        exit_codes::wanting()
    } else {
        exit_codes::success()
    })
}
