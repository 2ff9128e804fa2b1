//! `binfmtctl check`: prove, by executing tiny probe programs, that emulation works for each
//! system, also where containers and the Nix sandbox look, and say precisely what to fix when
//! it does not. The engine is [`crate::check`]; this file renders its report.

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::check::Report;
use crate::cli::CheckArgs;
use crate::model::diagnose::Problem;
use crate::{exit_codes, report};

pub fn run(ctx: &Ctx, args: &CheckArgs) -> Result<ExitCode> {
    let report = crate::check::check(ctx, &args.systems)?;
    if args.json {
        report::print_json(&report)?;
    } else {
        report::print(&render(&report))?;
    }
    Ok(if report.ok {
        exit_codes::success()
    } else {
        exit_codes::wanting()
    })
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
    use crate::check::SystemCheck;
    use crate::model::outcome::Outcome;

    fn failed(system: &str, problems: Vec<Problem>) -> SystemCheck {
        SystemCheck {
            system: system.to_owned(),
            entries: Vec::new(),
            winner: None,
            interpreter: None,
            flags: None,
            exec: Outcome::NoEntry,
            exec_implied: false,
            chroot: Outcome::NotProbed,
            argv0_preserved: None,
            problems,
            ok: false,
        }
    }

    #[test]
    fn a_problem_of_several_systems_is_said_once() {
        let off = Problem::error("binfmt_misc is off".into(), "turn it on".into());
        let report = Report {
            ok: false,
            systems: vec![
                failed("riscv64-linux", vec![off.clone()]),
                failed("aarch64-linux", vec![off]),
            ],
            problems: vec![Problem::warning("the table".into(), "mend it".into())],
        };
        let text = render(&report);
        let below: Vec<&str> = text.lines().skip(3).collect();
        assert_eq!(
            below,
            [
                "error riscv64-linux, aarch64-linux: binfmt_misc is off",
                "    fix: turn it on",
                "warning: the table",
                "    fix: mend it",
            ],
            "{text}"
        );
        assert!(text.starts_with("SYSTEM"), "{text}");
        let empty = Report {
            ok: true,
            systems: Vec::new(),
            problems: Vec::new(),
        };
        assert!(render(&empty).starts_with("nothing to check"));
    }
}
