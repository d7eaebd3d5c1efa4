//! The store as plugin code uses it: typed wrappers over the host's ABI transaction.
//!
//! Reading is open: any keyspace, through [`StoreRead`] (the model's lookups take any
//! `StoreRead`). Writing is not: a shared entity's keyspaces are written only by the model
//! (its writes are crate-private here), and a plugin's own data goes through [`Txn::data`],
//! a handle that prefixes every keyspace with the processor's name (`badges:award`), so two
//! vendors never collide. The host refuses any other write (see [`crate::engine::Guard`]).

use abi_stable::std_types::{RSlice, RStr};
use serde::{de::DeserializeOwned, Serialize};

use crate::abi::{TxnMut, TxnRef};
use crate::engine::{full_key, Backend, NAMESPACE_SEPARATOR};

/// What went wrong with the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store itself failed (I/O, a damaged record). A row that meets one fails with a
    /// reason starting with [`crate::abi::protocol::STORE_FAILURE`], and the host stops the
    /// run on it (exit 5): the row was not at fault, and the next ones would fail too.
    Failure(String),
    /// A write the host refuses (a keyspace that is neither the model's nor this plugin's):
    /// the row fails, the run goes on.
    Refused(String),
}

impl StoreError {
    /// What the host said, without the kind.
    pub fn message(&self) -> &str {
        match self {
            StoreError::Failure(m) | StoreError::Refused(m) => m,
        }
    }

    /// An error text the host returned for a write: a refusal of the guard, or a failure.
    fn of_write(text: String) -> StoreError {
        if text.starts_with(crate::engine::WRITE_REFUSED) {
            StoreError::Refused(text)
        } else {
            StoreError::Failure(text)
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Failure(m) => write!(f, "{}{m}", crate::abi::protocol::STORE_FAILURE),
            StoreError::Refused(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StoreError {}

pub type StoreResult<T> = Result<T, StoreError>;

/// A visitor of entries ([`StoreRead::for_each`]): `Ok(false)` stops the visit.
pub type Visit<'v> = dyn FnMut(&[u8], &[u8]) -> StoreResult<bool> + 'v;

/// Reading the store: what a row's [`Txn`], `prepare`'s [`ReadTxn`] and the host's commands on
/// the store itself can do.
pub trait StoreRead {
    fn get(&self, space: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>>;

    /// Entries whose key starts with `prefix`, in key order, at most `limit`.
    fn scan_prefix(
        &self,
        space: &str,
        prefix: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Visits every entry under a prefix in key order, until `visit` returns `false`. A store
    /// that can stream (the host's, for exports and `toolsync check`) does not hold the
    /// keyspace in memory.
    fn for_each(&self, space: &str, prefix: &[u8], visit: &mut Visit<'_>) -> StoreResult<()> {
        for (key, value) in self.scan_prefix(space, prefix, usize::MAX)? {
            if !visit(&key, &value)? {
                break;
            }
        }
        Ok(())
    }

    /// Reads a JSON record.
    fn get_json<T: DeserializeOwned>(&self, space: &str, key: &[u8]) -> StoreResult<Option<T>>
    where
        Self: Sized,
    {
        match self.get(space, key)? {
            None => Ok(None),
            Some(bytes) => decode_json(space, &bytes).map(Some),
        }
    }
}

/// Decodes a stored JSON record, naming its keyspace when it is damaged.
pub fn decode_json<T: DeserializeOwned>(space: &str, bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        StoreError::Failure(format!(
            "corrupt record in `{space}` ({e}); `toolsync check` lists the damage and `toolsync export` dumps the rest"
        ))
    })
}

/// A store behind a reference to any reader (the registry's `show` and `export` read through
/// `&dyn StoreRead`), so that the model's lookups take it like any other.
impl StoreRead for &dyn StoreRead {
    fn get(&self, space: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        (**self).get(space, key)
    }

    fn scan_prefix(
        &self,
        space: &str,
        prefix: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        (**self).scan_prefix(space, prefix, limit)
    }

    fn for_each(&self, space: &str, prefix: &[u8], visit: &mut Visit<'_>) -> StoreResult<()> {
        (**self).for_each(space, prefix, visit)
    }
}

/// A backend read directly (the host's read-only commands, the test store).
impl<B: Backend + ?Sized> StoreRead for B {
    fn get(&self, space: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Backend::get(self, &full_key(space, key)).map_err(|e| StoreError::Failure(e.0))
    }

    fn scan_prefix(
        &self,
        space: &str,
        prefix: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut found = Vec::new();
        self.for_each(space, prefix, &mut |k, v| {
            found.push((k.to_vec(), v.to_vec()));
            Ok(found.len() < limit)
        })?;
        Ok(found)
    }

    fn for_each(&self, space: &str, prefix: &[u8], visit: &mut Visit<'_>) -> StoreResult<()> {
        let strip = space.len() + 1;
        for item in self.scan(&full_key(space, prefix)) {
            let (key, value) = item.map_err(|e| StoreError::Failure(e.0))?;
            if !visit(&key[strip..], &value)? {
                break;
            }
        }
        Ok(())
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
                    .map_err(|e| StoreError::Failure(e.into()))
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
                    .map_err(|e| StoreError::Failure(e.into()))
            }
        }
    };
}

/// The row's transaction. Reads see the row's own writes and those of earlier rows of the run.
pub struct Txn<'a> {
    inner: TxnMut<'a>,
    /// The processor's name: its own keyspaces are `<namespace>:<name>`.
    namespace: String,
}

/// The store as `prepare` and the survey see it: reads only.
pub struct ReadTxn<'a> {
    inner: TxnRef<'a>,
    namespace: String,
}

