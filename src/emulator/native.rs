//! Which systems this host runs without emulation.
//!
//! Registering such a system sends its programs through the emulator (with a qemu of the
//! host's own architecture every exec recurses: ELOOP, nixpkgs #218465). One verdict decides
//! the refusal for every command (`enable`, `import`, `apply`, `build`, `run`):
//! [`runs_natively`], the table of what the CPU surely runs (qemu-profiles/native/hosts.toml,
//! shared with the NixOS module). It claims no AArch32 on aarch64 (Apple's M1 has none) and is
//! instant, which `apply` at boot and `build` before every build need. The measurement
//! ([`native`]: every probe executed in a private, empty binfmt_misc instance, Linux >= 6.7)
//! is shown by `systems`, as information.

use std::process::Command;
use std::sync::OnceLock;

use anyhow::Result;

use crate::emulator::trial::{self, ProbeDir};
use crate::probe;

/// The table used when measuring is impossible: by the architecture and byte order
/// binfmtctl was built for (`ARCH` alone says "powerpc64" for ppc64 and ppc64le alike).
pub fn table() -> &'static [&'static str] {
    table_for(std::env::consts::ARCH, cfg!(target_endian = "little"))
}

fn table_for(arch: &str, little_endian: bool) -> &'static [&'static str] {
    host_system(arch, little_endian)
        .and_then(|host| {
            crate::model::profile::NATIVE_HOSTS
                .iter()
                .find(|(h, _)| *h == host)
                .map(|(_, systems)| *systems)
        })
        .unwrap_or(&[])
}

/// The Nix system of a host binfmtctl was built for, by Rust's architecture name and byte
/// order: the key of qemu-profiles/native/hosts.toml. (AArch64 big endian runs no
/// aarch64-linux program: none.)
fn host_system(arch: &str, little_endian: bool) -> Option<&'static str> {
    Some(match (arch, little_endian) {
        ("x86_64", true) => "x86_64-linux",
        ("x86", true) => "i686-linux",
        ("aarch64", true) => "aarch64-linux",
        ("arm", true) => "armv7l-linux",
        ("riscv64", true) => "riscv64-linux",
        ("powerpc64", true) => "powerpc64le-linux",
        ("powerpc64", false) => "powerpc64-linux",
        ("powerpc", false) => "powerpc-linux",
        ("s390x", false) => "s390x-linux",
        ("loongarch64", true) => "loongarch64-linux",
        ("mips64", true) => "mips64el-linux",
        ("mips64", false) => "mips64-linux",
        ("mips", true) => "mipsel-linux",
        ("mips", false) => "mips-linux",
        ("sparc64", false) => "sparc64-linux",
        _ => return None,
    })
}

/// The one rule "this entry captures the host's own programs" (pure): an entry whose
/// matcher accepts one of `own` (this host's program headers, [`own_headers`]) would send
/// every native exec through its interpreter, binfmtctl's own included (an exec loop, ELOOP,
/// with a qemu of the host's architecture; nothing runs any more with another). `check`
/// reports such an entry; `enable`, `apply` and `import` refuse to write one.
pub fn captures(matcher: &crate::binfmt::Matcher, own: &[Vec<u8>]) -> bool {
    own.iter().any(|h| matcher.matches_header(h))
}

/// The headers of this host's own programs: binfmtctl's own ELF header, and the same as the
/// other kinds (PIE, non-PIE) of native program. Read once; empty when it cannot be read.
pub fn own_headers() -> &'static [Vec<u8>] {
    static OWN: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    OWN.get_or_init(|| {
        let Ok(own) = std::env::current_exe()
            .and_then(|p| crate::elf::read_file(&p).map_err(std::io::Error::other))
        else {
            return Vec::new();
        };
        let mut headers = crate::model::profile::program_kinds(&own.header);
        headers.push(own.header);
        headers
    })
}

/// Why a registration may not be written, when it captures the host's own programs: for
/// `enable`, `apply` and `import` to say after the entry's name, naming where its magic comes
/// from and the fix.
pub fn capture_refusal(reg: &crate::binfmt::Registration, source: &str) -> Option<String> {
    captures(&reg.matcher, own_headers()).then(|| {
        format!(
            "its magic and mask (from {source}) accept this host's own {} programs, so every exec would go through {} \
             (an exec loop, ELOOP: nothing, binfmtctl included, would run any more); fix the magic and mask in {source} \
             so that they match only the emulated system's programs",
            std::env::consts::ARCH,
            reg.interpreter
        )
    })
}

/// The answer, and how it was obtained.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Native {
    pub systems: Vec<String>,
    /// True when measured with probes; false when taken from the table.
    pub measured: bool,
}

