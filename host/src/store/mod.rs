//! The shared store on disk, behind the engine's [`Backend`] trait: sled 0.34 by default
//! ([`sled_engine`]), redb on demand ([`redb_engine`]). Nothing above this module knows which
//! (design.md §7): runs go through [`toolsync_plugin_api::engine`], commands read through
//! [`toolsync_plugin_api::StoreRead`], which every backend implements. What is the same on
//! every engine lives here: the versions and the seed, the check that the store's files are
//! still the ones opened, the lock of a reader of the whole store against commits.
//!
//! The engine of a new store is `store = "sled" | "redb"` in `toolsync.toml` (sled when
//! unset); an existing store is opened with the engine whose file it holds. A store on a
//! PostgreSQL server ([`pg_engine`], `store = "postgres://..."`) has no folder: the setting is
//! where it is.

#[doc(hidden)]
pub mod pg_cluster;
mod pg_engine;
mod redb_engine;
mod sled_engine;

pub use pg_engine::{PgTarget, PASSWORD_VARS, TABLE as SERVER_TABLE};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use toolsync_plugin_api::engine::{Backend, BackendError, Guard, RowTxn, Scan, Staging, Writes};
use toolsync_plugin_api::model::{self, Roles, MODEL_VERSION};
use toolsync_plugin_api::Txn;

use crate::data_dir::create_private_dir;
use crate::error::StoreError;

/// Bumped when the on-disk layout changes; a store written by a newer layout is refused.
pub const STORE_FORMAT: u32 = 1;
pub const META: &str = "_meta";

