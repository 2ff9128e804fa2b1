//! The emulator and what it needs: finding qemu (`interpreter`), a program's loader and
//! libraries (`sysroot`), running probe programs (`trial`), and what the host runs itself
//! (`native`).

pub mod interpreter;
pub mod native;
pub mod sysroot;
pub mod trial;
