//! The Hexagon probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::Elf32;
use crate::elf::Endian::Little;
use crate::elf::{EF_HEXAGON_MACH_V67, EM_HEXAGON};

pub(super) const HEXAGON: Arch = arch(Elf32, Little, EM_HEXAGON, EF_HEXAGON_MACH_V67, hexagon);

/// Hexagon packet parse bits: end of packet, or more instructions follow.
const HEX_END: u32 = 0b11 << 14;
const HEX_MORE: u32 = 0b01 << 14;

/// Hexagon `Rd = #s16` (non-negative here), as the last instruction of its packet.
pub(super) fn hex_tfr(rd: u32, imm: u32) -> u32 {
    let imm = field(imm, 15);
    0x7800_0000 | (imm >> 14) << 22 | ((imm >> 9) & 0x1f) << 16 | HEX_END | (imm & 0x1ff) << 5 | rd
}

/// Hexagon: `trap0(#1)`, number in r6, arguments r0-r2; sp (r29) -> argc at entry. One
/// instruction per packet; the address uses a constant extender (`immext`), which carries the
/// upper 26 bits while the extended instruction keeps the low 6.
fn hexagon(a: &mut Asm, msg: u32) -> u32 {
    const TRAP0_1: u32 = 0x5400_c004;
    let ext = msg >> 6;
    let entry = a.here();
    a.word(hex_tfr(0, 1)); // { r0 = #1 }  ; stdout
    a.word((ext >> 14) << 16 | HEX_MORE | (ext & 0x3fff)); // { immext(#msg)
    a.word(hex_tfr(1, msg & 0x3f)); //   r1 = ##msg }
    a.word(hex_tfr(2, LEN)); // { r2 = #LEN }
    a.word(hex_tfr(6, 64)); // { r6 = #64 }  ; __NR_write
    a.word(TRAP0_1); // { trap0(#1) }
    a.word(0x919d_c021); // { r1 = memw(r29+#4) }  ; argv[0]
    a.word(0x9121_c000); // { r0 = memub(r1+#0) }
    a.word(hex_tfr(6, 93)); // { r6 = #93 }  ; __NR_exit
    a.word(TRAP0_1); // { trap0(#1) }
    entry
}
