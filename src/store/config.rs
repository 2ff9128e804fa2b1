//! The persisted desired state (`/etc/binfmtctl/config.toml`): which systems binfmtctl keeps
//! registered, under which entry name, with which interpreter and flags.

mod edit;

use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::binfmt::{EntryName, Flags};
use crate::store;
use crate::trust::Use;

/// Where the configuration is kept unless --config says otherwise (defined with the store,
/// which names it in its messages).
pub use crate::store::DEFAULT_CONFIG as DEFAULT_PATH;

const HEADER: &str = "# binfmtctl's configuration: the registrations restored at boot by `binfmtctl apply`.\n\
                      # Edit with `binfmtctl enable` / `binfmtctl disable`, or by hand: records are checked when read,\n\
                      # and comments, blank lines and order survive binfmtctl's edits.\n\n";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Keep Nix's `extra-platforms` in step with the systems (`enable --nix`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nix: bool,
    /// Interpreters registered with `enable --force` although users other than root can
    /// change them (SECURITY.md); `apply` refuses any other such interpreter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forced_interpreters: Vec<String>,
    /// One table per registration, `[[system]]`.
    #[serde(default, rename = "system", skip_serializing_if = "Vec::is_empty")]
    pub systems: Vec<SystemConfig>,
    /// The file it was read from, edited in place when saved (see [`Config::render`]).
    #[serde(skip)]
    source: Source,
}

/// The document a config was read from. Not part of the config's value: two configs with the
/// same records are equal whatever files they came from.
#[derive(Debug, Clone, Default)]
struct Source(Option<Box<edit::Original>>);

impl PartialEq for Source {
    fn eq(&self, _: &Source) -> bool {
        true
    }
}

impl Eq for Source {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemConfig {
    /// The system (a Nix double such as `riscv64-linux`).
    pub system: String,
    /// The binfmt_misc entry name.
    pub name: EntryName,
    /// The interpreter's absolute path.
    pub interpreter: String,
    /// Flags, e.g. "PF".
    pub flags: FlagsText,
    /// Flag C accepted on purpose (`enable --credentials`): without this key a record with C
    /// is refused, so a hand edit cannot add it silently (SECURITY.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub credentials: bool,
    /// Other systems this entry runs, enabled with it (`enable all`: armv7l-linux beside
    /// armv6l-linux, whose magic, mask, interpreter and flags are the same), so Nix's
    /// platforms, `check` and `disable armv7l` know them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
}

impl SystemConfig {
    /// Every system the record stands for: its own, then `also`.
    pub fn systems(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.system.as_str()).chain(self.also.iter().map(String::as_str))
    }
}

/// Flags as text in the config file, validated on read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FlagsText(pub Flags);

impl TryFrom<String> for FlagsText {
    type Error = crate::binfmt::LineError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Flags::parse_strict(&s).map(FlagsText)
    }
}

impl From<FlagsText> for String {
    fn from(f: FlagsText) -> String {
        f.0.to_string()
    }
}