/// Measured once per process (a few milliseconds), else the table.
pub fn native() -> &'static Native {
    static NATIVE: OnceLock<Native> = OnceLock::new();
    NATIVE.get_or_init(|| {
        measure().unwrap_or_else(|_| Native {
            systems: table().iter().map(|s| (*s).to_owned()).collect(),
            measured: false,
        })
    })
}

/// Why `system` is not registered: the host runs it natively ([`runs_natively`], the
/// one verdict); None when it does not.
pub fn refusal(system: &str) -> Option<String> {
    runs_natively(system).then(|| native_reason(system))
}

/// The one native verdict (see the module's documentation): `system` is one this host's CPU
/// surely runs by itself, and registering it is refused.
pub fn runs_natively(system: &str) -> bool {
    table().contains(&system)
}

/// Why a system [`runs_natively`] is not registered, the same words for every command; each
/// adds its own way out.
pub fn native_reason(system: &str) -> String {
    format!(
        "{system} runs natively on this host ({}); registering it would send its programs through the emulator, \
         and with a qemu of the host's own architecture every exec loops (ELOOP)",
        std::env::consts::ARCH
    )
}

/// Measured: the probes that ran in an empty private instance (what `systems` shows).
pub fn is_native(system: &str) -> bool {
    native().systems.iter().any(|s| s == system)
}

/// Write every probe and run the hidden `__native-probe` helper over them.
fn measure() -> Result<Native> {
    let dir = ProbeDir::new()?;
    for system in probe::systems() {
        if let Some(p) = probe::for_system(system) {
            dir.write(&p)?;
        }
    }
    let out = Command::new(std::env::current_exe()?)
        .arg("__native-probe")
        .arg(dir.path())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let systems = String::from_utf8(out.stdout)?
        .lines()
        .map(str::to_owned)
        .collect();
    Ok(Native {
        systems,
        measured: true,
    })
}

/// The body of `__native-probe DIR`: in a private, empty binfmt_misc instance, print the
/// system of every probe in DIR that runs.
pub fn probe_in_private_instance(dir: &std::path::Path) -> Result<Vec<&'static str>> {
    crate::sys::namespace::enter_as_root()?;
    crate::binfmt::Registry::mount_private()?;
    let probes: Vec<_> = probe::systems()
        .iter()
        .filter_map(|s| probe::for_system(s))
        .collect();
    Ok(trial::exec_each(&probes, dir)
        .into_iter()
        .zip(&probes)
        .filter(|(outcome, _)| outcome.ran())
        .map(|(_, p)| p.system)
        .collect())
}

#[cfg(test)]
mod tests {
    /// The one capture rule, as enable/apply/import (refuse) and check (report) use it.
    #[test]
    fn entries_accepting_the_hosts_own_headers_capture_it_and_emulated_ones_do_not() {
        use crate::binfmt::{Bytes, Matcher};
        let own = super::own_headers();
        assert!(own.len() >= 2, "binfmtctl's own header, as PIE and non-PIE");
        let m = |magic: &[u8], mask: &[u8]| Matcher::Magic {
            offset: 0,
            magic: Bytes(magic.to_vec()),
            mask: Some(Bytes(mask.to_vec())),
        };
        assert!(super::captures(&m(b"\x7fELF", &[0xff; 4]), own));
        assert!(super::captures(&m(&[0], &[0]), own));
        assert!(super::captures(&m(&own[0][..20], &[0xff; 20]), own));
        assert!(!super::captures(&Matcher::Extension("exe".into()), own));
        let profiles = crate::model::profile::Profiles::builtin().unwrap();
        for p in profiles.all() {
            if !super::table().contains(&&*p.system) {
                assert!(!super::captures(&p.matcher(), own), "{}", p.system);
            }
        }
    }

    #[test]
    fn the_table_follows_byte_order_not_only_the_architecture_name() {
        use super::table_for;
        assert_eq!(table_for("powerpc64", true), ["powerpc64le-linux"]);
        assert_eq!(table_for("powerpc64", false), ["powerpc64-linux"]);
        assert_eq!(table_for("mips64", true), ["mips64el-linux"]);
        assert_eq!(table_for("mips64", false), ["mips64-linux"]);
        assert!(
            table_for("aarch64", false).is_empty(),
            "aarch64_be runs no aarch64-linux program"
        );
        assert_eq!(table_for("aarch64", true), ["aarch64-linux"]);
        assert_eq!(table_for("x86_64", true)[0], "x86_64-linux");
        assert_eq!(table_for("arm", true), ["armv7l-linux", "armv6l-linux"]);
        assert!(table_for("x86_64", true).contains(&"i686-linux"));
        // Every system the data file lists is a known profile.
        let profiles = crate::model::profile::Profiles::builtin().unwrap();
        for (host, systems) in crate::model::profile::NATIVE_HOSTS {
            assert!(systems.iter().all(|s| profiles.lookup(s).is_ok()), "{host}");
        }
    }
}
