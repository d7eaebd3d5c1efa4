//! The store behind the engine: ordered byte keys, a prefix scan, an atomic batch and a flush —
//! narrow enough that sled (the host's default), an in-memory map (tests) or a distributed
//! transactional engine can stand behind it (design.md §7).
//!
//! Keys are flat: `space NUL key`. One ordered keyspace lets a whole batch of rows and the run's
//! journal commit with one atomic call, and a keyspace scan is a plain prefix scan.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};

/// Writes waiting for a commit, by full key; `None` removes the key.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A failure of the store itself (I/O, corruption): the run stops on it, never counting it as a
/// failed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError(pub String);

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BackendError {}

/// Entries in key order, lazily.
pub type Scan<'a> = Box<dyn Iterator<Item = Result<Entry, BackendError>> + 'a>;

/// What the engine needs from a store.
pub trait Backend: Send + Sync {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError>;

    /// Every entry whose key starts with `prefix`, in key order, read lazily (an export of any
    /// size never sits in memory).
    fn scan(&self, prefix: &[u8]) -> Scan<'_>;

    /// Applies every write at once: all of them or none.
    fn apply(&self, writes: Writes) -> Result<(), BackendError>;

    /// Makes every applied batch durable.
    fn flush(&self) -> Result<(), BackendError>;

    /// Whether each read is a round trip to a server: the row pipeline then fetches the reads
    /// of a chunk of rows together ([`super::prefetch`]).
    fn reads_cost_a_round_trip(&self) -> bool {
        false
    }

    /// The values of `keys`, in their order, at once.
    fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, BackendError> {
        keys.iter().map(|k| self.get(k)).collect()
    }

    /// The first `limit` entries under each prefix, at once.
    fn scan_many(&self, scans: &[(Vec<u8>, usize)]) -> Result<Vec<Vec<Entry>>, BackendError> {
        scans
            .iter()
            .map(|(prefix, limit)| self.scan(prefix).take(*limit).collect())
            .collect()
    }
}

/// The full key of `key` in `space`.
pub fn full_key(space: &str, key: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(space.len() + 1 + key.len());
    full.extend_from_slice(space.as_bytes());
    full.push(0);
    full.extend_from_slice(key);
    full
}

/// `(space, key)` of a full key; `None` for a key without a space (never written by toolsync).
pub fn split_key(full: &[u8]) -> Option<(&str, &[u8])> {
    let at = full.iter().position(|b| *b == 0)?;
    let space = std::str::from_utf8(&full[..at]).ok()?;
    Some((space, &full[at + 1..]))
}

/// A store in memory: what the testing runner and the model's unit tests run on.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    entries: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every entry, in key order (a snapshot: tests compare stores with it).
    pub fn entries(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.read().clone()
    }

    /// Replaces every entry (restores a snapshot).
    pub fn restore(&self, entries: BTreeMap<Vec<u8>, Vec<u8>>) {
        *self.entries.write().unwrap_or_else(PoisonError::into_inner) = entries;
    }
}

impl Clone for MemoryBackend {
    fn clone(&self) -> Self {
        MemoryBackend {
            entries: RwLock::new(self.entries()),
        }
    }
}

impl PartialEq for MemoryBackend {
    fn eq(&self, other: &Self) -> bool {
        *self.read() == *other.read()
    }
}

impl Eq for MemoryBackend {}

impl Backend for MemoryBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.read().get(key).cloned())
    }

    fn scan(&self, prefix: &[u8]) -> Scan<'_> {
        // A copy of the range: the lock is not held while the caller iterates.
        let found: Vec<Entry> = self
            .read()
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Box::new(found.into_iter().map(Ok))
    }

    fn apply(&self, writes: Writes) -> Result<(), BackendError> {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        for (key, value) in writes {
            match value {
                Some(v) => entries.insert(key, v),
                None => entries.remove(&key),
            };
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), BackendError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_back_and_scans_stay_in_their_space() {
        let key = full_key("user.email", b"a@b\0\x01");
        assert_eq!(split_key(&key), Some(("user.email", &b"a@b\0\x01"[..])));
        assert_eq!(split_key(b"nospace"), None);

        let store = MemoryBackend::new();
        let mut writes = Writes::new();
        writes.insert(full_key("a", b"1"), Some(b"x".to_vec()));
        writes.insert(full_key("a", b"2"), Some(b"y".to_vec()));
        writes.insert(full_key("ab", b"1"), Some(b"z".to_vec()));
        store.apply(writes).unwrap();
        let in_a: Vec<Entry> = store
            .scan(&full_key("a", b""))
            .map(Result::unwrap)
            .collect();
        assert_eq!(in_a.len(), 2, "`ab` is another space");
        let mut writes = Writes::new();
        writes.insert(full_key("a", b"1"), None);
        store.apply(writes).unwrap();
        assert_eq!(store.get(&full_key("a", b"1")).unwrap(), None);
        assert_eq!(store.clone(), store);
    }
}
