//! Find the emulator for a system: a static qemu first, else a dynamic one.

use std::path::{Path, PathBuf};

use crate::elf;
use crate::model::profile::Profile;

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
        if !is_executable_file(&meta) {
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

/// A regular file with an execute bit: what an interpreter must be (a directory such as /tmp
/// is not, whatever the config says).
pub fn is_executable_file(meta: &std::fs::Metadata) -> bool {
    meta.is_file() && std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0
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
    let mut dirs = candidate_dirs();
    // Drop missing directories and repeats (/bin is /usr/bin on merged-/usr systems): one stat
    // each, where canonicalize would readlink every component.
    let mut seen = Vec::new();
    dirs.retain(|d| {
        let Ok(meta) = std::fs::metadata(d) else {
            return false;
        };
        let key = (
            std::os::unix::fs::MetadataExt::dev(&meta),
            std::os::unix::fs::MetadataExt::ino(&meta),
        );
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    dirs
}

/// The directories searched, in order, as named: `$PATH`'s absolute entries, then
/// [`EXTRA_DIRS`], then `~/.nix-profile/bin`. Missing ones and repeats are still in.
fn candidate_dirs() -> Vec<PathBuf> {
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
    dirs
}

/// [`find`] for one system, once: the same answer without first stat-ing every directory
/// (a repeated or missing directory costs one failed stat per name instead). For `run`, an
/// exec wrapper whose every system call is overhead on the program it starts.
pub fn find_once(profile: &Profile) -> Option<Interpreter> {
    find_in(profile, &candidate_dirs())
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
    for name in profile.interpreters.iter() {
        for dir in dirs {
            let Ok(found) = Interpreter::at(&dir.join(&**name)) else {
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

/// The one rule behind `enable all` and `build` without --system: every system emulated by a
/// qemu cpu (not wasm and the like) that `native` does not list and that has an installed
/// interpreter, in the profiles' order, with it. Systems without one are left out.
pub fn installed_for_foreign<'a>(
    profiles: &'a crate::model::profile::Profiles,
    native: &[&str],
) -> Vec<(&'a Profile, Interpreter)> {
    profiles
        .all()
        .iter()
        .filter(|p| p.cpu.is_some() && !native.contains(&&*p.system))
        .filter_map(|p| find(p).map(|i| (p, i)))
        .collect()
}

/// The system's emulator, or the error every command gives without one: what is missing and
/// how to install it (`interpreter_option`: see [`install_hint_for`]).
pub fn find_or_explain(profile: &Profile, interpreter_option: bool) -> anyhow::Result<Interpreter> {
    find(profile).ok_or_else(|| {
        anyhow::anyhow!(
            "no interpreter for {} found; {}",
            profile.system,
            install_hint_for(profile, interpreter_option)
        )
    })
}

/// How to install an emulator, for error messages.
pub fn install_hint(profile: &Profile) -> String {
    install_hint_for(profile, true)
}

/// As [`install_hint`]; `interpreter_option` says whether the command has --interpreter to
/// suggest (`enable` and `run` have it; `build` and `check` do not).
pub fn install_hint_for(profile: &Profile, interpreter_option: bool) -> String {
    let or_name_one = if interpreter_option {
        " or name one with --interpreter"
    } else {
        ""
    };
    let sep = if interpreter_option { ";" } else { "" };
    match profile.cpu.as_deref() {
        Some(cpu) => format!(
            "install a static qemu-user: Debian/Ubuntu `apt install qemu-user-static`, Fedora `dnf install qemu-user-static`, \
             Arch `pacman -S qemu-user-static`, Nix `nix profile install nixpkgs#pkgsStatic.qemu-user`{sep}{or_name_one} \
             (looked for: qemu-{cpu}-static, qemu-{cpu})"
        ),
        None => format!(
            "install {}{or_name_one}",
            profile.interpreters.join(" or ")
        ),
    }
}

// The rule "users other than root could change this path" is the trust boundary's
// (src/trust.rs): one implementation for interpreters, binfmtctl's own files and its binary.
pub use crate::trust::{host_namespace, untrusted};

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt as _};

    #[test]
    fn the_install_hint_names_interpreter_only_for_commands_that_have_it() {
        let profiles = crate::model::profile::Profiles::builtin().unwrap();
        for system in ["riscv64-linux", "wasm32-wasi"] {
            let p = profiles.lookup(system).unwrap();
            assert!(
                install_hint_for(p, true).contains(" or name one with --interpreter"),
                "{system}"
            );
            let without = install_hint_for(p, false);
            assert!(!without.contains("--interpreter"), "{system}: {without}");
            assert!(
                !without.contains(" ;") && !without.contains(";;"),
                "{without}"
            );
        }
        assert_eq!(
            install_hint_for(profiles.lookup("wasm32-wasi").unwrap(), false),
            "install wasmtime"
        );
        assert_eq!(
            install_hint(profiles.lookup("wasm32-wasi").unwrap()),
            "install wasmtime or name one with --interpreter"
        );
    }

    fn chmod(p: &Path, mode: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// These run as root in the initial namespace (CI) and as the owner elsewhere: the owner
    /// check only passes for root, so the cases that need a root-owned tree say so.
    #[test]
    fn walks_every_component_and_every_symlink_target() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        chmod(d, 0o755);
        fs::create_dir(d.join("bin")).unwrap();
        fs::write(d.join("bin/qemu"), "").unwrap();
        chmod(&d.join("bin/qemu"), 0o755);
        fs::create_dir(d.join("open")).unwrap();
        chmod(&d.join("open"), 0o777);
        symlink("../bin/qemu", d.join("open/link")).unwrap();
        fs::create_dir(d.join("links")).unwrap();
        symlink(d.join("open/link"), d.join("links/via-open")).unwrap();
        symlink("../bin/qemu", d.join("links/plain")).unwrap();
        fs::create_dir(d.join("sticky")).unwrap();
        chmod(&d.join("sticky"), 0o1777);
        fs::write(d.join("sticky/qemu"), "").unwrap();
        chmod(&d.join("sticky/qemu"), 0o755);
        fs::write(d.join("bin/writable"), "").unwrap();
        chmod(&d.join("bin/writable"), 0o775);

        if !nix::unistd::geteuid().is_root() || !host_namespace() {
            // As another user every file here is theirs: reported as such.
            let u = untrusted(&d.join("bin/qemu")).unwrap();
            assert!(u.why.starts_with("is owned by uid"), "{u}");
            return;
        }
        // The temp dir's parents (/tmp) are root's and sticky.
        assert_eq!(untrusted(&d.join("bin/qemu")), None);
        assert_eq!(untrusted(&d.join("links/plain")), None);
        assert_eq!(untrusted(&d.join("sticky/qemu")), None);
        assert_eq!(untrusted(&d.join("bin/missing")), None);
        let why = |p: &str| untrusted(&d.join(p)).map(|u| u.to_string());
        let open = d.join("open").display().to_string();
        assert_eq!(
            why("open/link"),
            Some(format!(
                "{open} is writable by group and others (mode 0777)"
            ))
        );
        assert_eq!(
            why("links/via-open"),
            Some(format!(
                "{open} is writable by group and others (mode 0777)"
            )),
            "a symlink's target is walked too"
        );
        assert_eq!(
            why("bin/writable"),
            Some(format!(
                "{}/bin/writable is writable by group (mode 0775)",
                d.display()
            ))
        );
        nix::unistd::chown(
            &d.join("bin/qemu"),
            Some(nix::unistd::Uid::from_raw(1000)),
            None,
        )
        .unwrap();
        assert_eq!(
            why("links/plain"),
            Some(format!(
                "{}/bin/qemu is owned by uid 1000, not root",
                d.display()
            ))
        );
        nix::unistd::fchownat(
            None,
            &d.join("links/plain"),
            Some(nix::unistd::Uid::from_raw(1000)),
            None,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .unwrap();
        assert_eq!(
            why("links/plain"),
            Some(format!(
                "{}/links/plain is owned by uid 1000, not root",
                d.display()
            )),
            "the link itself"
        );
        for i in 0..45 {
            symlink(
                format!("loop{}", (i + 1) % 45),
                d.join(format!("bin/loop{i}")),
            )
            .unwrap();
        }
        assert!(why("bin/loop0")
            .unwrap()
            .ends_with("leads through more than 40 symlinks"));
        assert_eq!(
            untrusted(Path::new("rel/qemu")).map(|u| u.why),
            Some("is not an absolute path".into())
        );
    }
}
