//! `binfmtctl completions` and `binfmtctl man`: generated from the clap definitions, so they
//! never drift from the real command line.

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory as _;
use clap_mangen::roff::{bold, roman, Roff};

use crate::cli::Cli;
use crate::exit_codes;

pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    let mut out = Vec::new();
    clap_complete::generate(
        shell,
        &mut visible_only(&Cli::command()),
        "binfmtctl",
        &mut out,
    );
    crate::output::print(&String::from_utf8_lossy(&out))?;
    Ok(exit_codes::success())
}

/// `cmd` without its hidden subcommands (`__native-probe` and the other internal helpers).
/// clap_complete's generators walk every subcommand, hidden or not (clap-rs/clap#1335), and
/// `clap::Command` cannot remove one: so the root is put together again from the same
/// arguments and the visible subcommands (not built yet, so without clap's own --help and
/// --version, which the generators add back when they build it).
fn visible_only(cmd: &clap::Command) -> clap::Command {
    let mut root = clap::Command::new("binfmtctl")
        .args(cmd.get_arguments().cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = cmd.get_about() {
        root = root.about(about.clone());
    }
    if cmd.get_version().is_some() {
        root = root
            .version(env!("CARGO_PKG_VERSION"))
            .propagate_version(true);
    }
    root
}

/// What the exit status means (src/exit_codes.rs).
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Success."),
    (
        "1",
        "check found something wanting (a system whose emulation does not work).",
    ),
    ("2", "An error, or a usage error."),
    (
        "run, build",
        "The program's own exit status; killed by a signal, binfmtctl dies by the same signal.",
    ),
];

pub fn man() -> Result<ExitCode> {
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    // Not clap_mangen's own SUBCOMMANDS section: it refers to binfmtctl-enable(1) and such,
    // pages that do not exist. The subcommands are described in this page, each in a section
    // of its own below.
    let visible: Vec<&clap::Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    let mut roff = Roff::new();
    roff.control("SH", ["SUBCOMMANDS"]);
    for sub in &visible {
        roff.control("TP", []);
        roff.text([bold(sub.get_name())]);
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        roff.text([roman(format!(
            "{about} (see BINFMTCTL {} below)",
            sub.get_name().to_uppercase()
        ))]);
    }
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in EXIT_STATUS {
        roff.control("TP", []);
        roff.text([bold(*code)]);
        roff.text([roman(*meaning)]);
    }
    roff.to_writer(&mut out)?;
    man.render_version_section(&mut out)?;
    for sub in visible {
        out.extend_from_slice(
            format!(".SH \"BINFMTCTL {}\"\n", sub.get_name().to_uppercase()).as_bytes(),
        );
        let man = clap_mangen::Man::new(sub.clone());
        man.render_synopsis_section(&mut out)?;
        man.render_options_section(&mut out)?;
    }
    crate::output::print(&String::from_utf8_lossy(&out))?;
    Ok(exit_codes::success())
}
