//! Where a foreign, dynamically linked program's loader and libraries live: the sysroot that
//! qemu-user's `-L DIR` names (qemu then opens `DIR/lib/ld-...` for the program's `PT_INTERP`
//! `/lib/ld-...`, and falls back to the host path for files the sysroot lacks).
//!
//! The search runs over a root directory (`/` except in tests), so a fake tree in a temporary
//! directory exercises it without installing anything.

pub mod view;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::model::profile::Profile;

/// A loader's header is compared as a non-PIE program's.
use crate::elf::ET_EXEC;

/// Whether `candidate` is an ELF loader for `profile`'s programs (its own header matches the
/// profile as a program's would). `run` and `build` both ask this.
pub fn loader_fits(profile: &Profile, candidate: &Path) -> bool {
    loader_header(candidate).is_some_and(|h| profile.matcher().matches_header(&h))
}

/// A loader's ELF header as a program's (`e_type` `ET_EXEC`), to match against magics; None
/// for what is no ELF file or cannot be read here (then qemu could not read it either).
pub fn loader_header(candidate: &Path) -> Option<Vec<u8>> {
    let l = crate::elf::read_file(candidate).ok()?;
    crate::elf::with_e_type(&l.header, ET_EXEC)
}

/// [`loader_header`] from the file's first bytes alone (what binfmt_misc's magics look at),
/// for the build's sysroot search, which runs before every build: no program headers read.
/// Only a regular file is opened, without waiting (O_NONBLOCK).
pub fn loader_header_quick(candidate: &Path) -> Option<Vec<u8>> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(candidate)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut header = Vec::with_capacity(crate::elf::HEADER_LEN);
    file.take(crate::elf::HEADER_LEN as u64)
        .read_to_end(&mut header)
        .ok()?;
    crate::elf::with_e_type(&header, ET_EXEC)
}

/// Loaders whose name tells the Debian architecture (and so the `libc6-<arch>-cross` package
/// that holds them) better than a profile can: ARM's two float ABIs share one ELF magic, so a
/// hard-float program matches armv6l-linux (armel) first, though only `libc6-armhf-cross` ships
/// its loader. The loader is what the program asks for, so it decides.
const LOADER_DEBIAN_ARCH: &[(&str, &str)] = &[
    ("ld-linux-armhf.so.3", "armhf"), // hard float (EABI VFP), Debian armhf
    ("ld-linux.so.3", "armel"),       // soft float, Debian armel
];

/// The Debian architecture whose C library holds `loader`, for a program of a profile whose
/// own Debian architecture is `profile_debian`: the loader's name where it tells
/// ([`LOADER_DEBIAN_ARCH`]), else the profile's.
pub fn debian_arch_of<'a>(profile_debian: Option<&'a str>, loader: &Path) -> Option<&'a str> {
    let name = loader.file_name().and_then(OsStr::to_str);
    LOADER_DEBIAN_ARCH
        .iter()
        .find(|(l, _)| Some(*l) == name)
        .map(|(_, arch)| *arch)
        .or(profile_debian)
}

/// What to do about `loader` found nowhere, for a program of a profile whose Debian
/// architecture is `profile_debian`; `option` is how the command names a sysroot
/// (`--sysroot DIR` for `run`, `binfmtctl build --sysroot SYSTEM=DIR` for `build`). The one
/// rule `run` and `build`'s launcher both say.
pub fn install_hint(profile_debian: Option<&str>, loader: &Path, option: &str) -> String {
    match debian_arch_of(profile_debian, loader) {
        Some(arch) => format!("install it: apt install libc6-{arch}-cross, or give {option}"),
        None => format!("give {option}"),
    }
}

/// `dir/rel` as a file that exists, following a symlink whose target is absolute inside `dir`
/// (Debian's packages unpacked with `dpkg-deb -x` keep links such as `lib64/ld64.so.2 ->
/// /lib/powerpc64le-linux-gnu/ld64.so.2`, which point out of the sysroot; qemu's own `-L`
/// fails on them). The one rule for `run`'s search ([`find`]) and `build`'s view.
pub fn resolve_within(dir: &Path, rel: &Path) -> Option<PathBuf> {
    let path = dir.join(rel);
    if let Ok(target) = std::fs::read_link(&path) {
        if let Ok(inside) = target.strip_prefix("/") {
            let moved = dir.join(inside);
            if moved.is_file() {
                return Some(moved);
            }
        }
    }
    path.is_file().then_some(path)
}

