//! The reader: the ELF header, the program header table and the `PT_INTERP` string, checked
//! against the kernel's own limits (`load_elf_binary`, `load_elf_phdrs` in `fs/binfmt_elf.c`)
//! so that "identified here" and "executable there" agree. Every offset and length comes from
//! untrusted input, so all arithmetic is checked and every read is bounded. [`parse`] reads
//! bytes in memory; `file.rs` gives the same parser positioned reads of a file.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::consts::{
    Class, Endian, EI_CLASS, EI_DATA, EI_OSABI, ELFMAG, E_MACHINE, E_TYPE, PT_DYNAMIC, PT_INTERP,
};
use super::ElfInfo;

/// How many leading bytes of a file `binfmt_misc` matches magics against (`BINPRM_BUF_SIZE`,
/// 256 since Linux 5.1).
pub const HEADER_LEN: usize = 256;
/// The largest program header table read. The kernel itself refuses tables over 64 KiB
/// (`load_elf_phdrs`); a real executable has a dozen entries.
const MAX_PHDR_TABLE: usize = 64 * 1024;
/// The longest `PT_INTERP` accepted, NUL included: the kernel refuses more than `PATH_MAX`.
const MAX_INTERP: u64 = 4096;

/// Why a file could not be identified.
///
/// Each message is complete on its own, cause included (as youki's `WrappedIoError` does), so
/// no variant has a `source()`: printing with `{err}` or `{err:#}` shows the cause once.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF file: it does not start with \\x7fELF")]
    NotElf,
    #[error("truncated ELF file: the {what} extends beyond the end of the data")]
    Truncated { what: &'static str },
    #[error("unsupported ELF class {0} in byte 4 (EI_CLASS): expected 1 (32-bit) or 2 (64-bit)")]
    BadClass(u8),
    #[error(
        "unsupported ELF byte order {0} in byte 5 (EI_DATA): expected 1 (little-endian) or 2 (big-endian)"
    )]
    BadEndian(u8),
    #[error(
        "invalid ELF program header entry size {found} (e_phentsize): this ELF class uses {expected}"
    )]
    BadPhentsize { found: u16, expected: u16 },
    #[error(
        "too many ELF program headers: {count} entries need more than the {MAX_PHDR_TABLE} bytes the kernel accepts"
    )]
    TooManyProgramHeaders { count: u16 },
    #[error("the interpreter path (PT_INTERP) is {len} bytes long; the kernel accepts at most {MAX_INTERP}")]
    InterpTooLong { len: u64 },
    #[error("invalid interpreter path (PT_INTERP): {0}")]
    BadInterp(&'static str),
    #[error("cannot read {}: {err}", path.display())]
    Io { path: PathBuf, err: io::Error },
    #[error("{}: not a regular file but {kind}; programs are regular files", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    /// A format error found by [`read_file`](super::read_file), with the file's path in front.
    #[error("{}: {err}", path.display())]
    InFile { path: PathBuf, err: Box<ElfError> },
}

/// Parse from the bytes of a whole file (or a prefix: when program headers or the interp
/// string lie beyond the slice, return Truncated).
pub fn parse(bytes: &[u8]) -> Result<ElfInfo, ElfError> {
    let header = bytes.get(..HEADER_LEN).unwrap_or(bytes);
    parse_from(header, bytes)
}

/// What a [`Source`] gives: the bytes asked for, borrowed or read.
pub(super) type Fetched<'a> = Result<Cow<'a, [u8]>, ElfError>;

