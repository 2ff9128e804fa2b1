//! A binfmt_misc table in memory that behaves like the kernel's (fs/binfmt_misc.c and the
//! kernel's admin-guide/binfmt-misc.rst), for unit tests of the code above the
//! [`Table`] seam: a real table needs root or a private instance (tests/kernel.rs does that).
//!
//! Like the kernel: a line written to `register` is parsed by the same rules (line.rs, EINVAL
//! for what they refuse), then with flag `F` the interpreter is opened (ENOENT when it does
//! not exist), then the name is looked up (EEXIST when taken); a new entry is enabled and the
//! newest, listed first. `-1` removes an entry, `0`/`1` disable/enable it. Unlike it, a write
//! can be told to fail ([`FakeTable::fail_write`]), and every write is logged.

use std::cell::RefCell;
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::{
    interpreter_refusal, register_error, Entry, EntryName, Registration, RegistryError, Table,
    DEFAULT_ROOT,
};

/// The table, newest entry first, with a log of the writes made to it.
#[derive(Debug)]
pub struct FakeTable {
    root: PathBuf,
    state: RefCell<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: Vec<Entry>,
    writes: Vec<(String, String)>,
    /// The writes (counted from 1) that fail, and with which errno.
    fail: Vec<(usize, Errno)>,
}

impl FakeTable {
    /// A table holding `entries` (newest first, enabled or not), at the usual mount point.
    pub fn with(entries: &[(&Registration, bool)]) -> FakeTable {
        let entries = entries
            .iter()
            .map(|(reg, enabled)| printed(reg, *enabled))
            .collect();
        FakeTable {
            root: PathBuf::from(DEFAULT_ROOT),
            state: RefCell::new(State {
                entries,
                ..State::default()
            }),
        }
    }

    /// Make the `n`th write to the table (counted from 1, since it was made) fail with `errno`,
    /// changing nothing, as a kernel out of memory or a file system gone read-only would.
    /// Each call adds one failing write.
    pub fn fail_write(&self, n: usize, errno: Errno) {
        self.state.borrow_mut().fail.push((n, errno));
    }

    /// Every write so far: the file (`register` or an entry's name) and what was written.
    pub fn writes(&self) -> Vec<(String, String)> {
        self.state.borrow().writes.clone()
    }

    /// The table now, newest first: each entry's registration and whether it is enabled.
    pub fn table(&self) -> Vec<(Registration, bool)> {
        let state = self.state.borrow();
        state
            .entries
            .iter()
            .map(|e| (e.registration(), e.enabled))
            .collect()
    }

    /// Log a write; the errno it fails with when it is the one told to fail.
    fn write(&self, file: &str, data: &str) -> Result<(), io::Error> {
        let mut state = self.state.borrow_mut();
        state.writes.push((file.to_owned(), data.to_owned()));
        let n = state.writes.len();
        match state.fail.iter().find(|(at, _)| *at == n) {
            Some((_, errno)) => Err(io::Error::from(*errno)),
            None => Ok(()),
        }
    }

    /// What the kernel does with a line written to `register` (bm_register_write).
    fn kernel_register(&self, line: &str) -> Result<(), io::Error> {
        let errno = |e: Errno| Err(io::Error::from(e));
        // create_entry: the line's syntax and limits.
        let Ok(reg) = line.parse::<Registration>() else {
            return errno(Errno::EINVAL);
        };
        // open_exec of an F entry's interpreter.
        if interpreter_refusal(&self.root, &reg).is_some() {
            return errno(Errno::ENOENT);
        }
        let mut state = self.state.borrow_mut();
        if state.entries.iter().any(|e| e.name == reg.name) {
            return errno(Errno::EEXIST);
        }
        // list_add: at the head of the list, which is the order entries are tried in.
        state.entries.insert(0, printed(&reg, true));
        Ok(())
    }

    /// A write to an entry's file: NoSuchEntry, without a write, when there is none (the file
    /// does not exist).
    fn entry_write(
        &self,
        name: &EntryName,
        data: &str,
        change: impl FnOnce(&mut Vec<Entry>, usize),
    ) -> Result<(), RegistryError> {
        let Some(i) = self.position(name) else {
            return Err(RegistryError::NoSuchEntry(
                name.to_string(),
                self.root.clone(),
            ));
        };
        self.write(name.as_str(), data)
            .map_err(|err| RegistryError::Io {
                path: self.entry_path(name),
                err,
            })?;
        change(&mut self.state.borrow_mut().entries, i);
        Ok(())
    }

    fn position(&self, name: &EntryName) -> Option<usize> {
        let state = self.state.borrow();
        state.entries.iter().position(|e| &e.name == name)
    }
}

/// An entry as the kernel prints it and binfmtctl reads it back.
fn printed(reg: &Registration, enabled: bool) -> Entry {
    // Entry's reader takes every text its writer gives (entry.rs tests that round trip).
    Entry::parse(reg.name.clone(), &Entry::render(reg, enabled))
        .expect("an entry file as the kernel prints it reads back")
}

