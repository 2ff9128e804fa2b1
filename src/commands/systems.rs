//! `binfmtctl systems`: every known system, native or not, interpreter found, enabled.

use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::emulator::interpreter::{self, Interpreter};
use crate::{emulator::native, exit_codes, report};

/// `systems --json`, documented in README.md.
#[derive(Serialize)]
struct Systems {
    /// True when `native` was measured by executing probes in a private, empty binfmt_misc
    /// instance; false when it comes from a table (Linux < 6.7, no user namespaces).
    native_measured: bool,
    systems: Vec<SystemRow>,
}

#[derive(Serialize)]
struct SystemRow {
    system: String,
    description: String,
    aliases: Vec<String>,
    cpu: Option<String>,
    /// The host runs it without emulation.
    native: bool,
    /// The interpreter `enable` would choose, or null.
    interpreter: Option<Interpreter>,
    /// An enabled kernel entry runs its programs; null when binfmt_misc is not readable.
    enabled: Option<bool>,
    /// binfmtctl's config has a record for it.
    configured: bool,
    /// In NixOS's boot.binfmt table.
    nixos: bool,
}

pub fn run(ctx: &Ctx, json: bool) -> Result<ExitCode> {
    // Switched off (`echo 0 > status`), binfmt_misc runs nothing: no system is enabled.
    let entries = if ctx.registry.is_mounted() {
        match ctx.registry.facility_enabled() {
            Ok(true) => ctx.registry.entries().ok(),
            Ok(false) => Some(Vec::new()),
            Err(_) => None,
        }
    } else {
        None
    };
    let config = ctx.config()?;
    let dirs = interpreter::search_dirs();
    let rows: Vec<SystemRow> = ctx
        .profiles
        .all()
        .iter()
        .map(|p| SystemRow {
            system: p.system.to_string(),
            description: p.description.to_string(),
            aliases: p.aliases.iter().map(ToString::to_string).collect(),
            cpu: p.cpu.as_deref().map(str::to_owned),
            native: native::is_native(&p.system),
            interpreter: interpreter::find_in(p, &dirs),
            // Every kind of program (non-PIE, PIE) goes to an entry whose interpreter is there
            // (or held open).
            enabled: entries.as_ref().map(|es| {
                p.winners(es).iter().all(|w| {
                    w.is_some_and(|e| {
                        e.flags.fix_binary || std::path::Path::new(&e.interpreter).exists()
                    })
                })
            }),
            configured: config
                .systems
                .iter()
                .any(|r| r.systems().any(|s| s == &*p.system)),
            nixos: p.nixos,
        })
        .collect();
    if json {
        report::print_json(&Systems {
            native_measured: native::native().measured,
            systems: rows,
        })?;
        return Ok(exit_codes::success());
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.system.clone(),
                yes_no(r.native),
                r.interpreter.as_ref().map_or_else(
                    || "-".to_owned(),
                    |i| {
                        format!(
                            "{} ({})",
                            i.path.display(),
                            if i.is_static { "static" } else { "dynamic" }
                        )
                    },
                ),
                r.enabled.map_or_else(|| "?".to_owned(), yes_no),
                yes_no(r.configured),
                r.aliases.join(","),
            ]
        })
        .collect();
    report::print(&report::table(
        &[
            "SYSTEM",
            "NATIVE",
            "INTERPRETER",
            "ENABLED",
            "CONFIGURED",
            "ALIASES",
        ],
        &table_rows,
    ))?;
    Ok(exit_codes::success())
}
