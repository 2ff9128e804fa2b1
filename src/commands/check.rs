//! `binfmtctl check`: prove, by executing tiny probe programs, that emulation works for each
//! system, also where containers and the Nix sandbox look (an empty chroot in fresh
//! namespaces), and say precisely what to fix when it does not.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::binfmt::Entry;
use crate::cli::CheckArgs;
use crate::emulator::trial::{self, Outcome, ProbeDir};
use crate::model::diagnose::{self, Facility, Facts, Problem};
use crate::model::profile::{program_kinds, Profile};
use crate::probe;
use crate::store::state::file_id;
use crate::{elf, exit_codes, report};

/// `check --json`, documented in README.md.
#[derive(Serialize)]
struct Report {
    /// True when every system passed (exit status 0).
    ok: bool,
    systems: Vec<SystemCheck>,
    /// Findings about the table as a whole (e.g. an entry that matches native programs).
    problems: Vec<Problem>,
}

#[derive(Serialize)]
struct SystemCheck {
    system: String,
    /// Enabled entries that accept this system's programs (PIE, non-PIE or both), newest
    /// first, the order the kernel tries them in.
    entries: Vec<String>,
    /// The entry the kernel uses for the probe (a non-PIE program), when any.
    winner: Option<String>,
    interpreter: Option<String>,
    flags: Option<String>,
    /// A plain exec of the probe, through the kernel; or, when `exec_implied`, the chroot's
    /// outcome standing for it.
    exec: Outcome,
    /// True when the plain exec was not run because the exec in the empty chroot ran: the
    /// winner has flag F, so the kernel ran the very interpreter file a plain exec would,
    /// through the same entry (issue 14: one qemu start a system instead of two).
    /// `BINFMTCTL_CHECK_BOTH_EXECS=1` runs both always.
    exec_implied: bool,
    /// The probe exec'd inside an empty chroot in fresh user + mount namespaces.
    chroot: Outcome,
    /// Whether argv[0] reached the program (null when the probe did not run).
    argv0_preserved: Option<bool>,
    problems: Vec<Problem>,
    ok: bool,
}

fn error(message: String, fix: String) -> Problem {
    Problem::error(message, fix)
}

fn warning(message: String, fix: String) -> Problem {
    Problem::warning(message, fix)
}

