//! Emulated systems: the profiles in qemu-profiles/ (built in), plus local additions from
//! /etc/binfmtctl/profiles.d/ and `--profiles DIR`, which override built-ins of the same name.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::binfmt::{Bytes, Entry, EntryName, Matcher};
use crate::elf;
use crate::trust::{self, Policy, Use};

mod builtin {
    /// A profile as build.rs found it in qemu-profiles/.
    use super::Text;
    use std::borrow::Cow;

    pub struct Raw {
        /// `builtin:<file name>`.
        pub source: &'static str,
        pub system: &'static str,
        pub description: &'static str,
        pub cpu: Option<&'static str>,
        pub debian: Option<&'static str>,
        pub aliases: &'static [Text],
        pub interpreters: &'static [Text],
        pub offset: usize,
        /// Decoded (build.rs decodes the file's escaped text with `Bytes::unescape`).
        pub magic: &'static [u8],
        pub mask: &'static [u8],
        pub nixos: bool,
        pub preserve_argv0: bool,
    }
    include!(concat!(env!("OUT_DIR"), "/profiles.rs"));
}

/// Which systems a host runs natively, by the host's own system: qemu-profiles/native/hosts.toml,
/// which the NixOS module reads too (one table for both).
pub(crate) use builtin::NATIVE as NATIVE_HOSTS;

/// The built-in profiles' (system, qemu cpu) pairs, in file order: the systems `probe` builds
/// programs for, keyed by their cpu.
pub(crate) fn builtin_cpus() -> impl Iterator<Item = (&'static str, &'static str)> {
    builtin::BUILTIN
        .iter()
        .filter_map(|r| Some((r.system, r.cpu?)))
}

/// Where local profiles are looked for when no `--profiles` directory is given.
pub const LOCAL_DIR: &str = "/etc/binfmtctl/profiles.d";

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{}: {message}; fix the file or remove it", .path.display())]
    Parse { path: PathBuf, message: String },
    // Not `source`: the message already holds the cause, and `{err:#}` would print it twice.
    #[error("{}: {err}", .path.display())]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{0}")]
    Trust(String),
    /// The `--profiles` directory is not there.
    #[error("--profiles {}: no such directory; give a directory of *.toml profiles, or leave out --profiles to use {LOCAL_DIR}", .0.display())]
    NoDir(PathBuf),
    #[error("unknown system {name:?}{}; `binfmtctl systems` lists them all", suggest(.suggestions))]
    Unknown {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("{}: the name {name:?} is already used by {other}; names and aliases must be unique", .path.display())]
    Duplicate {
        path: PathBuf,
        name: String,
        other: String,
    },
}

fn suggest(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", s.join(", "))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    system: String,
    description: String,
    cpu: Option<String>,
    debian: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    interpreters: Vec<String>,
    #[serde(default)]
    offset: usize,
    magic: String,
    mask: String,
    #[serde(default)]
    nixos: bool,
    #[serde(default)]
    preserve_argv0: bool,
}

/// One emulated system.
#[derive(Debug, Clone, PartialEq, Eq)]
// The text fields borrow the compiled-in data of built-in profiles (`Text`): building the 41
// built-ins costs no allocation, which `run`, an exec wrapper, would pay at every start.
pub struct Profile {
    /// The Nix system double, e.g. `riscv64-linux`; also the default entry name.
    pub system: Text,
    pub description: Text,
    /// qemu's target name (`qemu-<cpu>`), when qemu emulates it.
    pub cpu: Option<Text>,
    /// Debian's architecture name, for package hints (`libc6-<debian>-cross`).
    pub debian: Option<Text>,
    pub aliases: Texts,
    /// Interpreter program names to search for, preferred first.
    pub interpreters: Texts,
    pub offset: usize,
    pub magic: Bytes,
    pub mask: Bytes,
    /// In NixOS's `boot.binfmt` table.
    pub nixos: bool,
    /// The interpreters take the argv of flag P (`[interpreter, full path, original argv0,
    /// args...]`), as qemu does; any other (wasmtime) would see argv[0] twice (issue 13, item 4).
    pub preserve_argv0: bool,
    /// Where it came from: `builtin:<file>` or a path.
    pub source: Text,
}

/// A profile's text: borrowed from the compiled-in profiles, or owned when read from a file.
pub type Text = Cow<'static, str>;
/// A profile's list of texts.
pub type Texts = Cow<'static, [Text]>;

