//! Nix integration: a file binfmtctl owns (`/etc/nix/binfmtctl.conf`) that sets
//! `extra-platforms` (and `extra-sandbox-paths` for interpreters registered without `F`), and
//! one `!include` block appended to the user's nix.conf. Removing the block restores nix.conf
//! byte for byte; every edit is atomic and keeps a backup.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::store;

pub const DEFAULT_NIX_CONF: &str = "/etc/nix/nix.conf";
const OWNED_NAME: &str = "binfmtctl.conf";
const MARK_CREATED: &str = "# binfmtctl: nix.conf did not exist before\n";
const MARK_NO_NEWLINE: &str = "# binfmtctl: nix.conf did not end with a newline\n";

/// The systems Nix should build for, and the interpreter paths its sandbox needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NixSettings {
    pub platforms: Vec<String>,
    pub sandbox_paths: Vec<String>,
}

impl NixSettings {
    /// From (system, interpreter, has F) triples. On x86_64 hosts `i686-linux` is added, as
    /// NixOS does: the CPU runs it natively.
    pub fn new(registrations: &[(String, String, bool)], host_arch: &str) -> NixSettings {
        let mut s = NixSettings::default();
        for (system, interpreter, fix_binary) in registrations {
            if !s.platforms.contains(system) {
                s.platforms.push(system.clone());
            }
            if !fix_binary && !s.sandbox_paths.contains(interpreter) {
                s.sandbox_paths.push(interpreter.clone());
            }
        }
        if host_arch == "x86_64" && !s.platforms.iter().any(|p| p == "i686-linux") {
            s.platforms.push("i686-linux".to_owned());
        }
        s
    }

    /// The settings as nix.conf lines.
    pub fn lines(&self) -> String {
        let mut out = String::new();
        if !self.platforms.is_empty() {
            out += &format!("extra-platforms = {}\n", self.platforms.join(" "));
        }
        if !self.sandbox_paths.is_empty() {
            out += &format!("extra-sandbox-paths = {}\n", self.sandbox_paths.join(" "));
        }
        out
    }
}

/// The nix.conf Nix itself reads when no `--nix-conf` is given: `$NIX_CONF_DIR/nix.conf`
/// (Nix's own variable for where its config lives), else /etc/nix/nix.conf.
pub fn default_nix_conf(nix_conf_dir: Option<&std::ffi::OsStr>) -> PathBuf {
    match nix_conf_dir.filter(|d| !d.is_empty()) {
        Some(dir) => Path::new(dir).join("nix.conf"),
        None => PathBuf::from(DEFAULT_NIX_CONF),
    }
}

/// The systems a nix.conf says Nix builds for besides its own (`extra-platforms`, and
/// `platforms`, its older spelling), with the files it includes (`include`, `!include`),
/// resolved as Nix does: relative to the including file's directory. What `check` reads, so
/// that its Nix warning reflects the file binfmtctl manages (`--nix-conf`, `$NIX_CONF_DIR`), not
/// only the one `nix show-config` finds. A file that cannot be read counts as empty.
pub fn platforms_in(nix_conf: &Path) -> Vec<String> {
    let mut platforms = Vec::new();
    let mut todo = vec![nix_conf.to_path_buf()];
    let mut seen = Vec::new();
    while let Some(file) = todo.pop() {
        // Include cycles, and Nix's own limit on nesting, both end here.
        if seen.contains(&file) || seen.len() > 16 {
            continue;
        }
        let text = store::read_optional(&file)
            .ok()
            .flatten()
            .unwrap_or_default();
        let (found, includes) = parse_platforms(&text);
        platforms.extend(
            found
                .into_iter()
                .filter(|p| !platforms.contains(p))
                .collect::<Vec<_>>(),
        );
        let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
        todo.extend(includes.into_iter().map(|i| dir.join(i)));
        seen.push(file);
    }
    platforms
}

/// The platforms a nix.conf text sets, and the paths it includes (pure).
fn parse_platforms(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut platforms, mut includes) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if let Some(path) = line
            .strip_prefix("!include ")
            .or_else(|| line.strip_prefix("include "))
        {
            includes.push(path.trim().to_owned());
        } else if let Some((key, value)) = line.split_once('=') {
            if matches!(key.trim(), "extra-platforms" | "platforms") {
                platforms.extend(value.split_whitespace().map(str::to_owned));
            }
        }
    }
    (platforms, includes)
}

/// The owned file beside nix.conf.
pub fn owned_path(nix_conf: &Path) -> PathBuf {
    nix_conf.with_file_name(OWNED_NAME)
}

fn block(owned: &Path) -> String {
    format!(
        "# binfmtctl: emulated systems for Nix (`binfmtctl disable --nix` removes these two lines)\n!include {}\n",
        owned.display()
    )
}

