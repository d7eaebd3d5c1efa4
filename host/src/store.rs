//! The shared store: one sled tree of `space NUL key` entries.
//!
//! Why one tree: a sled `Batch` applies atomically to one tree, so a whole batch of rows and
//! the run's journal record commit together with one call, and a prefix scan per keyspace is a
//! plain `scan_prefix`. (sled's multi-tree transactions have no scan at all, and re-run their
//! closure on conflict.)
//!
//! Writes never go to sled one by one: [`Staging`] buffers the current row's writes over the
//! current batch's, and the runner folds a successful row into the batch or drops a failed one.
//! Reads see row, then batch, then the tree, so a row sees its own writes and those of every
//! earlier row of the run. Everything above this module talks to [`Staging`] through
//! [`RowTxn`], which keeps sled out of the plugin contract (design.md §7).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use abi_stable::std_types::{ROption, RResult, RSlice, RStr, RString, RVec, Tuple2};
use toolsync_plugin_api::abi::{Entries, TxnAbi, TxnAbi_TO, TxnMut, TxnRef};
use toolsync_plugin_api::model::{Roles, MODEL_VERSION, RESERVED_PREFIX};
use toolsync_plugin_api::txn::StoreResult;
use toolsync_plugin_api::{StoreError, StoreRead, Txn};

use crate::exit::Failure;

/// Bumped when the on-disk layout changes; a store written by a newer layout is refused.
pub const STORE_FORMAT: u32 = 1;
pub const META: &str = "_meta";
const SEQUENCES: &str = "_seq";

/// sled's page cache, bounded so that memory does not track the store's size.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The on-disk store.
pub struct Store {
    db: sled::Db,
    path: PathBuf,
}

/// The full sled key of `key` in `space`.
pub fn full_key(space: &str, key: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(space.len() + 1 + key.len());
    full.extend_from_slice(space.as_bytes());
    full.push(0);
    full.extend_from_slice(key);
    full
}

impl Store {
    /// Opens (creating and seeding on first use) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, Failure> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::store(format!(
                "cannot create the store folder {}: {e}",
                dir.display()
            ))
        })?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|e| open_error(dir, e))?;
        let store = Store {
            db,
            path: dir.to_path_buf(),
        };
        store.check_or_seed()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_or_seed(&self) -> Result<(), Failure> {
        match self.get(META, b"store_format")? {
            Some(v) => {
                let format: u32 = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(u32::MAX);
                if format > STORE_FORMAT {
                    return Err(Failure::store(format!(
                        "the store at {} has format {format}; this toolsync reads format {STORE_FORMAT}: upgrade toolsync",
                        self.path.display()
                    )));
                }
                Ok(())
            }
            None => {
                // A new store: standard roles and the versions, in one batch.
                let mut staging = Staging::default();
                {
                    let mut row = RowTxn::new(&mut staging, self);
                    let mut txn = Txn::new(row.as_abi());
                    Roles::seed_standard(&mut txn)
                        .map_err(|e| Failure::store(format!("cannot seed the roles: {e}")))?;
                }
                staging.keep_row();
                staging.put_meta(b"store_format", STORE_FORMAT.to_string().as_bytes());
                staging.put_meta(b"model_version", MODEL_VERSION.to_string().as_bytes());
                self.commit(&mut staging)?;
                self.flush()
            }
        }
    }

    pub fn get(&self, space: &str, key: &[u8]) -> Result<Option<Vec<u8>>, Failure> {
        self.db
            .get(full_key(space, key))
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(io_error)
    }

    /// Iterates over one keyspace in key order, lazily (exports of any size).
    pub fn scan<'s>(
        &'s self,
        space: &str,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), Failure>> + 's {
        let full = full_key(space, prefix);
        let strip = space.len() + 1;
        self.db.scan_prefix(full).map(move |item| {
            item.map(|(k, v)| (k[strip..].to_vec(), v.to_vec()))
                .map_err(io_error)
        })
    }

    /// Applies the staged batch atomically and empties it.
    pub fn commit(&self, staging: &mut Staging) -> Result<(), Failure> {
        debug_assert!(
            staging.row.is_empty(),
            "a row's writes must be kept or dropped first"
        );
        let mut batch = sled::Batch::default();
        for (key, value) in std::mem::take(&mut staging.batch) {
            match value {
                Some(v) => batch.insert(key, v),
                None => batch.remove(key),
            }
        }
        self.db.apply_batch(batch).map_err(io_error)
    }

    /// Makes every commit so far durable (sled flushes by itself every 500 ms otherwise).
    pub fn flush(&self) -> Result<(), Failure> {
        self.db.flush().map(|_| ()).map_err(io_error)
    }

    /// Bytes on disk (for benchmarks and `-v` logs).
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

