//! Reads fetched together, for a backend where each read is a round trip to a server.
//!
//! A users row reads two or three keys; one query each, a run on PostgreSQL managed ~3,000
//! rows/s where sled does three times more. So before a chunk of rows is applied, its rows are
//! **prepared in waves** ([`crate::RowHandler::prepare`], which only reads): in a wave, every
//! read the cache cannot answer is noted and fails with [`PENDING`] (a prepare gives up on
//! its row at the first one); the keys and prefixes noted by the whole chunk are then fetched
//! in one query each ([`Backend::get_many`], [`Backend::scan_many`]), and the rows that missed
//! are prepared again, until none misses (reads that depend on earlier ones — an index entry,
//! then its record — take one wave each). `apply` then reads from the cache.
//!
//! **The cache is exact.** It holds what the backend held when the chunk began, and every batch
//! committed through it updates it (a written key takes its new value; a cached scan under a
//! written key is dropped), so it always answers as the backend would; staged writes are layered
//! over it as over the backend. A read it cannot answer goes to the backend and is kept (read
//! through). It is emptied at each chunk, so its memory is a chunk's reads.
//!
//! Embedded engines (sled, redb) answer a read in microseconds: they are not wrapped, and lose
//! nothing by this.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

use super::backend::{Backend, BackendError, Entry, Scan, Writes};

/// The error of a read the cache cannot answer during a wave.
pub const PENDING: &str = "read pending: fetched with the chunk's other reads";

/// Waves before the rows still missing are prepared against the backend itself.
pub const MAX_WAVES: usize = 4;

/// Entries fetched under each prefix a wave scans: a look-up through an index of one or a few
/// entries is answered whole; a longer scan goes on from the backend.
const SCAN_AHEAD: usize = 16;

thread_local! {
    /// Reads this thread could not answer in a wave (a row missed if it grew).
    static MISSES: Cell<u64> = const { Cell::new(0) };
}

/// The misses of this thread so far (compared before and after a row's prepare).
pub fn misses() -> u64 {
    MISSES.with(Cell::get)
}

struct CachedScan {
    entries: Vec<Entry>,
    /// Every entry under the prefix (fewer than were asked for came back).
    complete: bool,
}

#[derive(Default)]
struct Wanted {
    keys: HashSet<Vec<u8>>,
    prefixes: HashSet<Vec<u8>>,
}

/// A backend with a chunk's reads cached in front of it.
pub struct Prefetch<'b> {
    inner: &'b dyn Backend,
    gets: RwLock<HashMap<Vec<u8>, Option<Vec<u8>>>>,
    scans: RwLock<HashMap<Vec<u8>, CachedScan>>,
    in_wave: AtomicBool,
    wanted: Mutex<Wanted>,
}

impl<'b> Prefetch<'b> {
    pub fn new(inner: &'b dyn Backend) -> Self {
        Prefetch {
            inner,
            gets: RwLock::default(),
            scans: RwLock::default(),
            in_wave: AtomicBool::new(false),
            wanted: Mutex::default(),
        }
    }

    /// Empties the cache: a new chunk begins.
    pub fn clear(&self) {
        write(&self.gets).clear();
        write(&self.scans).clear();
    }

    /// From now on until [`Prefetch::end_wave`], reads the cache cannot answer are noted and
    /// fail with [`PENDING`].
    pub fn begin_wave(&self) {
        self.in_wave.store(true, Ordering::Release);
    }

    /// Ends a wave: fetches what it noted, in one query for the keys and one for the
    /// prefixes. Returns whether there was anything to fetch.
    pub fn end_wave(&self) -> Result<bool, BackendError> {
        self.in_wave.store(false, Ordering::Release);
        let wanted = std::mem::take(&mut *self.wanted.lock().unwrap_or_else(|p| p.into_inner()));
        if wanted.keys.is_empty() && wanted.prefixes.is_empty() {
            return Ok(false);
        }
        let keys: Vec<Vec<u8>> = wanted.keys.into_iter().collect();
        let values = self.inner.get_many(&keys)?;
        write(&self.gets).extend(keys.into_iter().zip(values));
        let scans: Vec<(Vec<u8>, usize)> = wanted
            .prefixes
            .into_iter()
            .map(|p| (p, SCAN_AHEAD))
            .collect();
        let found = self.inner.scan_many(&scans)?;
        let mut cached = write(&self.scans);
        for ((prefix, asked), entries) in scans.into_iter().zip(found) {
            let complete = entries.len() < asked;
            cached.insert(prefix, CachedScan { entries, complete });
        }
        Ok(true)
    }

    fn pending(&self, want: impl FnOnce(&mut Wanted)) -> BackendError {
        want(&mut self.wanted.lock().unwrap_or_else(|p| p.into_inner()));
        MISSES.with(|m| m.set(m.get() + 1));
        BackendError(PENDING.into())
    }

