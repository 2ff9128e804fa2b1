//! The SuperH SH-4 probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field16, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::Elf32;
use crate::elf::Endian::{Big, Little};
use crate::elf::{EF_SH4, EM_SH};

pub(super) const SH4: Arch = arch(Elf32, Little, EM_SH, EF_SH4, sh4);
pub(super) const SH4EB: Arch = arch(Elf32, Big, EM_SH, EF_SH4, sh4);

/// SuperH SH-4 (either byte order): `trapa`, number in r3, arguments r4-r6; r15 -> argc at
/// entry. The message address is a literal after the code, loaded pc-relative.
fn sh4(a: &mut Asm, msg: u32) -> u32 {
    let entry = a.here();
    a.half(0xe304); // mov #4, r3  ; __NR_write
    a.half(0xe401); // mov #1, r4  ; stdout
    let load = a.here();
    a.half(0); // mov.l @(literal, pc), r5  ; patched below
    a.half(0xe600 | field16(LEN, 7)); // mov #LEN, r6
    a.half(0xc313); // trapa #0x13  ; syscall, 3 arguments
    a.half(0x51f1); // mov.l @(4, r15), r1  ; argv[0]
    a.half(0x6410); // mov.b @r1, r4
    a.half(0x644c); // extu.b r4, r4
    a.half(0xe301); // mov #1, r3  ; __NR_exit
    a.half(0xc311); // trapa #0x11  ; syscall, 1 argument
    while a.here() % 4 != 0 {
        a.half(0x0009); // nop  ; align the literal
    }
    let literal = a.here();
    a.data32(msg); // .long msg

    // mov.l @(disp, pc), r5: address = (pc & ~3) + 4 + disp * 4.
    let disp = (literal - ((load & !3) + 4)) / 4;
    a.patch_half(load, 0xd500 | field16(disp, 8));
    entry
}