/// The engine's page cache (sled's, redb's), bounded so that memory does not track the
/// store's size (sled keeps more than its cache resident: see [`sled_engine`]).
pub const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The cache of a run whose rows are few and heavy (an archive's entries: milliseconds of
/// decoding each, a handful of keys): a larger one saves such a run nothing, and filled up as
/// the run went on, it made the run's peak memory grow with the archive's entry count. 2 MiB is
/// full after a few hundred entries; measured on redb against 8 MiB (BENCHMARKS.md, "An
/// archive's memory"), the same speed, and the peak of a 10,000-entry run 15.4 against 23.0 MiB.
pub const SMALL_CACHE_BYTES: u64 = 2 * 1024 * 1024;

/// What an embedded engine does for the store.
trait Engine: Send + Sync {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError>;
    /// In key order, read lazily.
    fn scan(&self, prefix: &[u8]) -> Scan<'_>;
    /// All the writes or none, whatever their number, in bounded memory. Readers of this
    /// handle see them once it returns; they may reach the disk later ([`Engine::flush`]).
    fn apply(&self, writes: Writes) -> Result<(), BackendError>;
    /// Every applied batch durable.
    fn flush(&self) -> Result<(), BackendError>;
    /// Whether the store holds nothing at all.
    fn is_empty(&self) -> Result<bool, BackendError>;
    fn size_on_disk(&self) -> u64;

    /// Whether each read is a round trip to a server: the row pipeline then fetches a chunk's
    /// reads together ([`Engine::get_many`], [`Engine::scan_many`]).
    fn reads_cost_a_round_trip(&self) -> bool {
        false
    }

    /// The values of `keys`, in their order.
    fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, BackendError> {
        keys.iter().map(|k| self.get(k)).collect()
    }

    /// The first `limit` entries under each prefix.
    fn scan_many(
        &self,
        scans: &[(Vec<u8>, usize)],
    ) -> Result<Vec<Vec<toolsync_plugin_api::engine::Entry>>, BackendError> {
        scans
            .iter()
            .map(|(prefix, limit)| self.scan(prefix).take(*limit).collect())
            .collect()
    }

    /// Holds off (or lets go) the commits of other processes while this one reads the whole
    /// store; an embedded engine has no other process.
    fn exclusive_reads(&self, _on: bool) -> Result<(), BackendError> {
        Ok(())
    }

    /// Makes this handle the store's one writer; an embedded engine is when it opens.
    fn claim_writer(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Waits for a batch still being committed, and says how it ended; an embedded engine
    /// has applied every batch by the time `apply` returns.
    fn settle(&self) -> Result<(), BackendError> {
        Ok(())
    }
}

/// The engines a store can be kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    #[default]
    Sled,
    Redb,
    /// On a PostgreSQL server; `store = "postgres://..."` names it.
    Postgres,
}

impl EngineKind {
    /// The engines whose store is a folder.
    pub const EMBEDDED: [EngineKind; 2] = [EngineKind::Sled, EngineKind::Redb];

    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Sled => "sled",
            EngineKind::Redb => "redb",
            EngineKind::Postgres => "postgres",
        }
    }

    /// An embedded engine by name (a server's store is named by its URL).
    pub fn parse(text: &str) -> Option<EngineKind> {
        EngineKind::EMBEDDED.into_iter().find(|k| k.name() == text)
    }

    /// The file that makes a folder a store of this engine.
    fn file(self) -> &'static str {
        match self {
            EngineKind::Sled => sled_engine::FILE,
            EngineKind::Redb => redb_engine::FILE,
            // Never a folder's: `of` and `found` look at the embedded engines only.
            EngineKind::Postgres => "",
        }
    }

    /// The engine of the store in `dir`, if it holds one. A file that is there but cannot be
    /// looked at (an unreadable folder, a dangling link, a folder in its place) counts: the
    /// open then says what is wrong with it, instead of "no store".
    pub fn of(dir: &Path) -> Option<EngineKind> {
        EngineKind::found(dir).into_iter().next()
    }

    /// Every engine whose file `dir` holds (more than one is a folder made by hand).
    fn found(dir: &Path) -> Vec<EngineKind> {
        EngineKind::EMBEDDED
            .into_iter()
            .filter(|k| match std::fs::symlink_metadata(dir.join(k.file())) {
                Ok(_) => true,
                Err(e) => e.kind() != std::io::ErrorKind::NotFound,
            })
            .collect()
    }

    fn open(self, dir: &Path, cache_bytes: u64) -> Result<Arc<dyn Engine>, StoreError> {
        Ok(match self {
            EngineKind::Sled => Arc::new(sled_engine::SledEngine::open(dir, cache_bytes)?),
            EngineKind::Redb => Arc::new(redb_engine::RedbEngine::open(dir, cache_bytes)?),
            EngineKind::Postgres => {
                return Err(StoreError::Open {
                    path: dir.to_path_buf(),
                    message: "a PostgreSQL store is named by its URL, not a folder".into(),
                })
            }
        })
    }
}

/// The on-disk store: handles are cheap clones of one open engine.
#[derive(Clone)]
pub struct Store {
    engine: Arc<dyn Engine>,
    /// Commits take this shared; a reader of the whole store (check, export, backup) takes it
    /// exclusively, so that what it reads is the store between two batches, not a batch half
    /// applied nor a scan that saw one keyspace before a batch and another after it. Shared
    /// by the handles of one open store (the daemon runs readers beside a run); another
    /// store (a copy being written) has its own.
    commits: Arc<std::sync::RwLock<()>>,
    kind: EngineKind,
    path: PathBuf,
    /// The log file's identity when opened: a store folder deleted or replaced under a run is
    /// noticed at the next commit instead of reporting rows committed to a file that is gone.
    identity: Option<FileId>,
    /// Bytes an embedded store's disk keeps free: a commit that would leave less is refused
    /// before it writes anything (see [`DEFAULT_RESERVE`]). 0 on a server.
    reserve: u64,
}

/// The space kept free on the disk of an embedded store (`store_reserve` in toolsync.toml).
/// sled 0.34 does not survive running out of room mid-write: on a tmpfs filled under a run, 1
/// run in 14 here (and one in CI) left a store whose later batch was kept and an earlier one
/// lost (an index entry without its record) — likely because its log buffers are written in
/// parallel and one that failed sits between others that did not (not traced in sled). redb
/// survives it (a test fills a disk under it with the reserve off), but stopping before the
/// disk is full keeps room for everything else a run writes (its report, its tryback) and makes
/// the message clear. 64 MiB holds several batches of the largest rows, sled's preallocated log
/// segments and a snapshot of a large store.
pub const DEFAULT_RESERVE: u64 = 64 << 20;

