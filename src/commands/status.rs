//! `binfmtctl status`: every entry in the table, whose it is, what it runs, which one wins.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::binfmt::{Entry, Matcher};
use crate::{binfmt::binfmtd, elf, exit_codes, report};

/// `status --json`, documented in README.md.
#[derive(Serialize)]
pub struct Status {
    pub root: String,
    pub mounted: bool,
    /// The whole facility on (`status` file), null when not mounted.
    pub enabled: Option<bool>,
    /// Newest first: the order the kernel tries them in.
    pub entries: Vec<EntryStatus>,
}

#[derive(Serialize)]
pub struct EntryStatus {
    pub name: String,
    pub enabled: bool,
    pub interpreter: String,
    pub interpreter_exists: bool,
    /// Statically linked; null when it does not exist or is not ELF.
    pub interpreter_static: Option<bool>,
    pub flags: String,
    /// "magic" or "extension".
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub offset: Option<usize>,
    pub magic: Option<String>,
    pub mask: Option<String>,
    pub extension: Option<String>,
    /// The systems whose programs this entry runs.
    pub systems: Vec<String>,
    pub owner: Owner,
    /// Systems this entry accepts but an earlier (newer) enabled entry wins for.
    pub shadowed: Vec<Shadow>,
}

#[derive(Serialize)]
pub struct Owner {
    /// "binfmtctl", "binfmt.d" or "unknown".
    pub kind: &'static str,
    /// The binfmt.d file or binfmtctl config holding its line.
    pub file: Option<String>,
}

#[derive(Serialize, PartialEq, Eq)]
pub struct Shadow {
    pub system: String,
    pub by: String,
}

pub fn collect(ctx: &Ctx) -> Result<Status> {
    let root = ctx.registry.root().display().to_string();
    if !ctx.registry.is_mounted() {
        return Ok(Status {
            root,
            mounted: false,
            enabled: None,
            entries: Vec::new(),
        });
    }
    let entries = ctx.registry.entries()?;
    let (config, state) = (ctx.config()?, ctx.state()?);
    let scanned = binfmtd::scan(binfmtd::DIRS);
    let mut out: Vec<EntryStatus> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let systems: Vec<String> = ctx
            .profiles
            .accepted_by(&e.matcher)
            .iter()
            .map(|p| p.system.to_string())
            .collect();
        let shadowed = shadows(&ctx.profiles, &entries, i);
        let owner = if ctx.is_ours(e, &config, &state) {
            Owner {
                kind: "binfmtctl",
                file: config
                    .get(&e.name)
                    .map(|_| ctx.config_path.display().to_string()),
            }
        } else if let Some(p) = binfmtd::owner(&scanned, &e.registration()) {
            Owner {
                kind: "binfmt.d",
                file: Some(p.display().to_string()),
            }
        } else {
            Owner {
                kind: "unknown",
                file: None,
            }
        };
        out.push(entry_status(e, systems, owner, shadowed));
    }
    Ok(Status {
        root,
        mounted: true,
        enabled: Some(ctx.registry.facility_enabled()?),
        entries: out,
    })
}

/// Who takes programs from `entries[i]`: for each system and kind of program the entry
/// accepts, the newer entry the kernel uses before it (`Profile::winners` over the newer
/// entries, the rule `check` uses too), once per system and winner.
fn shadows(
    profiles: &crate::model::profile::Profiles,
    entries: &[crate::binfmt::Entry],
    i: usize,
) -> Vec<Shadow> {
    let e = &entries[i];
    let mut out: Vec<Shadow> = Vec::new();
    for p in profiles.all() {
        let kinds = p.sample_headers();
        for (h, winner) in kinds.iter().zip(p.winners(&entries[..i])) {
            let Some(winner) = winner else { continue };
            if !e.matcher.matches_header(h) {
                continue;
            }
            let shadow = Shadow {
                system: p.system.to_string(),
                by: winner.name.to_string(),
            };
            if !out.contains(&shadow) {
                out.push(shadow);
            }
        }
    }
    out
}

fn entry_status(
    e: &Entry,
    systems: Vec<String>,
    owner: Owner,
    shadowed: Vec<Shadow>,
) -> EntryStatus {
    let path = Path::new(&e.interpreter);
    let (kind, offset, magic, mask, extension) = match &e.matcher {
        Matcher::Magic {
            offset,
            magic,
            mask,
        } => (
            "magic",
            Some(*offset),
            Some(magic.to_string()),
            mask.as_ref().map(ToString::to_string),
            None,
        ),
        Matcher::Extension(x) => ("extension", None, None, None, Some(x.clone())),
    };
    EntryStatus {
        name: e.name.to_string(),
        enabled: e.enabled,
        interpreter: e.interpreter.clone(),
        interpreter_exists: path.exists(),
        interpreter_static: elf::read_file(path).ok().map(|i| i.is_static()),
        flags: format!("{}{}", e.flags, e.unknown_flags),
        kind,
        offset,
        magic,
        mask,
        extension,
        systems,
        owner,
        shadowed,
    }
}

pub fn run(ctx: &Ctx, json: bool) -> Result<ExitCode> {
    let status = collect(ctx)?;
    if json {
        report::print_json(&status)?;
        return Ok(exit_codes::success());
    }
    if !status.mounted {
        report::print(&format!(
            "binfmt_misc is not mounted at {}: no entries (`binfmtctl enable` mounts it)\n",
            status.root
        ))?;
        return Ok(exit_codes::success());
    }
    let rows: Vec<Vec<String>> = status
        .entries
        .iter()
        .map(|e| {
            let interp = match (e.interpreter_exists, e.interpreter_static) {
                (false, _) => format!("{} (missing)", e.interpreter),
                (true, Some(true)) => format!("{} (static)", e.interpreter),
                (true, Some(false)) => format!("{} (dynamic)", e.interpreter),
                (true, None) => e.interpreter.clone(),
            };
            let mut systems = if e.systems.is_empty() {
                "-".to_owned()
            } else {
                e.systems.join(",")
            };
            for s in &e.shadowed {
                systems += &format!(" [{} shadowed by {}]", s.system, s.by);
            }
            let owner = match &e.owner.file {
                Some(f) if e.owner.kind == "binfmt.d" => f.clone(),
                _ => e.owner.kind.to_owned(),
            };
            vec![
                e.name.clone(),
                if e.enabled { "yes" } else { "no" }.to_owned(),
                if e.flags.is_empty() {
                    "-".to_owned()
                } else {
                    e.flags.clone()
                },
                owner,
                interp,
                systems,
            ]
        })
        .collect();
    let facility = if status.enabled == Some(true) {
        ""
    } else {
        " (the facility is DISABLED: no entry is used)"
    };
    let mut text = format!(
        "binfmt_misc at {}{facility}, newest entry first (it wins):\n",
        status.root
    );
    text += &report::table(
        &[
            "NAME",
            "ENABLED",
            "FLAGS",
            "OWNER",
            "INTERPRETER",
            "SYSTEMS",
        ],
        &rows,
    );
    if rows.is_empty() {
        text += "(no entries)\n";
    }
    report::print(&text)?;
    Ok(exit_codes::success())
}
