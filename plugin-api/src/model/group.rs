//! Groups and groupings of a course, group memberships and grouping bindings.
//!
//! Invariants kept here (formats.md §3.8, §3.9):
//! - a name is unique among the course's groups (resp. groupings), and a non-empty idnumber
//!   too; both are indexed, so a lookup by either is one read;
//! - a member holds an enrolment (active or suspended) or a role in the course
//!   ([`Groups::add_member`] refuses anyone else), and loses the membership with the last of
//!   them (in [`crate::model::Enrolments`]);
//! - a grouping binds groups of its own course only.
//!
//! Groups and groupings share their shape and their rules: one generic implementation
//! ([`Set`]) serves both, and [`Groups`] names the operations per kind.
//!
//! Key layout (course first, so a course's groups are one prefix scan):
//! - `group`: course, group id → [`Group`]
//! - `group.name`: course, name → group id; `group.idnumber`: course, idnumber → group id
//! - `group.member`: course, group, user → [`Membership`]
//! - `group.member.by_user`: user, course, group → nothing (a user's memberships)
//! - `grouping`: course, grouping id → [`Grouping`]
//! - `grouping.name`, `grouping.idnumber`: as for groups
//! - `grouping.group`: course, grouping, group → nothing

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::index::Unique;
use super::{
    id_at, id_key, ids, model_version, remove_prefix, scan_records, Extra, ModelError, ModelResult,
    MODEL_VERSION,
};
use crate::model::{Course, Enrolments, Method};
use crate::txn::{StoreRead, Txn};

pub const GROUP_SPACE: &str = "group";
pub(crate) const GROUP_BY_NAME: &str = "group.name";
pub(crate) const GROUP_BY_IDNUMBER: &str = "group.idnumber";
pub const MEMBER_SPACE: &str = "group.member";
pub(crate) const MEMBER_BY_USER: &str = "group.member.by_user";
pub const GROUPING_SPACE: &str = "grouping";
pub(crate) const GROUPING_BY_NAME: &str = "grouping.name";
pub(crate) const GROUPING_BY_IDNUMBER: &str = "grouping.idnumber";
pub(crate) const BINDING_SPACE: &str = "grouping.group";
pub(crate) const GROUP_SEQUENCE: &str = "group";
pub(crate) const GROUPING_SEQUENCE: &str = "grouping";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    #[serde(default = "model_version")]
    pub v: u32,
    pub id: u64,
    pub course: u64,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub idnumber: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub timecreated: i64,
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub timemodified: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grouping {
    #[serde(default = "model_version")]
    pub v: u32,
    pub id: u64,
    pub course: u64,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub idnumber: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub timecreated: i64,
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub timemodified: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    #[serde(default = "model_version")]
    pub v: u32,
    pub user: u64,
    pub timeadded: i64,
    /// 0: made by a row; else the enrolment instance that made it and owns it (a cohort
    /// binding's `makegroup`), which removes it with the enrolment it made.
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub source: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The fields a group or grouping can be designated by within its course (formats.md §2.6,
/// options `group_key`, `grouping_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKey {
    Id,
    Idnumber,
    Name,
}

impl GroupKey {
    pub const WORDS: [&'static str; 3] = ["id", "idnumber", "name"];

    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "id" => Some(GroupKey::Id),
            "idnumber" => Some(GroupKey::Idnumber),
            "name" => Some(GroupKey::Name),
            _ => None,
        }
    }

    pub fn column(self) -> &'static str {
        match self {
            GroupKey::Id => "id",
            GroupKey::Idnumber => "idnumber",
            GroupKey::Name => "name",
        }
    }
}

/// What groups and groupings have in common: a record in a course, with a unique name and a
/// unique non-empty idnumber there.
pub(crate) trait Set: Serialize + DeserializeOwned + Clone {
    /// `group`, `grouping`: for messages.
    const WHAT: &'static str;
    const SPACE: &'static str;
    const SEQUENCE: &'static str;
    const NAMES: Unique;
    const IDNUMBERS: Unique;

    fn new(id: u64, course: u64, name: &str, idnumber: &str, now: i64) -> Self;
    fn id(&self) -> u64;
    fn course(&self) -> u64;
    fn name(&self) -> &str;
    fn idnumber(&self) -> &str;
    /// Stamps the record before it is written.
    fn touch(&mut self, now: i64);
}

