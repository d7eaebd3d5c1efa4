//! One module per command that is not `run` (which has its own module tree).

pub mod backup;
pub mod check;
pub mod files;
pub mod ingest;
pub mod journal;
pub mod picture;
pub mod plugins;
pub mod reports;
pub mod revert;
pub mod schema;
pub mod show;
pub mod store;