pub fn run(ctx: &Ctx, args: &CheckArgs) -> Result<ExitCode> {
    let entries: Vec<Entry> = if ctx.registry.is_mounted() {
        ctx.registry.entries()?
    } else {
        Vec::new()
    };
    let config = ctx.config()?;
    let state = ctx.state()?;
    let systems = select_systems(ctx, args, &config, &entries)?;
    let dir = ProbeDir::new()?;
    let both_execs = std::env::var_os(BOTH_EXECS).is_some_and(|v| v == "1");
    let facility = if !ctx.registry.is_mounted() {
        Facility::Unmounted
    } else if ctx.registry.facility_enabled()? {
        Facility::Enabled
    } else {
        Facility::Disabled
    };
    let mut problems = table_problems(&entries, ctx.registry.root());
    // How to be rid of each entry binfmtctl did not make, for shadowing warnings.
    let scanned = crate::binfmt::binfmtd::scan(crate::binfmt::binfmtd::DIRS);
    let foreign: BTreeMap<String, String> = entries
        .iter()
        .filter(|e| !ctx.is_ours(e, &config, &state))
        .map(|e| {
            let fix = crate::binfmt::binfmtd::remove_for_good(&scanned, e).unwrap_or_else(|| {
                format!(
                    "remove it if you do not want it: binfmtctl disable --name {}",
                    e.name
                )
            });
            (e.name.to_string(), fix)
        })
        .collect();
    // Every probe file is written (and closed) before anything else starts a process: a file
    // still open for writing in a child that is just being forked makes exec fail with ETXTBSY.
    for system in &systems {
        write_probe(system, &dir)?;
    }
    // Asking Nix takes as long as a few probes: do it while they run.
    let nix_conf = ctx.nix_conf.clone();
    let nix_platforms = std::thread::spawn(move || nix_platforms(&nix_conf));
    let checks: Vec<SystemCheck> = std::thread::scope(|scope| {
        let handles: Vec<_> = systems
            .iter()
            .map(|system| {
                let around = Around {
                    entries: &entries,
                    state: &state,
                    foreign: &foreign,
                    dir: &dir,
                    facility,
                    both_execs,
                };
                scope.spawn(move || check_system(ctx, system, &around))
            })
            .collect();
        handles
            .into_iter()
            .zip(&systems)
            .map(|(h, system)| joined(system, h.join()))
            .collect::<Result<Vec<_>>>()
    })?;
    if let Some(platforms) = nix_platforms.join().unwrap_or(None) {
        // A system the host runs natively needs no platform entry from binfmtctl (and `enable`
        // refuses it): Nix builds for it as the host's own, or not at all. The table, not the
        // measurement: measuring runs every probe again (~20 ms, on every check).
        let native = crate::emulator::native::table();
        let missing: Vec<&str> = checks
            .iter()
            .map(|c| c.system.as_str())
            .filter(|s| !platforms.iter().any(|p| p == s) && !native.contains(s))
            .collect();
        // Once for all the systems, not once a system (34 systems gave 68 lines).
        if !missing.is_empty() {
            let list = missing.join(", ");
            let verb = if missing.len() == 1 { "is" } else { "are" };
            problems.push(warning(
                format!("Nix is installed but {list} {verb} not in its extra-platforms: Nix will refuse to build {list} derivations"),
                format!("binfmtctl enable --nix {} (then restart nix-daemon if one runs)", missing.join(" ")),
            ));
        }
    }
    // binfmt_misc as a whole, said once: by the systems it fails (the same words for each,
    // diagnose::facility_problem), else here. Only emulated systems need binfmt_misc: `check
    // x86_64-linux` on an x86_64 host does not, so then it is a warning.
    if let Some(mut p) = diagnose::facility_problem(facility, ctx.registry.root()) {
        let native = crate::emulator::native::table();
        let said = checks.iter().flat_map(|c| &c.problems).any(|q| *q == p);
        if !said {
            if checks.iter().all(|c| native.contains(&c.system.as_str())) && !checks.is_empty() {
                p.severity = diagnose::Severity::Warning;
            }
            problems.push(p);
        }
    }
    let ok = checks.iter().all(|c| c.ok) && problems.iter().all(|p| !p.is_error());
    let report = Report {
        ok,
        systems: checks,
        problems,
    };
    if args.json {
        report::print_json(&report)?;
    } else {
        report::print(&render(&report))?;
    }
    Ok(if ok {
        exit_codes::success()
    } else {
        exit_codes::wanting()
    })
}

/// The systems to check: those named, else the configured ones and every system a
/// registered entry runs.
fn select_systems(
    ctx: &Ctx,
    args: &CheckArgs,
    config: &crate::store::config::Config,
    entries: &[Entry],
) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    if args.systems.is_empty() {
        config
            .systems
            .iter()
            .flat_map(crate::store::config::SystemConfig::systems)
            .for_each(&mut push);
        // An entry that takes only PIE (or only non-PIE) programs of a system counts too.
        for e in entries.iter().filter(|e| e.enabled) {
            ctx.profiles
                .all()
                .iter()
                .filter(|p| {
                    p.sample_headers()
                        .iter()
                        .any(|h| e.matcher.matches_header(h))
                })
                .for_each(|p| push(&p.system));
        }
    } else {
        for name in &args.systems {
            push(&ctx.profiles.lookup(name)?.system);
        }
    }
    Ok(out)
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
    let message = format!("binfmtctl hit an internal error while checking {system}: {what}");
    Ok(SystemCheck {
        system: system.to_owned(),
        entries: Vec::new(),
        winner: None,
        interpreter: None,
        flags: None,
        exec: Outcome::Failed {
            message: message.clone(),
        },
        exec_implied: false,
        chroot: Outcome::NotTested {
            reason: "binfmtctl hit an internal error".to_owned(),
        },
        argv0_preserved: None,
        problems: vec![error(
            message,
            "please report it as a binfmtctl bug, with the output of binfmtctl status --json"
                .into(),
        )],
        ok: false,
    })
}

