//! The Alpha probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::Elf64;
use crate::elf::Endian::Little;
use crate::elf::EM_ALPHA;

pub(super) const ALPHA: Arch = arch(Elf64, Little, EM_ALPHA, 0, alpha);

/// Alpha memory-format instruction (`lda`, `ldah`, loads).
pub(super) fn alpha_mem(opcode: u32, ra: u32, rb: u32, disp16: u32) -> u32 {
    opcode << 26 | ra << 21 | rb << 16 | field(disp16, 16)
}

/// Alpha: `callsys`, number in v0 ($0), arguments a0-a2 ($16-$18); sp ($30) -> argc at entry.
/// Bytes are read with `ldq_u` + `extbl`, which every Alpha has (`ldbu` needs BWX, EV56+).
fn alpha(a: &mut Asm, msg: u32) -> u32 {
    const LDA: u32 = 0x08;
    let (v0, t0, t1, a0, a1, a2, sp, zero) = (0, 1, 2, 16, 17, 18, 30, 31);
    // lda sign-extends its 16 bits, so ldah takes the upper half rounded.
    let lo = msg & 0xffff;
    let hi = (msg >> 16) + (lo >> 15);
    let entry = a.here();
    a.word(alpha_mem(LDA, a0, zero, 1)); // lda $16, 1($31)  ; stdout
    a.word(alpha_mem(0x09, a1, zero, hi)); // ldah $17, msg@hi($31)
    a.word(alpha_mem(LDA, a1, a1, lo)); // lda $17, msg@lo($17)
    a.word(alpha_mem(LDA, a2, zero, LEN)); // lda $18, LEN($31)
    a.word(alpha_mem(LDA, v0, zero, 4)); // lda $0, 4($31)  ; __NR_write
    a.word(0x0000_0083); // callsys
    a.word(alpha_mem(0x29, t0, sp, 8)); // ldq $1, 8($30)  ; argv[0]
    a.word(alpha_mem(0x0b, t1, t0, 0)); // ldq_u $2, 0($1)
    a.word(0x12 << 26 | t1 << 21 | t0 << 16 | 0x06 << 5 | a0); // extbl $2, $1, $16
    a.word(alpha_mem(LDA, v0, zero, 1)); // lda $0, 1($31)  ; __NR_exit
    a.word(0x0000_0083); // callsys
    entry
}
