//! The default engine: sled 0.34, one tree of `space NUL key` entries. A sled `Batch` applies
//! atomically to one tree, so a whole batch of rows and the run's journal record commit
//! together with one call, and a keyspace scan is a plain `scan_prefix`. (sled's multi-tree
//! transactions have no scan at all, and re-run their closure on conflict.)

use std::path::{Path, PathBuf};

use toolsync_plugin_api::engine::{BackendError, Scan, Writes};

use super::{Engine, FilesLock};
use crate::error::StoreError;
use crate::panics;

/// The file sled keeps its log in; its presence is what makes a folder a sled store.
pub const FILE: &str = "db";

/// Writes beyond which a batch goes to sled in chunks of [`CHUNK_WRITES`], under a redo
/// record (see [`SledEngine::apply`]). A sled batch's memory grows faster than its size: one
/// row binding a cohort of 50,000 members (~350,000 writes) peaked at 1.5 GB applied as one
/// sled batch, 1.0 GB in chunks of 20,000, 0.9 GB in chunks of 10,000 and 0.2–0.3 GB in chunks
/// of 1,000 (release build, `/usr/bin/time`). Batches of ordinary rows (2,000 rows of a few
/// writes) stay under the threshold and go to sled as they always did.
pub(super) const ONE_BATCH_WRITES: usize = 20_000;

/// Writes per sled batch when a batch is applied in chunks.
const CHUNK_WRITES: usize = 1_000;

/// The redo record of a batch being applied in chunks: the whole batch, so that a process
/// killed between two chunks is completed when the store is next opened.
const REDO_KEY: &[u8] = b"_redo\0batch";

pub struct SledEngine {
    /// Always `Some` but in `drop`.
    db: Option<sled::Db>,
    path: PathBuf,
    /// An I/O error was met (a full disk): see the `Drop` impl.
    io_failed: std::sync::atomic::AtomicBool,
}

/// How long a store that met an I/O error may take to close: its last flush usually ends in
/// well under a second, and must be let finish (cut short, it left a batch half in the log:
/// an index entry without its record, seen in 2 of 6 full-disk trials with a 2 s bound).
const CLOSE_AFTER_IO_ERROR: std::time::Duration = std::time::Duration::from_secs(30);

impl Drop for SledEngine {
    /// sled flushes when its last handle goes. After an I/O error (seen with a full disk) that
    /// flush can wait forever for a write that failed: the process hung at its exit instead of
    /// reporting the full disk. So a store that met one is closed on a thread of its own, and
    /// left to the process's end if it does not close in [`CLOSE_AFTER_IO_ERROR`]; what was
    /// committed before the error is in the log already (sled recovers to it at the next open).
    fn drop(&mut self) {
        let Some(db) = self.db.take() else { return };
        if !self.io_failed.load(std::sync::atomic::Ordering::Acquire) {
            return drop(db);
        }
        let (closed, waiting) = std::sync::mpsc::channel();
        let closing = std::thread::Builder::new()
            .name("sled-close".into())
            .spawn(move || {
                drop(db);
                let _ = closed.send(());
            });
        let started = std::time::Instant::now();
        if closing.is_ok() && waiting.recv_timeout(CLOSE_AFTER_IO_ERROR).is_err() {
            tracing::warn!(
                store = %self.path.display(),
                "the store did not close within {CLOSE_AFTER_IO_ERROR:?} after an I/O error: it \
                 is left to the end of the process; run `toolsync check` before the next run"
            );
        } else {
            tracing::debug!(elapsed = ?started.elapsed(), "store closed after an I/O error");
        }
    }
}

impl SledEngine {
    /// Opens (or creates) the sled store in `dir`, completing a batch a killed process was
    /// applying in chunks.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<SledEngine, StoreError> {
        clear_interrupted_snapshots(dir)?;
        let config = sled::Config::new().path(dir).cache_capacity(cache_bytes);
        let db = panics::catch(|| config.open())
            .map_err(|panic| StoreError::damaged(dir, panic))?
            .map_err(|e| open_error(dir, e))?;
        let engine = SledEngine {
            db: Some(db),
            path: dir.to_path_buf(),
            io_failed: std::sync::atomic::AtomicBool::new(false),
        };
        engine.finish_redo().map_err(|e| StoreError::Failure(e.0))?;
        Ok(engine)
    }

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
        self.guarded(|| self.db().apply_batch(batch))
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
        let Some(record) = self.guarded(|| self.db().get(REDO_KEY))? else {
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
        self.guarded(|| self.db().remove(REDO_KEY).map(|_| ()))?;
        self.guarded(|| self.db().flush().map(|_| ()))
    }

    /// Runs a sled call: its error, or its panic on a damaged file, becomes a message that
    /// names the store and says what to do.
    fn guarded<T>(&self, call: impl FnOnce() -> sled::Result<T>) -> Result<T, BackendError> {
        match panics::catch(call) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if matches!(e, sled::Error::Io(_)) {
                    self.io_failed
                        .store(true, std::sync::atomic::Ordering::Release);
                }
                Err(BackendError(sled_error(&self.path, e).to_string()))
            }
            Err(panic) => Err(BackendError(
                StoreError::damaged(&self.path, panic).to_string(),
            )),
        }
    }
}

