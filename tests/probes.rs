//! Runs every probe under its real qemu-user interpreter and checks what it printed and how it
//! exited, with argv[0] set by qemu's `-0` option.

use binfmtctl::probe::{self, Probe, FIXED_STATUS, MARKER};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

const INSTALL_HINT: &str =
    "install qemu-user-static (apt-get install --no-install-recommends qemu-user-static)";

/// A probe written to a unique temporary file, removed on drop.
struct ProbeFile(PathBuf);

impl ProbeFile {
    fn new(probe: &Probe) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "binfmtctl-probe-{}-{}-{n}",
            std::process::id(),
            probe.system
        ));
        fs::write(&path, &probe.bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        ProbeFile(path)
    }
}

impl Drop for ProbeFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Runs `qemu -0 argv0 file`; checks stdout and the exit status.
fn run(qemu: &Path, argv0: &str, file: &Path, want: u8) -> Result<(), String> {
    let out = Command::new(qemu)
        .arg("-0")
        .arg(argv0)
        .arg(file)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", qemu.display()))?;
    let got = (out.stdout.as_slice(), out.status.code());
    if got == (MARKER, Some(i32::from(want))) {
        Ok(())
    } else {
        Err(format!(
            "{} -0 {argv0}: stdout {:?}, status {:?} (want {:?}, {want}), stderr {:?}",
            qemu.display(),
            String::from_utf8_lossy(&out.stdout),
            out.status,
            String::from_utf8_lossy(MARKER),
            String::from_utf8_lossy(&out.stderr),
        ))
    }
}

fn check(system: &str) -> Result<(), String> {
    let probe = probe::for_system(system).ok_or("no probe")?;
    let qemu = PathBuf::from(format!("/usr/bin/qemu-{}-static", probe.cpu));
    if !qemu.exists() {
        return Err(format!("{} is missing: {INSTALL_HINT}", qemu.display()));
    }
    let file = ProbeFile::new(&probe);
    if probe.reads_argv0 {
        run(&qemu, "Zprobe", &file.0, b'Z')?;
        run(&qemu, "/x", &file.0, b'/')
    } else {
        run(&qemu, "Zprobe", &file.0, FIXED_STATUS)
    }
}

#[test]
fn every_probe_runs_under_its_qemu() {
    let handles: Vec<_> = probe::systems()
        .iter()
        .map(|&system| (system, thread::spawn(move || check(system))))
        .collect();
    let mut failures = Vec::new();
    for (system, handle) in handles {
        match handle.join().unwrap() {
            Ok(()) => println!("ok      {system}"),
            Err(e) => {
                println!("FAILED  {system}: {e}");
                failures.push(format!("{system}: {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} probes failed:\n{}",
        failures.len(),
        probe::systems().len(),
        failures.join("\n")
    );
}

#[test]
fn probes_cover_at_least_25_qemu_cpus() {
    let cpus: BTreeSet<_> = probe::systems()
        .iter()
        .map(|s| probe::for_system(s).unwrap().cpu)
        .collect();
    assert!(cpus.len() >= 25, "{} cpus: {cpus:?}", cpus.len());
}

#[test]
fn unknown_systems_have_no_probe() {
    assert!(probe::for_system("x86_64-darwin").is_none());
    assert!(probe::for_system("riscv64").is_none());
}

#[test]
fn every_qemu_profile_has_a_probe_for_the_same_cpu() {
    let profiles = binfmtctl::model::profile::Profiles::builtin().unwrap();
    for p in profiles.all() {
        let Some(cpu) = p.cpu.as_deref() else {
            continue;
        };
        let probe = binfmtctl::probe::for_system(&p.system)
            .unwrap_or_else(|| panic!("no probe for {}", p.system));
        assert_eq!(probe.cpu, cpu, "{}", p.system);
        assert!(
            p.matcher().matches_header(&probe.bytes),
            "{}'s profile does not accept its own probe",
            p.system
        );
    }
}
