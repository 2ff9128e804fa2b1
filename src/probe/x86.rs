//! The x86 and x86-64 probe: its ELF header fields and its program, instruction by instruction.

use super::asm::Asm;
use super::{arch, Arch, LEN};
use crate::elf::Class::{Elf32, Elf64};
use crate::elf::Endian::Little;
use crate::elf::{EM_386, EM_X86_64};

pub(super) const X86_64: Arch = arch(Elf64, Little, EM_X86_64, 0, x86_64);
pub(super) const I386: Arch = arch(Elf32, Little, EM_386, 0, i386);

/// x86-64: `syscall`, number in rax, arguments rdi, rsi, rdx; rsp -> argc at entry.
fn x86_64(a: &mut Asm, msg: u32) -> u32 {
    let entry = a.here();
    a.raw(&[0xbf, 0x01, 0, 0, 0]); // mov edi, 1  ; stdout
    a.raw(&[0xbe]); // mov esi, msg
    a.word(msg);
    a.raw(&[0xba]); // mov edx, LEN
    a.word(LEN);
    a.raw(&[0xb8, 0x01, 0, 0, 0]); // mov eax, 1  ; __NR_write
    a.raw(&[0x0f, 0x05]); // syscall
    a.raw(&[0x48, 0x8b, 0x44, 0x24, 0x08]); // mov rax, [rsp+8] ; argv[0]
    a.raw(&[0x0f, 0xb6, 0x38]); // movzx edi, byte [rax]
    a.raw(&[0xb8, 0x3c, 0, 0, 0]); // mov eax, 60  ; __NR_exit
    a.raw(&[0x0f, 0x05]); // syscall
    entry
}

/// i386: `int 0x80`, number in eax, arguments ebx, ecx, edx; esp -> argc at entry.
fn i386(a: &mut Asm, msg: u32) -> u32 {
    let entry = a.here();
    a.raw(&[0xbb, 0x01, 0, 0, 0]); // mov ebx, 1  ; stdout
    a.raw(&[0xb9]); // mov ecx, msg
    a.word(msg);
    a.raw(&[0xba]); // mov edx, LEN
    a.word(LEN);
    a.raw(&[0xb8, 0x04, 0, 0, 0]); // mov eax, 4  ; __NR_write
    a.raw(&[0xcd, 0x80]); // int 0x80
    a.raw(&[0x8b, 0x44, 0x24, 0x04]); // mov eax, [esp+4]  ; argv[0]
    a.raw(&[0x0f, 0xb6, 0x18]); // movzx ebx, byte [eax]
    a.raw(&[0xb8, 0x01, 0, 0, 0]); // mov eax, 1  ; __NR_exit
    a.raw(&[0xcd, 0x80]); // int 0x80
    entry
}
