//! Files a user names for binfmtctl to write (`build --report FILE`), which may be anything:
//! a file, a terminal, a pipe, a link.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// Open `dest` to write it, created 0644 or truncated. A symlink is followed only where no
/// one else can plant one (the trust boundary's rule for its directory): in another user's
/// directory, root's build must not write where a link of theirs points. Nor into a FIFO
/// without a reader (it would wait), nor anything but a regular file, a character device
/// (/dev/null, a terminal) or a pipe with a reader (/dev/stderr piped).
pub fn open_to_write(dest: &Path) -> io::Result<File> {
    let uid = nix::unistd::getuid().as_raw();
    let dir = std::path::absolute(dest)
        .ok()
        .and_then(|p| p.parent().map(Path::to_owned))
        .unwrap_or_else(|| PathBuf::from("."));
    let nofollow = if super::untrusted_except(&dir, Some(uid)).is_some() {
        nix::libc::O_NOFOLLOW
    } else {
        0
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(nofollow | nix::libc::O_NONBLOCK)
        .open(dest)?;
    let kind = file.metadata()?.file_type();
    if !(kind.is_file() || kind.is_char_device() || kind.is_fifo()) {
        return Err(io::Error::other("not a file, a terminal or a pipe"));
    }
    // Opened without waiting for a FIFO's reader; written as usual.
    nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&file),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
    )?;
    Ok(file)
}
