//! A test writer of ELF files, for the reader's tests: any class, byte order, header fields and
//! program headers, and the mutations the robustness tests apply.
//!
//! It writes the identification bytes and the fields in their order as literal numbers on
//! purpose, not with the constants and offsets the reader decodes with, so that a wrong
//! constant cannot hide by being on both sides (only [`Class::ehsize`] and
//! [`Class::phentsize`] give the sizes, checked by `assert_eq!` against what was written).

use super::consts::{
    Class, Endian, EM_ALPHA, EM_RISCV, ET_DYN, ET_EXEC, PT_DYNAMIC, PT_INTERP, PT_LOAD, PT_NOTE,
};
use super::reader::ElfError;
use super::ElfInfo;

/// Writes ELF structures in a given class and byte order.
struct Writer {
    class: Class,
    endian: Endian,
    buf: Vec<u8>,
}

impl Writer {
    fn u16(&mut self, v: u16) {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        self.buf.extend_from_slice(&b);
    }
    fn u32(&mut self, v: u32) {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        self.buf.extend_from_slice(&b);
    }
    fn word(&mut self, v: u64) {
        match (self.class, self.endian) {
            (Class::Elf32, _) => self.u32(u32::try_from(v).expect("fits ELF32")),
            (Class::Elf64, Endian::Little) => self.buf.extend_from_slice(&v.to_le_bytes()),
            (Class::Elf64, Endian::Big) => self.buf.extend_from_slice(&v.to_be_bytes()),
        }
    }
}

/// A hand-built ELF file: header, program header table right after it, then each
/// segment's contents in order.
#[derive(Clone)]
pub(super) struct Spec {
    pub(super) class: Class,
    pub(super) endian: Endian,
    pub(super) osabi: u8,
    pub(super) e_type: u16,
    pub(super) machine: u16,
    pub(super) flags: u32,
    pub(super) phdrs: Vec<(u32, Vec<u8>)>,
}

impl Spec {
    pub(super) fn new(class: Class, endian: Endian) -> Self {
        Spec {
            class,
            endian,
            osabi: 0,
            e_type: ET_EXEC,
            machine: EM_RISCV,
            flags: 0,
            phdrs: Vec::new(),
        }
    }

    pub(super) fn with(mut self, p_type: u32, data: &[u8]) -> Self {
        self.phdrs.push((p_type, data.to_vec()));
        self
    }

    /// The file, and the shortest prefix of it that parses.
    pub(super) fn build(&self) -> (Vec<u8>, usize) {
        let (ehsize, phentsize) = (self.class.ehsize(), self.class.phentsize());
        let mut w = Writer {
            class: self.class,
            endian: self.endian,
            buf: Vec::new(),
        };
        let class = match self.class {
            Class::Elf32 => 1,
            Class::Elf64 => 2,
        };
        let data = match self.endian {
            Endian::Little => 1,
            Endian::Big => 2,
        };
        w.buf.extend_from_slice(b"\x7fELF");
        w.buf.extend_from_slice(&[class, data, 1, self.osabi, 0]);
        w.buf.resize(16, 0);
        let phnum = u16::try_from(self.phdrs.len()).unwrap();
        w.u16(self.e_type);
        w.u16(self.machine);
        w.u32(1); // e_version
        w.word(0x1000); // e_entry
        w.word(u64::from(ehsize)); // e_phoff
        w.word(0); // e_shoff
        w.u32(self.flags);
        w.u16(ehsize);
        w.u16(phentsize);
        w.u16(phnum);
        w.u16(0); // e_shentsize
        w.u16(0); // e_shnum
        w.u16(0); // e_shstrndx
        assert_eq!(w.buf.len(), usize::from(ehsize));
        let table_end = usize::from(ehsize) + self.phdrs.len() * usize::from(phentsize);
        let mut needed = table_end;
        let mut offset = table_end;
        let mut seen_interp = false;
        for (p_type, data) in &self.phdrs {
            let (off, len) = (offset as u64, data.len() as u64);
            w.u32(*p_type);
            if self.class == Class::Elf64 {
                w.u32(4); // p_flags
            }
            w.word(off); // p_offset
            w.word(0x1000 + off); // p_vaddr
            w.word(0x1000 + off); // p_paddr
            w.word(len); // p_filesz
            w.word(len); // p_memsz
            if self.class == Class::Elf32 {
                w.u32(4); // p_flags
            }
            w.word(1); // p_align
            offset += data.len();
            if *p_type == PT_INTERP && !seen_interp {
                seen_interp = true;
                needed = needed.max(offset);
            }
        }
        assert_eq!(w.buf.len(), table_end);
        for (_, data) in &self.phdrs {
            w.buf.extend_from_slice(data);
        }
        (w.buf, needed)
    }
}

/// Overwrite a field of the built file in its class and byte order.
pub(super) fn patch(file: &mut [u8], spec: &Spec, at: usize, size: usize, value: u64) {
    let bytes = match spec.endian {
        Endian::Little => value.to_le_bytes()[..size].to_vec(),
        Endian::Big => value.to_be_bytes()[8 - size..].to_vec(),
    };
    file[at..at + size].copy_from_slice(&bytes);
}

pub(super) fn all_shapes() -> Vec<(Class, Endian)> {
    vec![
        (Class::Elf32, Endian::Little),
        (Class::Elf32, Endian::Big),
        (Class::Elf64, Endian::Little),
        (Class::Elf64, Endian::Big),
    ]
}

/// Specs covering static, static-pie and dynamic files in every class and byte order.
pub(super) fn corpus() -> Vec<Spec> {
    let mut specs = Vec::new();
    for (class, endian) in all_shapes() {
        let base = Spec {
            osabi: 3,
            e_type: ET_DYN,
            machine: EM_ALPHA,
            flags: 0x1234_5678,
            ..Spec::new(class, endian)
        };
        specs.push(base.clone());
        specs.push(base.clone().with(PT_LOAD, b"code"));
        specs.push(
            base.clone()
                .with(PT_LOAD, b"code")
                .with(PT_DYNAMIC, &[0; 16]),
        );
        specs.push(
            base.clone()
                .with(PT_LOAD, b"code")
                .with(PT_INTERP, b"/lib/ld-linux-riscv64-lp64d.so.1\0")
                .with(PT_DYNAMIC, &[0; 16])
                .with(PT_NOTE, b"note"),
        );
    }
    specs
}

/// The kind of error, for tables of expected failures.
pub(super) fn kind(result: &Result<ElfInfo, ElfError>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(err) => format!("{err:?}"),
    }
}

/// A xorshift64 generator: deterministic, no dependency.
pub(super) struct XorShift(pub(super) u64);

impl XorShift {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

/// Corrupt a few bytes, mostly in the headers, sometimes with extreme values, sometimes
/// cutting the file short.
pub(super) fn mutate(rng: &mut XorShift, file: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        let hot = file.len().min(200);
        let at = if rng.below(4) == 0 {
            rng.below(file.len())
        } else {
            rng.below(hot)
        };
        let value = match rng.below(4) {
            0 => 0,
            1 => 0xff,
            2 => 0x80,
            _ => u8::try_from(rng.next() & 0xff).unwrap(),
        };
        file[at] = value;
    }
    if rng.below(8) == 0 {
        let len = rng.below(file.len() + 1);
        file.truncate(len);
    }
}