impl Store {
    /// Whether `dir` holds a store.
    pub fn exists(dir: &Path) -> bool {
        EngineKind::of(dir).is_some()
    }

    /// Opens the store in `dir`; a folder without one is an error (a read command never
    /// creates a store: see [`crate::data_dir`]).
    pub fn open_existing(dir: &Path) -> Result<Store, StoreError> {
        let Some(kind) = EngineKind::of(dir) else {
            return Err(StoreError::Missing {
                path: dir.to_path_buf(),
            });
        };
        Store::open(dir, kind, false, CACHE_BYTES)
    }

    /// Creates and seeds a new store in `dir` (of engine `kind`), or opens the one already
    /// there, with a page cache of `cache_bytes`. An existing store of another engine than
    /// `kind` is refused: its data would not be where the configuration says.
    pub fn create(dir: &Path, kind: EngineKind, cache_bytes: u64) -> Result<Store, StoreError> {
        if let Some(found) = EngineKind::of(dir).filter(|found| *found != kind) {
            return Err(StoreError::Open {
                path: dir.to_path_buf(),
                message: format!(
                    "it is a {} store, and toolsync.toml says `store = \"{}\"`: remove the \
                     setting to go on with it, or move it to a new {} store first (`toolsync \
                     store copy`)",
                    found.name(),
                    kind.name(),
                    kind.name()
                ),
            });
        }
        Store::open(dir, kind, true, cache_bytes)
    }

    /// `may_seed`: a store with no data at all (new, or killed before its first commit) is
    /// seeded; otherwise it is refused as damaged, since an existing log that holds nothing
    /// was emptied or truncated — a read command must not show that as an empty platform.
    fn open(
        dir: &Path,
        kind: EngineKind,
        may_seed: bool,
        cache_bytes: u64,
    ) -> Result<Store, StoreError> {
        // Owner-only; an existing store made readable by others (a data dir made by hand) is
        // tightened.
        create_private_dir(dir).map_err(|e| StoreError::Open {
            path: dir.to_path_buf(),
            message: format!("cannot create the folder: {e}"),
        })?;
        let found = EngineKind::found(dir);
        if found.len() > 1 {
            let files: Vec<&str> = found.iter().map(|k| k.file()).collect();
            return Err(StoreError::Open {
                path: dir.to_path_buf(),
                message: format!(
                    "it holds the files of {} engines ({}): keep one store per folder (move \
                     the other away)",
                    found.len(),
                    files.join(", ")
                ),
            });
        }
        let engine = kind.open(dir, cache_bytes)?;
        let store = Store {
            engine,
            commits: Arc::default(),
            kind,
            path: dir.to_path_buf(),
            identity: FileId::of(&dir.join(kind.file())),
            // Seeding (or upgrading) writes a few records whatever the reserve: the reserve is
            // for runs, and the caller sets the configured one after.
            reserve: 0,
        };
        store.check_or_seed(may_seed)?;
        tracing::info!(path = %dir.display(), engine = kind.name(), "store opened");
        Ok(store.keeping_free(DEFAULT_RESERVE))
    }

    /// The store on a PostgreSQL server. `writer`: this handle will write (a run), so it
    /// takes the store's one-writer lock now (exit 5 if another process has it) and makes
    /// the table on first use; otherwise it only reads, takes no lock, and a database
    /// without the table has no store.
    pub fn connect(target: &PgTarget, writer: bool) -> Result<Store, StoreError> {
        let store = Store::on_server(target, writer)?;
        store.check_or_seed(writer)?;
        tracing::info!(store = target.shown(), engine = "postgres", "store opened");
        Ok(store)
    }

