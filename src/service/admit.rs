//! What a registration must be before binfmtctl writes or records it, the rules `enable` and
//! `import` share, each said once (the native refusal is `emulator::native::refusal`): the vetting of a registration (it may
//! not capture the host's own programs; its interpreter's text must load again), the flag C
//! warning, and the config record a registration becomes. Each command words a refusal its
//! own way (`enable` names the system, `import` the file and line).

use crate::binfmt::Registration;
use crate::emulator::native;
use crate::report::texts::CREDENTIALS_WARNING;
use crate::store::config::{FlagsText, SystemConfig};

/// Why a registration is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its magic and mask accept the host's own programs ([`native::capture_refusal`]).
    Captures(String),
    /// Its interpreter's text is not one the kernel and the config take
    /// ([`crate::binfmt::line::check_interpreter_text`]).
    Interpreter(String),
}

/// Whether `reg` may be written or recorded. An entry that captures the host's own programs
/// is refused whenever it would be `written` (never, not even with --force: the machine could
/// run nothing afterwards; `source` names where its magic comes from); its interpreter's text
/// is checked always.
pub fn vet(reg: &Registration, source: &str, written: bool) -> Result<(), Refusal> {
    if let Some(why) = native::capture_refusal(reg, source).filter(|_| written) {
        return Err(Refusal::Captures(why));
    }
    crate::binfmt::line::check_interpreter_text(&reg.interpreter).map_err(Refusal::Interpreter)
}

/// What flag C gives away, said whenever it is registered or recorded; `entries` names the
/// entries recorded with it when there are several at once (`import`).
pub fn credentials_warning(entries: &[&str]) -> String {
    if entries.is_empty() {
        CREDENTIALS_WARNING.to_owned()
    } else {
        format!(
            "{CREDENTIALS_WARNING} (importing {} with flag C)",
            entries.join(", ")
        )
    }
}

/// The config record of a registration for `system` (and `also`, the other systems the same
/// entry serves). Flag C is recorded as accepted: both callers refuse it unless asked for.
pub fn record(system: &str, reg: &Registration, also: Vec<String>) -> SystemConfig {
    SystemConfig {
        system: system.to_owned(),
        name: reg.name.clone(),
        interpreter: reg.interpreter.clone(),
        flags: FlagsText(reg.flags),
        credentials: reg.flags.credentials,
        also,
    }
}

#[cfg(test)]
mod tests {
    use super::{credentials_warning, record, vet, Refusal};
    use crate::binfmt::{Flags, Registration};
    use crate::emulator::native::refusal as native_refusal;
    use crate::model::profile::Profiles;

    fn reg(system: &str, interpreter: &str, credentials: bool) -> Registration {
        let profiles = Profiles::builtin().unwrap();
        let flags = Flags {
            credentials,
            ..Flags::default()
        };
        profiles.lookup(system).unwrap().registration(
            system.parse().unwrap(),
            interpreter.to_owned(),
            flags,
        )
    }

    /// The profile of the host's own system: its magic accepts binfmtctl's own programs.
    fn host_system() -> Option<&'static str> {
        match std::env::consts::ARCH {
            "x86_64" => Some("x86_64-linux"),
            "aarch64" => Some("aarch64-linux"),
            "riscv64" => Some("riscv64-linux"),
            _ => None,
        }
    }

    #[test]
    fn only_a_system_the_host_runs_natively_is_refused_as_native() {
        if let Some(host) = host_system() {
            let why = native_refusal(host).expect("the host's own system");
            assert!(why.starts_with(&format!("{host} runs natively")), "{why}");
        }
        for foreign in ["s390x-linux", "sh4-linux", "wasm32-wasi"] {
            if host_system() != Some(foreign) {
                assert_eq!(native_refusal(foreign), None, "{foreign}");
            }
        }
    }

    #[test]
    fn vetting_refuses_a_capturing_entry_only_when_written_and_a_bad_interpreter_always() {
        let foreign = if host_system() == Some("s390x-linux") {
            "riscv64-linux"
        } else {
            "s390x-linux"
        };
        assert_eq!(
            vet(&reg(foreign, "/usr/bin/qemu", false), "x", true),
            Ok(())
        );
        let bad = vet(&reg(foreign, "relative/qemu", false), "x", true);
        assert_eq!(
            bad,
            Err(Refusal::Interpreter("must be an absolute path".into()))
        );
        let bad = vet(&reg(foreign, "/q:emu", false), "x", false);
        assert!(matches!(bad, Err(Refusal::Interpreter(why)) if why.contains("':'")));
        if let Some(host) = host_system() {
            let own = reg(host, "/usr/bin/qemu", false);
            match vet(&own, "the profiles", true) {
                Err(Refusal::Captures(why)) => {
                    assert!(why.contains("(from the profiles)"), "{why}");
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(vet(&own, "the profiles", false), Ok(()));
            let both = reg(host, "relative", false);
            assert!(matches!(vet(&both, "x", true), Err(Refusal::Captures(_))));
            assert!(matches!(
                vet(&both, "x", false),
                Err(Refusal::Interpreter(_))
            ));
        }
    }

    #[test]
    fn the_credentials_warning_names_the_entries_when_several_are_recorded() {
        let plain = crate::report::texts::CREDENTIALS_WARNING;
        for (entries, want) in [
            (&[][..], plain.to_owned()),
            (&["a"][..], format!("{plain} (importing a with flag C)")),
            (
                &["a", "b"][..],
                format!("{plain} (importing a, b with flag C)"),
            ),
        ] {
            assert_eq!(credentials_warning(entries), want, "{entries:?}");
        }
    }

    #[test]
    fn a_record_keeps_the_registration_and_accepts_flag_c_it_carries() {
        for credentials in [false, true] {
            let r = reg("riscv64-linux", "/usr/bin/qemu-riscv64", credentials);
            let rec = record("riscv64-linux", &r, vec!["x".into()]);
            assert_eq!(rec.system, "riscv64-linux");
            assert_eq!(rec.name, r.name);
            assert_eq!(rec.interpreter, "/usr/bin/qemu-riscv64");
            assert_eq!(rec.flags.0, r.flags);
            assert_eq!(rec.credentials, credentials);
            assert_eq!(rec.also, ["x"]);
        }
    }
}
