//! The second embedded engine: redb, one table of `space NUL key` entries in one file. Chosen
//! for a store whose memory must stay flat as it grows: redb's page cache and write buffer are
//! bounded by the size it is given, where sled keeps a part of every key it has met resident.
//!
//! Every batch is one write transaction committed durably (`Durability::Immediate`): measured
//! on this machine before the choice, commits without durability between batches let the file
//! grow without bound (redb frees pages only at a durable commit) and every killed run reopened
//! with none of its batches, while a durable commit per batch cost no measurable throughput
//! (an fsync is ~110 µs here) and kept whole batches across kills.
//!
//! Reads go through one read transaction shared by every reader and replaced after each
//! commit: opening one per `get` would cost more than the look-up itself, and a stale one kept
//! open would pin every page the following commits replace.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};
use toolsync_plugin_api::engine::{BackendError, Scan, Writes};

use super::Engine;
use crate::error::StoreError;
use crate::panics;

/// The file redb keeps the store in; its presence is what makes a folder a redb store.
pub const FILE: &str = "store.redb";

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("entries");

type View = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

pub struct RedbEngine {
    db: redb::Database,
    path: PathBuf,
    /// The read view of the last commit; `None` when it could not be opened after one (the
    /// next read opens it).
    view: RwLock<Option<Arc<View>>>,
    /// Held from a write transaction's start to its view's swap: two commits never install
    /// their views out of order.
    writing: std::sync::Mutex<()>,
}

impl RedbEngine {
    /// Opens (or creates) the redb store in `dir`, with a page cache of `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<RedbEngine, StoreError> {
        let file = dir.join(FILE);
        let db = panics::catch(|| {
            redb::Builder::new()
                .set_cache_size(usize::try_from(cache_bytes).unwrap_or(usize::MAX))
                .create(&file)
        })
        .map_err(|panic| StoreError::damaged(dir, panic))?
        .map_err(|e| open_error(dir, e))?;
        // Owner-only, like everything in a data dir (redb creates its file with the umask's).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| StoreError::io(dir, &e))?;
        }
        let view = match read_view(&db, dir) {
            Ok(view) => view,
            // A new file: its table is made once, so that readers never meet its absence (a
            // read command opening an existing store writes nothing).
            Err(_) => {
                let txn = db.begin_write().map_err(|e| failure(dir, e))?;
                txn.open_table(TABLE).map_err(|e| failure(dir, e))?;
                txn.commit().map_err(|e| failure(dir, e))?;
                read_view(&db, dir)?
            }
        };
        Ok(RedbEngine {
            db,
            path: dir.to_path_buf(),
            view: RwLock::new(Some(Arc::new(view))),
            writing: std::sync::Mutex::new(()),
        })
    }

    fn view(&self) -> Result<Arc<View>, BackendError> {
        if let Some(view) = self.view.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(view.clone());
        }
        let view =
            Arc::new(read_view(&self.db, &self.path).map_err(|e| BackendError(e.to_string()))?);
        *self.view.write().unwrap_or_else(|p| p.into_inner()) = Some(view.clone());
        Ok(view)
    }

    fn error(&self, e: impl Into<redb::Error>) -> BackendError {
        BackendError(failure(&self.path, e).to_string())
    }

    /// Runs a redb call: its error, or its panic on a damaged file (redb's own checks panic
    /// in debug builds), becomes a message that names the store and says what to do.
    fn guarded<T, E: Into<redb::Error>>(
        &self,
        call: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, BackendError> {
        match panics::catch(call) {
            Ok(result) => result.map_err(|e| self.error(e)),
            Err(panic) => Err(BackendError(
                StoreError::damaged(&self.path, panic).to_string(),
            )),
        }
    }
}

fn read_view(db: &redb::Database, dir: &Path) -> Result<View, StoreError> {
    let txn = db.begin_read().map_err(|e| failure(dir, e))?;
    txn.open_table(TABLE).map_err(|e| failure(dir, e))
}

impl Engine for RedbEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        let view = self.view()?;
        self.guarded(|| view.get(key).map(|value| value.map(|v| v.value().to_vec())))
    }

    fn scan(&self, prefix: &[u8]) -> Scan<'_> {
        let view = match self.view() {
            Ok(view) => view,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let mut range = match self.guarded(|| view.range::<&[u8]>(prefix..)) {
            Ok(range) => range,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let prefix = prefix.to_vec();
        // Keys come in order: once one is past the prefix, so is every later one.
        Box::new(std::iter::from_fn(move || {
            match self.guarded(|| range.next().transpose()).transpose()? {
                Ok((k, _)) if !k.value().starts_with(&prefix) => None,
                Ok((k, v)) => Some(Ok((k.value().to_vec(), v.value().to_vec()))),
                Err(e) => Some(Err(e)),
            }
        }))
    }

    /// One durable write transaction, whatever the batch's size: redb keeps its write buffer
    /// within half its cache, writing pages out as the transaction goes.
    fn apply(&self, writes: Writes) -> Result<(), BackendError> {
        let writes = &writes;
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        self.guarded(|| -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            {
                let mut table = txn.open_table(TABLE)?;
                for (key, value) in writes {
                    match value {
                        Some(v) => table.insert(key.as_slice(), v.as_slice()).map(|_| ())?,
                        None => table.remove(key.as_slice()).map(|_| ())?,
                    }
                }
            }
            Ok(txn.commit()?)
        })?;
        // Committed: a view that cannot be opened now is opened by the next read instead.
        let view = read_view(&self.db, &self.path).ok().map(Arc::new);
        *self.view.write().unwrap_or_else(|p| p.into_inner()) = view;
        Ok(())
    }

    /// Every commit is durable already.
    fn flush(&self) -> Result<(), BackendError> {
        Ok(())
    }

    fn is_empty(&self) -> Result<bool, BackendError> {
        let view = self.view()?;
        self.guarded(|| view.is_empty())
    }

    fn size_on_disk(&self) -> u64 {
        std::fs::metadata(self.path.join(FILE)).map_or(0, |m| m.len())
    }
}

fn open_error(dir: &Path, e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
            path: dir.to_path_buf(),
        },
        other => failure(dir, other),
    }
}

/// A redb error as the operator reads it: I/O errors name the store (a full disk by name),
/// a corrupted file is a damaged store (restore a backup), the rest say what redb said.
fn failure(dir: &Path, e: impl Into<redb::Error>) -> StoreError {
    match e.into() {
        redb::Error::Io(io) => StoreError::io(dir, &io),
        redb::Error::Corrupted(what) => StoreError::damaged(dir, what),
        redb::Error::DatabaseAlreadyOpen => StoreError::Locked {
            path: dir.to_path_buf(),
        },
        other => StoreError::Failure(format!("the store at {}: {other}", dir.display())),
    }
}
