//! The SPARC (V8, V8+ and V9) probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::{Elf32, Elf64};
use crate::elf::Endian::Big;
use crate::elf::{EF_SPARC_32PLUS, EM_SPARC, EM_SPARC32PLUS, EM_SPARCV9};

pub(super) const SPARC: Arch = arch(Elf32, Big, EM_SPARC, 0, sparc32);
pub(super) const SPARC32PLUS: Arch = arch(Elf32, Big, EM_SPARC32PLUS, EF_SPARC_32PLUS, sparc32);
pub(super) const SPARC64: Arch = arch(Elf64, Big, EM_SPARCV9, 0, sparc64);

/// SPARC format-3 instruction with a 13-bit immediate (`i` = 1).
pub(super) fn sparc_f3i(op: u32, rd: u32, op3: u32, rs1: u32, simm13: u32) -> u32 {
    op << 30 | rd << 25 | op3 << 19 | rs1 << 14 | 1 << 13 | field(simm13, 13)
}

/// SPARC `or %g0, imm, rd` (`mov imm, rd`).
fn sparc_mov(rd: u32, imm: u32) -> u32 {
    sparc_f3i(2, rd, 0x02, 0, imm)
}

/// SPARC, 32-bit (V8 instructions, run as V8 or V8+) or 64-bit (V9): `ta`, number in g1, arguments o0-o2. At entry sp points
/// at a 16-word register save area, then argc; on V9 sp is biased by 2047.
fn sparc(a: &mut Asm, msg: u32, v9: bool) -> u32 {
    let (g1, o0, o1, o2, sp) = (1, 8, 9, 10, 14);
    // Trap 0x10 is the 32-bit Linux syscall trap, 0x6d the 64-bit one.
    let ta = 0x91d0_2000 | if v9 { 0x6d } else { 0x10 };
    let entry = a.here();
    a.word(sparc_mov(o0, 1)); // mov 1, %o0  ; stdout
    a.word(o1 << 25 | 0x4 << 22 | field(msg >> 10, 22)); // sethi %hi(msg), %o1
    a.word(sparc_f3i(2, o1, 0x02, o1, msg & 0x3ff)); // or %o1, %lo(msg), %o1
    a.word(sparc_mov(o2, LEN)); // mov LEN, %o2
    a.word(sparc_mov(g1, 4)); // mov 4, %g1  ; __NR_write
    a.word(ta); // ta 0x10 / ta 0x6d
    if v9 {
        a.word(sparc_f3i(3, o1, 0x0b, sp, 2047 + 16 * 8 + 8)); // ldx [%sp + 2183], %o1 ; argv[0]
    } else {
        a.word(sparc_f3i(3, o1, 0x00, sp, 16 * 4 + 4)); // ld [%sp + 68], %o1 ; argv[0]
    }
    a.word(sparc_f3i(3, o0, 0x01, o1, 0)); // ldub [%o1], %o0
    a.word(sparc_mov(g1, 1)); // mov 1, %g1  ; __NR_exit
    a.word(ta); // ta 0x10 / ta 0x6d
    entry
}

fn sparc32(a: &mut Asm, msg: u32) -> u32 {
    sparc(a, msg, false)
}

fn sparc64(a: &mut Asm, msg: u32) -> u32 {
    sparc(a, msg, true)
}
