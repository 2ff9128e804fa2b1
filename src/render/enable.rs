//! What `enable` says of what it registered (or would): `enable --json`'s shape, documented
//! in README.md, and the text, for `enable` and `tonistiigi --install` alike.

use serde::Serialize;

use crate::binfmt::Registry;
use crate::model::outcome::Outcome;
use crate::model::plan::Action;

/// `enable --json`: `{"version": 1, "dry_run", "register_path", "config", "actions": [...]}`.
#[derive(Serialize)]
pub struct Enabled {
    pub dry_run: bool,
    pub register_path: String,
    /// The config file written, or null with --runtime.
    pub config: Option<String>,
    pub actions: Vec<Registered>,
    /// What each row writes (or would), in the same order as `actions`.
    #[serde(skip)]
    pub planned: Vec<Action>,
}

/// One system's entry.
#[derive(Serialize)]
pub struct Registered {
    pub name: String,
    pub system: String,
    /// unchanged | enable | register | replace
    pub action: &'static str,
    pub line: String,
    pub interpreter: String,
    #[serde(rename = "static")]
    pub is_static: bool,
    pub flags: String,
    /// A plain exec of the system's probe through the kernel after registering, shaped as
    /// `check`'s `exec`; null with --dry-run.
    pub checked: Option<Outcome>,
    /// Why the system's programs do not run, and the fix; null when they run.
    pub problem: Option<String>,
    /// Other systems this entry runs, recorded with it (`enable all`: armv7l-linux beside
    /// armv6l-linux, whose magic, mask, interpreter and flags are the same).
    pub also: Vec<String>,
}

impl Enabled {
    /// A registered system's programs do not run: "checked and found wanting" (exit 1).
    pub fn found_wanting(&self) -> bool {
        self.actions.iter().any(|a| a.problem.is_some())
    }
}

/// Say it: JSON or the text on stdout, the notes and the problems on stderr. The problems
/// come after the notes on what was registered: said last, they are what the user reads.
pub fn show(registry: &Registry, enabled: &Enabled, json: bool) -> anyhow::Result<()> {
    let warn_problems = || {
        for p in enabled.actions.iter().filter_map(|a| a.problem.as_deref()) {
            crate::report::warn(p);
        }
    };
    if json {
        warn_problems();
        return crate::report::print_json(enabled);
    }
    for note in notes(enabled) {
        crate::report::note(&note);
    }
    warn_problems();
    crate::report::print(&text(registry, enabled))?;
    Ok(())
}

/// What each row writes, and where it is recorded.
fn text(registry: &Registry, enabled: &Enabled) -> String {
    let dry_run = enabled.dry_run;
    let would = if dry_run { "would " } else { "" };
    let mut text = String::new();
    for (row, action) in enabled.actions.iter().zip(&enabled.planned) {
        text += &super::actions::describe(registry, action, dry_run);
        if let Some(config) = &enabled.config {
            text += &format!("# {would}record {} in {config}\n", row.name);
        }
    }
    text
}

/// Once registered: each system's interpreter, its kind and flags.
fn notes(enabled: &Enabled) -> Vec<String> {
    if enabled.dry_run {
        return Vec::new();
    }
    enabled
        .actions
        .iter()
        .map(|row| {
            let kind = if row.is_static { "static" } else { "dynamic" };
            let also = if row.also.is_empty() {
                String::new()
            } else {
                format!(", also for {}", row.also.join(", "))
            };
            format!(
                "{}: {} ({kind}, flags {}{also})",
                row.system, row.interpreter, row.flags
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{notes, text, Enabled, Registered};
    use crate::binfmt::Registry;
    use crate::model::plan::Action;
    use crate::model::profile::Profiles;

    fn enabled(dry_run: bool, config: Option<&str>, also: &[&str], is_static: bool) -> Enabled {
        let profiles = Profiles::builtin().unwrap();
        let p = profiles.lookup("riscv64-linux").unwrap();
        let reg = p.registration(
            "riscv64-linux".parse().unwrap(),
            "/usr/bin/qemu-riscv64-static".into(),
            p.flags(true),
        );
        Enabled {
            dry_run,
            register_path: "/b/register".into(),
            config: config.map(str::to_owned),
            actions: vec![Registered {
                name: "riscv64-linux".into(),
                system: "riscv64-linux".into(),
                action: "register",
                line: reg.to_string(),
                interpreter: reg.interpreter.clone(),
                is_static,
                flags: reg.flags.to_string(),
                checked: None,
                problem: None,
                also: also.iter().map(|s| (*s).to_owned()).collect(),
            }],
            planned: vec![Action::Unchanged(reg)],
        }
    }

    #[test]
    fn the_text_says_what_is_written_and_where_it_is_recorded() {
        let registry = Registry::new(std::path::Path::new("/b"));
        for (dry_run, config, want) in [
            (
                false,
                Some("/etc/c.toml"),
                "# riscv64-linux is already registered so; nothing to write\n# record riscv64-linux in /etc/c.toml\n",
            ),
            (
                true,
                Some("/etc/c.toml"),
                "# riscv64-linux is already registered so; nothing to write\n# would record riscv64-linux in /etc/c.toml\n",
            ),
            (
                false,
                None,
                "# riscv64-linux is already registered so; nothing to write\n",
            ),
        ] {
            let e = enabled(dry_run, config, &[], true);
            assert_eq!(text(&registry, &e), want, "{dry_run} {config:?}");
        }
    }

    #[test]
    fn notes_name_each_interpreter_its_kind_and_the_systems_it_also_runs_once_registered() {
        let flags = enabled(false, None, &[], true).actions[0].flags.clone();
        for (dry_run, also, is_static, want) in [
            (true, &[][..], true, None),
            (
                false,
                &[][..],
                true,
                Some(format!(
                    "riscv64-linux: /usr/bin/qemu-riscv64-static (static, flags {flags})"
                )),
            ),
            (
                false,
                &["a", "b"][..],
                false,
                Some(format!(
                    "riscv64-linux: /usr/bin/qemu-riscv64-static (dynamic, flags {flags}, also for a, b)"
                )),
            ),
        ] {
            let said = notes(&enabled(dry_run, None, also, is_static));
            assert_eq!(said, want.into_iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn found_wanting_when_a_system_s_programs_do_not_run() {
        let mut e = enabled(false, None, &[], true);
        assert!(!e.found_wanting());
        e.actions[0].problem = Some("x".into());
        assert!(e.found_wanting());
    }
}
