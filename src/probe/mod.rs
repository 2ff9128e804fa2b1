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
//! maps the whole file read+execute at 64 KiB, the code (entry right after the headers,
//! except where the ABI wants data first: xtensa's literal, ppc64 ELFv1's function descriptor),
//! then the message. The code learns the message's address from the layout, never from a
//! hand-counted offset.
//!
//! Each program does `write(1, msg, LEN); exit(argv[0][0])`. Syscall numbers are from each
//! architecture's Linux syscall table; the asm-generic table (arm64, riscv, loongarch, or1k,
//! nios2, hexagon) has write = 64, exit = 93.
//!
//! Which program a system gets is decided by its profile's `cpu` (qemu-profiles/, the qemu-user
//! target that runs it): `ARCHES` maps each cpu to its program, and the systems come from the
//! profiles, not from a table here. `writer.rs` holds the layout and the ELF writer, `asm.rs`
//! the code buffer, and one file per ISA family its encoders and ELF header fields.

use std::sync::OnceLock;

use crate::elf::{Class, Endian};
use crate::model::profile;
use asm::Asm;
use writer::{build, Elf};

mod alpha;
mod arm;
mod asm;
mod cris;
mod hexagon;
mod hppa;
mod loongarch;
mod m68k;
mod microblaze;
mod mips;
mod nios2;
mod openrisc;
mod powerpc;
#[cfg(test)]
mod readback;
mod riscv;
mod s390x;
mod sparc;
mod superh;
mod writer;
mod x86;
mod xtensa;

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

/// The probe for a Nix system double (e.g. "riscv64-linux") of a built-in profile, or None
/// when there is none.
pub fn for_system(system: &str) -> Option<Probe> {
    let (system, cpu) = profile::builtin_cpus().find(|(s, _)| *s == system)?;
    Some(Probe {
        system,
        cpu,
        reads_argv0: true,
        bytes: build(&arch_for(cpu)?),
    })
}

/// Every system a probe exists for: the built-in profiles whose cpu has a program, in the
/// order of `ARCHES` (then of the profiles' files), which the measured native list follows.
pub fn systems() -> &'static [&'static str] {
    static SYSTEMS: OnceLock<Vec<&'static str>> = OnceLock::new();
    SYSTEMS.get_or_init(|| {
        ARCHES
            .iter()
            .flat_map(|(cpu, _)| {
                profile::builtin_cpus()
                    .filter(move |(_, c)| c == cpu)
                    .map(|(system, _)| system)
            })
            .collect()
    })
}

/// The program for a qemu-user cpu.
fn arch_for(cpu: &str) -> Option<Arch> {
    ARCHES.iter().find(|(c, _)| *c == cpu).map(|(_, a)| *a)
}

/// The message length, as the code loads it into a register.
const LEN: u32 = 16;
const _: () = assert!(MARKER.len() == LEN as usize);

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

/// The program of each qemu-user cpu (a profile's `cpu`, `qemu-<cpu>-static`).
///
/// `sparc-linux` runs on `sparc32plus`: NixOS's magic for it matches e_machine 18
/// (EM_SPARC32PLUS), which qemu-sparc (EM_SPARC only) refuses and qemu-sparc32plus accepts.
/// `sparcv8-linux` is the plain EM_SPARC program for qemu-sparc; the code is the same, V8
/// instructions only. `armeb` is big-endian ARM (BE8).
const ARCHES: [(&str, Arch); 35] = [
    ("aarch64", arm::AARCH64),
    ("aarch64_be", arm::AARCH64_BE),
    ("arm", arm::ARM),
    ("armeb", arm::ARM_BE8),
    ("i386", x86::I386),
    ("x86_64", x86::X86_64),
    ("alpha", alpha::ALPHA),
    ("ppc", powerpc::PPC),
    ("ppc64", powerpc::PPC64),
    ("ppc64le", powerpc::PPC64LE),
    ("mips", mips::MIPS),
    ("mipsel", mips::MIPSEL),
    ("mips64", mips::MIPS64),
    ("mips64el", mips::MIPS64EL),
    ("mipsn32", mips::MIPSN32),
    ("mipsn32el", mips::MIPSN32EL),
    ("riscv32", riscv::RISCV32),
    ("riscv64", riscv::RISCV64),
    ("loongarch64", loongarch::LOONGARCH64),
    ("s390x", s390x::S390X),
    ("sparc32plus", sparc::SPARC32PLUS),
    ("sparc", sparc::SPARC),
    ("sparc64", sparc::SPARC64),
    ("m68k", m68k::M68K),
    ("sh4", superh::SH4),
    ("sh4eb", superh::SH4EB),
    ("hppa", hppa::HPPA),
    ("or1k", openrisc::OR1K),
    ("microblaze", microblaze::MICROBLAZE),
    ("microblazeel", microblaze::MICROBLAZEEL),
    ("xtensa", xtensa::XTENSA),
    ("xtensaeb", xtensa::XTENSAEB),
    ("nios2", nios2::NIOS2),
    ("cris", cris::CRIS),
    ("hexagon", hexagon::HEXAGON),
];

