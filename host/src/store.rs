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

use crate::data_dir::create_private_dir;
use crate::error::StoreError;
use crate::panics;

/// Bumped when the on-disk layout changes; a store written by a newer layout is refused.
pub const STORE_FORMAT: u32 = 1;
pub const META: &str = "_meta";

/// sled's page cache, bounded so that memory does not track the store's size.
pub const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The cache of a run whose rows are few and heavy (an archive's entries: milliseconds of
/// decoding each, a handful of keys): a larger one saves such a run nothing, and filled up as
/// the run went on, it made the run's peak memory grow with the archive's entry count.
pub const SMALL_CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// The file sled keeps its log in; its presence is what makes a folder a store.
const DB_FILE: &str = "db";

/// Writes beyond which a batch goes to sled in chunks of [`CHUNK_WRITES`], under a redo
/// record (see [`Store::apply`]). A sled batch's memory grows faster than its size: one row
/// binding a cohort of 50,000 members (~350,000 writes) peaked at 1.5 GB applied as one sled
/// batch, 1.0 GB in chunks of 20,000, 0.9 GB in chunks of 10,000 and 0.2–0.3 GB in chunks of
/// 1,000 (release build, `/usr/bin/time`). Batches of ordinary rows (2,000 rows of a few writes)
/// stay under the threshold and go to sled as they always did.
const ONE_BATCH_WRITES: usize = 20_000;

/// Writes per sled batch when a batch is applied in chunks.
const CHUNK_WRITES: usize = 1_000;

/// The redo record of a batch being applied in chunks: the whole batch, so that a process
/// killed between two chunks is completed when the store is next opened.
const REDO_KEY: &[u8] = b"_redo\0batch";

/// Commits take this shared; a reader of the whole store (check, export, backup) takes it
/// exclusively, so that what it reads is the store between two batches, not a batch half
/// applied nor a scan that saw one keyspace before a batch and another after it. Within one
/// process: only the daemon runs readers beside a run (one process holds a sled store).
static COMMITS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// The on-disk store: handles are cheap clones of one open sled database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    /// The log file's identity when opened: a store folder deleted or replaced under a run is
    /// noticed at the next commit instead of reporting rows committed to a file that is gone.
    identity: Option<FileId>,
}

impl Store {
    /// Whether `dir` holds a store.
    pub fn exists(dir: &Path) -> bool {
        dir.join(DB_FILE).is_file()
    }

    /// Opens the store in `dir`; a folder without one is an error (a read command never
    /// creates a store: see [`crate::data_dir`]).
    pub fn open_existing(dir: &Path) -> Result<Store, StoreError> {
        if !Store::exists(dir) {
            return Err(StoreError::Missing {
                path: dir.to_path_buf(),
            });
        }
        Store::open(dir, false, CACHE_BYTES)
    }

    /// Creates and seeds a new store in `dir`, or opens the one already there.
    pub fn create(dir: &Path) -> Result<Store, StoreError> {
        Store::open(dir, true, CACHE_BYTES)
    }

    /// [`Store::create`] with a page cache of `cache_bytes`.
    pub fn create_with_cache(dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        Store::open(dir, true, cache_bytes)
    }

