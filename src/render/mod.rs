//! What several commands show alike, rendered from the services' data: how a planned action
//! reads (`actions`), enable's report (`enable`, also tonistiigi's), the man page's own
//! sections (`man`). Printed through `report`, the one writer.

pub mod actions;
pub mod enable;
pub mod man;