#[cfg(test)]
mod tests {
    use super::asm::len32;
    use super::readback::parse;
    use super::writer::{headers_len, LOAD_ADDRESS};
    use super::*;
    use crate::elf::Class::Elf64;
    use crate::elf::Endian::Big;
    use crate::elf::{ET_EXEC, PF_R, PF_X, PT_LOAD};
    use std::collections::BTreeSet;

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
        let cpus: BTreeSet<_> = ARCHES.iter().map(|(cpu, _)| cpu).collect();
        assert_eq!(cpus.len(), ARCHES.len(), "a cpu is listed twice");
        assert!(cpus.len() >= 25, "only {} cpus", cpus.len());
    }

    /// The systems, in the order they had when this module kept its own table of them (the
    /// measured native list, and so `nix-config --systems`, follows this order).
    #[test]
    fn systems_keep_their_order() {
        let expected = [
            "aarch64-linux",
            "aarch64_be-linux",
            "armv6l-linux",
            "armv7l-linux",
            "armeb-linux",
            "i386-linux",
            "i486-linux",
            "i586-linux",
            "i686-linux",
            "x86_64-linux",
            "alpha-linux",
            "powerpc-linux",
            "powerpc64-linux",
            "powerpc64le-linux",
            "mips-linux",
            "mipsel-linux",
            "mips64-linux",
            "mips64el-linux",
            "mips64-linuxabin32",
            "mips64el-linuxabin32",
            "riscv32-linux",
            "riscv64-linux",
            "loongarch64-linux",
            "s390x-linux",
            "sparc-linux",
            "sparcv8-linux",
            "sparc64-linux",
            "m68k-linux",
            "sh4-linux",
            "sh4eb-linux",
            "hppa-linux",
            "or1k-linux",
            "microblaze-linux",
            "microblazeel-linux",
            "xtensa-linux",
            "xtensaeb-linux",
            "nios2-linux",
            "cris-linux",
            "hexagon-linux",
        ];
        assert_eq!(systems(), expected);
    }

    #[test]
    fn every_profile_cpu_has_a_program() {
        for (system, cpu) in profile::builtin_cpus() {
            assert!(
                arch_for(cpu).is_some(),
                "{system}: no program for cpu {cpu}"
            );
        }
        for (cpu, _) in &ARCHES {
            assert!(
                profile::builtin_cpus().any(|(_, c)| c == *cpu),
                "no profile runs on cpu {cpu}"
            );
        }
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
        for system in systems() {
            let probe = for_system(system).unwrap();
            let bytes = probe.bytes;
            let p = parse(&bytes);
            let elf = arch_for(probe.cpu).unwrap().elf;
            let len = u64::try_from(bytes.len()).unwrap();
            assert_eq!(p.class, if elf.class == Elf64 { 2 } else { 1 }, "{system}");
            assert_eq!(p.data, if elf.data == Big { 2 } else { 1 }, "{system}");
            assert_eq!(bytes[6], 1, "EI_VERSION {system}");
            assert_eq!(bytes[7], 0, "EI_OSABI {system}");
            assert_eq!(p.e_type, ET_EXEC, "{system}");
            assert_eq!(p.machine, elf.machine, "{system}");
            assert_eq!(p.version, 1, "{system}");
            assert_eq!(p.flags, elf.flags, "{system}");
            assert_eq!(p.ehsize, elf.class.ehsize(), "{system}");
            assert_eq!(p.phoff, u64::from(elf.class.ehsize()), "{system}");
            assert_eq!(p.phentsize, elf.class.phentsize(), "{system}");
            assert_eq!(p.phnum, 1, "{system}");
            assert_eq!(p.p_type, PT_LOAD, "{system}");
            assert_eq!(p.p_flags, PF_R | PF_X, "{system}");
            assert_eq!(p.p_offset, 0, "{system}");
            assert_eq!(p.p_vaddr, u64::from(LOAD_ADDRESS), "{system}");
            assert_eq!(p.p_filesz, len, "{system}");
            assert_eq!(p.p_memsz, len, "{system}");
            let headers = u64::from(LOAD_ADDRESS + headers_len(elf.class));
            assert!(
                p.entry >= headers && p.entry < u64::from(LOAD_ADDRESS) + len,
                "{system}: entry {:#x} outside the code",
                p.entry
            );
            assert!(bytes.ends_with(MARKER), "{system}");
            assert!(bytes.len() < 512, "{system}: {} bytes", bytes.len());
        }
    }

    #[test]
    fn the_code_loads_the_message_address() {
        // Every probe carries the absolute message address somewhere in its code (as an
        // immediate or a literal), except where it is split across instruction fields.
        for t in [
            &x86::X86_64,
            &x86::I386,
            &m68k::M68K,
            &s390x::S390X,
            &cris::CRIS,
            &arm::ARM,
            &arm::ARM_BE8,
            &superh::SH4,
            &xtensa::XTENSAEB,
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
    fn every_probe_is_accepted_by_the_reader() {
        for system in systems() {
            let probe = for_system(system).unwrap();
            let elf = arch_for(probe.cpu).unwrap().elf;
            let info = crate::elf::parse(&probe.bytes).unwrap_or_else(|e| panic!("{system}: {e}"));
            assert_eq!(
                (
                    info.class,
                    info.endian,
                    info.machine,
                    info.flags,
                    info.e_type
                ),
                (elf.class, elf.data, elf.machine, elf.flags, ET_EXEC),
                "{system}"
            );
            assert!(info.is_static() && !info.has_dynamic, "{system}");
        }
    }

    // Encodings of address-dependent instructions, as GNU as / llvm-mc write them for the
    // address 0x10123 (and alpha's lower half with its sign bit set).
    #[test]
    fn split_immediates_match_the_assemblers() {
        assert_eq!(riscv::rv_hi_lo(0x10123), (0x10, 0x123));
        assert_eq!(riscv::rv_hi_lo(0x10923), (0x11, 0x923)); // addi -1757
        assert_eq!(
            0x08 << 26 | 25 << 21 | hppa::hppa_assemble_21(0x10123 >> 11),
            0x2328_0000
        );
        assert_eq!(hppa::hppa_ldo(25, 25, 0x123), 0x3739_0246);
        assert_eq!(hppa::hppa_ldo(0, 24, 16), 0x3418_0020);
        assert_eq!(hexagon::hex_tfr(1, 0x10123 & 0x3f), 0x7800_c461);
        assert_eq!(hexagon::hex_tfr(6, 93), 0x7800_cba6);
        assert_eq!(loongarch::la_ori(5, 5, 0x123), 0x0384_8ca5);
        assert_eq!(sparc::sparc_f3i(2, 9, 0x02, 9, 0x123), 0x9212_6123);
        assert_eq!(sparc::sparc_f3i(3, 9, 0x0b, 14, 2183), 0xd25b_a887);
        assert_eq!(powerpc::ppc_d(58, 4, 1, 8), 0xe881_0008);
        assert_eq!(mips::mips_i(0x37, 29, 12, 8), 0xdfac_0008);
        assert_eq!(alpha::alpha_mem(0x0b, 2, 1, 0), 0x2c41_0000);
    }
}
