//! What executing a probe showed: the one vocabulary of probe results, which `emulator::trial`
//! produces and `model::diagnose` reads.

use serde::Serialize;

/// What executing a probe showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// It ran and printed the marker. `argv0_preserved` is whether argv[0] arrived unchanged.
    Ran { argv0_preserved: bool },
    /// ENOEXEC: no binfmt_misc entry accepts the program ("Exec format error").
    NoEntry,
    /// ENOENT: an entry accepts it, but its interpreter cannot be found from there.
    NoInterpreter,
    /// Anything else: exec failed otherwise, or the program misbehaved (a qemu bug?).
    Failed { message: String },
    /// The empty chroot could not be set up (new namespaces refused): nothing was tested.
    NotTested { reason: String },
    /// binfmtctl has no probe program for the system: nothing was run.
    NotProbed,
}

impl Outcome {
    /// The probe was run and did not work (not: it ran, or it could not be run at all).
    pub fn failed(&self) -> bool {
        matches!(
            self,
            Outcome::NoEntry | Outcome::NoInterpreter | Outcome::Failed { .. }
        )
    }

    /// In a few words, for tables and messages.
    pub fn text(&self) -> String {
        match self {
            Outcome::Ran { .. } => "ran".into(),
            Outcome::NoEntry => "Exec format error (no entry)".into(),
            Outcome::NoInterpreter => "interpreter not found (ENOENT)".into(),
            Outcome::Failed { message } => message.clone(),
            Outcome::NotTested { .. } => "not tested".into(),
            Outcome::NotProbed => "not probed".into(),
        }
    }

    /// In a word or two, for a table's cell; what went wrong is said below the table.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Ran { .. } => "ran",
            Outcome::NoEntry => "no entry",
            Outcome::NoInterpreter => "no interpreter",
            Outcome::Failed { .. } => "failed",
            Outcome::NotTested { .. } => "not tested",
            Outcome::NotProbed => "not probed",
        }
    }

    pub fn ran(&self) -> bool {
        matches!(self, Outcome::Ran { .. })
    }
}