/// Read-only commands (`show`) use the model's lookups straight on the committed store.
impl StoreRead for Store {
    fn get(&self, space: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Store::get(self, space, key).map_err(|e| StoreError(e.message))
    }

    fn scan_prefix(
        &self,
        space: &str,
        prefix: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.scan(space, prefix)
            .take(limit)
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError(e.message))
    }
}

fn open_error(dir: &Path, e: sled::Error) -> Failure {
    let text = e.to_string();
    if text.contains("could not acquire lock") || text.contains("WouldBlock") {
        Failure::store(format!(
            "the store at {} is in use by another toolsync process (a scheduled run?): wait for it to finish, then run again",
            dir.display()
        ))
    } else {
        Failure::store(format!(
            "cannot open the store at {}: {text}",
            dir.display()
        ))
    }
}

fn io_error(e: sled::Error) -> Failure {
    Failure::store(format!("store error: {e}"))
}

type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;
/// Key/value pairs of a scan.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Writes not yet in sled: the current row's over the current batch's. `None` is a removal.
#[derive(Default)]
pub struct Staging {
    batch: Writes,
    row: Writes,
    /// A store failure seen by a plugin call: the run stops on it.
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

    /// Writes into the batch directly (journal records, meta data).
    pub fn put_meta(&mut self, key: &[u8], value: &[u8]) {
        self.batch.insert(full_key(META, key), Some(value.to_vec()));
    }

    pub fn put_raw(&mut self, space: &str, key: &[u8], value: Option<&[u8]>) {
        self.batch
            .insert(full_key(space, key), value.map(<[u8]>::to_vec));
    }

    /// Entries in the batch (a rough size, to decide when to commit in atomic runs).
    pub fn batch_len(&self) -> usize {
        self.batch.len()
    }

    pub fn take_fatal(&mut self) -> Option<String> {
        self.fatal.take()
    }

    fn lookup(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.row.get(key).or_else(|| self.batch.get(key))
    }
}

/// The transaction a plugin call sees: [`Staging`] over the sled tree.
pub struct RowTxn<'a> {
    staging: &'a mut Staging,
    store: &'a Store,
}

impl<'a> RowTxn<'a> {
    pub fn new(staging: &'a mut Staging, store: &'a Store) -> Self {
        RowTxn { staging, store }
    }

    /// The ABI object handed to the plugin.
    pub fn as_abi(&mut self) -> TxnMut<'_> {
        TxnAbi_TO::from_ptr(self, abi_stable::sabi_trait::TD_Opaque)
    }

    fn get_full(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        get_layered(self.staging, self.store, key)
    }

    /// Runs a store operation for the plugin: no panic may cross back over the FFI boundary
    /// (abi_stable would exit the process), and a failure is remembered so the run stops.
    fn guarded<T>(
        &mut self,
        op: impl FnOnce(&mut Self) -> Result<T, String>,
    ) -> RResult<T, RString> {
        match catch_unwind(AssertUnwindSafe(|| op(self))) {
            Ok(Ok(v)) => RResult::ROk(v),
            Ok(Err(e)) => {
                self.staging.fatal.get_or_insert_with(|| e.clone());
                RResult::RErr(e.into())
            }
            Err(_) => {
                let e = "internal error in the host's store".to_string();
                self.staging.fatal.get_or_insert_with(|| e.clone());
                RResult::RErr(e.into())
            }
        }
    }
}

/// A key's value as the run sees it: staged writes over the tree.
fn get_layered(staging: &Staging, store: &Store, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
    if let Some(staged) = staging.lookup(key) {
        return Ok(staged.clone());
    }
    store
        .db
        .get(key)
        .map(|v| v.map(|v| v.to_vec()))
        .map_err(|e| e.to_string())
}

/// A prefix scan as the run sees it: staged writes merged over the tree.
fn scan_layered(
    staging: &Staging,
    store: &Store,
    prefix: &[u8],
    limit: usize,
) -> Result<Pairs, String> {
    let staged = |writes: &Writes| {
        writes
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    let batch = staged(&staging.batch);
    let row = staged(&staging.row);
    // Staged removals may hide stored entries: read enough of the tree to still fill `limit`.
    let wanted = limit.saturating_add(batch.len() + row.len());
    let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for item in store.db.scan_prefix(prefix).take(wanted) {
        let (k, v) = item.map_err(|e| e.to_string())?;
        merged.insert(k.to_vec(), Some(v.to_vec()));
    }
    merged.extend(batch);
    merged.extend(row);
    let strip = prefix.iter().position(|b| *b == 0).map_or(0, |p| p + 1);
    Ok(merged
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k[strip..].to_vec(), v)))
        .take(limit)
        .collect())
}

