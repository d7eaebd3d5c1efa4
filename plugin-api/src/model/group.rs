//! Groups and groupings of a course, and group memberships.
//!
//! What course-reset and course-delete need today; the groups processors will build on it.
//! Key layout (course first, so a course's groups are one prefix scan):
//! - `group`: course, group id → [`Group`]
//! - `group.member`: course, group, user → [`Membership`]
//! - `group.member.by_user`: user, course, group → nothing (a user's memberships)
//! - `grouping`: course, grouping id → [`Grouping`]
//! - `grouping.group`: course, grouping, group → nothing

use serde::{Deserialize, Serialize};

use super::{
    id_at, id_key, ids, model_version, remove_prefix, scan_records, Extra, ModelError, ModelResult,
    MODEL_VERSION,
};
use crate::model::Course;
use crate::txn::{StoreRead, Txn};

pub const GROUP_SPACE: &str = "group";
pub const MEMBER_SPACE: &str = "group.member";
pub(crate) const MEMBER_BY_USER: &str = "group.member.by_user";
pub const GROUPING_SPACE: &str = "grouping";
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
    pub timecreated: i64,
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
    pub timecreated: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    #[serde(default = "model_version")]
    pub v: u32,
    pub user: u64,
    pub timeadded: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct Groups;

impl Groups {
    pub fn groups(txn: &impl StoreRead, course: u64) -> ModelResult<Vec<Group>> {
        scan_records(txn, GROUP_SPACE, &id_key(course))
    }

    pub fn groupings(txn: &impl StoreRead, course: u64) -> ModelResult<Vec<Grouping>> {
        scan_records(txn, GROUPING_SPACE, &id_key(course))
    }

    /// The user ids of a group's members.
    pub fn members(txn: &impl StoreRead, group: &Group) -> ModelResult<Vec<u64>> {
        Ok(txn
            .scan_prefix(MEMBER_SPACE, &ids(&[group.course, group.id]), usize::MAX)?
            .iter()
            .filter_map(|(k, _)| id_at(k, 2))
            .collect())
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

    pub fn create_group(
        txn: &mut Txn<'_>,
        course: &Course,
        name: &str,
        idnumber: &str,
        now: i64,
    ) -> ModelResult<Group> {
        let group = Group {
            v: MODEL_VERSION,
            id: txn.next_id(GROUP_SEQUENCE)?,
            course: course.id,
            name: name.to_string(),
            idnumber: idnumber.to_string(),
            timecreated: now,
            extra: Extra::new(),
        };
        txn.put_json(GROUP_SPACE, &ids(&[course.id, group.id]), &group)?;
        Ok(group)
    }

    pub fn create_grouping(
        txn: &mut Txn<'_>,
        course: &Course,
        name: &str,
        idnumber: &str,
        now: i64,
    ) -> ModelResult<Grouping> {
        let grouping = Grouping {
            v: MODEL_VERSION,
            id: txn.next_id(GROUPING_SEQUENCE)?,
            course: course.id,
            name: name.to_string(),
            idnumber: idnumber.to_string(),
            timecreated: now,
            extra: Extra::new(),
        };
        txn.put_json(GROUPING_SPACE, &ids(&[course.id, grouping.id]), &grouping)?;
        Ok(grouping)
    }

    pub fn add_member(txn: &mut Txn<'_>, group: &Group, user: u64, now: i64) -> ModelResult<bool> {
        let key = ids(&[group.course, group.id, user]);
        if txn.get(MEMBER_SPACE, &key)?.is_some() {
            return Ok(false);
        }
        let membership = Membership {
            v: MODEL_VERSION,
            user,
            timeadded: now,
            extra: Extra::new(),
        };
        txn.put_json(MEMBER_SPACE, &key, &membership)?;
        txn.put(MEMBER_BY_USER, &ids(&[user, group.course, group.id]), &[])?;
        Ok(true)
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

    /// Binds a group to a grouping of the same course.
    pub fn bind(txn: &mut Txn<'_>, grouping: &Grouping, group: &Group) -> ModelResult<()> {
        if grouping.course != group.course {
            return Err(ModelError::Conflict(format!(
                "group `{}` is not in the grouping's course",
                group.name
            )));
        }
        txn.put(
            BINDING_SPACE,
            &ids(&[grouping.course, grouping.id, group.id]),
            &[],
        )?;
        Ok(())
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

    /// Deletes a group with its memberships and grouping bindings.
    pub fn delete_group(txn: &mut Txn<'_>, group: &Group) -> ModelResult<()> {
        Self::empty(txn, group)?;
        for grouping in Self::groupings(txn, group.course)? {
            txn.remove(BINDING_SPACE, &ids(&[group.course, grouping.id, group.id]))?;
        }
        txn.remove(GROUP_SPACE, &ids(&[group.course, group.id]))?;
        Ok(())
    }

    /// Unbinds every group of a grouping; returns how many bindings went.
    pub fn unbind_all(txn: &mut Txn<'_>, grouping: &Grouping) -> ModelResult<usize> {
        remove_prefix(txn, BINDING_SPACE, &ids(&[grouping.course, grouping.id]))
    }

    /// Deletes a grouping (its groups stay).
    pub fn delete_grouping(txn: &mut Txn<'_>, grouping: &Grouping) -> ModelResult<()> {
        Self::unbind_all(txn, grouping)?;
        txn.remove(GROUPING_SPACE, &ids(&[grouping.course, grouping.id]))?;
        Ok(())
    }

    /// Everything group-related of a course being deleted.
    pub(crate) fn remove_course(txn: &mut Txn<'_>, course: u64) -> ModelResult<()> {
        for group in Self::groups(txn, course)? {
            Self::empty(txn, &group)?;
        }
        let prefix = id_key(course);
        for space in [BINDING_SPACE, GROUP_SPACE, GROUPING_SPACE] {
            remove_prefix(txn, space, &prefix)?;
        }
        Ok(())
    }
}
