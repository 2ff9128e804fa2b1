//! The kernel's choice among entries (fs/binfmt_misc.c, `check_file`), the one rule every
//! command uses: `run`, `enable`, `check`, `status` (through `Profile::winners`) and the
//! build's precedence report.

use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use super::{Entry, Matcher};

/// Whether the kernel would use `e` for the file if no newer entry took it.
pub fn wins(e: &Entry, path: &Path, header: &[u8]) -> bool {
    e.enabled && matches(&e.matcher, path, header)
}

/// The entry the kernel uses for a file (`path` as given to execve, `header` its first bytes):
/// the newest enabled one that matches (`entries` lists them
/// newest first, the order the kernel tries them in; disabled entries are skipped).
pub fn winner<E: std::borrow::Borrow<Entry>>(
    entries: impl IntoIterator<Item = E>,
    path: &Path,
    header: &[u8],
) -> Option<E> {
    entries.into_iter().find(|e| wins(e.borrow(), path, header))
}

/// The kernel's rule: a magic entry matches the file's first bytes; an extension entry
/// matches what follows the last `.` of the path given to execve.
pub fn matches(matcher: &Matcher, path: &Path, header: &[u8]) -> bool {
    match matcher {
        Matcher::Extension(ext) => {
            let bytes = path.as_os_str().as_bytes();
            bytes
                .iter()
                .rposition(|&b| b == b'.')
                .is_some_and(|dot| &bytes[dot + 1..] == ext.as_bytes())
        }
        Matcher::Magic { .. } => matcher.matches_header(header),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::winner;
    use crate::binfmt::{Entry, EntryName};
    use std::path::Path;

    fn entry(name: &str, text: &str) -> Entry {
        Entry::parse(name.parse::<EntryName>().unwrap(), text).unwrap()
    }

    const RISCV64_MAGIC: &str = "magic 7f454c460201010000000000000000000200f300\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

    /// A riscv64 emulator entry as binfmt_misc shows it (also launch's tests).
    pub(crate) fn riscv64(name: &str, state: &str, interpreter: &str, flags: &str) -> Entry {
        entry(
            name,
            &format!(
                "{state}\ninterpreter {interpreter}\nflags: {flags}\noffset 0\n{RISCV64_MAGIC}"
            ),
        )
    }

    #[test]
    fn the_newest_enabled_matching_entry_wins() {
        // A riscv64 executable's first bytes (ELF64, little-endian, ET_EXEC, EM_RISCV).
        let mut header = [0u8; 64];
        header[..20].copy_from_slice(&[
            0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0xf3, 0,
        ]);
        let header = &header[..];
        let path = Path::new("./hello");
        let disabled = riscv64("newest-disabled", "disabled", "/a", "P");
        let other = entry(
            "aarch64",
            "enabled\ninterpreter /b\nflags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n",
        );
        let newer = riscv64("riscv64-newer", "enabled", "/c", "P");
        let older = riscv64("riscv64-linux", "enabled", "/d", "PF");
        let entries = vec![
            disabled.clone(),
            other.clone(),
            newer.clone(),
            older.clone(),
        ];
        assert_eq!(winner(&entries, path, header), Some(&newer));
        assert_eq!(winner(&entries[3..], path, header), Some(&older));
        assert_eq!(winner(&[disabled, other], path, header), None);

        // An extension entry matches what follows the path's last dot.
        let ext = entry("ext", "enabled\ninterpreter /e\nflags: \nextension .rv\n");
        let both = [ext.clone(), older];
        assert_eq!(winner(&both, Path::new("./hello.rv"), header), Some(&ext));
        assert_eq!(
            winner(&both, Path::new("./hello.rv/x"), b"").map(|e| &e.name),
            None
        );
        assert_eq!(winner(&both, Path::new("./hello"), header), Some(&both[1]));
    }
}
