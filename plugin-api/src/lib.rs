//! The contract between the toolsync host and its processor plugins, and the data model they
//! share.
//!
//! - [`abi`]: the ABI-stable types (root module, sabi traits) — the host's business.
//! - [`Processor`] / [`RowHandler`] + [`export_plugin!`]: what a plugin author writes.
//! - [`Txn`]: the store as plugin code sees it; [`model`]: the shared entities over it.
//! - [`schema`], [`values`]: header checks and cell conversions of formats.md.
//! - [`files`]: the regular-file rule for every file a run reads (inputs, templates).
//! - [`testing`]: an in-memory store and a runner for processors' unit tests.
//!
//! The crate's own version is the API version plugins declare: keep it at 1.x so that minor
//! releases stay compatible (abi_stable treats every 0.x minor as a break).

pub mod abi;
pub mod blobs;
pub mod brake;
pub mod engine;
pub mod export;
pub mod files;
pub mod keys;
pub mod model;
pub mod processor;
pub mod schema;
pub mod testing;
pub mod time;
pub mod txn;
pub mod values;

pub use abi::{ColumnSpec, Derived, LogLevel, Manifest, OptionSpec, OutcomeKind};
pub use export::log;
pub use processor::{
    counted, Columns, Finish, Outcome, Processor, Row, RowError, RowHandler, StartContext,
    StartError, BOOL_WORDS,
};
pub use txn::{OwnData, OwnDataMut, ReadTxn, StoreError, StoreRead, Txn};

/// Re-exported for [`export_plugin!`]'s expansion, so plugin crates need no abi_stable line.
#[doc(hidden)]
pub use abi_stable;

/// The API version this crate implements (what plugins built against it declare).
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");