impl_store_read!(Txn);
impl_store_read!(ReadTxn);

impl<'a> ReadTxn<'a> {
    pub fn new(inner: TxnRef<'a>, namespace: &str) -> Self {
        ReadTxn {
            inner,
            namespace: namespace.to_string(),
        }
    }

    /// Reads this plugin's own data.
    pub fn data(&self) -> OwnData<'_, Self> {
        OwnData {
            store: self,
            namespace: &self.namespace,
        }
    }
}

impl<'a> Txn<'a> {
    /// Wraps the host's transaction object for the processor named `namespace`.
    pub fn new(inner: TxnMut<'a>, namespace: &str) -> Self {
        Txn {
            inner,
            namespace: namespace.to_string(),
        }
    }

    /// This plugin's own data, in keyspaces named after the processor.
    pub fn data(&mut self) -> OwnDataMut<'_, 'a> {
        OwnDataMut { txn: self }
    }

    pub(crate) fn put(&mut self, space: &str, key: &[u8], value: &[u8]) -> StoreResult<()> {
        self.inner
            .put(RStr::from(space), RSlice::from(key), RSlice::from(value))
            .into_result()
            .map_err(|e| StoreError::of_write(e.into()))
    }

    pub(crate) fn remove(&mut self, space: &str, key: &[u8]) -> StoreResult<()> {
        self.inner
            .remove(RStr::from(space), RSlice::from(key))
            .into_result()
            .map_err(|e| StoreError::of_write(e.into()))
    }

    pub(crate) fn next_id(&mut self, sequence: &str) -> StoreResult<u64> {
        self.inner
            .next_id(RStr::from(sequence))
            .into_result()
            .map_err(|e| StoreError::of_write(e.into()))
    }

    /// Writes a JSON record.
    pub(crate) fn put_json<T: Serialize>(
        &mut self,
        space: &str,
        key: &[u8],
        value: &T,
    ) -> StoreResult<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            StoreError::Failure(format!("cannot encode a record for `{space}`: {e}"))
        })?;
        self.put(space, key, &bytes)
    }
}

/// The keyspace `name` of a namespace: `<namespace>:<name>`.
fn own_space(namespace: &str, name: &str) -> String {
    format!("{namespace}{NAMESPACE_SEPARATOR}{name}")
}

/// Reading a plugin's own data (from a [`ReadTxn`], or a [`Txn`] through [`OwnDataMut`]).
pub struct OwnData<'t, S: StoreRead> {
    store: &'t S,
    namespace: &'t str,
}

impl<S: StoreRead> OwnData<'_, S> {
    /// The full keyspace name of `name` (`badges:award`).
    pub fn space(&self, name: &str) -> String {
        own_space(self.namespace, name)
    }

    pub fn get(&self, name: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.store.get(&self.space(name), key)
    }

    pub fn get_json<T: DeserializeOwned>(&self, name: &str, key: &[u8]) -> StoreResult<Option<T>> {
        self.store.get_json(&self.space(name), key)
    }

    pub fn scan_prefix(
        &self,
        name: &str,
        prefix: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.store.scan_prefix(&self.space(name), prefix, limit)
    }
}

/// Reading and writing a plugin's own data within a row's transaction: every keyspace is
/// `<processor>:<name>`.
pub struct OwnDataMut<'t, 'a> {
    txn: &'t mut Txn<'a>,
}

impl<'a> OwnDataMut<'_, 'a> {
    fn read(&self) -> OwnData<'_, Txn<'a>> {
        OwnData {
            store: self.txn,
            namespace: &self.txn.namespace,
        }
    }

    /// The full keyspace name of `name` (`badges:award`).
    pub fn space(&self, name: &str) -> String {
        own_space(&self.txn.namespace, name)
    }

    pub fn get(&self, name: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.read().get(name, key)
    }

    pub fn get_json<T: DeserializeOwned>(&self, name: &str, key: &[u8]) -> StoreResult<Option<T>> {
        self.read().get_json(name, key)
    }

    pub fn scan_prefix(
        &self,
        name: &str,
        prefix: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.read().scan_prefix(name, prefix, limit)
    }

    pub fn put(&mut self, name: &str, key: &[u8], value: &[u8]) -> StoreResult<()> {
        let space = self.space(name);
        self.txn.put(&space, key, value)
    }

    pub fn put_json<T: Serialize>(&mut self, name: &str, key: &[u8], value: &T) -> StoreResult<()> {
        let space = self.space(name);
        self.txn.put_json(&space, key, value)
    }

    pub fn remove(&mut self, name: &str, key: &[u8]) -> StoreResult<()> {
        let space = self.space(name);
        self.txn.remove(&space, key)
    }

    /// The next value of one of this plugin's id sequences (1, 2, ...); rolled back with the row.
    pub fn next_id(&mut self, sequence: &str) -> StoreResult<u64> {
        let sequence = self.space(sequence);
        self.txn.next_id(&sequence)
    }
}
