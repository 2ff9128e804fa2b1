//! The PA-RISC probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::Elf32;
use crate::elf::Endian::Big;
use crate::elf::{EFA_PARISC_1_1, EM_PARISC};

pub(super) const HPPA: Arch = arch(Elf32, Big, EM_PARISC, EFA_PARISC_1_1, hppa);

/// PA-RISC `assemble_21`: the scrambled 21-bit immediate of `ldil`.
pub(super) fn hppa_assemble_21(x: u32) -> u32 {
    let x = field(x, 21);
    ((x & 0x10_0000) >> 20)
        | ((x & 0x0f_fe00) >> 8)
        | ((x & 0x00_0180) << 7)
        | ((x & 0x00_007c) << 14)
        | ((x & 0x00_0003) << 12)
}

/// PA-RISC `ldo imm(rb), rt` for a non-negative imm: the 14-bit field keeps its sign in the
/// lowest bit.
pub(super) fn hppa_ldo(rb: u32, rt: u32, imm: u32) -> u32 {
    0x0d << 26 | rb << 21 | rt << 16 | field(imm, 13) << 1
}

/// PA-RISC 1.1 (hppa): syscalls branch to the gateway page, `ble 0x100(%sr2, %r0)`, with the
/// number in r20 (set in the delay slot) and arguments r26, r25, r24. The stack grows up, so
/// the Linux entry passes argc in r25 and argv in r24 (`ELF_PLAT_INIT`/`start_thread`);
/// r3 is callee-saved across the syscall.
fn hppa(a: &mut Asm, msg: u32) -> u32 {
    let (r20, r24, r25, r26) = (20, 24, 25, 26);
    let ble_gateway = 0xe400_8200; // ble 0x100(%sr2, %r0)
    let entry = a.here();
    a.word(0x0818_0243); // copy %r24, %r3  ; keep argv
    a.word(hppa_ldo(0, r26, 1)); // ldi 1, %r26  ; stdout
    a.word(0x08 << 26 | r25 << 21 | hppa_assemble_21(msg >> 11)); // ldil L%msg, %r25
    a.word(hppa_ldo(r25, r25, msg & 0x7ff)); // ldo R%msg(%r25), %r25
    a.word(hppa_ldo(0, r24, LEN)); // ldi LEN, %r24
    a.word(ble_gateway); // ble 0x100(%sr2, %r0)
    a.word(hppa_ldo(0, r20, 4)); // ldi 4, %r20  ; (delay slot) __NR_write
    a.word(0x0c60_1083); // ldw 0(%r3), %r3  ; argv[0]
    a.word(0x0c60_101a); // ldb 0(%r3), %r26
    a.word(ble_gateway); // ble 0x100(%sr2, %r0)
    a.word(hppa_ldo(0, r20, 1)); // ldi 1, %r20  ; (delay slot) __NR_exit
    entry
}