/// The directories searched for cross sysroots, as shown to people.
pub const SEARCHED: &str = "/usr/*/";

/// Where the loader was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sysroot {
    /// At its own path on this machine: Debian's multiarch `libc6:arm64` installs
    /// `/lib/ld-linux-aarch64.so.1` and its libraries under `/lib/aarch64-linux-gnu`, where
    /// that loader looks. qemu needs no `-L`, and a registered qemu finds it too.
    Host,
    /// Under a directory `path`: `path` + the loader path exists. qemu needs `-L path`.
    Dir { path: PathBuf, origin: Origin },
}

/// Who named a sysroot directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--sysroot DIR`.
    Option,
    /// `$QEMU_LD_PREFIX`, the variable qemu-user itself reads for `-L`.
    Env,
    /// Found by the search of `/usr/*/` (Debian's cross sysroots, e.g. `/usr/riscv64-linux-gnu`
    /// from `libc6-riscv64-cross`).
    Search,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SysrootError {
    /// The `--sysroot` directory does not hold the loader.
    #[error("the loader {} is not in the sysroot {}: {} does not exist", .loader.display(), .dir.display(), .missing.display())]
    NotInGiven {
        loader: PathBuf,
        dir: PathBuf,
        missing: PathBuf,
    },
    /// The `--sysroot` directory holds a file of the loader's name that is not the program's
    /// architecture's loader, or cannot be read.
    #[error("{} is not a loader for the program's architecture (or cannot be read); name the sysroot of the program's own (e.g. /usr/<its GNU triple>)", .loader.display())]
    Foreign { loader: PathBuf, dir: PathBuf },
    /// The sysroot holds the loader only through an absolute symlink, which qemu's `-L`
    /// follows on the host, not inside the sysroot (qemu's util/path.c checks `DIR/PATH` with
    /// access(2), which follows the link out of `DIR`).
    #[error("{} is a symlink to {}, which qemu -L {} looks for on this machine, not in the sysroot, where it is {}; make the link relative: ln -sfn {} {}", .link.display(), .target.display(), .dir.display(), .file.display(), .relative.display(), .link.display())]
    LinkOutside {
        dir: PathBuf,
        /// `dir` + the loader path: the symlink.
        link: PathBuf,
        /// Its absolute target.
        target: PathBuf,
        /// `dir` + the target: the loader itself.
        file: PathBuf,
        /// The target relative to the link's directory, what the link should say.
        relative: PathBuf,
    },
    /// Neither the host nor any sysroot holds the loader.
    #[error("the loader {} was found neither on this machine nor in a sysroot (looked in: {})", .loader.display(), .looked_in.join(", "))]
    NotFound {
        loader: PathBuf,
        /// The places looked at, as paths a person can check (`/usr/*/lib/ld-...`).
        looked_in: Vec<String>,
    },
}

/// The loader path relative to a sysroot: `/lib/ld.so` -> `lib/ld.so`.
fn relative(loader: &Path) -> &Path {
    loader.strip_prefix("/").unwrap_or(loader)
}

