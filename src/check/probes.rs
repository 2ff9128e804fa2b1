//! The per-system probe runs: each system's probe written into a directory of its own (the
//! chroot: nothing but the probe), then exec'd plainly and in that empty chroot.

use anyhow::Result;

use crate::emulator::trial::{self, ProbeDir};
use crate::model::outcome::Outcome;
use crate::probe::{self, Probe};

/// Write the system's probe into a directory of its own (the chroot: nothing but the probe).
pub fn write(system: &str, dir: &ProbeDir) -> Result<()> {
    let Some(p) = probe::for_system(system) else {
        return Ok(());
    };
    dir.write_alone(&p)?;
    Ok(())
}

/// Execute the system's probe (written by [`write`]) plainly and in an empty chroot:
/// (plain, chroot, whether the plain outcome is the chroot's standing for it).
///
/// `chroot_proves` (the winning entry has flag F): the kernel opened the interpreter at
/// registration and runs that file wherever the exec happens, so a run in the empty chroot,
/// through the same entry, proves the plain exec too and carries the argv[0] test. Then the
/// chroot goes first, and the plain exec runs only when the chroot's did not: to tell what
/// failed where. Each exec is a qemu start, the bulk of check's CPU time (BENCHMARKS.md, 4).
pub fn run(p: &Probe, dir: &ProbeDir, chroot_proves: bool) -> (Outcome, Outcome, bool) {
    let sub = dir.alone(p);
    if chroot_proves {
        let chroot = trial::exec_in_chroot(p, &sub);
        if chroot.ran() {
            return (chroot.clone(), chroot, true);
        }
        return (trial::exec(p, &sub.join(p.system)), chroot, false);
    }
    (
        trial::exec(p, &sub.join(p.system)),
        trial::exec_in_chroot(p, &sub),
        false,
    )
}
