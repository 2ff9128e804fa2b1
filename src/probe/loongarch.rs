//! The LoongArch probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::Elf64;
use crate::elf::Endian::Little;
use crate::elf::{EF_LOONGARCH_LP64D_V1, EM_LOONGARCH};

pub(super) const LOONGARCH64: Arch = arch(
    Elf64,
    Little,
    EM_LOONGARCH,
    EF_LOONGARCH_LP64D_V1,
    loongarch64,
);

/// LoongArch `ori rd, rj, ui12`.
pub(super) fn la_ori(rd: u32, rj: u32, ui12: u32) -> u32 {
    0x0380_0000 | field(ui12, 12) << 10 | rj << 5 | rd
}

/// LoongArch64: `syscall 0`, number in a7 ($r11), arguments a0-a2 ($r4-$r6); sp ($r3) -> argc.
fn loongarch64(a: &mut Asm, msg: u32) -> u32 {
    let (zero, sp, a0, a1, a2, a7) = (0, 3, 4, 5, 6, 11);
    let entry = a.here();
    a.word(la_ori(a0, zero, 1)); // li.w $a0, 1  ; stdout
    a.word(0x1400_0000 | field(msg >> 12, 20) << 5 | a1); // lu12i.w $a1, %abs_hi20(msg)
    a.word(la_ori(a1, a1, msg & 0xfff)); // ori $a1, $a1, %abs_lo12(msg)
    a.word(la_ori(a2, zero, LEN)); // li.w $a2, LEN
    a.word(la_ori(a7, zero, 64)); // li.w $a7, 64  ; __NR_write
    a.word(0x002b_0000); // syscall 0
    a.word(0x28c0_0000 | 8 << 10 | sp << 5 | a1); // ld.d $a1, $sp, 8 ; argv[0]
    a.word(0x2a00_0000 | a1 << 5 | a0); // ld.bu $a0, $a1, 0
    a.word(la_ori(a7, zero, 93)); // li.w $a7, 93  ; __NR_exit
    a.word(0x002b_0000); // syscall 0
    entry
}
