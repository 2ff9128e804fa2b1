//! Carry out planned actions on the kernel table, all or nothing: on the first failure,
//! every action already done is undone in reverse order.

use crate::plan::Action;
use crate::registry::{Registry, RegistryError};

/// A failed transaction: what failed, and whether the rollback restored the table.
#[derive(Debug, thiserror::Error)]
// The cause is in the message, so it is no `source()`: `{err:#}` would print it twice.
#[error("{action} {name} failed: {err}{}", rollback_note(.rollback_errors))]
pub struct Failed {
    pub action: &'static str,
    pub name: String,
    pub err: Box<RegistryError>,
    /// Names whose earlier change could not be undone, with why.
    pub rollback_errors: Vec<String>,
}

fn rollback_note(errors: &[String]) -> String {
    if errors.is_empty() {
        "; earlier changes were undone, the table is as it was".to_owned()
    } else {
        format!(
            "; undoing earlier changes failed too: {}",
            errors.join("; ")
        )
    }
}

/// Do one action.
pub fn perform(registry: &Registry, action: &Action) -> Result<(), RegistryError> {
    match action {
        Action::Unchanged(_) => Ok(()),
        Action::Enable(r) => registry.set_enabled(&r.name, true),
        Action::Register(r) => registry.register(r),
        Action::Replace { old, new } => {
            registry.remove(&old.name)?;
            registry
                .register(new)
                .map_err(|err| match registry.register(old) {
                    // The old entry is back; the caller reports the original error.
                    Ok(()) => err,
                    Err(back) => RegistryError::Lost {
                        name: old.name.to_string(),
                        new: Box::new(err),
                        old: Box::new(back),
                    },
                })
        }
        Action::Remove(r) => registry.remove(&r.name),
    }
}

/// The action that undoes `action` (after it succeeded).
fn inverse(action: &Action) -> Option<Action> {
    Some(match action {
        // Undoing an enable is a disable, which is no Action: `execute` handles it.
        Action::Unchanged(_) | Action::Enable(_) => return None,
        Action::Register(r) => Action::Remove(r.clone()),
        Action::Replace { old, new } => Action::Replace {
            old: new.clone(),
            new: old.clone(),
        },
        Action::Remove(r) => Action::Register(r.clone()),
    })
}

/// Undo actions that were all done, newest first; what could not be undone, with why.
pub fn undo(registry: &Registry, done: &[Action]) -> Vec<String> {
    let mut errors = Vec::new();
    for action in done.iter().rev() {
        let undone = match action {
            Action::Enable(r) => registry.set_enabled(&r.name, false),
            other => inverse(other).map_or(Ok(()), |u| perform(registry, &u)),
        };
        if let Err(e) = undone {
            errors.push(format!("{}: {e}", action.name()));
        }
    }
    errors
}

/// Do every action; on failure undo the done ones and report.
pub fn execute(registry: &Registry, actions: &[Action]) -> Result<(), Failed> {
    for (i, action) in actions.iter().enumerate() {
        if let Err(source) = perform(registry, action) {
            let mut rollback_errors = undo(registry, &actions[..i]);
            if let RegistryError::Lost { name, .. } = &source {
                rollback_errors.push(format!("{name} is now missing from the table; run `binfmtctl apply` once its interpreter is fixed"));
            }
            return Err(Failed {
                action: action.verb(),
                name: action.name().to_string(),
                err: Box::new(source),
                rollback_errors,
            });
        }
    }
    Ok(())
}
