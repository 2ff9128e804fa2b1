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

/// A place on the way to an interpreter that someone other than root could change: whoever
/// can replace the interpreter runs code in every program the entry emulates, as the user who
/// started it (root included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untrusted {
    /// The file, directory or symlink at fault.
    pub path: PathBuf,
    /// What is wrong with it, e.g. "is owned by uid 1000, not root".
    pub why: String,
}

impl std::fmt::Display for Untrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.path.display(), self.why)
    }
}

/// Symlinks followed before giving up, as the kernel's `MAXSYMLINKS`.
const MAX_SYMLINKS: u32 = 40;

/// The first component on the way to `path` that users other than root could change, or
/// None. Every component of the path is examined without following it; a symlink's own owner
/// is checked (in a sticky directory its owner may replace it) and then every component of
/// its target, recursively. Each file, directory and symlink must be owned by root, and no
/// file or directory may be writable by group or others, except directories with the sticky
/// bit (`/tmp`): there only an entry's owner may replace it, and every entry on the way is
/// required to be root's anyway. A component that does not exist ends the walk: only the
/// owner of its (checked) parent could create it. POSIX ACLs are not examined.
///
/// "Root" is uid 0 of the user namespace binfmtctl runs in; inside a user namespace that does
/// not map the parent's root, the real root's files show up as the overflow uid (usually
/// 65534) and are accepted too, which also accepts other unmapped users' files: the check
/// is exact only in the initial namespace, the one whose table `enable` refuses to change
/// (see [`host_namespace`]).
pub fn untrusted(path: &Path) -> Option<Untrusted> {
    untrusted_except(path, None)
}

/// As [`untrusted`], also trusting files owned by `uid` (for files binfmtctl itself keeps:
/// whoever runs it could rewrite them anyway).
pub fn untrusted_except(path: &Path, uid: Option<u32>) -> Option<Untrusted> {
    if !path.is_absolute() {
        return Some(Untrusted {
            path: path.to_owned(),
            why: "is not an absolute path".into(),
        });
    }
    let mut budget = MAX_SYMLINKS;
    walk(path, uid, &mut budget).err()
}

/// Check `path` component by component; the real path it leads to (or as far as it exists).
fn walk(path: &Path, uid: Option<u32>, budget: &mut u32) -> Result<PathBuf, Untrusted> {
    use std::path::Component;
    let mut real = PathBuf::from("/");
    check_component(&real, uid)?;
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                real.pop();
            }
            Component::Normal(name) => {
                let next = real.join(name);
                let Some(is_symlink) = check_component(&next, uid)? else {
                    return Ok(next);
                };
                if !is_symlink {
                    real = next;
                    continue;
                }
                *budget = budget.checked_sub(1).ok_or_else(|| Untrusted {
                    path: next.clone(),
                    why: format!("leads through more than {MAX_SYMLINKS} symlinks"),
                })?;
                let target = std::fs::read_link(&next).map_err(|e| Untrusted {
                    path: next.clone(),
                    why: format!("cannot be read: {e}"),
                })?;
                // A relative target is relative to the directory holding the link.
                real = walk(&real.join(target), uid, budget)?;
            }
        }
    }
    Ok(real)
}

/// Check one component (not following it). Ok(None) when it does not exist, else
/// Ok(Some(is_symlink)).
fn check_component(path: &Path, uid: Option<u32>) -> Result<Option<bool>, Untrusted> {
    use std::os::unix::fs::MetadataExt as _;
    let untrusted = |why: String| Untrusted {
        path: path.to_owned(),
        why,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(untrusted(format!("cannot be examined: {e}"))),
    };
    if !trusted_owner(meta.uid()) && uid != Some(meta.uid()) {
        return Err(untrusted(format!(
            "is owned by uid {}, not root",
            meta.uid()
        )));
    }
    let is_symlink = meta.file_type().is_symlink();
    let mode = meta.mode() & 0o7777;
    let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
    if !is_symlink && !sticky_dir && mode & 0o022 != 0 {
        let who = match mode & 0o022 {
            0o020 => "group",
            0o002 => "others",
            _ => "group and others",
        };
        return Err(untrusted(format!("is writable by {who} (mode {mode:04o})")));
    }
    Ok(Some(is_symlink))
}

/// The user namespace binfmtctl runs in, from `/proc/self/uid_map`: (initial namespace,
/// the parent namespace's root is mapped here).
fn user_namespace() -> (bool, bool) {
    static NS: std::sync::OnceLock<(bool, bool)> = std::sync::OnceLock::new();
    *NS.get_or_init(|| {
        let Ok(map) = std::fs::read_to_string("/proc/self/uid_map") else {
            // No /proc: assume the strictest case, the host.
            return (true, true);
        };
        let ranges: Vec<Vec<u64>> = map
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
            .collect();
        let initial = ranges.len() == 1 && ranges[0] == [0, 0, 4_294_967_295];
        let parent_root = ranges.iter().any(|r| r.len() == 3 && r[1] == 0 && r[2] > 0);
        (initial, parent_root)
    })
}

/// True when binfmtctl runs in the initial user namespace, so the binfmt_misc instance it
/// changes is the host's table (in another user namespace, only an instance mounted there can
/// be changed: a private one, reaching only that namespace's processes).
pub fn host_namespace() -> bool {
    user_namespace().0
}

/// Owners trusted like root: uid 0 here and, where the parent's root is not mapped, the
/// overflow uid its files show up as.
fn trusted_owner(uid: u32) -> bool {
    if uid == 0 {
        return true;
    }
    let overflow = std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(65534);
    uid == overflow && !user_namespace().1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt as _};

    #[test]
    fn the_install_hint_names_interpreter_only_for_commands_that_have_it() {
        let profiles = crate::profile::Profiles::builtin().unwrap();
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
