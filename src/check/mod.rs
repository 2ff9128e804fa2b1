//! The engine of `binfmtctl check`: prove, by executing tiny probe programs, that emulation
//! works for each system, also where containers and the Nix sandbox look (an empty chroot in
//! fresh namespaces). It gathers the facts (the table as a whole, `host`; each system's probe
//! runs, `system` and `probes`; Nix's platforms, `nix`), asks [`crate::model::diagnose`] what
//! they mean, and returns the [`Report`] the command renders.

mod host;
mod nix;
mod probes;
mod system;

use anyhow::Result;
use serde::Serialize;

use crate::binfmt::Entry;
use crate::emulator::trial::ProbeDir;
use crate::model::diagnose::Problem;
use crate::model::outcome::Outcome;
use crate::service::Ctx;
use crate::store::config::{Config, SystemConfig};

/// `check --json`, documented in README.md.
#[derive(Serialize)]
pub struct Report {
    /// True when every system passed (exit status 0).
    pub ok: bool,
    pub systems: Vec<SystemCheck>,
    /// Findings about the table as a whole (e.g. an entry that matches native programs).
    pub problems: Vec<Problem>,
}

/// One system's check.
#[derive(Serialize)]
pub struct SystemCheck {
    pub system: String,
    /// Enabled entries that accept this system's programs (PIE, non-PIE or both), newest
    /// first, the order the kernel tries them in.
    pub entries: Vec<String>,
    /// The entry the kernel uses for the probe (a non-PIE program), when any.
    pub winner: Option<String>,
    pub interpreter: Option<String>,
    pub flags: Option<String>,
    /// A plain exec of the probe, through the kernel; or, when `exec_implied`, the chroot's
    /// outcome standing for it.
    pub exec: Outcome,
    /// True when the plain exec was not run because the exec in the empty chroot ran: the
    /// winner has flag F, so the kernel ran the very interpreter file a plain exec would,
    /// through the same entry (issue 14: one qemu start a system instead of two).
    /// `BINFMTCTL_CHECK_BOTH_EXECS=1` runs both always.
    pub exec_implied: bool,
    /// The probe exec'd inside an empty chroot in fresh user + mount namespaces.
    pub chroot: Outcome,
    /// Whether argv[0] reached the program (null when the probe did not run).
    pub argv0_preserved: Option<bool>,
    pub problems: Vec<Problem>,
    pub ok: bool,
}

/// Set to 1, `check` runs the plain exec of every probe even where the exec in the empty
/// chroot already proves it (an entry with F): how check worked before issue 14, kept for
/// comparison (bench/bench.py) and for whoever wants both execs seen.
pub const BOTH_EXECS: &str = "BINFMTCTL_CHECK_BOTH_EXECS";

/// Check `systems` (names or aliases; none: the configured ones and every system a
/// registered entry runs).
pub fn check(ctx: &Ctx, systems: &[String]) -> Result<Report> {
    let entries = ctx.registry.entries_if_mounted()?;
    let config = ctx.config()?;
    let state = ctx.state()?;
    let systems = select_systems(ctx, systems, &config, &entries)?;
    let dir = ProbeDir::new()?;
    let both_execs = std::env::var_os(BOTH_EXECS).is_some_and(|v| v == "1");
    let facility = host::facility(&ctx.registry)?;
    let mut problems = host::table_problems(&entries, ctx.registry.root());
    let foreign = host::foreign(ctx, &entries, &config, &state);
    // Every probe file is written (and closed) before anything else starts a process: a file
    // still open for writing in a child that is just being forked makes exec fail with ETXTBSY.
    for system in &systems {
        probes::write(system, &dir)?;
    }
    // Asking Nix takes as long as a few probes: do it while they run.
    let nix_conf = ctx.nix_conf.clone();
    let nix_platforms = std::thread::spawn(move || nix::platforms(&nix_conf));
    let around = system::Around {
        entries: &entries,
        state: &state,
        foreign: &foreign,
        dir: &dir,
        facility,
        both_execs,
    };
    let checks = system::check_all(ctx, &systems, &around)?;
    if let Some(platforms) = nix_platforms.join().unwrap_or(None) {
        problems.extend(nix::missing(&checks, &platforms));
    }
    problems.extend(host::facility_once(facility, ctx.registry.root(), &checks));
    let ok = checks.iter().all(|c| c.ok) && problems.iter().all(|p| !p.is_error());
    Ok(Report {
        ok,
        systems: checks,
        problems,
    })
}

/// The systems to check: those named, else the configured ones and every system a
/// registered entry runs.
fn select_systems(
    ctx: &Ctx,
    named: &[String],
    config: &Config,
    entries: &[Entry],
) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    if named.is_empty() {
        config
            .systems
            .iter()
            .flat_map(SystemConfig::systems)
            .for_each(&mut push);
        // An entry that takes only PIE (or only non-PIE) programs of a system counts too.
        for e in entries.iter().filter(|e| e.enabled) {
            ctx.profiles
                .all()
                .iter()
                .filter(|p| p.partly_accepted_by(&e.matcher))
                .for_each(|p| push(&p.system));
        }
    } else {
        for name in named {
            push(&ctx.profiles.lookup(name)?.system);
        }
    }
    Ok(out)
}
