//! The Nios II probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::Elf32;
use crate::elf::Endian::Little;
use crate::elf::EM_ALTERA_NIOS2;

pub(super) const NIOS2: Arch = arch(Elf32, Little, EM_ALTERA_NIOS2, 0, nios2);

/// Nios II I-type instruction.
fn nios2_i(opcode: u32, ra: u32, rb: u32, imm16: u32) -> u32 {
    ra << 27 | rb << 22 | field(imm16, 16) << 6 | opcode
}

/// Nios II: `trap`, number in r2, arguments r4-r6; sp (r27) -> argc at entry.
fn nios2(a: &mut Asm, msg: u32) -> u32 {
    const ADDI: u32 = 0x04;
    const TRAP: u32 = 0x003b_683a;
    let entry = a.here();
    a.word(nios2_i(ADDI, 0, 4, 1)); // movi r4, 1  ; stdout
    a.word(nios2_i(0x34, 0, 5, msg >> 16)); // orhi r5, zero, %hi(msg)
    a.word(nios2_i(0x14, 5, 5, msg & 0xffff)); // ori r5, r5, %lo(msg)
    a.word(nios2_i(ADDI, 0, 6, LEN)); // movi r6, LEN
    a.word(nios2_i(ADDI, 0, 2, 64)); // movi r2, 64  ; __NR_write
    a.word(TRAP); // trap
    a.word(nios2_i(0x17, 27, 5, 4)); // ldw r5, 4(sp)  ; argv[0]
    a.word(nios2_i(0x03, 5, 4, 0)); // ldbu r4, 0(r5)
    a.word(nios2_i(ADDI, 0, 2, 93)); // movi r2, 93  ; __NR_exit
    a.word(TRAP); // trap
    entry
}