/// Where the bytes beyond the header come from: a slice in memory or an open file.
pub(super) trait Source {
    /// Exactly `len` bytes at `offset`, or `Truncated { what }` when they are not all there.
    fn fetch(&self, offset: u64, len: usize, what: &'static str) -> Fetched<'_>;
}

impl Source for [u8] {
    fn fetch(&self, offset: u64, len: usize, what: &'static str) -> Fetched<'_> {
        usize::try_from(offset)
            .ok()
            .and_then(|start| self.get(start..start.checked_add(len)?))
            .map(Cow::Borrowed)
            .ok_or(ElfError::Truncated { what })
    }
}

/// Where the fields this module reads sit, per class.
struct Layout {
    ehsize: usize,
    e_phoff: usize,
    e_flags: usize,
    e_phentsize: usize,
    e_phnum: usize,
    phentsize: u16,
    p_offset: usize,
    p_filesz: usize,
}

const LAYOUT32: Layout = Layout {
    ehsize: 52,
    e_phoff: 28,
    e_flags: 36,
    e_phentsize: 42,
    e_phnum: 44,
    phentsize: 32,
    p_offset: 4,
    p_filesz: 16,
};

const LAYOUT64: Layout = Layout {
    ehsize: 64,
    e_phoff: 32,
    e_flags: 48,
    e_phentsize: 54,
    e_phnum: 56,
    phentsize: 56,
    p_offset: 8,
    p_filesz: 32,
};

impl Layout {
    /// The layout of a class.
    fn of(class: Class) -> &'static Layout {
        match class {
            Class::Elf32 => &LAYOUT32,
            Class::Elf64 => &LAYOUT64,
        }
    }
}

/// Reads fixed-size fields in the file's byte order; a field past the end is `Truncated`.
struct Decoder {
    class: Class,
    endian: Endian,
}

impl Decoder {
    fn bytes<const N: usize>(
        data: &[u8],
        offset: usize,
        what: &'static str,
    ) -> Result<[u8; N], ElfError> {
        offset
            .checked_add(N)
            .and_then(|end| data.get(offset..end))
            .and_then(|field| <[u8; N]>::try_from(field).ok())
            .ok_or(ElfError::Truncated { what })
    }

    fn u16(&self, data: &[u8], offset: usize, what: &'static str) -> Result<u16, ElfError> {
        let raw = Self::bytes(data, offset, what)?;
        Ok(match self.endian {
            Endian::Little => u16::from_le_bytes(raw),
            Endian::Big => u16::from_be_bytes(raw),
        })
    }

    fn u32(&self, data: &[u8], offset: usize, what: &'static str) -> Result<u32, ElfError> {
        let raw = Self::bytes(data, offset, what)?;
        Ok(match self.endian {
            Endian::Little => u32::from_le_bytes(raw),
            Endian::Big => u32::from_be_bytes(raw),
        })
    }

