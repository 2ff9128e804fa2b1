//! How a planned action reads: what it writes, and where (`enable`, `apply`, `--dry-run`).

use crate::binfmt::Registry;
use crate::model::plan::Action;

/// What `enable` writes, and where: the raw register line only with `--dry-run` (what it would
/// write, as house style asks) or `-v`; otherwise it is noise for people (issue 14).
pub fn describe(registry: &Registry, action: &Action, dry_run: bool) -> String {
    describe_lines(
        registry,
        action,
        dry_run,
        dry_run || crate::report::verbose(),
    )
}

/// What an action writes, and where, as `#` comment lines, plus the register line itself when
/// `line` (`apply` always: a failed line is looked for there).
pub fn describe_lines(registry: &Registry, action: &Action, dry_run: bool, line: bool) -> String {
    let would = if dry_run { "would " } else { "" };
    let r = action.registration();
    let path = registry.entry_path(&r.name);
    let register = registry.root().join("register");
    match action {
        Action::Unchanged(_) => {
            format!("# {} is already registered so; nothing to write\n", r.name)
        }
        Action::Enable(_) => format!("# {would}write 1 to {}\n", path.display()),
        Action::Remove(_) => format!("# {would}write -1 to {}\n", path.display()),
        Action::Register(_) if line => {
            format!("# {would}write to {}\n{r}\n", register.display())
        }
        Action::Register(_) => format!("# {would}register {} in {}\n", r.name, register.display()),
        Action::Replace { .. } if line => format!(
            "# {would}write -1 to {} (the older entry)\n# {would}write to {}\n{r}\n",
            path.display(),
            register.display()
        ),
        Action::Replace { .. } => format!(
            "# {would}replace {} (write -1 to {}, then register it in {})\n",
            r.name,
            path.display(),
            register.display()
        ),
    }
}
