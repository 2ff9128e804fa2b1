//! Tiny per-architecture probe programs, generated in code.
//!
//! A probe is a static ELF executable of a few hundred bytes for one emulated Linux
//! architecture. Run under its qemu-user interpreter (directly, or by the kernel through a
//! binfmt_misc entry), it
//!
//! 1. writes [`MARKER`] to stdout (fd 1) with the raw `write` system call, then
//! 2. exits with the raw `exit` system call, its status being the first byte of its `argv[0]`.
//!
//! A checker that runs a probe with `argv[0] = "Z..."` and gets status 90 (`b'Z'`) knows that
//! `argv[0]` reached the program unchanged, which is what the binfmt_misc `P`
//! (preserve-argv0) flag is for (kernel `Documentation/admin-guide/binfmt-misc.rst`). BuildKit
//! and tonistiigi/binfmt prove emulation the same way, with fixed exit-0 programs.
//!
//! Every program is written out here instruction by instruction, with the assembly in a
//! comment, so building binfmtctl needs no prebuilt binaries and no cross toolchain. The
//! encodings were checked against GNU as and LLVM's assembler; `tests/probes.rs` runs every
//! probe under its `qemu-<cpu>-static`.
//!
//! File layout, the same for every architecture: ELF header, one `PT_LOAD` program header that
//! maps the whole file read+execute at [`LOAD_ADDRESS`], the code (entry right after the headers,
//! except where the ABI wants data first: xtensa's literal, ppc64 ELFv1's function descriptor),
//! then the message. The code learns the message's address from the layout, never from a
//! hand-counted offset.

/// What every probe writes to stdout.
pub const MARKER: &[u8] = b"binfmtctl-probe\n";

/// The exit status of a probe that does not read `argv[0]` (`reads_argv0 == false`).
pub const FIXED_STATUS: u8 = 66;

/// A probe program for one system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The Nix system double, e.g. `riscv64-linux` (or, for systems Nix has no double for, the
    /// name of binfmtctl's profile: `armeb-linux`, `sparcv8-linux`).
    pub system: &'static str,
    /// The qemu-user target that runs it: `/usr/bin/qemu-<cpu>-static`.
    pub cpu: &'static str,
    /// Whether the exit status is `argv[0][0]` (else it is [`FIXED_STATUS`]).
    pub reads_argv0: bool,
    /// The whole ELF file.
    pub bytes: Vec<u8>,
}

/// The probe for a Nix system double (e.g. "riscv64-linux"), or None when there is none.
pub fn for_system(system: &str) -> Option<Probe> {
    let target = TARGETS.iter().find(|t| t.system == system)?;
    Some(Probe {
        system: target.system,
        cpu: target.cpu,
        reads_argv0: true,
        bytes: build(&target.arch),
    })
}

/// Every system a probe exists for.
pub fn systems() -> &'static [&'static str] {
    &SYSTEMS
}

/// Where the file is mapped: 64 KiB is the lowest address Linux maps by default
/// (`vm.mmap_min_addr`) and a multiple of every page size in use (4, 8, 16 and 64 KiB).
const LOAD_ADDRESS: u32 = 0x1_0000;

/// The message length, as the code loads it into a register.
const LEN: u32 = 16;
const _: () = assert!(MARKER.len() == LEN as usize);

/// One entry of the table: a Nix system, the qemu target that runs it, and how to build it.
struct Target {
    system: &'static str,
    cpu: &'static str,
    arch: Arch,
}

/// How to build the probe for one architecture.
#[derive(Clone, Copy)]
struct Arch {
    elf: Elf,
    /// Byte order of instructions; differs from the data order on aarch64_be and BE8 ARM,
    /// whose instructions are always little-endian.
    code: Endian,
    /// Writes the code for a message at the given address; returns the entry address.
    emit: fn(&mut Asm, u32) -> u32,
}

const fn arch(
    class: Class,
    data: Endian,
    machine: u16,
    flags: u32,
    emit: fn(&mut Asm, u32) -> u32,
) -> Arch {
    Arch {
        elf: Elf {
            class,
            data,
            machine,
            flags,
        },
        code: data,
        emit,
    }
}

use Class::{Elf32, Elf64};
use Endian::{Big, Little};

// e_machine values (ELF gABI and <elf.h>).
const EM_SPARC: u16 = 2;
const EM_386: u16 = 3;
const EM_68K: u16 = 4;
const EM_MIPS: u16 = 8;
const EM_PARISC: u16 = 15;
const EM_SPARC32PLUS: u16 = 18;
const EM_PPC: u16 = 20;
const EM_PPC64: u16 = 21;
const EM_S390: u16 = 22;
const EM_ARM: u16 = 40;
const EM_SH: u16 = 42;
const EM_SPARCV9: u16 = 43;
const EM_X86_64: u16 = 62;
const EM_CRIS: u16 = 76;
const EM_OPENRISC: u16 = 92;
const EM_XTENSA: u16 = 94;
const EM_ALTERA_NIOS2: u16 = 113;
const EM_HEXAGON: u16 = 164;
const EM_AARCH64: u16 = 183;
const EM_MICROBLAZE: u16 = 189;
const EM_RISCV: u16 = 243;
const EM_LOONGARCH: u16 = 258;
const EM_ALPHA: u16 = 0x9026;

// e_flags, where the architecture wants them.
/// ARM EABI version 5.
const EF_ARM_EABI5: u32 = 0x0500_0000;
/// ARM BE8: big-endian data, little-endian instructions (the only big-endian mode of ARMv7).
const EF_ARM_BE8: u32 = 0x0080_0000;
/// MIPS: `.set noreorder` code, o32 ABI, MIPS32r2 / MIPS64r2 ISA, n32 ABI.
const EF_MIPS_NOREORDER: u32 = 0x1;
const EF_MIPS_ABI_O32: u32 = 0x1000;
const EF_MIPS_ARCH_32R2: u32 = 0x7000_0000;
const EF_MIPS_ARCH_64R2: u32 = 0x8000_0000;
const EF_MIPS_ABI2: u32 = 0x20;
/// ppc64 ELF ABI version (e_flags & 3): 1 = ELFv1 (entry is a function descriptor), 2 = ELFv2.
const EF_PPC64_ABI_V1: u32 = 1;
const EF_PPC64_ABI_V2: u32 = 2;
/// LoongArch: LP64D ABI, object ABI v1.
const EF_LOONGARCH_LP64D_V1: u32 = 0x43;
/// SPARC V8+ (32-bit code allowed to use V9 instructions).
const EF_SPARC_32PLUS: u32 = 0x100;
/// PA-RISC 1.1.
const EFA_PARISC_1_1: u32 = 0x210;
/// SuperH SH-4.
const EF_SH4: u32 = 0x9;
/// Xtensa: relaxable instructions and literals (what GNU as writes).
const EF_XTENSA_XT: u32 = 0x300;
/// CRIS: code valid on both v10 and v32 (qemu's default CRIS cpu is v32).
const EF_CRIS_VARIANT_COMMON_V10_V32: u32 = 0x4;
/// Hexagon V67, the core qemu-hexagon emulates.
const EF_HEXAGON_MACH_V67: u32 = 0x67;

