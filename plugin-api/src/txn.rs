//! The store as plugin code uses it: typed wrappers over the host's ABI transaction.

use abi_stable::std_types::{RSlice, RStr};
use serde::{de::DeserializeOwned, Serialize};

use crate::abi::{TxnMut, TxnRef};

/// A failure of the store itself (I/O, corruption, a refused write). The host stops the run on
/// it; a row that sees one fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store error: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

pub type StoreResult<T> = Result<T, StoreError>;

/// Reading the store: what both a row's [`Txn`] and `prepare`'s [`ReadTxn`] can do. The model's
/// lookups take any `StoreRead`.
pub trait StoreRead {
    fn get(&self, space: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>>;

    /// Entries whose key starts with `prefix`, in key order, at most `limit`.
    fn scan_prefix(
        &self,
        space: &str,
        prefix: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Reads a JSON record.
    fn get_json<T: DeserializeOwned>(&self, space: &str, key: &[u8]) -> StoreResult<Option<T>> {
        match self.get(space, key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                StoreError(format!(
                    "corrupt record in `{space}` ({e}); `toolsync export` can dump the rest"
                ))
            }),
        }
    }
}

macro_rules! impl_store_read {
    ($ty:ident) => {
        impl StoreRead for $ty<'_> {
            fn get(&self, space: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
                self.inner
                    .get(RStr::from(space), RSlice::from(key))
                    .into_result()
                    .map(|v| v.into_option().map(|v| v.into_vec()))
                    .map_err(|e| StoreError(e.into()))
            }

            fn scan_prefix(
                &self,
                space: &str,
                prefix: &[u8],
                limit: usize,
            ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
                self.inner
                    .scan_prefix(RStr::from(space), RSlice::from(prefix), limit)
                    .into_result()
                    .map(|v| {
                        v.into_iter()
                            .map(|t| (t.0.into_vec(), t.1.into_vec()))
                            .collect()
                    })
                    .map_err(|e| StoreError(e.into()))
            }
        }
    };
}

/// The row's transaction. Reads see the row's own writes and those of earlier rows of the run.
pub struct Txn<'a> {
    inner: TxnMut<'a>,
}

/// The store as `prepare` sees it: reads only, as of the start of the chunk of rows.
pub struct ReadTxn<'a> {
    inner: TxnRef<'a>,
}

impl_store_read!(Txn);
impl_store_read!(ReadTxn);

impl<'a> ReadTxn<'a> {
    pub fn new(inner: TxnRef<'a>) -> Self {
        ReadTxn { inner }
    }
}

impl<'a> Txn<'a> {
    /// Wraps the host's transaction object.
    pub fn new(inner: TxnMut<'a>) -> Self {
        Txn { inner }
    }

    pub fn put(&mut self, space: &str, key: &[u8], value: &[u8]) -> StoreResult<()> {
        self.inner
            .put(RStr::from(space), RSlice::from(key), RSlice::from(value))
            .into_result()
            .map_err(|e| StoreError(e.into()))
    }

    pub fn remove(&mut self, space: &str, key: &[u8]) -> StoreResult<()> {
        self.inner
            .remove(RStr::from(space), RSlice::from(key))
            .into_result()
            .map_err(|e| StoreError(e.into()))
    }

    pub fn next_id(&mut self, sequence: &str) -> StoreResult<u64> {
        self.inner
            .next_id(RStr::from(sequence))
            .into_result()
            .map_err(|e| StoreError(e.into()))
    }

    /// Writes a JSON record.
    pub fn put_json<T: Serialize>(
        &mut self,
        space: &str,
        key: &[u8],
        value: &T,
    ) -> StoreResult<()> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| StoreError(format!("cannot encode a record for `{space}`: {e}")))?;
        self.put(space, key, &bytes)
    }
}
