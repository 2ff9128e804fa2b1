//! One sysroot for every system of a build at once: the directory `binfmtctl build` hands to
//! qemu-user as `$QEMU_LD_PREFIX`.
//!
//! qemu-user opens an absolute path `P` of the emulated program (its loader first) as
//! `PREFIX/P` when that exists, else as `P` (qemu's util/path.c). A single sysroot directory
//! can therefore not serve two architectures, but a directory of symlinks can: each system's
//! loader at its own path (`lib/ld-linux-riscv64-lp64d.so.1`, `lib/ld-linux-aarch64.so.1`,
//! ...) and each loader's multiarch library directories (`lib/riscv64-linux-gnu`, which
//! Debian's glibc searches before `/lib`) pointing into the sysroot that holds them. Loaders
//! that are at their own path on this machine (Debian multiarch, Nix store paths) get no link:
//! qemu falls back to the host's file.
//!
//! The sources are searched in `run`'s order ([`super::find`]): `--sysroot SYSTEM=DIR`,
//! `$QEMU_LD_PREFIX`, the host itself, then every `/usr/*/` (Debian's cross sysroots); the
//! first source holding a loader of a given name for a wanted system wins that name.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::Origin;

/// The directories searched for cross sysroots, as shown to people.
pub const SEARCHED: &str = "/usr/*-*/";
use crate::model::profile::Profile;

/// Where loaders live inside a sysroot.
const LOADER_DIRS: [&str; 3] = ["lib", "lib64", "lib32"];

/// One symlink of the view: `at` (relative to the view) points to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub at: PathBuf,
    pub to: PathBuf,
}

/// Where a system's loader was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// At its own path on this machine: nothing to link.
    Host,
    /// In a sysroot directory.
    Dir { path: PathBuf, origin: Origin },
}

/// The view to create: its links, and for each wanted system where its loaders come from
/// (a system missing here has no loader anywhere).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub links: Vec<Link>,
    pub served: BTreeMap<String, Vec<Served>>,
}

impl Plan {
    /// The one sysroot every linked loader comes from, if there is one: then it serves as the
    /// prefix itself, exactly as `qemu -L DIR` by hand (its `/etc`, its plain `/usr/lib`, its
    /// `lib64`, which the view does not link), and a caller's own `$QEMU_LD_PREFIX` that
    /// serves the build is passed on unchanged.
    pub fn single_source(&self) -> Option<&Path> {
        let mut dirs = self.served.values().flatten().filter_map(|s| match s {
            Served::Dir { path, .. } => Some(path.as_path()),
            Served::Host => None,
        });
        let first = dirs.next()?;
        dirs.all(|d| d == first).then_some(first)
    }
}

/// A directory searched for loaders, and for which systems (`None`: any).
#[derive(Debug, Clone)]
struct Source<'a> {
    dir: PathBuf,
    origin: Option<Origin>,
    only: Option<&'a str>,
}

/// The places searched for `system`'s loaders, as paths a person can check.
pub fn looked_in(system: &str, given: &[(String, PathBuf)], env: Option<&OsStr>) -> Vec<String> {
    let mut out: Vec<String> = given
        .iter()
        .filter(|(s, _)| s == system)
        .map(|(_, d)| format!("{}/lib*/ld* (--sysroot)", d.display()))
        .collect();
    if let Some(e) = env.filter(|e| !e.is_empty()) {
        out.push(format!(
            "{}/lib*/ld* ($QEMU_LD_PREFIX)",
            Path::new(e).display()
        ));
    }
    out.push("/lib*/ld*".to_owned());
    out.push(format!("{SEARCHED}lib*/ld*"));
    out
}

