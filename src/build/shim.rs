//! The shim of `binfmtctl build`: registered (flags `PF`) as the interpreter of an emulated
//! system under `<build dir>/shim/<system>`, for a report (`--report`) or for a system whose
//! loader no sysroot has. For one emulated program it checks that a dynamically linked one's
//! loader is reachable (else it says which loader and what to install, once per loader, and
//! exits 127, instead of qemu's "Could not open"), then runs the real qemu: with a report it
//! times it and appends a line to `<build dir>/report.jsonl`, without one it execs qemu.
//!
//! The kernel starts it as `[<build dir>/shim/<system>, <full path>, <original argv0>, args...]`
//! (flag P). It recognises itself from that argv[0], before any other start-up work, so the
//! cost per emulated exec stays small.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use serde::{Deserialize, Serialize};

/// The directory name prefix of a build directory.
pub const BUILD_DIR_PREFIX: &str = "binfmtctl-build-";
/// The report file in a build directory.
pub const REPORT_FILE: &str = "report.jsonl";
/// The exit status of a program whose loader is missing (as a shell's for "not found").
const LOADER_MISSING: u8 = 127;

/// One emulated exec, as the shim records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exec {
    pub system: String,
    pub path: PathBuf,
    pub nanos: u64,
}

/// When this process was started as a shim, the build directory and the system.
pub fn detect(argv0: &Path) -> Option<(PathBuf, String)> {
    let shim_dir = argv0.parent()?;
    let build_dir = shim_dir.parent()?;
    if shim_dir.file_name()? != "shim"
        || !build_dir
            .file_name()?
            .as_bytes()
            .starts_with(BUILD_DIR_PREFIX.as_bytes())
    {
        return None;
    }
    Some((
        build_dir.to_owned(),
        argv0.file_name()?.to_str()?.to_owned(),
    ))
}

/// Run as the shim when argv[0] says so; `None` otherwise.
pub fn run_if_shim() -> Option<ExitCode> {
    let mut args = std::env::args_os();
    let argv0 = PathBuf::from(args.next()?);
    let (build_dir, system) = detect(&argv0)?;
    Some(run(&build_dir, &system, &args.collect::<Vec<_>>()))
}

fn run(build_dir: &Path, system: &str, args: &[OsString]) -> ExitCode {
    let fail = |msg: String| {
        eprintln!("binfmtctl build (report shim for {system}): {msg}");
        ExitCode::from(crate::exit_codes::ERROR)
    };
    let [path, argv0, rest @ ..] = args else {
        return fail(
            "expected the kernel's [path, argv0, args...]: is the entry registered with flag P?"
                .into(),
        );
    };
    let qemu = match std::fs::read_link(build_dir.join("qemu").join(system)) {
        Ok(q) => q,
        Err(e) => {
            return fail(format!(
                "cannot find the qemu for {system} in {}: {e}; the program runs where binfmtctl build's directory is \
                 hidden (a chroot, or a Nix sandbox whose NIX_CONFIG lost the build's extra-sandbox-paths): keep \
                 NIX_CONFIG as binfmtctl build sets it, or build without --report and give {system}'s sysroot \
                 (--sysroot {system}=DIR)",
                build_dir.display()
            ))
        }
    };
    if let Some(message) = missing_loader(build_dir, system, Path::new(path)) {
        eprintln!("{message}");
        return ExitCode::from(LOADER_MISSING);
    }
    // qemu's own way to take the program's argv[0] (flag P gave it to the shim).
    let argv: Vec<OsString> = [
        qemu.clone().into_os_string(),
        "-0".into(),
        argv0.clone(),
        "--".into(),
        path.clone(),
    ]
    .into_iter()
    .chain(rest.iter().cloned())
    .collect();
    if !build_dir.join(REPORT_FILE).exists() {
        let err = crate::sys::exec::replace(&qemu, &argv, None);
        return fail(format!("cannot execute {}: {err}", qemu.display()));
    }
    // Whoever signals the program (it sees the shim's pid) reaches qemu: exec::spawn passes
    // the forwarded signals on, and qemu starts with an empty mask.
    let start = Instant::now();
    let mut child =
        match crate::sys::exec::spawn(&qemu, &argv, None, &crate::sys::signals::forwarded()) {
            Ok(c) => c,
            Err(e) => return fail(format!("cannot start {}: {e}", qemu.display())),
        };
    let status = match child.wait() {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot wait for {}: {e}", qemu.display())),
    };
    let record = Exec {
        system: system.to_owned(),
        path: std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path)),
        nanos: u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
    };
    if let Ok(line) = serde_json::to_string(&record) {
        // One O_APPEND write per line: lines from concurrent shims never interleave.
        let _ = crate::trust::scratch::append_beneath(
            build_dir,
            Path::new(REPORT_FILE),
            format!("{line}\n").as_bytes(),
        );
    }
    pass_on(status)
}

