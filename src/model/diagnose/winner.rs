//! What is wrong with the entry the kernel uses for a system, and with its interpreter file,
//! beyond whether the probe ran: replaced or deleted since registration, dynamically linked,
//! writable by others than root, flag C.

use super::Problem;
use crate::binfmt::Entry;
use crate::model::profile::Profile;
use crate::trust::Untrusted;

/// What is known about the winning entry's interpreter file.
pub struct InterpreterFacts {
    /// The file exists.
    pub exists: bool,
    /// It is not the file binfmtctl registered (the identity the state recorded differs).
    pub replaced: bool,
    /// It is a dynamically linked ELF file.
    pub dynamic: bool,
    /// Why users other than root can change it, when they can.
    pub untrusted: Option<Untrusted>,
}

/// Warnings (and the deleted interpreter's error) about the winning entry `w` of `profile`'s
/// system and its interpreter.
pub fn winner_problems(w: &Entry, profile: &Profile, f: &InterpreterFacts) -> Vec<Problem> {
    let system = &*profile.system;
    let mut out = Vec::new();
    let reenable = format!("binfmtctl enable {system} --force");
    if f.exists {
        if w.flags.fix_binary && f.replaced {
            out.push(Problem::warning(
                format!("{} was replaced since entry {} was registered: the kernel still runs the old file (flag F)", w.interpreter, w.name),
                "binfmtctl apply (re-registers it)".into(),
            ));
        }
        if f.dynamic {
            out.push(match profile.cpu {
                Some(_) => Problem::warning(
                    format!("{} is dynamically linked: the emulated programs' LD_* variables reach the host qemu, and chroots cannot load it", w.interpreter),
                    format!("install qemu-user-static, then {reenable}"),
                ),
                // Not qemu (wasmtime, wine): no qemu advice.
                None => Problem::warning(
                    format!("{} is dynamically linked: chroots (containers, the Nix sandbox) cannot load it", w.interpreter),
                    format!("where {system} programs must run there, register a statically linked {} with F: {reenable} --interpreter PATH", profile.interpreters.join(" or ")),
                ),
            });
        }
        if let Some(bad) = &f.untrusted {
            out.push(Problem::warning(
                format!("{} can be changed by users other than root ({bad}): they could run code in every emulated program", w.interpreter),
                format!("chown root:root {0} && chmod go-w {0}", bad.path.display()),
            ));
        }
    } else {
        // With F the kernel keeps running the deleted file; without F every exec fails
        // (reported by `diagnose`). Either way the registration no longer stands for what is
        // installed.
        let kept = if w.flags.fix_binary {
            " (flag F keeps the old file running until the entry is registered again)"
        } else {
            ""
        };
        out.push(Problem::error(
            format!(
                "the interpreter {} of entry {} was deleted{kept}",
                w.interpreter, w.name
            ),
            format!("reinstall the emulator, or register the one installed now: {reenable}"),
        ));
    }
    if w.flags.credentials {
        out.push(Problem::warning(
            format!("entry {} has flag C: setuid {system} programs run with raised privileges inside qemu-user, which is no security boundary", w.name),
            format!("re-register without it: {reenable}"),
        ));
    }
    out
}
