//! Identify ELF files: class, byte order, machine, flags, static or dynamic, `PT_INTERP`.
//!
//! Only the ELF header, the program header table and the `PT_INTERP` string are read, the same
//! parts the kernel's `load_elf_binary` (`fs/binfmt_elf.c`) looks at before it maps anything.
//! Where this module rejects a file, it follows the kernel's own limits so that "identified
//! here" and "executable there" agree: a program header entry must have the size of the
//! class's `Elf{32,64}_Phdr`, and `PT_INTERP` must be at most `PATH_MAX` (4096) bytes ending in
//! a NUL. Every offset and length comes from untrusted input, so all arithmetic is checked and
//! every read is bounded.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// How many leading bytes of a file `binfmt_misc` matches magics against (`BINPRM_BUF_SIZE`,
/// 256 since Linux 5.1).
pub const HEADER_LEN: usize = 256;
/// The largest program header table read. The kernel itself refuses tables over 64 KiB
/// (`load_elf_phdrs`); a real executable has a dozen entries.
const MAX_PHDR_TABLE: usize = 64 * 1024;
/// The longest `PT_INTERP` accepted, NUL included: the kernel refuses more than `PATH_MAX`.
const MAX_INTERP: u64 = 4096;

const MAGIC: &[u8; 4] = b"\x7fELF";
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
const EI_OSABI: usize = 7;

const ET_REL: u16 = 1;
pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;

/// The kinds of executable a binfmt_misc entry may accept, as (e_type, what to call them):
/// an entry whose mask keeps all of e_type accepts only one of them.
pub const PROGRAM_KINDS: [(u16, &str); 2] =
    [(ET_EXEC, "non-PIE (ET_EXEC)"), (ET_DYN, "PIE (ET_DYN)")];

/// A copy of an ELF header with `e_type` (bytes 16-17, in the byte order `EI_DATA` names) set
/// to the given value; None when `header` is not that much of an ELF header.
pub fn with_e_type(header: &[u8], e_type: u16) -> Option<Vec<u8>> {
    if header.len() < 18 || !header.starts_with(b"\x7fELF") {
        return None;
    }
    let mut out = header.to_vec();
    out[16..18].copy_from_slice(&if header[5] == 2 {
        e_type.to_be_bytes()
    } else {
        e_type.to_le_bytes()
    });
    Some(out)
}
const ET_CORE: u16 = 4;

/// `e_version`/`EI_VERSION`: the only ELF version.
pub const EV_CURRENT: u8 = 1;
/// Program header types and flags.
pub const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
pub const PF_X: u32 = 1;
pub const PF_R: u32 = 4;

/// ELF file class (`EI_CLASS`): the word size of the file's structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Elf32,
    Elf64,
}

impl Class {
    /// The ELF header's size (`e_ehsize`).
    pub fn ehsize(self) -> u16 {
        match self {
            Class::Elf32 => 52,
            Class::Elf64 => 64,
        }
    }

    /// A program header's size (`e_phentsize`).
    pub fn phentsize(self) -> u16 {
        match self {
            Class::Elf32 => 32,
            Class::Elf64 => 56,
        }
    }
}

/// ELF data encoding (`EI_DATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endian {
    Little,
    Big,
}

/// What an ELF file says about itself, as far as choosing and checking an emulator goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    pub class: Class,
    pub endian: Endian,
    /// `EI_OSABI` (byte 7).
    pub osabi: u8,
    /// `e_type`: 2 = `ET_EXEC`, 3 = `ET_DYN` (PIE or shared object), 1 = `ET_REL`, 4 = `ET_CORE`.
    pub e_type: u16,
    /// `e_machine`, see [`machine_name`].
    pub machine: u16,
    /// `e_flags` (e.g. the MIPS ABI bits, the RISC-V float ABI).
    pub flags: u32,
    /// `PT_INTERP` contents without the trailing NUL.
    pub interp: Option<PathBuf>,
    /// A `PT_DYNAMIC` segment exists (static-pie has one but no interp).
    pub has_dynamic: bool,
    /// The first min(len, 256) bytes of the file: what `binfmt_misc` matches against.
    pub header: Vec<u8>,
}

