//! What a probe's outcome means: the facts gathered about one system (binfmt_misc as a whole,
//! the entry the kernel uses, how the probe's execs went, the emulators installed) -> the
//! problems, each with its fix. Pure: `check` and `enable` gather the facts and both ask
//! [`diagnose`], so they say the same thing about the same table (issue 14, section 4).
//! Beside it: which entry takes which of a system's programs (`dispatch`), the used entry's
//! interpreter file (`winner`), the table and host as a whole (`table`).

use std::path::Path;

use serde::Serialize;

use crate::binfmt::Entry;
use crate::model::outcome::Outcome;
use crate::model::profile::{Profile, Profiles};

mod dispatch;
mod table;
mod winner;

#[cfg(test)]
pub use dispatch::test_entry;
pub use dispatch::Dispatch;
pub use table::{captures_host, facility_once, foreign_fix, internal_error, nix_platforms_missing};
pub use winner::{winner_problems, InterpreterFacts};

/// How bad a problem is: an error fails the check (exit 1), a warning does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding: what is wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// "error" (the check fails) or "warning".
    pub severity: Severity,
    pub message: String,
    pub fix: String,
}

impl Problem {
    pub fn error(message: String, fix: String) -> Problem {
        Problem {
            severity: Severity::Error,
            message,
            fix,
        }
    }

