//! The emulator and what it needs: finding qemu (`interpreter`), a program's loader and
//! libraries (`sysroot`), running probe programs (`trial`), and what the host runs itself
//! (`native`).

pub(crate) mod interpreter;
pub mod native;
pub(crate) mod sysroot;
pub(crate) mod trial;
