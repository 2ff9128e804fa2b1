//! `build --report`: what the shim recorded, per program, as a table; and where it goes.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::shim::Exec;
use crate::report;

/// Per program: how many times it ran and for how long, most time first.
pub fn render_report(execs: &[Exec]) -> String {
    let mut per: Vec<(PathBuf, String, usize, u64)> = Vec::new();
    for e in execs {
        match per
            .iter_mut()
            .find(|(p, s, ..)| p == &e.path && s == &e.system)
        {
            Some(row) => {
                row.2 += 1;
                row.3 += e.nanos;
            }
            None => per.push((e.path.clone(), e.system.clone(), 1, e.nanos)),
        }
    }
    per.sort_by(|a, b| b.3.cmp(&a.3).then(a.0.cmp(&b.0)));
    let secs = |n: u64| format!("{:.3} s", std::time::Duration::from_nanos(n).as_secs_f64());
    let total: u64 = per.iter().map(|r| r.3).sum();
    let mut text = format!(
        "binfmtctl build report: {} foreign program(s) executed under emulation, {} exec(s), {} in all\n",
        per.len(),
        execs.len(),
        secs(total)
    );
    if !per.is_empty() {
        let rows: Vec<Vec<String>> = per
            .iter()
            .map(|(p, s, n, t)| vec![n.to_string(), secs(*t), s.clone(), p.display().to_string()])
            .collect();
        text += &report::table(&["COUNT", "TIME", "SYSTEM", "PATH"], &rows);
    }
    text
}

/// Where the report goes: stderr (`-`) or a file, created before the command runs.
pub(super) enum ReportDest {
    Stderr,
    File(PathBuf, fs::File),
}

impl ReportDest {
    pub(super) fn open(dest: &Path) -> Result<ReportDest> {
        if dest == Path::new("-") {
            return Ok(ReportDest::Stderr);
        }
        let file = crate::trust::dest::open_to_write(dest)
            .with_context(|| {
                format!(
                    "cannot write the report to {}; name a regular file in a directory you can write (a symlink \
                     only where no one else can plant one), or - for stderr",
                    dest.display()
                )
            })?;
        Ok(ReportDest::File(dest.to_owned(), file))
    }

    pub(super) fn write(&self, text: &str) -> Result<()> {
        match self {
            ReportDest::Stderr => {
                crate::report::stderr(text);
                Ok(())
            }
            ReportDest::File(path, file) => {
                let mut file: &fs::File = file;
                file.write_all(text.as_bytes())
                    .with_context(|| format!("cannot write the report to {}", path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_groups_by_program() {
        let e = |p: &str, n| Exec {
            system: "riscv64-linux".into(),
            path: PathBuf::from(p),
            nanos: n,
        };
        let text = render_report(&[
            e("/b/gen", 1_000_000_000),
            e("/b/t", 5_000_000),
            e("/b/gen", 500_000_000),
        ]);
        assert_eq!(
            text,
            "binfmtctl build report: 2 foreign program(s) executed under emulation, 3 exec(s), 1.505 s in all\n\
             COUNT  TIME     SYSTEM         PATH\n\
             2      1.500 s  riscv64-linux  /b/gen\n\
             1      0.005 s  riscv64-linux  /b/t\n"
        );
        assert_eq!(render_report(&[]), "binfmtctl build report: 0 foreign program(s) executed under emulation, 0 exec(s), 0.000 s in all\n");
    }
}
