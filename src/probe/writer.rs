//! The layout of a probe and the ELF writer: the ELF header, one `PT_LOAD` program header
//! that maps the whole file read+execute at [`LOAD_ADDRESS`], the code, then the message.

use super::asm::{len32, push32, push64, Asm};
use super::{Arch, MARKER};
use crate::elf::Class::{self, Elf32, Elf64};
use crate::elf::Endian::{self, Big, Little};
use crate::elf::{ELFMAG, ET_EXEC, EV_CURRENT, PF_R, PF_X, PT_LOAD};

/// Where the file is mapped: 64 KiB is the lowest address Linux maps by default
/// (`vm.mmap_min_addr`) and a multiple of every page size in use (4, 8, 16 and 64 KiB).
pub(super) const LOAD_ADDRESS: u32 = 0x1_0000;

/// Lays out and writes the probe for `arch`.
pub(super) fn build(arch: &Arch) -> Vec<u8> {
    let code_offset = align_up(headers_len(arch.elf.class), 8);
    let code_at = LOAD_ADDRESS + code_offset;
    let assemble = |msg: u32| {
        let mut asm = Asm::new(code_at, arch.code, arch.elf.data);
        let entry = (arch.emit)(&mut asm, msg);
        asm.align(4);
        (entry, asm.bytes)
    };
    // The code is a fixed instruction sequence whatever the message address, so a first pass
    // measures it and the second encodes the real address.
    let (_, draft) = assemble(0);
    let msg = code_at + len32(&draft);
    let (entry, mut body) = assemble(msg);
    assert_eq!(
        body.len(),
        draft.len(),
        "probe code length depends on its data"
    );
    body.extend_from_slice(MARKER);
    write_elf(arch.elf, entry, code_offset, &body)
}

/// The ELF header and one program header, the whole of a probe's headers.
pub(super) fn headers_len(class: Class) -> u32 {
    u32::from(class.ehsize()) + u32::from(class.phentsize())
}

/// The ELF header fields that differ between probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Elf {
    pub(super) class: Class,
    pub(super) data: Endian,
    pub(super) machine: u16,
    pub(super) flags: u32,
}

/// An ELF executable: header, one `PT_LOAD` covering the whole file at [`LOAD_ADDRESS`], zero
/// padding up to `body_offset`, then `body`.
pub(super) fn write_elf(elf: Elf, entry: u32, body_offset: u32, body: &[u8]) -> Vec<u8> {
    let file_len = body_offset + len32(body);
    let mut out = Out {
        elf,
        bytes: Vec::with_capacity(usize::try_from(file_len).unwrap_or_default()),
    };
    // e_ident
    out.bytes.extend_from_slice(ELFMAG);
    out.bytes.push(elf.class.ident()); // EI_CLASS
    out.bytes.push(elf.data.ident()); // EI_DATA
    out.bytes.push(EV_CURRENT);
    out.bytes.extend_from_slice(&[0; 9]); // EI_OSABI = System V, EI_ABIVERSION 0, padding
    out.u16(ET_EXEC); // e_type
    out.u16(elf.machine); // e_machine
    out.u32(EV_CURRENT.into()); // e_version
    out.addr(entry); // e_entry
    out.addr(elf.class.ehsize().into()); // e_phoff: right after this header
    out.addr(0); // e_shoff: no section headers
    out.u32(elf.flags); // e_flags
    out.u16(elf.class.ehsize()); // e_ehsize
    out.u16(elf.class.phentsize()); // e_phentsize
    out.u16(1); // e_phnum
    out.u16(0); // e_shentsize
    out.u16(0); // e_shnum
    out.u16(0); // e_shstrndx

    // The one program header.
    out.u32(PT_LOAD); // p_type
    if elf.class == Elf64 {
        out.u32(PF_R | PF_X); // p_flags (here in ELF64)
    }
    out.addr(0); // p_offset
    out.addr(LOAD_ADDRESS); // p_vaddr
    out.addr(LOAD_ADDRESS); // p_paddr
    out.addr(file_len); // p_filesz
    out.addr(file_len); // p_memsz
    if elf.class == Elf32 {
        out.u32(PF_R | PF_X); // p_flags (here in ELF32)
    }
    out.addr(LOAD_ADDRESS); // p_align: 64 KiB, a multiple of every page size
    out.bytes
        .resize(usize::try_from(body_offset).unwrap_or_default(), 0);
    out.bytes.extend_from_slice(body);
    out.bytes
}

/// Writes ELF fields in the file's byte order and address size.
struct Out {
    elf: Elf,
    bytes: Vec<u8>,
}

impl Out {
    fn u16(&mut self, v: u16) {
        let b = match self.elf.data {
            Little => v.to_le_bytes(),
            Big => v.to_be_bytes(),
        };
        self.bytes.extend_from_slice(&b);
    }

    fn u32(&mut self, v: u32) {
        push32(&mut self.bytes, self.elf.data, v);
    }

    fn addr(&mut self, v: u32) {
        match self.elf.class {
            Elf32 => self.u32(v),
            Elf64 => push64(&mut self.bytes, self.elf.data, v.into()),
        }
    }
}

fn align_up(v: u32, to: u32) -> u32 {
    v.next_multiple_of(to)
}

#[cfg(test)]
mod tests {
    use super::super::readback::parse;
    use super::*;

    #[test]
    fn elf_writer_pads_to_the_body() {
        let elf = Elf {
            class: Elf32,
            data: Big,
            machine: 0x1234,
            flags: 0xdead_beef,
        };
        let bytes = write_elf(elf, LOAD_ADDRESS + 88, 88, b"body");
        assert_eq!(bytes.len(), 92);
        assert_eq!(&bytes[84..88], &[0; 4]);
        assert_eq!(&bytes[88..], b"body");
        let p = parse(&bytes);
        assert_eq!(p.machine, 0x1234);
        assert_eq!(p.flags, 0xdead_beef);
        assert_eq!(p.entry, u64::from(LOAD_ADDRESS) + 88);
        assert_eq!(p.p_filesz, 92);
    }
}