const X86_64: Arch = arch(Elf64, Little, EM_X86_64, 0, x86_64);
const I386: Arch = arch(Elf32, Little, EM_386, 0, i386);
const AARCH64: Arch = arch(Elf64, Little, EM_AARCH64, 0, aarch64);
const AARCH64_BE: Arch = Arch {
    code: Little,
    ..arch(Elf64, Big, EM_AARCH64, 0, aarch64)
};
const ARM: Arch = arch(Elf32, Little, EM_ARM, EF_ARM_EABI5, arm);
const ARM_BE8: Arch = Arch {
    code: Little,
    ..arch(Elf32, Big, EM_ARM, EF_ARM_EABI5 | EF_ARM_BE8, arm)
};
const RISCV32: Arch = arch(Elf32, Little, EM_RISCV, 0, riscv32);
const RISCV64: Arch = arch(Elf64, Little, EM_RISCV, 0, riscv64);
const LOONGARCH64: Arch = arch(
    Elf64,
    Little,
    EM_LOONGARCH,
    EF_LOONGARCH_LP64D_V1,
    loongarch64,
);
const MIPS_O32_FLAGS: u32 = EF_MIPS_ARCH_32R2 | EF_MIPS_ABI_O32 | EF_MIPS_NOREORDER;
const MIPS_N64_FLAGS: u32 = EF_MIPS_ARCH_64R2 | EF_MIPS_NOREORDER;
const MIPS_N32_FLAGS: u32 = EF_MIPS_ARCH_64R2 | EF_MIPS_ABI2 | EF_MIPS_NOREORDER;
const MIPS: Arch = arch(Elf32, Big, EM_MIPS, MIPS_O32_FLAGS, mips_o32);
const MIPSEL: Arch = arch(Elf32, Little, EM_MIPS, MIPS_O32_FLAGS, mips_o32);
const MIPS64: Arch = arch(Elf64, Big, EM_MIPS, MIPS_N64_FLAGS, mips_n64);
const MIPS64EL: Arch = arch(Elf64, Little, EM_MIPS, MIPS_N64_FLAGS, mips_n64);
const MIPSN32: Arch = arch(Elf32, Big, EM_MIPS, MIPS_N32_FLAGS, mips_n32);
const MIPSN32EL: Arch = arch(Elf32, Little, EM_MIPS, MIPS_N32_FLAGS, mips_n32);
const PPC: Arch = arch(Elf32, Big, EM_PPC, 0, ppc32);
const PPC64: Arch = arch(Elf64, Big, EM_PPC64, EF_PPC64_ABI_V1, ppc64_elfv1);
const PPC64LE: Arch = arch(Elf64, Little, EM_PPC64, EF_PPC64_ABI_V2, ppc64_elfv2);
const S390X: Arch = arch(Elf64, Big, EM_S390, 0, s390x);
const SPARC: Arch = arch(Elf32, Big, EM_SPARC, 0, sparc32);
const SPARC32PLUS: Arch = arch(Elf32, Big, EM_SPARC32PLUS, EF_SPARC_32PLUS, sparc32);
const SPARC64: Arch = arch(Elf64, Big, EM_SPARCV9, 0, sparc64);
const ALPHA: Arch = arch(Elf64, Little, EM_ALPHA, 0, alpha);
const HPPA: Arch = arch(Elf32, Big, EM_PARISC, EFA_PARISC_1_1, hppa);
const M68K: Arch = arch(Elf32, Big, EM_68K, 0, m68k);
const SH4: Arch = arch(Elf32, Little, EM_SH, EF_SH4, sh4);
const SH4EB: Arch = arch(Elf32, Big, EM_SH, EF_SH4, sh4);
const OR1K: Arch = arch(Elf32, Big, EM_OPENRISC, 0, or1k);
const MICROBLAZE: Arch = arch(Elf32, Big, EM_MICROBLAZE, 0, microblaze);
const MICROBLAZEEL: Arch = arch(Elf32, Little, EM_MICROBLAZE, 0, microblaze);
const XTENSA: Arch = arch(Elf32, Little, EM_XTENSA, EF_XTENSA_XT, xtensa);
const XTENSAEB: Arch = arch(Elf32, Big, EM_XTENSA, EF_XTENSA_XT, xtensa);
const NIOS2: Arch = arch(Elf32, Little, EM_ALTERA_NIOS2, 0, nios2);
const CRIS: Arch = arch(Elf32, Little, EM_CRIS, EF_CRIS_VARIANT_COMMON_V10_V32, cris);
const HEXAGON: Arch = arch(Elf32, Little, EM_HEXAGON, EF_HEXAGON_MACH_V67, hexagon);

const fn target(system: &'static str, cpu: &'static str, arch: Arch) -> Target {
    Target { system, cpu, arch }
}

