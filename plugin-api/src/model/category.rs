//! Course categories: a tree, addressed by id, by idnumber, or by a `/` path of names.
//!
//! Invariants kept here: a name is unique among its siblings (so a path names at most one
//! category), a non-empty idnumber is unique, a parent exists, and the index entries match
//! their records.

use serde::{Deserialize, Serialize};

use super::index::{self, Unique};
use super::{
    columns_of, id_key, ids, key_id, model_version, scan_records, Extra, ModelError, ModelResult,
    Omitted, MODEL_VERSION,
};
use crate::txn::{StoreRead, Txn};

pub const SPACE: &str = "category";
/// Key: parent id (0 = top level), then the name: the sibling-uniqueness index.
pub(crate) const CHILDREN: &str = "category.child";
pub(crate) const BY_IDNUMBER: &str = "category.idnumber";
pub(crate) const SEQUENCE: &str = "category";
/// Longest category name (formats.md §3.1).
pub const NAME_MAX: usize = 255;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    #[serde(default = "model_version")]
    pub v: u32,
    pub id: u64,
    pub name: String,
    /// 0 for a top-level category.
    pub parent: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub idnumber: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub visible: bool,
    pub timemodified: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// How a cell designates a category (`category_key` = path-or-id, formats.md §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryRef {
    Id(u64),
    /// Names from the top level down, trimmed, none empty.
    Path(Vec<String>),
}

impl CategoryRef {
    /// Only digits → an id; otherwise a `/`-separated path (a leading `/` forces path reading:
    /// `/2024` is a category named 2024). Leading and trailing slashes are otherwise ignored;
    /// elements are trimmed; an empty element or one over 255 characters is refused.
    pub fn parse(value: &str) -> Result<CategoryRef, String> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return value
                .parse::<u64>()
                .ok()
                .filter(|id| *id > 0)
                .map(CategoryRef::Id)
                .ok_or_else(|| format!("`{value}` is not a category id"));
        }
        let inner = value.trim_start_matches('/').trim_end_matches('/');
        if inner.is_empty() {
            return Err(format!("`{value}` names no category"));
        }
        let mut names = Vec::new();
        for element in inner.split('/') {
            let element = element.trim();
            if element.is_empty() {
                return Err(format!("empty element in category path `{value}`"));
            }
            if element.chars().count() > NAME_MAX {
                return Err(format!(
                    "category name over {NAME_MAX} characters in `{value}`"
                ));
            }
            names.push(element.to_string());
        }
        Ok(CategoryRef::Path(names))
    }
}

pub struct Categories;

/// A name is unique among its siblings (so a path names at most one category).
pub(crate) const SIBLINGS: Unique = Unique::new(CHILDREN, "name", "category of the same parent");
/// A non-empty idnumber is unique.
pub(crate) const IDNUMBERS: Unique = Unique::new(BY_IDNUMBER, "idnumber", "category");

impl Categories {
    pub fn get(txn: &impl StoreRead, id: u64) -> ModelResult<Option<Category>> {
        Ok(txn.get_json(SPACE, &id_key(id))?)
    }

    pub fn by_idnumber(txn: &impl StoreRead, idnumber: &str) -> ModelResult<Option<Category>> {
        IDNUMBERS.follow(txn, idnumber.as_bytes(), Self::get)
    }

    /// The child of `parent` (0 = top level) with exactly this name.
    pub fn child(txn: &impl StoreRead, parent: u64, name: &str) -> ModelResult<Option<Category>> {
        SIBLINGS.follow(txn, &child_key(parent, name), Self::get)
    }

    /// The children of `parent`, in name order.
    pub fn children(txn: &impl StoreRead, parent: u64) -> ModelResult<Vec<Category>> {
        let mut found = Vec::new();
        for (_, id) in txn.scan_prefix(CHILDREN, &id_key(parent), usize::MAX)? {
            let id = key_id(&id).ok_or_else(|| SIBLINGS.damaged("a child"))?;
            found.push(Self::get(txn, id)?.ok_or_else(|| SIBLINGS.damaged("a child"))?);
        }
        Ok(found)
    }

    /// Every category, in id order.
    pub fn all(txn: &impl StoreRead) -> ModelResult<Vec<Category>> {
        scan_records(txn, SPACE, b"")
    }

