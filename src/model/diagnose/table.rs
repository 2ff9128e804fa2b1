//! Problems of the table and the host as a whole, said once in a report rather than once a
//! system: an entry that captures the host's own programs, binfmt_misc switched off, Nix not
//! told of the emulated systems; and a system whose check itself failed.

use std::path::Path;

use super::{facility_problem, Facility, Problem, Severity};
use crate::binfmt::Entry;

/// An entry that accepts this host's own programs makes every native exec recurse into the
/// interpreter (ELOOP).
pub fn captures_host(e: &Entry, root: &Path) -> Problem {
    Problem::error(
        format!("entry {} accepts this host's own native programs: every native exec would loop through {}", e.name, e.interpreter),
        format!("remove it now: echo -1 > {}", root.join(e.name.as_str()).display()),
    )
}

/// How to be rid of an entry binfmtctl did not make: `for_good` when a binfmt.d file
/// registers it at boot, else disabling it.
pub fn foreign_fix(name: &str, for_good: Option<String>) -> String {
    for_good.unwrap_or_else(|| {
        format!("remove it if you do not want it: binfmtctl disable --name {name}")
    })
}

/// binfmt_misc as a whole, said once: by the systems it fails (the same words for each,
/// [`facility_problem`]; `said` tells whether one did), else by the report. Only emulated
/// systems need binfmt_misc: when every system checked runs natively (`all_native`; `check
/// x86_64-linux` on an x86_64 host) it is a warning.
pub fn facility_once(
    facility: Facility,
    root: &Path,
    said: impl Fn(&Problem) -> bool,
    all_native: bool,
) -> Option<Problem> {
    let mut p = facility_problem(facility, root)?;
    if said(&p) {
        return None;
    }
    if all_native {
        p.severity = Severity::Warning;
    }
    Some(p)
}

/// Nix is installed but does not build for the `missing` systems: said once for all of them
/// (34 systems gave 68 lines).
pub fn nix_platforms_missing(missing: &[&str]) -> Option<Problem> {
    if missing.is_empty() {
        return None;
    }
    let list = missing.join(", ");
    let verb = if missing.len() == 1 { "is" } else { "are" };
    Some(Problem::warning(
        format!("Nix is installed but {list} {verb} not in its extra-platforms: Nix will refuse to build {list} derivations"),
        format!("binfmtctl enable --nix {} (then restart nix-daemon if one runs)", missing.join(" ")),
    ))
}

/// The check of `system` itself failed (its thread panicked with `what`).
pub fn internal_error(system: &str, what: &str) -> Problem {
    Problem::error(
        format!("binfmtctl hit an internal error while checking {system}: {what}"),
        "please report it as a binfmtctl bug, with the output of binfmtctl status --json".into(),
    )
}