impl Profile {
    /// The registration of this system's magic under `name`, with an interpreter and flags:
    /// what `enable`, `apply`, `import` and `build` write to the kernel.
    pub fn registration(
        &self,
        name: EntryName,
        interpreter: String,
        flags: crate::binfmt::Flags,
    ) -> crate::binfmt::Registration {
        crate::binfmt::Registration {
            name,
            matcher: self.matcher(),
            interpreter,
            flags,
        }
    }

    /// Parse one profile file; `source` names it in errors.
    pub fn parse(text: &str, source: &Path) -> Result<Profile, ProfileError> {
        let bad = |message: String| ProfileError::Parse {
            path: source.to_owned(),
            message,
        };
        let f: ProfileFile = toml::from_str(text).map_err(|e| bad(toml_message(text, &e)))?;
        let (magic, mask) = (Bytes::unescape(&f.magic), Bytes::unescape(&f.mask));
        if magic.is_empty() || magic.len() != mask.len() {
            return Err(bad(format!(
                "magic is {} bytes and mask {} bytes; both must be non-empty and of the same length",
                magic.len(),
                mask.len()
            )));
        }
        if f.offset + magic.len() > crate::binfmt::line::BINPRM_BUF_SIZE {
            return Err(bad(format!(
                "offset {} + magic length {} exceeds 256 bytes",
                f.offset,
                magic.len()
            )));
        }
        if let Err(e) = f.system.parse::<EntryName>() {
            return Err(bad(format!("system: {e}")));
        }
        if f.interpreters.is_empty() {
            return Err(bad(
                "interpreters is empty; name at least one program, e.g. qemu-<cpu>-static".into(),
            ));
        }
        if let Some(i) = f
            .interpreters
            .iter()
            .find(|i| i.is_empty() || i.contains(['/', ':']))
        {
            return Err(bad(format!(
                "interpreter name {i:?} must be a bare program name"
            )));
        }
        Ok(Profile {
            system: f.system.into(),
            description: f.description.into(),
            cpu: f.cpu.map(Text::from),
            debian: f.debian.map(Text::from),
            aliases: f
                .aliases
                .into_iter()
                .map(|a| Text::from(a.to_ascii_lowercase()))
                .collect(),
            interpreters: f.interpreters.into_iter().map(Text::from).collect(),
            offset: f.offset,
            magic,
            mask,
            nixos: f.nixos,
            preserve_argv0: f.preserve_argv0,
            source: source.display().to_string().into(),
        })
    }

    pub fn matcher(&self) -> Matcher {
        Matcher::Magic {
            offset: self.offset,
            magic: self.magic.clone(),
            mask: Some(self.mask.clone()),
        }
    }

    /// The flags of a registration of this system with its own interpreter: `P` when the
    /// profile says the interpreter takes the original argv[0] (`preserve_argv0`), `F` for a
    /// static interpreter (it then works in chroots, containers and the Nix sandbox).
    pub fn flags(&self, static_interpreter: bool) -> crate::binfmt::Flags {
        crate::binfmt::Flags {
            preserve_argv0: self.preserve_argv0,
            fix_binary: static_interpreter,
            ..crate::binfmt::Flags::default()
        }
    }

    /// A header this profile's programs start with: the magic at its offset (don't-care bytes
    /// as the profile writes them), as an ET_EXEC and as an ET_DYN (PIE) program, in the order
    /// of [`elf::PROGRAM_KINDS`] (the same header twice when the magic is not an ELF one).
    pub fn sample_headers(&self) -> Vec<Vec<u8>> {
        let mut header = vec![0u8; self.offset];
        header.extend_from_slice(&self.magic.0);
        program_kinds(&header)
    }