impl ElfInfo {
    /// Statically linked: no `PT_INTERP` (static-pie counts as static).
    pub fn is_static(&self) -> bool {
        self.interp.is_none()
    }

    /// A short human name like "ELF 64-bit LSB, RISC-V (0xf3), static" for messages.
    ///
    /// Executables end in `static`, `static-pie` or `dynamic, interpreter <path>`; other file
    /// types name the type instead ("ELF 64-bit LSB relocatable, x86-64 (0x3e)").
    pub fn describe(&self) -> String {
        let bits = match self.class {
            Class::Elf32 => 32,
            Class::Elf64 => 64,
        };
        let order = match self.endian {
            Endian::Little => "LSB",
            Endian::Big => "MSB",
        };
        let machine = machine_name(self.machine).unwrap_or("unknown machine");
        let kind = match self.e_type {
            ET_EXEC | ET_DYN => String::new(),
            ET_REL => " relocatable".to_owned(),
            ET_CORE => " core file".to_owned(),
            other => format!(" of type {other:#x}"),
        };
        let mut text = format!(
            "ELF {bits}-bit {order}{kind}, {machine} ({:#x})",
            self.machine
        );
        if kind.is_empty() {
            match (&self.interp, self.has_dynamic) {
                (Some(interp), _) => {
                    text.push_str(", dynamic, interpreter ");
                    text.push_str(&interp.display().to_string());
                }
                (None, true) => text.push_str(", static-pie"),
                (None, false) => text.push_str(", static"),
            }
        }
        text
    }
}

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
    /// A format error found by [`read_file`], with the file's path in front.
    #[error("{}: {err}", path.display())]
    InFile { path: PathBuf, err: Box<ElfError> },
}

/// Parse from the bytes of a whole file (or a prefix: when program headers or the interp
/// string lie beyond the slice, return Truncated).
pub fn parse(bytes: &[u8]) -> Result<ElfInfo, ElfError> {
    let header = bytes.get(..HEADER_LEN).unwrap_or(bytes);
    parse_from(header, bytes)
}

/// Read only what is needed from a file (header, program headers, interp string) using
/// positioned reads, never the whole file; error names the path.
pub fn read_file(path: &Path) -> Result<ElfInfo, ElfError> {
    let io_error = |err| ElfError::Io {
        path: path.to_owned(),
        err,
    };
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    let file = File::options()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    if !meta.is_file() {
        return Err(ElfError::NotRegular {
            path: path.to_owned(),
            kind: file_kind(meta.file_type()),
        });
    }
    let source = FileSource { file: &file, path };
    let mut header = vec![0; HEADER_LEN];
    let len = source.read_up_to(0, &mut header).map_err(io_error)?;
    header.truncate(len);
    parse_from(&header, &source).map_err(|err| match err {
        err @ (ElfError::Io { .. } | ElfError::NotRegular { .. }) => err,
        err => ElfError::InFile {
            path: path.to_owned(),
            err: Box::new(err),
        },
    })
}

/// What a file that is not a regular file is, for messages.
fn file_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

/// Known machine names for messages; None for unknown.
pub fn machine_name(machine: u16) -> Option<&'static str> {
    // Values from the System V gABI and glibc's elf.h; the list covers qemu-user's targets.
    Some(match machine {
        0x02 => "SPARC",
        0x03 => "x86",
        0x04 => "m68k",
        0x06 => "Intel MCU",
        0x08 => "MIPS",
        0x0a => "MIPS RS3000 LE",
        0x0f => "PA-RISC",
        0x12 => "SPARC32PLUS",
        0x14 => "PowerPC",
        0x15 => "PowerPC64",
        0x16 => "S/390",
        0x28 => "ARM",
        0x2a => "SuperH",
        0x2b => "SPARC V9",
        0x32 => "IA-64",
        0x3e => "x86-64",
        0x4c => "CRIS",
        0x5c => "OpenRISC",
        0x5e => "Xtensa",
        0x71 => "Nios II",
        0xa4 => "Hexagon",
        0xb7 => "AArch64",
        0xbd => "MicroBlaze",
        0xf3 => "RISC-V",
        0xf7 => "BPF",
        0x102 => "LoongArch",
        0x9026 => "Alpha",
        0xbaab => "MicroBlaze (old)",
        _ => return None,
    })
}

