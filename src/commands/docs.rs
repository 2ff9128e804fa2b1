//! `binfmtctl completions` and `binfmtctl man`: generated from the clap definitions, so they
//! never drift from the real command line.

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::exit_codes;

pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "binfmtctl", &mut out);
    crate::output::print(&String::from_utf8_lossy(&out))?;
    Ok(exit_codes::success())
}

pub fn man() -> Result<ExitCode> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    // Subcommands get sections of their own in the one page.
    for sub in Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
    {
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