/// The places searched, in `run`'s order: `--sysroot SYSTEM=DIR` (for its system only),
/// `$QEMU_LD_PREFIX`, the host itself, then Debian's cross sysroots `root/usr/*-*/`.
fn sources<'a>(
    root: &Path,
    given: &'a [(String, PathBuf)],
    env: Option<&OsStr>,
) -> Vec<Source<'a>> {
    let mut sources: Vec<Source> = given
        .iter()
        .map(|(system, dir)| Source {
            dir: dir.clone(),
            origin: Some(Origin::Option),
            only: Some(system.as_str()),
        })
        .collect();
    if let Some(e) = env.filter(|e| !e.is_empty()) {
        sources.push(Source {
            dir: PathBuf::from(e),
            origin: Some(Origin::Env),
            only: None,
        });
    }
    sources.push(Source {
        dir: root.to_owned(),
        origin: None,
        only: None,
    });
    // Cross sysroots are named by GNU triple (/usr/riscv64-linux-gnu), which always holds a
    // dash; /usr/bin, /usr/share, ... are passed over unread (this runs before every build).
    sources.extend(
        subdirs(&root.join("usr"))
            .into_iter()
            .filter(|d| {
                d.file_name()
                    .is_some_and(|n| n.as_encoded_bytes().contains(&b'-'))
            })
            .map(|dir| Source {
                dir,
                origin: Some(Origin::Search),
                only: None,
            }),
    );
    sources
}

/// Plan the view for `systems`. `root` is `/` except in tests (`given` and `env` are taken
/// as they are); `header_of(file)` is a loader's ELF header as a program's would be
/// ([`super::loader_header`]), matched against each system's magic: read once a file, however
/// many systems are wanted (a build wants every installed one by default).
pub fn plan(
    root: &Path,
    systems: &[&Profile],
    given: &[(String, PathBuf)],
    env: Option<&OsStr>,
    header_of: &dyn Fn(&Path) -> Option<Vec<u8>>,
) -> Plan {
    let matchers: Vec<_> = systems.iter().map(|p| p.matcher()).collect();
    let sources = sources(root, given, env);
    let mut plan = Plan::default();
    let mut taken: BTreeSet<PathBuf> = BTreeSet::new();
    for source in &sources {
        for rel in loaders_in(&source.dir) {
            if taken.contains(&rel) {
                continue;
            }
            let Some(file) = super::resolve_within(&source.dir, &rel) else {
                continue;
            };
            let Some(header) = header_of(&file) else {
                continue;
            };
            // Every wanted system the loader is for: armv6l and armv7l share one magic.
            let fitting: Vec<&Profile> = systems
                .iter()
                .zip(&matchers)
                .filter(|(p, _)| source.only.is_none_or(|s| s == &*p.system))
                .filter(|(_, m)| m.matches_header(&header))
                .map(|(p, _)| *p)
                .collect();
            if fitting.is_empty() {
                continue;
            }
            taken.insert(rel.clone());
            let served = match source.origin {
                None => Served::Host,
                Some(origin) => {
                    plan.links.push(Link {
                        at: rel,
                        to: file.clone(),
                    });
                    for link in library_links(&source.dir, &file) {
                        if taken.insert(link.at.clone()) {
                            plan.links.push(link);
                        }
                    }
                    Served::Dir {
                        path: source.dir.clone(),
                        origin,
                    }
                }
            };
            for profile in fitting {
                let list = plan.served.entry(profile.system.to_string()).or_default();
                if !list.contains(&served) {
                    list.push(served.clone());
                }
            }
        }
    }
    plan
}

/// The directories in `parent`, sorted by name.
fn subdirs(parent: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(parent)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Whether a file name is a dynamic loader's: `ld-linux-*.so.N`, `ld.so.1`, `ld64.so.2`,
/// `ld-musl-*.so.1`; not the loader's configuration (`ld.so.cache`, `ld.so.conf`).
fn is_loader_name(name: &str) -> bool {
    (name.starts_with("ld")
        && name.contains(".so")
        && !name.starts_with("ld.so.")
        && !name.starts_with("ldscripts"))
        || name == "ld.so.1"
}

/// The loaders (relative paths such as `lib/ld-linux-aarch64.so.1`) in a sysroot, sorted.
fn loaders_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in LOADER_DIRS {
        let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        let mut names: Vec<PathBuf> = rd
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name();
                is_loader_name(name.to_str()?).then(|| Path::new(sub).join(name))
            })
            .collect();
        names.sort();
        out.extend(names);
    }
    out
}

