//! Carry out planned actions on the kernel table, all or nothing: on the first failure,
//! every action already done is undone in reverse order.
//!
//! Undoing a removal registers the entry again, and the kernel makes a fresh entry enabled
//! and the newest, the one tried first (binfmt_misc documentation: the most recently
//! registered matching entry wins). The state is put back (a disabled entry is disabled
//! again); the order is not, since that would mean registering again every newer entry,
//! other tools' included. What the rollback reordered is reported instead.

use crate::binfmt::{Entry, EntryName, Registration, RegistryError, Table};
use crate::model::plan::{Action, Existing};
use crate::model::profile::Profiles;

/// A failed transaction: what failed, and whether the rollback restored the table.
#[derive(Debug, thiserror::Error)]
// The cause is in the message, so it is no `source()`: `{err:#}` would print it twice.
#[error("{action} {name} failed: {err}; {}", .rollback.describe("earlier changes"))]
pub struct Failed {
    pub action: &'static str,
    pub name: String,
    pub err: Box<RegistryError>,
    pub rollback: Rollback,
}

/// What a rollback could not put back as it was.
#[derive(Debug, Default)]
pub struct Rollback {
    /// Names whose earlier change could not be undone, with why.
    pub errors: Vec<String>,
    /// Entries registered again that now win over an entry that used to win, with what to do.
    pub reordered: Vec<String>,
}

impl Rollback {
    /// The outcome in words, `what` naming what was undone ("earlier changes").
    pub fn describe(&self, what: &str) -> String {
        let reordered = self.reordered.join("; ");
        match (self.errors.is_empty(), self.reordered.is_empty()) {
            (true, true) => format!("{what} were undone, the table is as it was"),
            (true, false) => format!("{what} were undone, but {reordered}"),
            (false, true) => format!("undoing {what} failed too: {}", self.errors.join("; ")),
            (false, false) => format!(
                "undoing {what} failed too: {}; {reordered}",
                self.errors.join("; ")
            ),
        }
    }
}

/// Disable `e` again if it was disabled: a fresh registration is always enabled (there is
/// no way to register an entry disabled, so it is enabled for a moment in between).
fn settle(table: &dyn Table, e: &Existing) -> Result<(), RegistryError> {
    if e.enabled {
        Ok(())
    } else {
        table.set_enabled(&e.reg.name, false)
    }
}

/// Register an entry again as it was, enabled or not.
fn restore(table: &dyn Table, e: &Existing) -> Result<(), RegistryError> {
    table.register(&e.reg)?;
    settle(table, e)
}

/// Put `into` in the place of `out` (same name); when `into` cannot be registered, put `out`
/// back as it was.
fn swap(table: &dyn Table, out: &Existing, into: &Existing) -> Result<(), RegistryError> {
    // Refused before `out` goes: an `F` entry whose interpreter was deleted since (qemu
    // uninstalled) still works, held open by the kernel, but could not be registered again.
    if let Some(err) = table.refusal(&into.reg) {
        return Err(err);
    }
    table.remove(&out.reg.name)?;
    if let Err(err) = table.register(&into.reg) {
        return Err(match restore(table, out) {
            // The old entry is back; the caller reports the original error.
            Ok(()) => err,
            Err(back) => RegistryError::Lost {
                name: out.reg.name.to_string(),
                new: Box::new(err),
                old: Box::new(back),
            },
        });
    }
    settle(table, into)
}

/// A registration just made: enabled.
fn fresh(reg: &Registration) -> Existing {
    Existing {
        reg: reg.clone(),
        enabled: true,
    }
}

/// Do one action.
pub fn perform(table: &dyn Table, action: &Action) -> Result<(), RegistryError> {
    match action {
        Action::Unchanged(_) => Ok(()),
        Action::Enable(r) => table.set_enabled(&r.name, true),
        Action::Register(r) => table.register(r),
        Action::Replace { old, new } => swap(table, old, &fresh(new)),
        Action::Remove(e) => table.remove(&e.reg.name),
    }
}

/// Undo one action that succeeded.
fn undo_one(table: &dyn Table, action: &Action) -> Result<(), RegistryError> {
    match action {
        Action::Unchanged(_) => Ok(()),
        Action::Enable(r) => table.set_enabled(&r.name, false),
        Action::Register(r) => table.remove(&r.name),
        Action::Replace { old, new } => swap(table, &fresh(new), old),
        Action::Remove(e) => restore(table, e),
    }
}

