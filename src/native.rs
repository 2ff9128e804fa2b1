//! Which systems this host runs without emulation.
//!
//! Registering such a system makes every native exec recurse into qemu (ELOOP, nixpkgs
//! #218465), so `enable` refuses it. This table is the fallback; `binfmtctl check` measures.

/// The systems the host CPU runs natively, by the architecture this binary was built for.
pub fn native_systems() -> &'static [&'static str] {
    match std::env::consts::ARCH {
        "x86_64" => &[
            "x86_64-linux",
            "i386-linux",
            "i486-linux",
            "i586-linux",
            "i686-linux",
        ],
        "x86" => &["i386-linux", "i486-linux", "i586-linux", "i686-linux"],
        // AArch32 is optional on ARMv8 (Apple M1 and many servers lack it): not assumed.
        "aarch64" => &["aarch64-linux"],
        "arm" => &["armv7l-linux", "armv6l-linux"],
        "riscv64" => &["riscv64-linux"],
        "powerpc64" => &["powerpc64-linux"],
        "s390x" => &["s390x-linux"],
        "loongarch64" => &["loongarch64-linux"],
        "mips64" => &["mips64el-linux"],
        _ => &[],
    }
}

pub fn is_native(system: &str) -> bool {
    native_systems().contains(&system)
}
