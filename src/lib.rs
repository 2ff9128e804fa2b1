//! binfmtctl: register, check and use qemu-user emulation through Linux binfmt_misc.

pub mod binfmtd;
pub mod build;
pub mod cli;
pub mod commands;
pub mod config;
pub mod elf;
pub mod exec;
pub mod exit_codes;
pub mod glob;
pub mod interpreter;
pub mod launch;
pub mod namespace;
pub mod native;
pub mod nixconf;
pub mod output;
pub mod plan;
pub mod privilege;
pub mod probe;
pub mod profile;
pub mod registry;
pub mod state;
pub mod store;
pub mod sysroot;
pub mod transaction;
pub mod trial;
pub mod trust;
