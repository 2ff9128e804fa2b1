//! Pure rules over values: systems and their registrations, the plan, what a check's facts
//! mean, name patterns. No I/O beyond reading the profiles' data.

pub(crate) mod diagnose;
pub(crate) mod glob;
pub(crate) mod outcome;
pub(crate) mod plan;
pub mod profile;
