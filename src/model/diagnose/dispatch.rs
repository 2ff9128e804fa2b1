//! Who gets a system's programs, and what is wrong with that: for each kind of program
//! ([`crate::elf::PROGRAM_KINDS`]: non-PIE, PIE) the entry the kernel uses, the entries that
//! accept any of them, and the problems of entries that take fewer than all kinds, or none.

use std::collections::BTreeMap;
use std::path::Path;

use super::Problem;
use crate::binfmt::Entry;

/// Who gets a system's programs: the headers they start with, one per kind of
/// [`crate::elf::PROGRAM_KINDS`] (non-PIE, PIE), and for each the entry the kernel uses.
pub struct Dispatch<'e> {
    pub headers: Vec<Vec<u8>>,
    /// Per kind: the newest enabled entry whose magic matches (the kernel's rule).
    pub winners: Vec<Option<&'e Entry>>,
    /// Enabled entries that match any of the headers, newest first.
    pub accepting: Vec<&'e Entry>,
}

impl<'e> Dispatch<'e> {
    /// `headers`, one per kind, are the bytes the kernel matches: the probe's own when there
    /// is a probe (what check execs), else the profile's magic.
    pub fn new(system: &str, headers: Vec<Vec<u8>>, entries: &'e [Entry]) -> Self {
        let matching = |e: &&Entry, h: &[u8]| e.enabled && e.matcher.matches_header(h);
        // The probe's file is named after its system: no extension entry takes it.
        let winners = headers
            .iter()
            .map(|h| crate::binfmt::winner(entries, Path::new(system), h))
            .collect();
        let accepting = entries
            .iter()
            .filter(|e| headers.iter().any(|h| matching(e, h)))
            .collect();
        Dispatch {
            headers,
            winners,
            accepting,
        }
    }

    /// The entry the probe (a non-PIE program) goes to.
    pub fn probe_winner(&self) -> Option<&'e Entry> {
        self.winners[0]
    }

    /// Errors about entries that take fewer than all kinds, or none: a newer entry that
    /// accepts only PIE or only non-PIE programs takes those from the entry meant for them; an
    /// entry that wins for no kind is shadowed.
    /// `foreign` has, for each entry binfmtctl did not make, how to be rid of it: such an entry
    /// shadowed by a newer one that works is a warning (Debian's qemu-riscv64 beside
    /// binfmtctl's riscv64-linux); binfmtctl's own entry shadowed is an error (what
    /// binfmtctl registered is not what runs).
    ///
    /// Another tool's shadowed entry is only a warning unless the winner is proven broken
    /// (`winner_runs` false).
    pub fn problems(
        &self,
        system: &str,
        root: &Path,
        foreign: &BTreeMap<String, String>,
        winner_runs: bool,
    ) -> Vec<Problem> {
        let kinds = crate::elf::PROGRAM_KINDS;
        let mut out = Vec::new();
        for (at, e) in self.accepting.iter().enumerate() {
            let accepts: Vec<bool> = self
                .headers
                .iter()
                .map(|h| e.matcher.matches_header(h))
                .collect();
            let wins: Vec<usize> = (0..kinds.len())
                .filter(|&k| self.winners[k].is_some_and(|w| w.name == e.name))
                .collect();
            let Some(&won) = wins.first() else {
                out.extend(self.shadowed(e, &accepts, system, foreign, winner_runs));
                continue;
            };
            if accepts.iter().all(|&a| a) {
                continue;
            }
            let remove = format!("echo -1 > {}", root.join(e.name.as_str()).display());
            let only = format!(
                "entry {} accepts only {} {system} programs",
                e.name, kinds[won].1
            );
            let older = self.accepting[at + 1..]
                .iter()
                .find(|o| o.matcher.matches_header(&self.headers[won]));
            let rest = accepts.iter().position(|&a| !a).unwrap_or(0);
            match (older, self.winners[rest]) {
                (Some(o), _) => out.push(Problem::error(
                    format!("{only} and, being newer, takes them from entry {}: they run with {}", o.name, e.interpreter),
                    format!("remove it: {remove}"),
                )),
                (None, None) => out.push(Problem::error(
                    format!("{only}: {} ones get \"Exec format error\"", kinds[rest].1),
                    format!("replace it by one for both: {remove} && binfmtctl enable {system}"),
                )),
                (None, Some(other)) => out.push(Problem::warning(
                    format!("{only}; {} ones go to entry {}: two entries, maybe two interpreters, for one system", kinds[rest].1, other.name),
                    format!("replace both by one entry: {remove} && echo -1 > {} && binfmtctl enable {system}", root.join(other.name.as_str()).display()),
                )),
            }
        }
        out
    }

    /// The problem of an entry that wins for no kind it `accepts`, when any: none when the
    /// entries it is shadowed by run its programs as it would (nothing is lost).
    fn shadowed(
        &self,
        e: &Entry,
        accepts: &[bool],
        system: &str,
        foreign: &BTreeMap<String, String>,
        winner_runs: bool,
    ) -> Option<Problem> {
        let stood_in = (0..accepts.len())
            .filter(|&k| accepts[k])
            .all(|k| self.winners[k].is_some_and(|w| w.runs_like(e)));
        if stood_in {
            return None;
        }
        let over = accepts
            .iter()
            .position(|&a| a)
            .and_then(|k| self.winners[k])
            .map_or("?", |w| w.name.as_str());
        let message = format!("entry {} also accepts {system} programs but is shadowed by the newer entry {over}: only {over} is used", e.name);
        Some(match foreign.get(e.name.as_str()).filter(|_| winner_runs) {
            Some(fix) => Problem::warning(
                format!("{message} (entry {} is not binfmtctl's)", e.name),
                fix.clone(),
            ),
            None => Problem::error(
                message,
                format!(
                    "remove the one you do not want: binfmtctl disable --name {}",
                    e.name
                ),
            ),
        })
    }
}