/// The multiarch directories a loader searches (`/lib/<triple>/`, `/usr/lib/<triple>/`), read
/// from the loader itself: glibc keeps its system directories as strings in ld.so. Sorted,
/// without repeats.
pub fn multiarch_triples(loader: &[u8]) -> Vec<String> {
    // memchr's SIMD search for the few "/lib/" in ~200 KB, not a look at every byte: this
    // runs before every build. A directory string starts after a NUL (or at the start),
    // possibly with "/usr" first, and ends with "/" before the next NUL.
    let mut out = BTreeSet::new();
    for at in memchr::memmem::find_iter(loader, b"/lib/") {
        let before = &loader[..at];
        let before = before.strip_suffix(b"/usr").unwrap_or(before);
        if before.last().is_some_and(|&b| b != 0) {
            continue;
        }
        let rest = &loader[at + 5..];
        let end = memchr::memchr(0, rest).unwrap_or(rest.len());
        let Some(word) = rest[..end].strip_suffix(b"/") else {
            continue;
        };
        if word.first().is_some_and(u8::is_ascii_alphanumeric)
            && memchr::memmem::find(word, b"-linux-").is_some()
            && word
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            out.insert(String::from_utf8_lossy(word).into_owned());
        }
    }
    out.into_iter().collect()
}

/// The library directories of the sysroot `dir` that `loader` searches, as links of the view.
/// A loader with multiarch directories gets `lib/<triple>` (to `dir/lib/<triple>` in a full
/// root file system, to `dir/lib` in a Debian cross sysroot such as `/usr/<triple>`) and
/// `usr/lib/<triple>`; one without (a flat sysroot) gets each file of `dir/lib` and
/// `dir/usr/lib` linked one by one.
fn library_links(dir: &Path, loader: &Path) -> Vec<Link> {
    let bytes = std::fs::read(loader).unwrap_or_default();
    let triples = multiarch_triples(&bytes);
    let mut out = Vec::new();
    if triples.is_empty() {
        for sub in ["lib", "usr/lib"] {
            let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            let mut names: Vec<_> = rd.filter_map(Result::ok).map(|e| e.file_name()).collect();
            names.sort();
            out.extend(names.into_iter().map(|n| Link {
                at: Path::new(sub).join(&n),
                to: dir.join(sub).join(&n),
            }));
        }
        return out;
    }
    for t in triples {
        for sub in ["lib", "usr/lib"] {
            let own = dir.join(sub).join(&t);
            let to = if own.is_dir() {
                own
            } else if sub == "lib" && dir.join(sub).is_dir() {
                dir.join(sub)
            } else {
                continue;
            };
            out.push(Link {
                at: Path::new(sub).join(&t),
                to,
            });
        }
    }
    out
}