impl Config {
    /// Parse, naming the file and line of any error.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            anyhow::anyhow!(
                "{}:{line}: {}; fix the file or remove the entry",
                path.display(),
                e.message().trim()
            )
        })?;
        for (i, a) in config.systems.iter().enumerate() {
            if config.systems[..i].iter().any(|b| b.name == a.name) {
                anyhow::bail!(
                    "{}: entry name {} appears twice; remove one of the [[system]] tables",
                    path.display(),
                    a.name
                );
            }
            // As on the command line (issue 11, case 4).
            if let Err(why) = crate::binfmt::line::check_interpreter_text(&a.interpreter) {
                anyhow::bail!(
                    "{}: interpreter {:?} of {} {why}",
                    path.display(),
                    a.interpreter,
                    a.name
                );
            }
            // Flag C only with its own key, which `enable --credentials` writes (case 8).
            if a.flags.0.credentials && !a.credentials {
                anyhow::bail!(
                    "{}: entry {} has flag C, which binfmtctl records only with `credentials = true` (what \
                     `binfmtctl enable --credentials` writes): setuid programs would run with raised privileges inside \
                     qemu-user; remove C from its flags, or add `credentials = true` to the record to accept the risk",
                    path.display(),
                    a.name
                );
            }
        }
        config.source = Source(edit::Original::new(text, &config).map(Box::new));
        Ok(config)
    }

    /// Read the config to show it, or an empty one when the file does not exist.
    pub fn load(path: &Path) -> Result<Config> {
        Config::load_for(path, Use::Show)
    }

    /// Read the config, vetted by the trust boundary for `use_` (to act: its owner, mode and
    /// every directory on the way, SECURITY.md), or an empty one when it does not exist.
    pub fn load_for(path: &Path, use_: Use) -> Result<Config> {
        match store::read_for(path, use_)? {
            Some(text) => Config::parse(&text, path),
            None => Ok(Config::default()),
        }
    }

    /// The file's text. For a config read from a file, that file's text with the changes
    /// made since (comments, blank lines and the order and formatting of untouched records
    /// kept, see edit.rs); otherwise a fresh file. An error, never an empty config or one
    /// with other records, if serialising fails: saving that would lose records.
    pub fn render(&self) -> Result<String> {
        Ok(self.rendered()?.0)
    }

    /// As [`Config::render`], and whether a hand-edited file's layout had to be given up.
    /// What is saved must read back as this config: an edit that would not (a hand-made
    /// layout edit.rs cannot follow) gives way to a fresh file; the records are what matter,
    /// and a command must not fail over comments.
    fn rendered(&self) -> Result<(String, bool)> {
        let body = toml::to_string(self).context("cannot serialise the configuration")?;
        let Some(original) = &self.source.0 else {
            return Ok((format!("{HEADER}{body}"), false));
        };
        let edited = edit::render(original, self, &body)
            .ok()
            .filter(|text| toml::from_str::<Config>(text).is_ok_and(|back| back == *self));
        Ok(match edited {
            Some(text) => (text, false),
            None => (format!("{HEADER}{body}"), true),
        })
    }

    /// Refuse, before anything is registered, a config binfmtctl must not record in: a link
    /// into the Nix store (NixOS's /etc, the module's config).
    pub fn check_writable(path: &Path) -> Result<()> {
        Config::check_writable_for(
            path,
            "use services.binfmtctl.emulatedSystems in the NixOS configuration, or --runtime to register without recording",
        )
    }

    /// As [`Config::check_writable`], with what to do instead for the command at hand.
    pub fn check_writable_for(path: &Path, instead: &str) -> Result<()> {
        let target = store::resolve_link(path)?;
        if store::in_nix_store(&target) {
            anyhow::bail!(
                "{} is managed by NixOS (a link into the read-only Nix store: {}): {instead}",
                path.display(),
                target.display()
            );
        }
        Ok(())
    }

    /// Write atomically (mode 0644). Callers hold the config lock. True when the file's
    /// hand-made layout could not be kept (written anew: say so).
    pub fn save(&self, path: &Path) -> Result<bool> {
        let (text, layout_lost) = self.rendered()?;
        store::write_atomic(path, text.as_bytes(), 0o644).map_err(|e| {
            if store::is_kind(&e, std::io::ErrorKind::ReadOnlyFilesystem) {
                e.context(format!(
                    "cannot save the configuration: {} is on a read-only file system; keep it elsewhere with \
                     --config FILE, or register without recording with --runtime",
                    path.display()
                ))
            } else {
                e.context("cannot save the configuration")
            }
        })?;
        Ok(layout_lost)
    }

    pub fn get(&self, name: &EntryName) -> Option<&SystemConfig> {
        self.systems.iter().find(|s| &s.name == name)
    }

    /// Add or replace the record with the same entry name.
    pub fn upsert(&mut self, rec: SystemConfig) {
        match self.systems.iter_mut().find(|s| s.name == rec.name) {
            Some(old) => *old = rec,
            None => self.systems.push(rec),
        }
        self.prune_forced();
    }

    pub fn remove(&mut self, name: &EntryName) -> bool {
        let before = self.systems.len();
        self.systems.retain(|s| &s.name != name);
        self.prune_forced();
        before != self.systems.len()
    }

    /// Whether `enable --force` accepted this interpreter despite its owner or permissions.
    pub fn is_forced(&self, interpreter: &str) -> bool {
        self.forced_interpreters.iter().any(|i| i == interpreter)
    }

    /// Record that `enable --force` accepted this interpreter.
    pub fn force_interpreter(&mut self, interpreter: &str) {
        if !self.is_forced(interpreter) {
            self.forced_interpreters.push(interpreter.to_owned());
        }
    }

    /// A forced interpreter no record uses any more is forgotten, so a later interpreter at
    /// the same path is checked again.
    fn prune_forced(&mut self) {
        let systems = &self.systems;
        self.forced_interpreters
            .retain(|i| systems.iter().any(|s| &s.interpreter == i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut c = Config::default();
        c.upsert(SystemConfig {
            system: "riscv64-linux".into(),
            name: "riscv64-linux".parse().unwrap(),
            interpreter: "/usr/bin/qemu-riscv64-static".into(),
            flags: FlagsText(Flags::parse_strict("PF").unwrap()),
            credentials: false,
            also: vec![],
        });
        let text = c.render().unwrap();
        assert!(text.contains("[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"/usr/bin/qemu-riscv64-static\"\nflags = \"PF\"\n"), "{text}");
        assert_eq!(Config::parse(&text, Path::new("c")).unwrap(), c);
        // One entry for two systems (`enable all`: armv6l and armv7l) records both.
        c.upsert(SystemConfig {
            system: "armv6l-linux".into(),
            name: "qemu-arm".parse().unwrap(),
            interpreter: "/usr/bin/qemu-arm-static".into(),
            flags: FlagsText(Flags::parse_strict("PF").unwrap()),
            credentials: false,
            also: vec!["armv7l-linux".into()],
        });
        let text = c.render().unwrap();
        assert!(text.contains("also = [\"armv7l-linux\"]\n"), "{text}");
        let back = Config::parse(&text, Path::new("c")).unwrap();
        assert_eq!(back, c);
        assert_eq!(
            back.systems[1].systems().collect::<Vec<_>>(),
            ["armv6l-linux", "armv7l-linux"]
        );
        assert_eq!(
            Config::parse("", Path::new("c")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn forced_interpreters_round_trip_and_are_forgotten_with_their_last_record() {
        let rec = |name: &str, interpreter: &str| SystemConfig {
            system: "riscv64-linux".into(),
            name: name.parse().unwrap(),
            interpreter: interpreter.into(),
            flags: FlagsText(Flags::default()),
            credentials: false,
            also: vec![],
        };
        let mut c = Config::default();
        c.upsert(rec("a", "/home/u/qemu"));
        c.upsert(rec("b", "/home/u/qemu"));
        c.force_interpreter("/home/u/qemu");
        let text = c.render().unwrap();
        assert!(
            text.contains("forced_interpreters = [\"/home/u/qemu\"]\n"),
            "{text}"
        );
        assert_eq!(Config::parse(&text, Path::new("c")).unwrap(), c);
        c.remove(&"a".parse().unwrap());
        assert!(c.is_forced("/home/u/qemu"));
        c.upsert(rec("b", "/usr/bin/qemu-riscv64-static"));
        assert!(!c.is_forced("/home/u/qemu"));
        assert!(!c.render().unwrap().contains("forced_interpreters"));
    }

    #[test]
    fn saving_a_hand_edited_file_keeps_its_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let hand =
            "# Mine.\n\n[[system]]\nsystem = \"riscv64-linux\"  # the boards\nname = \"r\"\n\
                    interpreter = \"/q\"\nflags = \"PF\"\n";
        std::fs::write(&path, hand).unwrap();
        let mut c = Config::load(&path).unwrap();
        let mut r = c.systems[0].clone();
        r.name = "a".parse().unwrap();
        c.upsert(r);
        c.save(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{hand}\n[[system]]\nsystem = \"riscv64-linux\"\nname = \"a\"\ninterpreter = \"/q\"\nflags = \"PF\"\n")
        );
        // No file: a fresh one, header first.
        let other = dir.path().join("new.toml");
        let mut c = Config::load(&other).unwrap();
        c.upsert(Config::load(&path).unwrap().systems[0].clone());
        c.save(&other).unwrap();
        assert!(std::fs::read_to_string(&other).unwrap().starts_with(HEADER));
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            ("[[system]]\nsystem = \"x\"\nname = \"a/b\"\ninterpreter = \"/q\"\nflags = \"F\"\n", "c.toml:3: entry name \"a/b\" is not allowed: it contains '/'; fix the file or remove the entry"),
            ("[[system]]\nsystem = \"x\"\nname = \"a\"\ninterpreter = \"/q\"\nflags = \"Z\"\n", "c.toml:5: unknown flag 'Z'; the kernel accepts P, O, C and F; fix the file or remove the entry"),
            ("[[system]]\nsystem = \"x\"\n", "c.toml:1: missing field `name`; fix the file or remove the entry"),
            ("nonsense", "c.toml:1: expected `.`, `=`; fix the file or remove the entry"),
            ("[[system]]\nsystem = \"x\"\nname = \"a\"\ninterpreter = \"q\"\nflags = \"\"\n", "c.toml: interpreter \"q\" of a must be an absolute path"),
        ];
        for (text, want) in cases {
            assert_eq!(
                Config::parse(text, Path::new("c.toml"))
                    .unwrap_err()
                    .to_string(),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn an_edit_that_would_not_read_back_gives_way_to_a_fresh_file() {
        // The document read does not hold what `was` says it held (no such file can be read,
        // but a defect in edit.rs would come to this): the edited text would keep a record the
        // config no longer has. Saved anew instead, every record in it, and said (the bool).
        let mut c = Config::default();
        c.upsert(SystemConfig {
            system: "riscv64-linux".into(),
            name: "riscv64-linux".parse().unwrap(),
            interpreter: "/usr/bin/qemu-riscv64-static".into(),
            flags: FlagsText(crate::binfmt::Flags::default()),
            credentials: false,
            also: Vec::new(),
        });
        let stray =
            "# hand-written\n[[system]]\nsystem = \"s390x-linux\"\nname = \"s390x-linux\"\n\
                     interpreter = \"/usr/bin/qemu-s390x-static\"\nflags = \"\"\n";
        c.source = Source(edit::Original::new(stray, &c).map(Box::new));
        let (text, lost) = c.rendered().unwrap();
        assert!(lost, "{text}");
        assert!(text.starts_with(HEADER), "{text}");
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), c);
        // A faithful document keeps its layout.
        let read = Config::parse(&text, Path::new("c.toml")).unwrap();
        assert_eq!(read.rendered().unwrap(), (text, false));
    }
}
