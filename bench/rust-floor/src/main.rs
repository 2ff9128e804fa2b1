//! `rust-floor PROGRAM [ARGS]...`: what `binfmtctl run` must do at the least, with nothing else:
//! read the program's ELF header, take riscv64 (`EM_RISCV`, 64-bit) for granted or refuse, find
//! `qemu-riscv64-static` in `$PATH`, and exec it with the program's argv[0]. No options, no
//! profiles, no `binfmt_misc` table, no sysroot, no error messages worth the name.

use std::ffi::OsString;
use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: rust-floor PROGRAM [ARGS]...");
        return ExitCode::from(2);
    };
    let mut header = [0u8; 20];
    let read = std::fs::File::open(&program).and_then(|mut f| f.read_exact(&mut header));
    // ELF, 64-bit, little-endian, e_machine 243 (RISC-V).
    if read.is_err() || header[..4] != *b"\x7fELF" || header[4] != 2 || header[18..20] != [243, 0] {
        eprintln!("rust-floor: not a riscv64 program");
        return ExitCode::from(2);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin"));
    let Some(qemu) = std::env::split_paths(&path)
        .map(|dir| dir.join("qemu-riscv64-static"))
        .find(|p: &PathBuf| p.is_file())
    else {
        eprintln!("rust-floor: qemu-riscv64-static not in $PATH");
        return ExitCode::from(2);
    };
    let err = Command::new(qemu)
        .arg("-0")
        .arg(&program)
        .arg("--")
        .arg(&program)
        .args(args)
        .exec();
    eprintln!("rust-floor: {err}");
    ExitCode::from(127)
}