/// Undo actions that were all done, newest first. `before` is the table as it was before
/// them, to tell which entries the rollback made win over entries that used to win.
pub fn undo(table: &dyn Table, profiles: &Profiles, before: &[Entry], done: &[Action]) -> Rollback {
    roll_back(table, profiles, before, done, done)
}

/// Undo `done`; `touched` (`done` and maybe a failed action that put its old entry back)
/// are the entries that may have been registered again.
fn roll_back(
    table: &dyn Table,
    profiles: &Profiles,
    before: &[Entry],
    done: &[Action],
    touched: &[Action],
) -> Rollback {
    let mut errors = Vec::new();
    for action in done.iter().rev() {
        if let Err(e) = undo_one(table, action) {
            errors.push(format!("{}: {e}", action.name()));
        }
    }
    let touched: Vec<&EntryName> = touched.iter().map(Action::name).collect();
    Rollback {
        errors,
        reordered: reordered(table, profiles, before, &touched),
    }
}

/// Read the table now and report, for every entry in `touched` that was registered again
/// and so became the newest, the entries it now wins over although they used to win over
/// it (see [`overtaken`]). Best effort: a table that cannot be read reports nothing.
pub fn reordered(
    table: &dyn Table,
    profiles: &Profiles,
    before: &[Entry],
    touched: &[&EntryName],
) -> Vec<String> {
    match table.entries() {
        Ok(after) => overtaken(table, profiles, before, &after, touched),
        Err(_) => Vec::new(),
    }
}

/// For each known system, compare the entry that runs its programs in the table `before`
/// and `after` (both newest first): where the winner is now one of `touched` while the
/// entry that used to win is still there and enabled, the touched entry was registered
/// again (so it is the newest) and overtook it. One line per pair of entries, with the
/// systems concerned and how to give the old winner its precedence back.
pub fn overtaken(
    table: &dyn Table,
    profiles: &Profiles,
    before: &[Entry],
    after: &[Entry],
    touched: &[&EntryName],
) -> Vec<String> {
    let mut pairs: Vec<(&Entry, &Entry, Vec<&str>)> = Vec::new();
    for p in profiles.all() {
        // The non-PIE programs' winner: the kind every system has (Profile::winners).
        let (Some(Some(was)), Some(Some(now))) = (
            p.winners(before).first().copied(),
            p.winners(after).first().copied(),
        ) else {
            continue;
        };
        if was.name == now.name
            || !touched.contains(&&now.name)
            || !after.iter().any(|e| e.name == was.name && e.enabled)
        {
            continue;
        }
        match pairs
            .iter_mut()
            .find(|(n, w, _)| n.name == now.name && w.name == was.name)
        {
            Some((_, _, systems)) => systems.push(&p.system),
            None => pairs.push((now, was, vec![&p.system])),
        }
    }
    pairs
        .into_iter()
        .map(|(now, was, systems)| {
            let line = was.registration().to_string().replace('\'', r"'\''");
            format!(
                "{now} was registered again and, as the newest entry, now runs {systems} programs instead of {was}; \
                 to give {was} precedence back, register it again: echo -1 > {path} && printf '%s\\n' '{line}' > {register}",
                now = now.name,
                was = was.name,
                systems = systems.join(", "),
                path = table.entry_path(&was.name).display(),
                register = table.root().join("register").display(),
            )
        })
        .collect()
}

