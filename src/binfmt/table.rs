//! The kernel's table behind a seam: what the transaction needs of binfmt_misc, implemented
//! by [`Registry`] (the real table, reached through its directory) and, for unit tests, by
//! [`super::fake::FakeTable`], which behaves like the kernel in memory (youki's `Syscall`
//! trait and its test double, crates/libcontainer/src/syscall/).

use std::path::{Path, PathBuf};

use super::{Entry, EntryName, Registration, Registry, RegistryError};

/// A binfmt_misc table: read its entries, register a line, remove, enable or disable an entry.
pub trait Table {
    /// Where the table is mounted, for messages (an entry's file, `register`).
    fn root(&self) -> &Path;

    /// The path of an entry's file.
    fn entry_path(&self, name: &EntryName) -> PathBuf {
        self.root().join(name.as_str())
    }

    /// Every entry, newest first (the order the kernel tries them in).
    fn entries(&self) -> Result<Vec<Entry>, RegistryError>;

    /// One entry, or `NoSuchEntry`.
    fn entry(&self, name: &EntryName) -> Result<Entry, RegistryError>;

    /// Register one line: a new entry, enabled and the newest; `Exists` when the name is taken.
    fn register(&self, reg: &Registration) -> Result<(), RegistryError>;

    /// The error `register` would surely give for `reg` without trying (flag `F` and an
    /// interpreter that does not exist).
    fn refusal(&self, reg: &Registration) -> Option<RegistryError>;

    /// Remove one entry (`-1` to its file).
    fn remove(&self, name: &EntryName) -> Result<(), RegistryError>;

    /// Enable or disable one entry (`1` or `0` to its file).
    fn set_enabled(&self, name: &EntryName, enabled: bool) -> Result<(), RegistryError>;
}

impl Table for Registry {
    fn root(&self) -> &Path {
        Registry::root(self)
    }

    fn entry_path(&self, name: &EntryName) -> PathBuf {
        Registry::entry_path(self, name)
    }

    fn entries(&self) -> Result<Vec<Entry>, RegistryError> {
        Registry::entries(self)
    }

    fn entry(&self, name: &EntryName) -> Result<Entry, RegistryError> {
        Registry::entry(self, name)
    }

    fn register(&self, reg: &Registration) -> Result<(), RegistryError> {
        Registry::register(self, reg)
    }

    fn refusal(&self, reg: &Registration) -> Option<RegistryError> {
        Registry::refusal(self, reg)
    }

    fn remove(&self, name: &EntryName) -> Result<(), RegistryError> {
        Registry::remove(self, name)
    }

    fn set_enabled(&self, name: &EntryName, enabled: bool) -> Result<(), RegistryError> {
        Registry::set_enabled(self, name, enabled)
    }
}
