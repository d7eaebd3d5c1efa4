//! Account pictures (formats.md §3.10).
//!
//! A picture is a record per account: the SHA-256 of the image it was made from (what tells
//! `unchanged` from `updated`), the source's format and size, and its renditions — a PNG
//! fitting 512×512 and square thumbnails of 100 and 35 pixels. The renditions' bytes are
//! content-addressed files ([`crate::blobs`]), named in the record; the record and its index
//! commit with the row, the files are written before it.
//!
//! Invariants kept here:
//! - a picture belongs to a live account: soft-deleting the account removes it;
//! - `picture.file` indexes every file a record names, so that "is this file still named?"
//!   is one lookup (the host's sweep of orphan files, `toolsync check`).
//!
//! Key layout:
//! - `picture`: user id → [`Picture`]
//! - `picture.file`: file name (64 hex digits), user id → nothing

use serde::{Deserialize, Serialize};

use super::{decode, id_at, id_key, model_version, Extra, ModelResult, MODEL_VERSION};
use crate::txn::{StoreRead, Txn};

pub const SPACE: &str = "picture";
pub(crate) const BY_FILE: &str = "picture.file";

/// The boxes of the renditions, in the order a record lists them.
pub const SIZES: [u32; 3] = [512, 100, 35];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Picture {
    #[serde(default = "model_version")]
    pub v: u32,
    pub user: u64,
    /// Lowercase hex SHA-256 of the image as it came (the archive entry's bytes).
    pub sha256: String,
    /// `png`, `jpeg` or `gif`: what the content was.
    pub format: String,
    pub width: u32,
    pub height: u32,
    /// 512, 100 and 35, in that order.
    pub renditions: Vec<Rendition>,
    pub timecreated: i64,
    #[serde(default)]
    pub timemodified: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One stored PNG of a picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendition {
    /// The box it fits: 512 (aspect kept), 100 or 35 (square).
    pub size: u32,
    pub width: u32,
    pub height: u32,
    /// Bytes of the PNG file.
    pub bytes: u64,
    /// The file's name (its SHA-256) in the folder of stored files.
    pub file: String,
}

impl Picture {
    /// The rendition of a box, if the record has it.
    pub fn rendition(&self, size: u32) -> Option<&Rendition> {
        self.renditions.iter().find(|r| r.size == size)
    }
}

/// What [`Pictures::set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    Created,
    Updated,
}

pub struct Pictures;

