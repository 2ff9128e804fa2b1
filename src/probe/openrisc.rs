//! The OpenRISC 1000 probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::Elf32;
use crate::elf::Endian::Big;
use crate::elf::EM_OPENRISC;

pub(super) const OR1K: Arch = arch(Elf32, Big, EM_OPENRISC, 0, or1k);

/// OpenRISC 1000 D-form (`l.addi`, `l.ori`, loads).
fn or1k_d(opcode: u32, rd: u32, ra: u32, imm16: u32) -> u32 {
    opcode << 26 | rd << 21 | ra << 16 | field(imm16, 16)
}

/// OpenRISC 1000: `l.sys 1`, number in r11, arguments r3-r5; r1 -> argc at entry.
fn or1k(a: &mut Asm, msg: u32) -> u32 {
    const ADDI: u32 = 0x27;
    let entry = a.here();
    a.word(or1k_d(ADDI, 3, 0, 1)); // l.addi r3, r0, 1  ; stdout
    a.word(0x06 << 26 | 4 << 21 | field(msg >> 16, 16)); // l.movhi r4, hi(msg)
    a.word(or1k_d(0x2a, 4, 4, msg & 0xffff)); // l.ori r4, r4, lo(msg)
    a.word(or1k_d(ADDI, 5, 0, LEN)); // l.addi r5, r0, LEN
    a.word(or1k_d(ADDI, 11, 0, 64)); // l.addi r11, r0, 64  ; __NR_write
    a.word(0x2000_0001); // l.sys 1
    a.word(or1k_d(0x21, 4, 1, 4)); // l.lwz r4, 4(r1)  ; argv[0]
    a.word(or1k_d(0x23, 3, 4, 0)); // l.lbz r3, 0(r4)
    a.word(or1k_d(ADDI, 11, 0, 93)); // l.addi r11, r0, 93  ; __NR_exit
    a.word(0x2000_0001); // l.sys 1
    entry
}
