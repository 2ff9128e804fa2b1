//! binfmtctl's hidden subcommands: helpers it starts in namespaces of their own (no config,
//! no profiles). Their work is in the modules that own it; here only the exit codes and
//! what they print.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::Command;

/// Run a hidden subcommand; `None` for every other command.
pub fn run(command: &Command) -> Option<Result<ExitCode>> {
    Some(match command {
        // Returns only when the exec failed, with the line `trial::judge` reads.
        Command::ExecInChroot {
            dir,
            program,
            argv0,
        } => {
            crate::report::stderr(&format!(
                "{}\n",
                crate::emulator::trial::chroot_and_exec(dir, program, argv0)
            ));
            Ok(ExitCode::from(127))
        }
        Command::NativeProbe { dir } => crate::emulator::native::probe_in_private_instance(dir)
            .and_then(|ran| {
                let mut text = ran.join("\n");
                if !text.is_empty() {
                    text.push('\n');
                }
                crate::report::print(&text)?;
                Ok(crate::exit_codes::success())
            }),
        Command::WriteIdMaps {
            pid,
            uid_map,
            gid_map,
        } => crate::sys::namespace::write_id_maps_for(*pid, uid_map, gid_map)
            .map(|()| crate::exit_codes::success()),
        _ => return None,
    })
}
