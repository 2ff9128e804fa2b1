//! `binfmtctl import`: record the registrations of binfmt.d files in binfmtctl's config,
//! recognising the system each line is for.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde::Serialize;

use super::Ctx;
use crate::binfmt::{EntryName, Registration};
use crate::cli::ImportArgs;
use crate::store::config::{FlagsText, SystemConfig};
use crate::sys::privilege::require_admin;
use crate::trust::{self, Policy, Use};
use crate::{binfmt::binfmtd, exit_codes, report, store};

/// `import --json`, documented in README.md: `{"version": 1, "dry_run", "registrations": [...]}`.
#[derive(Serialize)]
struct Report<'a> {
    dry_run: bool,
    registrations: &'a [Imported],
}

/// One line of `import --json`.
#[derive(Serialize)]
struct Imported {
    file: PathBuf,
    line: usize,
    name: String,
    /// The recognised system, or null when no profile accepts the line's programs.
    system: Option<String>,
    /// The entry name recorded in the config (null when not recognised).
    recorded_as: Option<String>,
    interpreter: String,
    flags: String,
}

/// The binfmt.d files named (a directory stands for its `*.conf` files, in name order), each
/// read through the trust boundary (never a FIFO or device, at most `trust::MAX_FILE`
/// bytes; to act, root's), with its registrations.
/// A file's registrations, with their line numbers.
type FileRegistrations = (PathBuf, Vec<(usize, Registration)>);

fn read_all(paths: &[PathBuf], use_: Use) -> Result<Vec<FileRegistrations>> {
    let policy = Policy::new(use_);
    let mut out = Vec::new();
    for p in paths {
        let texts = if p.is_dir() {
            trust::read_dir_files(p, policy, "conf", trust::MAX_FILE)?.unwrap_or_default()
        } else {
            let text = trust::read(p, policy, trust::MAX_FILE)?.ok_or_else(|| {
                anyhow::anyhow!("cannot read {}: No such file or directory", p.display())
            })?;
            vec![(p.clone(), text)]
        };
        for (file, bytes) in texts {
            let text = String::from_utf8(bytes).map_err(|_| {
                anyhow::anyhow!(
                    "{}: it is not UTF-8 text; import binfmt.d files only",
                    file.display()
                )
            })?;
            let regs = binfmtd::parse(&text)
                .map_err(|(line, e)| anyhow::anyhow!("{}:{line}: {e}", file.display()))?;
            out.push((file, regs));
        }
    }
    Ok(out)
}

