//! The Xtensa probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::Elf32;
use crate::elf::Endian::{Big, Little};
use crate::elf::{EF_XTENSA_XT, EM_XTENSA};

pub(super) const XTENSA: Arch = arch(Elf32, Little, EM_XTENSA, EF_XTENSA_XT, xtensa);
pub(super) const XTENSAEB: Arch = arch(Elf32, Big, EM_XTENSA, EF_XTENSA_XT, xtensa);

/// Xtensa instruction from its fields, listed from bit 0 up as the little-endian layout has
/// them; a big-endian core stores the same fields in the opposite order, from the top bit
/// down (Xtensa ISA Reference Manual, "Instruction Formats").
fn xtensa_insn(a: &mut Asm, fields: &[(u32, u32)]) {
    let mut word = 0;
    let mut at = 0;
    for &(value, bits) in fields {
        let shift = match a.code {
            Little => at,
            Big => 24 - at - bits,
        };
        word |= field(value, bits) << shift;
        at += bits;
    }
    debug_assert_eq!(at, 24);
    match a.code {
        Little => a.raw(&word.to_le_bytes()[..3]),
        Big => a.raw(&word.to_be_bytes()[1..]),
    }
}

/// Xtensa RRI8 format: op0, t, s, r, imm8.
fn xt_rri8(a: &mut Asm, op0: u32, t: u32, s: u32, r: u32, imm8: u32) {
    xtensa_insn(a, &[(op0, 4), (t, 4), (s, 4), (r, 4), (imm8, 8)]);
}

/// Xtensa `movi at, imm12` (non-negative imm).
fn xt_movi(a: &mut Asm, t: u32, imm: u32) {
    let imm = field(imm, 11);
    xt_rri8(a, 0x2, t, imm >> 8, 0xa, imm & 0xff);
}

/// Xtensa `syscall` (RRR format, r = 5).
fn xt_syscall(a: &mut Asm) {
    xtensa_insn(a, &[(0, 4), (0, 4), (0, 4), (5, 4), (0, 4), (0, 4)]);
}

/// Xtensa (either byte order), call0 or windowed alike: `syscall`, number in a2, arguments a6,
/// a3, a4; a1 -> argc at entry. The message address is a literal placed before the entry,
/// where `l32r` (which only reaches backwards) finds it.
fn xtensa(a: &mut Asm, msg: u32) -> u32 {
    let literal = a.here();
    a.data32(msg); // .literal msg
    let entry = a.here();
    xt_movi(a, 2, 13); // movi a2, 13  ; __NR_write
    xt_movi(a, 6, 1); // movi a6, 1  ; stdout

    // l32r at, label: address = ((pc + 3) & ~3) + (imm16 | 0xffff0000) * 4.
    let base = (a.here() + 3) & !3;
    let imm16 = (literal.wrapping_sub(base) >> 2) & 0xffff;
    xtensa_insn(a, &[(0x1, 4), (3, 4), (imm16, 16)]); // l32r a3, msg literal
    xt_movi(a, 4, LEN); // movi a4, LEN
    xt_syscall(a); // syscall
    xt_rri8(a, 0x2, 3, 1, 0x2, 1); // l32i a3, a1, 4  ; argv[0]
    xt_rri8(a, 0x2, 6, 3, 0x0, 0); // l8ui a6, a3, 0
    xt_movi(a, 2, 118); // movi a2, 118  ; __NR_exit
    xt_syscall(a); // syscall
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtensa_fields_reverse_for_big_endian() {
        let mut le = Asm::new(0, Little, Little);
        xt_movi(&mut le, 2, 13);
        xt_syscall(&mut le);
        assert_eq!(le.bytes, [0x22, 0xa0, 0x0d, 0x00, 0x50, 0x00]);
        let mut be = Asm::new(0, Big, Big);
        xt_movi(&mut be, 2, 13);
        xt_syscall(&mut be);
        assert_eq!(be.bytes, [0x22, 0x0a, 0x0d, 0x00, 0x05, 0x00]);
    }
}
