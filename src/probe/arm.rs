//! The AArch64 and 32-bit ARM probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::{Elf32, Elf64};
use crate::elf::Endian::{Big, Little};
use crate::elf::{EF_ARM_BE8, EF_ARM_EABI5, EM_AARCH64, EM_ARM};

pub(super) const AARCH64: Arch = arch(Elf64, Little, EM_AARCH64, 0, aarch64);
pub(super) const AARCH64_BE: Arch = Arch {
    code: Little,
    ..arch(Elf64, Big, EM_AARCH64, 0, aarch64)
};
pub(super) const ARM: Arch = arch(Elf32, Little, EM_ARM, EF_ARM_EABI5, arm);
pub(super) const ARM_BE8: Arch = Arch {
    code: Little,
    ..arch(Elf32, Big, EM_ARM, EF_ARM_EABI5 | EF_ARM_BE8, arm)
};

/// AArch64 `movz xd, #imm16`.
fn a64_movz(rd: u32, imm16: u32) -> u32 {
    0xd280_0000 | field(imm16, 16) << 5 | rd
}

/// AArch64 (either data endianness; instructions are always little-endian): `svc #0`, number in
/// x8, arguments x0-x2; sp -> argc at entry.
fn aarch64(a: &mut Asm, msg: u32) -> u32 {
    let entry = a.here();
    a.word(a64_movz(0, 1)); // mov x0, #1  ; stdout
    a.word(a64_movz(1, msg & 0xffff)); // movz x1, #:abs_g0_nc:msg
    a.word(0xf2a0_0000 | field(msg >> 16, 16) << 5 | 1); // movk x1, #:abs_g1:msg, lsl #16
    a.word(a64_movz(2, LEN)); // mov x2, #LEN
    a.word(a64_movz(8, 64)); // mov x8, #64  ; __NR_write
    a.word(0xd400_0001); // svc #0
    a.word(0xf940_07e1); // ldr x1, [sp, #8]  ; argv[0]
    a.word(0x3940_0020); // ldrb w0, [x1]
    a.word(a64_movz(8, 93)); // mov x8, #93  ; __NR_exit
    a.word(0xd400_0001); // svc #0
    entry
}

/// ARM, A32 instruction set, EABI (ARMv4 and later, so armv6l and armv7l alike): `svc #0`,
/// number in r7, arguments r0-r2; sp -> argc at entry. The message address is a literal after
/// the code, loaded pc-relative.
fn arm(a: &mut Asm, msg: u32) -> u32 {
    let entry = a.here();
    a.word(0xe3a0_0001); // mov r0, #1  ; stdout
    let load = a.here();
    a.word(0); // ldr r1, =msg  ; patched below
    a.word(0xe3a0_2000 | field(LEN, 8)); // mov r2, #LEN
    a.word(0xe3a0_7004); // mov r7, #4  ; __NR_write
    a.word(0xef00_0000); // svc #0
    a.word(0xe59d_1004); // ldr r1, [sp, #4]  ; argv[0]
    a.word(0xe5d1_0000); // ldrb r0, [r1]
    a.word(0xe3a0_7001); // mov r7, #1  ; __NR_exit
    a.word(0xef00_0000); // svc #0
    let literal = a.here();
    a.data32(msg); // .word msg

    // ldr r1, [pc, #offset]: pc reads as the instruction's address + 8.
    a.patch_word(load, 0xe59f_1000 | field(literal - (load + 8), 12));
    entry
}