pub fn run(ctx: &Ctx, args: &ImportArgs) -> Result<ExitCode> {
    let mut rows = Vec::new();
    let mut records = Vec::new();
    for (file, regs) in read_all(&args.paths, ctx.use_)? {
        for (line, reg) in regs {
            if reg.flags.credentials && !args.credentials {
                bail!(
                    "{}:{line}: entry {} has flag C: setuid programs would run with raised privileges inside qemu-user, \
                     which is no security boundary; pass --credentials to import it anyway",
                    file.display(),
                    reg.name
                );
            }
            let recognised = ctx.profiles.recognise(&reg);
            vet_line(&reg, recognised.map(|(p, _)| p), &file, line)?;
            if let Some((p, true)) = recognised {
                report::note(&format!(
                    "{}:{line}: entry {} matches none of {}'s programs by magic; recognised by its interpreter {} (recorded with binfmtctl's magic)",
                    file.display(),
                    reg.name,
                    p.system,
                    reg.interpreter
                ));
            }
            let mut profile = recognised.map(|(p, _)| p);
            let system = profile.map(|p| p.system.to_string());
            if let Some(p) = profile.filter(|p| crate::emulator::native::runs_natively(&p.system)) {
                report::warn(&format!(
                    "{}:{line}: entry {} not imported: {}",
                    file.display(),
                    reg.name,
                    crate::emulator::native::native_reason(&p.system)
                ));
                profile = None;
            }
            let name = match profile {
                Some(p) if !args.keep_names => Some(p.system.parse::<EntryName>()?),
                Some(_) => Some(reg.name.clone()),
                None => None,
            };
            if let (Some(p), Some(name)) = (profile, &name) {
                records.push(SystemConfig {
                    system: p.system.to_string(),
                    name: name.clone(),
                    interpreter: reg.interpreter.clone(),
                    flags: FlagsText(reg.flags),
                    // Only with --credentials (refused above otherwise), as `enable` does.
                    credentials: reg.flags.credentials,
                    also: Vec::new(),
                });
            } else {
                report::warn(&format!(
                    "{}:{line}: no known system accepts the programs of entry {}; not imported",
                    file.display(),
                    reg.name
                ));
            }
            rows.push(Imported {
                file: file.clone(),
                line,
                name: reg.name.to_string(),
                system,
                recorded_as: name.map(|n| n.to_string()),
                interpreter: reg.interpreter.clone(),
                flags: reg.flags.to_string(),
            });
        }
    }
    refuse_captures(ctx, &records)?;
    warn_credentials(&records);
    if rows.is_empty() {
        bail!(
            "no registrations found in {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !args.dry_run {
        require_admin("binfmtctl import")?;
        let _lock = store::Lock::acquire(&ctx.config_path)?;
        let mut config = ctx.config()?;
        for r in records {
            config.upsert(r);
        }
        config.save(&ctx.config_path)?;
        report::note(&format!(
            "recorded in {}; run `binfmtctl apply` to register",
            ctx.config_path.display()
        ));
    }
    if args.json {
        report::print_json(&Report {
            dry_run: args.dry_run,
            registrations: &rows,
        })?;
    } else {
        report::print(&render(&rows))?;
    }
    Ok(exit_codes::success())
}

/// What a line may not be, whatever system it is for: an entry capturing the host's own
/// programs (issue 11, case 5; neither the line as written nor what binfmtctl would record
/// for it, see `refuse_captures`), or one whose interpreter the config could not load again
/// (a tab, say, which the line's syntax allows: the config's own check of the text). A line
/// for a system the host runs natively is skipped with a warning anyway.
fn vet_line(
    reg: &Registration,
    recognised: Option<&crate::model::profile::Profile>,
    file: &std::path::Path,
    line: usize,
) -> Result<()> {
    let native = recognised.is_some_and(|p| crate::emulator::native::runs_natively(&p.system));
    let at = format!("{}:{line}", file.display());
    if let Some(why) = crate::emulator::native::capture_refusal(reg, &at).filter(|_| !native) {
        bail!("refusing to import entry {} of {at}: {why}", reg.name);
    }
    crate::emulator::interpreter::check_text(&reg.interpreter).map_err(|why| {
        anyhow::anyhow!(
            "{at}: interpreter {:?} of entry {} {why}",
            reg.interpreter,
            reg.name
        )
    })
}

/// What would be recorded must not capture the host's own programs (a local profile's magic
/// may): refused before anything is written (issue 11, case 5).
fn refuse_captures(ctx: &Ctx, records: &[SystemConfig]) -> Result<()> {
    for r in records {
        let reg = ctx.desired(r)?;
        let source = ctx.profiles.lookup(&r.system)?.source.to_string();
        if let Some(why) = crate::emulator::native::capture_refusal(&reg, &source) {
            bail!("refusing to import {} as {}: {why}", r.name, r.system);
        }
    }
    Ok(())
}

/// As `enable --credentials` does: entries recorded with flag C take effect at the next
/// `apply` (and at boot).
fn warn_credentials(records: &[SystemConfig]) {
    let with_c: Vec<&str> = records
        .iter()
        .filter(|r| r.flags.0.credentials)
        .map(|r| r.name.as_str())
        .collect();
    if !with_c.is_empty() {
        report::warn(&format!(
            "{} (importing {} with flag C)",
            crate::report::texts::CREDENTIALS_WARNING,
            with_c.join(", ")
        ));
    }
}

fn render(rows: &[Imported]) -> String {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                format!("{}:{}", r.file.display(), r.line),
                r.name.clone(),
                r.system.clone().unwrap_or_else(|| "-".into()),
                r.recorded_as
                    .clone()
                    .unwrap_or_else(|| "(not imported)".into()),
                r.interpreter.clone(),
                r.flags.clone(),
            ]
        })
        .collect();
    report::table(
        &[
            "FILE",
            "ENTRY",
            "SYSTEM",
            "RECORDED AS",
            "INTERPRETER",
            "FLAGS",
        ],
        &table,
    )
}