/// Do every action; on failure undo the done ones and report.
pub fn execute(table: &dyn Table, profiles: &Profiles, actions: &[Action]) -> Result<(), Failed> {
    // The table before, to tell what a rollback reordered: only actions that take an entry
    // out can put one back as the newest.
    let before = if actions
        .iter()
        .any(|a| matches!(a, Action::Replace { .. } | Action::Remove(_)))
    {
        table.entries().unwrap_or_default()
    } else {
        Vec::new()
    };
    for (i, action) in actions.iter().enumerate() {
        if let Err(source) = perform(table, action) {
            // A failed Replace puts its old entry back: it is touched too.
            let mut rollback = roll_back(table, profiles, &before, &actions[..i], &actions[..=i]);
            if let RegistryError::Lost { name, .. } = &source {
                rollback.errors.push(format!("{name} is now missing from the table; run `binfmtctl apply` once its interpreter is fixed"));
            }
            return Err(Failed {
                action: action.verb(),
                name: action.name().to_string(),
                err: Box::new(source),
                rollback,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binfmt::fake::FakeTable;
    use crate::binfmt::Registry;
    use crate::model::plan::tests::{existing, reg};
    use nix::errno::Errno;
    use std::fs;
    use std::path::Path;

    /// The writes made, as `file data` lines.
    fn writes(t: &FakeTable) -> Vec<String> {
        t.writes().into_iter().map(|(f, d)| f + " " + &d).collect()
    }

    /// The table as a set: which entries, as registered, enabled or not.
    fn sorted(mut table: Vec<(Registration, bool)>) -> Vec<(Registration, bool)> {
        table.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        table
    }

    #[test]
    fn whichever_write_fails_the_table_is_put_back_as_it_was() {
        let profiles = Profiles::builtin().unwrap();
        // Interpreters that exist (F opens them): one for each registration of a name.
        let (a, a2) = (reg("a", "/etc"), reg("a", "/dev"));
        let (b, c, d) = (reg("b", "/"), reg("c", "/"), reg("d", "/"));
        let before = [(&d, false), (&c, false), (&a, true)];
        let actions = [
            Action::Register(b.clone()),
            Action::Replace {
                old: existing(&a, true),
                new: a2.clone(),
            },
            Action::Remove(existing(&c, false)),
            Action::Enable(d.clone()),
        ];
        let table = FakeTable::with(&before);
        execute(&table, &profiles, &actions).unwrap();
        assert_eq!(
            writes(&table),
            [
                format!("register {b}"),
                "a -1".into(),
                format!("register {a2}"),
                "c -1".into(),
                "d 1".into(),
            ]
        );
        assert_eq!(table.table(), [(a2, true), (b, true), (d.clone(), true)]);
        // The action each write belongs to.
        let verbs = ["register", "replace", "replace", "remove", "enable"];
        let was = sorted(before.iter().map(|(r, e)| ((*r).clone(), *e)).collect());
        for (n, verb) in verbs.into_iter().enumerate() {
            let table = FakeTable::with(&before);
            table.fail_write(n + 1, Errno::EIO);
            let err = execute(&table, &profiles, &actions).unwrap_err();
            assert_eq!(err.action, verb, "write {}", n + 1);
            assert!(err.rollback.errors.is_empty(), "write {}: {err}", n + 1);
            assert_eq!(
                sorted(table.table()),
                was,
                "write {}: {:?}",
                n + 1,
                writes(&table)
            );
        }
    }

    #[test]
    fn a_replace_removes_registers_and_its_undo_restores_the_old_state() {
        let profiles = Profiles::builtin().unwrap();
        let (old, new, b) = (reg("a", "/etc"), reg("a", "/dev"), reg("b", "/"));
        for enabled in [true, false] {
            let replace = Action::Replace {
                old: existing(&old, enabled),
                new: new.clone(),
            };
            // The old entry goes first (the name is taken until then), the new one is
            // registered, enabled: a replace gives an entry that runs programs.
            let t = FakeTable::with(&[(&old, enabled)]);
            execute(&t, &profiles, std::slice::from_ref(&replace)).unwrap();
            assert_eq!(writes(&t), ["a -1".to_owned(), format!("register {new}")]);
            assert_eq!(t.table(), [(new.clone(), true)]);
            // Undone after a later failure: the new one goes, the old one comes back as it
            // was, disabled again if it was.
            let t = FakeTable::with(&[(&old, enabled)]);
            let actions = [replace.clone(), Action::Remove(existing(&b, true))];
            execute(&t, &profiles, &actions).unwrap_err();
            let mut want = vec![
                "a -1".to_owned(),
                format!("register {new}"),
                "a -1".to_owned(),
                format!("register {old}"),
            ];
            if !enabled {
                want.push("a 0".into());
            }
            assert_eq!(writes(&t), want);
            assert_eq!(t.table(), [(old.clone(), enabled)]);
        }
    }

    #[test]
    fn a_replace_whose_registration_fails_puts_the_old_entry_back_or_says_it_is_lost() {
        let profiles = Profiles::builtin().unwrap();
        let (old, new) = (reg("a", "/etc"), reg("a", "/dev"));
        let replace = [Action::Replace {
            old: existing(&old, false),
            new: new.clone(),
        }];
        let t = FakeTable::with(&[(&old, false)]);
        t.fail_write(2, Errno::ENOMEM);
        let err = execute(&t, &profiles, &replace).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "replace a failed: the kernel refused '{new}' written to /proc/sys/fs/binfmt_misc/register: \
                 Cannot allocate memory (os error 12); the kernel is out of memory; earlier changes were undone, the table is as it was"
            )
        );
        assert_eq!(t.table(), [(old.clone(), false)]);
        // Neither the new entry nor the old one could be registered.
        let t = FakeTable::with(&[(&old, true)]);
        t.fail_write(2, Errno::ENOMEM);
        t.fail_write(3, Errno::ENOMEM);
        let err = execute(&t, &profiles, &replace).unwrap_err();
        assert!(matches!(*err.err, RegistryError::Lost { .. }), "{err}");
        assert_eq!(
            err.rollback.errors,
            ["a is now missing from the table; run `binfmtctl apply` once its interpreter is fixed"]
        );
        assert_eq!(t.table(), []);
        // One the kernel would refuse (F, no interpreter): nothing is written at all.
        let t = FakeTable::with(&[(&old, true)]);
        let gone = [Action::Replace {
            old: existing(&old, true),
            new: reg("a", "/nonexistent/qemu"),
        }];
        execute(&t, &profiles, &gone).unwrap_err();
        assert_eq!(writes(&t), Vec::<String>::new());
    }

    #[test]
    fn enabling_is_undone_by_disabling() {
        let profiles = Profiles::builtin().unwrap();
        let (d, b) = (reg("d", "/"), reg("b", "/"));
        let t = FakeTable::with(&[(&d, false)]);
        let actions = [Action::Enable(d.clone()), Action::Register(b.clone())];
        execute(&t, &profiles, &actions).unwrap();
        assert_eq!(t.table(), [(b.clone(), true), (d.clone(), true)]);
        let t = FakeTable::with(&[(&d, false)]);
        t.fail_write(2, Errno::EIO);
        let err = execute(&t, &profiles, &actions).unwrap_err();
        assert_eq!(err.action, "register");
        assert_eq!(
            writes(&t),
            ["d 1".to_owned(), format!("register {b}"), "d 0".into()]
        );
        assert_eq!(t.table(), [(d.clone(), false)]);
        // `undo` of a whole transaction that succeeded (a config that could not be saved).
        let t = FakeTable::with(&[(&d, false)]);
        execute(&t, &profiles, &actions).unwrap();
        let rollback = undo(&t, &profiles, &[], &actions);
        assert!(rollback.errors.is_empty());
        assert_eq!(t.table(), [(d.clone(), false)]);
    }

    /// A plain directory laid out like binfmt_misc, holding `entries`. It does not act like
    /// the kernel: every write lands at the start of its file, so a file shows the last
    /// thing written to it (on top of what was there).
    fn table(dir: &Path, entries: &[(&Registration, bool)]) -> Registry {
        fs::write(dir.join("register"), "").unwrap();
        fs::write(dir.join("status"), "enabled\n").unwrap();
        for (r, enabled) in entries {
            fs::write(dir.join(r.name.as_str()), Entry::render(r, *enabled)).unwrap();
        }
        Registry::new(dir)
    }

    fn read(dir: &Path, file: &str) -> String {
        fs::read_to_string(dir.join(file)).unwrap()
    }

    #[test]
    fn undoing_a_removal_disables_an_entry_that_was_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (reg("a", "/q"), reg("b", "/q"));
        // b is not in the table, so removing it fails after a was removed.
        let registry = table(dir.path(), &[(&a, false)]);
        let actions = [
            Action::Remove(existing(&a, false)),
            Action::Remove(existing(&b, true)),
        ];
        let profiles = Profiles::builtin().unwrap();
        let err = execute(&registry, &profiles, &actions).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "remove b failed: no entry named b in {}; earlier changes were undone, the table is as it was",
                dir.path().display()
            )
        );
        // a was written to register again, and then 0 (disable) to its file.
        assert_eq!(read(dir.path(), "register"), a.to_string());
        assert!(
            read(dir.path(), "a").starts_with('0'),
            "{}",
            read(dir.path(), "a")
        );
    }

    #[test]
    fn undoing_a_replace_puts_the_old_entry_back_in_its_state() {
        let dir = tempfile::tempdir().unwrap();
        // Same length, so the register file shows the last line whole.
        // Interpreters that exist: an F registration of a missing one is refused up front.
        let (old, new, b) = (reg("a", "/etc"), reg("a", "/dev"), reg("b", "/q"));
        let profiles = Profiles::builtin().unwrap();
        // Disabled: 0 is written to it last; enabled: the last write is the removal.
        for (enabled, last_write) in [(false, "0"), (true, "-1")] {
            let registry = table(dir.path(), &[(&old, enabled)]);
            let actions = [
                Action::Replace {
                    old: existing(&old, enabled),
                    new: new.clone(),
                },
                Action::Remove(existing(&b, true)),
            ];
            execute(&registry, &profiles, &actions).unwrap_err();
            assert_eq!(read(dir.path(), "register"), old.to_string());
            let a = read(dir.path(), "a");
            assert!(a.starts_with(last_write), "enabled={enabled}: {a}");
        }
    }

    #[test]
    fn a_replace_the_kernel_would_refuse_leaves_the_old_entry_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (reg("a", "/etc"), reg("a", "/nonexistent/qemu"));
        let registry = table(dir.path(), &[(&old, true)]);
        let before = read(dir.path(), "a");
        let profiles = Profiles::builtin().unwrap();
        let actions = [Action::Replace {
            old: existing(&old, true),
            new,
        }];
        let err = execute(&registry, &profiles, &actions)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/qemu does not exist"), "{err}");
        // Nothing was written: not the removal of a, not a registration.
        assert_eq!(read(dir.path(), "a"), before);
        assert_eq!(read(dir.path(), "register"), "");
    }

    fn entry(profiles: &Profiles, name: &str, enabled: bool) -> Entry {
        let r = Registration {
            name: name.parse().unwrap(),
            matcher: profiles.lookup("riscv64-linux").unwrap().matcher(),
            interpreter: format!("/usr/bin/{name}"),
            flags: "PF".parse().unwrap(),
        };
        Entry::parse(r.name.clone(), &Entry::render(&r, enabled)).unwrap()
    }

    #[test]
    fn overtaken_reports_an_entry_put_back_ahead_of_one_that_used_to_win() {
        let profiles = Profiles::builtin().unwrap();
        let registry = Registry::new("/b");
        let e = |name, enabled| entry(&profiles, name, enabled);
        let (ours, theirs) = (e("ours", true), e("theirs", true));
        let name = |s: &str| -> EntryName { s.parse().unwrap() };
        let ours_name = name("ours");
        let touched = [&ours_name];
        // Newest first: theirs won before, ours (registered again) wins after.
        let before = [theirs.clone(), ours.clone()];
        let after = [ours.clone(), theirs.clone()];
        assert_eq!(
            overtaken(&registry, &profiles, &before, &after, &touched),
            [
                r"ours was registered again and, as the newest entry, now runs riscv64-linux programs instead of theirs; to give theirs precedence back, register it again: echo -1 > /b/theirs && printf '%s\n' ':theirs:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/theirs:PF' > /b/register"
            ]
        );
        let none: [&str; 0] = [];
        // Nothing to report: the order did not change; ours was not touched; theirs is
        // disabled now; ours is disabled (again); ours won before already.
        let cases: [(&[Entry], &[Entry], &[&EntryName]); 5] = [
            (&before, &before, &touched),
            (&before, &after, &[]),
            (&before, &[ours.clone(), e("theirs", false)], &touched),
            (&before, &[e("ours", false), theirs.clone()], &touched),
            (&after, &after, &touched),
        ];
        for (i, (before, after, touched)) in cases.into_iter().enumerate() {
            assert_eq!(
                overtaken(&registry, &profiles, before, after, touched),
                none,
                "case {i}"
            );
        }
    }

    #[test]
    fn rollback_outcome_in_words() {
        let r = |errors: &[&str], reordered: &[&str]| Rollback {
            errors: errors.iter().map(ToString::to_string).collect(),
            reordered: reordered.iter().map(ToString::to_string).collect(),
        };
        let cases = [
            (
                r(&[], &[]),
                "earlier changes were undone, the table is as it was",
            ),
            (
                r(&[], &["x now wins"]),
                "earlier changes were undone, but x now wins",
            ),
            (
                r(&["a: e"], &[]),
                "undoing earlier changes failed too: a: e",
            ),
            (
                r(&["a: e", "b: f"], &["x now wins"]),
                "undoing earlier changes failed too: a: e; b: f; x now wins",
            ),
        ];
        for (rollback, want) in cases {
            assert_eq!(rollback.describe("earlier changes"), want);
        }
    }
}