    /// `may_seed`: a store with no data at all (new, or killed before its first commit) is
    /// seeded; otherwise it is refused as damaged, since an existing log that holds nothing
    /// was emptied or truncated — a read command must not show that as an empty platform.
    fn open(dir: &Path, may_seed: bool, cache_bytes: u64) -> Result<Store, StoreError> {
        // Owner-only; an existing store made readable by others (a data dir made by hand) is
        // tightened.
        create_private_dir(dir).map_err(|e| StoreError::Open {
            path: dir.to_path_buf(),
            message: format!("cannot create the folder: {e}"),
        })?;
        clear_interrupted_snapshots(dir)?;
        let config = sled::Config::new().path(dir).cache_capacity(cache_bytes);
        let db = panics::catch(|| config.open())
            .map_err(|panic| StoreError::damaged(dir, panic))?
            .map_err(|e| open_error(dir, e))?;
        let store = Store {
            db,
            path: dir.to_path_buf(),
            identity: FileId::of(&dir.join(DB_FILE)),
        };
        store.finish_redo().map_err(|e| StoreError::Failure(e.0))?;
        store.check_or_seed(may_seed)?;
        tracing::info!(path = %dir.display(), "store opened");
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `read` with no batch committing meanwhile: a consistent view of the whole store
    /// for a check, an export or a backup while the daemon runs a file (its next batch waits).
    pub fn quiesced<T>(&self, read: impl FnOnce() -> T) -> T {
        let _readers = COMMITS.write().unwrap_or_else(|p| p.into_inner());
        read()
    }

    fn check_or_seed(&self, may_seed: bool) -> Result<(), StoreError> {
        let Some(format) = self.meta_number(b"store_format")? else {
            let empty = self.guarded(|| self.db.first().map(|f| f.is_none()));
            return match empty {
                Ok(true) if may_seed => self.seed(),
                Ok(true) => Err(StoreError::Empty {
                    path: self.path.clone(),
                }),
                Ok(false) => Err(StoreError::damaged(
                    &self.path,
                    "its version record is missing: the log was emptied or truncated",
                )),
                Err(e) => Err(StoreError::Failure(e.0)),
            };
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

    /// The store's format and data model versions.
    pub fn versions(&self) -> Result<(u32, u32), StoreError> {
        Ok((
            self.meta_number(b"store_format")?.unwrap_or(STORE_FORMAT),
            self.meta_number(b"model_version")?.unwrap_or(1),
        ))
    }

    /// Writes `entries` (whole keys, as a backup holds them) into a new store in `dir`, which
    /// must not exist, in batches, durably, then checks its versions as an open does (a store
    /// of an older data model is upgraded). Returns the open store and the number of entries:
    /// the caller checks it with this handle, since reopening at once could meet the lock this
    /// one's background threads are still releasing.
    pub fn import(
        dir: &Path,
        mut entries: impl FnMut() -> Result<Option<(Vec<u8>, Vec<u8>)>, String>,
    ) -> Result<(Store, u64), StoreError> {
        create_private_dir(dir).map_err(|e| StoreError::Open {
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
            identity: FileId::of(&dir.join(DB_FILE)),
        };
        let mut count = 0;
        let mut batch = Writes::new();
        loop {
            let next = entries().map_err(StoreError::Failure)?;
            let end = next.is_none();
            if let Some((key, value)) = next {
                batch.insert(key, Some(value));
                count += 1;
            }
            if end || batch.len() >= 10_000 {
                store.commit(std::mem::take(&mut batch))?;
            }
            if end {
                break;
            }
        }
        store.flush_all()?;
        store.check_or_seed(false)?;
        Ok((store, count))
    }

    /// Bytes on disk (for benchmarks and `-v` logs).
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

impl Backend for Store {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.guarded(|| self.db.get(key).map(|v| v.map(|v| v.to_vec())))
    }

    fn scan(&self, prefix: &[u8]) -> Scan<'_> {
        let mut entries = self.db.scan_prefix(prefix);
        Box::new(std::iter::from_fn(move || {
            self.guarded(|| entries.next().transpose())
                .transpose()
                .map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())))
        }))
    }

    /// All the writes or none. Up to [`ONE_BATCH_WRITES`], one sled batch. Beyond, the batch is
    /// first stored whole as a redo record (one insert), then applied in chunks, then the
    /// record is removed: killed in between, the next open re-applies the record
    /// ([`Store::finish_redo`]) — sled's recovery keeps a prefix of its log, so a chunk never
    /// survives without the record before it. Re-applying is harmless: every write sets a
    /// key's final value or removes it.
    fn apply(&self, writes: Writes) -> Result<(), BackendError> {
        self.still_there()?;
        // A reader of the whole store ([`Store::quiesced`]) sees batches whole.
        let _commit = COMMITS.read().unwrap_or_else(|p| p.into_inner());
        if writes.len() <= ONE_BATCH_WRITES {
            return self.apply_chunk(writes.iter());
        }
        let record = redo::encode(&writes);
        // Durable before any chunk: a kill between chunks always finds it.
        self.guarded(|| self.db.insert(REDO_KEY, record).map(|_| ()))?;
        self.guarded(|| self.db.flush().map(|_| ()))?;
        self.apply_in_chunks(&writes, true)?;
        self.guarded(|| self.db.remove(REDO_KEY).map(|_| ()))
    }

