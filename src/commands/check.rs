//! `binfmtctl check`: prove emulation works by executing probes (being written).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::cli::CheckArgs;

pub fn run(_ctx: &Ctx, _args: &CheckArgs) -> Result<ExitCode> {
    anyhow::bail!("binfmtctl check is not implemented yet")
}

pub fn exec_in_chroot(_dir: &Path, _program: &Path, _argv0: &str) -> Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
