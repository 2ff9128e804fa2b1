//! `binfmtctl check`: prove, by executing tiny probe programs, that emulation works for each
//! system, also where containers and the Nix sandbox look (an empty chroot in fresh
//! namespaces), and say precisely what to fix when it does not.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::cli::CheckArgs;
use crate::probe;
use crate::registry::Entry;
use crate::state::file_id;
use crate::trial::{self, Outcome, ProbeDir};
use crate::{elf, exit_codes, output};

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
    /// Enabled entries that accept this system's programs, newest (winning) first.
    entries: Vec<String>,
    /// The entry the kernel uses, when any.
    winner: Option<String>,
    interpreter: Option<String>,
    flags: Option<String>,
    /// A plain exec of the probe, through the kernel.
    exec: Outcome,
    /// The probe exec'd inside an empty chroot in fresh user + mount namespaces.
    chroot: Outcome,
    /// Whether argv[0] reached the program (null when the probe did not run).
    argv0_preserved: Option<bool>,
    problems: Vec<Problem>,
    ok: bool,
}

#[derive(Serialize, Clone)]
struct Problem {
    /// "error" (the check fails) or "warning".
    severity: &'static str,
    message: String,
    fix: String,
}

fn error(message: String, fix: String) -> Problem {
    Problem {
        severity: "error",
        message,
        fix,
    }
}

