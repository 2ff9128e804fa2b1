//! The ELF constants and small types binfmtctl uses: identification bytes, header offsets,
//! file and segment types, `e_machine` values and the `e_flags` the probes carry. The one home
//! of these numbers: the reader, the probes, `run` and the tests take them from here.
//!
//! Values are from the System V gABI and glibc's `<elf.h>` (names as there).

/// `ELFMAG`: the first four bytes of every ELF file.
pub const ELFMAG: &[u8; 4] = b"\x7fELF";

// e_ident indexes.
/// `EI_CLASS`: the file's word size, [`ELFCLASS32`] or [`ELFCLASS64`].
pub const EI_CLASS: usize = 4;
/// `EI_DATA`: the file's byte order, [`ELFDATA2LSB`] or [`ELFDATA2MSB`].
pub const EI_DATA: usize = 5;
/// `EI_VERSION`: [`EV_CURRENT`].
pub const EI_VERSION: usize = 6;
/// `EI_OSABI`: the target ABI (0 = System V).
pub const EI_OSABI: usize = 7;

pub const ELFCLASS32: u8 = 1;
pub const ELFCLASS64: u8 = 2;
pub const ELFDATA2LSB: u8 = 1;
pub const ELFDATA2MSB: u8 = 2;

/// Offset of `e_type` (2 bytes, right after the 16 bytes of `e_ident`), the same in both classes.
pub const E_TYPE: usize = 16;
/// Offset of `e_machine` (2 bytes), the same in both classes.
pub const E_MACHINE: usize = 18;

// e_type values.
pub const ET_REL: u16 = 1;
pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
pub const ET_CORE: u16 = 4;

/// The kinds of executable a binfmt_misc entry may accept, as (e_type, what to call them):
/// an entry whose mask keeps all of e_type accepts only one of them.
pub const PROGRAM_KINDS: [(u16, &str); 2] =
    [(ET_EXEC, "non-PIE (ET_EXEC)"), (ET_DYN, "PIE (ET_DYN)")];

/// `e_version`/`EI_VERSION`: the only ELF version.
pub const EV_CURRENT: u8 = 1;

// Program header types and flags.
pub const PT_LOAD: u32 = 1;
pub const PT_DYNAMIC: u32 = 2;
pub const PT_INTERP: u32 = 3;
pub const PT_NOTE: u32 = 4;
pub const PF_X: u32 = 1;
pub const PF_R: u32 = 4;

// e_machine values: qemu-user's targets and a few more.
pub const EM_SPARC: u16 = 2;
pub const EM_386: u16 = 3;
pub const EM_68K: u16 = 4;
pub const EM_IAMCU: u16 = 6;
pub const EM_MIPS: u16 = 8;
pub const EM_MIPS_RS3_LE: u16 = 10;
pub const EM_PARISC: u16 = 15;
pub const EM_SPARC32PLUS: u16 = 18;
pub const EM_PPC: u16 = 20;
pub const EM_PPC64: u16 = 21;
pub const EM_S390: u16 = 22;
pub const EM_ARM: u16 = 40;
pub const EM_SH: u16 = 42;
pub const EM_SPARCV9: u16 = 43;
pub const EM_IA_64: u16 = 50;
pub const EM_X86_64: u16 = 62;
pub const EM_CRIS: u16 = 76;
pub const EM_OPENRISC: u16 = 92;
pub const EM_XTENSA: u16 = 94;
pub const EM_ALTERA_NIOS2: u16 = 113;
pub const EM_HEXAGON: u16 = 164;
pub const EM_AARCH64: u16 = 183;
pub const EM_MICROBLAZE: u16 = 189;
pub const EM_RISCV: u16 = 243;
pub const EM_BPF: u16 = 247;
pub const EM_LOONGARCH: u16 = 258;
pub const EM_ALPHA: u16 = 0x9026;
/// MicroBlaze's pre-standard number, still matched by qemu's binfmt table.
pub const EM_MICROBLAZE_OLD: u16 = 0xbaab;

/// Machine names for messages, by `e_machine`.
const MACHINES: [(u16, &str); 28] = [
    (EM_SPARC, "SPARC"),
    (EM_386, "x86"),
    (EM_68K, "m68k"),
    (EM_IAMCU, "Intel MCU"),
    (EM_MIPS, "MIPS"),
    (EM_MIPS_RS3_LE, "MIPS RS3000 LE"),
    (EM_PARISC, "PA-RISC"),
    (EM_SPARC32PLUS, "SPARC32PLUS"),
    (EM_PPC, "PowerPC"),
    (EM_PPC64, "PowerPC64"),
    (EM_S390, "S/390"),
    (EM_ARM, "ARM"),
    (EM_SH, "SuperH"),
    (EM_SPARCV9, "SPARC V9"),
    (EM_IA_64, "IA-64"),
    (EM_X86_64, "x86-64"),
    (EM_CRIS, "CRIS"),
    (EM_OPENRISC, "OpenRISC"),
    (EM_XTENSA, "Xtensa"),
    (EM_ALTERA_NIOS2, "Nios II"),
    (EM_HEXAGON, "Hexagon"),
    (EM_AARCH64, "AArch64"),
    (EM_MICROBLAZE, "MicroBlaze"),
    (EM_RISCV, "RISC-V"),
    (EM_BPF, "BPF"),
    (EM_LOONGARCH, "LoongArch"),
    (EM_ALPHA, "Alpha"),
    (EM_MICROBLAZE_OLD, "MicroBlaze (old)"),
];

