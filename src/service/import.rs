//! `import`'s engine: the registrations of binfmt.d files, each line recognised as a system
//! (or not), vetted as `enable` vets its own ([`super::admit`]), and recorded in the config.
//! Returns a row a line: what it was recognised as, and what it was recorded as.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

use super::admit::{self, Refusal};
use super::Ctx;
use crate::binfmt::{binfmtd, EntryName, Registration};
use crate::cli::ImportArgs;
use crate::model::profile::Profile;
use crate::store::config::SystemConfig;
use crate::sys::privilege::require_admin;
use crate::trust::{self, Policy, Use};
use crate::{report, store};

/// What to import, and how.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// binfmt.d files, or directories of `*.conf` files.
    pub paths: Vec<PathBuf>,
    /// Record the files' entry names instead of the systems' names.
    pub keep_names: bool,
    /// Accept lines with flag C.
    pub credentials: bool,
    pub dry_run: bool,
}

impl From<&ImportArgs> for Request {
    fn from(a: &ImportArgs) -> Request {
        Request {
            paths: a.paths.clone(),
            keep_names: a.keep_names,
            credentials: a.credentials,
            dry_run: a.dry_run,
        }
    }
}

/// One line of `import --json`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Imported {
    pub file: PathBuf,
    pub line: usize,
    pub name: String,
    /// The recognised system, or null when no profile accepts the line's programs.
    pub system: Option<String>,
    /// The entry name recorded in the config (null when not recognised).
    pub recorded_as: Option<String>,
    pub interpreter: String,
    pub flags: String,
}

