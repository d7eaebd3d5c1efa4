//! The shared store on disk: sled 0.34 behind the engine's [`Backend`] trait.
//!
//! One sled tree of `space NUL key` entries: a sled `Batch` applies atomically to one tree, so
//! a whole batch of rows and the run's journal record commit together with one call, and a
//! keyspace scan is a plain `scan_prefix`. (sled's multi-tree transactions have no scan at all,
//! and re-run their closure on conflict.) Nothing above this module knows it is sled
//! (design.md §7): runs go through [`toolsync_plugin_api::engine`], commands read through
//! [`toolsync_plugin_api::StoreRead`], which every backend implements.

use std::path::{Path, PathBuf};

use toolsync_plugin_api::engine::{Backend, BackendError, Guard, RowTxn, Scan, Staging, Writes};
use toolsync_plugin_api::model::{self, Roles, MODEL_VERSION};
use toolsync_plugin_api::Txn;

use crate::error::StoreError;

/// Bumped when the on-disk layout changes; a store written by a newer layout is refused.
pub const STORE_FORMAT: u32 = 1;
pub const META: &str = "_meta";

/// sled's page cache, bounded so that memory does not track the store's size.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The on-disk store.
pub struct Store {
    db: sled::Db,
    path: PathBuf,
}

impl Store {
    /// Opens (creating and seeding on first use) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: dir.to_path_buf(),
            message: format!("cannot create the folder: {e}"),
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

    fn check_or_seed(&self) -> Result<(), StoreError> {
        let Some(format) = self.meta_number(b"store_format")? else {
            return self.seed();
        };
        if format > STORE_FORMAT {
            return Err(StoreError::Newer {
                path: self.path.clone(),
                what: format!("has format {format}; this toolsync reads format {STORE_FORMAT}"),
            });
        }
        let model = self.meta_number(b"model_version")?.unwrap_or(1);
        if model > MODEL_VERSION {
            return Err(StoreError::Newer {
                path: self.path.clone(),
                what: format!(
                    "was written by data model {model}; this toolsync knows model {MODEL_VERSION}"
                ),
            });
        }
        if model < MODEL_VERSION {
            self.upgrade(model)?;
        }
        Ok(())
    }

    /// A number kept in the store's meta data; unreadable text counts as damage.
    fn meta_number(&self, key: &[u8]) -> Result<Option<u32>, StoreError> {
        let Some(bytes) = toolsync_plugin_api::StoreRead::get(self, META, key)
            .map_err(|e| StoreError::Failure(e.to_string()))?
        else {
            return Ok(None);
        };
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| {
                StoreError::Failure(format!(
                    "the store at {} is damaged: its meta data `{}` is unreadable",
                    self.path.display(),
                    String::from_utf8_lossy(key)
                ))
            })
    }

    /// A new store: the standard roles and the versions, in one batch.
    fn seed(&self) -> Result<(), StoreError> {
        self.model_batch(STORE_FORMAT, |txn| {
            Roles::seed_standard(txn)
                .map(|()| Vec::new())
                .map_err(|e| format!("cannot seed the roles: {e}"))
        })
    }

    /// A store written by an older data model, brought up to this one in one batch.
    fn upgrade(&self, from: u32) -> Result<(), StoreError> {
        self.model_batch(STORE_FORMAT, |txn| {
            model::upgrade(txn, from).map_err(|e| format!("cannot upgrade the store: {e}"))
        })
    }

    /// Runs model code with the model's rights and commits its writes with the versions, in
    /// one atomic batch, durably.
    fn model_batch(
        &self,
        format: u32,
        work: impl FnOnce(&mut Txn<'_>) -> Result<Vec<String>, String>,
    ) -> Result<(), StoreError> {
        let guard = Guard::model();
        let mut staging = Staging::default();
        let notes = {
            let mut row = RowTxn::new(&mut staging, self, &guard);
            let mut txn = Txn::new(row.as_abi(), "");
            work(&mut txn).map_err(StoreError::Failure)?
        };
        if let Some(fatal) = staging.take_fatal() {
            return Err(StoreError::Failure(fatal));
        }
        staging.keep_row();
        let format = format.to_string();
        let model = MODEL_VERSION.to_string();
        staging.put_raw(META, b"store_format", Some(format.as_bytes()));
        staging.put_raw(META, b"model_version", Some(model.as_bytes()));
        self.commit(staging.take_batch())?;
        self.flush_all()?;
        for note in notes {
            tracing::info!(store = %self.path.display(), "{note}");
        }
        Ok(())
    }

    /// Applies a batch of raw writes (the journal's own records).
    pub fn commit(&self, writes: Writes) -> Result<(), StoreError> {
        self.apply(writes).map_err(|e| StoreError::Failure(e.0))
    }

    /// Makes every commit so far durable (sled flushes by itself every 500 ms otherwise).
    pub fn flush_all(&self) -> Result<(), StoreError> {
        self.flush().map_err(|e| StoreError::Failure(e.0))
    }

    /// Bytes on disk (for benchmarks and `-v` logs).
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

impl Backend for Store {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.db
            .get(key)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(io_error)
    }

    fn scan(&self, prefix: &[u8]) -> Scan<'_> {
        Box::new(self.db.scan_prefix(prefix).map(|item| {
            item.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(io_error)
        }))
    }

    fn apply(&self, writes: Writes) -> Result<(), BackendError> {
        let mut batch = sled::Batch::default();
        for (key, value) in writes {
            match value {
                Some(v) => batch.insert(key, v),
                None => batch.remove(key),
            }
        }
        self.db.apply_batch(batch).map_err(io_error)
    }

    fn flush(&self) -> Result<(), BackendError> {
        self.db.flush().map(|_| ()).map_err(io_error)
    }
}

fn open_error(dir: &Path, e: sled::Error) -> StoreError {
    let text = e.to_string();
    if text.contains("could not acquire lock") || text.contains("WouldBlock") {
        StoreError::Locked {
            path: dir.to_path_buf(),
        }
    } else {
        StoreError::Open {
            path: dir.to_path_buf(),
            message: text,
        }
    }
}

fn io_error(e: sled::Error) -> BackendError {
    BackendError(format!("store error: {e}"))
}

impl Store {
    /// The entries of one keyspace under a prefix, keys without their space, read lazily.
    pub fn scan_space<'s>(
        &'s self,
        space: &str,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + 's {
        let strip = space.len() + 1;
        self.scan(&toolsync_plugin_api::engine::full_key(space, prefix))
            .map(move |item| {
                item.map(|(k, v)| (k[strip..].to_vec(), v))
                    .map_err(|e| StoreError::Failure(e.0))
            })
    }
}
