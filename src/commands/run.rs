//! `binfmtctl run`: run one foreign program (being written).

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::cli::RunArgs;

pub fn run(_ctx: &Ctx, _args: &RunArgs) -> Result<ExitCode> {
    anyhow::bail!("binfmtctl run is not implemented yet")
}