/// Where the bytes beyond the header come from: a slice in memory or an open file.
trait Source {
    /// Exactly `len` bytes at `offset`, or `Truncated { what }` when they are not all there.
    fn fetch(&self, offset: u64, len: usize, what: &'static str)
        -> Result<Cow<'_, [u8]>, ElfError>;
}

impl Source for [u8] {
    fn fetch(
        &self,
        offset: u64,
        len: usize,
        what: &'static str,
    ) -> Result<Cow<'_, [u8]>, ElfError> {
        usize::try_from(offset)
            .ok()
            .and_then(|start| self.get(start..start.checked_add(len)?))
            .map(Cow::Borrowed)
            .ok_or(ElfError::Truncated { what })
    }
}

struct FileSource<'a> {
    file: &'a File,
    path: &'a Path,
}

impl FileSource<'_> {
    /// Fill `buf` from `offset` with positioned reads until it is full or the file ends;
    /// returns how many bytes were read.
    fn read_up_to(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let Some(at) = u64::try_from(filled)
                .ok()
                .and_then(|n| offset.checked_add(n))
            else {
                break;
            };
            let Some(rest) = buf.get_mut(filled..) else {
                break;
            };
            match self.file.read_at(rest, at) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(filled)
    }
}

impl Source for FileSource<'_> {
    fn fetch(
        &self,
        offset: u64,
        len: usize,
        what: &'static str,
    ) -> Result<Cow<'_, [u8]>, ElfError> {
        // No file extends past i64::MAX (off_t); pread would fail with EINVAL there, which is
        // a malformed offset, not an I/O problem.
        let fits = u64::try_from(len)
            .ok()
            .and_then(|len| offset.checked_add(len))
            .is_some_and(|end| i64::try_from(end).is_ok());
        if !fits {
            return Err(ElfError::Truncated { what });
        }
        let mut buf = vec![0; len];
        let read = self
            .read_up_to(offset, &mut buf)
            .map_err(|err| ElfError::Io {
                path: self.path.to_owned(),
                err,
            })?;
        if read < len {
            return Err(ElfError::Truncated { what });
        }
        Ok(Cow::Owned(buf))
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

