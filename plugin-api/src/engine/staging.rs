//! Writes not yet in the store, and the transaction objects plugin calls see over them.
//!
//! Writes never go to the backend one by one (notes.md: ~9 µs a written key, a transaction per
//! row is ten times slower than a batch): [`Staging`] buffers the current row's writes over the
//! current batch's; the row loop folds a successful row into the batch or drops a failed one,
//! and commits the batch every N rows. Reads see row, then batch, then the backend, so a row
//! sees its own writes and those of every earlier row of the run.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr, RString, RVec, Tuple2};

use super::backend::{full_key, Backend, Entry, Writes};
use super::guard::Guard;
use crate::abi::{Entries, TxnAbi, TxnAbi_TO, TxnMut, TxnRef};

/// The host's id sequences: `_seq NUL <name>` → the last id given, big-endian.
pub const SEQUENCES: &str = "_seq";

/// The current batch and the current row's writes. `None` is a removal.
#[derive(Debug, Default)]
pub struct Staging {
    batch: Writes,
    row: Writes,
    /// A store failure met by a plugin call: the run stops on it.
    fatal: Option<String>,
}

impl Staging {
    /// Folds the current row's writes into the batch.
    pub fn keep_row(&mut self) {
        let row = std::mem::take(&mut self.row);
        self.batch.extend(row);
    }

    /// Drops the current row's writes.
    pub fn drop_row(&mut self) {
        self.row.clear();
    }

    /// A write straight into the batch, outside any row and any guard (the host's journal and
    /// meta data).
    pub fn put_raw(&mut self, space: &str, key: &[u8], value: Option<&[u8]>) {
        self.batch
            .insert(full_key(space, key), value.map(<[u8]>::to_vec));
    }

    /// The batch's writes (the host records what they replace before it commits them).
    pub fn batch(&self) -> &Writes {
        &self.batch
    }

    /// Entries in the batch.
    pub fn batch_len(&self) -> usize {
        self.batch.len()
    }

    /// The batch, for a commit; the staging is empty after.
    pub fn take_batch(&mut self) -> Writes {
        debug_assert!(
            self.row.is_empty(),
            "a row's writes are kept or dropped before a commit"
        );
        std::mem::take(&mut self.batch)
    }

    /// Forgets every staged write (a dry run, a rolled-back `--atomic` run).
    pub fn discard(&mut self) {
        self.batch.clear();
        self.row.clear();
    }

    pub fn take_fatal(&mut self) -> Option<String> {
        self.fatal.take()
    }

    fn lookup(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.row.get(key).or_else(|| self.batch.get(key))
    }
}

/// A key's value as the run sees it: staged writes over the backend.
fn get_layered(
    staging: &Staging,
    backend: &dyn Backend,
    key: &[u8],
) -> Result<Option<Vec<u8>>, String> {
    if let Some(staged) = staging.lookup(key) {
        return Ok(staged.clone());
    }
    backend.get(key).map_err(|e| e.0)
}

/// A prefix scan as the run sees it: staged writes merged over the backend. Keys come back
/// without their space.
fn scan_layered(
    staging: &Staging,
    backend: &dyn Backend,
    prefix: &[u8],
    limit: usize,
) -> Result<Vec<Entry>, String> {
    let staged = |writes: &Writes| {
        writes
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    let batch = staged(&staging.batch);
    let row = staged(&staging.row);
    let strip = prefix.iter().position(|b| *b == 0).map_or(0, |p| p + 1);
    if batch.is_empty() && row.is_empty() {
        // Nothing staged under the prefix (the common case: a look-up in what earlier batches
        // committed): the store's entries as they are, without a merge map.
        return backend
            .scan(prefix)
            .take(limit)
            .map(|item| item.map(|(k, v)| (k[strip..].to_vec(), v)).map_err(|e| e.0))
            .collect();
    }
    // Staged removals may hide stored entries: read enough of the store to still fill `limit`.
    let wanted = limit.saturating_add(batch.len() + row.len());
    let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for item in backend.scan(prefix).take(wanted) {
        let (k, v) = item.map_err(|e| e.0)?;
        merged.insert(k, Some(v));
    }
    merged.extend(batch);
    merged.extend(row);
    Ok(merged
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k[strip..].to_vec(), v)))
        .take(limit)
        .collect())
}

/// Runs a read for a plugin with panics caught: no panic may cross back over the FFI boundary
/// (abi_stable would exit the process).
fn guarded_read<T>(op: impl FnOnce() -> Result<T, String>) -> RResult<T, RString> {
    match catch_unwind(AssertUnwindSafe(op)) {
        Ok(Ok(v)) => RResult::ROk(v),
        Ok(Err(e)) => RResult::RErr(e.into()),
        Err(_) => RResult::RErr(INTERNAL.into()),
    }
}

const INTERNAL: &str = "internal error in the store";

