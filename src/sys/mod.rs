//! The process and the kernel's namespaces, without policy: user and mount namespaces, id
//! maps, mounts (`namespace`), finding and executing programs with signals as the caller
//! expects (`exec`), capabilities (`privilege`).

pub mod exec;
pub mod namespace;
pub mod privilege;
pub mod signals;