/// Nix system doubles, the qemu-user target for each, and the program.
///
/// `sparc-linux` runs on `sparc32plus`: NixOS's magic for it matches e_machine 18
/// (EM_SPARC32PLUS), which qemu-sparc (EM_SPARC only) refuses and qemu-sparc32plus accepts.
/// `sparcv8-linux` is the plain EM_SPARC program for qemu-sparc (`qemu-profiles/`); the code is
/// the same, V8 instructions only. `armeb-linux` is binfmtctl's name for big-endian ARM (BE8).
const TARGETS: [Target; 39] = [
    target("aarch64-linux", "aarch64", AARCH64),
    target("aarch64_be-linux", "aarch64_be", AARCH64_BE),
    target("armv6l-linux", "arm", ARM),
    target("armv7l-linux", "arm", ARM),
    target("armeb-linux", "armeb", ARM_BE8),
    target("i386-linux", "i386", I386),
    target("i486-linux", "i386", I386),
    target("i586-linux", "i386", I386),
    target("i686-linux", "i386", I386),
    target("x86_64-linux", "x86_64", X86_64),
    target("alpha-linux", "alpha", ALPHA),
    target("powerpc-linux", "ppc", PPC),
    target("powerpc64-linux", "ppc64", PPC64),
    target("powerpc64le-linux", "ppc64le", PPC64LE),
    target("mips-linux", "mips", MIPS),
    target("mipsel-linux", "mipsel", MIPSEL),
    target("mips64-linux", "mips64", MIPS64),
    target("mips64el-linux", "mips64el", MIPS64EL),
    target("mips64-linuxabin32", "mipsn32", MIPSN32),
    target("mips64el-linuxabin32", "mipsn32el", MIPSN32EL),
    target("riscv32-linux", "riscv32", RISCV32),
    target("riscv64-linux", "riscv64", RISCV64),
    target("loongarch64-linux", "loongarch64", LOONGARCH64),
    target("s390x-linux", "s390x", S390X),
    target("sparc-linux", "sparc32plus", SPARC32PLUS),
    target("sparcv8-linux", "sparc", SPARC),
    target("sparc64-linux", "sparc64", SPARC64),
    target("m68k-linux", "m68k", M68K),
    target("sh4-linux", "sh4", SH4),
    target("sh4eb-linux", "sh4eb", SH4EB),
    target("hppa-linux", "hppa", HPPA),
    target("or1k-linux", "or1k", OR1K),
    target("microblaze-linux", "microblaze", MICROBLAZE),
    target("microblazeel-linux", "microblazeel", MICROBLAZEEL),
    target("xtensa-linux", "xtensa", XTENSA),
    target("xtensaeb-linux", "xtensaeb", XTENSAEB),
    target("nios2-linux", "nios2", NIOS2),
    target("cris-linux", "cris", CRIS),
    target("hexagon-linux", "hexagon", HEXAGON),
];

const SYSTEMS: [&str; TARGETS.len()] = {
    let mut out = [""; TARGETS.len()];
    let mut i = 0;
    while i < TARGETS.len() {
        out[i] = TARGETS[i].system;
        i += 1;
    }
    out
};

// ---------------------------------------------------------------------------------------------
// Layout and the ELF writer
// ---------------------------------------------------------------------------------------------

/// Lays out and writes the probe for `arch`.
fn build(arch: &Arch) -> Vec<u8> {
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
fn headers_len(class: Class) -> u32 {
    u32::from(class.ehsize()) + u32::from(class.phentsize())
}

/// The ELF header fields that differ between probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Elf {
    class: Class,
    data: Endian,
    machine: u16,
    flags: u32,
}

use crate::elf::{Class, Endian, ET_EXEC, EV_CURRENT, PF_R, PF_X, PT_LOAD};

/// An ELF executable: header, one `PT_LOAD` covering the whole file at [`LOAD_ADDRESS`], zero
/// padding up to `body_offset`, then `body`.
fn write_elf(elf: Elf, entry: u32, body_offset: u32, body: &[u8]) -> Vec<u8> {
    let file_len = body_offset + len32(body);
    let mut out = Out {
        elf,
        bytes: Vec::with_capacity(usize::try_from(file_len).unwrap_or_default()),
    };
    // e_ident
    out.bytes.extend_from_slice(b"\x7fELF");
    out.bytes.push(match elf.class {
        Elf32 => 1,
        Elf64 => 2,
    });
    out.bytes.push(match elf.data {
        Little => 1,
        Big => 2,
    });
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

fn push32(bytes: &mut Vec<u8>, endian: Endian, v: u32) {
    bytes.extend_from_slice(&match endian {
        Little => v.to_le_bytes(),
        Big => v.to_be_bytes(),
    });
}

fn push64(bytes: &mut Vec<u8>, endian: Endian, v: u64) {
    bytes.extend_from_slice(&match endian {
        Little => v.to_le_bytes(),
        Big => v.to_be_bytes(),
    });
}

fn align_up(v: u32, to: u32) -> u32 {
    v.next_multiple_of(to)
}

/// The length of probe code or data: a few hundred bytes, so it always fits.
fn len32(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).expect("probe parts are a few hundred bytes")
}

/// A code buffer that knows its load address and byte orders.
struct Asm {
    origin: u32,
    code: Endian,
    data: Endian,
    bytes: Vec<u8>,
}

impl Asm {
    fn new(origin: u32, code: Endian, data: Endian) -> Self {
        Asm {
            origin,
            code,
            data,
            bytes: Vec::new(),
        }
    }

    /// The address of the next byte.
    fn here(&self) -> u32 {
        self.origin + len32(&self.bytes)
    }

    /// A 32-bit instruction word (or an instruction's 32-bit immediate), in code byte order.
    fn word(&mut self, w: u32) {
        push32(&mut self.bytes, self.code, w);
    }

    /// A 16-bit instruction parcel, in code byte order.
    fn half(&mut self, h: u16) {
        self.bytes.extend_from_slice(&match self.code {
            Little => h.to_le_bytes(),
            Big => h.to_be_bytes(),
        });
    }

    /// Instruction bytes in memory order (x86, s390x).
    fn raw(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
    }

    /// A 32-bit data word, in data byte order.
    fn data32(&mut self, w: u32) {
        push32(&mut self.bytes, self.data, w);
    }

    /// A 64-bit data word, in data byte order.
    fn data64(&mut self, w: u64) {
        push64(&mut self.bytes, self.data, w);
    }

    /// Replaces the 32-bit instruction at `at` (an address) with `w`.
    fn patch_word(&mut self, at: u32, w: u32) {
        let mut b = Vec::with_capacity(4);
        push32(&mut b, self.code, w);
        self.patch(at, &b);
    }

    /// Replaces the 16-bit instruction parcel at `at` (an address) with `h`.
    fn patch_half(&mut self, at: u32, h: u16) {
        let b = match self.code {
            Little => h.to_le_bytes(),
            Big => h.to_be_bytes(),
        };
        self.patch(at, &b);
    }

    fn patch(&mut self, at: u32, b: &[u8]) {
        let start = usize::try_from(at - self.origin).expect("patch inside the code");
        self.bytes[start..start + b.len()].copy_from_slice(b);
    }

    /// Pads with zero bytes to a multiple of `to` (only ever past the last instruction).
    fn align(&mut self, to: u32) {
        while self.here() % to != 0 {
            self.bytes.push(0);
        }
    }
}

/// Checks that an immediate fits its field; the layout is fixed, so this only fires on a bug
/// in this file, and the unit tests build every probe.
fn field(v: u32, bits: u32) -> u32 {
    assert!(v < (1 << bits), "immediate {v:#x} does not fit {bits} bits");
    v
}

/// [`field`] for an immediate inside a 16-bit instruction parcel (`bits` <= 16).
fn field16(v: u32, bits: u32) -> u16 {
    u16::try_from(field(v, bits)).expect("field() checked the width")
}