fn abi_get(
    staging: &Staging,
    backend: &dyn Backend,
    space: RStr<'_>,
    key: RSlice<'_, u8>,
) -> RResult<ROption<RVec<u8>>, RString> {
    guarded_read(|| get_layered(staging, backend, &full_key(space.as_str(), &key)))
        .map(|v| v.map(RVec::from).into())
}

fn abi_scan(
    staging: &Staging,
    backend: &dyn Backend,
    space: RStr<'_>,
    prefix: RSlice<'_, u8>,
    limit: usize,
) -> RResult<Entries, RString> {
    guarded_read(|| scan_layered(staging, backend, &full_key(space.as_str(), &prefix), limit)).map(
        |list| {
            list.into_iter()
                .map(|(k, v)| Tuple2(RVec::from(k), RVec::from(v)))
                .collect()
        },
    )
}

/// The transaction a row's `apply` (and a run's `finish`) sees.
pub struct RowTxn<'a> {
    staging: &'a mut Staging,
    backend: &'a dyn Backend,
    guard: &'a Guard,
}

impl<'a> RowTxn<'a> {
    pub fn new(staging: &'a mut Staging, backend: &'a dyn Backend, guard: &'a Guard) -> Self {
        RowTxn {
            staging,
            backend,
            guard,
        }
    }

    /// The ABI object handed to the plugin.
    pub fn as_abi(&mut self) -> TxnMut<'_> {
        TxnAbi_TO::from_ptr(self, TD_Opaque)
    }

    /// Runs a write for the plugin, panics caught; a store failure is remembered so that the
    /// run stops on it.
    fn write<T>(&mut self, op: impl FnOnce(&mut Self) -> Result<T, String>) -> RResult<T, RString> {
        match catch_unwind(AssertUnwindSafe(|| op(self))) {
            Ok(Ok(v)) => RResult::ROk(v),
            Ok(Err(e)) => {
                self.staging.fatal.get_or_insert_with(|| e.clone());
                RResult::RErr(e.into())
            }
            Err(_) => {
                self.staging
                    .fatal
                    .get_or_insert_with(|| INTERNAL.to_string());
                RResult::RErr(INTERNAL.into())
            }
        }
    }
}

impl TxnAbi for RowTxn<'_> {
    // `&self` methods cannot record a fatal error; a store error still fails the row, and the
    // next write meets the same failure.
    fn get(&self, space: RStr<'_>, key: RSlice<'_, u8>) -> RResult<ROption<RVec<u8>>, RString> {
        abi_get(self.staging, self.backend, space, key)
    }

    fn put(
        &mut self,
        space: RStr<'_>,
        key: RSlice<'_, u8>,
        value: RSlice<'_, u8>,
    ) -> RResult<(), RString> {
        // A refused write fails the row; it is not a store failure.
        if let Err(e) = self.guard.check_space(space.as_str()) {
            return RResult::RErr(e.into());
        }
        self.write(|t| {
            t.staging
                .row
                .insert(full_key(space.as_str(), &key), Some(value.to_vec()));
            Ok(())
        })
    }

    fn remove(&mut self, space: RStr<'_>, key: RSlice<'_, u8>) -> RResult<(), RString> {
        if let Err(e) = self.guard.check_space(space.as_str()) {
            return RResult::RErr(e.into());
        }
        self.write(|t| {
            t.staging.row.insert(full_key(space.as_str(), &key), None);
            Ok(())
        })
    }

    fn scan_prefix(
        &self,
        space: RStr<'_>,
        prefix: RSlice<'_, u8>,
        limit: usize,
    ) -> RResult<Entries, RString> {
        abi_scan(self.staging, self.backend, space, prefix, limit)
    }

    fn next_id(&mut self, sequence: RStr<'_>) -> RResult<u64, RString> {
        if let Err(e) = self.guard.check_sequence(sequence.as_str()) {
            return RResult::RErr(e.into());
        }
        let key = full_key(SEQUENCES, sequence.as_str().as_bytes());
        self.write(|t| {
            let current = match get_layered(t.staging, t.backend, &key)? {
                Some(bytes) => bytes
                    .as_slice()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| format!("corrupt sequence `{sequence}`"))?,
                None => 0,
            };
            let next = current + 1;
            t.staging
                .row
                .insert(key.clone(), Some(next.to_be_bytes().to_vec()));
            Ok(next)
        })
    }
}

/// The read-only view lent to `prepare` (shared by several threads) and to a survey: the store
/// and the staged batch as they stand; writes are refused.
pub struct ReadView<'a> {
    staging: &'a Staging,
    backend: &'a dyn Backend,
}

impl<'a> ReadView<'a> {
    pub fn new(staging: &'a Staging, backend: &'a dyn Backend) -> Self {
        ReadView { staging, backend }
    }

    pub fn as_abi(&self) -> TxnRef<'_> {
        TxnAbi_TO::from_ptr(self, TD_Opaque)
    }

    /// As a `TxnMut` whose writes fail (a survey's `finish`).
    pub fn as_abi_mut(&mut self) -> TxnMut<'_> {
        TxnAbi_TO::from_ptr(self, TD_Opaque)
    }
}