    /// The kinds of this system's programs ([`elf::PROGRAM_KINDS`]' names) an entry with this
    /// matcher takes: the one rule the three questions below are asked of.
    fn kinds_accepted_by(&self, m: &Matcher) -> Vec<&'static str> {
        self.sample_headers()
            .iter()
            .zip(elf::PROGRAM_KINDS)
            .filter(|(h, _)| m.matches_header(h))
            .map(|(_, (_, name))| name)
            .collect()
    }

    /// True when an entry with this matcher runs this system's programs (both ET_EXEC and PIE):
    /// an emulator entry for the system, what `status` lists it under and what serves a build.
    pub fn accepted_by(&self, m: &Matcher) -> bool {
        self.kinds_accepted_by(m).len() == elf::PROGRAM_KINDS.len()
    }

    /// True when an entry with this matcher takes some of this system's programs (a PIE-only
    /// entry too): which entries `check` looks at. Which entry the kernel then uses for each
    /// kind of program is [`Profile::winners`]'s.
    pub fn partly_accepted_by(&self, m: &Matcher) -> bool {
        !self.kinds_accepted_by(m).is_empty()
    }

    /// The kinds an entry with this matcher takes, when it takes some but not all: `status`
    /// says so beside the entry.
    pub fn only_kinds_accepted_by(&self, m: &Matcher) -> Option<Vec<&'static str>> {
        let taken = self.kinds_accepted_by(m);
        (!taken.is_empty() && taken.len() < elf::PROGRAM_KINDS.len()).then_some(taken)
    }

    /// The entries the kernel uses for this system's programs, one per kind of program
    /// ([`elf::PROGRAM_KINDS`]: non-PIE, PIE), with `entries` in the table's order (newest
    /// first). The rule is [`crate::binfmt::winner`]'s, the one every command uses: a newer
    /// entry that takes only PIE programs wins those, and only those.
    pub fn winners<'e>(&self, entries: &'e [Entry]) -> Vec<Option<&'e Entry>> {
        // Named after the system: no extension entry takes it.
        let path = Path::new(&*self.system);
        self.sample_headers()
            .iter()
            .map(|h| crate::binfmt::winner(entries, path, h))
            .collect()
    }

    /// Every name this system answers to.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&*self.system).chain(self.aliases.iter().map(|a| &**a))
    }
}

/// A program header as each kind of [`elf::PROGRAM_KINDS`] (non-PIE, PIE): an ELF header
/// with its e_type set to each; anything else (a wasm magic) as it is, once for each kind.
pub fn program_kinds(header: &[u8]) -> Vec<Vec<u8>> {
    elf::PROGRAM_KINDS
        .iter()
        .map(|&(e_type, _)| elf::with_e_type(header, e_type).unwrap_or_else(|| header.to_vec()))
        .collect()
}

fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_owned();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

/// A GNU triple, as cross compilers are named (`aarch64-linux-gnu`, `riscv64-unknown-linux-gnu`,
/// `arm-linux-gnueabihf`, `mips64el-linux-gnuabin32`): the system it names (`aarch64-linux`,
/// `mips64el-linuxabin32`) and its CPU (for aliases such as `arm`). None for other names.
fn from_gnu_triple(name: &str) -> Option<(String, String)> {
    let mut parts = name.split('-');
    let cpu = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    let at = rest.iter().position(|p| *p == "linux")?;
    let abi = rest.get(at + 1)?;
    // x32 and ILP32 are 32-bit ABIs of 64-bit CPUs: no system here runs them.
    if abi.ends_with("x32") || abi.ends_with("ilp32") {
        return None;
    }
    let system = if abi.ends_with("abin32") {
        format!("{cpu}-linuxabin32")
    } else {
        format!("{cpu}-linux")
    };
    Some((system, cpu.to_owned()))
}

/// Every known system.
#[derive(Debug, Clone)]
pub struct Profiles {
    list: Vec<Profile>,
}

impl Profiles {
    /// The built-in profiles only (compiled in by build.rs; `tests/profiles.rs` checks they
    /// equal what `Profile::parse` makes of qemu-profiles/, and `builtin_names_are_unique`
    /// that no two share a name, which `add` would otherwise check at every start).
    pub fn builtin() -> Result<Profiles, ProfileError> {
        let list = builtin::BUILTIN
            .iter()
            .map(|r| Profile {
                system: Cow::Borrowed(r.system),
                description: Cow::Borrowed(r.description),
                cpu: r.cpu.map(Cow::Borrowed),
                debian: r.debian.map(Cow::Borrowed),
                aliases: Cow::Borrowed(r.aliases),
                interpreters: Cow::Borrowed(r.interpreters),
                offset: r.offset,
                magic: Bytes(r.magic.to_vec()),
                mask: Bytes(r.mask.to_vec()),
                nixos: r.nixos,
                preserve_argv0: r.preserve_argv0,
                source: Cow::Borrowed(r.source),
            })
            .collect();
        Ok(Profiles { list })
    }

    /// Built-ins, then every `*.toml` in `dir` (when it exists), overriding by system name;
    /// read to show (see [`Profiles::load_for`]).
    pub fn load(dir: Option<&Path>) -> Result<Profiles, ProfileError> {
        Profiles::load_for(dir, Use::Show)
    }