/// The parser shared by [`parse`] and [`read_file`]: `header` is the first min(len, 256)
/// bytes, `source` gives the rest.
fn parse_from<S: Source + ?Sized>(header: &[u8], source: &S) -> Result<ElfInfo, ElfError> {
    const IDENT: &str = "ELF identification";
    const EHDR: &str = "ELF header";
    const PHDRS: &str = "program header table";
    if !header.starts_with(MAGIC) {
        return Err(if !header.is_empty() && MAGIC.starts_with(header) {
            ElfError::Truncated { what: IDENT }
        } else {
            ElfError::NotElf
        });
    }
    let class = match header.get(EI_CLASS) {
        None => return Err(ElfError::Truncated { what: IDENT }),
        Some(1) => Class::Elf32,
        Some(2) => Class::Elf64,
        Some(&other) => return Err(ElfError::BadClass(other)),
    };
    let endian = match header.get(EI_DATA) {
        None => return Err(ElfError::Truncated { what: IDENT }),
        Some(1) => Endian::Little,
        Some(2) => Endian::Big,
        Some(&other) => return Err(ElfError::BadEndian(other)),
    };
    let layout = match class {
        Class::Elf32 => &LAYOUT32,
        Class::Elf64 => &LAYOUT64,
    };
    if header.len() < layout.ehsize {
        return Err(ElfError::Truncated { what: EHDR });
    }
    let de = Decoder { class, endian };
    let osabi = header
        .get(EI_OSABI)
        .copied()
        .ok_or(ElfError::Truncated { what: EHDR })?;
    let e_type = de.u16(header, 16, EHDR)?;
    let machine = de.u16(header, 18, EHDR)?;
    let flags = de.u32(header, layout.e_flags, EHDR)?;
    let phoff = de.word(header, layout.e_phoff, EHDR)?;
    let phentsize = de.u16(header, layout.e_phentsize, EHDR)?;
    let phnum = de.u16(header, layout.e_phnum, EHDR)?;

    let mut interp = None;
    let mut has_dynamic = false;
    // With no program headers (relocatable objects) e_phoff and e_phentsize mean nothing.
    if phnum > 0 {
        if phentsize != layout.phentsize {
            return Err(ElfError::BadPhentsize {
                found: phentsize,
                expected: layout.phentsize,
            });
        }
        // PN_XNUM (0xffff, "the count is in section 0") lands here too, as the kernel does.
        let size = usize::from(phnum)
            .checked_mul(usize::from(phentsize))
            .filter(|&size| size <= MAX_PHDR_TABLE)
            .ok_or(ElfError::TooManyProgramHeaders { count: phnum })?;
        let table = source.fetch(phoff, size, PHDRS)?;
        for entry in table.chunks_exact(usize::from(phentsize)) {
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
    }

    Ok(ElfInfo {
        class,
        endian,
        osabi,
        e_type,
        machine,
        flags,
        interp,
        has_dynamic,
        header: header.to_vec(),
    })
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
    use super::*;

    const EM_RISCV: u16 = 0xf3;
    const EM_X86_64: u16 = 0x3e;
    const EM_ALPHA: u16 = 0x9026;
    const PT_LOAD: u32 = 1;
    const PT_NOTE: u32 = 4;

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

    fn layout(class: Class) -> &'static Layout {
        match class {
            Class::Elf32 => &LAYOUT32,
            Class::Elf64 => &LAYOUT64,
        }
    }

    /// A hand-built ELF file: header, program header table right after it, then each
    /// segment's contents in order.
    #[derive(Clone)]
    struct Spec {
        class: Class,
        endian: Endian,
        osabi: u8,
        e_type: u16,
        machine: u16,
        flags: u32,
        phdrs: Vec<(u32, Vec<u8>)>,
    }

    impl Spec {
        fn new(class: Class, endian: Endian) -> Self {
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

        fn with(mut self, p_type: u32, data: &[u8]) -> Self {
            self.phdrs.push((p_type, data.to_vec()));
            self
        }

        /// The file, and the shortest prefix of it that parses.
        fn build(&self) -> (Vec<u8>, usize) {
            let l = layout(self.class);
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
            w.buf.extend_from_slice(MAGIC);
            w.buf.extend_from_slice(&[class, data, 1, self.osabi, 0]);
            w.buf.resize(16, 0);
            let phnum = u16::try_from(self.phdrs.len()).unwrap();
            let ehsize = u16::try_from(l.ehsize).unwrap();
            w.u16(self.e_type);
            w.u16(self.machine);
            w.u32(1); // e_version
            w.word(0x1000); // e_entry
            w.word(u64::from(ehsize)); // e_phoff
            w.word(0); // e_shoff
            w.u32(self.flags);
            w.u16(ehsize);
            w.u16(l.phentsize);
            w.u16(phnum);
            w.u16(0); // e_shentsize
            w.u16(0); // e_shnum
            w.u16(0); // e_shstrndx
            assert_eq!(w.buf.len(), l.ehsize);
            let table_end = l.ehsize + self.phdrs.len() * usize::from(l.phentsize);
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
    fn patch(file: &mut [u8], spec: &Spec, at: usize, size: usize, value: u64) {
        let bytes = match spec.endian {
            Endian::Little => value.to_le_bytes()[..size].to_vec(),
            Endian::Big => value.to_be_bytes()[8 - size..].to_vec(),
        };
        file[at..at + size].copy_from_slice(&bytes);
    }

    fn all_shapes() -> Vec<(Class, Endian)> {
        vec![
            (Class::Elf32, Endian::Little),
            (Class::Elf32, Endian::Big),
            (Class::Elf64, Endian::Little),
            (Class::Elf64, Endian::Big),
        ]
    }

    /// Specs covering static, static-pie and dynamic files in every class and byte order.
    fn corpus() -> Vec<Spec> {
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

    /// Program headers as (`p_type`, segment contents).
    type Segments = Vec<(u32, &'static [u8])>;

    struct Expect {
        interp: Option<&'static str>,
        has_dynamic: bool,
    }

    #[test]
    fn decodes_every_field_of_hand_built_files() {
        let interp = b"/lib/ld.so.1\0";
        let cases: Vec<(&str, Segments, Expect)> = vec![
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

    #[test]
    fn describes_files_for_people() {
        let cases: Vec<(Spec, &str)> = vec![
            (
                Spec::new(Class::Elf64, Endian::Little),
                "ELF 64-bit LSB, RISC-V (0xf3), static",
            ),
            (
                Spec::new(Class::Elf64, Endian::Little).with(PT_DYNAMIC, &[0; 16]),
                "ELF 64-bit LSB, RISC-V (0xf3), static-pie",
            ),
            (
                Spec {
                    machine: EM_X86_64,
                    e_type: ET_DYN,
                    ..Spec::new(Class::Elf64, Endian::Little)
                }
                .with(PT_INTERP, b"/lib64/ld-linux-x86-64.so.2\0"),
                "ELF 64-bit LSB, x86-64 (0x3e), dynamic, interpreter /lib64/ld-linux-x86-64.so.2",
            ),
            (
                Spec {
                    machine: 0x2b,
                    ..Spec::new(Class::Elf64, Endian::Big)
                },
                "ELF 64-bit MSB, SPARC V9 (0x2b), static",
            ),
            (
                Spec {
                    machine: 0x1234,
                    ..Spec::new(Class::Elf32, Endian::Big)
                },
                "ELF 32-bit MSB, unknown machine (0x1234), static",
            ),
            (
                Spec {
                    machine: 0x28,
                    e_type: ET_REL,
                    ..Spec::new(Class::Elf32, Endian::Little)
                },
                "ELF 32-bit LSB relocatable, ARM (0x28)",
            ),
            (
                Spec {
                    e_type: ET_CORE,
                    ..Spec::new(Class::Elf64, Endian::Little)
                },
                "ELF 64-bit LSB core file, RISC-V (0xf3)",
            ),
            (
                Spec {
                    e_type: 0xfe00,
                    ..Spec::new(Class::Elf64, Endian::Little)
                },
                "ELF 64-bit LSB of type 0xfe00, RISC-V (0xf3)",
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(parse(&spec.build().0).unwrap().describe(), expected);
        }
    }

    #[test]
    fn names_machines() {
        let cases: &[(u16, Option<&str>)] = &[
            (0xf3, Some("RISC-V")),
            (0xb7, Some("AArch64")),
            (0x28, Some("ARM")),
            (3, Some("x86")),
            (0x3e, Some("x86-64")),
            (8, Some("MIPS")),
            (0x14, Some("PowerPC")),
            (0x15, Some("PowerPC64")),
            (0x16, Some("S/390")),
            (2, Some("SPARC")),
            (0x12, Some("SPARC32PLUS")),
            (0x2b, Some("SPARC V9")),
            (0x9026, Some("Alpha")),
            (0x102, Some("LoongArch")),
            (4, Some("m68k")),
            (0x0f, Some("PA-RISC")),
            (0x2a, Some("SuperH")),
            (0x5c, Some("OpenRISC")),
            (0xbd, Some("MicroBlaze")),
            (0x5e, Some("Xtensa")),
            (0x71, Some("Nios II")),
            (0x4c, Some("CRIS")),
            (0xa4, Some("Hexagon")),
            (0, None),
            (0x1234, None),
            (0xffff, None),
        ];
        for &(machine, name) in cases {
            assert_eq!(machine_name(machine), name, "machine {machine:#x}");
        }
    }

    /// The kind of error, for tables of expected failures.
    fn kind(result: &Result<ElfInfo, ElfError>) -> String {
        match result {
            Ok(_) => "ok".to_owned(),
            Err(err) => format!("{err:?}"),
        }
    }

    #[test]
    #[allow(clippy::too_many_lines)] // one table of cases, one per line of defence
    fn rejects_malformed_files() {
        type Mutation = fn(&Spec, &mut Vec<u8>);
        fn p_offset(s: &Spec) -> usize {
            layout(s.class).ehsize + layout(s.class).p_offset
        }
        fn p_filesz(s: &Spec) -> usize {
            layout(s.class).ehsize + layout(s.class).p_filesz
        }
        let interp = Spec::new(Class::Elf64, Endian::Little).with(PT_INTERP, b"/ld.so\0");
        let interp32 = Spec::new(Class::Elf32, Endian::Big).with(PT_INTERP, b"/ld.so\0");
        let plain = Spec::new(Class::Elf64, Endian::Big).with(PT_LOAD, b"x");
        let bare = Spec::new(Class::Elf64, Endian::Little);
        let cases: Vec<(&str, &Spec, Mutation, &str)> = vec![
            ("empty", &plain, |_, f| f.clear(), "NotElf"),
            ("wrong magic", &plain, |_, f| f[0] = b'M', "NotElf"),
            (
                "magic prefix only",
                &plain,
                |_, f| f.truncate(3),
                "Truncated { what: \"ELF identification\" }",
            ),
            ("class 0", &plain, |_, f| f[4] = 0, "BadClass(0)"),
            ("class 3", &plain, |_, f| f[4] = 3, "BadClass(3)"),
            ("byte order 0", &plain, |_, f| f[5] = 0, "BadEndian(0)"),
            (
                "byte order 0xff",
                &plain,
                |_, f| f[5] = 0xff,
                "BadEndian(255)",
            ),
            (
                "e_phentsize too small",
                &plain,
                |s, f| patch(f, s, layout(s.class).e_phentsize, 2, 55),
                "BadPhentsize { found: 55, expected: 56 }",
            ),
            (
                "e_phentsize of the other class",
                &interp32,
                |s, f| patch(f, s, layout(s.class).e_phentsize, 2, 56),
                "BadPhentsize { found: 56, expected: 32 }",
            ),
            (
                "e_phnum 65535",
                &plain,
                |s, f| patch(f, s, layout(s.class).e_phnum, 2, 0xffff),
                "TooManyProgramHeaders { count: 65535 }",
            ),
            (
                "e_phnum just over 64 KiB of headers",
                &plain,
                |s, f| patch(f, s, layout(s.class).e_phnum, 2, 1171),
                "TooManyProgramHeaders { count: 1171 }",
            ),
            (
                "e_phnum within the limit but past the end",
                &plain,
                |s, f| patch(f, s, layout(s.class).e_phnum, 2, 1170),
                "Truncated { what: \"program header table\" }",
            ),
            (
                "e_phoff past the end",
                &plain,
                |s, f| patch(f, s, layout(s.class).e_phoff, 8, 1 << 40),
                "Truncated { what: \"program header table\" }",
            ),
            (
                "e_phoff + size overflows",
                &plain,
                |s, f| patch(f, s, layout(s.class).e_phoff, 8, u64::MAX - 10),
                "Truncated { what: \"program header table\" }",
            ),
            (
                "PT_INTERP offset overflows",
                &interp,
                |s, f| patch(f, s, p_offset(s), 8, u64::MAX),
                "Truncated { what: \"interpreter path (PT_INTERP)\" }",
            ),
            (
                "PT_INTERP offset past the end (32-bit)",
                &interp32,
                |s, f| patch(f, s, p_offset(s), 4, u64::from(u32::MAX)),
                "Truncated { what: \"interpreter path (PT_INTERP)\" }",
            ),
            (
                "PT_INTERP longer than the file",
                &interp,
                |s, f| patch(f, s, p_filesz(s), 8, 100),
                "Truncated { what: \"interpreter path (PT_INTERP)\" }",
            ),
            (
                "PT_INTERP of 4096 bytes past the end",
                &interp,
                |s, f| patch(f, s, p_filesz(s), 8, 4096),
                "Truncated { what: \"interpreter path (PT_INTERP)\" }",
            ),
            (
                "PT_INTERP of 4097 bytes",
                &interp,
                |s, f| patch(f, s, p_filesz(s), 8, 4097),
                "InterpTooLong { len: 4097 }",
            ),
            (
                "PT_INTERP of u64::MAX bytes",
                &interp,
                |s, f| patch(f, s, p_filesz(s), 8, u64::MAX),
                "InterpTooLong { len: 18446744073709551615 }",
            ),
            (
                "PT_INTERP without NUL",
                &interp,
                |_, f| *f.last_mut().unwrap() = b'x',
                "BadInterp(\"it does not end with a NUL byte\")",
            ),
            (
                "PT_INTERP of 0 bytes",
                &interp,
                |s, f| patch(f, s, p_filesz(s), 8, 0),
                "BadInterp(\"it is empty\")",
            ),
            (
                "PT_INTERP only a NUL",
                &interp32,
                |s, f| patch(f, s, p_filesz(s), 4, 1),
                "BadInterp(\"it does not end with a NUL byte\")",
            ),
            (
                "PT_INTERP starting with NUL",
                &interp,
                |_, f| {
                    let at = f.len() - "/ld.so\0".len();
                    f[at] = 0;
                },
                "BadInterp(\"it is empty\")",
            ),
            (
                "no program headers: e_phoff and e_phentsize are ignored",
                &bare,
                |s, f| {
                    patch(f, s, layout(s.class).e_phoff, 8, u64::MAX);
                    patch(f, s, layout(s.class).e_phentsize, 2, 0);
                },
                "ok",
            ),
        ];
        for (name, spec, mutate, expected) in cases {
            let (mut file, _) = spec.build();
            mutate(spec, &mut file);
            assert_eq!(kind(&parse(&file)), expected, "{name}");
        }
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

    /// A xorshift64 generator: deterministic, no dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap()
        }
    }

    /// Corrupt a few bytes, mostly in the headers, sometimes with extreme values, sometimes
    /// cutting the file short.
    fn mutate(rng: &mut XorShift, file: &mut Vec<u8>) {
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
            let hot = file
                .len()
                .min(layout(spec.class).ehsize + 4 * usize::from(layout(spec.class).phentsize));
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

    /// A file in the temporary directory, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &[u8]) -> Self {
            let path = std::env::temp_dir()
                .join(format!("binfmtctl-elf-test-{}-{name}", std::process::id()));
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// `read_file` says what `parse` says, with the path in front of format errors.
    fn assert_same(
        path: &Path,
        from_bytes: &Result<ElfInfo, ElfError>,
        from_file: &Result<ElfInfo, ElfError>,
    ) {
        match (from_bytes, from_file) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b @ ElfError::InFile { path: p, err })) => {
                assert_eq!(p, path);
                assert_eq!(err.to_string(), a.to_string());
                assert_eq!(b.to_string(), format!("{}: {a}", path.display()));
            }
            (a, b) => panic!("parse gave {}, read_file gave {}", kind(a), kind(b)),
        }
    }

    #[test]
    fn read_file_agrees_with_parse() {
        let mut rng = XorShift(42);
        for (i, spec) in corpus().iter().enumerate() {
            let (file, _) = spec.build();
            let mut inputs: Vec<Vec<u8>> =
                (0..=file.len()).map(|len| file[..len].to_vec()).collect();
            for _ in 0..50 {
                let mut mutated = file.clone();
                mutate(&mut rng, &mut mutated);
                inputs.push(mutated);
            }
            let temp = TempFile::new(&format!("agree-{i}"), b"");
            for input in inputs {
                std::fs::write(&temp.0, &input).unwrap();
                assert_same(&temp.0, &parse(&input), &read_file(&temp.0));
            }
        }
    }

    #[test]
    fn read_file_names_the_path() {
        let missing = Path::new("/nonexistent/binfmtctl/elf-test");
        let err = read_file(missing).unwrap_err();
        assert!(
            matches!(&err, ElfError::Io { path, err } if path == missing && err.kind() == io::ErrorKind::NotFound)
        );
        assert_eq!(
            err.to_string(),
            "cannot read /nonexistent/binfmtctl/elf-test: No such file or directory (os error 2)"
        );

        let dir = std::env::temp_dir();
        let err = read_file(&dir).unwrap_err();
        assert!(
            matches!(&err, ElfError::NotRegular { path, kind: "a directory" } if *path == dir),
            "{err:?}"
        );

        let temp = TempFile::new("script", b"#!/bin/sh\necho hello\n");
        assert_eq!(
            read_file(&temp.0).unwrap_err().to_string(),
            format!(
                "{}: not an ELF file: it does not start with \\x7fELF",
                temp.0.display()
            )
        );

        let (file, _) = Spec::new(Class::Elf64, Endian::Little)
            .with(PT_INTERP, b"/ld.so\0")
            .build();
        let temp = TempFile::new("truncated", &file[..file.len() - 1]);
        assert_eq!(
            read_file(&temp.0).unwrap_err().to_string(),
            format!(
                "{}: truncated ELF file: the interpreter path (PT_INTERP) extends beyond the end of the data",
                temp.0.display()
            )
        );
    }

    /// A real file of this machine, or a failure that says what to install.
    fn real_file(path: &str, package: &str) -> (ElfInfo, Vec<u8>) {
        let path = Path::new(path);
        assert!(
            path.exists(),
            "{} is missing: install it with `apt-get install {package}`",
            path.display()
        );
        let info = read_file(path).unwrap_or_else(|e| panic!("{e}"));
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(
            parse(&bytes).unwrap(),
            info,
            "parse and read_file disagree on {}",
            path.display()
        );
        (info, bytes)
    }

    #[test]
    #[cfg_attr(
        not(feature = "kernel-tier"),
        ignore = "kernel tier: needs root or Debian's packages; bash scripts/test.sh runs it"
    )]
    fn real_dynamic_executable() {
        let (info, bytes) = real_file("/bin/ls", "coreutils");
        assert_eq!(info.class, Class::Elf64);
        assert_eq!(info.endian, Endian::Little);
        assert_eq!(info.machine, EM_X86_64);
        assert_eq!(
            info.interp,
            Some(PathBuf::from("/lib64/ld-linux-x86-64.so.2"))
        );
        assert!(info.has_dynamic);
        assert!(!info.is_static());
        assert_eq!(info.header, bytes[..256]);
        assert_eq!(
            info.describe(),
            "ELF 64-bit LSB, x86-64 (0x3e), dynamic, interpreter /lib64/ld-linux-x86-64.so.2"
        );
        // A prefix holding the header but not the program headers is truncated.
        assert_eq!(
            kind(&parse(&bytes[..256])),
            "Truncated { what: \"program header table\" }"
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "kernel-tier"),
        ignore = "kernel tier: needs root or Debian's packages; bash scripts/test.sh runs it"
    )]
    fn real_static_executable() {
        // Debian builds its qemu-*-static as static-pie: PT_DYNAMIC but no PT_INTERP.
        let (info, _) = real_file("/usr/bin/qemu-riscv64-static", "qemu-user-static");
        assert_eq!(info.class, Class::Elf64);
        assert_eq!(info.endian, Endian::Little);
        assert_eq!(info.machine, EM_X86_64);
        assert_eq!(info.interp, None);
        assert!(info.is_static());
        assert!(info
            .describe()
            .starts_with("ELF 64-bit LSB, x86-64 (0x3e), static"));
    }
}