const READ_ONLY: &str = "the store is read-only here (rows are being prepared or surveyed)";

impl TxnAbi for ReadView<'_> {
    fn get(&self, space: RStr<'_>, key: RSlice<'_, u8>) -> RResult<ROption<RVec<u8>>, RString> {
        abi_get(self.staging, self.backend, space, key)
    }

    fn put(&mut self, _: RStr<'_>, _: RSlice<'_, u8>, _: RSlice<'_, u8>) -> RResult<(), RString> {
        RResult::RErr(READ_ONLY.into())
    }

    fn remove(&mut self, _: RStr<'_>, _: RSlice<'_, u8>) -> RResult<(), RString> {
        RResult::RErr(READ_ONLY.into())
    }

    fn scan_prefix(
        &self,
        space: RStr<'_>,
        prefix: RSlice<'_, u8>,
        limit: usize,
    ) -> RResult<Entries, RString> {
        abi_scan(self.staging, self.backend, space, prefix, limit)
    }

    fn next_id(&mut self, _: RStr<'_>) -> RResult<u64, RString> {
        RResult::RErr(READ_ONLY.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::backend::MemoryBackend;

    fn put(txn: &mut RowTxn<'_>, space: &str, key: &[u8], value: &[u8]) -> Result<(), String> {
        txn.put(space.into(), key.into(), value.into())
            .into_result()
            .map_err(String::from)
    }

    fn scan(view: &ReadView<'_>, space: &str, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        view.scan_prefix(space.into(), prefix.into(), usize::MAX)
            .unwrap()
            .into_iter()
            .map(|t| (t.0.into_vec(), t.1.into_vec()))
            .collect()
    }

    #[test]
    fn rows_see_their_writes_over_the_batch_over_the_store_and_drop_cleanly() {
        let backend = MemoryBackend::new();
        let mut stored = Writes::new();
        stored.insert(full_key("user", b"1"), Some(b"stored".to_vec()));
        stored.insert(full_key("user", b"2"), Some(b"gone".to_vec()));
        backend.apply(stored).unwrap();
        let guard = Guard::plugin(["p"]);
        let mut staging = Staging::default();

        let mut row = RowTxn::new(&mut staging, &backend, &guard);
        put(&mut row, "user", b"3", b"kept").unwrap();
        row.remove("user".into(), (&b"2"[..]).into()).unwrap();
        staging.keep_row();
        let mut row = RowTxn::new(&mut staging, &backend, &guard);
        put(&mut row, "user", b"4", b"dropped").unwrap();
        assert_eq!(row.next_id("user".into()).unwrap(), 1);
        staging.drop_row();

        let view = ReadView::new(&staging, &backend);
        let keys: Vec<Vec<u8>> = scan(&view, "user", b"")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, vec![b"1".to_vec(), b"3".to_vec()]);
        // A scan with a limit still fills it past staged removals.
        let first = view
            .scan_prefix("user".into(), (&b""[..]).into(), 1)
            .unwrap();
        assert_eq!(first.len(), 1);
        backend.apply(staging.take_batch()).unwrap();
        assert_eq!(backend.get(&full_key("user", b"2")).unwrap(), None);
        assert_eq!(backend.get(&full_key(SEQUENCES, b"user")).unwrap(), None);
        // Nothing staged any more: the store's entries, stripped of the keyspace, limited.
        let view = ReadView::new(&staging, &backend);
        assert_eq!(
            scan(&view, "user", b""),
            vec![
                (b"1".to_vec(), b"stored".to_vec()),
                (b"3".to_vec(), b"kept".to_vec())
            ]
        );
        assert_eq!(
            scan(&view, "user", b"3"),
            vec![(b"3".to_vec(), b"kept".to_vec())]
        );
        let first = view
            .scan_prefix("user".into(), (&b""[..]).into(), 1)
            .unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].0.as_slice(), b"1");
    }

    #[test]
    fn the_guard_fails_a_write_without_stopping_the_run() {
        let backend = MemoryBackend::new();
        let guard = Guard::plugin(["p"]);
        let mut staging = Staging::default();
        let mut row = RowTxn::new(&mut staging, &backend, &guard);
        assert!(put(&mut row, "q:x", b"k", b"v").is_err());
        assert!(put(&mut row, "_journal", b"k", b"v").is_err());
        assert!(row.next_id("q:n".into()).is_err());
        assert!(put(&mut row, "p:x", b"k", b"v").is_ok());
        assert!(
            staging.take_fatal().is_none(),
            "a refusal is not a store failure"
        );
        let mut view = ReadView::new(&staging, &backend);
        let mut txn = view.as_abi_mut();
        assert!(txn
            .put("p:x".into(), (&b"k"[..]).into(), (&b"v"[..]).into())
            .is_err());
    }
}
