//! Output for people (aligned tables, warnings on stderr) and for scripts (JSON on stdout).

use std::io::{self, Write as _};
use std::sync::atomic::{AtomicI8, Ordering};

pub mod texts;

use serde::Serialize;

/// How much to say on stderr: -1 quiet (`-q`), 0 normal, 1 verbose (`-v`). Set once, from the
/// global options, before a command runs.
static VERBOSITY: AtomicI8 = AtomicI8::new(0);

/// Set from `-q` / `-v`.
pub fn set_verbosity(quiet: bool, verbose: bool) {
    let level = match (quiet, verbose) {
        (true, _) => -1,
        (false, true) => 1,
        (false, false) => 0,
    };
    VERBOSITY.store(level, Ordering::Relaxed);
}

/// `-v`: say more (the raw register lines `enable` writes).
pub fn verbose() -> bool {
    VERBOSITY.load(Ordering::Relaxed) > 0
}

/// `-q`: notes are left out; warnings and errors are not.
pub fn quiet() -> bool {
    VERBOSITY.load(Ordering::Relaxed) < 0
}

/// Render rows as a table with a header line, columns separated by two spaces.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line += cell;
            } else {
                line += &format!("{cell:<w$}  ");
            }
        }
        out += line.trim_end();
        out.push('\n');
    }
    out
}

/// Print to stdout; errors (a closed pipe among them) go to the caller.
pub fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// The version of every JSON shape binfmtctl prints (README.md, "JSON shapes"): raised when a
/// field changes meaning or goes away, not when one is added.
pub const JSON_VERSION: u32 = 1;

/// A JSON object with `"version"` first, then the fields of `body` (a struct or map).
#[derive(Serialize)]
struct Versioned<'a, T: Serialize> {
    version: u32,
    #[serde(flatten)]
    body: &'a T,
}

/// Print a JSON object (a struct or map: its fields follow `"version": 1`) as pretty JSON on
/// stdout. Every `--json` goes through here.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let versioned = Versioned {
        version: JSON_VERSION,
        body: value,
    };
    let mut text = serde_json::to_string_pretty(&versioned)?;
    text.push('\n');
    Ok(print(&text)?)
}

/// A warning for people, on stderr.
pub fn warn(message: &str) {
    eprintln!("binfmtctl: warning: {message}");
}

/// An error for people, on stderr, for a command that goes on after it (`apply` restores
/// every other entry) and exits 2 in the end; other commands return their error to `main`.
pub fn error(message: &str) {
    eprintln!("binfmtctl: error: {message}");
}

/// Text on stderr exactly as given, for lines that carry their own prefix or are read by
/// another binfmtctl (the build's shim, the chroot probe's line, a build's `--report`).
pub fn stderr(text: &str) {
    let mut err = io::stderr().lock();
    // Nothing is left to tell about a stderr that cannot be written.
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// A note for people, on stderr (not with `-q`).
pub fn note(message: &str) {
    if !quiet() {
        eprintln!("binfmtctl: {message}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_starts_with_its_version() {
        #[derive(serde::Serialize)]
        struct Shape {
            b: u8,
            a: Vec<u8>,
        }
        let v = super::Versioned {
            version: super::JSON_VERSION,
            body: &Shape { b: 1, a: vec![2] },
        };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"version":1,"b":1,"a":[2]}"#
        );
    }

    #[test]
    fn aligns_columns() {
        let t = super::table(
            &["A", "LONG"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), String::new()],
            ],
        );
        assert_eq!(t, "A    LONG\nxyz  1\nq\n");
    }
}