    /// As [`Profiles::load`], the directory and files read through the trust boundary for
    /// `use_`: to act, a profile decides what root registers, so it must be root's like the
    /// config; a FIFO or device among them is refused, never read (issue 11, case 6).
    pub fn load_for(dir: Option<&Path>, use_: Use) -> Result<Profiles, ProfileError> {
        let mut p = Profiles::builtin()?;
        let given = dir.is_some();
        let dir = dir.unwrap_or(Path::new(LOCAL_DIR));
        let files = match trust::read_dir_files(dir, Policy::new(use_), "toml", trust::MAX_FILE) {
            Ok(Some(files)) => files,
            // The default directory is optional; one named with --profiles must be there.
            Ok(None) if !given => return Ok(p),
            Ok(None) => return Err(ProfileError::NoDir(dir.to_owned())),
            Err(e) => return Err(ProfileError::Trust(e.to_string())),
        };
        for (path, bytes) in files {
            let text = String::from_utf8(bytes).map_err(|_| ProfileError::Parse {
                path: path.clone(),
                message: "it is not UTF-8 text".into(),
            })?;
            let profile = Profile::parse(&text, &path)?;
            p.list.retain(|old| old.system != profile.system);
            p.add(profile)?;
        }
        Ok(p)
    }

    fn add(&mut self, profile: Profile) -> Result<(), ProfileError> {
        for name in profile.names() {
            if let Some(other) = self.list.iter().find(|o| o.names().any(|n| n == name)) {
                return Err(ProfileError::Duplicate {
                    path: PathBuf::from(&*profile.source),
                    name: name.to_owned(),
                    other: other.source.to_string(),
                });
            }
        }
        self.list.push(profile);
        Ok(())
    }

    pub fn all(&self) -> &[Profile] {
        &self.list
    }

    /// Find a system by its name or an alias (case-insensitive).
    pub fn lookup(&self, name: &str) -> Result<&Profile, ProfileError> {
        let wanted = name.to_ascii_lowercase();
        let named = |w: &str| {
            self.list
                .iter()
                .find(|p| p.names().any(|n| n.eq_ignore_ascii_case(w)))
        };
        named(&wanted)
            .or_else(|| {
                let (system, cpu) = from_gnu_triple(&wanted)?;
                named(&system).or_else(|| named(&cpu))
            })
            .ok_or_else(|| ProfileError::Unknown {
                name: name.to_owned(),
                suggestions: self.closest(&wanted),
            })
    }

    /// Up to three known names closest to `name`.
    fn closest(&self, name: &str) -> Vec<String> {
        let mut scored: Vec<(f64, &str)> = self
            .list
            .iter()
            .flat_map(Profile::names)
            .map(|n| (strsim::jaro_winkler(name, n), n))
            .filter(|(score, _)| *score > 0.75)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        scored.dedup_by(|a, b| a.1 == b.1);
        scored
            .into_iter()
            .take(3)
            .map(|(_, n)| n.to_owned())
            .collect()
    }

    /// The systems whose programs an entry with this matcher runs.
    pub fn accepted_by(&self, m: &Matcher) -> Vec<&Profile> {
        self.list.iter().filter(|p| p.accepted_by(m)).collect()
    }

    /// The system a registration made by another tool is for. By the kernel's rule first (its
    /// entry runs the system's programs); among identical profiles (armv6l/armv7l,
    /// i386..i686) the one its entry or interpreter name points at (`qemu-arm` -> `arm` ->
    /// armv7l-linux). When no profile's programs match (Debian's microblaze line uses the
    /// pre-standard e_machine 0xbaab), the interpreter's qemu cpu name decides; the bool is
    /// true then, so callers can say how it was recognised.
    pub fn recognise(&self, reg: &crate::binfmt::Registration) -> Option<(&Profile, bool)> {
        let base = std::path::Path::new(&reg.interpreter)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let token = |s: &str| -> String {
            let s = s.strip_prefix("qemu-").unwrap_or(s);
            let s = s
                .strip_suffix("-binfmt-P")
                .or_else(|| s.strip_suffix("-static"))
                .unwrap_or(s);
            s.to_ascii_lowercase()
        };
        let tokens = [token(reg.name.as_str()), token(base)];
        let points_at = |p: &Profile| {
            tokens
                .iter()
                .any(|t| p.names().any(|n| n == t) || p.cpu.as_deref() == Some(t.as_str()))
        };
        let accepted = self.accepted_by(&reg.matcher);
        if let Some(first) = accepted.first() {
            let named = accepted
                .iter()
                .find(|p| tokens.iter().any(|t| p.names().any(|n| n == t)));
            return Some((named.copied().unwrap_or(*first), false));
        }
        self.list.iter().find(|p| points_at(p)).map(|p| (p, true))
    }