/// Who gets a system's programs: the headers they start with, one per kind of
/// [`crate::elf::PROGRAM_KINDS`] (non-PIE, PIE), and for each the entry the kernel uses.
struct Dispatch<'e> {
    headers: Vec<Vec<u8>>,
    /// Per kind: the newest enabled entry whose magic matches (the kernel's rule).
    winners: Vec<Option<&'e Entry>>,
    /// Enabled entries that match any of the headers, newest first.
    accepting: Vec<&'e Entry>,
}

impl<'e> Dispatch<'e> {
    /// From the probe's own header when there is a probe (the bytes the kernel matches when
    /// check execs it), else from the profile's magic.
    fn new(profile: &Profile, probe: Option<&probe::Probe>, entries: &'e [Entry]) -> Self {
        let headers = probe.map_or_else(|| profile.sample_headers(), |p| program_kinds(&p.bytes));
        let matching = |e: &&Entry, h: &[u8]| e.enabled && e.matcher.matches_header(h);
        // The probe's file is named after its system: no extension entry takes it.
        let winners = headers
            .iter()
            .map(|h| crate::binfmt::winner(entries, Path::new(&*profile.system), h))
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
    fn probe_winner(&self) -> Option<&'e Entry> {
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
    fn problems(
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
                // Shadowed by an entry that runs its programs as it would: nothing is lost.
                let stood_in = (0..kinds.len())
                    .filter(|&k| accepts[k])
                    .all(|k| self.winners[k].is_some_and(|w| w.runs_like(e)));
                if stood_in {
                    continue;
                }
                let over = accepts
                    .iter()
                    .position(|&a| a)
                    .and_then(|k| self.winners[k])
                    .map_or("?", |w| w.name.as_str());
                let message = format!("entry {} also accepts {system} programs but is shadowed by the newer entry {over}: only {over} is used", e.name);
                out.push(match foreign.get(e.name.as_str()).filter(|_| winner_runs) {
                    Some(fix) => warning(
                        format!("{message} (entry {} is not binfmtctl's)", e.name),
                        fix.clone(),
                    ),
                    None => error(
                        message,
                        format!(
                            "remove the one you do not want: binfmtctl disable --name {}",
                            e.name
                        ),
                    ),
                });
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
                (Some(o), _) => out.push(error(
                    format!("{only} and, being newer, takes them from entry {}: they run with {}", o.name, e.interpreter),
                    format!("remove it: {remove}"),
                )),
                (None, None) => out.push(error(
                    format!("{only}: {} ones get \"Exec format error\"", kinds[rest].1),
                    format!("replace it by one for both: {remove} && binfmtctl enable {system}"),
                )),
                (None, Some(other)) => out.push(warning(
                    format!("{only}; {} ones go to entry {}: two entries, maybe two interpreters, for one system", kinds[rest].1, other.name),
                    format!("replace both by one entry: {remove} && echo -1 > {} && binfmtctl enable {system}", root.join(other.name.as_str()).display()),
                )),
            }
        }
        out
    }
}

/// What every system's check reads: the table as it was when `check` started.
struct Around<'a> {
    entries: &'a [Entry],
    state: &'a crate::store::state::State,
    /// How to be rid of each entry binfmtctl did not make.
    foreign: &'a BTreeMap<String, String>,
    dir: &'a ProbeDir,
    facility: Facility,
    /// [`BOTH_EXECS`] is set: the plain exec runs even where the chroot's proves it.
    both_execs: bool,
}