/// Find where `loader` (a program's `PT_INTERP`) lives, in this order: `given` (`--sysroot`,
/// which must hold it), `env` (`$QEMU_LD_PREFIX`, used when it holds it), the host itself
/// (`root` + loader), then every directory `root/usr/*/` (sorted by name; the first holding
/// the loader wins).
///
/// A loader found counts only when `fits` says it is one for the program's architecture:
/// several share a name (`/lib/ld.so.1`: mips, mipsel, powerpc; `/lib/ld64.so.1`: s390x,
/// ppc64; `/lib/ld-linux.so.2`: i386, sh4, sparc), and `/usr/mips-linux-gnu` sorts before
/// `/usr/mipsel-linux-gnu`.
///
/// `root` is `/` except in tests; `given` and `env` are taken as they are, not under `root`.
pub fn find(
    root: &Path,
    loader: &Path,
    given: Option<&Path>,
    env: Option<&OsStr>,
    fits: &dyn Fn(&Path) -> bool,
) -> Result<Sysroot, SysrootError> {
    let rel = relative(loader);
    // The loader in a sysroot, absolute links resolved inside it, when it is the program's.
    let holds = |dir: &Path| resolve_within(dir, rel).filter(|file| fits(file));
    // A sysroot directory that holds the loader: usable with qemu's -L only when the loader
    // is reached without an absolute link out of it.
    let usable = |dir: &Path, file: PathBuf, origin: Origin| {
        let link = dir.join(rel);
        if file == link {
            return Ok(Sysroot::Dir {
                path: dir.to_owned(),
                origin,
            });
        }
        let target = std::fs::read_link(&link).unwrap_or_default();
        let depth = rel.parent().map_or(0, |p| p.components().count());
        let mut relative: PathBuf = std::iter::repeat_n("..", depth).collect();
        relative.push(target.strip_prefix("/").unwrap_or(&target));
        Err(SysrootError::LinkOutside {
            dir: dir.to_owned(),
            link,
            target,
            file,
            relative,
        })
    };
    if let Some(dir) = given {
        return match resolve_within(dir, rel) {
            Some(file) if !fits(&file) => Err(SysrootError::Foreign {
                loader: file,
                dir: dir.to_owned(),
            }),
            Some(file) => usable(dir, file, Origin::Option),
            None => Err(SysrootError::NotInGiven {
                loader: loader.to_owned(),
                dir: dir.to_owned(),
                missing: dir.join(rel),
            }),
        };
    }
    let mut looked_in = Vec::new();
    // An empty $QEMU_LD_PREFIX is as good as none.
    if let Some(dir) = env.filter(|e| !e.is_empty()).map(Path::new) {
        if let Some(file) = holds(dir) {
            return usable(dir, file, Origin::Env);
        }
        // Set for another architecture, maybe: not an error, the search goes on.
        looked_in.push(format!("{} ($QEMU_LD_PREFIX)", dir.join(rel).display()));
    }
    if holds(root).is_some() {
        return Ok(Sysroot::Host);
    }
    looked_in.push(Path::new("/").join(rel).display().to_string());
    if let Some((dir, file)) = search(&root.join("usr"), &holds) {
        return usable(&dir, file, Origin::Search);
    }
    looked_in.push(Path::new(SEARCHED).join(rel).display().to_string());
    Err(SysrootError::NotFound {
        loader: loader.to_owned(),
        looked_in,
    })
}

