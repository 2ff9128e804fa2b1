//! `enable`'s request as registrations: the systems asked for (or all with an installed
//! interpreter), each named (--name, a template over several), with its interpreter found or
//! given and vetted (trusted, static or not), refused when the host runs it natively, when it
//! would capture the host's own programs, or when two would get one name.

use std::path::Path;

use anyhow::{bail, Context as _, Result};

use super::{Request, Wanted};
use crate::binfmt::{EntryName, Flags, Registration};
use crate::emulator::interpreter::{self, Interpreter};
use crate::emulator::native;
use crate::model::profile::Profile;
use crate::report;
use crate::service::admit::{self, Refusal};
use crate::service::Ctx;

/// The systems asked for: `Some(names)`, or None for every one (`all`, `--all`).
fn asked(req: &Request) -> Result<Option<&[String]>> {
    let keyword = req.systems.iter().any(|s| s.eq_ignore_ascii_case("all"));
    if keyword && req.systems.len() > 1 {
        bail!(
            "`all` stands for every system with an installed interpreter; give either all or a list of systems ({}), not both",
            req.systems.join(",")
        );
    }
    if keyword && req.interpreter.is_some() {
        bail!("--interpreter applies to one system, not to all; enable the systems one at a time");
    }
    Ok((!(keyword || req.all)).then_some(&req.systems[..]))
}

/// Whether --name is a template ({cpu}, {system}) that names each of several systems.
fn is_template(name: &str) -> bool {
    name.contains("{cpu}") || name.contains("{system}")
}

/// The entry name of a system: --name, its placeholders filled in, else the system's name.
pub fn entry_name(name: Option<&str>, profile: &Profile) -> String {
    name.map_or_else(
        || profile.system.to_string(),
        |t| {
            t.replace("{cpu}", profile.cpu.as_deref().unwrap_or(&profile.system))
                .replace("{system}", &profile.system)
        },
    )
}

/// --name without a placeholder, and --interpreter, name one system's entry and emulator.
fn one_system_options(req: &Request, asked: Option<&[String]>) -> Result<()> {
    let several = asked.is_none_or(|s| s.len() > 1);
    if several && req.name.as_deref().is_some_and(|n| !is_template(n)) {
        bail!(
            "--name {} applies to one system; for several, make it a template ({{cpu}} or {{system}} stand for each \
             system: --name 'qemu-{{cpu}}'), or enable the systems one at a time",
            req.name.as_deref().unwrap_or_default()
        );
    }
    if several && req.interpreter.is_some() {
        bail!("--interpreter applies to one system; enable the systems one at a time");
    }
    Ok(())
}

/// The request's systems as registrations: those named (each once), or for `all` every
/// system with an installed interpreter the host does not run natively.
pub(super) fn resolve<'a>(ctx: &'a Ctx, req: &Request) -> Result<Vec<Wanted<'a>>> {
    let asked = asked(req)?;
    one_system_options(req, asked)?;
    match asked {
        Some(names) => named(ctx, req, names),
        None => every(ctx, req),
    }
}

/// `all`: every system with an installed interpreter that the host does not run natively.
fn every<'a>(ctx: &'a Ctx, req: &Request) -> Result<Vec<Wanted<'a>>> {
    let native: Vec<&str> = native::native()
        .systems
        .iter()
        .map(String::as_str)
        .collect();
    let found = interpreter::installed_for_foreign(&ctx.profiles, &native);
    if found.is_empty() {
        bail!(
            "no emulator is installed for any system this host does not run natively; install a static qemu-user \
             ({}), then binfmtctl enable all",
            crate::report::texts::INSTALL_QEMU
        );
    }
    let mut out: Vec<Wanted<'a>> = Vec::new();
    for (profile, interpreter) in found {
        add_or_share(&mut out, want(req, profile, interpreter)?);
    }
    unique_names(out)
}

/// The systems named, each once; one the host runs natively only with --force.
fn named<'a>(ctx: &'a Ctx, req: &Request, names: &[String]) -> Result<Vec<Wanted<'a>>> {
    let mut out: Vec<Wanted<'a>> = Vec::new();
    for name in names {
        let profile = ctx.profiles.lookup(name)?;
        if out.iter().any(|w| w.profile.system == profile.system) {
            continue;
        }
        if let Some(why) = crate::emulator::native::refusal(&profile.system).filter(|_| !req.force)
        {
            bail!("{why}. Use --force if you really mean it");
        }
        let interpreter = match &req.interpreter {
            Some(path) => Interpreter::at(path).map_err(anyhow::Error::msg)?,
            None => interpreter::find_or_explain(profile, true)?,
        };
        out.push(want(req, profile, interpreter)?);
    }
    unique_names(out)
}