    /// An address or offset: 4 bytes in ELF32, 8 in ELF64.
    fn word(&self, data: &[u8], offset: usize, what: &'static str) -> Result<u64, ElfError> {
        match self.class {
            Class::Elf32 => self.u32(data, offset, what).map(u64::from),
            Class::Elf64 => {
                let raw = Self::bytes(data, offset, what)?;
                Ok(match self.endian {
                    Endian::Little => u64::from_le_bytes(raw),
                    Endian::Big => u64::from_be_bytes(raw),
                })
            }
        }
    }
}

const IDENT: &str = "ELF identification";
const EHDR: &str = "ELF header";
const PHDRS: &str = "program header table";

/// The parser shared by [`parse`] and [`read_file`](super::read_file): `header` is the first
/// min(len, 256) bytes, `source` gives the rest. Each step fails before the next reads.
pub(super) fn parse_from<S: Source + ?Sized>(
    header: &[u8],
    source: &S,
) -> Result<ElfInfo, ElfError> {
    let (class, endian) = identify(header)?;
    let layout = Layout::of(class);
    let de = Decoder { class, endian };
    let (mut info, table) = read_ehdr(header, layout, &de)?;
    (info.interp, info.has_dynamic) = read_segments(source, layout, &de, &table)?;
    Ok(info)
}

/// `e_ident`: the magic, the class and the byte order.
fn identify(header: &[u8]) -> Result<(Class, Endian), ElfError> {
    if !header.starts_with(ELFMAG) {
        return Err(if !header.is_empty() && ELFMAG.starts_with(header) {
            ElfError::Truncated { what: IDENT }
        } else {
            ElfError::NotElf
        });
    }
    let class = match header.get(EI_CLASS) {
        None => return Err(ElfError::Truncated { what: IDENT }),
        Some(&byte) => Class::from_ident(byte).ok_or(ElfError::BadClass(byte))?,
    };
    let endian = match header.get(EI_DATA) {
        None => return Err(ElfError::Truncated { what: IDENT }),
        Some(&byte) => Endian::from_ident(byte).ok_or(ElfError::BadEndian(byte))?,
    };
    Ok((class, endian))
}

/// Where the program header table is, as the ELF header says.
struct PhdrTable {
    offset: u64,
    entsize: u16,
    count: u16,
}

/// The rest of the ELF header, which must be there whole: what it says of the file (no
/// segments read yet), and where its program headers are.
fn read_ehdr(
    header: &[u8],
    layout: &Layout,
    de: &Decoder,
) -> Result<(ElfInfo, PhdrTable), ElfError> {
    if header.len() < layout.ehsize {
        return Err(ElfError::Truncated { what: EHDR });
    }
    let info = ElfInfo {
        class: de.class,
        endian: de.endian,
        osabi: header
            .get(EI_OSABI)
            .copied()
            .ok_or(ElfError::Truncated { what: EHDR })?,
        e_type: de.u16(header, E_TYPE, EHDR)?,
        machine: de.u16(header, E_MACHINE, EHDR)?,
        flags: de.u32(header, layout.e_flags, EHDR)?,
        interp: None,
        has_dynamic: false,
        header: header.to_vec(),
    };
    let table = PhdrTable {
        offset: de.word(header, layout.e_phoff, EHDR)?,
        entsize: de.u16(header, layout.e_phentsize, EHDR)?,
        count: de.u16(header, layout.e_phnum, EHDR)?,
    };
    Ok((info, table))
}

/// The program header table, within the kernel's limits: the `PT_INTERP` it names, and whether
/// it has a `PT_DYNAMIC` segment.
fn read_segments<S: Source + ?Sized>(
    source: &S,
    layout: &Layout,
    de: &Decoder,
    table: &PhdrTable,
) -> Result<(Option<PathBuf>, bool), ElfError> {
    let (mut interp, mut has_dynamic) = (None, false);
    // With no program headers (relocatable objects) e_phoff and e_phentsize mean nothing.
    if table.count == 0 {
        return Ok((interp, has_dynamic));
    }
    if table.entsize != layout.phentsize {
        return Err(ElfError::BadPhentsize {
            found: table.entsize,
            expected: layout.phentsize,
        });
    }
    // PN_XNUM (0xffff, "the count is in section 0") lands here too, as the kernel does.
    let size = usize::from(table.count)
        .checked_mul(usize::from(table.entsize))
        .filter(|&size| size <= MAX_PHDR_TABLE)
        .ok_or(ElfError::TooManyProgramHeaders { count: table.count })?;
    let bytes = source.fetch(table.offset, size, PHDRS)?;
    for entry in bytes.chunks_exact(usize::from(table.entsize)) {
        match de.u32(entry, 0, PHDRS)? {
            PT_DYNAMIC => has_dynamic = true,
            // The kernel uses the first PT_INTERP and ignores any later one.
            PT_INTERP if interp.is_none() => {
                let offset = de.word(entry, layout.p_offset, PHDRS)?;
                let len = de.word(entry, layout.p_filesz, PHDRS)?;
                interp = Some(read_interp(source, offset, len)?);
            }
            _ => {}
        }
    }
    Ok((interp, has_dynamic))
}

/// The `PT_INTERP` path, checked as the kernel does: at most 4096 bytes, NUL-terminated, and the
/// path is what comes before the first NUL. It need not be UTF-8.
fn read_interp<S: Source + ?Sized>(source: &S, offset: u64, len: u64) -> Result<PathBuf, ElfError> {
    if len > MAX_INTERP {
        return Err(ElfError::InterpTooLong { len });
    }
    let len = usize::try_from(len).map_err(|_| ElfError::InterpTooLong { len })?;
    let bytes = source.fetch(offset, len, "interpreter path (PT_INTERP)")?;
    if bytes.last() != Some(&0) {
        return Err(ElfError::BadInterp(if bytes.is_empty() {
            "it is empty"
        } else {
            "it does not end with a NUL byte"
        }));
    }
    let path = bytes.split(|&b| b == 0).next().unwrap_or_default();
    if path.is_empty() {
        return Err(ElfError::BadInterp("it is empty"));
    }
    Ok(PathBuf::from(OsStr::from_bytes(path)))
}

#[cfg(test)]
mod tests {
    use super::super::consts::{EM_ALPHA, EM_RISCV, ET_DYN, ET_EXEC, ET_REL, PT_LOAD, PT_NOTE};
    use super::super::testfile::{all_shapes, corpus, kind, mutate, patch, Spec, XorShift};
    use super::*;