/// The first directory `D` in `parent` (by name) that `holds` the loader, and the loader.
fn search(parent: &Path, holds: &dyn Fn(&Path) -> Option<PathBuf>) -> Option<(PathBuf, PathBuf)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(parent)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .find_map(|d| holds(&d).map(|file| (d, file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOADER: &str = "/lib/ld-linux-riscv64-lp64d.so.1";

    /// A fake root holding the given files (empty).
    fn tree(files: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for f in files {
            let path = root.path().join(f.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"").unwrap();
        }
        root
    }

    fn found(root: &Path, path: &str, origin: Origin) -> Sysroot {
        Sysroot::Dir {
            path: root.join(path.trim_start_matches('/')),
            origin,
        }
    }

    /// Ok((dir or "host", origin)) or Err(message, with ROOT for the fake root).
    type Expected = Result<(&'static str, Origin), &'static str>;
    /// (name, files in the fake root, --sysroot, $QEMU_LD_PREFIX, expected)
    type Case = (
        &'static str,
        &'static [&'static str],
        Option<&'static str>,
        Option<&'static str>,
        Expected,
    );

    #[test]
    fn search_order() {
        let loader = Path::new(LOADER);
        let cases: &[Case] = &[
            (
                "Debian cross sysroot",
                &["/usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1", "/usr/bin/x"],
                None,
                None,
                Ok(("/usr/riscv64-linux-gnu", Origin::Search)),
            ),
            (
                "the first of several, by name",
                &[
                    "/usr/zz-linux/lib/ld-linux-riscv64-lp64d.so.1",
                    "/usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1",
                ],
                None,
                None,
                Ok(("/usr/riscv64-linux-gnu", Origin::Search)),
            ),
            (
                "multiarch: the loader at its own path",
                &[LOADER, "/usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1"],
                None,
                None,
                Ok(("host", Origin::Search)),
            ),
            (
                "$QEMU_LD_PREFIX first",
                &[LOADER, "/opt/rv/lib/ld-linux-riscv64-lp64d.so.1"],
                None,
                Some("/opt/rv"),
                Ok(("/opt/rv", Origin::Env)),
            ),
            (
                "$QEMU_LD_PREFIX without the loader: the search goes on",
                &["/opt/arm/lib/ld-linux-armhf.so.3", "/usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1"],
                None,
                Some("/opt/arm"),
                Ok(("/usr/riscv64-linux-gnu", Origin::Search)),
            ),
            (
                "--sysroot before everything",
                &[LOADER, "/opt/rv/lib/ld-linux-riscv64-lp64d.so.1", "/opt/other/lib/ld-linux-riscv64-lp64d.so.1"],
                Some("/opt/rv"),
                Some("/opt/other"),
                Ok(("/opt/rv", Origin::Option)),
            ),
            (
                "--sysroot must hold the loader",
                &[LOADER],
                Some("/opt/empty"),
                None,
                Err("the loader /lib/ld-linux-riscv64-lp64d.so.1 is not in the sysroot ROOT/opt/empty: ROOT/opt/empty/lib/ld-linux-riscv64-lp64d.so.1 does not exist"),
            ),
            (
                "nowhere",
                &["/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1", "/usr/lib/riscv64-linux-gnu/libc.so.6"],
                None,
                None,
                Err("the loader /lib/ld-linux-riscv64-lp64d.so.1 was found neither on this machine nor in a sysroot (looked in: /lib/ld-linux-riscv64-lp64d.so.1, /usr/*/lib/ld-linux-riscv64-lp64d.so.1)"),
            ),
            (
                "nowhere, $QEMU_LD_PREFIX named",
                &[],
                None,
                Some("/opt/arm"),
                Err("the loader /lib/ld-linux-riscv64-lp64d.so.1 was found neither on this machine nor in a sysroot (looked in: ROOT/opt/arm/lib/ld-linux-riscv64-lp64d.so.1 ($QEMU_LD_PREFIX), /lib/ld-linux-riscv64-lp64d.so.1, /usr/*/lib/ld-linux-riscv64-lp64d.so.1)"),
            ),
            (
                "no /usr at all",
                &["/etc/x"],
                None,
                Some(""),
                Err("the loader /lib/ld-linux-riscv64-lp64d.so.1 was found neither on this machine nor in a sysroot (looked in: /lib/ld-linux-riscv64-lp64d.so.1, /usr/*/lib/ld-linux-riscv64-lp64d.so.1)"),
            ),
        ];
        for (name, files, given, env, expected) in cases {
            let t = tree(files);
            let root = t.path();
            // --sysroot and $QEMU_LD_PREFIX are real paths: point them into the fake root.
            let given = given.map(|g| root.join(g.trim_start_matches('/')));
            let env = env.map(|e| {
                if e.is_empty() {
                    std::ffi::OsString::new()
                } else {
                    root.join(e.trim_start_matches('/')).into_os_string()
                }
            });
            let got = find(root, loader, given.as_deref(), env.as_deref(), &|_| true);
            match expected {
                Ok(("host", _)) => assert_eq!(got, Ok(Sysroot::Host), "{name}"),
                Ok((dir, origin)) => assert_eq!(got, Ok(found(root, dir, *origin)), "{name}"),
                Err(text) => {
                    let err = got.expect_err(name).to_string();
                    assert_eq!(
                        err,
                        text.replace("ROOT", &root.display().to_string()),
                        "{name}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_symlinked_loader_counts_and_a_dangling_one_does_not() {
        let t = tree(&["/usr/riscv64-linux-gnu/lib/ld-real.so.1"]);
        let lib = t.path().join("usr/riscv64-linux-gnu/lib");
        std::os::unix::fs::symlink("ld-real.so.1", lib.join("ld-linux-riscv64-lp64d.so.1"))
            .unwrap();
        std::fs::create_dir_all(t.path().join("lib")).unwrap();
        std::os::unix::fs::symlink(
            "/nonexistent",
            t.path().join(LOADER.trim_start_matches('/')),
        )
        .unwrap();
        assert_eq!(
            find(t.path(), Path::new(LOADER), None, None, &|_| true),
            Ok(found(t.path(), "/usr/riscv64-linux-gnu", Origin::Search))
        );
    }

    #[test]
    fn an_absolute_loader_link_is_resolved_inside_the_sysroot_and_named() {
        // dpkg-deb -x of libc6:ppc64el: lib64/ld64.so.2 -> /lib/powerpc64le-linux-gnu/ld64.so.2.
        let t = tree(&["/opt/ppc/lib/powerpc64le-linux-gnu/ld64.so.2"]);
        let dir = t.path().join("opt/ppc");
        std::fs::create_dir_all(dir.join("lib64")).unwrap();
        std::os::unix::fs::symlink(
            "/lib/powerpc64le-linux-gnu/ld64.so.2",
            dir.join("lib64/ld64.so.2"),
        )
        .unwrap();
        let loader = Path::new("/lib64/ld64.so.2");
        for (given, env) in [(Some(dir.as_path()), None), (None, Some(dir.as_os_str()))] {
            let err = find(t.path(), loader, given, env, &|_| true).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{d}/lib64/ld64.so.2 is a symlink to /lib/powerpc64le-linux-gnu/ld64.so.2, which qemu -L {d} \
                     looks for on this machine, not in the sysroot, where it is {d}/lib/powerpc64le-linux-gnu/ld64.so.2; \
                     make the link relative: ln -sfn ../lib/powerpc64le-linux-gnu/ld64.so.2 {d}/lib64/ld64.so.2",
                    d = dir.display()
                )
            );
        }
        assert_eq!(
            resolve_within(&dir, Path::new("lib64/ld64.so.2")),
            Some(dir.join("lib/powerpc64le-linux-gnu/ld64.so.2"))
        );
    }

    #[test]
    fn the_package_hint_follows_the_program_s_loader() {
        // (profile's Debian arch, loader, the package named)
        let cases = [
            (
                Some("armel"),
                "/lib/ld-linux-armhf.so.3",
                Some("libc6-armhf-cross"),
            ),
            (
                Some("armhf"),
                "/lib/ld-linux.so.3",
                Some("libc6-armel-cross"),
            ),
            (
                Some("armel"),
                "/lib/ld-linux.so.3",
                Some("libc6-armel-cross"),
            ),
            (
                Some("riscv64"),
                "/lib/ld-linux-riscv64-lp64d.so.1",
                Some("libc6-riscv64-cross"),
            ),
            (None, "/lib/ld-musl-x.so.1", None),
        ];
        for (debian, loader, package) in cases {
            let hint = install_hint(debian, Path::new(loader), "--sysroot DIR");
            match package {
                Some(p) => assert_eq!(
                    hint,
                    format!("install it: apt install {p}, or give --sysroot DIR")
                ),
                None => assert_eq!(hint, "give --sysroot DIR"),
            }
        }
    }

    #[test]
    fn a_loader_of_the_same_name_for_another_architecture_is_passed_over() {
        // /lib/ld.so.1 is mips's, mipsel's and powerpc's: mips sorts first.
        let t = tree(&[
            "/usr/mips-linux-gnu/lib/ld.so.1",
            "/usr/mipsel-linux-gnu/lib/ld.so.1",
            "/lib/ld.so.1",
        ]);
        let mipsel = |p: &Path| p.to_string_lossy().contains("mipsel");
        assert_eq!(
            find(t.path(), Path::new("/lib/ld.so.1"), None, None, &mipsel),
            Ok(found(t.path(), "/usr/mipsel-linux-gnu", Origin::Search))
        );
        let env = t.path().join("usr/mips-linux-gnu");
        assert_eq!(
            find(
                t.path(),
                Path::new("/lib/ld.so.1"),
                None,
                Some(env.as_os_str()),
                &mipsel
            ),
            Ok(found(t.path(), "/usr/mipsel-linux-gnu", Origin::Search)),
            "$QEMU_LD_PREFIX of another architecture is passed over too"
        );
        let given = t.path().join("usr/mips-linux-gnu");
        assert!(matches!(
            find(
                t.path(),
                Path::new("/lib/ld.so.1"),
                Some(&given),
                None,
                &mipsel
            ),
            Err(SysrootError::Foreign { .. })
        ));
    }

    #[test]
    #[cfg_attr(
        not(feature = "kernel-tier"),
        ignore = "kernel tier: needs root or Debian's packages; bash scripts/test.sh runs it"
    )]
    fn this_machine_has_the_riscv64_cross_sysroot() {
        // libc6-riscv64-cross (installed by scripts/test-deps.sh) provides it.
        // A machine with Debian's riscv64 multiarch libc has the loader at its own path.
        let got = find(Path::new("/"), Path::new(LOADER), None, None, &|_| true);
        assert!(
            got == Ok(Sysroot::Host)
                || got
                    == Ok(Sysroot::Dir {
                        path: PathBuf::from("/usr/riscv64-linux-gnu"),
                        origin: Origin::Search
                    }),
            "{got:?}: install libc6-riscv64-cross (bash scripts/test-deps.sh)"
        );
    }
}
