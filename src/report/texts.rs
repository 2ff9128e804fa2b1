//! User-facing texts that more than one command says, each defined once.

/// Said whenever flag C is registered or recorded (`enable --credentials`, `import
/// --credentials`): what the flag gives away.
pub const CREDENTIALS_WARNING: &str = "flag C makes setuid/setgid emulated programs run with raised privileges inside qemu-user, \
     which was never designed to be a security boundary; any user who can run such a program may gain those privileges";

/// How to install the static qemu-user every command recommends, where no one system's
/// fuller hint (`emulator::interpreter::install_hint`) applies.
pub const INSTALL_QEMU: &str =
    "Debian/Ubuntu: apt install qemu-user-static; Fedora: dnf install qemu-user-static";