    /// Program headers as (`p_type`, segment contents).
    type Phdrs = Vec<(u32, &'static [u8])>;

    struct Expect {
        interp: Option<&'static str>,
        has_dynamic: bool,
    }

    #[test]
    fn decodes_every_field_of_hand_built_files() {
        let interp = b"/lib/ld.so.1\0";
        let cases: Vec<(&str, Phdrs, Expect)> = vec![
            (
                "no program headers",
                vec![],
                Expect {
                    interp: None,
                    has_dynamic: false,
                },
            ),
            (
                "static",
                vec![(PT_LOAD, b"code"), (PT_NOTE, b"note")],
                Expect {
                    interp: None,
                    has_dynamic: false,
                },
            ),
            (
                "static-pie: PT_DYNAMIC without PT_INTERP",
                vec![(PT_LOAD, b"code"), (PT_DYNAMIC, &[0; 16])],
                Expect {
                    interp: None,
                    has_dynamic: true,
                },
            ),
            (
                "dynamic",
                vec![
                    (PT_INTERP, interp),
                    (PT_LOAD, b"code"),
                    (PT_DYNAMIC, &[0; 16]),
                ],
                Expect {
                    interp: Some("/lib/ld.so.1"),
                    has_dynamic: true,
                },
            ),
            (
                "the first PT_INTERP wins",
                vec![(PT_INTERP, interp), (PT_INTERP, b"/other\0")],
                Expect {
                    interp: Some("/lib/ld.so.1"),
                    has_dynamic: false,
                },
            ),
            (
                "the path ends at the first NUL",
                vec![(PT_INTERP, b"/lib/ld.so\0junk\0")],
                Expect {
                    interp: Some("/lib/ld.so"),
                    has_dynamic: false,
                },
            ),
        ];
        for (class, endian) in all_shapes() {
            for (name, phdrs, expect) in &cases {
                for (osabi, e_type, machine, flags) in [
                    (0, ET_EXEC, EM_RISCV, 0x0000_0005),
                    (3, ET_DYN, EM_ALPHA, 0x1234_5678),
                    (0xff, ET_REL, 0xfffe, 0xdead_beef),
                ] {
                    let mut spec = Spec {
                        osabi,
                        e_type,
                        machine,
                        flags,
                        ..Spec::new(class, endian)
                    };
                    for (p_type, data) in phdrs {
                        spec = spec.with(*p_type, data);
                    }
                    let (file, _) = spec.build();
                    let context = format!("{name}, {class:?} {endian:?} machine {machine:#x}");
                    let info = parse(&file).unwrap_or_else(|e| panic!("{context}: {e}"));
                    let expected = ElfInfo {
                        class,
                        endian,
                        osabi,
                        e_type,
                        machine,
                        flags,
                        interp: expect.interp.map(PathBuf::from),
                        has_dynamic: expect.has_dynamic,
                        header: file[..file.len().min(256)].to_vec(),
                    };
                    assert_eq!(info, expected, "{context}");
                    assert_eq!(info.is_static(), expect.interp.is_none(), "{context}");
                }
            }
        }
    }

    #[test]
    fn header_is_the_first_256_bytes() {
        let long = Spec::new(Class::Elf64, Endian::Little).with(PT_LOAD, &[0xaa; 1000]);
        let (file, _) = long.build();
        assert!(file.len() > 1000);
        assert_eq!(parse(&file).unwrap().header, file[..256]);
        let (short, _) = Spec::new(Class::Elf32, Endian::Big).build();
        assert_eq!(short.len(), 52);
        assert_eq!(parse(&short).unwrap().header, short);
    }

    #[test]
    fn interp_need_not_be_utf8() {
        let (file, _) = Spec::new(Class::Elf64, Endian::Little)
            .with(PT_INTERP, b"/lib/\xff\xfe.so\0")
            .build();
        let info = parse(&file).unwrap();
        assert_eq!(
            info.interp.unwrap().as_os_str().as_bytes(),
            b"/lib/\xff\xfe.so"
        );
    }

    /// How a case changes a built file.
    enum Edit {
        /// Any change to the bytes.
        Bytes(fn(&mut Vec<u8>)),
        /// Overwrite a field, in the file's byte order and the field's size for its class.
        Set(Field, u64),
    }

    /// A field of the ELF header, or of the first program header.
    #[derive(Clone, Copy)]
    enum Field {
        Phoff,
        Phentsize,
        Phnum,
        POffset,
        PFilesz,
    }

    impl Field {
        /// Where the field is and how many bytes it has.
        fn at(self, class: Class) -> (usize, usize) {
            let l = Layout::of(class);
            let word = match class {
                Class::Elf32 => 4,
                Class::Elf64 => 8,
            };
            match self {
                Field::Phoff => (l.e_phoff, word),
                Field::Phentsize => (l.e_phentsize, 2),
                Field::Phnum => (l.e_phnum, 2),
                Field::POffset => (l.ehsize + l.p_offset, word),
                Field::PFilesz => (l.ehsize + l.p_filesz, word),
            }
        }
    }

    impl Edit {
        fn apply(&self, spec: &Spec, file: &mut Vec<u8>) {
            match self {
                Edit::Bytes(change) => change(file),
                Edit::Set(field, value) => {
                    let (at, size) = field.at(spec.class);
                    patch(file, spec, at, size, *value);
                }
            }
        }
    }

    #[test]
    #[allow(clippy::too_many_lines)] // one table of cases, one per line of defence
    fn rejects_malformed_files() {
        use Edit::{Bytes, Set};
        use Field::{PFilesz, POffset, Phentsize, Phnum, Phoff};
        const PHDRS: &str = "Truncated { what: \"program header table\" }";
        const INTERP: &str = "Truncated { what: \"interpreter path (PT_INTERP)\" }";
        const NO_NUL: &str = "BadInterp(\"it does not end with a NUL byte\")";
        const EMPTY: &str = "BadInterp(\"it is empty\")";
        let interp = Spec::new(Class::Elf64, Endian::Little).with(PT_INTERP, b"/ld.so\0");
        let interp32 = Spec::new(Class::Elf32, Endian::Big).with(PT_INTERP, b"/ld.so\0");
        let plain = Spec::new(Class::Elf64, Endian::Big).with(PT_LOAD, b"x");
        let cases: Vec<(&str, &Spec, Edit, &str)> = vec![
            ("empty", &plain, Bytes(Vec::clear), "NotElf"),
            ("wrong magic", &plain, Bytes(|f| f[0] = b'M'), "NotElf"),
            (
                "magic prefix only",
                &plain,
                Bytes(|f| f.truncate(3)),
                "Truncated { what: \"ELF identification\" }",
            ),
            ("class 0", &plain, Bytes(|f| f[4] = 0), "BadClass(0)"),
            ("class 3", &plain, Bytes(|f| f[4] = 3), "BadClass(3)"),
            ("byte order 0", &plain, Bytes(|f| f[5] = 0), "BadEndian(0)"),
            (
                "byte order 0xff",
                &plain,
                Bytes(|f| f[5] = 0xff),
                "BadEndian(255)",
            ),
            (
                "e_phentsize too small",
                &plain,
                Set(Phentsize, 55),
                "BadPhentsize { found: 55, expected: 56 }",
            ),
            (
                "e_phentsize of the other class",
                &interp32,
                Set(Phentsize, 56),
                "BadPhentsize { found: 56, expected: 32 }",
            ),
            (
                "e_phnum 65535",
                &plain,
                Set(Phnum, 0xffff),
                "TooManyProgramHeaders { count: 65535 }",
            ),
            (
                "e_phnum just over 64 KiB of headers",
                &plain,
                Set(Phnum, 1171),
                "TooManyProgramHeaders { count: 1171 }",
            ),
            (
                "e_phnum within the limit but past the end",
                &plain,
                Set(Phnum, 1170),
                PHDRS,
            ),
            ("e_phoff past the end", &plain, Set(Phoff, 1 << 40), PHDRS),
            (
                "e_phoff + size overflows",
                &plain,
                Set(Phoff, u64::MAX - 10),
                PHDRS,
            ),
            (
                "PT_INTERP offset overflows",
                &interp,
                Set(POffset, u64::MAX),
                INTERP,
            ),
            (
                "PT_INTERP offset past the end (32-bit)",
                &interp32,
                Set(POffset, u32::MAX.into()),
                INTERP,
            ),
            (
                "PT_INTERP longer than the file",
                &interp,
                Set(PFilesz, 100),
                INTERP,
            ),
            (
                "PT_INTERP of 4096 bytes past the end",
                &interp,
                Set(PFilesz, 4096),
                INTERP,
            ),
            (
                "PT_INTERP of 4097 bytes",
                &interp,
                Set(PFilesz, 4097),
                "InterpTooLong { len: 4097 }",
            ),
            (
                "PT_INTERP of u64::MAX bytes",
                &interp,
                Set(PFilesz, u64::MAX),
                "InterpTooLong { len: 18446744073709551615 }",
            ),
            (
                "PT_INTERP without NUL",
                &interp,
                Bytes(|f| *f.last_mut().unwrap() = b'x'),
                NO_NUL,
            ),
            ("PT_INTERP of 0 bytes", &interp, Set(PFilesz, 0), EMPTY),
            ("PT_INTERP only a NUL", &interp32, Set(PFilesz, 1), NO_NUL),
            (
                "PT_INTERP starting with NUL",
                &interp,
                Bytes(|f| {
                    let at = f.len() - "/ld.so\0".len();
                    f[at] = 0;
                }),
                EMPTY,
            ),
        ];
        for (name, spec, edit, expected) in cases {
            let (mut file, _) = spec.build();
            edit.apply(spec, &mut file);
            assert_eq!(kind(&parse(&file)), expected, "{name}");
        }
        // No program headers: e_phoff and e_phentsize are ignored.
        let bare = Spec::new(Class::Elf64, Endian::Little);
        let (mut file, _) = bare.build();
        Set(Phoff, u64::MAX).apply(&bare, &mut file);
        Set(Phentsize, 0).apply(&bare, &mut file);
        assert_eq!(kind(&parse(&file)), "ok", "no program headers");
    }

    #[test]
    fn error_messages() {
        let cases: Vec<(ElfError, &str)> = vec![
            (
                ElfError::NotElf,
                "not an ELF file: it does not start with \\x7fELF",
            ),
            (
                ElfError::Truncated {
                    what: "program header table",
                },
                "truncated ELF file: the program header table extends beyond the end of the data",
            ),
            (
                ElfError::BadClass(3),
                "unsupported ELF class 3 in byte 4 (EI_CLASS): expected 1 (32-bit) or 2 (64-bit)",
            ),
            (
                ElfError::BadEndian(0),
                "unsupported ELF byte order 0 in byte 5 (EI_DATA): expected 1 (little-endian) or 2 (big-endian)",
            ),
            (
                ElfError::BadPhentsize {
                    found: 55,
                    expected: 56,
                },
                "invalid ELF program header entry size 55 (e_phentsize): this ELF class uses 56",
            ),
            (
                ElfError::TooManyProgramHeaders { count: 65535 },
                "too many ELF program headers: 65535 entries need more than the 65536 bytes the kernel accepts",
            ),
            (
                ElfError::InterpTooLong { len: 5000 },
                "the interpreter path (PT_INTERP) is 5000 bytes long; the kernel accepts at most 4096",
            ),
            (
                ElfError::InFile {
                    path: PathBuf::from("/tmp/x"),
                    err: Box::new(ElfError::NotElf),
                },
                "/tmp/x: not an ELF file: it does not start with \\x7fELF",
            ),
        ];
        for (err, expected) in cases {
            assert_eq!(err.to_string(), expected);
            // Complete on its own: nothing more to print from a source chain.
            assert!(std::error::Error::source(&err).is_none());
        }
        // Exactly as a user sees it.
        assert_eq!(
            ElfError::NotElf.to_string(),
            r"not an ELF file: it does not start with \x7fELF"
        );
        assert_eq!(
            parse(b"\x7fELF\x02\x01").unwrap_err().to_string(),
            "truncated ELF file: the ELF header extends beyond the end of the data"
        );
    }

    #[test]
    fn every_prefix_is_an_error_or_ok_never_a_panic() {
        for spec in corpus() {
            let (file, needed) = spec.build();
            for len in 0..=file.len() {
                let result = parse(&file[..len]);
                let expected = if len >= needed {
                    "ok"
                } else if len == 0 {
                    "NotElf"
                } else {
                    "Truncated"
                };
                assert!(
                    kind(&result).starts_with(expected),
                    "{:?} {:?} with {} program headers, prefix {len}: {}",
                    spec.class,
                    spec.endian,
                    spec.phdrs.len(),
                    kind(&result)
                );
            }
        }
    }

    fn check_invariants(input: &[u8], result: &Result<ElfInfo, ElfError>) {
        if let Ok(info) = result {
            assert_eq!(info.header, input[..input.len().min(256)]);
            if let Some(interp) = &info.interp {
                let bytes = interp.as_os_str().as_bytes();
                assert!(!bytes.is_empty() && bytes.len() < 4096 && !bytes.contains(&0));
            }
        }
    }

    #[test]
    fn random_mutations_never_panic() {
        let mut bases: Vec<Vec<u8>> = corpus().iter().map(|s| s.build().0).collect();
        // A real program of this machine too: the test binary itself (there is no /bin/ls on
        // NixOS).
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        bases.push(me[..me.len().min(4096)].to_vec());
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
        for round in 0..20_000 {
            let mut file = bases[round % bases.len()].clone();
            mutate(&mut rng, &mut file);
            let result = parse(&file);
            check_invariants(&file, &result);
            let name = kind(&result);
            let variant = name.split([' ', '(']).next().unwrap_or_default().to_owned();
            *outcomes.entry(variant).or_default() += 1;
        }
        // The mutations reach both success and the interesting failures.
        for variant in [
            "ok",
            "Truncated",
            "BadClass",
            "BadEndian",
            "BadPhentsize",
            "TooManyProgramHeaders",
            "BadInterp",
        ] {
            assert!(
                outcomes.contains_key(variant),
                "never saw {variant}: {outcomes:?}"
            );
        }
    }

    #[test]
    fn every_single_byte_change_of_the_headers_never_panics() {
        for spec in corpus() {
            let (file, _) = spec.build();
            let hot = file.len().min(
                Layout::of(spec.class).ehsize + 4 * usize::from(Layout::of(spec.class).phentsize),
            );
            for at in 0..hot {
                for value in [0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff] {
                    let mut mutated = file.clone();
                    mutated[at] = value;
                    let result = parse(&mutated);
                    check_invariants(&mutated, &result);
                }
            }
        }
    }
}
