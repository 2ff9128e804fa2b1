//! `binfmtctl identify`: which system(s) ELF files are for.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::cli::IdentifyArgs;
use crate::elf::{self, Class, Endian};
use crate::{exit_codes, report};

/// `identify --json`, documented in README.md: `{"version": 1, "files": [...]}`.
#[derive(Serialize)]
struct Report<'a> {
    files: &'a [Identified],
}

/// One file of `identify --json`.
#[derive(Serialize)]
struct Identified {
    path: PathBuf,
    /// null when the file could not be read as ELF (then `error` says why).
    elf: Option<ElfView>,
    /// The systems whose profiles accept the file, by the kernel's matching rule.
    systems: Vec<String>,
    error: Option<String>,
}

#[derive(Serialize)]
struct ElfView {
    class: u8,
    endian: &'static str,
    machine: u16,
    machine_name: Option<&'static str>,
    flags: u32,
    #[serde(rename = "static")]
    is_static: bool,
    interp: Option<PathBuf>,
    description: String,
}

pub fn run(ctx: &Ctx, args: &IdentifyArgs) -> Result<ExitCode> {
    let rows: Vec<Identified> = args
        .files
        .iter()
        .map(|path| match elf::read_file(path) {
            Ok(info) => Identified {
                path: path.clone(),
                systems: ctx
                    .profiles
                    .for_header(&info.header)
                    .iter()
                    .map(|p| p.system.to_string())
                    .collect(),
                elf: Some(ElfView {
                    class: if info.class == Class::Elf64 { 64 } else { 32 },
                    endian: if info.endian == Endian::Little {
                        "little"
                    } else {
                        "big"
                    },
                    machine: info.machine,
                    machine_name: elf::machine_name(info.machine),
                    flags: info.flags,
                    is_static: info.is_static(),
                    interp: info.interp.clone(),
                    description: info.describe(),
                }),
                error: None,
            },
            Err(e) => Identified {
                path: path.clone(),
                elf: None,
                systems: Vec::new(),
                error: Some(e.to_string()),
            },
        })
        .collect();
    let failed = rows.iter().any(|r| r.error.is_some());
    for r in &rows {
        if let Some(e) = &r.error {
            report::error(e);
        }
    }
    if args.json {
        report::print_json(&Report { files: &rows })?;
    } else {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let systems = if r.systems.is_empty() {
                    "-".to_owned()
                } else {
                    r.systems.join(",")
                };
                let what = match (&r.elf, &r.error) {
                    (Some(e), _) => e.description.clone(),
                    (None, Some(err)) => format!("error: {err}"),
                    (None, None) => String::new(),
                };
                vec![r.path.display().to_string(), systems, what]
            })
            .collect();
        report::print(&report::table(&["FILE", "SYSTEMS", "ELF"], &table))?;
    }
    Ok(if failed {
        std::process::ExitCode::from(exit_codes::ERROR)
    } else {
        exit_codes::success()
    })
}
