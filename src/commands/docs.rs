//! `binfmtctl completions` and `binfmtctl man`: generated from the clap definitions, so they
//! never drift from the real command line.

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory as _;
use clap_mangen::roff::{bold, roman, Roff};

use crate::cli::Cli;
use crate::exit_codes;
use crate::render::man;

pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    let mut out = Vec::new();
    let names = system_names()?;
    clap_complete::generate(
        shell,
        &mut with_system_names(visible_only(&Cli::command()), &names),
        "binfmtctl",
        &mut out,
    );
    crate::report::print(&String::from_utf8_lossy(&out))?;
    Ok(exit_codes::success())
}

/// Every system's name and aliases (the built-in profiles), for completions.
fn system_names() -> Result<Vec<String>> {
    let profiles = crate::model::profile::Profiles::builtin()?;
    let mut names: Vec<String> = profiles
        .all()
        .iter()
        .flat_map(|p| p.names().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The arguments that take systems, by subcommand and argument id. The command line keeps
/// them plain strings (globs, `all`, comma lists and local profiles are taken there); only
/// the completion scripts get the names as possible values.
const SYSTEM_ARGS: &[(&str, &str, &[&str])] = &[
    ("enable", "systems", &["all"]),
    ("disable", "systems", &[]),
    ("check", "systems", &[]),
    ("build", "systems", &[]),
    ("run", "system", &[]),
];

/// `cmd` with the system names (and, for `enable`, `all`) as possible values of
/// [`SYSTEM_ARGS`], so that bash, zsh and fish complete them.
fn with_system_names(mut cmd: clap::Command, names: &[String]) -> clap::Command {
    for (sub, arg, extra) in SYSTEM_ARGS {
        let values: Vec<String> = extra
            .iter()
            .map(|e| (*e).to_owned())
            .chain(names.iter().cloned())
            .collect();
        cmd = cmd.mut_subcommand(*sub, |s| {
            s.mut_arg(*arg, |a| {
                a.value_parser(clap::builder::PossibleValuesParser::new(values))
            })
        });
    }
    cmd
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

/// A definition list: `.TP`, the term in bold, its text.
fn definitions<'a>(roff: &mut Roff, items: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (term, text) in items {
        roff.control("TP", []);
        roff.text([bold(term)]);
        roff.text([roman(text)]);
    }
}

/// One subcommand as a `.SS` of COMMANDS: its usage, description and own options (the
/// global ones are in OPTIONS, once).
fn subcommand(roff: &mut Roff, sub: &clap::Command) {
    let mut sub = sub
        .clone()
        .bin_name(format!("binfmtctl {}", sub.get_name()));
    let usage = sub.render_usage().to_string();
    let usage = usage.trim_start_matches("Usage: ").trim();
    roff.control("SS", [sub.get_name()]);
    roff.text([bold(usage)]);
    roff.control("PP", []);
    let about = sub
        .get_long_about()
        .or(sub.get_about())
        .map(ToString::to_string)
        .unwrap_or_default();
    for (i, para) in about.split("\n\n").enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        roff.text([roman(para.replace('\n', " "))]);
    }
    for arg in sub
        .get_arguments()
        .filter(|a| !a.is_global_set() && !a.is_hide_set())
    {
        let values = arg.get_value_names().map(|v| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        });
        let (name, value) = match (arg.get_long(), arg.get_short()) {
            (Some(l), Some(s)) => (format!("-{s}, --{l}"), values),
            (Some(l), None) => (format!("--{l}"), values),
            (None, Some(s)) => (format!("-{s}"), values),
            // A positional argument: its value name is its name.
            (None, None) => (values.unwrap_or_else(|| arg.get_id().to_string()), None),
        };
        let value = match value {
            Some(v) if arg.get_action().takes_values() => format!(" <{v}>"),
            _ => String::new(),
        };
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(ToString::to_string)
            .unwrap_or_default();
        roff.control("TP", []);
        roff.text([bold(name), roman(value)]);
        roff.text([roman(help.replace('\n', " "))]);
    }
}

/// The examples every subcommand's --help ends with (`after_help`), for EXAMPLES.
fn examples(sub: &clap::Command) -> Vec<String> {
    sub.get_after_help()
        .map(ToString::to_string)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .map(str::to_owned)
        .collect()
}

pub fn man() -> Result<ExitCode> {
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    // The global options, once.
    man.render_options_section(&mut out)?;
    // Not clap_mangen's own SUBCOMMANDS section: it refers to binfmtctl-enable(1) and such,
    // pages that do not exist. Each subcommand is a .SS of this one page.
    let visible: Vec<&clap::Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    for sub in &visible {
        subcommand(&mut roff, sub);
    }
    roff.control("SH", ["EXAMPLES"]);
    for sub in &visible {
        for example in examples(sub) {
            roff.control("TP", []);
            roff.text([bold(example)]);
            roff.control("PP", []);
        }
    }
    roff.control("SH", ["FILES"]);
    let files = man::files();
    definitions(
        &mut roff,
        files.iter().map(|(f, t)| (f.as_str(), t.as_str())),
    );
    roff.control("SH", ["ENVIRONMENT"]);
    definitions(&mut roff, man::ENVIRONMENT.iter().copied());
    roff.control("SH", ["EXIT STATUS"]);
    let status = man::exit_status();
    definitions(&mut roff, status.iter().map(|(c, t)| (c.as_str(), *t)));
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(man::SEE_ALSO)]);
    roff.to_writer(&mut out)?;
    man.render_version_section(&mut out)?;
    crate::report::print(&String::from_utf8_lossy(&out))?;
    Ok(exit_codes::success())
}
