//! One system's check: the entry the kernel uses for its programs, its probe's runs, what is
//! known of the interpreter file; turned into problems by [`crate::model::diagnose`]. All
//! systems are checked at once, a thread each.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use super::{probes, SystemCheck};
use crate::binfmt::Entry;
use crate::elf;
use crate::emulator::interpreter;
use crate::emulator::trial::ProbeDir;
use crate::model::diagnose::{self, Dispatch, Facility, Facts, InterpreterFacts};
use crate::model::outcome::Outcome;
use crate::model::profile::program_kinds;
use crate::service::Ctx;
use crate::store::state::{file_id, State};

/// What every system's check reads: the table as it was when `check` started.
pub struct Around<'a> {
    pub entries: &'a [Entry],
    pub state: &'a State,
    /// How to be rid of each entry binfmtctl did not make.
    pub foreign: &'a BTreeMap<String, String>,
    pub dir: &'a ProbeDir,
    pub facility: Facility,
    /// [`super::BOTH_EXECS`] is set: the plain exec runs even where the chroot's proves it.
    pub both_execs: bool,
}

/// Check every system, a thread each, in the order given.
pub fn check_all(ctx: &Ctx, systems: &[String], around: &Around) -> Result<Vec<SystemCheck>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = systems
            .iter()
            .map(|system| scope.spawn(move || check_system(ctx, system, around)))
            .collect();
        handles
            .into_iter()
            .zip(systems)
            .map(|(h, system)| joined(system, h.join()))
            .collect::<Result<Vec<_>>>()
    })
}

/// The outcome of a probe thread: a panic becomes a failed system (exit 1), never a system
/// left out of the report.
fn joined(system: &str, joined: std::thread::Result<Result<SystemCheck>>) -> Result<SystemCheck> {
    let panic = match joined {
        Ok(check) => return check,
        Err(panic) => panic,
    };
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned());
    let problem = diagnose::internal_error(system, &what);
    Ok(SystemCheck {
        system: system.to_owned(),
        entries: Vec::new(),
        winner: None,
        interpreter: None,
        flags: None,
        exec: Outcome::Failed {
            message: problem.message.clone(),
        },
        exec_implied: false,
        chroot: Outcome::NotTested {
            reason: "binfmtctl hit an internal error".to_owned(),
        },
        argv0_preserved: None,
        problems: vec![problem],
        ok: false,
    })
}

fn check_system(ctx: &Ctx, system: &str, around: &Around) -> Result<SystemCheck> {
    let profile = ctx.profiles.lookup(system)?;
    let probe = crate::probe::for_system(system);
    // The probe's own header when there is a probe (the bytes the kernel matches when check
    // execs it), else the profile's magic.
    let headers = probe
        .as_ref()
        .map_or_else(|| profile.sample_headers(), |p| program_kinds(&p.bytes));
    let dispatch = Dispatch::new(system, headers, around.entries);
    let winner = dispatch.probe_winner();
    let (exec, chroot, exec_implied) = match &probe {
        Some(p) => probes::run(
            p,
            around.dir,
            winner.is_some_and(|w| w.flags.fix_binary) && !around.both_execs,
        ),
        None => (Outcome::NotProbed, Outcome::NotProbed, false),
    };
    let interp = winner.map(|w| interpreter_facts(w, around.state));
    // The facts the diagnosis needs from files: only read when they can matter.
    let emulates_other = winner
        .filter(|_| matches!(exec, Outcome::Failed { .. }))
        .and_then(|w| diagnose::emulated_by(&w.interpreter, profile, &ctx.profiles));
    let own = (exec.failed() || chroot.failed())
        .then(|| interpreter::find(profile))
        .flatten();
    let install_hint = interpreter::install_hint(profile);
    let enable = format!("binfmtctl enable {system}");
    let mut problems = diagnose::diagnose(&Facts {
        system,
        qemu: profile.cpu.is_some(),
        root: ctx.registry.root(),
        facility: around.facility,
        winner,
        meant: None,
        exec: &exec,
        chroot: Some(&chroot),
        emulates_other: emulates_other.as_deref(),
        interpreter_dynamic: chroot == Outcome::NoInterpreter
            && interp.as_ref().is_some_and(|i| i.dynamic),
        own_emulator: own.as_ref().map(|i| (i.path.as_path(), i.is_static)),
        install_hint: &install_hint,
        enable: &enable,
    });
    if let (Some(w), Some(i)) = (winner, &interp) {
        problems.extend(diagnose::winner_problems(w, profile, i));
    }
    problems.extend(dispatch.problems(system, ctx.registry.root(), around.foreign, !exec.failed()));
    let argv0_preserved = match &exec {
        Outcome::Ran { argv0_preserved } => Some(*argv0_preserved),
        _ => None,
    };
    let ok = problems.iter().all(|p| !p.is_error());
    Ok(SystemCheck {
        system: system.to_owned(),
        entries: dispatch
            .accepting
            .iter()
            .map(|e| e.name.to_string())
            .collect(),
        winner: winner.map(|w| w.name.to_string()),
        interpreter: winner.map(|w| w.interpreter.clone()),
        flags: winner.map(|w| w.flags.to_string()),
        exec,
        exec_implied,
        chroot,
        argv0_preserved,
        problems,
        ok,
    })
}

/// What the interpreter file of the winning entry `w` is now, read from the file system.
fn interpreter_facts(w: &Entry, state: &State) -> InterpreterFacts {
    let path = Path::new(&w.interpreter);
    let exists = path.exists();
    let replaced = match (state.get(&w.name), file_id(path)) {
        (Some(owned), Some(now)) => owned.interpreter_id.is_some_and(|then| then != now),
        _ => false,
    };
    InterpreterFacts {
        exists,
        replaced,
        dynamic: elf::read_file(path).is_ok_and(|i| !i.is_static()),
        untrusted: exists.then(|| interpreter::untrusted(path)).flatten(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicked_probe_thread_fails_its_system() {
        let joined_panic = std::thread::spawn(|| -> Result<SystemCheck> { panic!("boom") }).join();
        let c = joined("riscv64-linux", joined_panic).unwrap();
        assert_eq!(c.system, "riscv64-linux");
        assert!(!c.ok, "a panic must fail the check (exit 1)");
        assert_eq!(c.problems.len(), 1);
        assert!(c.problems[0].is_error());
        assert_eq!(
            c.problems[0].message,
            "binfmtctl hit an internal error while checking riscv64-linux: boom"
        );
        assert!(c.problems[0].fix.starts_with("please report it"));
        // A thread that did not panic passes its result through.
        let fine = joined("riscv64-linux", Ok(Err(anyhow::anyhow!("an error"))));
        assert_eq!(
            fine.err().map(|e| e.to_string()).as_deref(),
            Some("an error")
        );
    }
}
