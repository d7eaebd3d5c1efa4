//! Activity data: what the store keeps against a course on behalf of its activities (forum
//! posts, quiz attempts...), tagged with a module name (`forum`) and a kind (`posts`). The
//! toolsync store does not run activities; it holds such records for the processors that
//! import them, and course-reset removes them by module and kind (formats.md §3.3).
//!
//! Key: course id, module, NUL, kind, NUL, record id → the record's JSON.

use super::{id_key, ids, remove_prefix, ModelError, ModelResult};
use crate::model::Course;
use crate::txn::{StoreRead, Txn};

pub const SPACE: &str = "activity";
pub(crate) const SEQUENCE: &str = "activity";

pub struct Activities;

impl Activities {
    /// Stores one record of a module's data.
    pub fn add(
        txn: &mut Txn<'_>,
        course: &Course,
        module: &str,
        kind: &str,
        record: &serde_json::Value,
    ) -> ModelResult<u64> {
        if !crate::values::is_word(module) || !crate::values::is_word(kind) {
            return Err(ModelError::Conflict(format!(
                "`{module}`/`{kind}`: module and kind are words ([a-z][a-z0-9_]*)"
            )));
        }
        let id = txn.next_id(SEQUENCE)?;
        let mut key = prefix(course.id, Some(module), Some(kind));
        key.extend_from_slice(&id_key(id));
        txn.put_json(SPACE, &key, record)?;
        Ok(id)
    }

    /// How many records a course holds for a module (and a kind, or any kind when `None`).
    pub fn count(
        txn: &impl StoreRead,
        course: u64,
        module: Option<&str>,
        kind: Option<&str>,
    ) -> ModelResult<usize> {
        Ok(txn
            .scan_prefix(SPACE, &prefix(course, module, kind), usize::MAX)?
            .len())
    }

    /// The modules a course holds data for, sorted, each once.
    pub fn modules(txn: &impl StoreRead, course: u64) -> ModelResult<Vec<String>> {
        let mut modules: Vec<String> = txn
            .scan_prefix(SPACE, &id_key(course), usize::MAX)?
            .iter()
            .filter_map(|(k, _)| {
                let rest = k.get(8..)?;
                let end = rest.iter().position(|b| *b == 0)?;
                String::from_utf8(rest[..end].to_vec()).ok()
            })
            .collect();
        modules.dedup();
        Ok(modules)
    }

    /// Removes a module's records of one kind (any kind when `None`); returns how many went.
    pub fn remove(
        txn: &mut Txn<'_>,
        course: u64,
        module: &str,
        kind: Option<&str>,
    ) -> ModelResult<usize> {
        remove_prefix(txn, SPACE, &prefix(course, Some(module), kind))
    }

    pub(crate) fn remove_course(txn: &mut Txn<'_>, course: u64) -> ModelResult<usize> {
        remove_prefix(txn, SPACE, &id_key(course))
    }
}

fn prefix(course: u64, module: Option<&str>, kind: Option<&str>) -> Vec<u8> {
    let mut key = ids(&[course]);
    if let Some(module) = module {
        key.extend_from_slice(module.as_bytes());
        key.push(0);
        if let Some(kind) = kind {
            key.extend_from_slice(kind.as_bytes());
            key.push(0);
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Categories, Courses};
    use crate::testing::MemoryStore;
    use serde_json::json;

    #[test]
    fn records_are_removed_by_module_and_kind() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        let cat = Categories::create(&mut txn, 0, "C", true, 1).unwrap().id;
        let course = Courses::create(&mut txn, Course::new("A", "A", cat, 1)).unwrap();
        for (module, kind) in [
            ("forum", "posts"),
            ("forum", "subscriptions"),
            ("quiz", "attempts"),
        ] {
            Activities::add(&mut txn, &course, module, kind, &json!({"n": 1})).unwrap();
        }
        // `forum` must not match `forum2`'s prefix.
        Activities::add(&mut txn, &course, "forum2", "posts", &json!({})).unwrap();
        assert!(Activities::add(&mut txn, &course, "Bad", "x", &json!({})).is_err());
        assert_eq!(
            Activities::modules(&txn, course.id).unwrap(),
            vec!["forum", "forum2", "quiz"]
        );
        assert_eq!(
            Activities::remove(&mut txn, course.id, "forum", Some("subscriptions")).unwrap(),
            1
        );
        assert_eq!(
            Activities::remove(&mut txn, course.id, "forum", None).unwrap(),
            1
        );
        assert_eq!(Activities::count(&txn, course.id, None, None).unwrap(), 2);
    }
}