/// Set to 1, `check` runs the plain exec of every probe even where the exec in the empty
/// chroot already proves it (an entry with F): how check worked before issue 14, kept for
/// comparison (bench/bench.py) and for whoever wants both execs seen.
pub const BOTH_EXECS: &str = "BINFMTCTL_CHECK_BOTH_EXECS";

fn check_system(ctx: &Ctx, system: &str, around: &Around) -> Result<SystemCheck> {
    let profile = ctx.profiles.lookup(system)?;
    let probe = probe::for_system(system);
    let dispatch = Dispatch::new(profile, probe.as_ref(), around.entries);
    let winner = dispatch.probe_winner();
    let (exec, chroot, exec_implied) = match &probe {
        Some(p) => run_probe(
            p,
            around.dir,
            winner.is_some_and(|w| w.flags.fix_binary) && !around.both_execs,
        ),
        None => (Outcome::NotProbed, Outcome::NotProbed, false),
    };
    // The facts the diagnosis needs from files: only read when they can matter.
    let emulates_other = winner
        .filter(|_| matches!(exec, Outcome::Failed { .. }))
        .and_then(|w| diagnose::emulated_by(&w.interpreter, profile, &ctx.profiles));
    let interpreter_dynamic = winner.is_some_and(|w| {
        chroot == Outcome::NoInterpreter
            && elf::read_file(Path::new(&w.interpreter)).is_ok_and(|i| !i.is_static())
    });
    let own = (exec.failed() || chroot.failed())
        .then(|| crate::emulator::interpreter::find(profile))
        .flatten();
    let install_hint = crate::emulator::interpreter::install_hint(profile);
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
        interpreter_dynamic,
        own_emulator: own.as_ref().map(|i| (i.path.as_path(), i.is_static)),
        install_hint: &install_hint,
        enable: &enable,
    });
    let argv0_preserved = match &exec {
        Outcome::Ran { argv0_preserved } => Some(*argv0_preserved),
        _ => None,
    };
    if let Some(w) = winner {
        problems.extend(entry_warnings(w, profile, around.state));
    }
    problems.extend(dispatch.problems(system, ctx.registry.root(), around.foreign, !exec.failed()));
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

/// Write the system's probe into a directory of its own (the chroot: nothing but the probe).
fn write_probe(system: &str, dir: &ProbeDir) -> Result<()> {
    let Some(p) = probe::for_system(system) else {
        return Ok(());
    };
    let sub = dir.path().join(format!("{system}.d"));
    std::fs::DirBuilder::new().mode(0o755).create(&sub)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(sub.join(p.system))?;
    f.write_all(&p.bytes)?;
    Ok(())
}

