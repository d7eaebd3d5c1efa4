//! The run engine the host and the testing runner share: the store behind a [`Backend`] trait,
//! the [`Staging`] of a run's writes with the [`Guard`] on what a plugin may write, and the row
//! loop ([`Engine::stream`]) with its parallel `prepare`, its per-row keep-or-drop and its
//! commits.
//!
//! It lives in plugin-api, not in the host, so that a processor's unit tests
//! ([`crate::testing::Runner`]) drive the very loop its cdylib meets in production, over a
//! [`MemoryBackend`]: no second copy of the run loop to drift. It depends on nothing but std
//! and the ABI types.

mod backend;
mod guard;
pub mod prefetch;
mod rows;
mod staging;

pub use backend::{full_key, split_key, Backend, BackendError, Entry, MemoryBackend, Scan, Writes};
pub use guard::{Guard, NAMESPACE_SEPARATOR, RESERVED_PREFIX, WRITE_REFUSED};
pub use rows::{
    AsInput, Engine, FailedDuring, Flow, Input, Sink, StoreFailure, Survey, CHUNK_ROWS,
};
pub use staging::{ReadView, RowTxn, Staging, SEQUENCES};
