//! The man page's own sections (FILES, ENVIRONMENT, EXIT STATUS, SEE ALSO): what binfmtctl
//! reads and writes, what its exit status means. The rest of the page comes from the clap
//! definitions (`binfmtctl man`).

/// What the exit status means: the constants of src/exit_codes.rs, one line each.
pub fn exit_status() -> Vec<(String, &'static str)> {
    use crate::exit_codes::{ERROR, NOT_EXECUTABLE, NOT_FOUND, SUCCESS, WANTING};
    vec![
        (SUCCESS.to_string(), "Success."),
        (
            WANTING.to_string(),
            "Checked and found wanting: check found a system whose emulation does not work, or enable registered one whose probe does not run.",
        ),
        (
            ERROR.to_string(),
            "An error or a usage error (bad input, a refused change, a failed system call); a message on stderr says what failed, where, and what to do.",
        ),
        (
            "run, build".to_owned(),
            "The program's own exit status; killed by a signal, binfmtctl dies by the same signal.",
        ),
        (
            NOT_FOUND.to_string(),
            "build: the command was not found (as env(1) and timeout(1)).",
        ),
        (
            NOT_EXECUTABLE.to_string(),
            "build: the command was found but could not be executed.",
        ),
    ]
}

/// The files binfmtctl reads and writes.
pub fn files() -> Vec<(String, String)> {
    vec![
        (
            crate::store::config::DEFAULT_PATH.to_owned(),
            "The configuration: the registrations restored at boot (--config).".to_owned(),
        ),
        (
            crate::store::state::DEFAULT_DIR.to_owned(),
            "The state: what binfmtctl registered in this boot (--state-dir).".to_owned(),
        ),
        (
            crate::model::profile::LOCAL_DIR.to_owned(),
            "Extra or overriding profiles, one *.toml file a system (--profiles).".to_owned(),
        ),
        (
            "/etc/nix/nix.conf, /etc/nix/binfmtctl.conf".to_owned(),
            "Nix's settings: enable --nix keeps extra-platforms (and extra-sandbox-paths) in binfmtctl.conf, beside the nix.conf that includes it (--nix-conf, $NIX_CONF_DIR).".to_owned(),
        ),
        (
            format!("{}/register", crate::binfmt::DEFAULT_ROOT),
            "The kernel's binfmt_misc table (--root).".to_owned(),
        ),
        (
            "/etc/systemd/system/binfmtctl.service".to_owned(),
            "The boot unit install-unit writes.".to_owned(),
        ),
    ]
}

pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "QEMU_LD_PREFIX",
        "Where run and build look first (after --sysroot) for a dynamically linked program's loader and libraries; qemu-user's own -L.",
    ),
    (
        "NIX_CONF_DIR",
        "Where Nix reads nix.conf: the default of --nix-conf is $NIX_CONF_DIR/nix.conf.",
    ),
    (
        "NO_COLOR",
        "Set to anything: no colour in help and usage errors (binfmtctl's own output has none).",
    ),
    (
        "PATH",
        "Where run and build find a program named without a slash, as execvp(3).",
    ),
];

pub const SEE_ALSO: &str = "binfmt.d(5), systemd-binfmt(8), update-binfmts(8), qemu-user(1), \
https://docs.kernel.org/admin-guide/binfmt-misc.html";
