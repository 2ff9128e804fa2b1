//! The built-in profiles against NixOS's table, and against synthesized ELF headers using the
//! kernel's matching rule.

mod common;

use binfmtctl::elf::{
    EF_MIPS_ABI2, EI_CLASS, EI_DATA, EI_VERSION, ELFCLASS64, ELFDATA2MSB, ELFMAG, EM_386,
    EM_SPARCV9, ET_DYN, ET_EXEC, EV_CURRENT, E_MACHINE, E_TYPE,
};
use binfmtctl::model::profile::{Profile, Profiles};

/// The systems whose magic deliberately differs from NixOS's, and why (see qemu-profiles/README.md).
const FIXED: &[&str] = &["i486-linux", "i586-linux", "i686-linux", "sparc64-linux"];

fn tsv() -> Vec<Vec<String>> {
    common::nixos_table()
}

#[test]
fn every_nixos_linux_system_has_a_profile_byte_identical_but_for_the_documented_fixes() {
    let profiles = Profiles::builtin().unwrap();
    let mut checked = 0;
    for row in tsv() {
        let system = row[0].as_str();
        if system.ends_with("-windows") {
            continue;
        }
        let p = profiles.lookup(system).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.system, system);
        assert!(p.nixos, "{system} must be marked nixos = true");
        assert_eq!(
            p.mask.to_string(),
            row[3],
            "{system}: mask differs from NixOS"
        );
        if FIXED.contains(&system) {
            assert_ne!(
                p.magic.to_string(),
                row[2],
                "{system}: expected the documented fix"
            );
        } else {
            assert_eq!(
                p.magic.to_string(),
                row[2],
                "{system}: magic differs from NixOS"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 27);
}

#[test]
fn the_fixes_match_what_real_programs_carry() {
    let profiles = Profiles::builtin().unwrap();
    for s in ["i386-linux", "i486-linux", "i586-linux", "i686-linux"] {
        let p = profiles.lookup(s).unwrap();
        assert_eq!(
            p.magic.0[E_MACHINE..E_MACHINE + 2],
            EM_386.to_le_bytes(),
            "{s}: e_machine must be EM_386"
        );
    }
    let sparc64 = profiles.lookup("sparc64-linux").unwrap();
    assert_eq!(
        (sparc64.magic.0[EI_CLASS], sparc64.magic.0[EI_DATA]),
        (ELFCLASS64, ELFDATA2MSB),
        "ELFCLASS64, big endian"
    );
    assert_eq!(
        sparc64.magic.0[E_MACHINE..E_MACHINE + 2],
        EM_SPARCV9.to_be_bytes(),
        "EM_SPARCV9"
    );
}

/// A minimal ELF header for (class, data, e_machine, e_flags, e_type).
fn header(class: u8, data: u8, machine: u16, flags: u32, e_type: u16) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(ELFMAG);
    h[EI_CLASS] = class;
    h[EI_DATA] = data;
    h[EI_VERSION] = EV_CURRENT;
    let put16 = |h: &mut Vec<u8>, at: usize, v: u16| {
        let b = if data == ELFDATA2MSB {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        h[at..at + 2].copy_from_slice(&b);
    };
    put16(&mut h, E_TYPE, e_type);
    put16(&mut h, E_MACHINE, machine);
    let version = if data == ELFDATA2MSB {
        1u32.to_be_bytes()
    } else {
        1u32.to_le_bytes()
    };
    h[20..24].copy_from_slice(&version); // e_version = EV_CURRENT
    let flags_at = if class == ELFCLASS64 { 48 } else { 36 }; // e_flags
    let b = if data == ELFDATA2MSB {
        flags.to_be_bytes()
    } else {
        flags.to_le_bytes()
    };
    h[flags_at..flags_at + 4].copy_from_slice(&b);
    h
}

/// What a real program of each profile's architecture carries.
fn arch_of(p: &Profile) -> (u8, u8, u16, u32) {
    let m = &p.magic.0;
    let data = m[EI_DATA];
    let machine = [m[E_MACHINE], m[E_MACHINE + 1]];
    let machine = if data == ELFDATA2MSB {
        u16::from_be_bytes(machine)
    } else {
        u16::from_le_bytes(machine)
    };
    // MIPS n32 is told from o32 by EF_MIPS_ABI2 in e_flags (NixOS's 40-byte magics).
    let flags = if p.system.ends_with("linuxabin32") {
        EF_MIPS_ABI2
    } else {
        0
    };
    (m[EI_CLASS], data, machine, flags)
}

#[test]
fn each_profile_accepts_its_own_architecture_and_rejects_every_other() {
    let profiles = Profiles::builtin().unwrap();
    let elf: Vec<&Profile> = profiles
        .all()
        .iter()
        .filter(|p| p.magic.0.starts_with(ELFMAG))
        .collect();
    assert!(elf.len() >= 39, "only {} ELF profiles", elf.len());
    for p in &elf {
        let (class, data, machine, flags) = arch_of(p);
        for e_type in [ET_EXEC, ET_DYN] {
            let own = header(class, data, machine, flags, e_type);
            assert!(
                p.matcher().matches_header(&own),
                "{} rejects its own e_type {e_type} header",
                p.system
            );
            for other in &elf {
                let same_arch = arch_of(other) == arch_of(p);
                assert_eq!(
                    other.matcher().matches_header(&own),
                    same_arch,
                    "{} vs a {} program (e_type {e_type})",
                    other.system,
                    p.system
                );
            }
        }
        // And not a core file, nor a relocatable object.
        assert!(
            !p.matcher()
                .matches_header(&header(class, data, machine, flags, 4)),
            "{}",
            p.system
        );
    }
}

#[test]
fn aliases_resolve_and_unknown_names_suggest() {
    let profiles = Profiles::builtin().unwrap();
    for (alias, system) in [
        ("arm64", "aarch64-linux"),
        ("linux/arm64", "aarch64-linux"),
        ("aarch64", "aarch64-linux"),
        ("armhf", "armv7l-linux"),
        ("linux/arm/v7", "armv7l-linux"),
        ("ppc64el", "powerpc64le-linux"),
        ("linux/riscv64", "riscv64-linux"),
        ("RISCV64", "riscv64-linux"),
        ("loong64", "loongarch64-linux"),
    ] {
        assert_eq!(profiles.lookup(alias).unwrap().system, system, "{alias}");
    }
    assert_eq!(
        profiles.lookup("riscv65").unwrap_err().to_string(),
        "unknown system \"riscv65\" (did you mean riscv64, riscv32, riscv64-linux?); `binfmtctl systems` lists them all"
    );
}

#[test]
fn every_qemu_user_static_target_has_a_profile() {
    common::require("qemu-riscv64-static", "qemu-user-static");
    let profiles = Profiles::builtin().unwrap();
    let cpus: Vec<&str> = profiles
        .all()
        .iter()
        .filter_map(|p| p.cpu.as_deref())
        .collect();
    let mut missing = Vec::new();
    for e in std::fs::read_dir("/usr/bin").unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(cpu) = name
            .strip_prefix("qemu-")
            .and_then(|n| n.strip_suffix("-static"))
        {
            if !cpus.contains(&cpu) {
                missing.push(cpu.to_owned());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "qemu-user-static targets without a profile: {missing:?}"
    );
}

#[test]
fn a_local_profile_directory_adds_and_overrides() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("riscv64-linux.toml"),
        "system = 'riscv64-linux'\ndescription = 'local'\ncpu = 'riscv64'\naliases = ['rv64']\ninterpreters = ['my-qemu']\n\
         magic = '\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xf3\\x00'\n\
         mask = '\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff'\n",
    )
    .unwrap();
    let p = Profiles::load(Some(dir.path())).unwrap();
    let rv = p.lookup("rv64").unwrap();
    assert_eq!(
        (&*rv.description, &*rv.interpreters[0]),
        ("local", "my-qemu")
    );
    assert!(
        p.lookup("linux/riscv64").is_err(),
        "the override replaces the built-in's aliases"
    );
    std::fs::write(dir.path().join("bad.toml"), "system = 'x-linux'\n").unwrap();
    let err = Profiles::load(Some(dir.path())).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: line 1: missing field `description`; fix the file or remove it",
            dir.path().join("bad.toml").display()
        )
    );
}

#[test]
fn the_compiled_in_profiles_equal_the_files() {
    let dir = std::path::Path::new(common::MANIFEST_DIR).join("qemu-profiles");
    let builtin = Profiles::builtin().unwrap();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        let mut parsed = Profile::parse(
            &std::fs::read_to_string(&path).unwrap(),
            std::path::Path::new(&format!("builtin:{file}")),
        )
        .unwrap();
        let compiled = builtin.lookup(&parsed.system).unwrap().clone();
        parsed.source.clone_from(&compiled.source);
        assert_eq!(compiled, parsed, "{file}");
        n += 1;
    }
    assert_eq!(n, builtin.all().len());
}
