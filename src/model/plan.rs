//! Planning: desired registrations + the current table -> the list of kernel actions.
//! Pure functions over values; `transaction` carries the actions out.

use std::fmt;

use crate::binfmt::{Entry, EntryName, Registration};

/// One change to the kernel table (or the decision to leave an entry as it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Already registered exactly so.
    Unchanged(Registration),
    /// Registered exactly so but disabled: enable it.
    Enable(Registration),
    /// Not registered: register.
    Register(Registration),
    /// binfmtctl's own entry of that name differs: remove it and register the new line.
    Replace { old: Existing, new: Registration },
    /// Remove an entry.
    Remove(Existing),
}

/// An entry as the table held it when the plan was made: its line and whether it was
/// enabled. Undoing a removal registers the line again, and a fresh registration is enabled
/// (and the newest), so the state is carried along to be put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub reg: Registration,
    pub enabled: bool,
}

impl From<&Entry> for Existing {
    fn from(e: &Entry) -> Existing {
        Existing {
            reg: e.registration(),
            enabled: e.enabled,
        }
    }
}

impl Action {
    pub fn name(&self) -> &EntryName {
        match self {
            Action::Unchanged(r) | Action::Enable(r) | Action::Register(r) => &r.name,
            Action::Remove(e) => &e.reg.name,
            Action::Replace { new, .. } => &new.name,
        }
    }

    /// The registration the action leaves in (or, for Remove, takes out of) the table.
    pub fn registration(&self) -> &Registration {
        match self {
            Action::Unchanged(r) | Action::Enable(r) | Action::Register(r) => r,
            Action::Remove(e) => &e.reg,
            Action::Replace { new, .. } => new,
        }
    }

    /// The word used in reports and JSON.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Unchanged(_) => "unchanged",
            Action::Enable(_) => "enable",
            Action::Register(_) => "register",
            Action::Replace { .. } => "replace",
            Action::Remove(_) => "remove",
        }
    }

    pub fn changes_anything(&self) -> bool {
        !matches!(self, Action::Unchanged(_))
    }
}

/// An entry of the wanted name that binfmtctl did not create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreign {
    pub name: EntryName,
    pub current: Registration,
}

impl fmt::Display for Foreign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (interpreter {}, flags {:?})",
            self.name,
            self.current.interpreter,
            self.current.flags.to_string()
        )
    }
}

/// Plan registering `wanted`. An existing entry of the same name is replaced only when
/// `is_ours` says binfmtctl created it, or with `force`; otherwise every such entry is
/// returned as an error and nothing is planned.
pub fn plan_register(
    wanted: &[Registration],
    current: &[Entry],
    is_ours: &dyn Fn(&Entry) -> bool,
    force: bool,
) -> Result<Vec<Action>, Vec<Foreign>> {
    let mut actions = Vec::new();
    let mut foreign = Vec::new();
    for w in wanted {
        let Some(entry) = current.iter().find(|e| e.name == w.name) else {
            actions.push(Action::Register(w.clone()));
            continue;
        };
        let have = entry.registration();
        if have.same_effect(w) && entry.unknown_flags.is_empty() {
            actions.push(if entry.enabled {
                Action::Unchanged(w.clone())
            } else {
                Action::Enable(w.clone())
            });
        } else if force || is_ours(entry) {
            actions.push(Action::Replace {
                old: entry.into(),
                new: w.clone(),
            });
        } else {
            foreign.push(Foreign {
                name: w.name.clone(),
                current: have,
            });
        }
    }
    if foreign.is_empty() {
        Ok(actions)
    } else {
        Err(foreign)
    }
}

