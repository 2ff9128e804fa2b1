//! The CRIS probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field16, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::Elf32;
use crate::elf::Endian::Little;
use crate::elf::{EF_CRIS_VARIANT_COMMON_V10_V32, EM_CRIS};

pub(super) const CRIS: Arch = arch(Elf32, Little, EM_CRIS, EF_CRIS_VARIANT_COMMON_V10_V32, cris);

/// CRIS, code common to v10 and v32: `break 13`, number in r9, arguments r10-r12; sp (r14) ->
/// argc at entry. v32 has no offset addressing, so argv is reached by adding to a copy of sp.
fn cris(a: &mut Asm, msg: u32) -> u32 {
    let entry = a.here();
    a.half(0xa241); // moveq 1, $r10  ; stdout
    a.half(0xbe6f); // move.d msg, $r11
    a.word(msg);
    a.half(0xc240 | field16(LEN, 5)); // moveq LEN, $r12
    a.half(0x9244); // moveq 4, $r9  ; __NR_write
    a.half(0xe93d); // break 13
    a.half(0xd66e); // move.d $sp, $r13
    a.half(0xd204); // addq 4, $r13
    a.half(0xaa6d); // move.d [$r13], $r10  ; argv[0]
    a.half(0xa84a); // movu.b [$r10], $r10
    a.half(0x9241); // moveq 1, $r9  ; __NR_exit
    a.half(0xe93d); // break 13
    entry
}