    /// The cache after a committed batch: it answers as the backend now does.
    fn committed(&self, writes: &Writes) {
        let mut gets = write(&self.gets);
        let mut scans = write(&self.scans);
        for (key, value) in writes {
            if let Some(cached) = gets.get_mut(key) {
                cached.clone_from(value);
            }
            if !scans.is_empty() {
                for end in 0..=key.len() {
                    scans.remove(&key[..end]);
                }
            }
        }
    }
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

impl Backend for Prefetch<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        if let Some(value) = read(&self.gets).get(key) {
            return Ok(value.clone());
        }
        if self.in_wave.load(Ordering::Acquire) {
            return Err(self.pending(|w| {
                w.keys.insert(key.to_vec());
            }));
        }
        let value = self.inner.get(key)?;
        write(&self.gets).insert(key.to_vec(), value.clone());
        Ok(value)
    }

    fn scan(&self, prefix: &[u8]) -> Scan<'_> {
        if let Some(cached) = read(&self.scans).get(prefix) {
            let entries = cached.entries.clone();
            if cached.complete {
                return Box::new(entries.into_iter().map(Ok));
            }
            // The rest from the backend, after the last cached entry.
            let last = entries.last().map(|(k, _)| k.clone()).unwrap_or_default();
            let rest = self
                .inner
                .scan(prefix)
                .filter(move |item| item.as_ref().map_or(true, |(k, _)| *k > last));
            return Box::new(entries.into_iter().map(Ok).chain(rest));
        }
        if self.in_wave.load(Ordering::Acquire) {
            let error = self.pending(|w| {
                w.prefixes.insert(prefix.to_vec());
            });
            return Box::new(std::iter::once(Err(error)));
        }
        self.inner.scan(prefix)
    }

    fn apply(&self, writes: Writes) -> Result<(), BackendError> {
        // The cache is brought up to date whatever the outcome: a failed commit stops the run.
        self.committed(&writes);
        self.inner.apply(writes)
    }

    fn flush(&self) -> Result<(), BackendError> {
        self.inner.flush()
    }

    fn reads_cost_a_round_trip(&self) -> bool {
        self.inner.reads_cost_a_round_trip()
    }

    fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, BackendError> {
        self.inner.get_many(keys)
    }

    fn scan_many(&self, scans: &[(Vec<u8>, usize)]) -> Result<Vec<Vec<Entry>>, BackendError> {
        self.inner.scan_many(scans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MemoryBackend;

    fn put(backend: &dyn Backend, entries: &[(&str, Option<&str>)]) {
        backend
            .apply(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
                    .collect(),
            )
            .unwrap();
    }

    fn scanned(backend: &dyn Backend, prefix: &str) -> Vec<String> {
        backend
            .scan(prefix.as_bytes())
            .map(|e| String::from_utf8(e.unwrap().0).unwrap())
            .collect()
    }

    /// A wave notes what it misses and fails it; the fetch answers it next time; commits
    /// through the cache keep it answering as the backend does (a key changed, a key added
    /// under a cached prefix, a key removed).
    #[test]
    fn the_cache_answers_as_the_backend_does() {
        let memory = MemoryBackend::new();
        put(
            &memory,
            &[
                ("a\0x", Some("1")),
                ("i\0k1", Some("")),
                ("i\0k2", Some("")),
            ],
        );
        let cache = Prefetch::new(&memory);
        cache.begin_wave();
        let before = misses();
        assert_eq!(cache.get(b"a\0x").unwrap_err().0, PENDING);
        assert!(cache.scan(b"i\0").next().unwrap().is_err());
        assert_eq!(misses(), before + 2);
        assert!(cache.end_wave().unwrap());
        cache.begin_wave();
        assert_eq!(cache.get(b"a\0x").unwrap(), Some(b"1".to_vec()));
        assert_eq!(scanned(&cache, "i\0"), ["i\0k1", "i\0k2"]);
        assert!(!cache.end_wave().unwrap(), "nothing missed");

        put(
            &cache,
            &[("a\0x", Some("2")), ("i\0k0", Some("")), ("i\0k2", None)],
        );
        assert_eq!(cache.get(b"a\0x").unwrap(), Some(b"2".to_vec()));
        assert_eq!(scanned(&cache, "i\0"), ["i\0k0", "i\0k1"]);
        // Read through, outside a wave, and kept.
        assert_eq!(cache.get(b"a\0y").unwrap(), None);
        put(&memory, &[("a\0y", Some("behind its back"))]);
        assert_eq!(cache.get(b"a\0y").unwrap(), None, "kept from the read");
        cache.clear();
        assert_eq!(
            cache.get(b"a\0y").unwrap(),
            Some(b"behind its back".to_vec())
        );
    }

    /// A scan longer than what a wave fetches goes on from the backend, in order, whole.
    #[test]
    fn a_long_scan_goes_on_past_the_cached_entries() {
        let memory = MemoryBackend::new();
        let keys: Vec<String> = (0..40).map(|i| format!("m\0{i:03}")).collect();
        let entries: Vec<(&str, Option<&str>)> =
            keys.iter().map(|k| (k.as_str(), Some("v"))).collect();
        put(&memory, &entries);
        let cache = Prefetch::new(&memory);
        cache.begin_wave();
        assert!(cache.scan(b"m\0").next().unwrap().is_err());
        cache.end_wave().unwrap();
        assert_eq!(scanned(&cache, "m\0"), keys);
    }
}
