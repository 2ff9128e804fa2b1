//! The exit codes of binfmtctl, in one place.
//!
//! - 0: success;
//! - 1: checked and found wanting (`check`, like grep's 1);
//! - 2: an error: bad input, a refused change, a failed system call; nothing was half-done.
//!
//! `run` and `build` exit with the program's own status instead. A command `build` cannot
//! start ends it as env(1), timeout(1) and systemd-run do: 127 when it is not found, 126 when
//! it is found but cannot be executed ([`NotStarted`]).

use std::process::ExitCode;

pub const SUCCESS: u8 = 0;
pub const WANTING: u8 = 1;
pub const ERROR: u8 = 2;

pub fn success() -> ExitCode {
    ExitCode::from(SUCCESS)
}

pub fn wanting() -> ExitCode {
    ExitCode::from(WANTING)
}

/// The command was not found (as env(1) and the shells say).
pub const NOT_FOUND: u8 = 127;
/// The command was found but could not be executed.
pub const NOT_EXECUTABLE: u8 = 126;

/// An error that ends binfmtctl with `status` instead of [`ERROR`]: the command `build` was
/// asked to run could not be started.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NotStarted {
    pub status: u8,
    pub message: String,
}

/// The exit status for an error that ends binfmtctl.
pub fn for_error(err: &anyhow::Error) -> u8 {
    err.downcast_ref::<NotStarted>().map_or(ERROR, |e| e.status)
}
