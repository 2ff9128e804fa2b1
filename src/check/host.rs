//! The facts about the table as a whole: its entries, whether binfmt_misc is mounted and
//! enabled, entries that capture the host's own programs, and how to be rid of each entry
//! binfmtctl did not make.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use super::SystemCheck;
use crate::binfmt::{binfmtd, Entry, Registry};
use crate::emulator::native;
use crate::model::diagnose::{self, Facility, Problem};
use crate::service::Ctx;
use crate::store::config::Config;
use crate::store::state::State;

/// binfmt_misc as a whole.
pub fn facility(registry: &Registry) -> Result<Facility> {
    Ok(if !registry.is_mounted() {
        Facility::Unmounted
    } else if registry.facility_enabled()? {
        Facility::Enabled
    } else {
        Facility::Disabled
    })
}

/// Problems of the table as a whole: an entry that accepts this host's own programs.
pub fn table_problems(entries: &[Entry], root: &Path) -> Vec<Problem> {
    let own = native::own_headers();
    entries
        .iter()
        .filter(|e| e.enabled && native::captures(&e.matcher, own))
        .map(|e| diagnose::captures_host(e, root))
        .collect()
}

/// How to be rid of each entry binfmtctl did not make, by name, for shadowing warnings.
pub fn foreign(
    ctx: &Ctx,
    entries: &[Entry],
    config: &Config,
    state: &State,
) -> BTreeMap<String, String> {
    let scanned = binfmtd::scan(binfmtd::DIRS);
    entries
        .iter()
        .filter(|e| !ctx.is_ours(e, config, state))
        .map(|e| {
            let for_good = binfmtd::remove_for_good(&scanned, e);
            (
                e.name.to_string(),
                diagnose::foreign_fix(e.name.as_str(), for_good),
            )
        })
        .collect()
}

/// binfmt_misc's problem as a whole, when no system's check said it already.
pub fn facility_once(facility: Facility, root: &Path, checks: &[SystemCheck]) -> Option<Problem> {
    // The table, not the measurement: measuring runs every probe again (~20 ms, on every
    // check).
    let native = native::table();
    let all_native =
        !checks.is_empty() && checks.iter().all(|c| native.contains(&c.system.as_str()));
    let said = |p: &Problem| checks.iter().flat_map(|c| &c.problems).any(|q| q == p);
    diagnose::facility_once(facility, root, said, all_native)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_native_loop_fix_names_the_registry_root() {
        let own = crate::elf::read_file(&std::env::current_exe().unwrap()).unwrap();
        let native = diagnose::test_entry("native", &own.header[..20], &[0xff; 20]);
        let problems = table_problems(&[native], Path::new("/mnt/binfmt"));
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].fix,
            "remove it now: echo -1 > /mnt/binfmt/native"
        );
    }
}