/// Known machine names for messages; None for unknown.
pub fn machine_name(machine: u16) -> Option<&'static str> {
    MACHINES
        .iter()
        .find(|(m, _)| *m == machine)
        .map(|(_, name)| *name)
}

// e_flags, where an architecture's programs want them (the probes write these).
/// ARM EABI version 5.
pub const EF_ARM_EABI5: u32 = 0x0500_0000;
/// ARM BE8: big-endian data, little-endian instructions (the only big-endian mode of ARMv7).
pub const EF_ARM_BE8: u32 = 0x0080_0000;
/// MIPS: `.set noreorder` code, o32 ABI, MIPS32r2 / MIPS64r2 ISA, n32 ABI.
pub const EF_MIPS_NOREORDER: u32 = 0x1;
pub const EF_MIPS_ABI_O32: u32 = 0x1000;
pub const EF_MIPS_ARCH_32R2: u32 = 0x7000_0000;
pub const EF_MIPS_ARCH_64R2: u32 = 0x8000_0000;
pub const EF_MIPS_ABI2: u32 = 0x20;
/// ppc64 ELF ABI version (e_flags & 3): 1 = ELFv1 (entry is a function descriptor), 2 = ELFv2.
pub const EF_PPC64_ABI_V1: u32 = 1;
pub const EF_PPC64_ABI_V2: u32 = 2;
/// LoongArch: LP64D ABI, object ABI v1.
pub const EF_LOONGARCH_LP64D_V1: u32 = 0x43;
/// SPARC V8+ (32-bit code allowed to use V9 instructions).
pub const EF_SPARC_32PLUS: u32 = 0x100;
/// PA-RISC 1.1.
pub const EFA_PARISC_1_1: u32 = 0x210;
/// SuperH SH-4.
pub const EF_SH4: u32 = 0x9;
/// Xtensa: relaxable instructions and literals (what GNU as writes).
pub const EF_XTENSA_XT: u32 = 0x300;
/// CRIS: code valid on both v10 and v32 (qemu's default CRIS cpu is v32).
pub const EF_CRIS_VARIANT_COMMON_V10_V32: u32 = 0x4;
/// Hexagon V67, the core qemu-hexagon emulates.
pub const EF_HEXAGON_MACH_V67: u32 = 0x67;

/// ELF file class (`EI_CLASS`): the word size of the file's structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Elf32,
    Elf64,
}

impl Class {
    /// The class of an `EI_CLASS` byte; None for any other value.
    pub fn from_ident(byte: u8) -> Option<Class> {
        match byte {
            ELFCLASS32 => Some(Class::Elf32),
            ELFCLASS64 => Some(Class::Elf64),
            _ => None,
        }
    }

    /// The `EI_CLASS` byte.
    pub fn ident(self) -> u8 {
        match self {
            Class::Elf32 => ELFCLASS32,
            Class::Elf64 => ELFCLASS64,
        }
    }

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

impl Endian {
    /// The byte order of an `EI_DATA` byte; None for any other value.
    pub fn from_ident(byte: u8) -> Option<Endian> {
        match byte {
            ELFDATA2LSB => Some(Endian::Little),
            ELFDATA2MSB => Some(Endian::Big),
            _ => None,
        }
    }

    /// The `EI_DATA` byte.
    pub fn ident(self) -> u8 {
        match self {
            Endian::Little => ELFDATA2LSB,
            Endian::Big => ELFDATA2MSB,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_machines() {
        // Literal numbers on purpose: the table is checked against the gABI values, not
        // against the constants it is written with.
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

    #[test]
    fn machine_names_are_unique() {
        for (i, (m, _)) in MACHINES.iter().enumerate() {
            assert!(
                MACHINES[..i].iter().all(|(other, _)| other != m),
                "{m:#x} twice"
            );
        }
    }

    #[test]
    fn ident_bytes_round_trip() {
        for class in [Class::Elf32, Class::Elf64] {
            assert_eq!(Class::from_ident(class.ident()), Some(class));
        }
        for endian in [Endian::Little, Endian::Big] {
            assert_eq!(Endian::from_ident(endian.ident()), Some(endian));
        }
        assert_eq!((Class::Elf32.ident(), Class::Elf64.ident()), (1, 2));
        assert_eq!((Endian::Little.ident(), Endian::Big.ident()), (1, 2));
        for bad in [0, 3, 0xff] {
            assert_eq!(Class::from_ident(bad), None);
            assert_eq!(Endian::from_ident(bad), None);
        }
    }
}
