//! Index entries, one helper for every entity.
//!
//! A [`Unique`] index maps a field's value (a username, a course shortname, a category's name
//! under its parent) to the one record holding it: `key → id` (big-endian). A [`Multi`] index
//! lists several records under one value (accounts sharing an e-mail, the courses of a
//! category): `key ++ id → ()`. Every entity keeps its indexes through these, so the rules —
//! an empty value is never indexed, a value taken by another record is a conflict naming both,
//! an entry pointing nowhere is damage, not "not found" — are written once.

use super::{key_id, ModelError, ModelResult};
use crate::txn::{StoreError, StoreRead, Txn};

/// `key → id`: a value held by one record at most.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unique {
    pub space: &'static str,
    /// The field, for messages (`username`).
    pub field: &'static str,
    /// What a record is, for messages (`account`).
    pub entity: &'static str,
}

/// The index value of a record id.
fn id_value(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

impl Unique {
    pub const fn new(space: &'static str, field: &'static str, entity: &'static str) -> Self {
        Unique {
            space,
            field,
            entity,
        }
    }

    /// The id `key` points to. An empty key is never indexed: `None`.
    pub fn lookup(&self, txn: &impl StoreRead, key: &[u8]) -> ModelResult<Option<u64>> {
        if key.is_empty() {
            return Ok(None);
        }
        match txn.get(self.space, key)? {
            None => Ok(None),
            Some(value) => key_id(&value)
                .map(Some)
                .ok_or_else(|| self.damaged(&String::from_utf8_lossy(key))),
        }
    }

    /// The record `key` points to, loaded by `load`; an entry whose record is missing is damage.
    pub fn follow<S: StoreRead, T>(
        &self,
        txn: &S,
        key: &[u8],
        load: impl FnOnce(&S, u64) -> ModelResult<Option<T>>,
    ) -> ModelResult<Option<T>> {
        match self.lookup(txn, key)? {
            None => Ok(None),
            Some(id) => load(txn, id)?
                .map(Some)
                .ok_or_else(|| self.damaged(&String::from_utf8_lossy(key))),
        }
    }

    /// Fails when `key` belongs to a record other than `id` (`shown` is the value as the
    /// operator wrote it).
    pub fn check_free(
        &self,
        txn: &impl StoreRead,
        key: &[u8],
        shown: &str,
        id: u64,
    ) -> ModelResult<()> {
        match self.lookup(txn, key)? {
            Some(other) if other != id => Err(ModelError::Conflict(format!(
                "{} `{shown}` belongs to another {} (id {other})",
                self.field, self.entity
            ))),
            _ => Ok(()),
        }
    }

    /// Points `key` at `id` (an empty key is not indexed).
    pub fn put(&self, txn: &mut Txn<'_>, key: &[u8], id: u64) -> ModelResult<()> {
        if !key.is_empty() {
            txn.put(self.space, key, &id_value(id))?;
        }
        Ok(())
    }

    pub fn remove(&self, txn: &mut Txn<'_>, key: &[u8]) -> ModelResult<()> {
        if !key.is_empty() {
            txn.remove(self.space, key)?;
        }
        Ok(())
    }

    /// Moves record `id`'s entry from `old` to `new` when they differ (after
    /// [`Unique::check_free`] on `new`).
    pub fn change(&self, txn: &mut Txn<'_>, old: &[u8], new: &[u8], id: u64) -> ModelResult<()> {
        if old != new {
            self.remove(txn, old)?;
            self.put(txn, new, id)?;
        }
        Ok(())
    }

    pub fn damaged(&self, shown: &str) -> ModelError {
        damaged(self.space, shown)
    }
}

/// `key ++ id → ()`: several records under one value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Multi {
    pub space: &'static str,
}

impl Multi {
    pub const fn new(space: &'static str) -> Self {
        Multi { space }
    }

    fn entry(key: &[u8], id: u64) -> Vec<u8> {
        let mut entry = key.to_vec();
        entry.extend_from_slice(&id_value(id));
        entry
    }

