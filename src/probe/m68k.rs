//! The m68k probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field16, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::Elf32;
use crate::elf::Endian::Big;
use crate::elf::EM_68K;

pub(super) const M68K: Arch = arch(Elf32, Big, EM_68K, 0, m68k);

/// m68k: `trap #0`, number in d0, arguments d1-d3; sp -> argc at entry.
fn m68k(a: &mut Asm, msg: u32) -> u32 {
    let entry = a.here();
    a.half(0x7004); // moveq #4, %d0  ; __NR_write
    a.half(0x7201); // moveq #1, %d1  ; stdout
    a.half(0x243c); // move.l #msg, %d2
    a.word(msg);
    a.half(0x7600 | field16(LEN, 7)); // moveq #LEN, %d3
    a.half(0x4e40); // trap #0
    a.half(0x206f); // movea.l 4(%sp), %a0  ; argv[0]
    a.half(0x0004);
    a.half(0x7200); // moveq #0, %d1
    a.half(0x1210); // move.b (%a0), %d1
    a.half(0x7001); // moveq #1, %d0  ; __NR_exit
    a.half(0x4e40); // trap #0
    entry
}