impl SledEngine {
    fn db(&self) -> &sled::Db {
        self.db
            .as_ref()
            .expect("the store is open until it is dropped")
    }
}

impl Engine for SledEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.guarded(|| self.db().get(key).map(|v| v.map(|v| v.to_vec())))
    }

    fn scan(&self, prefix: &[u8]) -> Scan<'_> {
        let mut entries = self.db().scan_prefix(prefix);
        Box::new(std::iter::from_fn(move || {
            self.guarded(|| entries.next().transpose())
                .transpose()
                .map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())))
        }))
    }

    /// All the writes or none. Up to [`ONE_BATCH_WRITES`], one sled batch. Beyond, the batch is
    /// first stored whole as a redo record (one insert), then applied in chunks, then the
    /// record is removed: killed in between, the next open re-applies the record
    /// ([`SledEngine::finish_redo`]) — sled's recovery keeps a prefix of its log, so a chunk
    /// never survives without the record before it. Re-applying is harmless: every write sets
    /// a key's final value or removes it.
    fn apply(&self, writes: Writes) -> Result<(), BackendError> {
        let writes = &writes;
        if writes.len() <= ONE_BATCH_WRITES {
            return self.apply_chunk(writes.iter());
        }
        let record = redo::encode(writes);
        // Durable before any chunk: a kill between chunks always finds it.
        self.guarded(|| self.db().insert(REDO_KEY, record).map(|_| ()))?;
        self.guarded(|| self.db().flush().map(|_| ()))?;
        self.apply_in_chunks(writes, true)?;
        self.guarded(|| self.db().remove(REDO_KEY).map(|_| ()))
    }

    /// sled flushes by itself every 500 ms otherwise.
    fn flush(&self) -> Result<(), BackendError> {
        self.guarded(|| self.db().flush().map(|_| ()))
    }

    fn is_empty(&self) -> Result<bool, BackendError> {
        self.guarded(|| self.db().first().map(|f| f.is_none()))
    }

    fn size_on_disk(&self) -> u64 {
        self.db().size_on_disk().unwrap_or(0)
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

/// A batch as one value: its writes in [`crate::write_bytes`]' layout.
mod redo {
    use toolsync_plugin_api::engine::Writes;

    use crate::write_bytes;

    pub fn encode(writes: &Writes) -> Vec<u8> {
        let size: usize = writes
            .iter()
            .map(|(k, v)| write_bytes::size(k, v.as_deref()))
            .sum();
        let mut out = Vec::with_capacity(size);
        for (key, value) in writes {
            write_bytes::push(&mut out, key, value.as_deref());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Writes> {
        write_bytes::read(bytes)
            .map(|write| write.map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec))))
            .collect::<Result<Writes, ()>>()
            .ok()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{reopen, scratch};
    use crate::store::EngineKind;

    #[test]
    fn a_panic_inside_sled_is_a_damaged_store_error() {
        crate::panics::install();
        let dir = scratch("panic");
        std::fs::create_dir_all(&dir).unwrap();
        let engine = SledEngine::open(&dir, 1 << 20).unwrap();
        let error = engine
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
        drop(engine);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A batch over the threshold lands whole, and no redo record stays behind; a record left
    /// by a killed process is completed by the next open; a record that does not decode makes
    /// the store refused as damaged, not half-applied.
    #[test]
    fn a_chunked_batch_lands_whole_and_a_left_redo_record_is_completed_at_open() {
        let dir = scratch("redo");
        std::fs::create_dir_all(&dir).unwrap();
        let many = |tag: &str| -> Writes {
            (0..ONE_BATCH_WRITES + 5)
                .map(|i| (format!("t\0{tag}{i:06}").into_bytes(), Some(vec![1])))
                .collect()
        };
        {
            let engine = SledEngine::open(&dir, 1 << 20).unwrap();
            engine.apply(many("a")).unwrap();
            assert_eq!(
                engine.db().scan_prefix(b"t\0a").count(),
                ONE_BATCH_WRITES + 5
            );
            assert_eq!(engine.db().get(REDO_KEY).unwrap(), None);
            // What a process killed between chunks leaves: the record, part of the batch.
            let batch = many("b");
            engine.db().insert(REDO_KEY, redo::encode(&batch)).unwrap();
            engine.apply_chunk(batch.iter().take(CHUNK_WRITES)).unwrap();
            engine.db().flush().unwrap();
        }
        {
            let engine = reopen_engine(&dir);
            assert_eq!(
                engine.db().scan_prefix(b"t\0b").count(),
                ONE_BATCH_WRITES + 5
            );
            assert_eq!(engine.db().get(REDO_KEY).unwrap(), None);
            engine.db().insert(REDO_KEY, &b"garbage"[..]).unwrap();
            engine.db().flush().unwrap();
        }
        let refused = reopen(&dir, EngineKind::Sled).err().expect("refused");
        assert!(
            refused
                .to_string()
                .contains("its redo record does not decode"),
            "{refused}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// [`SledEngine::open`] once sled's background threads of a dropped handle let go.
    fn reopen_engine(dir: &Path) -> SledEngine {
        for _ in 0..100 {
            match SledEngine::open(dir, 1 << 20) {
                Err(StoreError::Locked { .. }) => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                other => return other.unwrap(),
            }
        }
        SledEngine::open(dir, 1 << 20).unwrap()
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
}
