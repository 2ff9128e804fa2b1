//! binfmt.d files (systemd-binfmt's format, also Debian's /usr/lib/binfmt.d/qemu-*.conf): one
//! register line per line, `#` and `;` start comments.

use std::path::{Path, PathBuf};

use crate::binfmt::{LineError, Registration};

/// The directories systemd-binfmt reads, highest priority first.
pub const DIRS: &[&str] = &[
    "/etc/binfmt.d",
    "/run/binfmt.d",
    "/usr/local/lib/binfmt.d",
    "/usr/lib/binfmt.d",
    "/lib/binfmt.d",
];

/// Parse a binfmt.d file: every registration with its line number, or the first bad line.
pub fn parse(text: &str) -> Result<Vec<(usize, Registration)>, (usize, LineError)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with(['#', ';']))
        .map(|(n, l)| l.parse().map(|r| (n, r)).map_err(|e| (n, e)))
        .collect()
}

/// Every registration in every `*.conf` of the given directories, with the file it is in.
/// Unreadable or malformed files are skipped: this is used to attribute ownership, not to
/// apply anything.
pub fn scan(dirs: &[&str]) -> Vec<(PathBuf, Registration)> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        files.sort();
        for f in files {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            for line in text.lines() {
                if let Ok(r) = line.trim().parse::<Registration>() {
                    out.push((f.clone(), r));
                }
            }
        }
    }
    out
}

/// The file among `scanned` that holds a line with the same name and effect.
pub fn owner<'a>(scanned: &'a [(PathBuf, Registration)], reg: &Registration) -> Option<&'a Path> {
    scanned
        .iter()
        .find(|(_, r)| r.same_effect(reg))
        // The same line but for flags: Debian's binfmt-support registers the qemu-*.conf
        // lines from /usr/share/binfmts, where `O` cannot be said (OPF there is PF here).
        .or_else(|| {
            scanned.iter().find(|(_, r)| {
                r.name == reg.name && r.matcher == reg.matcher && r.interpreter == reg.interpreter
            })
        })
        .map(|(p, _)| p.as_path())
}

/// How to be rid of another tool's entry for good, when a binfmt.d file (`scanned`, from
/// `binfmtd::scan`) holds its line: there, or through Debian's binfmt-support. Removing it
/// from the table alone lasts until the next boot or systemd-binfmt restart.
pub fn remove_for_good(
    scanned: &[(std::path::PathBuf, Registration)],
    e: &super::Entry,
) -> Option<String> {
    owner(scanned, &e.registration()).map(|file| {
        format!(
            "remove it for good where it comes from ({}; for Debian's binfmt-support: update-binfmts --disable {})",
            file.display(),
            e.name
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comments_and_reports_bad_lines() {
        let text = "# comment\n; other\n\n:a:M::MZ::/bin/x:F\n";
        let got = parse(text).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 4);
        assert_eq!(
            parse(":a:M::MZ::/bin/x:F\n:b:Q::MZ::/bin/x:\n").unwrap_err(),
            (2, LineError::Type("Q".into()))
        );
    }

    #[test]
    fn an_entry_is_owned_by_the_file_with_its_line_flags_aside() {
        let line = |flags: &str| -> Registration {
            format!(
                ":qemu-riscv64:M::\\x7fELF\\x02::/usr/libexec/qemu-binfmt/riscv64-binfmt-P:{flags}"
            )
            .parse()
            .unwrap()
        };
        let scanned = vec![(
            PathBuf::from("/usr/lib/binfmt.d/qemu-riscv64.conf"),
            line("OPF"),
        )];
        let file = Some(Path::new("/usr/lib/binfmt.d/qemu-riscv64.conf"));
        assert_eq!(owner(&scanned, &line("OPF")), file);
        assert_eq!(
            owner(&scanned, &line("PF")),
            file,
            "as binfmt-support registers it"
        );
        let mut other = line("OPF");
        other.interpreter = "/usr/bin/qemu-riscv64-static".into();
        assert_eq!(owner(&scanned, &other), None);
    }
}
