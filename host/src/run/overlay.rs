//! A dry run's writes over the store, without touching it: the engine's staging holds the
//! latest ones in memory, and once they are [`super::stream::DRY_RUN_SPILL_WRITES`] they move
//! here — a scratch sled database in the run's spool folder, opened at the first spill. Reads see
//! the staging, then the scratch, then the store, so a dry run of any size answers as the real run
//! would while its memory stays that of a normal run.
//!
//! The scratch is deleted when the overlay is dropped; a killed dry run leaves it in its spool
//! folder, which the next run removes with the other stale spools (no journal names it).

use std::iter::Peekable;
use std::path::PathBuf;
use std::sync::OnceLock;

use toolsync_plugin_api::engine::{Backend, BackendError, Entry, Scan, Writes};

use crate::store::Store;

/// Writes per sled batch into the scratch.
const SCRATCH_BATCH: usize = 2_000;

/// A removal, as the scratch holds it: a value is stored behind a `1`.
const REMOVED: &[u8] = &[0];

pub struct Overlay<'s> {
    base: &'s Store,
    dir: PathBuf,
    scratch: OnceLock<Result<sled::Db, String>>,
}

impl<'s> Overlay<'s> {
    pub fn new(base: &'s Store, dir: PathBuf) -> Self {
        Overlay {
            base,
            dir,
            scratch: OnceLock::new(),
        }
    }

    /// The scratch, once a spill made it.
    fn opened(&self) -> Option<&sled::Db> {
        self.scratch.get().and_then(|r| r.as_ref().ok())
    }

    fn open(&self) -> Result<&sled::Db, BackendError> {
        self.scratch
            .get_or_init(|| {
                crate::data_dir::create_private_dir(&self.dir)
                    .map_err(|e| e.to_string())
                    .and_then(|()| {
                        // sled's periodic flush stays on: without it, every page written
                        // stayed in memory (a spill of 500,000 writes took 500 MB).
                        sled::Config::new()
                            .path(&self.dir)
                            .cache_capacity(crate::store::SMALL_CACHE_BYTES)
                            .open()
                            .map_err(|e| e.to_string())
                    })
            })
            .as_ref()
            .map_err(|e| {
                BackendError(format!(
                    "cannot open the dry run's scratch space {}: {e}",
                    self.dir.display()
                ))
            })
    }
}

impl Drop for Overlay<'_> {
    fn drop(&mut self) {
        if self.scratch.take().is_some() {
            // Closed (taken and dropped): its folder goes.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn scratch_error(e: sled::Error) -> BackendError {
    BackendError(format!("the dry run's scratch space failed: {e}"))
}

/// A scratch value: `Some(None)` for a removal.
fn decode(bytes: &[u8]) -> Option<Vec<u8>> {
    (bytes != REMOVED).then(|| bytes[1..].to_vec())
}

impl Backend for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        if let Some(db) = self.opened() {
            if let Some(bytes) = db.get(key).map_err(scratch_error)? {
                return Ok(decode(&bytes));
            }
        }
        self.base.get(key)
    }

    fn scan(&self, prefix: &[u8]) -> Scan<'_> {
        let Some(db) = self.opened() else {
            return self.base.scan(prefix);
        };
        let scratch = db.scan_prefix(prefix).map(|item| {
            item.map(|(k, v)| (k.to_vec(), decode(&v)))
                .map_err(scratch_error)
        });
        Box::new(Merge {
            base: self.base.scan(prefix).peekable(),
            scratch: scratch.peekable(),
        })
    }

    /// In small sled batches: the scratch needs no atomicity, and one sled batch of 100,000
    /// writes holds several times their size in memory.
    fn apply(&self, writes: Writes) -> Result<(), BackendError> {
        let db = self.open()?;
        let mut writes = writes.into_iter().peekable();
        while writes.peek().is_some() {
            let mut batch = sled::Batch::default();
            for (key, value) in writes.by_ref().take(SCRATCH_BATCH) {
                match value {
                    Some(v) => {
                        let mut stored = Vec::with_capacity(1 + v.len());
                        stored.push(1);
                        stored.extend_from_slice(&v);
                        batch.insert(key, stored);
                    }
                    None => batch.insert(key, REMOVED),
                }
            }
            db.apply_batch(batch).map_err(scratch_error)?;
        }
        Ok(())
    }

    /// Nothing to make durable: the scratch is thrown away.
    fn flush(&self) -> Result<(), BackendError> {
        Ok(())
    }
}

type Item<T> = Result<T, BackendError>;

/// The store's entries with the scratch's over them, in key order; a removal hides its key.
struct Merge<B: Iterator<Item = Item<Entry>>, S: Iterator<Item = Item<(Vec<u8>, Option<Vec<u8>>)>>>
{
    base: Peekable<B>,
    scratch: Peekable<S>,
}

impl<B, S> Iterator for Merge<B, S>
where
    B: Iterator<Item = Item<Entry>>,
    S: Iterator<Item = Item<(Vec<u8>, Option<Vec<u8>>)>>,
{
    type Item = Item<Entry>;

    fn next(&mut self) -> Option<Item<Entry>> {
        loop {
            let order = match (self.base.peek(), self.scratch.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) | (Some(_), None) => std::cmp::Ordering::Less,
                (_, Some(Err(_))) | (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(Ok((b, _))), Some(Ok((s, _)))) => b.cmp(s),
            };
            if order == std::cmp::Ordering::Less {
                return self.base.next();
            }
            if order == std::cmp::Ordering::Equal {
                self.base.next(); // overridden
            }
            match self.scratch.next()? {
                Err(e) => return Some(Err(e)),
                Ok((key, Some(value))) => return Some(Ok((key, value))),
                Ok((_, None)) => continue, // removed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_merge_the_scratch_over_the_store_and_removals_hide() {
        let base = vec![
            Ok((b"a1".to_vec(), b"x".to_vec())),
            Ok((b"a2".to_vec(), b"x".to_vec())),
            Ok((b"a4".to_vec(), b"x".to_vec())),
        ];
        let scratch = vec![
            Ok((b"a0".to_vec(), Some(b"s".to_vec()))),
            Ok((b"a2".to_vec(), None)),
            Ok((b"a3".to_vec(), Some(b"s".to_vec()))),
            Ok((b"a4".to_vec(), Some(b"s".to_vec()))),
        ];
        let merged: Vec<Entry> = Merge {
            base: base.into_iter().peekable(),
            scratch: scratch.into_iter().peekable(),
        }
        .map(Result::unwrap)
        .collect();
        let keys: Vec<(&[u8], &[u8])> = merged
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        assert_eq!(
            keys,
            vec![
                (&b"a0"[..], &b"s"[..]),
                (b"a1", b"x"),
                (b"a3", b"s"),
                (b"a4", b"s")
            ]
        );
    }
}
