//! binfmtctl: register, check and use qemu-user emulation through Linux binfmt_misc.
//!
//! The tree is the architecture (README, "Layout", bottom up): `sys/`, `report/` (the one
//! writer of stdout and stderr), `trust` (root's trust boundary), `elf/`, `binfmt/` (the
//! kernel's table, the only code that touches it), `model/` (the rules), `probe/`, `store/`,
//! `emulator/`, `render/`, the engines `launch/` and `build/`, `cli`, `service/` (the
//! operations), `check/`, `commands/` (one thin file a subcommand). `tests/layout.rs` keeps
//! every folder above the ones it uses.
//!
//! Public: `commands::main` (the whole program) and what the fuzz targets and the tests in
//! `tests/` use (the line model, profiles, the config, the ELF reader, the probes, the native
//! table, exit codes); everything else is the crate's own.

pub mod binfmt;
mod build;
mod check;
mod cli;
pub mod commands;
pub mod elf;
pub mod emulator;
pub mod exit_codes;
mod launch;
pub mod model;
mod nixconf;
pub mod probe;
mod render;
mod report;
mod service;
pub mod store;
mod sys;
mod trust;
