//! Identify ELF files: class, byte order, machine, flags, static or dynamic, `PT_INTERP`.
//!
//! Only the ELF header, the program header table and the `PT_INTERP` string are read, the same
//! parts the kernel's `load_elf_binary` (`fs/binfmt_elf.c`) looks at before it maps anything.
//! Where this module rejects a file, it follows the kernel's own limits so that "identified
//! here" and "executable there" agree: a program header entry must have the size of the
//! class's `Elf{32,64}_Phdr`, and `PT_INTERP` must be at most `PATH_MAX` (4096) bytes ending in
//! a NUL. Every offset and length comes from untrusted input, so all arithmetic is checked and
//! every read is bounded.
//!
//! - `consts`: the ELF constants and types, the one home of these numbers (the probes, `run`
//!   and the tests use them from here);
//! - `reader`: the header and program-header reader with the kernel's limits ([`parse`]);
//! - `file`: the same reader over positioned reads of a file ([`read_file`]);
//! - `info`: what a file says about itself ([`ElfInfo`]) and its description for people.

mod consts;
mod file;
mod info;
mod reader;
#[cfg(test)]
mod testfile;

pub use consts::*;
pub use file::read_file;
pub use info::{with_e_type, ElfInfo};
pub use reader::{parse, ElfError, HEADER_LEN};