/// nix.conf with the include block appended, and the marks that let `remove_block` undo it
/// exactly. `None` when the block is already there.
pub fn add_block(original: Option<&str>, owned: &Path) -> Option<(String, String)> {
    let block = block(owned);
    match original {
        Some(text) if text.contains(&block) => None,
        None => Some((block, MARK_CREATED.to_owned())),
        Some(text) if text.is_empty() || text.ends_with('\n') => {
            Some((format!("{text}{block}"), String::new()))
        }
        Some(text) => Some((format!("{text}\n{block}"), MARK_NO_NEWLINE.to_owned())),
    }
}

/// nix.conf without the block: `Some(None)` means delete the file (binfmtctl created it),
/// `None` means there is no block to remove.
#[allow(clippy::option_option)] // the inner Option is the file as it was: none, or text
pub fn remove_block(current: &str, owned: &Path, marks: &str) -> Option<Option<String>> {
    let block = block(owned);
    let at = current.find(&block)?;
    let mut text = format!("{}{}", &current[..at], &current[at + block.len()..]);
    // The newline binfmtctl added before its block goes with it only while the block ends the
    // file: lines appended after the block since then need it (or two lines would be joined).
    let at_end = at + block.len() == current.len();
    if marks.contains(MARK_NO_NEWLINE)
        && at_end
        && at > 0
        && text.as_bytes().get(at - 1) == Some(&b'\n')
    {
        text.remove(at - 1);
    }
    if marks.contains(MARK_CREATED) && text.is_empty() {
        return Some(None);
    }
    Some(Some(text))
}

fn marks_of(owned_text: &str) -> String {
    owned_text
        .split_inclusive('\n')
        .filter(|l| l.starts_with("# binfmtctl: nix.conf"))
        .collect()
}

/// Make Nix see `settings` (from the config file `config`): write the owned file and make sure
/// nix.conf includes it. Returns true when anything changed.
pub fn install(nix_conf: &Path, settings: &NixSettings, config: &Path) -> Result<bool> {
    check_editable(nix_conf)?;
    let owned = owned_path(nix_conf);
    let original = store::read_optional(nix_conf)?;
    let old_owned = store::read_optional(&owned)?.unwrap_or_default();
    let mut marks = marks_of(&old_owned);
    let mut changed = false;
    if let Some((new_conf, new_marks)) = add_block(original.as_deref(), &owned) {
        if let Some(orig) = &original {
            store::write_atomic_like(&backup_path(nix_conf), orig.as_bytes(), nix_conf)
                .context("cannot back up nix.conf")?;
        }
        marks += &new_marks;
        // The owned file first, so nix.conf never includes a missing file.
        write_owned(&owned, &marks, settings, config)?;
        store::write_atomic(nix_conf, new_conf.as_bytes(), 0o644)?;
        return Ok(true);
    }
    let new_owned = render_owned(&marks, settings, config);
    if new_owned != old_owned {
        store::write_atomic(&owned, new_owned.as_bytes(), 0o644)?;
        changed = true;
    }
    Ok(changed)
}

/// Undo `install`: remove the include block from nix.conf (restoring it byte for byte) and
/// delete the owned file. Returns true when anything changed.
pub fn uninstall(nix_conf: &Path) -> Result<bool> {
    let owned = owned_path(nix_conf);
    let marks = marks_of(&store::read_optional(&owned)?.unwrap_or_default());
    let mut changed = false;
    if let Some(current) = store::read_optional(nix_conf)? {
        match remove_block(&current, &owned, &marks) {
            Some(Some(text)) => {
                check_editable(nix_conf)?;
                store::write_atomic_like(&backup_path(nix_conf), current.as_bytes(), nix_conf)?;
                store::write_atomic(nix_conf, text.as_bytes(), 0o644)?;
                changed = true;
            }
            Some(None) => {
                store::remove(nix_conf)?;
                changed = true;
            }
            None => {}
        }
    }
    changed |= store::remove(&owned)?;
    Ok(changed)
}

fn backup_path(nix_conf: &Path) -> PathBuf {
    let mut s = nix_conf.as_os_str().to_owned();
    s.push(".binfmtctl-backup");
    PathBuf::from(s)
}

