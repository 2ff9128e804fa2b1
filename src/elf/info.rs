//! What a file says about itself ([`ElfInfo`]), how to name it for people, and the header
//! edits that turn one kind of program into another for magic matching.

use std::path::PathBuf;

use super::consts::{
    machine_name, Class, Endian, EI_DATA, ELFDATA2MSB, ELFMAG, ET_CORE, ET_DYN, ET_EXEC, ET_REL,
    E_TYPE,
};

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

/// A copy of an ELF header with `e_type` (bytes 16-17, in the byte order `EI_DATA` names) set
/// to the given value; None when `header` is not that much of an ELF header.
pub fn with_e_type(header: &[u8], e_type: u16) -> Option<Vec<u8>> {
    if header.len() < E_TYPE + 2 || !header.starts_with(ELFMAG) {
        return None;
    }
    let mut out = header.to_vec();
    out[E_TYPE..E_TYPE + 2].copy_from_slice(&if header[EI_DATA] == ELFDATA2MSB {
        e_type.to_be_bytes()
    } else {
        e_type.to_le_bytes()
    });
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::consts::{EM_X86_64, PT_DYNAMIC, PT_INTERP};
    use super::super::parse;
    use super::super::testfile::Spec;
    use super::*;

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
    fn sets_e_type_in_the_headers_byte_order() {
        let mut le = vec![0; 20];
        le[..4].copy_from_slice(b"\x7fELF");
        le[5] = 1;
        let mut be = le.clone();
        be[5] = 2;
        assert_eq!(with_e_type(&le, ET_DYN).unwrap()[16..18], [3, 0]);
        assert_eq!(with_e_type(&be, ET_DYN).unwrap()[16..18], [0, 3]);
        assert_eq!(with_e_type(&le, ET_EXEC).unwrap()[..16], le[..16]);
        assert_eq!(with_e_type(&le[..17], ET_DYN), None, "too short");
        assert_eq!(
            with_e_type(b"MZ\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", ET_DYN),
            None
        );
    }
}
