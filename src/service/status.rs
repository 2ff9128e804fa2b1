//! What the kernel's table holds, entry by entry (whose each is, what it runs, which newer
//! entry wins over it), and what every known system has (native, interpreter, enabled):
//! the data `status`, `systems` and `tonistiigi` render.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::binfmt::{binfmtd, Entry, Matcher};
use crate::elf;
use crate::emulator::interpreter::{self, Interpreter};
use crate::emulator::native;
use crate::model::profile::{Profile, Profiles};

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
    /// The systems it runs only some programs of (a PIE-only entry), with the kinds it takes.
    pub partly: Vec<Partly>,
    pub owner: Owner,
    /// Systems this entry accepts but an earlier (newer) enabled entry wins for.
    pub shadowed: Vec<Shadow>,
}

#[derive(Serialize)]
pub struct Partly {
    pub system: String,
    /// The kinds of program it takes ("PIE (ET_DYN)", "non-PIE (ET_EXEC)").
    pub programs: Vec<&'static str>,
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

/// Every entry in the table, newest first, with whose it is and what it runs.
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
        let partly: Vec<Partly> = ctx
            .profiles
            .all()
            .iter()
            .filter_map(|p| {
                p.only_kinds_accepted_by(&e.matcher).map(|programs| Partly {
                    system: p.system.to_string(),
                    programs,
                })
            })
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
        out.push(entry_status(e, (systems, partly), owner, shadowed));
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
fn shadows(profiles: &Profiles, entries: &[Entry], i: usize) -> Vec<Shadow> {
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
    (systems, partly): (Vec<String>, Vec<Partly>),
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
        partly,
        owner,
        shadowed,
    }
}

/// `systems --json`, documented in README.md.
#[derive(Serialize)]
pub struct Systems {
    /// True when `native` was measured by executing probes in a private, empty binfmt_misc
    /// instance; false when it comes from a table (Linux < 6.7, no user namespaces).
    pub native_measured: bool,
    pub systems: Vec<SystemRow>,
}

#[derive(Serialize)]
pub struct SystemRow {
    pub system: String,
    pub description: String,
    pub aliases: Vec<String>,
    pub cpu: Option<String>,
    /// The host runs it without emulation.
    pub native: bool,
    /// The interpreter `enable` would choose, or null.
    pub interpreter: Option<Interpreter>,
    /// An enabled kernel entry runs its programs; null when binfmt_misc is not readable.
    pub enabled: Option<bool>,
    /// binfmtctl's config has a record for it.
    pub configured: bool,
    /// In NixOS's boot.binfmt table.
    pub nixos: bool,
}

/// Every known system: native or not, the interpreter `enable` would choose, whether an
/// entry runs its programs, whether the config has it.
pub fn systems(ctx: &Ctx) -> Result<Systems> {
    let entries = table_in_use(ctx);
    let config = ctx.config()?;
    let dirs = interpreter::search_dirs();
    let systems = ctx
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
            enabled: entries.as_ref().map(|es| runs_through(p, es)),
            configured: config
                .systems
                .iter()
                .any(|r| r.systems().any(|s| s == &*p.system)),
            nixos: p.nixos,
        })
        .collect();
    Ok(Systems {
        native_measured: native::native().measured,
        systems,
    })
}

/// The entries the kernel uses: none when the facility is switched off (`echo 0 > status`:
/// binfmt_misc runs nothing), None when the table cannot be read.
fn table_in_use(ctx: &Ctx) -> Option<Vec<Entry>> {
    if !ctx.registry.is_mounted() {
        return None;
    }
    match ctx.registry.facility_enabled() {
        Ok(true) => ctx.registry.entries().ok(),
        Ok(false) => Some(Vec::new()),
        Err(_) => None,
    }
}

/// Whether `entries` run a system's programs: every kind of program (non-PIE, PIE) goes to an
/// entry whose interpreter is there (or held open, flag F).
fn runs_through(p: &Profile, entries: &[Entry]) -> bool {
    p.winners(entries)
        .iter()
        .all(|w| w.is_some_and(|e| e.flags.fix_binary || Path::new(&e.interpreter).exists()))
}

/// tonistiigi/binfmt's status: `{"supported": [...], "emulators": [...]}`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Platforms {
    /// OCI platforms this machine runs: natively, or through an enabled entry.
    pub supported: Vec<String>,
    /// Every entry in the binfmt_misc table, by name.
    pub emulators: Vec<String>,
}

