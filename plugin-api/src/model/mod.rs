//! The shared data model (design.md §4): entities, their key layout and their invariants, in
//! one place. Processors cooperate through the store (enrolments find the users that `users`
//! created), so none of them touches an index directly: they call this module, which keeps
//! every index in step with its record and refuses writes that would break an invariant.
//!
//! Records are JSON objects. Each carries `v`, the model version that wrote it, and keeps the
//! fields it does not know (`extra`), so that a plugin built against an older 1.x rewrites a
//! newer record without losing anything.

pub mod activity;
pub mod category;
pub mod check;
pub mod cohort;
pub mod course;
pub mod diff;
pub mod enrol;
pub mod group;
mod index;
pub mod picture;
pub mod registry;
pub mod role;
pub mod user;

pub use activity::Activities;
pub use category::{Categories, Category, CategoryRef};
pub use cohort::{BindingSpec, Cohort, CohortDeleted, CohortKey, CohortMember, Cohorts, Synced};
pub use course::{Course, CourseKey, Courses, Section, Sections};
pub use enrol::{
    EnrolInstance, EnrolRequest, Enrolled, Enrolments, Method, Period, RoleAssignment, Unenrolled,
    UserEnrolment,
};
pub use group::{Group, GroupKey, Grouping, Groups};
pub use picture::{Picture, Pictures, Rendition};
pub use role::{Role, RoleKey, Roles};
pub use user::{PasswordState, User, UserKey, Users};

use crate::txn::{StoreError, StoreRead, Txn};

/// The model version written into every record and into the store's meta data.
///
/// - 1: the first layout.
/// - 2: role assignments and group memberships indexed by user too (`role.assignment.by_user`,
///   `group.member.by_user`), for the cascades of a soft-deleted account. [`upgrade`] builds
///   them in a store written by model 1.
/// - 3: group and grouping names and idnumbers indexed per course (`group.name`,
///   `group.idnumber`, `grouping.name`, `grouping.idnumber`); enrolment methods stored as one
///   of [`Method`]'s words (they always were).
/// - 4: cohorts, their members and their course bindings (`cohort`, `cohort.name`,
///   `cohort.idnumber`, `cohort.member`, `cohort.member.by_user`, `cohort.binding`); a
///   binding is a `cohort` instance with its cohort, role, period and group; group
///   memberships may be owned (`source`). Nothing older converts: a store of model 3 has no
///   cohorts.
/// - 5: account pictures (`picture`, `picture.file`), their PNGs stored as files. Nothing
///   older converts.
pub const MODEL_VERSION: u32 = 5;

/// Brings a store written by model `from` up to [`MODEL_VERSION`], in the caller's
/// transaction (the host runs it when it opens an older store). Returns what it did, for the
/// log.
pub fn upgrade(txn: &mut Txn<'_>, from: u32) -> ModelResult<Vec<String>> {
    let mut done = Vec::new();
    if from < 2 {
        let mut assignments = 0;
        for (key, _) in txn.scan_prefix(enrol::ASSIGNMENT_SPACE, b"", usize::MAX)? {
            // course, user, role, source → user, course, role, source
            let parts: Option<Vec<u64>> = (0..4).map(|i| id_at(&key, i)).collect();
            let [course, user, role, source] = parts.as_deref().unwrap_or_default() else {
                return Err(index::damaged(enrol::ASSIGNMENT_SPACE, "an entry"));
            };
            txn.put(
                enrol::ASSIGNMENT_BY_USER,
                &ids(&[*user, *course, *role, *source]),
                &[],
            )?;
            assignments += 1;
        }
        let mut memberships = 0;
        for (key, _) in txn.scan_prefix(group::MEMBER_SPACE, b"", usize::MAX)? {
            let parts: Option<Vec<u64>> = (0..3).map(|i| id_at(&key, i)).collect();
            let [course, group, user] = parts.as_deref().unwrap_or_default() else {
                return Err(index::damaged(group::MEMBER_SPACE, "an entry"));
            };
            txn.put(group::MEMBER_BY_USER, &ids(&[*user, *course, *group]), &[])?;
            memberships += 1;
        }
        done.push(format!(
            "model 2: {assignments} role assignments and {memberships} group memberships indexed by user"
        ));
    }
    if from < 3 {
        let (indexed, duplicates) = Groups::index_existing(txn)?;
        let mut line = format!("model 3: {indexed} group and grouping names and idnumbers indexed");
        if duplicates > 0 {
            line.push_str(&format!(
                " ({duplicates} duplicates within a course left out: the first holder keeps each)"
            ));
        }
        done.push(line);
    }
    if from < 4 {
        done.push("model 4: cohorts and cohort bindings (nothing to convert)".to_string());
    }
    if from < 5 {
        done.push("model 5: account pictures (nothing to convert)".to_string());
    }
    Ok(done)
}