// ---------------------------------------------------------------------------------------------
// The programs. Each one: write(1, msg, LEN); exit(argv[0][0]).
// Syscall numbers are from each architecture's Linux syscall table; the asm-generic table
// (arm64, riscv, loongarch, or1k, nios2, hexagon) has write = 64, exit = 93.
// ---------------------------------------------------------------------------------------------

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

/// RISC-V I-type instruction.
fn rv_i(opcode: u32, rd: u32, funct3: u32, rs1: u32, imm12: u32) -> u32 {
    field(imm12, 12) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode
}

/// RISC-V `lui` / `addi` pair for an absolute address: `addi` sign-extends its 12 bits, so the
/// upper part is rounded.
fn rv_hi_lo(v: u32) -> (u32, u32) {
    let hi = v.wrapping_add(0x800) >> 12;
    (hi, v.wrapping_sub(hi << 12) & 0xfff)
}

fn riscv(a: &mut Asm, msg: u32, xlen64: bool) -> u32 {
    const ADDI: u32 = 0x13;
    const LOAD: u32 = 0x03;
    let (a0, a1, a2, a7, sp) = (10, 11, 12, 17, 2);
    let (hi, lo) = rv_hi_lo(msg);
    let entry = a.here();
    a.word(rv_i(ADDI, a0, 0, 0, 1)); // li a0, 1  ; stdout
    a.word(field(hi, 20) << 12 | a1 << 7 | 0x37); // lui a1, %hi(msg)
    a.word(rv_i(ADDI, a1, 0, a1, lo)); // addi a1, a1, %lo(msg)
    a.word(rv_i(ADDI, a2, 0, 0, LEN)); // li a2, LEN
    a.word(rv_i(ADDI, a7, 0, 0, 64)); // li a7, 64  ; __NR_write
    a.word(0x0000_0073); // ecall
    if xlen64 {
        a.word(rv_i(LOAD, a1, 3, sp, 8)); // ld a1, 8(sp)  ; argv[0]
    } else {
        a.word(rv_i(LOAD, a1, 2, sp, 4)); // lw a1, 4(sp)  ; argv[0]
    }
    a.word(rv_i(LOAD, a0, 4, a1, 0)); // lbu a0, 0(a1)
    a.word(rv_i(ADDI, a7, 0, 0, 93)); // li a7, 93  ; __NR_exit
    a.word(0x0000_0073); // ecall
    entry
}

/// RISC-V RV32I: `ecall`, number in a7, arguments a0-a2; sp -> argc at entry.
fn riscv32(a: &mut Asm, msg: u32) -> u32 {
    riscv(a, msg, false)
}

/// RISC-V RV64I, as [`riscv32`] with 8-byte pointers.
fn riscv64(a: &mut Asm, msg: u32) -> u32 {
    riscv(a, msg, true)
}

/// LoongArch `ori rd, rj, ui12`.
fn la_ori(rd: u32, rj: u32, ui12: u32) -> u32 {
    0x0380_0000 | field(ui12, 12) << 10 | rj << 5 | rd
}

/// LoongArch64: `syscall 0`, number in a7 ($r11), arguments a0-a2 ($r4-$r6); sp ($r3) -> argc.
fn loongarch64(a: &mut Asm, msg: u32) -> u32 {
    let (zero, sp, a0, a1, a2, a7) = (0, 3, 4, 5, 6, 11);
    let entry = a.here();
    a.word(la_ori(a0, zero, 1)); // li.w $a0, 1  ; stdout
    a.word(0x1400_0000 | field(msg >> 12, 20) << 5 | a1); // lu12i.w $a1, %abs_hi20(msg)
    a.word(la_ori(a1, a1, msg & 0xfff)); // ori $a1, $a1, %abs_lo12(msg)
    a.word(la_ori(a2, zero, LEN)); // li.w $a2, LEN
    a.word(la_ori(a7, zero, 64)); // li.w $a7, 64  ; __NR_write
    a.word(0x002b_0000); // syscall 0
    a.word(0x28c0_0000 | 8 << 10 | sp << 5 | a1); // ld.d $a1, $sp, 8 ; argv[0]
    a.word(0x2a00_0000 | a1 << 5 | a0); // ld.bu $a0, $a1, 0
    a.word(la_ori(a7, zero, 93)); // li.w $a7, 93  ; __NR_exit
    a.word(0x002b_0000); // syscall 0
    entry
}

