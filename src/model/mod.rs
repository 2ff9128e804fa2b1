//! Pure rules over values: systems and their registrations, the plan, what a check's facts
//! mean, name patterns. No I/O beyond reading the profiles' data.

pub mod diagnose;
pub mod glob;
pub mod plan;
pub mod profile;
