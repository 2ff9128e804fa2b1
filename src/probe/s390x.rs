//! The s390x probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field16, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::Elf64;
use crate::elf::Endian::Big;
use crate::elf::EM_S390;

pub(super) const S390X: Arch = arch(Elf64, Big, EM_S390, 0, s390x);

/// s390x: `svc <number>` (numbers below 256 go in the instruction), arguments r2-r4; r15 ->
/// argc at entry.
fn s390x(a: &mut Asm, msg: u32) -> u32 {
    let entry = a.here();
    a.raw(&[0xa7, 0x29, 0x00, 0x01]); // lghi %r2, 1  ; stdout
    a.half(0xc03f); // llilf %r3, msg
    a.word(msg);
    a.half(0xa749); // lghi %r4, LEN
    a.half(field16(LEN, 16));
    a.raw(&[0x0a, 0x04]); // svc 4  ; __NR_write
    a.raw(&[0xe3, 0x30, 0xf0, 0x08, 0x00, 0x04]); // lg %r3, 8(%r15) ; argv[0]
    a.raw(&[0xe3, 0x20, 0x30, 0x00, 0x00, 0x90]); // llgc %r2, 0(%r3)
    a.raw(&[0x0a, 0x01]); // svc 1  ; __NR_exit
    entry
}
