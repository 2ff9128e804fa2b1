//! What `run` says when it cannot start a program: each message names the program, what is
//! wrong and what to do.

use std::ffi::OsStr;
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use anyhow::anyhow;

use crate::elf::{self, ElfInfo};
use crate::emulator::interpreter;
use crate::emulator::sysroot::{self, SysrootError};
use crate::model::profile::{Profile, Profiles};

/// For a secondary native system's program (i386 on x86_64) whose loader is nowhere: how to
/// run it natively instead, the host's multilib C library (Debian's `libc6-i386`).
pub(super) fn natively_hint(profile: &Profile) -> String {
    match &profile.debian {
        Some(arch) => format!(
            "or, to run it natively, install this machine's {arch} C library: apt install libc6-{arch}"
        ),
        None => format!("or install this machine's C library for {}", profile.system),
    }
}

/// A `#!` script the kernel refused: its interpreter is no program the kernel runs. Names
/// the interpreter, what it is, and the command that runs the script.
pub(super) fn script_not_run(path: &Path, profiles: &Profiles) -> anyhow::Error {
    // The kernel reads the #! line from the first 256 bytes (BINPRM_BUF_SIZE) and splits the
    // interpreter from its one argument at the first blank.
    let mut head = Vec::new();
    let _ = std::fs::File::open(path).and_then(|f| f.take(256).read_to_end(&mut head));
    let line = head.strip_prefix(b"#!").unwrap_or(&head);
    let line = line.split(|&c| c == b'\n').next().unwrap_or_default();
    let line = line.trim_ascii_start();
    let end = line
        .iter()
        .position(|&c| c == b' ' || c == b'\t')
        .unwrap_or(line.len());
    let (interp, arg) = (&line[..end], line[end..].trim_ascii());
    let refused = format!(
        "{}: a #! script whose interpreter the kernel cannot run (Exec format error)",
        path.display()
    );
    if interp.is_empty() {
        return anyhow!("{refused}: its #! line names no interpreter");
    }
    let interp = Path::new(OsStr::from_bytes(interp));
    let profile = elf::read_file(interp)
        .ok()
        .and_then(|info| profiles.for_header(&info.header).first().copied());
    let Some(p) = profile else {
        return anyhow!(
            "{refused}: {} is no program binfmtctl knows a system for",
            interp.display()
        );
    };
    let arg = if arg.is_empty() {
        String::new()
    } else {
        format!(" {}", String::from_utf8_lossy(arg))
    };
    anyhow!(
        "{refused}: {} is a {} program; run it with binfmtctl run {}{arg} {}, or enable that system (binfmtctl \
         enable {})",
        interp.display(),
        p.system,
        interp.display(),
        path.display(),
        p.system
    )
}

/// execve failed on `program`.
pub(super) fn cannot_execute(program: &Path, err: &std::io::Error) -> String {
    format!("cannot execute {}: {err}", program.display())
}

pub(super) fn cannot(program: &Path, err: &std::io::Error) -> anyhow::Error {
    anyhow!(cannot_execute(program, err))
}

/// Neither the kernel (nor the host) nor the qemu tried after it ran the program.
pub(super) fn nor_through_qemu(
    program: &Path,
    err: &std::io::Error,
    qemu: &Path,
    again: &std::io::Error,
) -> anyhow::Error {
    anyhow!(
        "{}; nor through {}: {again}",
        cannot_execute(program, err),
        qemu.display()
    )
}

pub(super) fn not_elf(path: &Path) -> anyhow::Error {
    anyhow!(
        "{}: not an ELF file (nor a #! script); binfmtctl run runs ELF programs",
        path.display()
    )
}

pub(super) fn not_a_program(path: &Path, info: &ElfInfo) -> anyhow::Error {
    anyhow!(
        "{}: {} is not a program; binfmtctl run runs executables and PIE programs",
        path.display(),
        info.describe()
    )
}

/// `--system` names a system the program is not for.
pub(super) fn not_this_system(path: &Path, info: &ElfInfo, asked: &Profile) -> anyhow::Error {
    anyhow!(
        "{} is {}, not a {} program; leave out --system to have it read from the file",
        path.display(),
        info.describe(),
        asked.system
    )
}

pub(super) fn no_emulator(path: &Path, profile: &Profile) -> anyhow::Error {
    anyhow!(
        "{} is a {} program and no emulator for it was found; {}",
        path.display(),
        profile.system,
        interpreter::install_hint(profile)
    )
}