    pub fn warning(message: String, fix: String) -> Problem {
        Problem {
            severity: Severity::Warning,
            message,
            fix,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// binfmt_misc as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facility {
    /// Not mounted at the root: the kernel has no table there.
    Unmounted,
    /// Mounted, but its status file reads "disabled": the kernel runs no entry.
    Disabled,
    Enabled,
}

/// What is known about one system when its probe has been run.
pub struct Facts<'a> {
    pub system: &'a str,
    /// qemu emulates it (a `cpu` in its profile): qemu advice applies.
    pub qemu: bool,
    /// Where binfmt_misc is (or would be) mounted.
    pub root: &'a Path,
    pub facility: Facility,
    /// The entry the kernel uses for the probe, when any.
    pub winner: Option<&'a Entry>,
    /// The entry the caller registered and means to be used (`enable`), when the kernel may
    /// use a newer one instead; None from `check`, which names shadowed entries itself.
    pub meant: Option<&'a str>,
    /// The plain exec of the probe (implied by the chroot exec where that ran with flag F).
    pub exec: &'a Outcome,
    /// The exec inside an empty chroot, when it was tried (`check`, not `enable`).
    pub chroot: Option<&'a Outcome>,
    /// The system whose emulator the winner's interpreter is, when not this one
    /// (see [`emulated_by`]).
    pub emulates_other: Option<&'a str>,
    /// The winner's interpreter is dynamically linked (read from its ELF file).
    pub interpreter_dynamic: bool,
    /// This system's own emulator as installed here, when found: its path, and whether it
    /// is statically linked.
    pub own_emulator: Option<(&'a Path, bool)>,
    /// How to install the system's emulator (`emulator::interpreter::install_hint`).
    pub install_hint: &'a str,
    /// The command that registers the system again, e.g. `binfmtctl enable riscv64-linux`
    /// (`enable` adds its --name and --runtime).
    pub enable: &'a str,
}

/// The system whose emulator `interpreter` is, by its file name, when not `profile`'s own:
/// `/usr/bin/qemu-aarch64-static` for riscv64-linux gives aarch64-linux.
pub fn emulated_by(interpreter: &str, profile: &Profile, profiles: &Profiles) -> Option<String> {
    let file = Path::new(interpreter).file_name()?.to_str()?;
    let named = |p: &Profile| p.interpreters.iter().any(|i| i == file);
    if named(profile) {
        return None;
    }
    profiles
        .all()
        .iter()
        .find(|p| named(p))
        .map(|p| p.system.to_string())
}

/// The problem binfmt_misc as a whole has, when it is not enabled: the same words for every
/// system, so a report can say it once.
pub fn facility_problem(facility: Facility, root: &Path) -> Option<Problem> {
    let root_shown = root.display();
    match facility {
        Facility::Enabled => None,
        Facility::Unmounted => Some(Problem::error(
            format!("binfmt_misc is not mounted at {root_shown}, so the kernel has no entry"),
            format!("run `binfmtctl enable SYSTEM` (it mounts it) or: mount -t binfmt_misc binfmt_misc {root_shown}"),
        )),
        Facility::Disabled => {
            let status = root.join("status");
            Some(Problem::error(
                format!(
                    "binfmt_misc is disabled as a whole ({} reads \"disabled\"), so the kernel runs no entry",
                    status.display()
                ),
                format!("enable it: echo 1 > {}", status.display()),
            ))
        }
    }
}

/// The problems the facts show, errors and warnings, in the order found.
pub fn diagnose(f: &Facts) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(p) = exec_problem(f) {
        out.push(p);
    }
    if f.exec.ran() {
        if let Some(p) = f.chroot.and_then(|c| chroot_problem(f, c)) {
            out.push(p);
        }
    }
    if let (
        Some(w),
        Outcome::Ran {
            argv0_preserved: false,
        },
    ) = (f.winner, f.exec)
    {
        if w.flags.preserve_argv0 {
            out.push(Problem::error(
                format!("entry {} has flag P but argv[0] did not reach the program: the interpreter {} does not honour it (qemu >= 6 and Linux >= 5.12 needed)", w.name, w.interpreter),
                "upgrade qemu-user".into(),
            ));
        }
    }
    out
}

fn by_hand(f: &Facts) -> String {
    if f.qemu {
        "check the interpreter by hand; this may be a qemu bug".into()
    } else {
        "check the interpreter by hand".into()
    }
}

/// Why the plain exec (or the lack of one) is a problem.
fn exec_problem(f: &Facts) -> Option<Problem> {
    let system = f.system;
    let enable = f.enable;
    // Another, newer entry than the one meant took the program and failed it.
    if let (Some(meant), Some(w)) = (f.meant, f.winner) {
        if w.name.as_str() != meant && f.exec.failed() && *f.exec != Outcome::NoEntry {
            return Some(Problem::error(
                format!(
                    "its programs go to the newer entry {} (interpreter {}), which does not run them: {}",
                    w.name,
                    w.interpreter,
                    f.exec.text()
                ),
                format!(
                    "remove that entry (binfmtctl disable --name {}) or register {meant} again as the newest \
                     (binfmtctl disable {system} && {enable})",
                    w.name
                ),
            ));
        }
    }
    let no_entry = matches!(
        (f.exec, f.winner),
        (Outcome::NoEntry, _) | (Outcome::NotProbed, None)
    );
    if no_entry {
        if let Some(p) = facility_problem(f.facility, f.root) {
            return Some(p);
        }
    }
    match (f.exec, f.winner) {
        (Outcome::Ran { .. }, _) => None,
        (Outcome::NotProbed, None) => Some(Problem::error(
            format!("no enabled binfmt_misc entry accepts {system} programs"),
            enable.to_owned(),
        )),
        (Outcome::NotProbed, Some(w)) => Some(Problem::warning(
            format!("{system} not probed: binfmtctl has no probe program for it, so whether entry {} runs its programs is unknown", w.name),
            format!("run a {system} program by hand to test entry {} (interpreter {})", w.name, w.interpreter),
        )),
        (Outcome::NotTested { reason }, _) => Some(Problem::error(
            format!("the {system} probe could not be run: {reason}"),
            "run binfmtctl check where programs may run (e.g. TMPDIR=/run/user/$UID)".to_owned(),
        )),
        (Outcome::NoEntry, _) => Some(Problem::error(
            format!("no binfmt_misc entry runs {system} programs: exec gives \"Exec format error\""),
            enable.to_owned(),
        )),
        (Outcome::NoInterpreter, Some(w)) => Some(Problem::error(
            format!(
                "entry {} matches, but the kernel cannot start its interpreter {} (ENOENT: it, or the loader of a dynamic one, is missing)",
                w.name, w.interpreter
            ),
            match f.own_emulator {
                Some((path, _)) => format!(
                    "install the emulator again, or register the one installed: {enable} --interpreter {} --force",
                    path.display()
                ),
                None => format!("{}; then {enable} --force", f.install_hint),
            },
        )),
        (Outcome::Failed { .. }, Some(w)) if f.emulates_other.is_some() => {
            let other = f.emulates_other.unwrap_or_default();
            Some(Problem::error(
                format!("the interpreter {} emulates {other}, not {system}", w.interpreter),
                match f.own_emulator {
                    Some((path, _)) => format!(
                        "register {system}'s own emulator: {enable} --interpreter {}",
                        path.display()
                    ),
                    None => format!("{}; then {enable}", f.install_hint),
                },
            ))
        }
        (other, _) => Some(Problem::error(
            format!("the {system} probe did not run through the kernel: {}", other.text()),
            by_hand(f),
        )),
    }
}

/// Why the exec inside the empty chroot is a problem, the plain exec having run.
fn chroot_problem(f: &Facts, chroot: &Outcome) -> Option<Problem> {
    match chroot {
        Outcome::Ran { .. } | Outcome::NotProbed => None,
        Outcome::NoInterpreter => Some(chroot_unreachable(f)),
        Outcome::NotTested { reason } => Some(Problem::warning(
            format!(
                "chroot not tested: {reason}{}",
                match f.winner {
                    Some(w) if !w.flags.fix_binary => format!(" (entry {} lacks flag F, so it would not work there)", w.name),
                    _ => String::new(),
                }
            ),
            "run binfmtctl check as root, or where new user namespaces are allowed (sysctl user.max_user_namespaces > 0; Ubuntu: sysctl kernel.apparmor_restrict_unprivileged_userns=0; Docker: --security-opt seccomp=unconfined)".into(),
        )),
        other => Some(Problem::error(
            format!("inside an empty chroot the probe failed: {}", other.text()),
            by_hand(f),
        )),
    }
}

/// The probe ran plainly but got ENOENT in the empty chroot: without F the kernel looks the
/// interpreter up there; with F it has the file, but a dynamic one still needs its loader and
/// libraries, which are not there.
fn chroot_unreachable(f: &Facts) -> Problem {
    let seen = "inside an empty chroot (what containers and the Nix sandbox see) the interpreter";
    let Some(w) = f.winner.filter(|w| w.flags.fix_binary) else {
        return Problem::error(
            format!(
                "{seen} {} is not reachable: the entry lacks flag F",
                f.winner.map_or("?", |w| w.interpreter.as_str())
            ),
            format!(
                "register a static qemu with F: install qemu-user-static, then {} --force",
                f.enable
            ),
        );
    };
    if !f.interpreter_dynamic {
        return Problem::error(
            format!(
                "{seen} {} was not found (ENOENT) although entry {} has flag F",
                w.interpreter, w.name
            ),
            format!(
                "register it again (F takes the file as it is then): {} --force",
                f.enable
            ),
        );
    }
    let fix = match f.own_emulator.filter(|(_, is_static)| *is_static) {
        Some((path, _)) => format!(
            "use a static qemu: {} --interpreter {} --force",
            f.enable,
            path.display()
        ),
        None => format!(
            "use a static qemu: {}; then {} --force",
            f.install_hint, f.enable
        ),
    };
    Problem::error(
        format!("{seen} {} does not start: it has flag F but is dynamically linked, and its loader and libraries are not there", w.interpreter),
        fix,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, interpreter: &str, flags: &str) -> Entry {
        let text = format!(
            "enabled\ninterpreter {interpreter}\nflags: {flags}\noffset 0\nmagic 7f454c46\nmask ffffffff\n"
        );
        Entry::parse(name.parse().unwrap(), &text).unwrap()
    }

    fn facts<'a>(winner: Option<&'a Entry>, exec: &'a Outcome) -> Facts<'a> {
        Facts {
            system: "riscv64-linux",
            qemu: true,
            root: Path::new("/b"),
            facility: Facility::Enabled,
            winner,
            meant: None,
            exec,
            chroot: None,
            emulates_other: None,
            interpreter_dynamic: false,
            own_emulator: Some((Path::new("/q/qemu-riscv64-static"), true)),
            install_hint: "install qemu",
            enable: "binfmtctl enable riscv64-linux",
        }
    }

    fn said(f: &Facts) -> Vec<String> {
        diagnose(f)
            .into_iter()
            .map(|p| format!("{}: {} | {}", p.severity, p.message, p.fix))
            .collect()
    }

    #[test]
    fn each_outcome_gets_its_problem() {
        let pf = entry("riscv64-linux", "/q/qemu-riscv64-static", "PF");
        let arm = entry("riscv64-linux", "/q/qemu-aarch64-static", "PF");
        let newer = entry("qemu-riscv64", "/gone/qemu", "");
        let ran = Outcome::Ran {
            argv0_preserved: true,
        };
        let failed = Outcome::Failed {
            message: "it crashed".into(),
        };
        let enoent = Outcome::NoInterpreter;
        let enoexec = Outcome::NoEntry;
        let not_probed = Outcome::NotProbed;
        let disabled = Facts {
            facility: Facility::Disabled,
            ..facts(Some(&pf), &enoexec)
        };
        let unmounted = Facts {
            facility: Facility::Unmounted,
            ..facts(None, &not_probed)
        };
        let other_arch = Facts {
            emulates_other: Some("aarch64-linux"),
            ..facts(Some(&arm), &failed)
        };
        let newer_failed = Facts {
            meant: Some("riscv64-linux"),
            ..facts(Some(&newer), &enoent)
        };
        let lost_argv0 = Outcome::Ran {
            argv0_preserved: false,
        };
        let cases: Vec<(&str, Facts, Vec<&str>)> = vec![
            ("runs", facts(Some(&pf), &ran), vec![]),
            ("disabled: the facility, not \"enable\"", disabled, vec![
                "error: binfmt_misc is disabled as a whole (/b/status reads \"disabled\"), so the kernel runs no entry | enable it: echo 1 > /b/status",
            ]),
            ("unmounted", unmounted, vec![
                "error: binfmt_misc is not mounted at /b, so the kernel has no entry | run `binfmtctl enable SYSTEM` (it mounts it) or: mount -t binfmt_misc binfmt_misc /b",
            ]),
            ("no entry", facts(None, &enoexec), vec![
                "error: no binfmt_misc entry runs riscv64-linux programs: exec gives \"Exec format error\" | binfmtctl enable riscv64-linux",
            ]),
            ("another architecture's qemu: not a qemu bug", other_arch, vec![
                "error: the interpreter /q/qemu-aarch64-static emulates aarch64-linux, not riscv64-linux | register riscv64-linux's own emulator: binfmtctl enable riscv64-linux --interpreter /q/qemu-riscv64-static",
            ]),
            ("a failure nothing explains", facts(Some(&pf), &failed), vec![
                "error: the riscv64-linux probe did not run through the kernel: it crashed | check the interpreter by hand; this may be a qemu bug",
            ]),
            ("interpreter missing", facts(Some(&newer), &enoent), vec![
                "error: entry qemu-riscv64 matches, but the kernel cannot start its interpreter /gone/qemu (ENOENT: it, or the loader of a dynamic one, is missing) | install the emulator again, or register the one installed: binfmtctl enable riscv64-linux --interpreter /q/qemu-riscv64-static --force",
            ]),
            ("enable: a newer entry took the programs", newer_failed, vec![
                "error: its programs go to the newer entry qemu-riscv64 (interpreter /gone/qemu), which does not run them: interpreter not found (ENOENT) | remove that entry (binfmtctl disable --name qemu-riscv64) or register riscv64-linux again as the newest (binfmtctl disable riscv64-linux && binfmtctl enable riscv64-linux)",
            ]),
            ("P not honoured", facts(Some(&pf), &lost_argv0), vec![
                "error: entry riscv64-linux has flag P but argv[0] did not reach the program: the interpreter /q/qemu-riscv64-static does not honour it (qemu >= 6 and Linux >= 5.12 needed) | upgrade qemu-user",
            ]),
            ("no probe", facts(Some(&pf), &not_probed), vec![
                "warning: riscv64-linux not probed: binfmtctl has no probe program for it, so whether entry riscv64-linux runs its programs is unknown | run a riscv64-linux program by hand to test entry riscv64-linux (interpreter /q/qemu-riscv64-static)",
            ]),
        ];
        for (what, f, want) in &cases {
            assert_eq!(said(f), *want, "{what}");
        }
    }

    #[test]
    fn the_chroot_is_judged_only_after_a_plain_run() {
        let pf = entry("riscv64-linux", "/q/qemu-riscv64-static", "PF");
        let p = entry("riscv64-linux", "/usr/bin/qemu-riscv64", "P");
        let ran = Outcome::Ran {
            argv0_preserved: true,
        };
        let enoent = Outcome::NoInterpreter;
        let chrooted = |winner, exec, chroot, dynamic| Facts {
            chroot: Some(chroot),
            interpreter_dynamic: dynamic,
            ..facts(winner, exec)
        };
        assert_eq!(
            said(&chrooted(Some(&pf), &ran, &ran, false)),
            Vec::<String>::new()
        );
        assert_eq!(
            said(&chrooted(Some(&p), &ran, &enoent, true)),
            ["error: inside an empty chroot (what containers and the Nix sandbox see) the interpreter /usr/bin/qemu-riscv64 is not reachable: the entry lacks flag F | register a static qemu with F: install qemu-user-static, then binfmtctl enable riscv64-linux --force"]
        );
        assert_eq!(
            said(&chrooted(Some(&pf), &ran, &enoent, true)),
            ["error: inside an empty chroot (what containers and the Nix sandbox see) the interpreter /q/qemu-riscv64-static does not start: it has flag F but is dynamically linked, and its loader and libraries are not there | use a static qemu: binfmtctl enable riscv64-linux --interpreter /q/qemu-riscv64-static --force"]
        );
        // The plain exec failed: that is the problem; the chroot adds nothing.
        assert_eq!(said(&chrooted(Some(&pf), &enoent, &enoent, false)).len(), 1);
    }

    #[test]
    fn an_interpreter_is_named_for_the_system_it_emulates() {
        let profiles = Profiles::builtin().unwrap();
        let rv = profiles.lookup("riscv64-linux").unwrap();
        assert_eq!(
            emulated_by("/usr/bin/qemu-aarch64-static", rv, &profiles).as_deref(),
            Some("aarch64-linux")
        );
        assert_eq!(
            emulated_by("/usr/bin/qemu-riscv64-static", rv, &profiles),
            None
        );
        assert_eq!(emulated_by("/opt/my-emulator", rv, &profiles), None);
    }
}
