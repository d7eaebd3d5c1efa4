//! The shared data model (design.md §4): entities, their key layout and their invariants, in
//! one place. Processors cooperate through the store (enrolments find the users that `users`
//! created), so none of them touches an index directly: they call this module, which keeps
//! every index in step with its record and refuses writes that would break an invariant.
//!
//! Records are JSON objects. Each carries `v`, the model version that wrote it, and keeps the
//! fields it does not know (`extra`), so that a plugin built against an older 1.x rewrites a
//! newer record without losing anything.

pub mod role;
pub mod user;

pub use role::{Role, Roles};
pub use user::{PasswordState, User, UserKey, Users};

use crate::txn::StoreError;

/// The model version written into every record and into the store's meta data.
pub const MODEL_VERSION: u32 = 1;

/// Keyspaces reserved for the host (`_meta`, `_journal`, `_seq`...) start with `_`.
pub const RESERVED_PREFIX: char = '_';

/// Why the model refused an operation. Conflicts fail the row; store errors stop the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// An invariant would break (a username taken...).
    Conflict(String),
    Store(StoreError),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::Conflict(m) => f.write_str(m),
            ModelError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ModelError {}

impl From<StoreError> for ModelError {
    fn from(e: StoreError) -> Self {
        ModelError::Store(e)
    }
}

pub type ModelResult<T> = Result<T, ModelError>;

/// Record keys are big-endian ids, so that a scan returns records in id order.
pub fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

pub fn key_id(key: &[u8]) -> Option<u64> {
    key.try_into().ok().map(u64::from_be_bytes)
}

/// The unknown fields of a record, kept across rewrites.
pub type Extra = serde_json::Map<String, serde_json::Value>;

fn model_version() -> u32 {
    MODEL_VERSION
}
