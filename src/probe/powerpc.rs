//! The PowerPC (32-bit, ppc64 ELFv1 and ELFv2) probe: its ELF header fields and its program, instruction by instruction.

use super::asm::{field, Asm};
use super::{arch, Arch, LEN};
use crate::elf::Class::{Elf32, Elf64};
use crate::elf::Endian::{Big, Little};
use crate::elf::{EF_PPC64_ABI_V1, EF_PPC64_ABI_V2, EM_PPC, EM_PPC64};

pub(super) const PPC: Arch = arch(Elf32, Big, EM_PPC, 0, ppc32);
pub(super) const PPC64: Arch = arch(Elf64, Big, EM_PPC64, EF_PPC64_ABI_V1, ppc64_elfv1);
pub(super) const PPC64LE: Arch = arch(Elf64, Little, EM_PPC64, EF_PPC64_ABI_V2, ppc64_elfv2);

/// PowerPC D-form instruction.
pub(super) fn ppc_d(opcode: u32, rt: u32, ra: u32, imm16: u32) -> u32 {
    opcode << 26 | rt << 21 | ra << 16 | field(imm16, 16)
}

/// PowerPC, 32- or 64-bit: `sc`, number in r0, arguments r3-r5; r1 -> argc at entry.
fn ppc_body(a: &mut Asm, msg: u32, ppc64: bool) {
    const ADDI: u32 = 14;
    a.word(ppc_d(ADDI, 0, 0, 4)); // li r0, 4  ; __NR_write
    a.word(ppc_d(ADDI, 3, 0, 1)); // li r3, 1  ; stdout
    a.word(ppc_d(15, 4, 0, msg >> 16)); // lis r4, msg@h
    a.word(ppc_d(24, 4, 4, msg & 0xffff)); // ori r4, r4, msg@l
    a.word(ppc_d(ADDI, 5, 0, LEN)); // li r5, LEN
    a.word(0x4400_0002); // sc
    if ppc64 {
        a.word(ppc_d(58, 4, 1, 8)); // ld r4, 8(r1)  ; argv[0]
    } else {
        a.word(ppc_d(32, 4, 1, 4)); // lwz r4, 4(r1)  ; argv[0]
    }
    a.word(ppc_d(34, 3, 4, 0)); // lbz r3, 0(r4)
    a.word(ppc_d(ADDI, 0, 0, 1)); // li r0, 1  ; __NR_exit
    a.word(0x4400_0002); // sc
}

fn ppc32(a: &mut Asm, msg: u32) -> u32 {
    let entry = a.here();
    ppc_body(a, msg, false);
    entry
}

/// ppc64 big-endian, ELFv1: e_entry points at a function descriptor (code address, TOC, environment).
fn ppc64_elfv1(a: &mut Asm, msg: u32) -> u32 {
    let descriptor = a.here();
    a.data64((descriptor + 24).into()); // .quad code
    a.data64(0); // .quad TOC (none needed)
    a.data64(0); // .quad environment
    ppc_body(a, msg, true);
    descriptor
}

/// ppc64le, ELFv2: the entry is the code itself.
fn ppc64_elfv2(a: &mut Asm, msg: u32) -> u32 {
    let entry = a.here();
    ppc_body(a, msg, true);
    entry
}

#[cfg(test)]
mod tests {
    use super::super::for_system;
    use super::super::readback::parse;
    use super::super::writer::LOAD_ADDRESS;

    #[test]
    fn ppc64_elfv1_entry_is_a_descriptor_for_the_code() {
        let bytes = for_system("powerpc64-linux").unwrap().bytes;
        let p = parse(&bytes);
        let at = usize::try_from(p.entry - u64::from(LOAD_ADDRESS)).unwrap();
        let code = u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
        assert_eq!(code, p.entry + 24);
        assert_eq!(&bytes[at + 8..at + 24], &[0; 16], "TOC and environment");
    }
}
