//! The binfmtctl command: parse the command line, run, report errors.

use std::process::ExitCode;

fn main() -> ExitCode {
    // `binfmtctl build --report` registers this binary as a shim interpreter; it must start fast.
    if let Some(code) = binfmtctl::build::shim::run_if_shim() {
        return code;
    }
    // `run` is an exec wrapper: its own small parser, when that takes the command line.
    let outcome = if let Some(run) = binfmtctl::cli::RunOnly::try_from_args(std::env::args_os()) {
        binfmtctl::commands::run_only(&run)
    } else {
        let args: Vec<_> = std::env::args_os().collect();
        binfmtctl::commands::run(binfmtctl::cli::Cli::parse_args(&args))
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe on stdout (`binfmtctl status | head`) is not an error.
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return binfmtctl::exit_codes::success();
            }
            binfmtctl::report::error(&format!("{err:#}"));
            ExitCode::from(binfmtctl::exit_codes::for_error(&err))
        }
    }
}