/// Every keyspace the model writes: the only shared keyspaces a plugin may write (through the
/// model; see [`crate::engine::Guard`]).
pub const KEYSPACES: &[&str] = &[
    user::SPACE,
    user::BY_USERNAME,
    user::BY_IDNUMBER,
    user::BY_EMAIL,
    role::SPACE,
    role::BY_SHORTNAME,
    category::SPACE,
    category::CHILDREN,
    category::BY_IDNUMBER,
    course::SPACE,
    course::BY_SHORTNAME,
    course::BY_IDNUMBER,
    course::BY_CATEGORY,
    course::SECTION_SPACE,
    enrol::INSTANCE_SPACE,
    enrol::FEEDS,
    enrol::ENROLMENT_SPACE,
    enrol::BY_USER,
    enrol::ASSIGNMENT_SPACE,
    enrol::ASSIGNMENT_BY_USER,
    group::GROUP_SPACE,
    group::GROUP_BY_NAME,
    group::GROUP_BY_IDNUMBER,
    group::MEMBER_SPACE,
    group::MEMBER_BY_USER,
    group::GROUPING_SPACE,
    group::GROUPING_BY_NAME,
    group::GROUPING_BY_IDNUMBER,
    group::BINDING_SPACE,
    cohort::SPACE,
    cohort::BY_NAME,
    cohort::BY_IDNUMBER,
    cohort::MEMBER_SPACE,
    cohort::MEMBER_BY_USER,
    cohort::BINDING_SPACE,
    picture::SPACE,
    picture::BY_FILE,
    activity::SPACE,
];

/// Every id sequence the model draws from.
pub const SEQUENCES: &[&str] = &[
    user::SEQUENCE,
    role::SEQUENCE,
    category::SEQUENCE,
    course::SEQUENCE,
    enrol::SEQUENCE,
    group::GROUP_SEQUENCE,
    group::GROUPING_SEQUENCE,
    cohort::SEQUENCE,
    activity::SEQUENCE,
];

/// Why the model refused an operation. Conflicts fail the row; store errors stop the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// An invariant would break (a username taken...).
    Conflict(String),
    Store(StoreError),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::Conflict(m) => f.write_str(m),
            ModelError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ModelError {}

impl From<StoreError> for ModelError {
    fn from(e: StoreError) -> Self {
        ModelError::Store(e)
    }
}

pub type ModelResult<T> = Result<T, ModelError>;

/// Record keys are big-endian ids, so that a scan returns records in id order.
pub fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

pub fn key_id(key: &[u8]) -> Option<u64> {
    key.try_into().ok().map(u64::from_be_bytes)
}

/// A composite key of big-endian ids: `ids(&[course, user])`. Course-scoped keyspaces start
/// with the course id, so that everything hanging on a course is one prefix scan away.
pub fn ids(parts: &[u64]) -> Vec<u8> {
    let mut key = Vec::with_capacity(parts.len() * 8);
    for part in parts {
        key.extend_from_slice(&part.to_be_bytes());
    }
    key
}

/// The id at position `index` (0-based, 8 bytes each) of a composite key.
pub fn id_at(key: &[u8], index: usize) -> Option<u64> {
    key.get(index * 8..index * 8 + 8).and_then(key_id)
}

/// Decodes a stored record, naming its keyspace when it is damaged.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(space: &str, bytes: &[u8]) -> ModelResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        ModelError::Store(StoreError::Failure(format!(
            "corrupt record in `{space}` ({e}); `toolsync export` can dump the rest"
        )))
    })
}

/// Every record of a keyspace under a prefix, decoded, in key order.
pub(crate) fn scan_records<T: serde::de::DeserializeOwned>(
    txn: &impl StoreRead,
    space: &str,
    prefix: &[u8],
) -> ModelResult<Vec<T>> {
    txn.scan_prefix(space, prefix, usize::MAX)?
        .iter()
        .map(|(_, v)| decode(space, v))
        .collect()
}

/// Removes every entry of a keyspace under a prefix; returns how many went.
pub(crate) fn remove_prefix(txn: &mut Txn<'_>, space: &str, prefix: &[u8]) -> ModelResult<usize> {
    let keys = txn.scan_prefix(space, prefix, usize::MAX)?;
    for (key, _) in &keys {
        txn.remove(space, key)?;
    }
    Ok(keys.len())
}