impl Pictures {
    pub fn get(txn: &impl StoreRead, user: u64) -> ModelResult<Option<Picture>> {
        match txn.get(SPACE, &id_key(user))? {
            Some(bytes) => decode(SPACE, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Stores an account's picture, replacing the one it had; the files it names must be
    /// stored already. Keeps the creation time and the unknown fields of the record replaced.
    pub fn set(txn: &mut Txn<'_>, mut picture: Picture, now: i64) -> ModelResult<Set> {
        let old = Self::get(txn, picture.user)?;
        picture.v = MODEL_VERSION;
        let set = match &old {
            Some(old) => {
                Self::unindex(txn, old)?;
                picture.timecreated = old.timecreated;
                picture.timemodified = now;
                for (key, value) in &old.extra {
                    picture.extra.entry(key).or_insert_with(|| value.clone());
                }
                Set::Updated
            }
            None => {
                picture.timecreated = now;
                picture.timemodified = 0;
                Set::Created
            }
        };
        for rendition in &picture.renditions {
            txn.put(BY_FILE, &file_key(&rendition.file, picture.user), &[])?;
        }
        txn.put_json(SPACE, &id_key(picture.user), &picture)?;
        Ok(set)
    }

    /// Removes an account's picture; its files become orphans (the host's sweep removes them).
    pub fn remove(txn: &mut Txn<'_>, user: u64) -> ModelResult<bool> {
        let Some(old) = Self::get(txn, user)? else {
            return Ok(false);
        };
        Self::unindex(txn, &old)?;
        txn.remove(SPACE, &id_key(user))?;
        Ok(true)
    }

    fn unindex(txn: &mut Txn<'_>, picture: &Picture) -> ModelResult<()> {
        for rendition in &picture.renditions {
            txn.remove(BY_FILE, &file_key(&rendition.file, picture.user))?;
        }
        Ok(())
    }

    /// The full key under which the index entries of the stored file `name` lie (the host's
    /// undo log keeps a file its entries name for a revert).
    pub fn file_index_prefix(name: &str) -> Vec<u8> {
        crate::engine::full_key(BY_FILE, name.as_bytes())
    }

    /// Whether some record names the stored file `name`.
    pub fn names(store: &impl StoreRead, name: &str) -> ModelResult<bool> {
        Ok(!store.scan_prefix(BY_FILE, name.as_bytes(), 1)?.is_empty())
    }

    /// The accounts whose picture names the file `name` (what `check` compares).
    pub(crate) fn holders(store: &impl StoreRead, name: &str) -> ModelResult<Vec<u64>> {
        Ok(store
            .scan_prefix(BY_FILE, name.as_bytes(), usize::MAX)?
            .iter()
            .filter_map(|(key, _)| key.get(name.len()..).and_then(|rest| id_at(rest, 0)))
            .collect())
    }
}

fn file_key(name: &str, user: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 8);
    key.extend_from_slice(name.as_bytes());
    key.extend_from_slice(&id_key(user));
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{User, Users};
    use crate::testing::MemoryStore;

    fn picture(user: u64, sha: &str, files: [&str; 3]) -> Picture {
        Picture {
            v: MODEL_VERSION,
            user,
            sha256: sha.into(),
            format: "png".into(),
            width: 600,
            height: 400,
            renditions: SIZES
                .iter()
                .zip(files)
                .map(|(&size, file)| Rendition {
                    size,
                    width: size,
                    height: size,
                    bytes: 10,
                    file: file.into(),
                })
                .collect(),
            timecreated: 0,
            timemodified: 0,
            extra: Extra::new(),
        }
    }

    #[test]
    fn a_picture_replaced_or_removed_leaves_its_files_unnamed() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        let ann = Users::create(&mut txn, User::new("ann", "A", "A", 1))
            .unwrap()
            .id;
        let bob = Users::create(&mut txn, User::new("bob", "B", "B", 1))
            .unwrap()
            .id;
        let set = Pictures::set(&mut txn, picture(ann, "s1", ["a", "b", "c"]), 5).unwrap();
        assert_eq!(set, Set::Created);
        // Bob's picture shares a file with Ann's (the same thumbnail).
        Pictures::set(&mut txn, picture(bob, "s2", ["d", "b", "e"]), 5).unwrap();
        assert_eq!(Pictures::holders(&txn, "b").unwrap(), vec![ann, bob]);
        let set = Pictures::set(&mut txn, picture(ann, "s3", ["f", "g", "h"]), 9).unwrap();
        assert_eq!(set, Set::Updated);
        let stored = Pictures::get(&txn, ann).unwrap().unwrap();
        assert_eq!((stored.timecreated, stored.timemodified), (5, 9));
        assert!(!Pictures::names(&txn, "a").unwrap());
        assert!(Pictures::names(&txn, "b").unwrap(), "still Bob's");
        assert!(Pictures::names(&txn, "f").unwrap());

        let mut user = Users::get(&txn, bob).unwrap().unwrap();
        Users::soft_delete(&mut txn, &mut user, 10).unwrap();
        assert_eq!(Pictures::get(&txn, bob).unwrap(), None);
        assert!(!Pictures::names(&txn, "b").unwrap());
        assert!(Pictures::remove(&mut txn, ann).unwrap());
        assert!(!Pictures::remove(&mut txn, ann).unwrap());
        assert!(!Pictures::names(&txn, "f").unwrap());
    }
}
