//! `binfmtctl tonistiigi`: tonistiigi/binfmt's command line, so that the image built from
//! `Containerfile` stands in for it (docker/setup-qemu-action's `image:`, `docker run
//! --privileged IMAGE --install arm64`, a Kubernetes DaemonSet). Thin: it translates its
//! arguments into `disable` and `enable` requests and renders `status` as tonistiigi's JSON;
//! every rule (which systems, which flags, whose entries) stays theirs.
//!
//! What tonistiigi's `main.go` does, and so this: `--uninstall` first, then `--install`, then
//! always the JSON status on stdout. Entries are named `qemu-<cpu>` as tonistiigi and Debian
//! name them, so `--uninstall 'qemu-*'` finds them in a later container.

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::cli::{DisableArgs, TonistiigiArgs};
use crate::model::profile::{Profile, Profiles};
use crate::service::enable;
use crate::{emulator::native, exit_codes, report};

/// The entry names tonistiigi/binfmt and Debian give (an `enable --name` template).
const NAMES: &str = "qemu-{cpu}";

pub fn run(ctx: &Ctx, args: &TonistiigiArgs) -> Result<ExitCode> {
    let mut code = exit_codes::success();
    if let Some(list) = &args.uninstall {
        // `disable`'s own account of what it removed, as `binfmtctl disable` prints it.
        let removed = crate::service::disable::run(ctx, &uninstall_request(&ctx.profiles, list))?;
        report::print(&removed.text(&ctx.registry))?;
    }
    if let Some(list) = &args.install {
        if let Some(request) = install_request(&ctx.profiles, list, &native::is_native)? {
            let enabled = enable::enable(ctx, &request)?;
            crate::render::enable::show(&ctx.registry, &enabled, false)?;
            if enabled.found_wanting() {
                code = worst(code, exit_codes::wanting());
            }
        }
    }
    report::print_json(&crate::service::status::platforms(ctx)?)?;
    Ok(code)
}

/// `enable` gives 1 when a registered system's programs do not run; keep it.
fn worst(a: ExitCode, b: ExitCode) -> ExitCode {
    if a == exit_codes::success() {
        b
    } else {
        a
    }
}

/// A system by tonistiigi's name: a Docker architecture (`arm64`, `386`) or an OCI platform
/// (`linux/arm/v7`), as well as binfmtctl's own names and aliases.
fn lookup<'p>(profiles: &'p Profiles, name: &str) -> Result<&'p Profile> {
    profiles
        .lookup(name)
        .or_else(|e| profiles.lookup(&format!("linux/{name}")).map_err(|_| e))
        .map_err(Into::into)
}

/// `--install LIST|all` as an `enable` request (runtime only: a container has no boot to
/// restore at), or None when every system named runs natively (said, as tonistiigi's `all`
/// skips them). Systems the host runs natively are left out with a note rather than refused.
fn install_request(
    profiles: &Profiles,
    list: &str,
    is_native: &dyn Fn(&str) -> bool,
) -> Result<Option<enable::Request>> {
    let names: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let all = names.iter().any(|n| n.eq_ignore_ascii_case("all"));
    let mut systems: Vec<String> = Vec::new();
    if !all {
        for name in &names {
            let p = lookup(profiles, name)?;
            if is_native(&p.system) {
                report::note(&format!(
                    "{name} ({}) runs natively on this host: nothing to install for it",
                    p.system
                ));
            } else if !systems.iter().any(|s| *s == *p.system) {
                systems.push(p.system.to_string());
            }
        }
        if systems.is_empty() {
            return Ok(None);
        }
    }
    Ok(Some(enable::Request {
        systems,
        all,
        name: Some(NAMES.to_owned()),
        runtime: true,
        ..enable::Request::default()
    }))
}

/// `--uninstall LIST|GLOB` as a `disable --name` request: a system's name stands for the
/// entry `--install` gives it (`arm64` for qemu-aarch64), anything else is an entry name or a
/// glob over them, whoever made the entry (as tonistiigi does).
fn uninstall_request(profiles: &Profiles, list: &str) -> DisableArgs {
    let name = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match lookup(profiles, item) {
            Ok(p) if !crate::model::glob::is_pattern(item) => enable::entry_name(Some(NAMES), p),
            _ => item.to_owned(),
        })
        .collect();
    DisableArgs {
        systems: Vec::new(),
        all: false,
        name,
        runtime: true,
        nix: false,
        dry_run: false,
        json: false,
    }
}

#[cfg(test)]
mod tests {
    use super::{install_request, uninstall_request};
    use crate::model::profile::Profiles;

    fn profiles() -> Profiles {
        Profiles::builtin().unwrap()
    }

    #[test]
    fn install_takes_docker_names_and_all_and_skips_native_systems() {
        let p = profiles();
        let native = |s: &str| s == "x86_64-linux" || s == "i686-linux";
        let r = install_request(&p, "riscv64,arm64,386,amd64,linux/arm/v7, arm64", &native)
            .unwrap()
            .unwrap();
        assert_eq!(
            r.systems,
            ["riscv64-linux", "aarch64-linux", "armv7l-linux"]
        );
        assert!(!r.all && r.runtime && r.name.as_deref() == Some("qemu-{cpu}"));
        let all = install_request(&p, "all", &native).unwrap().unwrap();
        assert!(all.all && all.systems.is_empty());
        assert!(install_request(&p, "amd64", &native).unwrap().is_none());
        let err = install_request(&p, "arm65", &native)
            .unwrap_err()
            .to_string();
        assert!(err.contains("arm65"), "{err}");
    }

    #[test]
    fn uninstall_takes_systems_names_and_globs() {
        let r = uninstall_request(&profiles(), "arm64,qemu-*,riscv64,qemu-mips?l,other");
        assert_eq!(
            r.name,
            [
                "qemu-aarch64",
                "qemu-*",
                "qemu-riscv64",
                "qemu-mips?l",
                "other"
            ]
        );
        assert!(r.runtime && r.systems.is_empty() && !r.all);
    }
}