fn warning(message: String, fix: String) -> Problem {
    Problem {
        severity: "warning",
        message,
        fix,
    }
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
    let mut problems = table_problems(&entries);
    // Every probe file is written (and closed) before anything else starts a process: a file
    // still open for writing in a child that is just being forked makes exec fail with ETXTBSY.
    for system in &systems {
        write_probe(system, &dir)?;
    }
    // Asking Nix takes as long as a few probes: do it while they run.
    let nix_platforms = std::thread::spawn(nix_platforms);
    let checks: Vec<SystemCheck> = std::thread::scope(|scope| {
        let handles: Vec<_> = systems
            .iter()
            .map(|system| {
                let (entries, state, dir) = (&entries, &state, &dir);
                scope.spawn(move || check_system(ctx, system, entries, state, dir))
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .collect::<Result<Vec<_>>>()
    })?;
    let mut checks = checks;
    if let Some(platforms) = nix_platforms.join().unwrap_or(None) {
        for c in checks.iter_mut().filter(|c| !platforms.contains(&c.system)) {
            let system = &c.system;
            c.problems.push(warning(
                format!("Nix is installed but {system} is not in its extra-platforms: Nix will refuse to build {system} derivations"),
                format!("binfmtctl enable --nix {system} (then restart nix-daemon if one runs)"),
            ));
        }
    }
    if !ctx.registry.is_mounted() {
        problems.push(error(
            format!("binfmt_misc is not mounted at {}", ctx.registry.root().display()),
            "run `binfmtctl enable SYSTEM` (it mounts it) or: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc".into(),
        ));
    } else if !ctx.registry.facility_enabled()? {
        problems.push(error(
            "binfmt_misc is disabled as a whole (its status file reads \"disabled\")".into(),
            format!("echo 1 > {}", ctx.registry.root().join("status").display()),
        ));
    }
    let ok = checks.iter().all(|c| c.ok) && problems.iter().all(|p| p.severity != "error");
    let report = Report {
        ok,
        systems: checks,
        problems,
    };
    if args.json {
        output::print_json(&report)?;
    } else {
        output::print(&render(&report))?;
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
    config: &crate::config::Config,
    entries: &[Entry],
) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    if args.systems.is_empty() {
        config.systems.iter().for_each(|r| push(&r.system));
        for e in entries.iter().filter(|e| e.enabled) {
            ctx.profiles
                .accepted_by(&e.matcher)
                .iter()
                .for_each(|p| push(&p.system));
        }
    } else {
        for name in &args.systems {
            push(&ctx.profiles.lookup(name)?.system);
        }
    }
    Ok(out)
}

fn check_system(
    ctx: &Ctx,
    system: &str,
    entries: &[Entry],
    state: &crate::state::State,
    dir: &ProbeDir,
) -> Result<SystemCheck> {
    let profile = ctx.profiles.lookup(system)?;
    let accepting: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.enabled && profile.accepted_by(&e.matcher))
        .collect();
    let winner = accepting.first().copied();
    let mut problems = Vec::new();
    let (exec, chroot) = run_probe(system, dir);
    let enable = format!("binfmtctl enable {system}");
    match (&exec, winner) {
        (Outcome::Ran { .. }, _) => {}
        (Outcome::NoEntry, _) => problems.push(error(
            format!(
                "no binfmt_misc entry runs {system} programs: exec gives \"Exec format error\""
            ),
            enable.clone(),
        )),
        (Outcome::NoInterpreter, Some(w)) => problems.push(error(
            format!(
                "entry {} matches, but its interpreter {} cannot be opened",
                w.name, w.interpreter
            ),
            format!("install the emulator again or re-register: {enable} --force"),
        )),
        (other, _) => problems.push(error(
            format!(
                "the {system} probe did not run through the kernel: {}",
                outcome_text(other)
            ),
            "check the interpreter by hand; this may be a qemu bug".into(),
        )),
    }
    if exec.ran() {
        match &chroot {
            Outcome::Ran { .. } => {}
            Outcome::NoInterpreter => problems.push(error(
                format!(
                    "inside an empty chroot (what containers and the Nix sandbox see) the interpreter {} is not reachable: the entry lacks flag F",
                    winner.map_or("?", |w| w.interpreter.as_str())
                ),
                format!("register a static qemu with F: install qemu-user-static, then {enable} --force"),
            )),
            other => problems.push(error(format!("inside an empty chroot the probe failed: {}", outcome_text(other)), enable.clone())),
        }
    }
    let argv0_preserved = match &exec {
        Outcome::Ran { argv0_preserved } => Some(*argv0_preserved),
        _ => None,
    };
    if let (Some(w), Some(false)) = (winner, argv0_preserved) {
        if w.flags.preserve_argv0 {
            problems.push(error(
                format!("entry {} has flag P but argv[0] did not reach the program: the interpreter {} does not honour it (qemu >= 6 and Linux >= 5.12 needed)", w.name, w.interpreter),
                "upgrade qemu-user".into(),
            ));
        }
    }
    if let Some(w) = winner {
        problems.extend(entry_warnings(w, system, state));
    }
    for shadowed in accepting.iter().skip(1) {
        problems.push(error(
            format!("entry {} also accepts {system} programs but is shadowed by the newer entry {}: only {1} is used", shadowed.name, accepting[0].name),
            format!("remove the one you do not want: binfmtctl disable --name {}", shadowed.name),
        ));
    }
    let ok = problems.iter().all(|p| p.severity != "error");
    Ok(SystemCheck {
        system: system.to_owned(),
        entries: accepting.iter().map(|e| e.name.to_string()).collect(),
        winner: winner.map(|w| w.name.to_string()),
        interpreter: winner.map(|w| w.interpreter.clone()),
        flags: winner.map(|w| w.flags.to_string()),
        exec,
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

/// Execute the system's probe (written by `write_probe`) plainly and in an empty chroot.
fn run_probe(system: &str, dir: &ProbeDir) -> (Outcome, Outcome) {
    let Some(p) = probe::for_system(system) else {
        let none = Outcome::Failed {
            message: "binfmtctl has no probe for this system".to_owned(),
        };
        return (none.clone(), none);
    };
    let sub = dir.path().join(format!("{system}.d"));
    (
        trial::exec(&p, &sub.join(p.system)),
        trial::exec_in_chroot(&p, &sub),
    )
}

/// Warnings about the winning entry and its interpreter.
fn entry_warnings(w: &Entry, system: &str, state: &crate::state::State) -> Vec<Problem> {
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
            out.push(warning(
                format!("{} is dynamically linked: the emulated programs' LD_* variables reach the host qemu, and chroots cannot load it", w.interpreter),
                format!("install qemu-user-static, then {reenable}"),
            ));
        }
        if let Some(bad) = crate::interpreter::untrusted(interp) {
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
fn table_problems(entries: &[Entry]) -> Vec<Problem> {
    let Ok(own) =
        std::env::current_exe().and_then(|p| elf::read_file(&p).map_err(std::io::Error::other))
    else {
        return Vec::new();
    };
    let mut exec_header = own.header.clone();
    let e_type_low = if own.endian == elf::Endian::Big {
        17
    } else {
        16
    };
    let mut headers = vec![own.header.clone()];
    if exec_header.len() > e_type_low {
        exec_header[e_type_low] ^= 1; // the other of ET_EXEC / ET_DYN
        headers.push(exec_header);
    }
    entries
        .iter()
        .filter(|e| e.enabled && headers.iter().any(|h| e.matcher.matches_header(h)))
        .map(|e| {
            error(
                format!("entry {} accepts this host's own native programs: every native exec would loop through {}", e.name, e.interpreter),
                format!("remove it now: echo -1 > /proc/sys/fs/binfmt_misc/{}", e.name),
            )
        })
        .collect()
}

/// Nix's platforms (`system`, `extra-platforms`), when Nix is installed.
fn nix_platforms() -> Option<Vec<String>> {
    let nix = which::which("nix").ok()?;
    let out = std::process::Command::new(nix)
        .args([
            "--extra-experimental-features",
            "nix-command",
            "show-config",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut platforms = Vec::new();
    for line in text.lines() {
        for key in ["system = ", "extra-platforms = "] {
            if let Some(v) = line.strip_prefix(key) {
                platforms.extend(v.split_whitespace().map(str::to_owned));
            }
        }
    }
    out.status.success().then_some(platforms)
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Ran { .. } => "ran".into(),
        Outcome::NoEntry => "Exec format error (no entry)".into(),
        Outcome::NoInterpreter => "interpreter not found (ENOENT)".into(),
        Outcome::Failed { message } => message.clone(),
    }
}

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
                outcome_text(&c.exec),
                outcome_text(&c.chroot),
                argv0.to_owned(),
            ]
        })
        .collect();
    let mut text = if rows.is_empty() {
        "nothing to check: no system is configured and no entry is registered (binfmtctl enable SYSTEM)\n".to_owned()
    } else {
        output::table(
            &[
                "SYSTEM",
                "RESULT",
                "ENTRY",
                "FLAGS",
                "EXEC",
                "IN EMPTY CHROOT",
                "ARGV0",
            ],
            &rows,
        )
    };
    for c in &report.systems {
        for p in &c.problems {
            text += &format!(
                "{} {}: {}\n    fix: {}\n",
                p.severity, c.system, p.message, p.fix
            );
        }
    }
    for p in &report.problems {
        text += &format!("{}: {}\n    fix: {}\n", p.severity, p.message, p.fix);
    }
    text
}