macro_rules! impl_set {
    ($ty:ty, $what:literal, $space:expr, $sequence:expr, $names:expr, $idnumbers:expr) => {
        impl Set for $ty {
            const WHAT: &'static str = $what;
            const SPACE: &'static str = $space;
            const SEQUENCE: &'static str = $sequence;
            const NAMES: Unique = Unique::new($names, "name", concat!($what, " of the course"));
            const IDNUMBERS: Unique =
                Unique::new($idnumbers, "idnumber", concat!($what, " of the course"));

            fn new(id: u64, course: u64, name: &str, idnumber: &str, now: i64) -> Self {
                Self {
                    v: MODEL_VERSION,
                    id,
                    course,
                    name: name.to_string(),
                    idnumber: idnumber.to_string(),
                    description: String::new(),
                    timecreated: now,
                    timemodified: 0,
                    extra: Extra::new(),
                }
            }
            fn id(&self) -> u64 {
                self.id
            }
            fn course(&self) -> u64 {
                self.course
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn idnumber(&self) -> &str {
                &self.idnumber
            }
            fn touch(&mut self, now: i64) {
                self.v = MODEL_VERSION;
                self.timemodified = now;
            }
        }
    };
}

impl_set!(
    Group,
    "group",
    GROUP_SPACE,
    GROUP_SEQUENCE,
    GROUP_BY_NAME,
    GROUP_BY_IDNUMBER
);
impl_set!(
    Grouping,
    "grouping",
    GROUPING_SPACE,
    GROUPING_SEQUENCE,
    GROUPING_BY_NAME,
    GROUPING_BY_IDNUMBER
);

/// A name or idnumber's index key within a course; empty (never indexed) for an empty value.
pub(crate) fn text_in_course(course: u64, text: &str) -> Vec<u8> {
    if text.is_empty() {
        return Vec::new();
    }
    let mut key = ids(&[course]);
    key.extend_from_slice(text.as_bytes());
    key
}

/// The generic operations on groups and groupings.
struct Sets;

impl Sets {
    fn all<S: Set>(txn: &impl StoreRead, course: u64) -> ModelResult<Vec<S>> {
        scan_records(txn, S::SPACE, &id_key(course))
    }

    fn get<S: Set>(txn: &impl StoreRead, course: u64, id: u64) -> ModelResult<Option<S>> {
        Ok(txn.get_json(S::SPACE, &ids(&[course, id]))?)
    }

    fn find<S: Set>(
        txn: &impl StoreRead,
        course: u64,
        key: GroupKey,
        value: &str,
    ) -> ModelResult<Option<S>> {
        let load = |txn: &_, id| Self::get::<S>(txn, course, id);
        match key {
            GroupKey::Id => match value.parse::<u64>() {
                Ok(id) if id > 0 => Self::get(txn, course, id),
                _ => Ok(None),
            },
            GroupKey::Name => S::NAMES.follow(txn, &text_in_course(course, value), load),
            GroupKey::Idnumber => S::IDNUMBERS.follow(txn, &text_in_course(course, value), load),
        }
    }

    fn create<S: Set>(
        txn: &mut Txn<'_>,
        course: &Course,
        name: &str,
        idnumber: &str,
        now: i64,
    ) -> ModelResult<S> {
        Self::check_name(name, S::WHAT)?;
        let name_key = text_in_course(course.id, name);
        let idnumber_key = text_in_course(course.id, idnumber);
        S::NAMES.check_free(txn, &name_key, name, 0)?;
        S::IDNUMBERS.check_free(txn, &idnumber_key, idnumber, 0)?;
        let record = S::new(txn.next_id(S::SEQUENCE)?, course.id, name, idnumber, now);
        txn.put_json(S::SPACE, &ids(&[course.id, record.id()]), &record)?;
        S::NAMES.put(txn, &name_key, record.id())?;
        S::IDNUMBERS.put(txn, &idnumber_key, record.id())?;
        Ok(record)
    }

    /// Writes a changed record back, moving its index entries (a name or idnumber another
    /// record of the course holds is refused).
    fn save<S: Set>(txn: &mut Txn<'_>, record: &mut S, now: i64) -> ModelResult<()> {
        let (course, id) = (record.course(), record.id());
        let before: S = Self::get(txn, course, id)?.ok_or_else(|| {
            ModelError::Conflict(format!("{} {id} does not exist in its course", S::WHAT))
        })?;
        Self::check_name(record.name(), S::WHAT)?;
        let (old_name, new_name) = (
            text_in_course(course, before.name()),
            text_in_course(course, record.name()),
        );
        let (old_idnumber, new_idnumber) = (
            text_in_course(course, before.idnumber()),
            text_in_course(course, record.idnumber()),
        );
        S::NAMES.check_free(txn, &new_name, record.name(), id)?;
        S::IDNUMBERS.check_free(txn, &new_idnumber, record.idnumber(), id)?;
        S::NAMES.change(txn, &old_name, &new_name, id)?;
        S::IDNUMBERS.change(txn, &old_idnumber, &new_idnumber, id)?;
        record.touch(now);
        txn.put_json(S::SPACE, &ids(&[course, id]), record)?;
        Ok(())
    }

    /// Removes the record and its index entries (what hangs on it is the caller's).
    fn remove<S: Set>(txn: &mut Txn<'_>, record: &S) -> ModelResult<()> {
        let course = record.course();
        S::NAMES.remove(txn, &text_in_course(course, record.name()))?;
        S::IDNUMBERS.remove(txn, &text_in_course(course, record.idnumber()))?;
        txn.remove(S::SPACE, &ids(&[course, record.id()]))?;
        Ok(())
    }

    fn check_name(name: &str, what: &str) -> ModelResult<()> {
        if name.is_empty() {
            return Err(ModelError::Conflict(format!("a {what} needs a name")));
        }
        Ok(())
    }
}

pub struct Groups;

impl Groups {
    pub fn groups(txn: &impl StoreRead, course: u64) -> ModelResult<Vec<Group>> {
        Sets::all(txn, course)
    }

    pub fn groupings(txn: &impl StoreRead, course: u64) -> ModelResult<Vec<Grouping>> {
        Sets::all(txn, course)
    }

    pub fn group(txn: &impl StoreRead, course: u64, id: u64) -> ModelResult<Option<Group>> {
        Sets::get(txn, course, id)
    }

    pub fn grouping(txn: &impl StoreRead, course: u64, id: u64) -> ModelResult<Option<Grouping>> {
        Sets::get(txn, course, id)
    }

    /// The group of a course a key designates (formats.md §2.6: within the course only).
    pub fn find_group(
        txn: &impl StoreRead,
        course: u64,
        key: GroupKey,
        value: &str,
    ) -> ModelResult<Option<Group>> {
        Sets::find(txn, course, key, value)
    }

    pub fn find_grouping(
        txn: &impl StoreRead,
        course: u64,
        key: GroupKey,
        value: &str,
    ) -> ModelResult<Option<Grouping>> {
        Sets::find(txn, course, key, value)
    }

    /// The user ids of a group's members.
    pub fn members(txn: &impl StoreRead, group: &Group) -> ModelResult<Vec<u64>> {
        Ok(txn
            .scan_prefix(MEMBER_SPACE, &ids(&[group.course, group.id]), usize::MAX)?
            .iter()
            .filter_map(|(k, _)| id_at(k, 2))
            .collect())
    }

    /// Whether a group has at least one member (one read, whatever its size).
    pub fn has_members(txn: &impl StoreRead, group: &Group) -> ModelResult<bool> {
        Ok(!txn
            .scan_prefix(MEMBER_SPACE, &ids(&[group.course, group.id]), 1)?
            .is_empty())
    }

    /// The group ids bound to a grouping.
    pub fn bound(txn: &impl StoreRead, grouping: &Grouping) -> ModelResult<Vec<u64>> {
        Ok(txn
            .scan_prefix(
                BINDING_SPACE,
                &ids(&[grouping.course, grouping.id]),
                usize::MAX,
            )?
            .iter()
            .filter_map(|(k, _)| id_at(k, 2))
            .collect())
    }

    /// Creates a group; its name, and its idnumber when not empty, must be free in the course.
    pub fn create_group(
        txn: &mut Txn<'_>,
        course: &Course,
        name: &str,
        idnumber: &str,
        now: i64,
    ) -> ModelResult<Group> {
        Sets::create(txn, course, name, idnumber, now)
    }

    /// The course's group of that name, created (without idnumber) when missing; the flag
    /// says whether it was created.
    pub fn find_or_create_group(
        txn: &mut Txn<'_>,
        course: &Course,
        name: &str,
        now: i64,
    ) -> ModelResult<(Group, bool)> {
        match Self::find_group(txn, course.id, GroupKey::Name, name)? {
            Some(found) => Ok((found, false)),
            None => Ok((Self::create_group(txn, course, name, "", now)?, true)),
        }
    }

    pub fn create_grouping(
        txn: &mut Txn<'_>,
        course: &Course,
        name: &str,
        idnumber: &str,
        now: i64,
    ) -> ModelResult<Grouping> {
        Sets::create(txn, course, name, idnumber, now)
    }

    /// Writes back a changed group (name, idnumber, description...), keeping its indexes.
    pub fn save_group(txn: &mut Txn<'_>, group: &mut Group, now: i64) -> ModelResult<()> {
        Sets::save(txn, group, now)
    }

    pub fn save_grouping(txn: &mut Txn<'_>, grouping: &mut Grouping, now: i64) -> ModelResult<()> {
        Sets::save(txn, grouping, now)
    }

    /// Adds a member. The account must hold an enrolment (active or suspended) or a role in
    /// the course (§3.9). Returns whether the membership is new.
    pub fn add_member(txn: &mut Txn<'_>, group: &Group, user: u64, now: i64) -> ModelResult<bool> {
        Self::put_member(txn, group, user, 0, now)
    }

    /// Adds a member on behalf of an owning enrolment instance (a cohort binding): the
    /// membership records its owner and goes with the enrolment it made. A membership already
    /// there (made by a row, or by another owner) stays as it is. Returns whether it is new.
    pub fn add_owned_member(
        txn: &mut Txn<'_>,
        group: &Group,
        user: u64,
        source: u64,
        now: i64,
    ) -> ModelResult<bool> {
        Self::put_member(txn, group, user, source, now)
    }

    fn put_member(
        txn: &mut Txn<'_>,
        group: &Group,
        user: u64,
        source: u64,
        now: i64,
    ) -> ModelResult<bool> {
        let key = ids(&[group.course, group.id, user]);
        if txn.get(MEMBER_SPACE, &key)?.is_some() {
            return Ok(false);
        }
        if !Enrolments::participates(txn, group.course, user)? {
            return Err(ModelError::Conflict(format!(
                "the account holds no enrolment or role in the course of group `{}`",
                group.name
            )));
        }
        let membership = Membership {
            v: MODEL_VERSION,
            user,
            timeadded: now,
            source,
            extra: Extra::new(),
        };
        txn.put_json(MEMBER_SPACE, &key, &membership)?;
        txn.put(MEMBER_BY_USER, &ids(&[user, group.course, group.id]), &[])?;
        Ok(true)
    }

    pub fn is_member(txn: &impl StoreRead, group: &Group, user: u64) -> ModelResult<bool> {
        Ok(txn
            .get(MEMBER_SPACE, &ids(&[group.course, group.id, user]))?
            .is_some())
    }

    /// Removes one membership; returns whether there was one.
    pub fn remove_member(txn: &mut Txn<'_>, group: &Group, user: u64) -> ModelResult<bool> {
        if !Self::is_member(txn, group, user)? {
            return Ok(false);
        }
        Self::remove_membership(txn, group.course, group.id, user)?;
        Ok(true)
    }

    /// Removes a membership if `source` owns it; returns whether it did.
    pub fn remove_owned_member(
        txn: &mut Txn<'_>,
        group: &Group,
        user: u64,
        source: u64,
    ) -> ModelResult<bool> {
        let key = ids(&[group.course, group.id, user]);
        match txn.get_json::<Membership>(MEMBER_SPACE, &key)? {
            Some(m) if m.source == source => {
                Self::remove_membership(txn, group.course, group.id, user)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Removes the memberships of a user in a course that `source` owns; returns how many.
    pub(crate) fn remove_owned(
        txn: &mut Txn<'_>,
        course: u64,
        user: u64,
        source: u64,
    ) -> ModelResult<usize> {
        let mut removed = 0;
        for group in Self::groups_of_member(txn, course, user)? {
            let key = ids(&[course, group, user]);
            if txn
                .get_json::<Membership>(MEMBER_SPACE, &key)?
                .is_some_and(|m| m.source == source)
            {
                Self::remove_membership(txn, course, group, user)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes one membership (both its entries).
    fn remove_membership(txn: &mut Txn<'_>, course: u64, group: u64, user: u64) -> ModelResult<()> {
        txn.remove(MEMBER_SPACE, &ids(&[course, group, user]))?;
        txn.remove(MEMBER_BY_USER, &ids(&[user, course, group]))?;
        Ok(())
    }

    /// The courses where a user is in a group.
    pub fn courses_of_member(txn: &impl StoreRead, user: u64) -> ModelResult<Vec<u64>> {
        let mut courses: Vec<u64> = txn
            .scan_prefix(MEMBER_BY_USER, &id_key(user), usize::MAX)?
            .iter()
            .filter_map(|(k, _)| id_at(k, 1))
            .collect();
        courses.dedup();
        Ok(courses)
    }

    /// The ids of the groups of a course a user is in.
    pub fn groups_of_member(txn: &impl StoreRead, course: u64, user: u64) -> ModelResult<Vec<u64>> {
        Ok(txn
            .scan_prefix(MEMBER_BY_USER, &ids(&[user, course]), usize::MAX)?
            .iter()
            .filter_map(|(k, _)| id_at(k, 2))
            .collect())
    }

    /// Binds a group to a grouping of the same course. Returns whether the binding is new.
    pub fn bind(txn: &mut Txn<'_>, grouping: &Grouping, group: &Group) -> ModelResult<bool> {
        if grouping.course != group.course {
            return Err(ModelError::Conflict(format!(
                "group `{}` is not in the grouping's course",
                group.name
            )));
        }
        let key = ids(&[grouping.course, grouping.id, group.id]);
        if txn.get(BINDING_SPACE, &key)?.is_some() {
            return Ok(false);
        }
        txn.put(BINDING_SPACE, &key, &[])?;
        Ok(true)
    }

    /// Removes a user from every group of a course; returns how many memberships went.
    pub fn remove_user(txn: &mut Txn<'_>, course: u64, user: u64) -> ModelResult<usize> {
        let groups = Self::groups_of_member(txn, course, user)?;
        for group in &groups {
            Self::remove_membership(txn, course, *group, user)?;
        }
        Ok(groups.len())
    }

    /// Empties a group; returns how many memberships went.
    pub fn empty(txn: &mut Txn<'_>, group: &Group) -> ModelResult<usize> {
        let members = Self::members(txn, group)?;
        for user in &members {
            Self::remove_membership(txn, group.course, group.id, *user)?;
        }
        Ok(members.len())
    }

    /// Deletes a group with its memberships and grouping bindings; a cohort binding that
    /// filled it fills no group any more.
    pub fn delete_group(txn: &mut Txn<'_>, group: &Group) -> ModelResult<()> {
        Self::empty(txn, group)?;
        for mut binding in Enrolments::instances_of(txn, group.course, Method::Cohort)? {
            if binding.group == group.id {
                binding.group = 0;
                txn.put_json(
                    super::enrol::INSTANCE_SPACE,
                    &ids(&[binding.course, binding.id]),
                    &binding,
                )?;
            }
        }
        for grouping in Self::groupings(txn, group.course)? {
            txn.remove(BINDING_SPACE, &ids(&[group.course, grouping.id, group.id]))?;
        }
        Sets::remove(txn, group)
    }

    /// Unbinds every group of a grouping; returns how many bindings went.
    pub fn unbind_all(txn: &mut Txn<'_>, grouping: &Grouping) -> ModelResult<usize> {
        remove_prefix(txn, BINDING_SPACE, &ids(&[grouping.course, grouping.id]))
    }

    /// Deletes a grouping (its groups stay).
    pub fn delete_grouping(txn: &mut Txn<'_>, grouping: &Grouping) -> ModelResult<()> {
        Self::unbind_all(txn, grouping)?;
        Sets::remove(txn, grouping)
    }

    /// Everything group-related of a course being deleted.
    pub(crate) fn remove_course(txn: &mut Txn<'_>, course: u64) -> ModelResult<()> {
        for group in Self::groups(txn, course)? {
            Self::empty(txn, &group)?;
        }
        let prefix = id_key(course);
        for space in [
            BINDING_SPACE,
            GROUP_SPACE,
            GROUP_BY_NAME,
            GROUP_BY_IDNUMBER,
            GROUPING_SPACE,
            GROUPING_BY_NAME,
            GROUPING_BY_IDNUMBER,
        ] {
            remove_prefix(txn, space, &prefix)?;
        }
        Ok(())
    }

    /// Model 3: indexes the names and idnumbers of a store's existing groups and groupings.
    /// A duplicate (possible only before model 3) keeps its record and loses its entry: the
    /// first holder keeps the name. Returns (indexed, duplicates).
    pub(crate) fn index_existing(txn: &mut Txn<'_>) -> ModelResult<(usize, usize)> {
        fn index<S: Set>(txn: &mut Txn<'_>) -> ModelResult<(usize, usize)> {
            let (mut indexed, mut duplicates) = (0, 0);
            for (_, bytes) in txn.scan_prefix(S::SPACE, b"", usize::MAX)? {
                let record: S = super::decode(S::SPACE, &bytes)?;
                for (index, text) in [(S::NAMES, record.name()), (S::IDNUMBERS, record.idnumber())]
                {
                    let key = text_in_course(record.course(), text);
                    if key.is_empty() {
                        continue;
                    }
                    if index.lookup(txn, &key)?.is_some() {
                        duplicates += 1;
                    } else {
                        index.put(txn, &key, record.id())?;
                        indexed += 1;
                    }
                }
            }
            Ok((indexed, duplicates))
        }
        let (a, b) = index::<Group>(txn)?;
        let (c, d) = index::<Grouping>(txn)?;
        Ok((a + c, b + d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Categories, Courses, Roles, User, Users};
    use crate::testing::MemoryStore;

    fn world(store: &mut MemoryStore) -> (Course, u64) {
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "C", true, 1).unwrap().id;
        let course = Courses::create(&mut txn, Course::new("A", "A", cat, 1)).unwrap();
        let user = Users::create(&mut txn, User::new("ann", "A", "A", 1))
            .unwrap()
            .id;
        (course, user)
    }

    #[test]
    fn names_and_idnumbers_are_unique_within_a_course_and_found_by_every_key() {
        let mut store = MemoryStore::new();
        let (course, _) = world(&mut store);
        let mut txn = store.txn();
        let g = Groups::create_group(&mut txn, &course, "Red", "R1", 1).unwrap();
        let err = Groups::create_group(&mut txn, &course, "Red", "", 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "name `Red` belongs to another group of the course (id 1)"
        );
        assert!(Groups::create_group(&mut txn, &course, "Blue", "R1", 1).is_err());
        // A grouping may share a group's name: they are different sets.
        let gg = Groups::create_grouping(&mut txn, &course, "Red", "R1", 1).unwrap();
        for (key, value) in [
            (GroupKey::Name, "Red"),
            (GroupKey::Idnumber, "R1"),
            (GroupKey::Id, &*g.id.to_string()),
        ] {
            assert_eq!(
                Groups::find_group(&txn, course.id, key, value).unwrap(),
                Some(g.clone())
            );
        }
        assert_eq!(
            Groups::find_grouping(&txn, course.id, GroupKey::Idnumber, "R1").unwrap(),
            Some(gg)
        );
        assert_eq!(
            Groups::find_group(&txn, course.id, GroupKey::Idnumber, "").unwrap(),
            None
        );
        // Renaming moves the entries.
        let mut renamed = g.clone();
        renamed.name = "Green".into();
        renamed.idnumber = String::new();
        Groups::save_group(&mut txn, &mut renamed, 2).unwrap();
        assert_eq!(
            Groups::find_group(&txn, course.id, GroupKey::Name, "Red").unwrap(),
            None
        );
        assert_eq!(
            Groups::find_group(&txn, course.id, GroupKey::Idnumber, "R1").unwrap(),
            None
        );
        let blue = Groups::create_group(&mut txn, &course, "Blue", "R1", 1).unwrap();
        let mut clash = blue.clone();
        clash.name = "Green".into();
        assert!(Groups::save_group(&mut txn, &mut clash, 3).is_err());
        Groups::delete_group(&mut txn, &blue).unwrap();
        assert_eq!(
            Groups::find_group(&txn, course.id, GroupKey::Name, "Blue").unwrap(),
            None
        );
    }

    #[test]
    fn a_member_must_take_part_in_the_course() {
        let mut store = MemoryStore::new();
        let (course, user) = world(&mut store);
        let mut txn = store.txn();
        let g = Groups::create_group(&mut txn, &course, "G", "", 1).unwrap();
        let err = Groups::add_member(&mut txn, &g, user, 1).unwrap_err();
        assert!(err.to_string().contains("no enrolment or role"), "{err}");
        let student = Roles::by_shortname(&txn, "student").unwrap().unwrap().id;
        Enrolments::assign(&mut txn, course.id, user, student, 1).unwrap();
        assert!(Groups::add_member(&mut txn, &g, user, 1).unwrap());
        assert!(!Groups::add_member(&mut txn, &g, user, 1).unwrap());
        // The last role gone, the membership goes with it.
        Enrolments::unassign(&mut txn, course.id, user, student, 2).unwrap();
        assert!(Groups::members(&txn, &g).unwrap().is_empty());
    }
}