/// Create the view's links under `under` (an empty directory) in `dir`.
pub fn create(
    dir: &crate::trust::scratch::Scratch,
    under: &Path,
    plan: &Plan,
) -> std::io::Result<()> {
    for link in &plan.links {
        dir.symlink(&under.join(&link.at), &link.to)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::Profiles;

    /// A fake root: files (empty unless given content) and symlinks (`path -> target`).
    fn tree(files: &[(&str, &[u8])], links: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (f, content) in files {
            let path = root.path().join(f.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
        for (at, to) in links {
            let path = root.path().join(at.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(to, &path).unwrap();
        }
        root
    }

    /// Fake loaders name their system before a NUL (then multiarch dirs as glibc's strings):
    /// their header is that system's.
    fn fits(file: &Path) -> Option<Vec<u8>> {
        let bytes = std::fs::read(file).ok()?;
        let system = String::from_utf8_lossy(bytes.split(|&b| b == 0).next()?).into_owned();
        let profiles = Profiles::builtin().unwrap();
        let p = profiles.lookup(&system).ok()?;
        p.sample_headers().into_iter().next()
    }

    fn links(plan: &Plan, root: &Path) -> Vec<String> {
        plan.links
            .iter()
            .map(|l| {
                format!(
                    "{} -> {}",
                    l.at.display(),
                    l.to.strip_prefix(root).unwrap_or(&l.to).display()
                )
            })
            .collect()
    }

    const RV: &[u8] =
        b"riscv64-linux\0/lib/riscv64-linux-gnu/\0/usr/lib/riscv64-linux-gnu/\0/lib/\0";
    const A64: &[u8] = b"aarch64-linux\0/lib/aarch64-linux-gnu/\0/usr/lib/aarch64-linux-gnu/\0";

    #[test]
    fn two_systems_from_debian_cross_sysroots_and_one_at_its_own_path() {
        let t = tree(
            &[
                ("/usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1", RV),
                ("/usr/riscv64-linux-gnu/lib/libc.so.6", b""),
                ("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1", A64),
                (
                    "/lib/ld-linux-armhf.so.3",
                    b"armv7l-linux\0/lib/arm-linux-gnueabihf/\0",
                ),
                (
                    "/usr/arm-linux-gnueabihf/lib/ld-linux-armhf.so.3",
                    b"armv7l-linux\0/lib/arm-linux-gnueabihf/\0",
                ),
                ("/lib/ld.so.cache", b"riscv64-linux\0"),
                ("/usr/bin/ld", b"riscv64-linux\0"),
            ],
            &[],
        );
        let profiles = Profiles::builtin().unwrap();
        let systems: Vec<&Profile> = [
            "riscv64-linux",
            "aarch64-linux",
            "armv6l-linux",
            "armv7l-linux",
        ]
        .iter()
        .map(|s| profiles.lookup(s).unwrap())
        .collect();
        let plan = plan(t.path(), &systems, &[], None, &fits);
        assert_eq!(
            links(&plan, t.path()),
            [
                "lib/ld-linux-aarch64.so.1 -> usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1",
                "lib/aarch64-linux-gnu -> usr/aarch64-linux-gnu/lib",
                "lib/ld-linux-riscv64-lp64d.so.1 -> usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1",
                "lib/riscv64-linux-gnu -> usr/riscv64-linux-gnu/lib",
            ]
        );
        assert_eq!(plan.served["armv7l-linux"], [Served::Host]);
        assert_eq!(
            plan.served["armv6l-linux"],
            [Served::Host],
            "the same loader serves both"
        );
        assert!(matches!(
            plan.served["riscv64-linux"][..],
            [Served::Dir {
                origin: Origin::Search,
                ..
            }]
        ));
    }

    #[test]
    fn a_given_sysroot_wins_for_its_system_only_and_a_root_fs_keeps_its_multiarch_dirs() {
        let t = tree(
            &[
                ("/usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1", RV),
                (
                    "/rootfs/usr/lib/riscv64-linux-gnu/ld-linux-riscv64-lp64d.so.1",
                    RV,
                ),
                ("/rootfs/usr/lib/riscv64-linux-gnu/libc.so.6", b""),
                ("/rootfs/lib/riscv64-linux-gnu/libm.so.6", b""),
                ("/rootfs/lib/ld-linux-aarch64.so.1", A64),
            ],
            &[(
                "/rootfs/lib/ld-linux-riscv64-lp64d.so.1",
                "/usr/lib/riscv64-linux-gnu/ld-linux-riscv64-lp64d.so.1",
            )],
        );
        let profiles = Profiles::builtin().unwrap();
        let systems: Vec<&Profile> = ["riscv64-linux", "aarch64-linux"]
            .iter()
            .map(|s| profiles.lookup(s).unwrap())
            .collect();
        let given = [("riscv64-linux".to_owned(), t.path().join("rootfs"))];
        let plan = plan(t.path(), &systems, &given, None, &fits);
        assert_eq!(
            links(&plan, t.path()),
            [
                "lib/ld-linux-riscv64-lp64d.so.1 -> rootfs/usr/lib/riscv64-linux-gnu/ld-linux-riscv64-lp64d.so.1",
                "lib/riscv64-linux-gnu -> rootfs/lib/riscv64-linux-gnu",
                "usr/lib/riscv64-linux-gnu -> rootfs/usr/lib/riscv64-linux-gnu",
            ],
            "the aarch64 loader in the riscv64 sysroot is not taken; the absolute link is followed inside it"
        );
        assert!(!plan.served.contains_key("aarch64-linux"));
    }

    #[test]
    fn qemu_ld_prefix_comes_before_the_search_and_a_flat_sysroot_links_its_files() {
        let t = tree(
            &[
                ("/usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1", RV),
                (
                    "/opt/br/lib/ld-linux-riscv64-lp64d.so.1",
                    b"riscv64-linux\0",
                ),
                ("/opt/br/lib/libc.so.6", b""),
                ("/opt/br/usr/lib/libz.so.1", b""),
            ],
            &[],
        );
        let profiles = Profiles::builtin().unwrap();
        let systems = [profiles.lookup("riscv64-linux").unwrap()];
        let env = t.path().join("opt/br");
        let plan = plan(t.path(), &systems, &[], Some(env.as_os_str()), &fits);
        assert_eq!(
            links(&plan, t.path()),
            [
                "lib/ld-linux-riscv64-lp64d.so.1 -> opt/br/lib/ld-linux-riscv64-lp64d.so.1",
                "lib/libc.so.6 -> opt/br/lib/libc.so.6",
                "usr/lib/libz.so.1 -> opt/br/usr/lib/libz.so.1",
            ]
        );
    }

    #[test]
    fn one_source_serves_as_the_prefix_itself_and_two_need_the_view() {
        let t = tree(
            &[
                ("/usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1", RV),
                ("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1", A64),
            ],
            &[],
        );
        let profiles = Profiles::builtin().unwrap();
        let rv = [profiles.lookup("riscv64-linux").unwrap()];
        assert_eq!(
            plan(t.path(), &rv, &[], None, &fits).single_source(),
            Some(t.path().join("usr/riscv64-linux-gnu").as_path())
        );
        let both = [rv[0], profiles.lookup("aarch64-linux").unwrap()];
        assert_eq!(
            plan(t.path(), &both, &[], None, &fits).single_source(),
            None
        );
        assert_eq!(plan(t.path(), &[], &[], None, &fits).single_source(), None);
    }

    #[test]
    fn loader_names() {
        for (name, want) in [
            ("ld-linux-riscv64-lp64d.so.1", true),
            ("ld-linux-armhf.so.3", true),
            ("ld.so.1", true),
            ("ld64.so.2", true),
            ("ld-musl-aarch64.so.1", true),
            ("ld.so.cache", false),
            ("ld.so.conf", false),
            ("ldscripts", false),
            ("libc.so.6", false),
            ("ld", false),
        ] {
            assert_eq!(is_loader_name(name), want, "{name}");
        }
    }

    #[test]
    fn multiarch_triples_come_from_the_loaders_strings() {
        assert_eq!(multiarch_triples(RV), ["riscv64-linux-gnu"]);
        assert_eq!(
            multiarch_triples(b"x\0/lib/arm-linux-gnueabihf/\0/usr/lib/arm-linux-gnueabihf/\0/lib/\0/lib/tls/\0/lib/-linux-/\0/lib/a-linux-b/c/"),
            ["arm-linux-gnueabihf"]
        );
        assert!(multiarch_triples(b"/lib/\0/usr/lib/\0").is_empty());
    }

    #[test]
    #[cfg_attr(
        not(feature = "kernel-tier"),
        ignore = "kernel tier: needs root or Debian's packages; bash scripts/test.sh runs it"
    )]
    fn this_machines_real_riscv64_loader_names_its_multiarch_dir() {
        // libc6-riscv64-cross (installed by scripts/test-deps.sh) provides it.
        let loader = Path::new("/usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1");
        let bytes = std::fs::read(loader).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; install libc6-riscv64-cross (bash scripts/test-deps.sh)",
                loader.display()
            )
        });
        assert_eq!(multiarch_triples(&bytes), ["riscv64-linux-gnu"]);
    }
}