    /// A handle on the store at `target`, its versions not looked at yet; a writer's holds the
    /// one-writer lock and has its table made.
    fn on_server(target: &PgTarget, writer: bool) -> Result<Store, StoreError> {
        let engine = pg_engine::PgEngine::connect(target, writer)?;
        if writer {
            engine.claim_writer()?;
        }
        Ok(Store {
            engine: Arc::new(engine),
            commits: Arc::default(),
            kind: EngineKind::Postgres,
            path: PathBuf::from(target.shown()),
            identity: None,
            reserve: 0,
        })
    }

    /// Waits for a batch still being committed (on a server) and returns how it ended: what is
    /// read afterwards is what the store holds, not what was sent to it.
    pub fn settle(&self) -> Result<(), StoreError> {
        self.engine.settle().map_err(|e| StoreError::Failure(e.0))
    }

    /// Makes this handle the store's one writer (a command that opened it to read, then
    /// writes: a revert, a prune): exit 5 while a run holds it.
    pub fn claim_writer(&self) -> Result<(), StoreError> {
        self.engine.claim_writer()
    }

    /// Keeps `bytes` free on the disk of an embedded store (`store_reserve`): a commit that
    /// would leave less is refused whole. Nothing on a server (its own administrators watch
    /// its disk).
    pub fn keeping_free(mut self, bytes: u64) -> Store {
        if self.kind != EngineKind::Postgres {
            self.reserve = bytes;
        }
        self
    }

    /// The engine the store is kept in.
    pub fn engine(&self) -> EngineKind {
        self.kind
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `read` with no batch committing meanwhile: a consistent view of the whole store
    /// for a check, an export or a backup while the daemon runs a file (its next batch waits).
    pub fn quiesced<T>(&self, read: impl FnOnce() -> T) -> T {
        let _readers = self.commits.write().unwrap_or_else(|p| p.into_inner());
        // Other processes' commits too, on a server (a failure to hold them off is said: the
        // read goes on, as a read of a live store).
        let held = self.engine.exclusive_reads(true);
        if let Err(e) = &held {
            tracing::warn!("cannot hold off other processes' commits while reading: {e}");
        }
        let result = read();
        if held.is_ok() {
            let _ = self.engine.exclusive_reads(false);
        }
        result
    }

    fn check_or_seed(&self, may_seed: bool) -> Result<(), StoreError> {
        let Some(format) = self.meta_number(b"store_format")? else {
            let empty = self.engine.is_empty();
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
        kind: EngineKind,
        entries: impl FnMut() -> Result<Option<(Vec<u8>, Vec<u8>)>, String>,
    ) -> Result<(Store, u64), StoreError> {
        create_private_dir(dir).map_err(|e| StoreError::Open {
            path: dir.to_path_buf(),
            message: format!("cannot create the folder: {e}"),
        })?;
        let store = Store {
            engine: kind.open(dir, CACHE_BYTES)?,
            commits: Arc::default(),
            kind,
            path: dir.to_path_buf(),
            identity: FileId::of(&dir.join(kind.file())),
            reserve: DEFAULT_RESERVE,
        };
        let count = store.fill(entries)?;
        Ok((store, count))
    }

    /// [`Store::import`] into the store on the server `target` (its table made when missing),
    /// which must hold nothing: there is no folder to build it beside, so the version record
    /// is written last — an import killed midway leaves a store that opens as damaged, never
    /// one that looks whole.
    pub fn import_server(
        target: &PgTarget,
        entries: impl FnMut() -> Result<Option<(Vec<u8>, Vec<u8>)>, String>,
    ) -> Result<(Store, u64), StoreError> {
        let store = Store::on_server(target, true)?;
        if !store
            .engine
            .is_empty()
            .map_err(|e| StoreError::Failure(e.0))?
        {
            return Err(StoreError::Open {
                path: store.path.clone(),
                message: format!(
                    "it already holds entries (a store, or an interrupted copy or restore): \
                     a copy or a restore goes into an empty one — a new database, or this one \
                     after `DROP TABLE {}` (once you are sure it holds nothing you need)",
                    pg_engine::TABLE
                ),
            });
        }
        let count = store.fill(entries)?;
        Ok((store, count))
    }

    /// Writes `entries` in batches, the version record last, durably, then checks the
    /// versions as an open does (a store of an older data model is upgraded). Returns the
    /// number of entries written.
    fn fill(
        &self,
        mut entries: impl FnMut() -> Result<Option<(Vec<u8>, Vec<u8>)>, String>,
    ) -> Result<u64, StoreError> {
        let version = toolsync_plugin_api::engine::full_key(META, b"store_format");
        let mut held_back = None;
        let mut count = 0;
        let mut batch = Writes::new();
        loop {
            let next = entries().map_err(StoreError::Failure)?;
            let end = next.is_none();
            if let Some((key, value)) = next {
                count += 1;
                if key == version {
                    held_back = Some(value);
                } else {
                    batch.insert(key, Some(value));
                }
            }
            if end {
                if let Some(value) = held_back.take() {
                    batch.insert(version.clone(), Some(value));
                }
            }
            if end || batch.len() >= 10_000 {
                self.commit(std::mem::take(&mut batch))?;
            }
            if end {
                break;
            }
        }
        self.flush_all()?;
        self.check_or_seed(false)?;
        Ok(count)
    }

    /// Bytes on disk (for benchmarks and `-v` logs).
    pub fn size_on_disk(&self) -> u64 {
        self.engine.size_on_disk()
    }
}

impl Backend for Store {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.engine.get(key)
    }

    fn scan(&self, prefix: &[u8]) -> Scan<'_> {
        self.engine.scan(prefix)
    }

