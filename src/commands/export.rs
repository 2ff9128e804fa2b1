//! `binfmtctl export`: the configured registrations in binfmt.d, NixOS or Debian format.

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::binfmt::{Matcher, Registration};
use crate::cli::{ExportArgs, ExportFormat};
use crate::{exit_codes, report};

pub fn run(ctx: &Ctx, args: &ExportArgs) -> Result<ExitCode> {
    let config = ctx.config()?;
    let regs: Vec<Registration> = config
        .systems
        .iter()
        .map(|r| ctx.desired(r))
        .collect::<Result<_>>()?;
    let text = match args.format {
        ExportFormat::BinfmtD => binfmt_d(&regs),
        ExportFormat::Nixos => nixos(&regs),
        ExportFormat::Debian => {
            // update-binfmts has no field for O: say so rather than drop it unseen.
            // (C implies O there: `credentials yes` brings it back.)
            for r in regs
                .iter()
                .filter(|r| r.flags.open_binary && !r.flags.credentials)
            {
                report::warn(&format!(
                    "{}: the update-binfmts format has no field for flag O (open-binary); it is left out",
                    r.name
                ));
            }
            debian(&regs)
        }
    };
    report::print(&text)?;
    Ok(exit_codes::success())
}

/// binfmt.d lines, as systemd-binfmt reads them.
pub fn binfmt_d(regs: &[Registration]) -> String {
    let mut out = String::from("# binfmt.d lines exported by binfmtctl\n");
    for r in regs {
        out += &format!("{r}\n");
    }
    out
}

/// A NixOS `boot.binfmt.registrations` attribute set. Magic and mask go in indented strings
/// (`''...''`), where backslashes are literal, as nixpkgs writes them.
pub fn nixos(regs: &[Registration]) -> String {
    let mut out = String::from(
        "# NixOS configuration exported by binfmtctl\n{\n  boot.binfmt.registrations = {\n",
    );
    for r in regs {
        out += &format!("    \"{}\" = {{\n", r.name);
        match &r.matcher {
            Matcher::Magic {
                offset,
                magic,
                mask,
            } => {
                out += "      recognitionType = \"magic\";\n";
                out += &format!("      offset = {offset};\n");
                out += &format!("      magicOrExtension = ''{magic}'';\n");
                out += &format!(
                    "      mask = ''{}'';\n",
                    mask.as_ref().map(ToString::to_string).unwrap_or_default()
                );
            }
            Matcher::Extension(ext) => {
                out += "      recognitionType = \"extension\";\n";
                out += &format!("      magicOrExtension = \"{ext}\";\n");
            }
        }
        out += &format!("      interpreter = \"{}\";\n", r.interpreter);
        out += "      wrapInterpreterInShell = false;\n";
        let f = r.flags;
        for (name, on) in [
            ("preserveArgvZero", f.preserve_argv0),
            ("openBinary", f.open_binary),
            ("matchCredentials", f.credentials),
            ("fixBinary", f.fix_binary),
        ] {
            out += &format!("      {name} = {on};\n");
        }
        out += "    };\n";
    }
    out += "  };\n}\n";
    out
}

/// update-binfmts format files, one per registration, each preceded by a comment naming the
/// file it belongs in.
pub fn debian(regs: &[Registration]) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut out = String::new();
    for r in regs {
        out += &format!(
            "# /usr/share/binfmts/{}\npackage binfmtctl\ninterpreter {}\n",
            r.name, r.interpreter
        );
        match &r.matcher {
            Matcher::Magic {
                offset,
                magic,
                mask,
            } => {
                out += &format!("magic {magic}\noffset {offset}\n");
                if let Some(mask) = mask {
                    out += &format!("mask {mask}\n");
                }
            }
            Matcher::Extension(ext) => out += &format!("extension {ext}\n"),
        }
        let f = r.flags;
        out += &format!(
            "credentials {}\npreserve {}\nfix_binary {}\n\n",
            yes_no(f.credentials),
            yes_no(f.preserve_argv0),
            yes_no(f.fix_binary)
        );
    }
    out
}
