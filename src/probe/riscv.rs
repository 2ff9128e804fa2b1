//! The RISC-V probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::{Elf32, Elf64};
use crate::elf::Endian::Little;
use crate::elf::EM_RISCV;

pub(super) const RISCV32: Arch = arch(Elf32, Little, EM_RISCV, 0, riscv32);
pub(super) const RISCV64: Arch = arch(Elf64, Little, EM_RISCV, 0, riscv64);

/// RISC-V I-type instruction.
fn rv_i(opcode: u32, rd: u32, funct3: u32, rs1: u32, imm12: u32) -> u32 {
    field(imm12, 12) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode
}

/// RISC-V `lui` / `addi` pair for an absolute address: `addi` sign-extends its 12 bits, so the
/// upper part is rounded.
pub(super) fn rv_hi_lo(v: u32) -> (u32, u32) {
    let hi = v.wrapping_add(0x800) >> 12;
    (hi, v.wrapping_sub(hi << 12) & 0xfff)
}

fn riscv(a: &mut Asm, msg: u32, xlen64: bool) -> u32 {
    const ADDI: u32 = 0x13;
    const LOAD: u32 = 0x03;
    let (a0, a1, a2, a7, sp) = (10, 11, 12, 17, 2);
    let (hi, lo) = rv_hi_lo(msg);
    let entry = a.here();
    a.word(rv_i(ADDI, a0, 0, 0, 1)); // li a0, 1  ; stdout
    a.word(field(hi, 20) << 12 | a1 << 7 | 0x37); // lui a1, %hi(msg)
    a.word(rv_i(ADDI, a1, 0, a1, lo)); // addi a1, a1, %lo(msg)
    a.word(rv_i(ADDI, a2, 0, 0, LEN)); // li a2, LEN
    a.word(rv_i(ADDI, a7, 0, 0, 64)); // li a7, 64  ; __NR_write
    a.word(0x0000_0073); // ecall
    if xlen64 {
        a.word(rv_i(LOAD, a1, 3, sp, 8)); // ld a1, 8(sp)  ; argv[0]
    } else {
        a.word(rv_i(LOAD, a1, 2, sp, 4)); // lw a1, 4(sp)  ; argv[0]
    }
    a.word(rv_i(LOAD, a0, 4, a1, 0)); // lbu a0, 0(a1)
    a.word(rv_i(ADDI, a7, 0, 0, 93)); // li a7, 93  ; __NR_exit
    a.word(0x0000_0073); // ecall
    entry
}

/// RISC-V RV32I: `ecall`, number in a7, arguments a0-a2; sp -> argc at entry.
fn riscv32(a: &mut Asm, msg: u32) -> u32 {
    riscv(a, msg, false)
}

/// RISC-V RV64I, as [`riscv32`] with 8-byte pointers.
fn riscv64(a: &mut Asm, msg: u32) -> u32 {
    riscv(a, msg, true)
}
