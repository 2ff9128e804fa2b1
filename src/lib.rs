//! binfmtctl: register, check and use qemu-user emulation through Linux binfmt_misc.
//!
//! The tree is the architecture (README, "Layout"): `binfmt/` is the kernel's table and the
//! only code that touches it, `model/` the pure rules, `store/` what is persisted, `emulator/`
//! qemu and the loaders it needs, `launch`/`build`/`check` the engines of `run`, `build` and `check`, `sys/`
//! the process and namespace calls, `report/` what the user reads, `commands/` one thin file a
//! subcommand.

pub mod binfmt;
pub mod build;
pub mod check;
pub mod cli;
pub mod commands;
pub mod elf;
pub mod emulator;
pub mod exit_codes;
pub mod launch;
pub mod model;
pub mod nixconf;
pub mod probe;
pub mod report;
pub mod service;
pub mod store;
pub mod sys;
pub mod trust;