impl Table for FakeTable {
    fn root(&self) -> &Path {
        &self.root
    }

    fn entries(&self) -> Result<Vec<Entry>, RegistryError> {
        Ok(self.state.borrow().entries.clone())
    }

    fn entry(&self, name: &EntryName) -> Result<Entry, RegistryError> {
        let state = self.state.borrow();
        state
            .entries
            .iter()
            .find(|e| &e.name == name)
            .cloned()
            .ok_or_else(|| RegistryError::NoSuchEntry(name.to_string(), self.root.clone()))
    }

    fn register(&self, reg: &Registration) -> Result<(), RegistryError> {
        let line = reg.to_string();
        self.write("register", &line)
            .and_then(|()| self.kernel_register(&line))
            .map_err(|err| register_error(&self.root, reg, err))
    }

    fn refusal(&self, reg: &Registration) -> Option<RegistryError> {
        interpreter_refusal(&self.root, reg)
    }

    fn remove(&self, name: &EntryName) -> Result<(), RegistryError> {
        self.entry_write(name, "-1", |entries, i| {
            entries.remove(i);
        })
    }

    fn set_enabled(&self, name: &EntryName, enabled: bool) -> Result<(), RegistryError> {
        let data = if enabled { "1" } else { "0" };
        self.entry_write(name, data, |entries, i| entries[i].enabled = enabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::plan::tests::reg;

    #[test]
    fn behaves_like_the_kernel() {
        // Interpreters that exist: with F the kernel opens them while registering.
        let (a, b) = (reg("a", "/"), reg("b", "/"));
        let t = FakeTable::with(&[]);
        t.register(&a).unwrap();
        t.register(&b).unwrap();
        // Newest first, enabled.
        assert_eq!(t.table(), [(b.clone(), true), (a.clone(), true)]);
        // A taken name: EEXIST, nothing changes.
        let err = t.register(&reg("a", "/etc")).unwrap_err();
        assert!(matches!(err, RegistryError::Exists(..)), "{err}");
        // 0 disables, 1 enables, -1 removes; an entry that is not there has no file.
        t.set_enabled(&a.name, false).unwrap();
        assert_eq!(t.table(), [(b.clone(), true), (a.clone(), false)]);
        assert!(!t.entry(&a.name).unwrap().enabled);
        t.set_enabled(&a.name, true).unwrap();
        t.remove(&b.name).unwrap();
        assert_eq!(t.table(), [(a.clone(), true)]);
        for err in [
            t.remove(&b.name).unwrap_err(),
            t.set_enabled(&b.name, true).unwrap_err(),
            t.entry(&b.name).unwrap_err(),
        ] {
            assert!(matches!(err, RegistryError::NoSuchEntry(..)), "{err}");
        }
        // F with an interpreter that does not exist: the write fails with ENOENT, as
        // `refusal` foretells.
        let gone = reg("c", "/nonexistent/qemu");
        let err = t.register(&gone).unwrap_err().to_string();
        assert_eq!(Some(err.clone()), t.refusal(&gone).map(|e| e.to_string()));
        assert!(err.contains("/nonexistent/qemu does not exist"), "{err}");
        // A line the kernel's parser refuses: EINVAL (here, a relative interpreter).
        let mut bad = reg("d", "/");
        bad.interpreter = "qemu".into();
        let err = t.register(&bad).unwrap_err().to_string();
        assert!(err.contains("the kernel found the line malformed"), "{err}");
        assert_eq!(t.table(), [(a.clone(), true)]);
        // Every write, in order, failed ones included; none to a missing entry's file.
        let writes: Vec<_> = t.writes().into_iter().map(|(f, d)| f + " " + &d).collect();
        assert_eq!(
            writes,
            [
                format!("register {a}"),
                format!("register {b}"),
                format!("register {}", reg("a", "/etc")),
                "a 0".into(),
                "a 1".into(),
                "b -1".into(),
                format!("register {gone}"),
                format!("register {bad}"),
            ]
        );
    }

    #[test]
    fn a_write_told_to_fail_changes_nothing() {
        let a = reg("a", "/");
        let t = FakeTable::with(&[(&a, true)]);
        t.fail_write(2, Errno::EIO);
        t.set_enabled(&a.name, false).unwrap();
        let err = t.set_enabled(&a.name, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/proc/sys/fs/binfmt_misc/a: Input/output error (os error 5)"
        );
        assert_eq!(t.table(), [(a.clone(), false)]);
        t.fail_write(4, Errno::ENOMEM);
        t.remove(&a.name).unwrap();
        let err = t.register(&a).unwrap_err().to_string();
        assert!(err.ends_with("the kernel is out of memory"), "{err}");
        assert_eq!(t.table(), []);
    }
}