pub(super) fn no_system(path: &Path, info: &ElfInfo) -> anyhow::Error {
    let machine = elf::machine_name(info.machine)
        .map_or_else(|| format!("machine {:#x}", info.machine), str::to_owned);
    anyhow!(
        "{}: no known system runs {machine} programs ({}); `binfmtctl systems` lists the supported ones, or name one with --system",
        path.display(),
        info.describe()
    )
}

pub(super) fn sysroot_error(typed: &OsStr, profile: &Profile, err: SysrootError) -> anyhow::Error {
    let program = Path::new(typed).display();
    match err {
        SysrootError::NotFound { loader, looked_in } => {
            let hint = sysroot::install_hint(profile.debian.as_deref(), &loader, "--sysroot DIR");
            anyhow!(
                "{program} needs the loader {}, found neither on this machine nor in a sysroot (looked in: {}); {hint}",
                loader.display(),
                looked_in.join(", ")
            )
        }
        err @ (SysrootError::Foreign { .. } | SysrootError::LinkOutside { .. }) => {
            anyhow!("{program}: {err}")
        }
        SysrootError::NotInGiven {
            loader,
            dir,
            missing,
        } => anyhow!(
            "{program} needs the loader {}, which the sysroot {} does not have ({} does not exist); give a --sysroot DIR that holds it",
            loader.display(),
            dir.display(),
            missing.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn sysroot_messages() {
        let profiles = Profiles::builtin().unwrap();
        let riscv64 = profiles.lookup("riscv64-linux").unwrap();
        let no_debian = Profile {
            debian: None,
            ..riscv64.clone()
        };
        let not_found = || SysrootError::NotFound {
            loader: PathBuf::from("/lib/ld-linux-riscv64-lp64d.so.1"),
            looked_in: vec![
                "/lib/ld-linux-riscv64-lp64d.so.1".into(),
                "/usr/*/lib/ld-linux-riscv64-lp64d.so.1".into(),
            ],
        };
        assert_eq!(
            sysroot_error(OsStr::new("./hello"), riscv64, not_found()).to_string(),
            "./hello needs the loader /lib/ld-linux-riscv64-lp64d.so.1, found neither on this machine nor in a sysroot \
             (looked in: /lib/ld-linux-riscv64-lp64d.so.1, /usr/*/lib/ld-linux-riscv64-lp64d.so.1); \
             install it: apt install libc6-riscv64-cross, or give --sysroot DIR"
        );
        assert_eq!(
            sysroot_error(OsStr::new("./hello"), &no_debian, not_found()).to_string(),
            "./hello needs the loader /lib/ld-linux-riscv64-lp64d.so.1, found neither on this machine nor in a sysroot \
             (looked in: /lib/ld-linux-riscv64-lp64d.so.1, /usr/*/lib/ld-linux-riscv64-lp64d.so.1); give --sysroot DIR"
        );
        let given = SysrootError::NotInGiven {
            loader: PathBuf::from("/lib/ld-linux-riscv64-lp64d.so.1"),
            dir: PathBuf::from("/opt/rv"),
            missing: PathBuf::from("/opt/rv/lib/ld-linux-riscv64-lp64d.so.1"),
        };
        assert_eq!(
            sysroot_error(OsStr::new("hello"), riscv64, given).to_string(),
            "hello needs the loader /lib/ld-linux-riscv64-lp64d.so.1, which the sysroot /opt/rv does not have \
             (/opt/rv/lib/ld-linux-riscv64-lp64d.so.1 does not exist); give a --sysroot DIR that holds it"
        );
    }

    #[test]
    fn no_system_names_the_machine() {
        let mut bytes = std::fs::read("/bin/true").unwrap();
        bytes[18..20].copy_from_slice(&0x32u16.to_le_bytes());
        let info = elf::parse(&bytes).unwrap();
        assert_eq!(
            no_system(Path::new("./ia64"), &info).to_string(),
            "./ia64: no known system runs IA-64 programs (ELF 64-bit LSB, IA-64 (0x32), dynamic, interpreter /lib64/ld-linux-x86-64.so.2); \
             `binfmtctl systems` lists the supported ones, or name one with --system"
        );
        bytes[18..20].copy_from_slice(&0x4242u16.to_le_bytes());
        let info = elf::parse(&bytes).unwrap();
        assert!(no_system(Path::new("x"), &info)
            .to_string()
            .starts_with("x: no known system runs machine 0x4242 programs (ELF 64-bit LSB, unknown machine (0x4242)"));
    }
}