/// Refuse a nix.conf that NixOS generates: a link into /nix/store (through /etc/static),
/// which is read-only and replaced at the next `nixos-rebuild`. Any other symlink is fine:
/// binfmtctl writes the file it leads to and keeps the link.
///
/// Both files are read through the trust boundary too, so a nix.conf binfmtctl must not
/// edit (a FIFO, a device, one users other than root can change) stops a command before it
/// registers anything, not after.
pub fn check_editable(nix_conf: &Path) -> Result<()> {
    store::read_optional(nix_conf)?;
    store::read_optional(&owned_path(nix_conf))?;
    let is_link = std::fs::symlink_metadata(nix_conf).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return Ok(());
    }
    let target = store::resolve_link(nix_conf)?;
    if store::in_nix_store(&target) {
        anyhow::bail!(
            "{} is managed by NixOS (a link into /nix/store: {}); set nix.settings.extra-platforms \
             (or use binfmtctl's NixOS module, services.binfmtctl) instead",
            nix_conf.display(),
            target.display()
        );
    }
    Ok(())
}

/// The owned file: a header naming the config file it comes from (`--config`), then `marks`
/// and the settings.
fn render_owned(marks: &str, settings: &NixSettings, config: &Path) -> String {
    format!(
        "# Written by binfmtctl from {}; do not edit. `binfmtctl nix-config` shows it.\n{marks}{}",
        config.display(),
        settings.lines()
    )
}

fn write_owned(owned: &Path, marks: &str, settings: &NixSettings, config: &Path) -> Result<()> {
    store::write_atomic(
        owned,
        render_owned(marks, settings, config).as_bytes(),
        0o644,
    )
}

/// True when a nix-daemon process runs (it must be restarted to see new settings).
pub fn daemon_running() -> bool {
    procfs::process::all_processes().is_ok_and(|mut ps| {
        ps.any(|p| p.is_ok_and(|p| p.stat().is_ok_and(|s| s.comm == "nix-daemon")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_add_i686_on_x86_64_and_sandbox_paths_without_f() {
        let regs = vec![
            (
                "riscv64-linux".to_owned(),
                "/usr/bin/qemu-riscv64-static".to_owned(),
                true,
            ),
            (
                "aarch64-linux".to_owned(),
                "/usr/bin/qemu-aarch64".to_owned(),
                false,
            ),
        ];
        let s = NixSettings::new(&regs, "x86_64");
        assert_eq!(
            s.lines(),
            "extra-platforms = riscv64-linux aarch64-linux i686-linux\nextra-sandbox-paths = /usr/bin/qemu-aarch64\n"
        );
        assert_eq!(
            NixSettings::new(&regs[..1], "aarch64").lines(),
            "extra-platforms = riscv64-linux\n"
        );
    }

    #[test]
    fn add_then_remove_restores_every_byte() {
        let owned = Path::new("/etc/nix/binfmtctl.conf");
        for original in [
            None,
            Some(""),
            Some("sandbox = true\n"),
            Some("sandbox = true"),
            Some("a = 1\n\n# c\n"),
        ] {
            let (added, marks) = add_block(original, owned).unwrap();
            assert!(added.contains("!include /etc/nix/binfmtctl.conf\n"));
            assert_eq!(add_block(Some(&added), owned), None, "adding twice");
            let restored = remove_block(&added, owned, &marks).unwrap();
            assert_eq!(restored.as_deref(), original, "{original:?}");
        }
        assert_eq!(remove_block("x = 1\n", owned, ""), None);
    }

    #[test]
    fn lines_appended_after_the_block_keep_the_newline_binfmtctl_added() {
        let owned = Path::new("/etc/nix/binfmtctl.conf");
        let (added, marks) = add_block(Some("sandbox = true"), owned).unwrap();
        let edited = format!("{added}max-jobs = 4\n");
        assert_eq!(
            remove_block(&edited, owned, &marks),
            Some(Some("sandbox = true\nmax-jobs = 4\n".to_owned()))
        );
    }

    #[test]
    fn platforms_and_includes_are_read_as_nix_reads_them() {
        let text = "sandbox = true\nextra-platforms = riscv64-linux  aarch64-linux # a comment\n\
                    # extra-platforms = s390x-linux\n!include binfmtctl.conf\ninclude /etc/nix/more.conf\n\
                    extra-platforms-x = mips-linux\n";
        assert_eq!(
            parse_platforms(text),
            (
                vec!["riscv64-linux".to_owned(), "aarch64-linux".to_owned()],
                vec!["binfmtctl.conf".to_owned(), "/etc/nix/more.conf".to_owned()]
            )
        );
    }

    #[test]
    fn nix_conf_dir_names_where_nix_conf_is() {
        use std::ffi::OsStr;
        assert_eq!(
            default_nix_conf(Some(OsStr::new("/home/me/.nixconf"))),
            Path::new("/home/me/.nixconf/nix.conf")
        );
        assert_eq!(
            default_nix_conf(Some(OsStr::new(""))),
            Path::new(DEFAULT_NIX_CONF)
        );
        assert_eq!(default_nix_conf(None), Path::new(DEFAULT_NIX_CONF));
    }
}
