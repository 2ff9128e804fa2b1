//! Who may change binfmt_misc: CAP_SYS_ADMIN in the user namespace that owns the instance,
//! and what to tell someone who lacks it.

use anyhow::Result;

/// Whether this process has `cap` in its effective set (in its own user namespace); false
/// when that cannot be read.
pub fn has(cap: caps::Capability) -> bool {
    caps::has_cap(None, caps::CapSet::Effective, cap).unwrap_or(false)
}

/// Fail unless this process may change binfmt_misc (CAP_SYS_ADMIN in its user namespace); for
/// a command that has --dry-run, which the message suggests.
pub fn require_admin(what: &str) -> Result<()> {
    check_admin(what, true)
}

/// As [`require_admin`], for a command without --dry-run (`build --host-table`).
pub fn require_admin_without_dry_run(what: &str) -> Result<()> {
    check_admin(what, false)
}

fn check_admin(what: &str, has_dry_run: bool) -> Result<()> {
    if has(caps::Capability::CAP_SYS_ADMIN) {
        Ok(())
    } else {
        let root = nix::unistd::geteuid().is_root();
        anyhow::bail!("{}", needs_admin(what, has_dry_run, root))
    }
}

/// The message for a command run without the privilege it needs (`root`: uid 0 nonetheless,
/// as in a container that dropped CAP_SYS_ADMIN, where sudo is no help).
fn needs_admin(what: &str, has_dry_run: bool, root: bool) -> String {
    let dry_run = if has_dry_run {
        ", or add --dry-run to see what it would do"
    } else {
        ""
    };
    if root {
        return format!(
            "{what} needs CAP_SYS_ADMIN to change binfmt_misc, which this root process lacks (a container?): \
             run it on the host, or in a container started with --cap-add SYS_ADMIN (or --privileged){dry_run}"
        );
    }
    format!("{what} needs root (CAP_SYS_ADMIN) to change binfmt_misc; run it with sudo{dry_run}")
}

#[cfg(test)]
mod tests {
    use super::needs_admin;

    #[test]
    fn the_admin_hint_offers_dry_run_only_where_the_command_has_it() {
        assert_eq!(
            needs_admin("binfmtctl enable", true, false),
            "binfmtctl enable needs root (CAP_SYS_ADMIN) to change binfmt_misc; run it with sudo, or add --dry-run to see \
             what it would do"
        );
        assert_eq!(
            needs_admin("binfmtctl build --host-table", false, false),
            "binfmtctl build --host-table needs root (CAP_SYS_ADMIN) to change binfmt_misc; run it with sudo"
        );
        assert_eq!(
            needs_admin("binfmtctl apply", true, true),
            "binfmtctl apply needs CAP_SYS_ADMIN to change binfmt_misc, which this root process lacks (a container?): \
             run it on the host, or in a container started with --cap-add SYS_ADMIN (or --privileged), or add --dry-run \
             to see what it would do"
        );
    }
}