    /// All the writes or none, however many (each engine keeps a large batch's memory
    /// bounded its own way).
    fn apply(&self, writes: Writes) -> Result<(), BackendError> {
        self.still_there()?;
        self.room_for(&writes)?;
        // A reader of the whole store ([`Store::quiesced`]) sees batches whole.
        let _commit = self.commits.read().unwrap_or_else(|p| p.into_inner());
        self.engine.apply(writes)
    }

    fn flush(&self) -> Result<(), BackendError> {
        self.engine.flush()?;
        self.still_there()
    }

    fn reads_cost_a_round_trip(&self) -> bool {
        self.engine.reads_cost_a_round_trip()
    }

    fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, BackendError> {
        self.engine.get_many(keys)
    }

    fn scan_many(
        &self,
        scans: &[(Vec<u8>, usize)],
    ) -> Result<Vec<Vec<toolsync_plugin_api::engine::Entry>>, BackendError> {
        self.engine.scan_many(scans)
    }
}

impl Store {
    /// Whether the store's files were deleted or replaced since it was opened.
    pub fn vanished(&self) -> bool {
        self.still_there().is_err()
    }

    /// Fails when the store's file is no longer the one opened (deleted, or the folder
    /// replaced): the engine would go on writing to the unlinked file and report success.
    fn still_there(&self) -> Result<(), BackendError> {
        match &self.identity {
            Some(id) if FileId::of(&self.path.join(self.kind.file())).as_ref() != Some(id) => {
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

    /// Fails when committing `writes` would leave less than the reserve free on the store's
    /// disk. A write takes about twice its bytes (sled logs it, then rewrites its pages; redb
    /// copies the pages it changes).
    fn room_for(&self, writes: &Writes) -> Result<(), BackendError> {
        if self.reserve == 0 {
            return Ok(());
        }
        let Ok(free) = fs2::available_space(&self.path) else {
            // A file system that cannot say: the engine meets a full disk as it would anyway.
            return Ok(());
        };
        let bytes: u64 = writes
            .iter()
            .map(|(k, v)| (k.len() + v.as_ref().map_or(0, Vec::len)) as u64)
            .sum();
        if free >= self.reserve.saturating_add(bytes.saturating_mul(2)) {
            return Ok(());
        }
        tracing::warn!(
            free,
            reserve = self.reserve,
            batch_bytes = bytes,
            "store disk nearly full"
        );
        Err(BackendError(
            StoreError::NearlyFull {
                path: self.path.clone(),
                free: format!("{:.1} MiB", free as f64 / f64::from(1 << 20)),
                reserve: toolsync_archive::human_size(self.reserve),
            }
            .to_string(),
        ))
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

/// The store's lock, held without opening it: for work on a store's files that the engine
/// must not have open (clearing interrupted snapshots, replacing a damaged store by a
/// restore). sled and redb both lock their file with `flock`, which this takes too.
pub struct FilesLock(Option<std::fs::File>);

impl FilesLock {
    /// Locks the store in `dir` (nothing to lock when it has no file yet).
    pub fn take(dir: &Path) -> Result<FilesLock, StoreError> {
        use fs2::FileExt;
        let Some(file) =
            EngineKind::of(dir).and_then(|k| std::fs::File::open(dir.join(k.file())).ok())
        else {
            return Ok(FilesLock(None));
        };
        if file.try_lock_exclusive().is_err() {
            return Err(StoreError::Locked {
                path: dir.to_path_buf(),
            });
        }
        Ok(FilesLock(Some(file)))
    }
}

impl Drop for FilesLock {
    fn drop(&mut self) {
        if let Some(file) = &self.0 {
            let _ = fs2::FileExt::unlock(file);
        }
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
pub(crate) mod tests {
    use super::*;

    pub fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("toolsync-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Opens a store this process has just dropped. sled's background threads may hold its
    /// files (and so its lock) a moment after the drop; a new process never meets that, a test
    /// in the same process may (seen once in CI): it waits for the lock, a few seconds at most.
    pub fn reopen(dir: &Path, kind: EngineKind) -> Result<Store, StoreError> {
        for _ in 0..100 {
            match Store::open_existing(dir) {
                Err(StoreError::Locked { .. }) => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                Ok(store) => {
                    assert_eq!(store.engine(), kind);
                    return Ok(store);
                }
                other => return other,
            }
        }
        Store::open_existing(dir)
    }

    fn writes(entries: &[(&str, Option<&str>)]) -> Writes {
        entries
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
            .collect()
    }

    fn scanned(store: &Store, prefix: &str) -> Vec<(String, String)> {
        store
            .scan(prefix.as_bytes())
            .map(|item| {
                let (k, v) = item.unwrap();
                (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap())
            })
            .collect()
    }

    /// Where a contract test keeps its store on each engine.
    enum Place {
        Folder(PathBuf, EngineKind),
        Server(Box<PgTarget>),
    }

    impl Place {
        fn new(name: &str, kind: EngineKind) -> Place {
            match kind {
                EngineKind::Postgres => {
                    let url = pg_cluster::Cluster::shared().database(&format!("contract_{name}"));
                    Place::Server(Box::new(PgTarget::parse(&url, None).unwrap()))
                }
                embedded => {
                    Place::Folder(scratch(&format!("{name}-{}", embedded.name())), embedded)
                }
            }
        }

        /// A writer's handle (a run's).
        fn create(&self) -> Store {
            match self {
                Place::Folder(dir, kind) => Store::create(dir, *kind, 8 << 20).unwrap(),
                Place::Server(target) => Store::connect(target, true).unwrap(),
            }
        }

        /// The store opened again after its handle was dropped.
        fn reopen(&self) -> Store {
            match self {
                Place::Folder(dir, kind) => reopen(dir, *kind).unwrap(),
                Place::Server(target) => Store::connect(target, false).unwrap(),
            }
        }

        fn remove(self) {
            if let Place::Folder(dir, _) = self {
                std::fs::remove_dir_all(&dir).unwrap();
            }
        }
    }

    const ALL: [EngineKind; 3] = [EngineKind::Sled, EngineKind::Redb, EngineKind::Postgres];

    /// The contract every engine keeps: a new store is seeded; a batch lands whole, removals
    /// included; scans are in key order and stop at their prefix, across pages; a large batch
    /// (past sled's chunking threshold, several PostgreSQL statements) lands whole; many keys
    /// and many prefixes are read at once as one at a time; what was flushed is there after a
    /// reopen.
    #[test]
    fn every_engine_keeps_the_store_contract() {
        for kind in ALL {
            let place = Place::new("contract", kind);
            let store = place.create();
            assert_eq!(store.versions().unwrap(), (STORE_FORMAT, MODEL_VERSION));
            store
                .apply(writes(&[
                    ("t\0b", Some("2")),
                    ("t\0a", Some("1")),
                    ("t\0c", Some("3")),
                    ("u\0a", Some("x")),
                    ("t\0\u{7f}", Some("z")),
                ]))
                .unwrap();
            store
                .apply(writes(&[
                    ("t\0c", None),
                    ("t\0ab", Some("12")),
                    ("t\0\u{7f}", None),
                ]))
                .unwrap();
            assert_eq!(
                scanned(&store, "t\0"),
                vec![
                    ("t\0a".to_string(), "1".to_string()),
                    ("t\0ab".to_string(), "12".to_string()),
                    ("t\0b".to_string(), "2".to_string())
                ],
                "{kind:?}"
            );
            assert_eq!(scanned(&store, "t\0a").len(), 2);
            assert_eq!(store.get(b"t\0c").unwrap(), None);
            let many: Writes = (0..25_000)
                .map(|i| (format!("m\0{i:06}").into_bytes(), Some(vec![b'v'; 40])))
                .collect();
            store.apply(many).unwrap();
            let keys: Vec<Vec<u8>> = store.scan(b"m\0").map(|e| e.unwrap().0).collect();
            assert_eq!(keys.len(), 25_000, "{kind:?}");
            assert!(
                keys.windows(2).all(|w| w[0] < w[1]),
                "{kind:?}: out of order"
            );
            let asked = vec![b"m\x00000007".to_vec(), b"t\0zz".to_vec(), b"u\0a".to_vec()];
            assert_eq!(
                store.get_many(&asked).unwrap(),
                vec![Some(vec![b'v'; 40]), None, Some(b"x".to_vec())],
                "{kind:?}"
            );
            let scans = store
                .scan_many(&[
                    (b"t\0".to_vec(), 2),
                    (b"none\0".to_vec(), 5),
                    (b"m\0".to_vec(), 3),
                ])
                .unwrap();
            let firsts: Vec<usize> = scans.iter().map(Vec::len).collect();
            assert_eq!(firsts, [2, 0, 3], "{kind:?}");
            assert_eq!(scans[0][1].0, b"t\0ab".to_vec(), "{kind:?}");
            store.flush_all().unwrap();
            drop(store);
            let store = place.reopen();
            assert_eq!(store.get(b"u\0a").unwrap(), Some(b"x".to_vec()));
            assert_eq!(store.scan(b"m\0").count(), 25_000, "{kind:?}");
            drop(store);
            place.remove();
        }
    }

    /// A store is found again from its folder, and a store of another engine is refused by
    /// name.
    #[test]
    fn a_folder_keeps_its_engine() {
        for kind in EngineKind::EMBEDDED {
            let dir = scratch(&format!("engine-{}", kind.name()));
            drop(Store::create(&dir, kind, 8 << 20).unwrap());
            assert_eq!(reopen(&dir, kind).unwrap().engine(), kind);
            let other = EngineKind::EMBEDDED
                .into_iter()
                .find(|k| *k != kind)
                .unwrap();
            let refused = Store::create(&dir, other, 8 << 20).err().expect("refused");
            assert!(
                refused
                    .to_string()
                    .contains(&format!("it is a {} store", kind.name())),
                "{refused}"
            );
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// On PostgreSQL, one writer at a time (the second is `Locked`, exit 5), readers always,
    /// and the lock goes with the writer's session.
    #[test]
    fn a_server_store_has_one_writer_and_any_readers() {
        let url = pg_cluster::Cluster::shared().database("one_writer");
        let target = PgTarget::parse(&url, None).unwrap();
        let writer = Store::connect(&target, true).unwrap();
        assert!(matches!(
            Store::connect(&target, true),
            Err(StoreError::Locked { .. })
        ));
        let reader = Store::connect(&target, false).unwrap();
        assert_eq!(reader.versions().unwrap(), (STORE_FORMAT, MODEL_VERSION));
        // A reader that writes is refused while the writer lives.
        let refused = reader.apply(writes(&[("t\0x", Some("1"))])).unwrap_err();
        assert!(
            refused.0.contains("in use by another toolsync process"),
            "{}",
            refused.0
        );
        drop(writer);
        reader.apply(writes(&[("t\0x", Some("1"))])).unwrap();
        assert!(matches!(
            Store::connect(&target, true),
            Err(StoreError::Locked { .. })
        ));
        drop(reader);
        let missing = Store::connect(
            &PgTarget::parse(&pg_cluster::Cluster::shared().database("no_store"), None).unwrap(),
            false,
        );
        assert!(matches!(missing, Err(StoreError::Missing { .. })));
    }

    /// On PostgreSQL a batch is committed on a second session while the writer goes on: until
    /// it is, the writer's reads answer from it. Held back here by a reader of the whole store
    /// (the batch waits for it), the batch must already show — changed, added and removed
    /// keys, in gets, scans and the many-at-once reads — and only to the writer; then land.
    #[test]
    fn a_batch_in_flight_reads_as_committed_on_postgres() {
        let url = pg_cluster::Cluster::shared().database("in_flight");
        let target = PgTarget::parse(&url, None).unwrap();
        let writer = Store::connect(&target, true).unwrap();
        writer
            .apply(writes(&[
                ("t\0a", Some("1")),
                ("t\0b", Some("2")),
                ("t\0c", Some("3")),
            ]))
            .unwrap();
        writer.flush_all().unwrap();
        let reader = Store::connect(&target, false).unwrap();
        reader.quiesced(|| {
            writer
                .apply(writes(&[
                    ("t\0a", None),
                    ("t\0b", Some("two")),
                    ("t\0bb", Some("4")),
                ]))
                .unwrap();
            assert_eq!(writer.get(b"t\0a").unwrap(), None);
            assert_eq!(writer.get(b"t\0b").unwrap(), Some(b"two".to_vec()));
            assert_eq!(
                scanned(&writer, "t\0"),
                [("t\0b", "two"), ("t\0bb", "4"), ("t\0c", "3")]
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            );
            assert_eq!(
                writer
                    .get_many(&[b"t\0a".to_vec(), b"t\0bb".to_vec(), b"t\0c".to_vec()])
                    .unwrap(),
                [None, Some(b"4".to_vec()), Some(b"3".to_vec())]
            );
            let firsts = writer.scan_many(&[(b"t\0".to_vec(), 2)]).unwrap();
            assert_eq!(firsts[0].len(), 2);
            assert_eq!(firsts[0][0].1, b"two".to_vec());
            // Not committed yet: another session still sees the store before the batch.
            assert_eq!(reader.get(b"t\0a").unwrap(), Some(b"1".to_vec()));
        });
        writer.flush_all().unwrap();
        assert_eq!(reader.get(b"t\0a").unwrap(), None);
        assert_eq!(scanned(&reader, "t\0").len(), 3);
    }

    /// A second open of a store another handle holds is `Locked` (exit 5 with its message),
    /// on every engine.
    #[test]
    fn a_store_open_elsewhere_is_locked() {
        for kind in EngineKind::EMBEDDED {
            let dir = scratch(&format!("locked-{}", kind.name()));
            let _store = Store::create(&dir, kind, 8 << 20).unwrap();
            assert!(
                matches!(FilesLock::take(&dir), Err(StoreError::Locked { .. })),
                "{kind:?}"
            );
            drop(_store);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn a_store_whose_files_vanish_refuses_to_commit() {
        for kind in EngineKind::EMBEDDED {
            let dir = scratch(&format!("vanish-{}", kind.name()));
            let store = Store::create(&dir, kind, 8 << 20).unwrap();
            std::fs::remove_dir_all(&dir).unwrap();
            let error = store.apply(writes(&[("user\0x", Some("1"))])).unwrap_err();
            assert!(error.0.contains("was deleted or replaced"), "{}", error.0);
            assert!(store.flush().is_err());
        }
    }
}