/// Execute the system's probe (written by `write_probe`) plainly and in an empty chroot:
/// (plain, chroot, whether the plain outcome is the chroot's standing for it).
///
/// `chroot_proves` (the winning entry has flag F): the kernel opened the interpreter at
/// registration and runs that file wherever the exec happens, so a run in the empty chroot,
/// through the same entry, proves the plain exec too and carries the argv[0] test. Then the
/// chroot goes first, and the plain exec runs only when the chroot's did not: to tell what
/// failed where. Each exec is a qemu start, the bulk of check's CPU time (BENCHMARKS.md, 4).
fn run_probe(p: &probe::Probe, dir: &ProbeDir, chroot_proves: bool) -> (Outcome, Outcome, bool) {
    let sub = dir.path().join(format!("{}.d", p.system));
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

/// Warnings about the winning entry and its interpreter.
fn entry_warnings(
    w: &Entry,
    profile: &Profile,
    state: &crate::store::state::State,
) -> Vec<Problem> {
    let system = &*profile.system;
    let mut out = Vec::new();
    let interp = Path::new(&w.interpreter);
    let reenable = format!("binfmtctl enable {system} --force");
    if interp.exists() {
        if let (Some(owned), Some(now)) = (state.get(&w.name), file_id(interp)) {
            if w.flags.fix_binary && owned.interpreter_id.is_some_and(|then| then != now) {
                out.push(warning(
                    format!("{} was replaced since entry {} was registered: the kernel still runs the old file (flag F)", w.interpreter, w.name),
                    "binfmtctl apply (re-registers it)".into(),
                ));
            }
        }
        if elf::read_file(interp).is_ok_and(|i| !i.is_static()) {
            out.push(match profile.cpu {
                Some(_) => warning(
                    format!("{} is dynamically linked: the emulated programs' LD_* variables reach the host qemu, and chroots cannot load it", w.interpreter),
                    format!("install qemu-user-static, then {reenable}"),
                ),
                // Not qemu (wasmtime, wine): no qemu advice.
                None => warning(
                    format!("{} is dynamically linked: chroots (containers, the Nix sandbox) cannot load it", w.interpreter),
                    format!("where {system} programs must run there, register a statically linked {} with F: {reenable} --interpreter PATH", profile.interpreters.join(" or ")),
                ),
            });
        }
        if let Some(bad) = crate::emulator::interpreter::untrusted(interp) {
            out.push(warning(
                format!("{} can be changed by users other than root ({bad}): they could run code in every emulated program", w.interpreter),
                format!("chown root:root {0} && chmod go-w {0}", bad.path.display()),
            ));
        }
    } else {
        // With F the kernel keeps running the deleted file; without F every exec fails
        // (reported above). Either way the registration no longer stands for what is installed.
        let kept = if w.flags.fix_binary {
            " (flag F keeps the old file running until the entry is registered again)"
        } else {
            ""
        };
        out.push(error(
            format!(
                "the interpreter {} of entry {} was deleted{kept}",
                w.interpreter, w.name
            ),
            format!("reinstall the emulator, or register the one installed now: {reenable}"),
        ));
    }
    if w.flags.credentials {
        out.push(warning(
            format!("entry {} has flag C: setuid {system} programs run with raised privileges inside qemu-user, which is no security boundary", w.name),
            format!("re-register without it: {reenable}"),
        ));
    }
    out
}

/// Problems of the table as a whole: an entry that accepts this host's own programs makes
/// every native exec recurse into the interpreter (ELOOP).
fn table_problems(entries: &[Entry], root: &Path) -> Vec<Problem> {
    let own = crate::emulator::native::own_headers();
    entries
        .iter()
        .filter(|e| e.enabled && crate::emulator::native::captures(&e.matcher, own))
        .map(|e| {
            error(
                format!("entry {} accepts this host's own native programs: every native exec would loop through {}", e.name, e.interpreter),
                format!("remove it now: echo -1 > {}", root.join(e.name.as_str()).display()),
            )
        })
        .collect()
}

/// Nix's platforms (`system`, `extra-platforms`), when Nix is installed: what `nix
/// show-config` says, reading `nix_conf` (`--nix-conf`, else `$NIX_CONF_DIR/nix.conf`, the file
/// binfmtctl manages) where Nix would look for it, plus what `nix_conf` and its includes set
/// themselves (a `--nix-conf` not named nix.conf, which Nix cannot be pointed at).
fn nix_platforms(nix_conf: &Path) -> Option<Vec<String>> {
    let nix = which::which("nix").ok()?;
    let mut cmd = std::process::Command::new(nix);
    cmd.args([
        "--extra-experimental-features",
        "nix-command",
        "show-config",
    ]);
    if let Some(dir) = nix_conf
        .parent()
        .filter(|_| nix_conf.file_name().is_some_and(|n| n == "nix.conf"))
    {
        cmd.env("NIX_CONF_DIR", dir);
    }
    let out = cmd.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut platforms = crate::nixconf::platforms_in(nix_conf);
    for line in text.lines() {
        for key in ["system = ", "extra-platforms = "] {
            if let Some(v) = line.strip_prefix(key) {
                platforms.extend(v.split_whitespace().map(str::to_owned));
            }
        }
    }
    out.status.success().then_some(platforms)
}

/// The table for people: a row a system, each cell a word or two (a message in a cell made
/// rows 400 columns wide); then the problems, each said once with the systems it concerns.
fn render(report: &Report) -> String {
    let rows: Vec<Vec<String>> = report
        .systems
        .iter()
        .map(|c| {
            let argv0 = match c.argv0_preserved {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            };
            vec![
                c.system.clone(),
                if c.ok { "ok" } else { "FAIL" }.to_owned(),
                c.winner.clone().unwrap_or_else(|| "-".into()),
                c.flags.clone().unwrap_or_else(|| "-".into()),
                c.exec.word().to_owned(),
                c.chroot.word().to_owned(),
                argv0.to_owned(),
            ]
        })
        .collect();
    let mut text = if rows.is_empty() {
        "nothing to check: no system is configured and no entry is registered (binfmtctl enable SYSTEM)\n".to_owned()
    } else {
        report::table(
            &[
                "SYSTEM", "RESULT", "ENTRY", "FLAGS", "EXEC", "CHROOT", "ARGV0",
            ],
            &rows,
        )
    };
    // The same problem of several systems (binfmt_misc switched off) is said once.
    let mut said: Vec<(&Problem, Vec<&str>)> = Vec::new();
    for c in &report.systems {
        for p in &c.problems {
            match said.iter_mut().find(|(q, _)| *q == p) {
                Some((_, systems)) => systems.push(&c.system),
                None => said.push((p, vec![&c.system])),
            }
        }
    }
    for (p, systems) in said {
        text += &format!(
            "{} {}: {}\n    fix: {}\n",
            p.severity,
            systems.join(", "),
            p.message,
            p.fix
        );
    }
    for p in &report.problems {
        text += &format!("{}: {}\n    fix: {}\n", p.severity, p.message, p.fix);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binfmt::Bytes;

    /// An enabled entry matching `magic` under `mask` at offset 0.
    fn entry(name: &str, magic: &[u8], mask: &[u8]) -> Entry {
        let text = format!(
            "enabled\ninterpreter /usr/bin/qemu-{name}\nflags: F\noffset 0\nmagic {}\nmask {}\n",
            Bytes(magic.to_vec()).to_hex(),
            Bytes(mask.to_vec()).to_hex()
        );
        Entry::parse(name.parse().unwrap(), &text).unwrap()
    }

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

    #[test]
    fn the_native_loop_fix_names_the_registry_root() {
        let own = elf::read_file(&std::env::current_exe().unwrap()).unwrap();
        let native = entry("native", &own.header[..20], &[0xff; 20]);
        let problems = table_problems(&[native], Path::new("/mnt/binfmt"));
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].fix,
            "remove it now: echo -1 > /mnt/binfmt/native"
        );
    }

    #[test]
    fn entries_taking_only_some_programs_are_named() {
        let profiles = crate::model::profile::Profiles::builtin().unwrap();
        let profile = profiles.lookup("riscv64-linux").unwrap();
        let probe = probe::for_system("riscv64-linux").unwrap();
        let magic = &probe.bytes[..20];
        let mut exact = [0xff; 20];
        exact[7] = 0; // EI_OSABI: any
        let mut both = exact;
        both[16] = 0xfe; // ET_EXEC and ET_DYN
        let mut pie = magic.to_vec();
        pie[16] = 3;
        let root = Path::new("/b");
        let problems = |entries: &[Entry]| {
            Dispatch::new(profile, Some(&probe), entries)
                .problems("riscv64-linux", root, &BTreeMap::new(), true)
                .into_iter()
                .map(|p| format!("{}: {} | {}", p.severity, p.message, p.fix))
                .collect::<Vec<_>>()
        };
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