    fn flush(&self) -> Result<(), BackendError> {
        self.guarded(|| self.db.flush().map(|_| ()))?;
        self.still_there()
    }
}

impl Store {
    /// One sled batch.
    fn apply_chunk<'w>(
        &self,
        writes: impl Iterator<Item = (&'w Vec<u8>, &'w Option<Vec<u8>>)>,
    ) -> Result<(), BackendError> {
        let mut batch = sled::Batch::default();
        for (key, value) in writes {
            match value {
                Some(v) => batch.insert(key.as_slice(), v.as_slice()),
                None => batch.remove(key.as_slice()),
            }
        }
        self.guarded(|| self.db.apply_batch(batch))
    }

    /// `fault`: the `between-batch-chunks` fault point after the first chunk (a run's batch,
    /// not the completion of a redo record).
    fn apply_in_chunks(&self, writes: &Writes, fault: bool) -> Result<(), BackendError> {
        let mut writes = writes.iter().peekable();
        while writes.peek().is_some() {
            self.apply_chunk(writes.by_ref().take(CHUNK_WRITES))?;
            if fault {
                crate::faults::point("between-batch-chunks");
            }
        }
        Ok(())
    }

    /// Completes a batch a killed process was applying in chunks, if any.
    fn finish_redo(&self) -> Result<(), BackendError> {
        let Some(record) = self.guarded(|| self.db.get(REDO_KEY))? else {
            return Ok(());
        };
        let writes = redo::decode(&record).ok_or_else(|| {
            BackendError(
                StoreError::damaged(&self.path, "its redo record does not decode").to_string(),
            )
        })?;
        tracing::warn!(
            writes = writes.len(),
            "completing a batch an interrupted run was applying"
        );
        self.apply_in_chunks(&writes, false)?;
        self.guarded(|| self.db.remove(REDO_KEY).map(|_| ()))?;
        self.guarded(|| self.db.flush().map(|_| ()))
    }

    /// Runs a sled call: its error, or its panic on a damaged file, becomes a message that
    /// names the store and says what to do.
    fn guarded<T>(&self, call: impl FnOnce() -> sled::Result<T>) -> Result<T, BackendError> {
        match panics::catch(call) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(BackendError(sled_error(&self.path, e).to_string())),
            Err(panic) => Err(BackendError(
                StoreError::damaged(&self.path, panic).to_string(),
            )),
        }
    }

    /// Whether the store's files were deleted or replaced since it was opened.
    pub fn vanished(&self) -> bool {
        self.still_there().is_err()
    }

    /// Fails when the store's log file is no longer the one opened (deleted, or the folder
    /// replaced): sled would go on writing to the unlinked file and report success.
    fn still_there(&self) -> Result<(), BackendError> {
        match &self.identity {
            Some(id) if FileId::of(&self.path.join(DB_FILE)).as_ref() != Some(id) => {
                Err(BackendError(
                    StoreError::Vanished {
                        path: self.path.clone(),
                    }
                    .to_string(),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Which file a path names now (device and inode on Unix).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileId(u64, u64);

impl FileId {
    fn of(path: &Path) -> Option<FileId> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(path)
                .ok()
                .map(|m| FileId(m.dev(), m.ino()))
        }
        #[cfg(not(unix))]
        {
            std::fs::metadata(path).ok().map(|_| FileId(0, 0))
        }
    }
}

/// The store's lock, held without opening sled: for work on a store's files that sled must
/// not have open (clearing interrupted snapshots, replacing a damaged store by a restore).
pub struct FilesLock(Option<std::fs::File>);

impl FilesLock {
    /// Locks the store in `dir` (nothing to lock when it has no log yet).
    pub fn take(dir: &Path) -> Result<FilesLock, StoreError> {
        use fs2::FileExt;
        let Ok(db) = std::fs::File::open(dir.join(DB_FILE)) else {
            return Ok(FilesLock(None));
        };
        if db.try_lock_exclusive().is_err() {
            return Err(StoreError::Locked {
                path: dir.to_path_buf(),
            });
        }
        Ok(FilesLock(Some(db)))
    }
}

impl Drop for FilesLock {
    fn drop(&mut self) {
        if let Some(db) = &self.0 {
            let _ = fs2::FileExt::unlock(db);
        }
    }
}

/// sled 0.34 writes a snapshot to `snap.<lsn>.generating`, then renames it; interrupted (a
/// full disk, a kill), the `.generating` file stays, and sled's next open takes it for the
/// newest snapshot and fails ("Read corrupted data") for good. Such a file is never needed:
/// the previous snapshot is only removed after the rename, and the log holds the rest. It is
/// removed before sled opens, under the store's lock so that a snapshot another process is
/// writing is never touched.
fn clear_interrupted_snapshots(dir: &Path) -> Result<(), StoreError> {
    let _lock = FilesLock::take(dir)?;
    let entries = std::fs::read_dir(dir).map_err(|e| StoreError::Open {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(file = %entry.path().display(), "removing an interrupted snapshot file");
            std::fs::remove_file(entry.path()).map_err(|e| StoreError::Open {
                path: dir.to_path_buf(),
                message: format!("cannot remove the interrupted snapshot {name}: {e}"),
            })?;
        }
    }
    Ok(())
}

fn open_error(dir: &Path, e: sled::Error) -> StoreError {
    let text = e.to_string();
    if text.contains("could not acquire lock") || text.contains("WouldBlock") {
        return StoreError::Locked {
            path: dir.to_path_buf(),
        };
    }
    sled_error(dir, e)
}

/// A sled error as the operator reads it: sled prints I/O errors with `Debug`
/// (`Os { code: 28, kind: StorageFull, .. }`), which says nothing to anyone.
fn sled_error(dir: &Path, e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(io) => StoreError::io(dir, &io),
        sled::Error::Corruption { .. } => {
            StoreError::damaged(dir, "a record or a log segment does not read back")
        }
        other => StoreError::Failure(format!("the store at {}: {other}", dir.display())),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("toolsync-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_panic_inside_sled_is_a_damaged_store_error() {
        crate::panics::install();
        let dir = scratch("panic");
        let store = Store::create(&dir).unwrap();
        let error = store
            .guarded(|| -> sled::Result<()> { panic!("index out of bounds: the len is 0") })
            .unwrap_err();
        assert!(
            error
                .0
                .contains("is damaged (index out of bounds: the len is 0 at ")
                && error.0.contains("toolsync restore"),
            "{}",
            error.0
        );
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Opens a store this process has just dropped. sled's background threads may hold its
    /// files (and so its lock) a moment after the drop; a new process never meets that, a test
    /// in the same process may (seen once in CI): it waits for the lock, a few seconds at most.
    fn reopen(dir: &Path) -> Result<Store, StoreError> {
        for _ in 0..100 {
            match Store::open_existing(dir) {
                Err(StoreError::Locked { .. }) => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                other => return other,
            }
        }
        Store::open_existing(dir)
    }

    /// A batch over the threshold lands whole, and no redo record stays behind; a record left
    /// by a killed process is completed by the next open; a record that does not decode makes
    /// the store refused as damaged, not half-applied.
    #[test]
    fn a_chunked_batch_lands_whole_and_a_left_redo_record_is_completed_at_open() {
        let dir = scratch("redo");
        let store = Store::create(&dir).unwrap();
        let many = |tag: &str| -> Writes {
            (0..ONE_BATCH_WRITES + 5)
                .map(|i| (format!("t\0{tag}{i:06}").into_bytes(), Some(vec![1])))
                .collect()
        };
        store.apply(many("a")).unwrap();
        assert_eq!(store.db.scan_prefix(b"t\0a").count(), ONE_BATCH_WRITES + 5);
        assert_eq!(store.db.get(REDO_KEY).unwrap(), None);
        // What a process killed between chunks leaves: the record, part of the batch.
        let batch = many("b");
        store.db.insert(REDO_KEY, redo::encode(&batch)).unwrap();
        store.apply_chunk(batch.iter().take(CHUNK_WRITES)).unwrap();
        store.db.flush().unwrap();
        drop(store);
        let store = reopen(&dir).unwrap();
        assert_eq!(store.db.scan_prefix(b"t\0b").count(), ONE_BATCH_WRITES + 5);
        assert_eq!(store.db.get(REDO_KEY).unwrap(), None);
        store.db.insert(REDO_KEY, &b"garbage"[..]).unwrap();
        store.db.flush().unwrap();
        drop(store);
        let refused = reopen(&dir).err().expect("refused");
        assert!(
            refused
                .to_string()
                .contains("its redo record does not decode"),
            "{refused}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn io_errors_read_plainly_and_a_full_disk_by_name() {
        let path = Path::new("/data/store");
        let full = sled_error(
            path,
            sled::Error::Io(std::io::Error::from(std::io::ErrorKind::StorageFull)),
        );
        assert_eq!(
            full.to_string(),
            "the disk holding the store at /data/store is full: free some space and run again"
        );
        let other = sled_error(path, sled::Error::Io(std::io::Error::from_raw_os_error(5)));
        let text = other.to_string();
        assert!(
            text.starts_with("I/O error on the store at /data/store: "),
            "{text}"
        );
        assert!(!text.contains("Os {"), "Debug formatting leaked: {text}");
    }

    #[test]
    fn a_store_whose_files_vanish_refuses_to_commit() {
        let dir = scratch("vanish");
        let store = Store::create(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut writes = Writes::new();
        writes.insert(b"user\0x".to_vec(), Some(b"1".to_vec()));
        let error = store.apply(writes).unwrap_err();
        assert!(error.0.contains("was deleted or replaced"), "{}", error.0);
        assert!(store.flush().is_err());
    }
}

/// A batch as one value: for each write, the key's length (u32, big-endian) and bytes, then 0
/// for a removal, or 1, the value's length and bytes. Hand-written: a few lines, no format crate
/// needed for bytes only this module reads.
mod redo {
    use toolsync_plugin_api::engine::Writes;

    pub fn encode(writes: &Writes) -> Vec<u8> {
        let size: usize = writes
            .iter()
            .map(|(k, v)| 9 + k.len() + v.as_ref().map_or(0, Vec::len))
            .sum();
        let mut out = Vec::with_capacity(size);
        for (key, value) in writes {
            out.extend_from_slice(&(key.len() as u32).to_be_bytes());
            out.extend_from_slice(key);
            match value {
                None => out.push(0),
                Some(value) => {
                    out.push(1);
                    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
                    out.extend_from_slice(value);
                }
            }
        }
        out
    }

    pub fn decode(mut bytes: &[u8]) -> Option<Writes> {
        fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            if bytes.len() < n {
                return None;
            }
            let (head, rest) = bytes.split_at(n);
            *bytes = rest;
            Some(head)
        }
        fn length(bytes: &mut &[u8]) -> Option<usize> {
            Some(u32::from_be_bytes(take(bytes, 4)?.try_into().ok()?) as usize)
        }
        let mut writes = Writes::new();
        while !bytes.is_empty() {
            let n = length(&mut bytes)?;
            let key = take(&mut bytes, n)?.to_vec();
            let value = match take(&mut bytes, 1)? {
                [0] => None,
                [1] => {
                    let n = length(&mut bytes)?;
                    Some(take(&mut bytes, n)?.to_vec())
                }
                _ => return None,
            };
            writes.insert(key, value);
        }
        Some(writes)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_batch_survives_its_record_and_garbage_is_refused() {
            let mut writes = Writes::new();
            writes.insert(b"user\0a".to_vec(), Some(b"{}".to_vec()));
            writes.insert(b"user\0b".to_vec(), None);
            writes.insert(Vec::new(), Some(Vec::new()));
            let record = encode(&writes);
            assert_eq!(decode(&record), Some(writes));
            assert_eq!(decode(&record[..record.len() - 1]), None);
            assert_eq!(decode(&[0, 0, 0, 0, 7]), None);
        }
    }
}
