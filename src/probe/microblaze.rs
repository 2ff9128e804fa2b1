//! The MicroBlaze probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::Elf32;
use crate::elf::Endian::{Big, Little};
use crate::elf::EM_MICROBLAZE;

pub(super) const MICROBLAZE: Arch = arch(Elf32, Big, EM_MICROBLAZE, 0, microblaze);
pub(super) const MICROBLAZEEL: Arch = arch(Elf32, Little, EM_MICROBLAZE, 0, microblaze);

/// MicroBlaze type-B instruction.
fn mb_b(opcode: u32, rd: u32, ra: u32, imm16: u32) -> u32 {
    opcode << 26 | rd << 21 | ra << 16 | field(imm16, 16)
}

/// MicroBlaze (either byte order): `brki r14, 8`, number in r12, arguments r5-r7; r1 -> argc
/// at entry.
fn microblaze(a: &mut Asm, msg: u32) -> u32 {
    const ADDIK: u32 = 0x0c;
    let entry = a.here();
    a.word(mb_b(ADDIK, 5, 0, 1)); // addik r5, r0, 1  ; stdout
    a.word(mb_b(0x2c, 0, 0, msg >> 16)); // imm hi(msg)
    a.word(mb_b(ADDIK, 6, 0, msg & 0xffff)); // addik r6, r0, lo(msg)
    a.word(mb_b(ADDIK, 7, 0, LEN)); // addik r7, r0, LEN
    a.word(mb_b(ADDIK, 12, 0, 4)); // addik r12, r0, 4  ; __NR_write
    a.word(mb_b(0x2e, 14, 0x0c, 8)); // brki r14, 8
    a.word(mb_b(0x3a, 3, 1, 4)); // lwi r3, r1, 4  ; argv[0]
    a.word(mb_b(0x38, 5, 3, 0)); // lbui r5, r3, 0
    a.word(mb_b(ADDIK, 12, 0, 1)); // addik r12, r0, 1  ; __NR_exit
    a.word(mb_b(0x2e, 14, 0x0c, 8)); // brki r14, 8
    entry
}