    /// The systems whose magic accepts this file header.
    pub fn for_header(&self, header: &[u8]) -> Vec<&Profile> {
        self.list
            .iter()
            .filter(|p| p.matcher().matches_header(header))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_triples_name_their_systems() {
        let p = Profiles::builtin().unwrap();
        for (triple, system) in [
            ("aarch64-linux-gnu", "aarch64-linux"),
            ("riscv64-unknown-linux-gnu", "riscv64-linux"),
            ("x86_64-unknown-linux-gnu", "x86_64-linux"),
            ("powerpc64le-linux-gnu", "powerpc64le-linux"),
            ("s390x-linux-gnu", "s390x-linux"),
            ("mips64el-linux-gnuabi64", "mips64el-linux"),
            ("mips64el-linux-gnuabin32", "mips64el-linuxabin32"),
            (
                "arm-linux-gnueabihf",
                p.lookup("arm").unwrap().system.as_ref(),
            ),
        ] {
            assert_eq!(
                p.lookup(triple).map(|x| x.system.to_string()).ok(),
                Some(system.to_owned()),
                "{triple}"
            );
        }
        assert!(
            p.lookup("riscv64-unknown-elf").is_err(),
            "not a Linux triple"
        );
        assert!(
            p.lookup("x86_64-linux-gnux32").is_err(),
            "x32 is no x86_64-linux"
        );
        assert!(p.lookup("aarch64-linux-gnu_ilp32").is_err());
    }

    #[test]
    fn builtin_names_are_unique() {
        let mut checked = Profiles { list: Vec::new() };
        for profile in Profiles::builtin().unwrap().list {
            let source = profile.source.clone();
            checked
                .add(profile)
                .unwrap_or_else(|e| panic!("{source}: {e}"));
        }
        assert_eq!(checked.list.len(), builtin::BUILTIN.len());
    }

    #[test]
    fn parse_errors_name_file_and_line() {
        let err =
            Profile::parse("system = \"x\"\nbogus = 1\n", Path::new("/p/x.toml")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/p/x.toml: line 2: unknown field `bogus`"),
            "{err}"
        );
        let text = "system='x-linux'\ndescription='d'\ninterpreters=['q']\nmagic='\\x7fELF'\nmask='\\xff'\n";
        let err = Profile::parse(text, Path::new("/p/x.toml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/p/x.toml: magic is 4 bytes and mask 1 bytes; both must be non-empty and of the same length; fix the file or remove it"
        );
    }

    #[test]
    fn sample_headers_cover_pie() {
        let text = "system='t-linux'\ndescription='d'\ninterpreters=['q']\n\
                    magic='\\x7fELF\\x02\\x02\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x16'\n\
                    mask='\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff'\n";
        let p = Profile::parse(text, Path::new("t")).unwrap();
        let h = p.sample_headers();
        assert_eq!(h[0][17], 2);
        assert_eq!(h[1][17], 3);
        assert!(p.accepted_by(&p.matcher()));
        assert!(p.partly_accepted_by(&p.matcher()));
        // An entry that takes only PIE programs (e_type 3 exactly) runs the system partly.
        let mut pie_magic = p.magic.0.clone();
        pie_magic[17] = 3;
        let mut exact = p.mask.0.clone();
        exact[17] = 0xff;
        let pie_only = Matcher::Magic {
            offset: 0,
            magic: crate::binfmt::Bytes(pie_magic),
            mask: Some(crate::binfmt::Bytes(exact)),
        };
        assert!(!p.accepted_by(&pie_only));
        assert!(p.partly_accepted_by(&pie_only));
        assert_eq!(
            p.only_kinds_accepted_by(&pie_only),
            Some(vec!["PIE (ET_DYN)"])
        );
        assert_eq!(p.only_kinds_accepted_by(&p.matcher()), None);
        assert!(!p.partly_accepted_by(&Matcher::Extension("t".into())));
    }
}