/// Runs a read for a plugin with panics caught (see [`RowTxn::guarded`]).
fn guarded_read<T>(op: impl FnOnce() -> Result<T, String>) -> RResult<T, RString> {
    match catch_unwind(AssertUnwindSafe(op)) {
        Ok(Ok(v)) => RResult::ROk(v),
        Ok(Err(e)) => RResult::RErr(e.into()),
        Err(_) => RResult::RErr("internal error in the host's store".into()),
    }
}

/// `get` for a plugin, over the staged writes and the tree.
fn abi_get(
    staging: &Staging,
    store: &Store,
    space: RStr<'_>,
    key: RSlice<'_, u8>,
) -> RResult<ROption<RVec<u8>>, RString> {
    guarded_read(|| get_layered(staging, store, &full_key(space.as_str(), &key)))
        .map(|v| v.map(RVec::from).into())
}

/// `scan_prefix` for a plugin, over the staged writes and the tree.
fn abi_scan(
    staging: &Staging,
    store: &Store,
    space: RStr<'_>,
    prefix: RSlice<'_, u8>,
    limit: usize,
) -> RResult<Entries, RString> {
    guarded_read(|| scan_layered(staging, store, &full_key(space.as_str(), &prefix), limit)).map(
        |list| {
            list.into_iter()
                .map(|(k, v)| Tuple2(RVec::from(k), RVec::from(v)))
                .collect()
        },
    )
}

/// The read-only store view lent to `prepare`, shared by several threads: it sees the
/// committed tree and the staged batch as they stand before the chunk of rows.
pub struct ReadView<'a> {
    staging: &'a Staging,
    store: &'a Store,
}

impl<'a> ReadView<'a> {
    pub fn new(staging: &'a Staging, store: &'a Store) -> Self {
        ReadView { staging, store }
    }

    pub fn as_abi(&self) -> TxnRef<'_> {
        TxnAbi_TO::from_ptr(self, abi_stable::sabi_trait::TD_Opaque)
    }
}

const READ_ONLY: &str = "the store is read-only while rows are prepared";

impl TxnAbi for ReadView<'_> {
    fn get(&self, space: RStr<'_>, key: RSlice<'_, u8>) -> RResult<ROption<RVec<u8>>, RString> {
        abi_get(self.staging, self.store, space, key)
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
        abi_scan(self.staging, self.store, space, prefix, limit)
    }

    fn next_id(&mut self, _: RStr<'_>) -> RResult<u64, RString> {
        RResult::RErr(READ_ONLY.into())
    }
}

fn check_writable(space: &str) -> Result<(), String> {
    if space.starts_with(RESERVED_PREFIX) || space.is_empty() || space.contains('\0') {
        Err(format!("keyspace `{space}` is reserved for the host"))
    } else {
        Ok(())
    }
}

impl TxnAbi for RowTxn<'_> {
    // `&self` methods cannot record a fatal error; a store error still fails the row, and the
    // next write meets the same failure.
    fn get(&self, space: RStr<'_>, key: RSlice<'_, u8>) -> RResult<ROption<RVec<u8>>, RString> {
        abi_get(self.staging, self.store, space, key)
    }

    fn put(
        &mut self,
        space: RStr<'_>,
        key: RSlice<'_, u8>,
        value: RSlice<'_, u8>,
    ) -> RResult<(), RString> {
        let space = space.as_str();
        if let Err(e) = check_writable(space) {
            return RResult::RErr(e.into());
        }
        self.guarded(|t| {
            t.staging
                .row
                .insert(full_key(space, &key), Some(value.to_vec()));
            Ok(())
        })
    }

    fn remove(&mut self, space: RStr<'_>, key: RSlice<'_, u8>) -> RResult<(), RString> {
        let space = space.as_str();
        if let Err(e) = check_writable(space) {
            return RResult::RErr(e.into());
        }
        self.guarded(|t| {
            t.staging.row.insert(full_key(space, &key), None);
            Ok(())
        })
    }

    fn scan_prefix(
        &self,
        space: RStr<'_>,
        prefix: RSlice<'_, u8>,
        limit: usize,
    ) -> RResult<Entries, RString> {
        abi_scan(self.staging, self.store, space, prefix, limit)
    }

    fn next_id(&mut self, sequence: RStr<'_>) -> RResult<u64, RString> {
        let key = full_key(SEQUENCES, sequence.as_str().as_bytes());
        self.guarded(|t| {
            let current = match t.get_full(&key)? {
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
