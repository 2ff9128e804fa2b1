//! The exit codes of binfmtctl, in one place.
//!
//! - 0: success;
//! - 1: checked and found wanting (`check`, like grep's 1);
//! - 2: an error: bad input, a refused change, a failed system call; nothing was half-done.
//!
//! `run` and `build` exit with the program's own status instead.

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