    /// The ids listed under `key` (which must end where the id starts: a NUL-terminated text,
    /// or fixed-width ids).
    pub fn ids(&self, txn: &impl StoreRead, key: &[u8]) -> ModelResult<Vec<u64>> {
        txn.scan_prefix(self.space, key, usize::MAX)?
            .iter()
            .map(|(entry, _)| {
                entry
                    .get(key.len()..)
                    .and_then(key_id)
                    .ok_or_else(|| damaged(self.space, &String::from_utf8_lossy(key)))
            })
            .collect()
    }

    pub fn add(&self, txn: &mut Txn<'_>, key: &[u8], id: u64) -> ModelResult<()> {
        Ok(txn.put(self.space, &Self::entry(key, id), &[])?)
    }

    pub fn remove(&self, txn: &mut Txn<'_>, key: &[u8], id: u64) -> ModelResult<()> {
        Ok(txn.remove(self.space, &Self::entry(key, id))?)
    }

    /// Moves record `id` from `old` to `new` when they differ; an empty side is not indexed.
    pub fn change(&self, txn: &mut Txn<'_>, old: &[u8], new: &[u8], id: u64) -> ModelResult<()> {
        if old != new {
            if !old.is_empty() {
                self.remove(txn, old, id)?;
            }
            if !new.is_empty() {
                self.add(txn, new, id)?;
            }
        }
        Ok(())
    }
}

/// An index entry that points nowhere: the store is damaged (a store error, never a row's
/// fault).
pub(crate) fn damaged(space: &str, shown: &str) -> ModelError {
    ModelError::Store(StoreError::Failure(format!(
        "index `{space}` points to a missing record for `{shown}`: the store is damaged (`toolsync check` lists what is wrong)"
    )))
}

/// A text key of a multi index: the text, then NUL, so that `a` does not list `ab`'s records.
pub(crate) fn text_key(text: &str) -> Vec<u8> {
    let mut key = text.as_bytes().to_vec();
    key.push(0);
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;

    const NAMES: Unique = Unique::new("user.username", "username", "account");
    const EMAILS: Multi = Multi::new("user.email");

    #[test]
    fn unique_entries_conflict_move_and_detect_damage() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        NAMES.put(&mut txn, b"ann", 1).unwrap();
        NAMES.put(&mut txn, b"", 2).unwrap();
        assert_eq!(
            NAMES.lookup(&txn, b"").unwrap(),
            None,
            "empty is not indexed"
        );
        assert_eq!(NAMES.lookup(&txn, b"ann").unwrap(), Some(1));
        NAMES.check_free(&txn, b"ann", "ann", 1).unwrap();
        let conflict = NAMES.check_free(&txn, b"ann", "Ann", 2).unwrap_err();
        assert_eq!(
            conflict.to_string(),
            "username `Ann` belongs to another account (id 1)"
        );
        NAMES.change(&mut txn, b"ann", b"anna", 1).unwrap();
        assert_eq!(NAMES.lookup(&txn, b"ann").unwrap(), None);
        let missing = NAMES
            .follow(&txn, b"anna", |_, _| Ok(None::<()>))
            .unwrap_err();
        assert!(matches!(missing, ModelError::Store(_)), "{missing}");
    }

    #[test]
    fn multi_entries_list_every_holder_of_a_value_and_only_it() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        EMAILS.add(&mut txn, &text_key("a@x"), 1).unwrap();
        EMAILS.add(&mut txn, &text_key("a@x"), 2).unwrap();
        EMAILS.add(&mut txn, &text_key("a@xy"), 3).unwrap();
        assert_eq!(EMAILS.ids(&txn, &text_key("a@x")).unwrap(), vec![1, 2]);
        EMAILS
            .change(&mut txn, &text_key("a@x"), &text_key("b@x"), 2)
            .unwrap();
        assert_eq!(EMAILS.ids(&txn, &text_key("a@x")).unwrap(), vec![1]);
        assert_eq!(EMAILS.ids(&txn, &text_key("b@x")).unwrap(), vec![2]);
    }
}
