//! What binfmtctl itself registered in the kernel table (`/run/binfmtctl/state.json`): the
//! proof of ownership that lets it replace or remove its own entries and leave everyone
//! else's alone, and the interpreter's identity at registration, to notice a replaced
//! interpreter behind an `F` entry.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::binfmt::{EntryName, Registration};
use crate::store;
use crate::trust::Use;

pub const DEFAULT_DIR: &str = "/run/binfmtctl";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub entries: Vec<Owned>,
}

/// One registration binfmtctl made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    pub name: EntryName,
    /// The register line written.
    pub line: String,
    /// The interpreter file's identity when registered (device, inode, mtime seconds).
    pub interpreter_id: Option<(u64, u64, i64)>,
}

/// The identity of a file, to notice it being replaced.
pub fn file_id(path: &Path) -> Option<(u64, u64, i64)> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino(), m.mtime()))
}

impl State {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    /// Read to show; see [`State::load_for`].
    pub fn load(dir: &Path) -> Result<State> {
        State::load_for(dir, Use::Show)
    }

    /// Read; a missing or unreadable-as-JSON file is an empty state (it lives on tmpfs and is
    /// only a cache of what we did; losing it makes binfmtctl more careful, not less). To act,
    /// the directory and file pass the trust boundary first: a state that users other than
    /// root could forge would make binfmtctl remove their choice of entries (issue 11, case 2).
    pub fn load_for(dir: &Path, use_: Use) -> Result<State> {
        Ok(store::read_for(&State::path(dir), use_)?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).context("cannot serialize the state")?;
        store::write_atomic(&State::path(dir), text.as_bytes(), 0o644)
    }

    pub fn get(&self, name: &EntryName) -> Option<&Owned> {
        self.entries.iter().find(|o| &o.name == name)
    }

    /// The registration recorded for a name, when it parses.
    pub fn registration(&self, name: &EntryName) -> Option<Registration> {
        self.get(name).and_then(|o| o.line.parse().ok())
    }

    pub fn record(&mut self, reg: &Registration) {
        self.forget(&reg.name);
        self.entries.push(Owned {
            name: reg.name.clone(),
            line: reg.to_string(),
            interpreter_id: file_id(Path::new(&reg.interpreter)),
        });
    }

    pub fn forget(&mut self, name: &EntryName) {
        self.entries.retain(|o| &o.name != name);
    }
}