/// One entry where two systems share magic, mask, interpreter and flags (armv6l and armv7l):
/// a second would only shadow the first. Both names are recorded with it.
fn add_or_share<'a>(out: &mut Vec<Wanted<'a>>, w: Wanted<'a>) {
    match out.iter_mut().find(|o| {
        o.reg.matcher == w.reg.matcher
            && o.reg.interpreter == w.reg.interpreter
            && o.reg.flags == w.reg.flags
    }) {
        Some(first) => first.also.push(w.profile),
        None => out.push(w),
    }
}

/// Two systems may not get one entry name (a --name template without {cpu} or {system}
/// differences: armv6l and armv7l are both qemu-{cpu} = qemu-arm).
fn unique_names(wanted: Vec<Wanted>) -> Result<Vec<Wanted>> {
    for (i, w) in wanted.iter().enumerate() {
        if let Some(other) = wanted[..i].iter().find(|o| o.reg.name == w.reg.name) {
            bail!(
                "{} and {} would both get the entry name {}; enable them one at a time with different --name",
                other.profile.system,
                w.profile.system,
                w.reg.name
            );
        }
    }
    Ok(wanted)
}

/// The registration of one system with its interpreter, vetted as every registration is;
/// what the interpreter's kind and flag C mean is said.
fn want<'a>(req: &Request, profile: &'a Profile, interpreter: Interpreter) -> Result<Wanted<'a>> {
    let interp_text = interpreter
        .path
        .to_str()
        .with_context(|| {
            format!(
                "interpreter path {} is not UTF-8",
                interpreter.path.display()
            )
        })?
        .to_owned();
    let forced = vet_interpreter(&interpreter.path, req.force)?;
    if !interpreter.is_static {
        report::warn(&format!(
            "{} is dynamically linked: registering without F, so chroots, containers and the Nix sandbox will not find it, \
             and emulated programs' LD_* variables act on the host qemu; install a static qemu ({})",
            interpreter.path.display(),
            interpreter::install_hint(profile)
        ));
    }
    if req.credentials {
        report::warn(&admit::credentials_warning(&[]));
    }
    let reg = registration(req, profile, interp_text, interpreter.is_static)?;
    Ok(Wanted {
        profile,
        interpreter,
        reg,
        forced,
        also: Vec::new(),
    })
}

/// The registration of `profile` with the interpreter at `interp` (pure): the request's name
/// and flags over the profile's, refused when it is no valid line, captures the host's own
/// programs, or has an interpreter text the config could not load.
fn registration(
    req: &Request,
    profile: &Profile,
    interp: String,
    is_static: bool,
) -> Result<Registration> {
    let flags = Flags {
        open_binary: req.open_binary,
        credentials: req.credentials,
        ..profile.flags(is_static)
    };
    let name: EntryName = entry_name(req.name.as_deref(), profile)
        .parse()
        .context("--name")?;
    let reg = profile.registration(name, interp, flags);
    reg.validate()
        .with_context(|| format!("cannot register {}", profile.system))?;
    admit::vet(&reg, &profile.source, true).map_err(|refusal| match refusal {
        Refusal::Captures(why) => anyhow::anyhow!("refusing to register {}: {why}", reg.name),
        Refusal::Interpreter(why) => anyhow::anyhow!(
            "cannot register {}: interpreter {:?} {why}",
            profile.system,
            reg.interpreter
        ),
    })?;
    Ok(reg)
}

