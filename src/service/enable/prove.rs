//! After registering, each system's probe executed through the kernel (what `check` does
//! first), and why its programs do not run, said as `check` says it.

use std::path::Path;

use super::{Request, Wanted};
use crate::emulator::interpreter;
use crate::emulator::trial::{self, ProbeDir};
use crate::model::diagnose::{self, Facility, Facts};
use crate::model::outcome::Outcome;
use crate::probe::{self, Probe};
use crate::report;
use crate::service::Ctx;

/// What executing a system's probe after registering showed.
pub(super) struct Checked {
    pub(super) outcome: Outcome,
    pub(super) problem: Option<String>,
}

/// Execute each system's probe plainly through the kernel (what `check` does first): reading
/// the entry back proves what the kernel holds, not that programs run (binfmt_misc disabled
/// as a whole, an interpreter for another architecture). A registration that does not work
/// is kept, as asked, with a warning that says why and how to fix it.
pub(super) fn prove(ctx: &Ctx, req: &Request, wanted: &[Wanted]) -> Vec<Checked> {
    // wasm and the like have no probe: nothing is run for them.
    let has_probe: Vec<Option<Probe>> = wanted
        .iter()
        .map(|w| probe::for_system(&w.profile.system))
        .collect();
    let probes: Vec<Probe> = has_probe.iter().flatten().cloned().collect();
    let outcomes = ProbeDir::new().and_then(|dir| {
        for p in &probes {
            dir.write(p)?;
        }
        Ok(trial::exec_each(&probes, dir.path()))
    });
    let outcomes = match outcomes {
        Ok(o) => o,
        Err(e) => {
            let reason = format!("cannot write the probe programs: {e}");
            report::warn(&format!(
                "{reason}; whether the programs run was not checked: run binfmtctl check"
            ));
            vec![Outcome::NotTested { reason }; probes.len()]
        }
    };
    // Only when a program got "Exec format error": binfmt_misc disabled as a whole explains it.
    let disabled =
        outcomes.contains(&Outcome::NoEntry) && ctx.registry.facility_enabled().is_ok_and(|on| !on);
    let mut outcomes = outcomes.into_iter();
    wanted
        .iter()
        .zip(&has_probe)
        .map(|(w, probe)| {
            let outcome = probe
                .as_ref()
                .and_then(|_| outcomes.next())
                .unwrap_or(Outcome::NotProbed);
            if let Outcome::NotTested { reason } = &outcome {
                report::warn(&format!(
                    "{}: whether its programs run was not checked: {reason}",
                    w.profile.system
                ));
            }
            let problem = not_running(ctx, req, w, &outcome, disabled);
            Checked { outcome, problem }
        })
        .collect()
}

/// Why a registered system's programs do not run, from its probe's outcome, as `check` says
/// it (one diagnosis, [`crate::model::diagnose`]); None when they run (or nothing was run).
fn not_running(
    ctx: &Ctx,
    req: &Request,
    w: &Wanted,
    outcome: &Outcome,
    facility_disabled: bool,
) -> Option<String> {
    if !outcome.failed() {
        return None;
    }
    let system = &*w.profile.system;
    // The probe went to the entry the kernel uses for it (its own header decides), which may
    // be another, newer one.
    let table = ctx.registry.entries().unwrap_or_default();
    let winner = probe::for_system(system)
        .and_then(|p| crate::binfmt::winner(&table, Path::new(system), &p.bytes));
    let emulates_other = winner
        .filter(|_| matches!(outcome, Outcome::Failed { .. }))
        .and_then(|e| diagnose::emulated_by(&e.interpreter, w.profile, &ctx.profiles));
    let own = interpreter::find(w.profile);
    let install_hint = interpreter::install_hint(w.profile);
    let enable = reenable_command(system, w.reg.name.as_str(), req.runtime);
    let problems = diagnose::diagnose(&Facts {
        system,
        qemu: w.profile.cpu.is_some(),
        root: ctx.registry.root(),
        facility: if facility_disabled {
            Facility::Disabled
        } else {
            Facility::Enabled
        },
        winner,
        meant: Some(w.reg.name.as_str()),
        exec: outcome,
        chroot: None,
        emulates_other: emulates_other.as_deref(),
        interpreter_dynamic: false,
        own_emulator: own.as_ref().map(|i| (i.path.as_path(), i.is_static)),
        install_hint: &install_hint,
        enable: &enable,
    });
    let said: Vec<String> = problems
        .iter()
        .map(|p| format!("{}; {}", p.message, p.fix))
        .collect();
    (!said.is_empty()).then(|| {
        format!(
            "{system} is registered but its programs do not run: {}; run binfmtctl check {system}",
            said.join("; ")
        )
    })
}

/// `binfmtctl enable` again, with the same name and persistence.
fn reenable_command(system: &str, name: &str, runtime: bool) -> String {
    let mut cmd = format!("binfmtctl enable {system}");
    if name != system {
        cmd += &format!(" --name {name}");
    }
    if runtime {
        cmd += " --runtime";
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::reenable_command;

    #[test]
    fn enabling_again_keeps_the_name_and_the_persistence() {
        for (system, name, runtime, want) in [
            (
                "riscv64-linux",
                "riscv64-linux",
                false,
                "binfmtctl enable riscv64-linux",
            ),
            (
                "riscv64-linux",
                "qemu-riscv64",
                false,
                "binfmtctl enable riscv64-linux --name qemu-riscv64",
            ),
            (
                "riscv64-linux",
                "qemu-riscv64",
                true,
                "binfmtctl enable riscv64-linux --name qemu-riscv64 --runtime",
            ),
            (
                "s390x-linux",
                "s390x-linux",
                true,
                "binfmtctl enable s390x-linux --runtime",
            ),
        ] {
            assert_eq!(reenable_command(system, name, runtime), want);
        }
    }
}