/// tonistiigi/binfmt's status of this machine: the platforms it runs natively, those the
/// table's enabled entries run, and the table's entries.
pub fn platforms(ctx: &Ctx) -> Result<Platforms> {
    let status = collect(ctx)?;
    let enabled: Vec<Vec<String>> = status
        .entries
        .iter()
        .filter(|e| e.enabled)
        .map(|e| e.systems.clone())
        .collect();
    Ok(platforms_from(
        &ctx.profiles,
        &native::native().systems,
        &enabled,
        status.entries.iter().map(|e| e.name.clone()).collect(),
    ))
}

/// The OCI platform of a system: its first `linux/...` alias (the profiles list the
/// platform Docker reports first, `linux/arm/v7` before `linux/arm`); None for systems
/// Docker has no platform for.
pub fn oci_platform(profile: &Profile) -> Option<&str> {
    profile
        .aliases
        .iter()
        .map(|a| &**a)
        .find(|a| a.starts_with("linux/"))
}

/// tonistiigi's status (pure): the native systems' platforms first, then those of the
/// systems the enabled entries run (`enabled`: each entry's systems), in the profiles' order,
/// each once.
fn platforms_from(
    profiles: &Profiles,
    native: &[String],
    enabled: &[Vec<String>],
    emulators: Vec<String>,
) -> Platforms {
    let mut supported: Vec<String> = Vec::new();
    let emulated = |s: &str| enabled.iter().any(|e| e.iter().any(|x| x == s));
    for pass in [true, false] {
        for p in profiles.all() {
            let wanted = if pass {
                native.iter().any(|n| *n == *p.system)
            } else {
                emulated(&p.system)
            };
            if let Some(oci) = oci_platform(p).filter(|_| wanted) {
                if !supported.iter().any(|s| s == oci) {
                    supported.push(oci.to_owned());
                }
            }
        }
    }
    Platforms {
        supported,
        emulators,
    }
}

#[cfg(test)]
mod tests {
    use super::{oci_platform, platforms_from, Platforms};
    use crate::model::profile::Profiles;

    fn profiles() -> Profiles {
        Profiles::builtin().unwrap()
    }

    #[test]
    fn platforms_are_docker_s_names() {
        let p = profiles();
        for (system, want) in [
            ("x86_64-linux", Some("linux/amd64")),
            ("i686-linux", Some("linux/386")),
            ("aarch64-linux", Some("linux/arm64")),
            ("armv7l-linux", Some("linux/arm/v7")),
            ("armv6l-linux", Some("linux/arm/v6")),
            ("riscv64-linux", Some("linux/riscv64")),
            ("powerpc64le-linux", Some("linux/ppc64le")),
            ("s390x-linux", Some("linux/s390x")),
            ("mips64el-linux", Some("linux/mips64le")),
            ("loongarch64-linux", Some("linux/loong64")),
            ("sh4-linux", None),
        ] {
            assert_eq!(oci_platform(p.lookup(system).unwrap()), want, "{system}");
        }
    }

    #[test]
    fn status_lists_native_then_emulated_platforms_once() {
        let status = platforms_from(
            &profiles(),
            &[
                "x86_64-linux".into(),
                "i686-linux".into(),
                "i386-linux".into(),
            ],
            &[
                vec!["riscv64-linux".into()],
                vec!["armv6l-linux".into(), "armv7l-linux".into()],
                vec!["sh4-linux".into()],
                vec!["aarch64-linux".into()],
            ],
            vec!["qemu-aarch64".into(), "qemu-riscv64".into()],
        );
        assert_eq!(
            status,
            Platforms {
                supported: [
                    "linux/386",
                    "linux/amd64",
                    "linux/arm64",
                    "linux/arm/v6",
                    "linux/arm/v7",
                    "linux/riscv64"
                ]
                .map(String::from)
                .to_vec(),
                emulators: vec!["qemu-aarch64".into(), "qemu-riscv64".into()],
            }
        );
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            r#"{"supported":["linux/386","linux/amd64","linux/arm64","linux/arm/v6","linux/arm/v7","linux/riscv64"],"emulators":["qemu-aarch64","qemu-riscv64"]}"#
        );
    }
}
