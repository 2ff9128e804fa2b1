//! `binfmtctl nix-config`: the nix.conf lines the configuration stands for, or (`--systems`)
//! the systems this machine can build, for a remote builder's machines line (issue 13, item 8).

use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::cli::NixConfigArgs;
use crate::{emulator::native, exit_codes, report};

/// `nix-config --systems --json`, documented in docs/nix.md.
#[derive(Debug, PartialEq, Eq, Serialize)]
struct BuildSystems {
    /// Every system, native ones first: what the machines line's systems field lists.
    systems: Vec<String>,
    /// The systems the host runs by itself (measured where possible).
    native: Vec<String>,
    /// The systems binfmtctl's configuration emulates for Nix (its extra-platforms).
    emulated: Vec<String>,
}

/// Pure: the host's own system first (`own`, the native table's first entry), then the rest
/// of `native`, then the emulated platforms not already there.
fn systems(own: Option<&str>, native: &[String], platforms: &[String]) -> BuildSystems {
    let mut all: Vec<String> = own.map(str::to_owned).into_iter().collect();
    for s in native.iter().chain(platforms) {
        if !all.contains(s) {
            all.push(s.clone());
        }
    }
    BuildSystems {
        emulated: platforms
            .iter()
            .filter(|p| !native.contains(p))
            .cloned()
            .collect(),
        native: native.to_vec(),
        systems: all,
    }
}

pub fn run(ctx: &Ctx, args: NixConfigArgs) -> Result<ExitCode> {
    // The same settings `enable --nix` writes: one place says which systems Nix gets.
    let settings = ctx.nix_settings(&ctx.config()?);
    if !args.systems {
        report::print(&settings.lines())?;
        return Ok(exit_codes::success());
    }
    let s = systems(
        native::table().first().copied(),
        &native::native().systems,
        &settings.platforms,
    );
    if args.json {
        report::print_json(&s)?;
    } else {
        report::print(&format!("{}\n", s.systems.join(",")))?;
    }
    Ok(exit_codes::success())
}

#[cfg(test)]
mod tests {
    use super::systems;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_hosts_own_system_comes_first_and_nothing_twice() {
        let s = systems(
            Some("x86_64-linux"),
            &v(&["i386-linux", "i686-linux", "x86_64-linux"]),
            &v(&["riscv64-linux", "i686-linux"]),
        );
        assert_eq!(
            s.systems,
            v(&["x86_64-linux", "i386-linux", "i686-linux", "riscv64-linux"])
        );
        assert_eq!(s.emulated, v(&["riscv64-linux"]));
        let none = systems(None, &[], &[]);
        assert!(none.systems.is_empty());
    }
}
