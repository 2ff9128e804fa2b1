//! One module per subcommand, each thin; shared context here.

mod apply;
mod build;
mod check;
mod disable;
mod docs;
mod enable;
mod export;
mod identify;
mod import;
mod install_unit;
mod internal;
mod nix_config;
mod run;
mod status;
mod systems;
mod tonistiigi;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::report;
use crate::trust::Use;

/// The binfmtctl command: parse the command line, run, report an error.
pub fn main() -> ExitCode {
    // `binfmtctl build --report` registers this binary as a shim interpreter; it must start fast.
    if let Some(code) = crate::build::shim::run_if_shim() {
        return code;
    }
    // `run` is an exec wrapper: its own small parser, when that takes the command line.
    let outcome = if let Some(run) = crate::cli::RunOnly::try_from_args(std::env::args_os()) {
        run_only(&run)
    } else {
        let args: Vec<_> = std::env::args_os().collect();
        run(Cli::parse_args(&args))
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe on stdout (`binfmtctl status | head`) is not an error.
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return crate::exit_codes::success();
            }
            report::error(&format!("{err:#}"));
            ExitCode::from(crate::exit_codes::for_error(&err))
        }
    }
}

/// Run one command.
fn run(cli: Cli) -> Result<ExitCode> {
    report::set_verbosity(cli.global.quiet, cli.global.verbose);
    if let Some(done) = internal::run(&cli.command) {
        return done;
    }
    match cli.command {
        Command::Completions { shell } => return docs::completions(shell),
        Command::Man => return docs::man(),
        _ => {}
    }
    let mut global = cli.global;
    if let Command::Tonistiigi(crate::cli::TonistiigiArgs {
        mount: Some(mount), ..
    }) = &cli.command
    {
        global.root.clone_from(mount);
    }
    let ctx = Ctx::new(&global, use_of(&cli.command))?;
    match cli.command {
        Command::Enable(args) => enable::run(&ctx, &args),
        Command::Disable(args) => disable::run(&ctx, &args),
        Command::Apply(args) => apply::run(&ctx, args),
        Command::Export(args) => export::run(&ctx, &args),
        Command::Build(args) => build::run(&ctx, &args),
        Command::InstallUnit(args) => install_unit::run(&args, &global.config),
        Command::Import(args) => import::run(&ctx, &args),
        Command::NixConfig(args) => nix_config::run(&ctx, args),
        Command::Status(args) => status::run(&ctx, args.json),
        Command::Systems(args) => systems::run(&ctx, args.json),
        Command::Identify(args) => identify::run(&ctx, &args),
        Command::Run(args) => run::run(&ctx, &args),
        Command::Check(args) => check::run(&ctx, &args),
        Command::Tonistiigi(args) => tonistiigi::run(&ctx, &args),
        Command::Completions { .. }
        | Command::Man
        | Command::ExecInChroot { .. }
        | Command::NativeProbe { .. }
        | Command::WriteIdMaps { .. } => {
            unreachable!("handled above")
        }
    }
}

/// `binfmtctl run`, parsed by its own small parser.
fn run_only(cli: &crate::cli::RunOnly) -> Result<ExitCode> {
    run::run(&Ctx::new(&cli.global, Use::Show)?, &cli.args)
}

/// Whether a command acts on what it reads as root (registers, removes, records), so that
/// the config, state and profiles it reads pass the whole trust boundary (SECURITY.md), or
/// only shows it (type and size checked).
fn use_of(command: &Command) -> Use {
    let acts = match command {
        Command::Enable(a) => !a.dry_run,
        Command::Disable(a) => !a.dry_run,
        Command::Apply(a) => !a.dry_run,
        Command::Import(a) => !a.dry_run,
        Command::Build(a) => a.host_table,
        Command::Tonistiigi(a) => a.install.is_some() || a.uninstall.is_some(),
        _ => false,
    };
    if acts {
        Use::Act
    } else {
        Use::Show
    }
}

pub use crate::service::Ctx;