    /// The category a reference designates, creating nothing.
    pub fn find(txn: &impl StoreRead, reference: &CategoryRef) -> ModelResult<Option<Category>> {
        match reference {
            CategoryRef::Id(id) => Self::get(txn, *id),
            CategoryRef::Path(names) => {
                let mut current: Option<Category> = None;
                for name in names {
                    let parent = current.as_ref().map_or(0, |c| c.id);
                    match Self::child(txn, parent, name)? {
                        Some(c) => current = Some(c),
                        None => return Ok(None),
                    }
                }
                Ok(current)
            }
        }
    }

    /// The category at a path, created (with its missing ancestors) when absent. Returns it
    /// and the names of the categories created, as `A/B` paths.
    pub fn ensure_path(
        txn: &mut Txn<'_>,
        names: &[String],
        visible: bool,
        now: i64,
    ) -> ModelResult<(Category, Vec<String>)> {
        let mut current: Option<Category> = None;
        let mut created = Vec::new();
        for (depth, name) in names.iter().enumerate() {
            let parent = current.as_ref().map_or(0, |c| c.id);
            current = Some(match Self::child(txn, parent, name)? {
                Some(c) => c,
                None => {
                    let c = Self::create(txn, parent, name, visible, now)?;
                    created.push(names[..=depth].join("/"));
                    c
                }
            });
        }
        let category = current
            .ok_or_else(|| ModelError::Conflict("an empty category path names nothing".into()))?;
        Ok((category, created))
    }

    /// A new category under `parent` (0 = top level).
    pub fn create(
        txn: &mut Txn<'_>,
        parent: u64,
        name: &str,
        visible: bool,
        now: i64,
    ) -> ModelResult<Category> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX || name.contains('/') {
            return Err(ModelError::Conflict(format!(
                "`{name}` is not a category name (1 to {NAME_MAX} characters, no `/`)"
            )));
        }
        if parent != 0 && Self::get(txn, parent)?.is_none() {
            return Err(ModelError::Conflict(format!(
                "no category with id {parent}"
            )));
        }
        SIBLINGS.check_free(txn, &child_key(parent, name), name, 0)?;
        let category = Category {
            v: MODEL_VERSION,
            id: txn.next_id(SEQUENCE)?,
            name: name.to_string(),
            parent,
            idnumber: String::new(),
            description: String::new(),
            visible,
            timemodified: now,
            extra: Extra::new(),
        };
        txn.put_json(SPACE, &id_key(category.id), &category)?;
        SIBLINGS.put(txn, &child_key(parent, name), category.id)?;
        Ok(category)
    }

    /// Rewrites a category, keeping the indexes in step (rename, move, idnumber).
    pub fn save(txn: &mut Txn<'_>, category: &mut Category) -> ModelResult<()> {
        let stored = Self::get(txn, category.id)?.ok_or_else(|| {
            ModelError::Conflict(format!("category {} no longer exists", category.id))
        })?;
        let id = id_key(category.id);
        let (old_place, new_place) = (
            child_key(stored.parent, &stored.name),
            child_key(category.parent, &category.name),
        );
        if old_place != new_place {
            SIBLINGS.check_free(txn, &new_place, &category.name, category.id)?;
            if category.parent != 0 {
                if Self::get(txn, category.parent)?.is_none() {
                    return Err(ModelError::Conflict(format!(
                        "no category with id {}",
                        category.parent
                    )));
                }
                if Self::ancestors(txn, category.parent)?.contains(&category.id) {
                    return Err(ModelError::Conflict(
                        "a category cannot move under itself".into(),
                    ));
                }
            }
            SIBLINGS.change(txn, &old_place, &new_place, category.id)?;
        }
        IDNUMBERS.check_free(
            txn,
            category.idnumber.as_bytes(),
            &category.idnumber,
            category.id,
        )?;
        IDNUMBERS.change(
            txn,
            stored.idnumber.as_bytes(),
            category.idnumber.as_bytes(),
            category.id,
        )?;
        category.v = MODEL_VERSION;
        txn.put_json(SPACE, &id, category)?;
        Ok(())
    }

    /// The ids from `id` up to the top level, `id` first.
    pub fn ancestors(txn: &impl StoreRead, id: u64) -> ModelResult<Vec<u64>> {
        let mut chain = Vec::new();
        let mut current = id;
        while current != 0 {
            if chain.contains(&current) || chain.len() > 1_000 {
                return Err(index::damaged(SPACE, "a category loop"));
            }
            chain.push(current);
            current = Self::get(txn, current)?
                .ok_or_else(|| index::damaged(SPACE, &current.to_string()))?
                .parent;
        }
        Ok(chain)
    }

    /// The path of names from the top level, `A/B/C`.
    pub fn path(txn: &impl StoreRead, id: u64) -> ModelResult<String> {
        let mut names = Vec::new();
        for ancestor in Self::ancestors(txn, id)?.into_iter().rev() {
            if let Some(c) = Self::get(txn, ancestor)? {
                names.push(c.name);
            }
        }
        Ok(names.join("/"))
    }

    /// A path written so that [`CategoryRef::parse`] reads it back as a path: a leading `/` when
    /// it would otherwise be taken for an id.
    pub fn path_cell(txn: &impl StoreRead, id: u64) -> ModelResult<String> {
        let path = Self::path(txn, id)?;
        Ok(if path.bytes().all(|b| b.is_ascii_digit()) {
            format!("/{path}")
        } else {
            path
        })
    }
}