/// For a dynamically linked program whose loader is neither in the sysroot view
/// (`$QEMU_LD_PREFIX`) nor at its own path: what to say. In full the first time a loader is
/// missing in this build (a file in `missing/` records it), in one line after that.
fn missing_loader(build_dir: &Path, system: &str, program: &Path) -> Option<String> {
    let loader = crate::elf::read_file(program).ok()?.interp?;
    let rel = loader.strip_prefix("/").unwrap_or(&loader);
    let prefix = std::env::var_os("QEMU_LD_PREFIX").filter(|p| !p.is_empty());
    if loader.exists() || prefix.is_some_and(|p| Path::new(&p).join(rel).exists()) {
        return None;
    }
    let marker = Path::new("missing").join(loader.to_string_lossy().replace('/', "%"));
    let first = crate::trust::scratch::create_new_beneath(build_dir, &marker).unwrap_or(false);
    let head = format!(
        "binfmtctl build: {} is a dynamically linked {system} program and needs the loader {}",
        program.display(),
        loader.display()
    );
    if !first {
        return Some(format!("{head}, which is missing (see above)"));
    }
    let hint = std::fs::read_to_string(build_dir.join("hint").join(system)).unwrap_or_default();
    let mut lines: Vec<&str> = hint.lines().collect();
    let option = lines
        .pop()
        .unwrap_or("binfmtctl build --sysroot SYSTEM=DIR");
    let debian = (!lines.is_empty()).then(|| lines.remove(0));
    let what_to_do =
        crate::emulator::sysroot::install_hint(debian.filter(|d| !d.is_empty()), &loader, option);
    let looked_in: Vec<String> = lines
        .iter()
        .map(|place| place.replace("lib*/ld*", &rel.display().to_string()))
        .collect();
    Some(format!(
        "{head}, found neither on this machine nor in a sysroot (looked in: {}); {what_to_do}",
        looked_in.join(", ")
    ))
}

/// Exit the way the child did: its status, or its signal (re-raised on ourselves).
pub fn pass_on(status: std::process::ExitStatus) -> ExitCode {
    if let Some(sig) = status.signal().and_then(|s| Signal::try_from(s).ok()) {
        let mut one = SigSet::empty();
        one.add(sig);
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&one), None);
        // SIGPIPE is ignored by Rust programs: the shell convention is the best we can do.
        if sig != Signal::SIGPIPE {
            let _ = nix::sys::signal::raise(sig);
        }
        return ExitCode::from(128u8.wrapping_add(u8::try_from(sig as i32).unwrap_or(0)));
    }
    ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1))
}

/// Read a build directory's report.
pub fn read_report(build_dir: &Path) -> Vec<Exec> {
    std::fs::read_to_string(build_dir.join(REPORT_FILE))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_only_shim_paths() {
        assert_eq!(
            detect(Path::new("/tmp/binfmtctl-build-12-ab/shim/riscv64-linux")),
            Some((
                PathBuf::from("/tmp/binfmtctl-build-12-ab"),
                "riscv64-linux".to_owned()
            ))
        );
        for p in [
            "binfmtctl",
            "/usr/bin/binfmtctl",
            "/tmp/x/shim/riscv64-linux",
            "/tmp/binfmtctl-build-1/bin/x",
            "shim/x",
        ] {
            assert_eq!(detect(Path::new(p)), None, "{p}");
        }
    }
}