/// An enabled entry matching `magic` under `mask` at offset 0, interpreter
/// `/usr/bin/qemu-NAME`, flag F: for tests of what check makes of a table.
///
/// # Panics
///
/// When `name` is not a valid entry name.
#[cfg(test)]
pub fn test_entry(name: &str, magic: &[u8], mask: &[u8]) -> Entry {
    let text = format!(
        "enabled\ninterpreter /usr/bin/qemu-{name}\nflags: F\noffset 0\nmagic {}\nmask {}\n",
        crate::binfmt::Bytes(magic.to_vec()).to_hex(),
        crate::binfmt::Bytes(mask.to_vec()).to_hex()
    );
    Entry::parse(name.parse().unwrap(), &text).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::program_kinds;

    #[test]
    fn entries_taking_only_some_programs_are_named() {
        let probe = crate::probe::for_system("riscv64-linux").unwrap();
        let magic = &probe.bytes[..20];
        let mut exact = [0xff; 20];
        exact[7] = 0; // EI_OSABI: any
        let mut both = exact;
        both[16] = 0xfe; // ET_EXEC and ET_DYN
        let mut pie = magic.to_vec();
        pie[16] = 3;
        let root = Path::new("/b");
        let problems = |entries: &[Entry]| {
            Dispatch::new("riscv64-linux", program_kinds(&probe.bytes), entries)
                .problems("riscv64-linux", root, &BTreeMap::new(), true)
                .into_iter()
                .map(|p| format!("{}: {} | {}", p.severity, p.message, p.fix))
                .collect::<Vec<_>>()
        };
        let entry = test_entry;
        // Alone, an entry for non-PIE programs leaves PIE ones to no one.
        assert_eq!(
            problems(&[entry("exec", magic, &exact)]),
            ["error: entry exec accepts only non-PIE (ET_EXEC) riscv64-linux programs: PIE (ET_DYN) ones get \"Exec format error\" | replace it by one for both: echo -1 > /b/exec && binfmtctl enable riscv64-linux"]
        );
        // Two entries that split the programs between them: each is named once.
        assert_eq!(
            problems(&[entry("pie", &pie, &exact), entry("exec", magic, &exact)]),
            [
                "warning: entry pie accepts only PIE (ET_DYN) riscv64-linux programs; non-PIE (ET_EXEC) ones go to entry exec: two entries, maybe two interpreters, for one system | replace both by one entry: echo -1 > /b/pie && echo -1 > /b/exec && binfmtctl enable riscv64-linux",
                "warning: entry exec accepts only non-PIE (ET_EXEC) riscv64-linux programs; PIE (ET_DYN) ones go to entry pie: two entries, maybe two interpreters, for one system | replace both by one entry: echo -1 > /b/exec && echo -1 > /b/pie && binfmtctl enable riscv64-linux",
            ]
        );
        // An older entry for non-PIE programs behind one for both is shadowed.
        assert_eq!(
            problems(&[entry("both", magic, &both), entry("exec", magic, &exact)]),
            ["error: entry exec also accepts riscv64-linux programs but is shadowed by the newer entry both: only both is used | remove the one you do not want: binfmtctl disable --name exec"]
        );
        // A disabled entry takes nothing.
        let mut off = entry("pie", &pie, &exact);
        off.enabled = false;
        assert!(problems(&[off, entry("both", magic, &both)]).is_empty());
    }
}