/// Refuse, in the host's table, an interpreter that users other than root could change
/// (SECURITY.md): whoever can replace it runs code in every emulated program, root's
/// included. With --force it is registered with a warning, and true is returned so the config
/// records the decision for `apply`. In a user namespace's private instance it is only a
/// warning: the entry reaches that namespace's processes alone.
fn vet_interpreter(path: &Path, force: bool) -> Result<bool> {
    let Some(why) = interpreter::untrusted(path) else {
        return Ok(false);
    };
    let shown = path.display();
    if !interpreter::host_namespace() {
        report::warn(&format!(
            "interpreter {shown}: {why}; accepted because this binfmt_misc instance belongs to a user namespace \
             (the host's table would refuse it without --force)"
        ));
        return Ok(false);
    }
    if !force {
        bail!(
            "refusing the interpreter {shown}: {why}, so users other than root could replace what every emulated program runs; \
             make it root's and not writable by others (chown root:root {p} && chmod go-w {p}) or pass --force",
            p = why.path.display()
        );
    }
    report::warn(&format!(
        "registering {shown} although {why} (--force): users other than root can replace what every emulated program runs"
    ));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::super::{Request, Wanted};
    use super::{
        add_or_share, asked, entry_name, is_template, one_system_options, registration,
        unique_names,
    };
    use crate::cli::{Cli, Command};
    use crate::emulator::interpreter::Interpreter;
    use crate::model::profile::{Profile, Profiles};

    fn args(words: &[&str]) -> Request {
        let argv = std::iter::once("binfmtctl")
            .chain(std::iter::once("enable"))
            .chain(words.iter().copied());
        match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Command::Enable(a)) => Request::from(&a),
            other => panic!("{words:?}: {other:?}"),
        }
    }

    #[test]
    fn all_as_a_word_or_an_option_asks_for_every_system_and_never_beside_names() {
        assert_eq!(asked(&args(&["all"])).unwrap(), None);
        assert_eq!(asked(&args(&["ALL"])).unwrap(), None);
        assert_eq!(asked(&args(&["--all"])).unwrap(), None);
        assert_eq!(
            asked(&args(&["riscv64,arm64"])).unwrap(),
            Some(&["riscv64".to_owned(), "arm64".to_owned()][..])
        );
        let err = asked(&args(&["all,riscv64"])).unwrap_err().to_string();
        assert_eq!(
            err,
            "`all` stands for every system with an installed interpreter; give either all or a list of systems \
             (all,riscv64), not both"
        );
        assert!(asked(&args(&["all", "--interpreter", "/q"])).is_err());
    }

    #[test]
    fn a_name_template_names_each_system_by_its_cpu_or_system() {
        let profiles = Profiles::builtin().unwrap();
        let p = |s: &str| profiles.lookup(s).unwrap();
        for (name, system, want) in [
            (None, "arm64", "aarch64-linux"),
            (Some("qemu-{cpu}"), "arm64", "qemu-aarch64"),
            (Some("qemu-{cpu}"), "armv7l-linux", "qemu-arm"),
            (Some("qemu-{cpu}"), "armv6l-linux", "qemu-arm"),
            (Some("ci-{system}"), "riscv64", "ci-riscv64-linux"),
            (Some("fixed"), "riscv64", "fixed"),
            // No qemu cpu (wasm): the system's name stands in.
            (Some("x-{cpu}"), "wasm32-wasi", "x-wasm32-wasi"),
        ] {
            assert_eq!(entry_name(name, p(system)), want, "{name:?} {system}");
        }
        assert!(is_template("qemu-{cpu}") && is_template("{system}-x"));
        assert!(!is_template("qemu-arm") && !is_template("{arch}"));
    }

    #[test]
    fn a_plain_name_and_an_interpreter_name_one_system_only() {
        let several_names = "--name x applies to one system; for several, make it a template ({cpu} or {system} stand \
                             for each system: --name 'qemu-{cpu}'), or enable the systems one at a time";
        let several_interpreters =
            "--interpreter applies to one system; enable the systems one at a time";
        for (words, want) in [
            (&["riscv64"][..], None),
            (&["riscv64", "--name", "x"][..], None),
            (&["riscv64", "--interpreter", "/q"][..], None),
            (&["riscv64,arm64"][..], None),
            (&["riscv64,arm64", "--name", "qemu-{cpu}"][..], None),
            (&["--all", "--name", "{system}-x"][..], None),
            (&["riscv64,arm64", "--name", "x"][..], Some(several_names)),
            (&["--all", "--name", "x"][..], Some(several_names)),
            (
                &["riscv64,arm64", "--interpreter", "/q"][..],
                Some(several_interpreters),
            ),
        ] {
            let req = args(words);
            let got = one_system_options(&req, asked(&req).unwrap()).map_err(|e| e.to_string());
            assert_eq!(got.err().as_deref(), want, "{words:?}");
        }
    }

    /// A system the host runs on no supported machine: never refused as native.
    const FOREIGN: &str = "sh4-linux";

    #[test]
    fn a_registration_takes_the_request_s_name_and_flags_over_the_profile_s() {
        let profiles = Profiles::builtin().unwrap();
        let p = profiles.lookup(FOREIGN).unwrap();
        let qemu = "/usr/bin/qemu-sh4";
        for (words, is_static, name, flags) in [
            (&[][..], true, FOREIGN, p.flags(true)),
            (&[][..], false, FOREIGN, p.flags(false)),
            (
                &["--name", "qemu-{cpu}"][..],
                true,
                "qemu-sh4",
                p.flags(true),
            ),
            (
                &["--open-binary"][..],
                true,
                FOREIGN,
                crate::binfmt::Flags {
                    open_binary: true,
                    ..p.flags(true)
                },
            ),
            (
                &["--credentials"][..],
                false,
                FOREIGN,
                crate::binfmt::Flags {
                    credentials: true,
                    ..p.flags(false)
                },
            ),
        ] {
            let req = args(&[&[FOREIGN][..], words].concat());
            let reg = registration(&req, p, qemu.to_owned(), is_static).unwrap();
            assert_eq!(reg.name.as_str(), name, "{words:?}");
            assert_eq!(reg.flags, flags, "{words:?}");
            assert_eq!(reg.interpreter, qemu);
            assert_eq!(
                reg.matcher,
                p.registration(reg.name.clone(), qemu.into(), flags).matcher
            );
        }
    }

    #[test]
    fn a_registration_with_a_bad_name_or_interpreter_is_refused() {
        let profiles = Profiles::builtin().unwrap();
        let p = profiles.lookup(FOREIGN).unwrap();
        let err = |words: &[&str], interp: &str| {
            let req = args(&[&[FOREIGN][..], words].concat());
            format!(
                "{:#}",
                registration(&req, p, interp.to_owned(), true).unwrap_err()
            )
        };
        assert!(
            err(&["--name", "a/b"], "/q").starts_with("--name: "),
            "{}",
            err(&["--name", "a/b"], "/q")
        );
        for (interp, want) in [
            // The line's own validation.
            (
                "relative/qemu",
                format!("cannot register {FOREIGN}: the interpreter path \"relative/qemu\" must be absolute"),
            ),
            // The text the config could not load again.
            (
                "/usr/bin/qemu\tx",
                format!("cannot register {FOREIGN}: interpreter \"/usr/bin/qemu\\tx\" contains '\\t'"),
            ),
        ] {
            let got = err(&[], interp);
            assert!(got.starts_with(&want), "{got}");
        }
    }

    fn wanted<'a>(req: &Request, p: &'a Profile, interp: &str) -> Wanted<'a> {
        let reg = registration(req, p, interp.to_owned(), true).unwrap();
        Wanted {
            profile: p,
            interpreter: Interpreter {
                path: interp.into(),
                is_static: true,
            },
            reg,
            forced: false,
            also: Vec::new(),
        }
    }

    #[test]
    fn systems_with_the_same_magic_interpreter_and_flags_share_one_entry() {
        let profiles = Profiles::builtin().unwrap();
        let p = |s: &str| profiles.lookup(s).unwrap();
        let req = args(&["--all"]);
        let mut out = Vec::new();
        for (system, interp) in [
            ("armv6l-linux", "/usr/bin/qemu-arm"),
            ("armv7l-linux", "/usr/bin/qemu-arm"),
            ("riscv64-linux", "/usr/bin/qemu-riscv64"),
            // Another interpreter: an entry of its own.
            ("armv7l-linux", "/opt/qemu-arm"),
        ] {
            add_or_share(&mut out, wanted(&req, p(system), interp));
        }
        let got: Vec<(&str, Vec<&str>)> = out
            .iter()
            .map(|w| {
                (
                    &*w.profile.system,
                    w.also.iter().map(|a| &*a.system).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("armv6l-linux", vec!["armv7l-linux"]),
                ("riscv64-linux", vec![]),
                ("armv7l-linux", vec![]),
            ]
        );
        // Each under its own system's name.
        assert_eq!(unique_names(out).unwrap().len(), 3);
    }

    #[test]
    fn a_template_that_names_two_systems_alike_is_refused() {
        let profiles = Profiles::builtin().unwrap();
        let p = |s: &str| profiles.lookup(s).unwrap();
        let req = args(&["armv6l,armv7l", "--name", "qemu-{cpu}"]);
        let two = vec![
            wanted(&req, p("armv6l-linux"), "/usr/bin/qemu-arm"),
            wanted(&req, p("armv7l-linux"), "/opt/qemu-arm"),
        ];
        let err = unique_names(two).err().expect("a clash").to_string();
        assert_eq!(
            err,
            "armv6l-linux and armv7l-linux would both get the entry name qemu-arm; enable them one at a time with \
             different --name"
        );
        let req = args(&["armv6l,riscv64", "--name", "qemu-{cpu}"]);
        let two = vec![
            wanted(&req, p("armv6l-linux"), "/usr/bin/qemu-arm"),
            wanted(&req, p("riscv64-linux"), "/usr/bin/qemu-riscv64"),
        ];
        assert_eq!(unique_names(two).unwrap().len(), 2);
    }
}