/// An index entry that points nowhere: the store is damaged.
pub(crate) fn dangling(space: &str, key: &str) -> ModelError {
    ModelError::Store(StoreError::Failure(format!(
        "index `{space}` points to a missing record for `{key}`: the store is damaged"
    )))
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

pub(crate) fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

/// The fields a record's stored form leaves out when they hold their empty value, by type:
/// what [`columns_of`] puts back so that `show` and `export` always list every column.
#[derive(Default)]
pub(crate) struct Omitted<'a> {
    pub texts: &'a [&'a str],
    pub flags: &'a [&'a str],
    pub numbers: &'a [&'a str],
}

/// A record as `show` and `export` print it: its JSON object without the version `v`, with the
/// omitted empty fields put back (`""`, `false`, `0`).
pub(crate) fn columns_of(
    record: &impl serde::Serialize,
    omitted: Omitted<'_>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut map = match serde_json::to_value(record) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    map.remove("v");
    for key in omitted.texts {
        map.entry(*key).or_insert_with(|| "".into());
    }
    for key in omitted.flags {
        map.entry(*key).or_insert(false.into());
    }
    for key in omitted.numbers {
        map.entry(*key).or_insert(0.into());
    }
    map
}

/// The unknown fields of a record, kept across rewrites.
pub type Extra = serde_json::Map<String, serde_json::Value>;

fn model_version() -> u32 {
    MODEL_VERSION
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;

    /// A store written by model 1 has no by-user entries: `upgrade` builds them from the
    /// records, and the cascades of a soft delete then find everything.
    #[test]
    fn upgrading_from_model_1_indexes_roles_and_memberships_by_user() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "C", true, 1).unwrap().id;
        let course = Courses::create(&mut txn, Course::new("A", "A", cat, 1)).unwrap();
        let user = Users::create(&mut txn, User::new("ann", "A", "A", 1)).unwrap();
        let role = Roles::by_shortname(&txn, "student").unwrap().unwrap().id;
        Enrolments::assign(&mut txn, course.id, user.id, role, 1).unwrap();
        let group = Groups::create_group(&mut txn, &course, "G", "", 1).unwrap();
        Groups::add_member(&mut txn, &group, user.id, 1).unwrap();
        let by_user = |txn: &Txn<'_>| {
            (
                Enrolments::courses_with_roles(txn, user.id).unwrap(),
                Groups::courses_of_member(txn, user.id).unwrap(),
            )
        };
        let indexed = by_user(&txn);
        assert_eq!(indexed, (vec![course.id], vec![course.id]));
        // What a model-1 store holds: no by-user entries.
        for space in [enrol::ASSIGNMENT_BY_USER, group::MEMBER_BY_USER] {
            remove_prefix(&mut txn, space, b"").unwrap();
        }
        assert_eq!(by_user(&txn), (vec![], vec![]));
        let done = upgrade(&mut txn, 1).unwrap();
        assert_eq!(
            done[0],
            "model 2: 1 role assignments and 1 group memberships indexed by user"
        );
        assert_eq!(by_user(&txn), indexed);
        assert!(upgrade(&mut txn, MODEL_VERSION).unwrap().is_empty());
    }

    /// A store written by model 2 has no group name or idnumber entries: `upgrade` builds
    /// them, and lookups by name or idnumber find the groups.
    #[test]
    fn upgrading_from_model_2_indexes_group_names_and_idnumbers() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        let cat = Categories::create(&mut txn, 0, "C", true, 1).unwrap().id;
        let course = Courses::create(&mut txn, Course::new("A", "A", cat, 1)).unwrap();
        let group = Groups::create_group(&mut txn, &course, "G", "G-1", 1).unwrap();
        Groups::create_grouping(&mut txn, &course, "GG", "", 1).unwrap();
        for space in [
            group::GROUP_BY_NAME,
            group::GROUP_BY_IDNUMBER,
            group::GROUPING_BY_NAME,
        ] {
            remove_prefix(&mut txn, space, b"").unwrap();
        }
        assert_eq!(
            Groups::find_group(&txn, course.id, GroupKey::Idnumber, "G-1").unwrap(),
            None
        );
        let done = upgrade(&mut txn, 2).unwrap();
        assert_eq!(
            done[0],
            "model 3: 3 group and grouping names and idnumbers indexed"
        );
        assert_eq!(
            Groups::find_group(&txn, course.id, GroupKey::Idnumber, "G-1").unwrap(),
            Some(group.clone())
        );
        assert_eq!(
            Groups::find_group(&txn, course.id, GroupKey::Name, "G").unwrap(),
            Some(group)
        );
    }
}