/// Import what `req` names: every line's row; recorded in the config unless `dry_run`.
pub fn import(ctx: &Ctx, req: &Request) -> Result<Vec<Imported>> {
    let mut rows = Vec::new();
    let mut records = Vec::new();
    for (file, regs) in read_all(&req.paths, ctx.use_)? {
        for (line, reg) in regs {
            let (row, record) = import_line(ctx, req, &file, line, &reg)?;
            rows.push(row);
            records.extend(record);
        }
    }
    refuse_captures(ctx, &records)?;
    let with_c: Vec<&str> = records
        .iter()
        .filter(|r| r.flags.0.credentials)
        .map(|r| r.name.as_str())
        .collect();
    // As `enable --credentials` does: they take effect at the next `apply` (and at boot).
    if !with_c.is_empty() {
        report::warn(&admit::credentials_warning(&with_c));
    }
    if rows.is_empty() {
        bail!(
            "no registrations found in {}",
            req.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !req.dry_run {
        require_admin("binfmtctl import")?;
        let _lock = store::Lock::acquire(&ctx.config_path)?;
        let mut config = ctx.config()?;
        for r in records {
            config.upsert(r);
        }
        ctx.save_config(&config)?;
    }
    Ok(rows)
}

/// A file's registrations, with their line numbers.
type FileRegistrations = (PathBuf, Vec<(usize, Registration)>);

/// The binfmt.d files named (a directory stands for its `*.conf` files, in name order), each
/// read through the trust boundary (never a FIFO or device, at most `trust::MAX_FILE`
/// bytes; to act, root's), with its registrations.
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

/// One line: refused (flag C without --credentials, a capture, a bad interpreter), or its row
/// and the record it becomes (None when skipped, said why).
fn import_line(
    ctx: &Ctx,
    req: &Request,
    file: &Path,
    line: usize,
    reg: &Registration,
) -> Result<(Imported, Option<SystemConfig>)> {
    let at = format!("{}:{line}", file.display());
    if reg.flags.credentials && !req.credentials {
        bail!(
            "{at}: entry {} has flag C: setuid programs would run with raised privileges inside qemu-user, \
             which is no security boundary; pass --credentials to import it anyway",
            reg.name
        );
    }
    let recognised = ctx.profiles.recognise(reg);
    let profile = recognised.map(|(p, _)| p);
    let native = profile.and_then(|p| crate::emulator::native::refusal(&p.system));
    vet_line(reg, &at, native.is_none())?;
    if let Some((p, true)) = recognised {
        report::note(&format!(
            "{at}: entry {} matches none of {}'s programs by magic; recognised by its interpreter {} (recorded with binfmtctl's magic)",
            reg.name, p.system, reg.interpreter
        ));
    }
    if let Some(why) = &native {
        report::warn(&format!("{at}: entry {} not imported: {why}", reg.name));
    }
    let record = decide(reg, profile.filter(|_| native.is_none()), req.keep_names)?;
    if record.is_none() {
        report::warn(&format!(
            "{at}: no known system accepts the programs of entry {}; not imported",
            reg.name
        ));
    }
    let row = Imported {
        file: file.to_owned(),
        line,
        name: reg.name.to_string(),
        system: profile.map(|p| p.system.to_string()),
        recorded_as: record.as_ref().map(|r| r.name.to_string()),
        interpreter: reg.interpreter.clone(),
        flags: reg.flags.to_string(),
    };
    Ok((row, record))
}

/// The record a line becomes (pure): for the system recognised for it (`profile`; None when
/// none is, or the host runs it natively), named after its system, or with `keep_names` its
/// own name.
fn decide(
    reg: &Registration,
    profile: Option<&Profile>,
    keep_names: bool,
) -> Result<Option<SystemConfig>> {
    let Some(p) = profile else {
        return Ok(None);
    };
    let name: EntryName = if keep_names {
        reg.name.clone()
    } else {
        p.system.parse()?
    };
    let named = Registration {
        name,
        ..reg.clone()
    };
    Ok(Some(admit::record(&p.system, &named, Vec::new())))
}

/// What a line may not be, whatever system it is for: an entry capturing the host's own
/// programs (issue 11, case 5; neither the line as written nor what binfmtctl would record
/// for it, see `refuse_captures`), or one whose interpreter the config could not load again
/// (a tab, say, which the line's syntax allows: the config's own check of the text). A line
/// for a system the host runs natively (not `recorded`) is skipped with a warning anyway.
fn vet_line(reg: &Registration, at: &str, recorded: bool) -> Result<()> {
    admit::vet(reg, at, recorded).map_err(|refusal| match refusal {
        Refusal::Captures(why) => {
            anyhow::anyhow!("refusing to import entry {} of {at}: {why}", reg.name)
        }
        Refusal::Interpreter(why) => anyhow::anyhow!(
            "{at}: interpreter {:?} of entry {} {why}",
            reg.interpreter,
            reg.name
        ),
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

#[cfg(test)]
mod tests {
    use super::{decide, vet_line};
    use crate::binfmt::{binfmtd, Registration};
    use crate::model::profile::Profiles;

    fn line(text: &str) -> Registration {
        binfmtd::parse(text).unwrap().remove(0).1
    }

    /// Debian's line for riscv64 (magic and mask as in qemu-user-static's binfmt.d file).
    fn debian_riscv64(flags: &str) -> Registration {
        let p = Profiles::builtin().unwrap();
        let reg = p.lookup("riscv64-linux").unwrap().registration(
            "qemu-riscv64".parse().unwrap(),
            "/usr/libexec/qemu-binfmt/riscv64-binfmt-P".into(),
            flags.parse().unwrap(),
        );
        line(&format!("{reg}\n"))
    }

    #[test]
    fn a_recognised_line_is_recorded_under_its_system_s_name_or_its_own() {
        let profiles = Profiles::builtin().unwrap();
        let riscv = profiles.lookup("riscv64-linux").unwrap();
        for (flags, profile, keep_names, want) in [
            ("POCF", Some(riscv), false, Some("riscv64-linux")),
            ("POCF", Some(riscv), true, Some("qemu-riscv64")),
            ("PF", Some(riscv), false, Some("riscv64-linux")),
            ("PF", None, false, None),
            ("PF", None, true, None),
        ] {
            let reg = debian_riscv64(flags);
            let rec = decide(&reg, profile, keep_names).unwrap();
            assert_eq!(
                rec.as_ref().map(|r| r.name.as_str()),
                want,
                "{flags} {keep_names}"
            );
            if let Some(rec) = rec {
                assert_eq!(rec.system, "riscv64-linux");
                assert_eq!(rec.interpreter, reg.interpreter);
                assert_eq!(rec.flags.0, reg.flags);
                assert_eq!(rec.credentials, reg.flags.credentials);
                assert!(rec.also.is_empty());
            }
        }
    }

    #[test]
    fn a_line_s_refusals_name_the_file_and_line() {
        let good = debian_riscv64("PF");
        assert!(vet_line(&good, "/d/q.conf:3", true).is_ok());
        let bad = Registration {
            interpreter: "relative".into(),
            ..good
        };
        assert_eq!(
            vet_line(&bad, "/d/q.conf:3", false)
                .unwrap_err()
                .to_string(),
            "/d/q.conf:3: interpreter \"relative\" of entry qemu-riscv64 must be an absolute path"
        );
    }
}