impl Category {
    /// The record as `show` and `export` print it, with its path.
    pub fn to_columns(
        &self,
        txn: &impl StoreRead,
    ) -> ModelResult<serde_json::Map<String, serde_json::Value>> {
        let mut map = columns_of(
            self,
            Omitted {
                texts: &["idnumber", "description"],
                ..Omitted::default()
            },
        );
        map.insert("path".into(), Categories::path(txn, self.id)?.into());
        Ok(map)
    }
}

pub(crate) fn child_key(parent: u64, name: &str) -> Vec<u8> {
    let mut key = ids(&[parent]);
    key.extend_from_slice(name.as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;

    #[test]
    fn references_parse_per_the_format() {
        assert_eq!(CategoryRef::parse("12"), Ok(CategoryRef::Id(12)));
        assert_eq!(
            CategoryRef::parse("/2024"),
            Ok(CategoryRef::Path(vec!["2024".into()]))
        );
        assert_eq!(
            CategoryRef::parse("/ Sciences / Physics/"),
            Ok(CategoryRef::Path(vec!["Sciences".into(), "Physics".into()]))
        );
        assert!(CategoryRef::parse("A//B").is_err());
        assert!(CategoryRef::parse("0").is_err());
        assert!(CategoryRef::parse("/").is_err());
        assert!(CategoryRef::parse(&"x".repeat(256)).is_err());
        assert!(CategoryRef::parse(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn paths_are_created_once_and_names_stay_unique_among_siblings() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        let path = |p: &str| match CategoryRef::parse(p).unwrap() {
            CategoryRef::Path(names) => names,
            CategoryRef::Id(_) => unreachable!(),
        };
        let (b, created) = Categories::ensure_path(&mut txn, &path("A/B"), true, 1).unwrap();
        assert_eq!(created, vec!["A", "A/B"]);
        let (again, created) = Categories::ensure_path(&mut txn, &path("A/B"), true, 1).unwrap();
        assert_eq!((again.id, created.len()), (b.id, 0));
        assert_eq!(Categories::path(&txn, b.id).unwrap(), "A/B");
        assert!(Categories::create(&mut txn, b.parent, "B", true, 1).is_err());
        // Same name elsewhere is fine.
        let (other, _) = Categories::ensure_path(&mut txn, &path("B"), true, 1).unwrap();
        assert_ne!(other.id, b.id);

        let mut moved = b.clone();
        moved.parent = 0;
        assert!(
            Categories::save(&mut txn, &mut moved).is_err(),
            "B exists at top"
        );
        let mut a = Categories::get(&txn, b.parent).unwrap().unwrap();
        a.parent = b.id;
        assert!(Categories::save(&mut txn, &mut a).is_err(), "no loops");
        a = Categories::get(&txn, b.parent).unwrap().unwrap();
        a.idnumber = "CAT-A".into();
        Categories::save(&mut txn, &mut a).unwrap();
        assert_eq!(
            Categories::by_idnumber(&txn, "CAT-A").unwrap().unwrap().id,
            a.id
        );
        assert_eq!(Categories::children(&txn, a.id).unwrap().len(), 1);
        let (digits, _) = Categories::ensure_path(&mut txn, &path("/2024"), true, 1).unwrap();
        assert_eq!(Categories::path_cell(&txn, digits.id).unwrap(), "/2024");
    }
}
