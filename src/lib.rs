//! binfmtctl: register, check and use qemu-user emulation through Linux binfmt_misc.
//!
//! The tree is the architecture (README, "Layout"): `binfmt/` is the kernel's table and the
//! only code that touches it, `model/` the pure rules, `store/` what is persisted, `emulator/`
//! qemu and the loaders it needs, `launch`/`build`/`check` the engines of `run`, `build` and `check`, `sys/`
//! the process and namespace calls, `report/` what the user reads, `commands/` one thin file a
//! subcommand.
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
mod report;
mod service;
pub mod store;
mod sys;
mod trust;
