//! The MIPS (o32, n32, n64) probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::{Elf32, Elf64};
use crate::elf::Endian::{Big, Little};
use crate::elf::{
    EF_MIPS_ABI2, EF_MIPS_ABI_O32, EF_MIPS_ARCH_32R2, EF_MIPS_ARCH_64R2, EF_MIPS_NOREORDER, EM_MIPS,
};

const MIPS_O32_FLAGS: u32 = EF_MIPS_ARCH_32R2 | EF_MIPS_ABI_O32 | EF_MIPS_NOREORDER;
const MIPS_N64_FLAGS: u32 = EF_MIPS_ARCH_64R2 | EF_MIPS_NOREORDER;
const MIPS_N32_FLAGS: u32 = EF_MIPS_ARCH_64R2 | EF_MIPS_ABI2 | EF_MIPS_NOREORDER;
pub(super) const MIPS: Arch = arch(Elf32, Big, EM_MIPS, MIPS_O32_FLAGS, mips_o32);
pub(super) const MIPSEL: Arch = arch(Elf32, Little, EM_MIPS, MIPS_O32_FLAGS, mips_o32);
pub(super) const MIPS64: Arch = arch(Elf64, Big, EM_MIPS, MIPS_N64_FLAGS, mips_n64);
pub(super) const MIPS64EL: Arch = arch(Elf64, Little, EM_MIPS, MIPS_N64_FLAGS, mips_n64);
pub(super) const MIPSN32: Arch = arch(Elf32, Big, EM_MIPS, MIPS_N32_FLAGS, mips_n32);
pub(super) const MIPSN32EL: Arch = arch(Elf32, Little, EM_MIPS, MIPS_N32_FLAGS, mips_n32);

/// MIPS I-type instruction.
pub(super) fn mips_i(opcode: u32, rs: u32, rt: u32, imm16: u32) -> u32 {
    opcode << 26 | rs << 21 | rt << 16 | field(imm16, 16)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MipsAbi {
    O32,
    N32,
    N64,
}

/// MIPS, any ABI and byte order: `syscall`, number in v0 ($2), arguments $4-$6; sp ($29) ->
/// argc at entry. Each ABI has its own syscall table: o32 from 4000, n64 from 5000, n32 from
/// 6000.
fn mips(a: &mut Asm, msg: u32, abi: MipsAbi) -> u32 {
    const ADDIU: u32 = 0x09;
    let (zero, v0, a0, a1, a2, t, sp) = (0, 2, 4, 5, 6, 12, 29);
    let (write, exit) = match abi {
        MipsAbi::O32 => (4004, 4001),
        MipsAbi::N64 => (5001, 5058),
        MipsAbi::N32 => (6001, 6058),
    };
    let entry = a.here();
    a.word(mips_i(ADDIU, zero, a0, 1)); // li $4, 1  ; stdout
    a.word(mips_i(0x0f, zero, a1, msg >> 16)); // lui $5, %hi(msg)
    a.word(mips_i(0x0d, a1, a1, msg & 0xffff)); // ori $5, $5, %lo(msg)
    a.word(mips_i(ADDIU, zero, a2, LEN)); // li $6, LEN
    a.word(mips_i(ADDIU, zero, v0, write)); // li $2, __NR_write
    a.word(0x0000_000c); // syscall
    if abi == MipsAbi::N64 {
        a.word(mips_i(0x37, sp, t, 8)); // ld $12, 8($29)  ; argv[0]
    } else {
        a.word(mips_i(0x23, sp, t, 4)); // lw $12, 4($29)  ; argv[0]
    }
    a.word(mips_i(0x24, t, a0, 0)); // lbu $4, 0($12)
    a.word(mips_i(ADDIU, zero, v0, exit)); // li $2, __NR_exit
    a.word(0x0000_000c); // syscall
    entry
}

fn mips_o32(a: &mut Asm, msg: u32) -> u32 {
    mips(a, msg, MipsAbi::O32)
}

fn mips_n32(a: &mut Asm, msg: u32) -> u32 {
    mips(a, msg, MipsAbi::N32)
}

fn mips_n64(a: &mut Asm, msg: u32) -> u32 {
    mips(a, msg, MipsAbi::N64)
}
