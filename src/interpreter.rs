//! Find the emulator for a system: a static qemu first, else a dynamic one.

use std::path::{Path, PathBuf};

use crate::elf;
use crate::profile::Profile;

/// An interpreter found on this machine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Interpreter {
    pub path: PathBuf,
    /// Statically linked, judged from the ELF file (no PT_INTERP), not from the name.
    #[serde(rename = "static")]
    pub is_static: bool,
}

impl Interpreter {
    /// Describe a given file: it must exist and be executable.
    pub fn at(path: &Path) -> Result<Interpreter, String> {
        let abs = if path.is_absolute() {
            path.to_owned()
        } else {
            std::env::current_dir()
                .map_err(|e| format!("cannot resolve {}: {e}", path.display()))?
                .join(path)
        };
        let meta = std::fs::metadata(&abs).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "interpreter {} does not exist; give the path of an installed emulator",
                abs.display()
            ),
            _ => format!("interpreter {}: {e}", abs.display()),
        })?;
        if !meta.is_file()
            || std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 == 0
        {
            return Err(format!(
                "interpreter {} is not an executable file",
                abs.display()
            ));
        }
        let is_static = elf::read_file(&abs).is_ok_and(|e| e.is_static());
        Ok(Interpreter {
            path: abs,
            is_static,
        })
    }
}

/// Directories searched after $PATH, in order.
pub const EXTRA_DIRS: &[&str] = &[
    "/usr/bin",
    "/usr/libexec/qemu-binfmt",
    "/usr/local/bin",
    "/run/current-system/sw/bin",
    "/nix/var/nix/profiles/default/bin",
];

/// Every candidate directory: $PATH, the extra directories, the user's Nix profiles.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .filter(|d| d.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    dirs.extend(EXTRA_DIRS.iter().map(PathBuf::from));
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".nix-profile/bin"));
    }
    let mut seen = Vec::new();
    dirs.retain(|d| {
        let key = d.canonicalize().unwrap_or_else(|_| d.clone());
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    dirs
}

/// Find the interpreter for a profile: the first static one in name-then-directory order,
/// else the first dynamic one.
pub fn find(profile: &Profile) -> Option<Interpreter> {
    // Computed once per process: `build` and `systems` look for every system's interpreter.
    static DIRS: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    find_in(profile, DIRS.get_or_init(search_dirs))
}

pub fn find_in(profile: &Profile, dirs: &[PathBuf]) -> Option<Interpreter> {
    let mut dynamic = None;
    for name in &profile.interpreters {
        for dir in dirs {
            let Ok(found) = Interpreter::at(&dir.join(name)) else {
                continue;
            };
            if found.is_static {
                return Some(found);
            }
            dynamic.get_or_insert(found);
        }
    }
    dynamic
}

/// How to install an emulator, for error messages.
pub fn install_hint(profile: &Profile) -> String {
    match profile.cpu.as_deref() {
        Some(cpu) => format!(
            "install a static qemu-user: Debian/Ubuntu `apt install qemu-user-static`, Fedora `dnf install qemu-user-static`, \
             Arch `pacman -S qemu-user-static`, Nix `nix profile install nixpkgs#pkgsStatic.qemu-user`; \
             or name one with --interpreter (looked for: qemu-{cpu}-static, qemu-{cpu})"
        ),
        None => format!(
            "install {} or name one with --interpreter",
            profile.interpreters.join(" or ")
        ),
    }
}