/// Plan making the table hold exactly `wanted` among binfmtctl's entries: register what is
/// missing, replace what differs, re-register what `stale` says is out of date (an `F` entry
/// whose interpreter file was replaced since), remove owned entries no longer wanted. Entries
/// that are not ours are never touched: a wanted name held by one is returned in the second
/// list, and the rest is still planned.
pub fn plan_apply(
    wanted: &[Registration],
    current: &[Entry],
    is_ours: &dyn Fn(&Entry) -> bool,
    stale: &dyn Fn(&Entry) -> bool,
) -> (Vec<Action>, Vec<Foreign>) {
    let mut actions = Vec::new();
    let mut foreign = Vec::new();
    for w in wanted {
        match plan_register(std::slice::from_ref(w), current, is_ours, false) {
            Ok(mut planned) => {
                if let (Some(Action::Unchanged(r) | Action::Enable(r)), Some(entry)) =
                    (planned.first(), current.iter().find(|e| e.name == w.name))
                {
                    if is_ours(entry) && stale(entry) {
                        planned = vec![Action::Replace {
                            old: entry.into(),
                            new: r.clone(),
                        }];
                    }
                }
                actions.extend(planned);
            }
            Err(f) => foreign.extend(f),
        }
    }
    for e in current {
        if !wanted.iter().any(|w| w.name == e.name) && is_ours(e) {
            actions.push(Action::Remove(e.into()));
        }
    }
    (actions, foreign)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::binfmt::Entry;

    pub(crate) fn reg(name: &str, interp: &str) -> Registration {
        format!(r":{name}:M::\x7fELF\x02:\xff\xff\xff\xff\xff:{interp}:PF")
            .parse()
            .unwrap()
    }

    fn entry(r: &Registration, enabled: bool) -> Entry {
        Entry::parse(r.name.clone(), &Entry::render(r, enabled)).unwrap()
    }

    pub(crate) fn existing(r: &Registration, enabled: bool) -> Existing {
        Existing {
            reg: r.clone(),
            enabled,
        }
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases reads best inline
    fn register_table() {
        let a = reg("a", "/q");
        let a2 = reg("a", "/q2");
        let ours = |_: &Entry| true;
        let theirs = |_: &Entry| false;
        let cases: Vec<(
            Vec<Entry>,
            &dyn Fn(&Entry) -> bool,
            bool,
            Result<Vec<Action>, Vec<Foreign>>,
        )> = vec![
            (
                vec![],
                &theirs,
                false,
                Ok(vec![Action::Register(a.clone())]),
            ),
            (
                vec![entry(&a, true)],
                &theirs,
                false,
                Ok(vec![Action::Unchanged(a.clone())]),
            ),
            (
                vec![entry(&a, false)],
                &theirs,
                false,
                Ok(vec![Action::Enable(a.clone())]),
            ),
            (
                vec![entry(&a2, true)],
                &ours,
                false,
                Ok(vec![Action::Replace {
                    old: existing(&a2, true),
                    new: a.clone(),
                }]),
            ),
            // A disabled entry replaced: the plan keeps its state, for a rollback to restore.
            (
                vec![entry(&a2, false)],
                &ours,
                false,
                Ok(vec![Action::Replace {
                    old: existing(&a2, false),
                    new: a.clone(),
                }]),
            ),
            (
                vec![entry(&a2, true)],
                &theirs,
                true,
                Ok(vec![Action::Replace {
                    old: existing(&a2, true),
                    new: a.clone(),
                }]),
            ),
            (
                vec![entry(&a2, true)],
                &theirs,
                false,
                Err(vec![Foreign {
                    name: a.name.clone(),
                    current: a2.clone(),
                }]),
            ),
        ];
        for (i, (current, is_ours, force, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                plan_register(std::slice::from_ref(&a), &current, is_ours, force),
                want,
                "case {i}"
            );
        }
    }

    #[test]
    fn apply_removes_only_stale_owned() {
        let (a, b, c) = (reg("a", "/q"), reg("b", "/q"), reg("c", "/q"));
        let current = vec![entry(&b, false), entry(&c, true)];
        let ours = |e: &Entry| e.name.as_str() == "b";
        let never = |_: &Entry| false;
        let got = plan_apply(std::slice::from_ref(&a), &current, &ours, &never);
        assert_eq!(
            got,
            (
                vec![
                    Action::Register(a.clone()),
                    Action::Remove(existing(&b, false))
                ],
                vec![]
            )
        );
        // c is wanted but not ours: reported, not touched; b (ours, unchanged) refreshed when stale.
        let c2 = reg("c", "/other");
        let always = |_: &Entry| true;
        let got = plan_apply(&[b.clone(), c2.clone()], &current, &ours, &always);
        assert_eq!(
            got,
            (
                vec![Action::Replace {
                    old: existing(&b, false),
                    new: b.clone()
                }],
                vec![Foreign {
                    name: c2.name.clone(),
                    current: c.clone()
                }]
            )
        );
    }
}