/// MIPS I-type instruction.
fn mips_i(opcode: u32, rs: u32, rt: u32, imm16: u32) -> u32 {
    opcode << 26 | rs << 21 | rt << 16 | field(imm16, 16)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MipsAbi {
    O32,
    N32,
    N64,
}

/// MIPS, any ABI and byte order: `syscall`, number in v0 ($2), arguments $4-$6; sp ($29) ->
/// argc at entry. Each ABI has its own syscall table: o32 from 4000, n64 from 5000, n32 from
/// 6000.
fn mips(a: &mut Asm, msg: u32, abi: MipsAbi) -> u32 {
    const ADDIU: u32 = 0x09;
    let (zero, v0, a0, a1, a2, t, sp) = (0, 2, 4, 5, 6, 12, 29);
    let (write, exit) = match abi {
        MipsAbi::O32 => (4004, 4001),
        MipsAbi::N64 => (5001, 5058),
        MipsAbi::N32 => (6001, 6058),
    };
    let entry = a.here();
    a.word(mips_i(ADDIU, zero, a0, 1)); // li $4, 1  ; stdout
    a.word(mips_i(0x0f, zero, a1, msg >> 16)); // lui $5, %hi(msg)
    a.word(mips_i(0x0d, a1, a1, msg & 0xffff)); // ori $5, $5, %lo(msg)
    a.word(mips_i(ADDIU, zero, a2, LEN)); // li $6, LEN
    a.word(mips_i(ADDIU, zero, v0, write)); // li $2, __NR_write
    a.word(0x0000_000c); // syscall
    if abi == MipsAbi::N64 {
        a.word(mips_i(0x37, sp, t, 8)); // ld $12, 8($29)  ; argv[0]
    } else {
        a.word(mips_i(0x23, sp, t, 4)); // lw $12, 4($29)  ; argv[0]
    }
    a.word(mips_i(0x24, t, a0, 0)); // lbu $4, 0($12)
    a.word(mips_i(ADDIU, zero, v0, exit)); // li $2, __NR_exit
    a.word(0x0000_000c); // syscall
    entry
}

fn mips_o32(a: &mut Asm, msg: u32) -> u32 {
    mips(a, msg, MipsAbi::O32)
}

fn mips_n32(a: &mut Asm, msg: u32) -> u32 {
    mips(a, msg, MipsAbi::N32)
}

fn mips_n64(a: &mut Asm, msg: u32) -> u32 {
    mips(a, msg, MipsAbi::N64)
}

/// PowerPC D-form instruction.
fn ppc_d(opcode: u32, rt: u32, ra: u32, imm16: u32) -> u32 {
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

/// s390x: `svc <number>` (numbers below 256 go in the instruction), arguments r2-r4; r15 ->
/// argc at entry.
fn s390x(a: &mut Asm, msg: u32) -> u32 {
    let entry = a.here();
    a.raw(&[0xa7, 0x29, 0x00, 0x01]); // lghi %r2, 1  ; stdout
    a.half(0xc03f); // llilf %r3, msg
    a.word(msg);
    a.half(0xa749); // lghi %r4, LEN
    a.half(field16(LEN, 16));
    a.raw(&[0x0a, 0x04]); // svc 4  ; __NR_write
    a.raw(&[0xe3, 0x30, 0xf0, 0x08, 0x00, 0x04]); // lg %r3, 8(%r15) ; argv[0]
    a.raw(&[0xe3, 0x20, 0x30, 0x00, 0x00, 0x90]); // llgc %r2, 0(%r3)
    a.raw(&[0x0a, 0x01]); // svc 1  ; __NR_exit
    entry
}

/// SPARC format-3 instruction with a 13-bit immediate (`i` = 1).
fn sparc_f3i(op: u32, rd: u32, op3: u32, rs1: u32, simm13: u32) -> u32 {
    op << 30 | rd << 25 | op3 << 19 | rs1 << 14 | 1 << 13 | field(simm13, 13)
}

/// SPARC `or %g0, imm, rd` (`mov imm, rd`).
fn sparc_mov(rd: u32, imm: u32) -> u32 {
    sparc_f3i(2, rd, 0x02, 0, imm)
}

/// SPARC, 32-bit (V8 instructions, run as V8 or V8+) or 64-bit (V9): `ta`, number in g1, arguments o0-o2. At entry sp points
/// at a 16-word register save area, then argc; on V9 sp is biased by 2047.
fn sparc(a: &mut Asm, msg: u32, v9: bool) -> u32 {
    let (g1, o0, o1, o2, sp) = (1, 8, 9, 10, 14);
    // Trap 0x10 is the 32-bit Linux syscall trap, 0x6d the 64-bit one.
    let ta = 0x91d0_2000 | if v9 { 0x6d } else { 0x10 };
    let entry = a.here();
    a.word(sparc_mov(o0, 1)); // mov 1, %o0  ; stdout
    a.word(o1 << 25 | 0x4 << 22 | field(msg >> 10, 22)); // sethi %hi(msg), %o1
    a.word(sparc_f3i(2, o1, 0x02, o1, msg & 0x3ff)); // or %o1, %lo(msg), %o1
    a.word(sparc_mov(o2, LEN)); // mov LEN, %o2
    a.word(sparc_mov(g1, 4)); // mov 4, %g1  ; __NR_write
    a.word(ta); // ta 0x10 / ta 0x6d
    if v9 {
        a.word(sparc_f3i(3, o1, 0x0b, sp, 2047 + 16 * 8 + 8)); // ldx [%sp + 2183], %o1 ; argv[0]
    } else {
        a.word(sparc_f3i(3, o1, 0x00, sp, 16 * 4 + 4)); // ld [%sp + 68], %o1 ; argv[0]
    }
    a.word(sparc_f3i(3, o0, 0x01, o1, 0)); // ldub [%o1], %o0
    a.word(sparc_mov(g1, 1)); // mov 1, %g1  ; __NR_exit
    a.word(ta); // ta 0x10 / ta 0x6d
    entry
}

fn sparc32(a: &mut Asm, msg: u32) -> u32 {
    sparc(a, msg, false)
}

fn sparc64(a: &mut Asm, msg: u32) -> u32 {
    sparc(a, msg, true)
}

/// Alpha memory-format instruction (`lda`, `ldah`, loads).
fn alpha_mem(opcode: u32, ra: u32, rb: u32, disp16: u32) -> u32 {
    opcode << 26 | ra << 21 | rb << 16 | field(disp16, 16)
}

/// Alpha: `callsys`, number in v0 ($0), arguments a0-a2 ($16-$18); sp ($30) -> argc at entry.
/// Bytes are read with `ldq_u` + `extbl`, which every Alpha has (`ldbu` needs BWX, EV56+).
fn alpha(a: &mut Asm, msg: u32) -> u32 {
    const LDA: u32 = 0x08;
    let (v0, t0, t1, a0, a1, a2, sp, zero) = (0, 1, 2, 16, 17, 18, 30, 31);
    // lda sign-extends its 16 bits, so ldah takes the upper half rounded.
    let lo = msg & 0xffff;
    let hi = (msg >> 16) + (lo >> 15);
    let entry = a.here();
    a.word(alpha_mem(LDA, a0, zero, 1)); // lda $16, 1($31)  ; stdout
    a.word(alpha_mem(0x09, a1, zero, hi)); // ldah $17, msg@hi($31)
    a.word(alpha_mem(LDA, a1, a1, lo)); // lda $17, msg@lo($17)
    a.word(alpha_mem(LDA, a2, zero, LEN)); // lda $18, LEN($31)
    a.word(alpha_mem(LDA, v0, zero, 4)); // lda $0, 4($31)  ; __NR_write
    a.word(0x0000_0083); // callsys
    a.word(alpha_mem(0x29, t0, sp, 8)); // ldq $1, 8($30)  ; argv[0]
    a.word(alpha_mem(0x0b, t1, t0, 0)); // ldq_u $2, 0($1)
    a.word(0x12 << 26 | t1 << 21 | t0 << 16 | 0x06 << 5 | a0); // extbl $2, $1, $16
    a.word(alpha_mem(LDA, v0, zero, 1)); // lda $0, 1($31)  ; __NR_exit
    a.word(0x0000_0083); // callsys
    entry
}

/// PA-RISC `assemble_21`: the scrambled 21-bit immediate of `ldil`.
fn hppa_assemble_21(x: u32) -> u32 {
    let x = field(x, 21);
    ((x & 0x10_0000) >> 20)
        | ((x & 0x0f_fe00) >> 8)
        | ((x & 0x00_0180) << 7)
        | ((x & 0x00_007c) << 14)
        | ((x & 0x00_0003) << 12)
}

/// PA-RISC `ldo imm(rb), rt` for a non-negative imm: the 14-bit field keeps its sign in the
/// lowest bit.
fn hppa_ldo(rb: u32, rt: u32, imm: u32) -> u32 {
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

/// SuperH SH-4 (either byte order): `trapa`, number in r3, arguments r4-r6; r15 -> argc at
/// entry. The message address is a literal after the code, loaded pc-relative.
fn sh4(a: &mut Asm, msg: u32) -> u32 {
    let entry = a.here();
    a.half(0xe304); // mov #4, r3  ; __NR_write
    a.half(0xe401); // mov #1, r4  ; stdout
    let load = a.here();
    a.half(0); // mov.l @(literal, pc), r5  ; patched below
    a.half(0xe600 | field16(LEN, 7)); // mov #LEN, r6
    a.half(0xc313); // trapa #0x13  ; syscall, 3 arguments
    a.half(0x51f1); // mov.l @(4, r15), r1  ; argv[0]
    a.half(0x6410); // mov.b @r1, r4
    a.half(0x644c); // extu.b r4, r4
    a.half(0xe301); // mov #1, r3  ; __NR_exit
    a.half(0xc311); // trapa #0x11  ; syscall, 1 argument
    while a.here() % 4 != 0 {
        a.half(0x0009); // nop  ; align the literal
    }
    let literal = a.here();
    a.data32(msg); // .long msg

    // mov.l @(disp, pc), r5: address = (pc & ~3) + 4 + disp * 4.
    let disp = (literal - ((load & !3) + 4)) / 4;
    a.patch_half(load, 0xd500 | field16(disp, 8));
    entry
}

/// OpenRISC 1000 D-form (`l.addi`, `l.ori`, loads).
fn or1k_d(opcode: u32, rd: u32, ra: u32, imm16: u32) -> u32 {
    opcode << 26 | rd << 21 | ra << 16 | field(imm16, 16)
}

/// OpenRISC 1000: `l.sys 1`, number in r11, arguments r3-r5; r1 -> argc at entry.
fn or1k(a: &mut Asm, msg: u32) -> u32 {
    const ADDI: u32 = 0x27;
    let entry = a.here();
    a.word(or1k_d(ADDI, 3, 0, 1)); // l.addi r3, r0, 1  ; stdout
    a.word(0x06 << 26 | 4 << 21 | field(msg >> 16, 16)); // l.movhi r4, hi(msg)
    a.word(or1k_d(0x2a, 4, 4, msg & 0xffff)); // l.ori r4, r4, lo(msg)
    a.word(or1k_d(ADDI, 5, 0, LEN)); // l.addi r5, r0, LEN
    a.word(or1k_d(ADDI, 11, 0, 64)); // l.addi r11, r0, 64  ; __NR_write
    a.word(0x2000_0001); // l.sys 1
    a.word(or1k_d(0x21, 4, 1, 4)); // l.lwz r4, 4(r1)  ; argv[0]
    a.word(or1k_d(0x23, 3, 4, 0)); // l.lbz r3, 0(r4)
    a.word(or1k_d(ADDI, 11, 0, 93)); // l.addi r11, r0, 93  ; __NR_exit
    a.word(0x2000_0001); // l.sys 1
    entry
}

/// MicroBlaze type-B instruction.
fn mb_b(opcode: u32, rd: u32, ra: u32, imm16: u32) -> u32 {
    opcode << 26 | rd << 21 | ra << 16 | field(imm16, 16)
}

/// MicroBlaze (either byte order): `brki r14, 8`, number in r12, arguments r5-r7; r1 -> argc
/// at entry.
fn microblaze(a: &mut Asm, msg: u32) -> u32 {
    const ADDIK: u32 = 0x0c;
    let entry = a.here();
    a.word(mb_b(ADDIK, 5, 0, 1)); // addik r5, r0, 1  ; stdout
    a.word(mb_b(0x2c, 0, 0, msg >> 16)); // imm hi(msg)
    a.word(mb_b(ADDIK, 6, 0, msg & 0xffff)); // addik r6, r0, lo(msg)
    a.word(mb_b(ADDIK, 7, 0, LEN)); // addik r7, r0, LEN
    a.word(mb_b(ADDIK, 12, 0, 4)); // addik r12, r0, 4  ; __NR_write
    a.word(mb_b(0x2e, 14, 0x0c, 8)); // brki r14, 8
    a.word(mb_b(0x3a, 3, 1, 4)); // lwi r3, r1, 4  ; argv[0]
    a.word(mb_b(0x38, 5, 3, 0)); // lbui r5, r3, 0
    a.word(mb_b(ADDIK, 12, 0, 1)); // addik r12, r0, 1  ; __NR_exit
    a.word(mb_b(0x2e, 14, 0x0c, 8)); // brki r14, 8
    entry
}

/// Xtensa instruction from its fields, listed from bit 0 up as the little-endian layout has
/// them; a big-endian core stores the same fields in the opposite order, from the top bit
/// down (Xtensa ISA Reference Manual, "Instruction Formats").
fn xtensa_insn(a: &mut Asm, fields: &[(u32, u32)]) {
    let mut word = 0;
    let mut at = 0;
    for &(value, bits) in fields {
        let shift = match a.code {
            Little => at,
            Big => 24 - at - bits,
        };
        word |= field(value, bits) << shift;
        at += bits;
    }
    debug_assert_eq!(at, 24);
    match a.code {
        Little => a.raw(&word.to_le_bytes()[..3]),
        Big => a.raw(&word.to_be_bytes()[1..]),
    }
}

/// Xtensa RRI8 format: op0, t, s, r, imm8.
fn xt_rri8(a: &mut Asm, op0: u32, t: u32, s: u32, r: u32, imm8: u32) {
    xtensa_insn(a, &[(op0, 4), (t, 4), (s, 4), (r, 4), (imm8, 8)]);
}

/// Xtensa `movi at, imm12` (non-negative imm).
fn xt_movi(a: &mut Asm, t: u32, imm: u32) {
    let imm = field(imm, 11);
    xt_rri8(a, 0x2, t, imm >> 8, 0xa, imm & 0xff);
}

/// Xtensa `syscall` (RRR format, r = 5).
fn xt_syscall(a: &mut Asm) {
    xtensa_insn(a, &[(0, 4), (0, 4), (0, 4), (5, 4), (0, 4), (0, 4)]);
}

/// Xtensa (either byte order), call0 or windowed alike: `syscall`, number in a2, arguments a6,
/// a3, a4; a1 -> argc at entry. The message address is a literal placed before the entry,
/// where `l32r` (which only reaches backwards) finds it.
fn xtensa(a: &mut Asm, msg: u32) -> u32 {
    let literal = a.here();
    a.data32(msg); // .literal msg
    let entry = a.here();
    xt_movi(a, 2, 13); // movi a2, 13  ; __NR_write
    xt_movi(a, 6, 1); // movi a6, 1  ; stdout

    // l32r at, label: address = ((pc + 3) & ~3) + (imm16 | 0xffff0000) * 4.
    let base = (a.here() + 3) & !3;
    let imm16 = (literal.wrapping_sub(base) >> 2) & 0xffff;
    xtensa_insn(a, &[(0x1, 4), (3, 4), (imm16, 16)]); // l32r a3, msg literal
    xt_movi(a, 4, LEN); // movi a4, LEN
    xt_syscall(a); // syscall
    xt_rri8(a, 0x2, 3, 1, 0x2, 1); // l32i a3, a1, 4  ; argv[0]
    xt_rri8(a, 0x2, 6, 3, 0x0, 0); // l8ui a6, a3, 0
    xt_movi(a, 2, 118); // movi a2, 118  ; __NR_exit
    xt_syscall(a); // syscall
    entry
}

/// Nios II I-type instruction.
fn nios2_i(opcode: u32, ra: u32, rb: u32, imm16: u32) -> u32 {
    ra << 27 | rb << 22 | field(imm16, 16) << 6 | opcode
}

/// Nios II: `trap`, number in r2, arguments r4-r6; sp (r27) -> argc at entry.
fn nios2(a: &mut Asm, msg: u32) -> u32 {
    const ADDI: u32 = 0x04;
    const TRAP: u32 = 0x003b_683a;
    let entry = a.here();
    a.word(nios2_i(ADDI, 0, 4, 1)); // movi r4, 1  ; stdout
    a.word(nios2_i(0x34, 0, 5, msg >> 16)); // orhi r5, zero, %hi(msg)
    a.word(nios2_i(0x14, 5, 5, msg & 0xffff)); // ori r5, r5, %lo(msg)
    a.word(nios2_i(ADDI, 0, 6, LEN)); // movi r6, LEN
    a.word(nios2_i(ADDI, 0, 2, 64)); // movi r2, 64  ; __NR_write
    a.word(TRAP); // trap
    a.word(nios2_i(0x17, 27, 5, 4)); // ldw r5, 4(sp)  ; argv[0]
    a.word(nios2_i(0x03, 5, 4, 0)); // ldbu r4, 0(r5)
    a.word(nios2_i(ADDI, 0, 2, 93)); // movi r2, 93  ; __NR_exit
    a.word(TRAP); // trap
    entry
}

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

/// Hexagon packet parse bits: end of packet, or more instructions follow.
const HEX_END: u32 = 0b11 << 14;
const HEX_MORE: u32 = 0b01 << 14;

/// Hexagon `Rd = #s16` (non-negative here), as the last instruction of its packet.
fn hex_tfr(rd: u32, imm: u32) -> u32 {
    let imm = field(imm, 15);
    0x7800_0000 | (imm >> 14) << 22 | ((imm >> 9) & 0x1f) << 16 | HEX_END | (imm & 0x1ff) << 5 | rd
}

/// Hexagon: `trap0(#1)`, number in r6, arguments r0-r2; sp (r29) -> argc at entry. One
/// instruction per packet; the address uses a constant extender (`immext`), which carries the
/// upper 26 bits while the extended instruction keeps the low 6.
fn hexagon(a: &mut Asm, msg: u32) -> u32 {
    const TRAP0_1: u32 = 0x5400_c004;
    let ext = msg >> 6;
    let entry = a.here();
    a.word(hex_tfr(0, 1)); // { r0 = #1 }  ; stdout
    a.word((ext >> 14) << 16 | HEX_MORE | (ext & 0x3fff)); // { immext(#msg)
    a.word(hex_tfr(1, msg & 0x3f)); //   r1 = ##msg }
    a.word(hex_tfr(2, LEN)); // { r2 = #LEN }
    a.word(hex_tfr(6, 64)); // { r6 = #64 }  ; __NR_write
    a.word(TRAP0_1); // { trap0(#1) }
    a.word(0x919d_c021); // { r1 = memw(r29+#4) }  ; argv[0]
    a.word(0x9121_c000); // { r0 = memub(r1+#0) }
    a.word(hex_tfr(6, 93)); // { r6 = #93 }  ; __NR_exit
    a.word(TRAP0_1); // { trap0(#1) }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The ELF fields a probe is checked against, read back from its bytes.
    struct Parsed {
        class: u8,
        data: u8,
        e_type: u16,
        machine: u16,
        version: u32,
        entry: u64,
        phoff: u64,
        flags: u32,
        ehsize: u16,
        phentsize: u16,
        phnum: u16,
        p_type: u32,
        p_flags: u32,
        p_offset: u64,
        p_vaddr: u64,
        p_filesz: u64,
        p_memsz: u64,
    }

    fn parse(b: &[u8]) -> Parsed {
        assert_eq!(&b[..4], b"\x7fELF");
        let big = b[5] == 2;
        let wide = b[4] == 2;
        let rd = |at: usize, n: usize| -> u64 {
            let s = &b[at..at + n];
            let mut v = 0u64;
            for i in 0..n {
                let byte = if big { s[i] } else { s[n - 1 - i] };
                v = v << 8 | u64::from(byte);
            }
            v
        };
        let r16 = |at| u16::try_from(rd(at, 2)).unwrap();
        let r32 = |at| u32::try_from(rd(at, 4)).unwrap();
        let w = if wide { 8 } else { 4 };
        let entry = rd(24, w);
        let phoff = rd(24 + w, w);
        let after_addrs = 24 + 3 * w;
        let ph = usize::try_from(phoff).unwrap();
        let (p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz) = if wide {
            (
                r32(ph),
                r32(ph + 4),
                rd(ph + 8, 8),
                rd(ph + 16, 8),
                rd(ph + 32, 8),
                rd(ph + 40, 8),
            )
        } else {
            (
                r32(ph),
                r32(ph + 24),
                rd(ph + 4, 4),
                rd(ph + 8, 4),
                rd(ph + 16, 4),
                rd(ph + 20, 4),
            )
        };
        Parsed {
            class: b[4],
            data: b[5],
            e_type: r16(16),
            machine: r16(18),
            version: r32(20),
            entry,
            phoff,
            flags: r32(after_addrs),
            ehsize: r16(after_addrs + 4),
            phentsize: r16(after_addrs + 6),
            phnum: r16(after_addrs + 8),
            p_type,
            p_flags,
            p_offset,
            p_vaddr,
            p_filesz,
            p_memsz,
        }
    }

    #[test]
    fn every_system_has_a_probe_with_its_own_name() {
        for system in systems() {
            let probe = for_system(system).unwrap();
            assert_eq!(probe.system, *system);
            assert!(probe.reads_argv0, "{system}");
        }
        assert!(for_system("x86_64-darwin").is_none());
        assert!(for_system("").is_none());
    }

    #[test]
    fn systems_are_unique_and_cover_at_least_25_cpus() {
        let unique: BTreeSet<_> = systems().iter().collect();
        assert_eq!(unique.len(), systems().len(), "a system is listed twice");
        let cpus: BTreeSet<_> = TARGETS.iter().map(|t| t.cpu).collect();
        assert!(cpus.len() >= 25, "only {} cpus", cpus.len());
    }

    #[test]
    fn aliases_share_their_bytes() {
        let bytes = |s| for_system(s).unwrap().bytes;
        assert_eq!(bytes("armv6l-linux"), bytes("armv7l-linux"));
        for s in ["i386-linux", "i486-linux", "i586-linux"] {
            assert_eq!(bytes(s), bytes("i686-linux"));
        }
    }

    #[test]
    fn every_probe_is_a_well_formed_static_elf() {
        for t in &TARGETS {
            let bytes = for_system(t.system).unwrap().bytes;
            let p = parse(&bytes);
            let elf = t.arch.elf;
            let len = u64::try_from(bytes.len()).unwrap();
            assert_eq!(
                p.class,
                if elf.class == Elf64 { 2 } else { 1 },
                "{}",
                t.system
            );
            assert_eq!(p.data, if elf.data == Big { 2 } else { 1 }, "{}", t.system);
            assert_eq!(bytes[6], 1, "EI_VERSION {}", t.system);
            assert_eq!(bytes[7], 0, "EI_OSABI {}", t.system);
            assert_eq!(p.e_type, ET_EXEC, "{}", t.system);
            assert_eq!(p.machine, elf.machine, "{}", t.system);
            assert_eq!(p.version, 1, "{}", t.system);
            assert_eq!(p.flags, elf.flags, "{}", t.system);
            assert_eq!(p.ehsize, elf.class.ehsize(), "{}", t.system);
            assert_eq!(p.phoff, u64::from(elf.class.ehsize()), "{}", t.system);
            assert_eq!(p.phentsize, elf.class.phentsize(), "{}", t.system);
            assert_eq!(p.phnum, 1, "{}", t.system);
            assert_eq!(p.p_type, PT_LOAD, "{}", t.system);
            assert_eq!(p.p_flags, PF_R | PF_X, "{}", t.system);
            assert_eq!(p.p_offset, 0, "{}", t.system);
            assert_eq!(p.p_vaddr, u64::from(LOAD_ADDRESS), "{}", t.system);
            assert_eq!(p.p_filesz, len, "{}", t.system);
            assert_eq!(p.p_memsz, len, "{}", t.system);
            let headers = u64::from(LOAD_ADDRESS + headers_len(elf.class));
            assert!(
                p.entry >= headers && p.entry < u64::from(LOAD_ADDRESS) + len,
                "{}: entry {:#x} outside the code",
                t.system,
                p.entry
            );
            assert!(bytes.ends_with(MARKER), "{}", t.system);
            assert!(bytes.len() < 512, "{}: {} bytes", t.system, bytes.len());
        }
    }

    #[test]
    fn the_code_loads_the_message_address() {
        // Every probe carries the absolute message address somewhere in its code (as an
        // immediate or a literal), except where it is split across instruction fields.
        for t in [
            &X86_64, &I386, &M68K, &S390X, &CRIS, &ARM, &ARM_BE8, &SH4, &XTENSAEB,
        ] {
            let bytes = build(t);
            let msg = LOAD_ADDRESS + len32(&bytes) - LEN;
            let le = msg.to_le_bytes();
            let be = msg.to_be_bytes();
            assert!(
                bytes.windows(4).any(|w| w == le || w == be),
                "{:?}: no {msg:#x}",
                t.elf
            );
        }
    }

    #[test]
    fn ppc64_elfv1_entry_is_a_descriptor_for_the_code() {
        let bytes = for_system("powerpc64-linux").unwrap().bytes;
        let p = parse(&bytes);
        let at = usize::try_from(p.entry - u64::from(LOAD_ADDRESS)).unwrap();
        let code = u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
        assert_eq!(code, p.entry + 24);
        assert_eq!(&bytes[at + 8..at + 24], &[0; 16], "TOC and environment");
    }

    // Encodings of address-dependent instructions, as GNU as / llvm-mc write them for the
    // address 0x10123 (and alpha's lower half with its sign bit set).
    #[test]
    fn split_immediates_match_the_assemblers() {
        assert_eq!(rv_hi_lo(0x10123), (0x10, 0x123));
        assert_eq!(rv_hi_lo(0x10923), (0x11, 0x923)); // addi -1757
        assert_eq!(
            0x08 << 26 | 25 << 21 | hppa_assemble_21(0x10123 >> 11),
            0x2328_0000
        );
        assert_eq!(hppa_ldo(25, 25, 0x123), 0x3739_0246);
        assert_eq!(hppa_ldo(0, 24, 16), 0x3418_0020);
        assert_eq!(hex_tfr(1, 0x10123 & 0x3f), 0x7800_c461);
        assert_eq!(hex_tfr(6, 93), 0x7800_cba6);
        assert_eq!(la_ori(5, 5, 0x123), 0x0384_8ca5);
        assert_eq!(sparc_f3i(2, 9, 0x02, 9, 0x123), 0x9212_6123);
        assert_eq!(sparc_f3i(3, 9, 0x0b, 14, 2183), 0xd25b_a887);
        assert_eq!(ppc_d(58, 4, 1, 8), 0xe881_0008);
        assert_eq!(mips_i(0x37, 29, 12, 8), 0xdfac_0008);
        assert_eq!(alpha_mem(0x0b, 2, 1, 0), 0x2c41_0000);
    }

    #[test]
    fn xtensa_fields_reverse_for_big_endian() {
        let mut le = Asm::new(0, Little, Little);
        xt_movi(&mut le, 2, 13);
        xt_syscall(&mut le);
        assert_eq!(le.bytes, [0x22, 0xa0, 0x0d, 0x00, 0x50, 0x00]);
        let mut be = Asm::new(0, Big, Big);
        xt_movi(&mut be, 2, 13);
        xt_syscall(&mut be);
        assert_eq!(be.bytes, [0x22, 0x0a, 0x0d, 0x00, 0x05, 0x00]);
    }

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
