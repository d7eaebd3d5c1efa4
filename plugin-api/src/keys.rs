//! Keys (formats.md §2.6): the options that say which field designates a record
//! (`course_key`, `user_key`, `role_key`) and the lookups every processor shares, so that an
//! empty key, a key matching nothing, several records or a deleted account fail a row the
//! same way in every processor.

use crate::abi::OptionSpec;
use crate::model::{
    Cohort, CohortKey, Cohorts, Course, CourseKey, Courses, Group, GroupKey, Grouping, Groups,
    ModelResult, Role, RoleKey, Roles, User, UserKey, Users,
};
use crate::processor::{RowError, StartContext};
use crate::txn::StoreRead;
use crate::StartError;

/// The `course_key` option: shortname (default), idnumber or id.
pub fn course_key_option() -> OptionSpec {
    OptionSpec::new(
        "course_key",
        "shortname",
        "field that designates a course: shortname, idnumber or id",
    )
    .choices(&CourseKey::WORDS)
}

/// The `user_key` option, with this processor's default.
pub fn user_key_option(default: &str) -> OptionSpec {
    OptionSpec::new(
        "user_key",
        default,
        "field that designates an account: id, idnumber, username or email",
    )
    .choices(&UserKey::WORDS)
}

/// The `role_key` option: shortname (default) or id.
pub fn role_key_option() -> OptionSpec {
    OptionSpec::new(
        "role_key",
        "shortname",
        "field that designates a role: shortname or id",
    )
    .choices(&RoleKey::WORDS)
}

/// A group or grouping key option (`group_key`, `grouping_key`): id, idnumber or name, within
/// the row's course (formats.md §2.6). `what` says which cells it reads (`the group in
/// `groupid``), for `schema`.
pub fn group_key_option(option: &str, default: &str, what: &str) -> OptionSpec {
    OptionSpec::new(
        option,
        default,
        &format!("field of {what}: id, idnumber or name (within the row's course)"),
    )
    .choices(&GroupKey::WORDS)
}

/// The `cohort_key` option: idnumber (default), id or name.
pub fn cohort_key_option() -> OptionSpec {
    OptionSpec::new(
        "cohort_key",
        "idnumber",
        "field that designates a cohort: idnumber, id or name",
    )
    .choices(&CohortKey::WORDS)
}

impl StartContext {
    /// The run's `cohort_key`.
    pub fn cohort_key(&self) -> Result<CohortKey, StartError> {
        let word = self.option_choice("cohort_key", &CohortKey::WORDS)?;
        Ok(CohortKey::parse(&word).unwrap_or(CohortKey::Idnumber))
    }

    /// The run's `course_key` (a bad value is a usage error).
    pub fn course_key(&self) -> Result<CourseKey, StartError> {
        let word = self.option_choice("course_key", &CourseKey::WORDS)?;
        Ok(CourseKey::parse(&word).unwrap_or(CourseKey::Shortname))
    }

    /// The run's `user_key`.
    pub fn user_key(&self) -> Result<UserKey, StartError> {
        let word = self.option_choice("user_key", &UserKey::WORDS)?;
        Ok(UserKey::parse(&word).unwrap_or(UserKey::Username))
    }

    /// The run's value of a group or grouping key option ([`group_key_option`]).
    pub fn group_key(&self, option: &str) -> Result<GroupKey, StartError> {
        let word = self.option_choice(option, &GroupKey::WORDS)?;
        Ok(GroupKey::parse(&word).unwrap_or(GroupKey::Idnumber))
    }

    /// The run's `role_key`.
    pub fn role_key(&self) -> Result<RoleKey, StartError> {
        let word = self.option_choice("role_key", &RoleKey::WORDS)?;
        Ok(RoleKey::parse(&word).unwrap_or(RoleKey::Shortname))
    }
}

/// The course a cell designates, or `None`; an empty cell fails the row ("missing `column`").
pub fn lookup_course(
    store: &impl StoreRead,
    key: CourseKey,
    column: &str,
    value: &str,
) -> Result<Option<Course>, RowError> {
    if value.is_empty() {
        return Err(RowError::new(format!("missing `{column}`")));
    }
    Ok(Courses::find(store, key, value)?)
}

/// The course a cell designates; no match fails the row too.
pub fn find_course(
    store: &impl StoreRead,
    key: CourseKey,
    column: &str,
    value: &str,
) -> Result<Course, RowError> {
    lookup_course(store, key, column, value)?.ok_or_else(|| course_not_found(key, value))
}

/// "course not found: no course with shortname = X".
pub fn course_not_found(key: CourseKey, value: &str) -> RowError {
    RowError::new(format!(
        "course not found: no course with {} = {value}",
        key.column()
    ))
}

/// The one live account a cell designates: an empty cell, no match, several matches (accounts
/// sharing an e-mail) and a soft-deleted account fail the row (§2.6: a deleted account used as
/// a key outside the users processor).
pub fn find_user(
    store: &impl StoreRead,
    key: UserKey,
    column: &str,
    value: &str,
) -> Result<User, RowError> {
    if value.is_empty() {
        return Err(RowError::new(format!("missing `{column}`")));
    }
    let mut found = Users::find(store, key, value)?;
    match found.len() {
        0 => Err(RowError::new(format!(
            "no user with {} = {value}",
            key.column()
        ))),
        1 => {
            let user = found.remove(0);
            if user.deleted {
                Err(RowError::new(format!(
                    "`{column}`: account deleted ({})",
                    user.username
                )))
            } else {
                Ok(user)
            }
        }
        n => Err(RowError::new(format!(
            "{n} accounts have {} = {value}",
            key.column()
        ))),
    }
}

/// The group of `course` a cell designates; an empty cell ("missing `groupid`") or no match
/// ("no group with idnumber = G9 in course HIST101") fails the row. Groups are looked up
/// within the row's course only (formats.md §2.6).
pub fn find_group(
    store: &impl StoreRead,
    course: &Course,
    key: GroupKey,
    column: &str,
    value: &str,
) -> Result<Group, RowError> {
    find_in_course(course, key, column, value, "group", |value| {
        Groups::find_group(store, course.id, key, value)
    })
}

/// The grouping of `course` a cell designates, as [`find_group`] does for groups.
pub fn find_grouping(
    store: &impl StoreRead,
    course: &Course,
    key: GroupKey,
    column: &str,
    value: &str,
) -> Result<Grouping, RowError> {
    find_in_course(course, key, column, value, "grouping", |value| {
        Groups::find_grouping(store, course.id, key, value)
    })
}

fn find_in_course<T>(
    course: &Course,
    key: GroupKey,
    column: &str,
    value: &str,
    what: &str,
    find: impl FnOnce(&str) -> ModelResult<Option<T>>,
) -> Result<T, RowError> {
    if value.is_empty() {
        return Err(RowError::new(format!("missing `{column}`")));
    }
    find(value)?.ok_or_else(|| {
        RowError::new(format!(
            "no {what} with {} = {value} in course {}",
            key.column(),
            course.shortname
        ))
    })
}

/// The cohort a cell designates; an empty cell ("missing `cohort`") or no match ("no cohort
/// with idnumber = 3A") fails the row.
pub fn find_cohort(
    store: &impl StoreRead,
    key: CohortKey,
    column: &str,
    value: &str,
) -> Result<Cohort, RowError> {
    if value.is_empty() {
        return Err(RowError::new(format!("missing `{column}`")));
    }
    Cohorts::find(store, key, value)?
        .ok_or_else(|| RowError::new(format!("no cohort with {} = {value}", key.column())))
}

/// The role a cell designates (shortnames compare case-insensitively).
pub fn find_role(
    store: &impl StoreRead,
    key: RoleKey,
    column: &str,
    value: &str,
) -> Result<Role, RowError> {
    if value.is_empty() {
        return Err(RowError::new(format!("missing `{column}`")));
    }
    Roles::find(store, key, value)?.ok_or_else(|| {
        RowError::new(format!(
            "`{column}`: no role with {} = {value}",
            key.column()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Categories;
    use crate::testing::MemoryStore;

    #[test]
    fn every_kind_of_miss_fails_its_own_way() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "C", true, 1).unwrap().id;
        Courses::create(&mut txn, Course::new("A", "A", cat, 1)).unwrap();
        let mut ann = User::new("ann", "A", "A", 1);
        ann.email = "same@x.org".into();
        let mut bob = User::new("bob", "B", "B", 1);
        bob.email = "same@x.org".into();
        Users::create(&mut txn, ann).unwrap();
        let mut bob = Users::create(&mut txn, bob).unwrap();
        Users::soft_delete(&mut txn, &mut bob, 2).unwrap();
        drop(txn);
        let read = store.read();
        let reason = |r: Result<User, RowError>| r.unwrap_err().reason;
        assert_eq!(
            reason(find_user(&read, UserKey::Username, "uid", "")),
            "missing `uid`"
        );
        assert_eq!(
            reason(find_user(&read, UserKey::Idnumber, "uid", "U042")),
            "no user with idnumber = U042"
        );
        assert_eq!(
            reason(find_user(&read, UserKey::Email, "uid", "same@x.org")),
            "2 accounts have email = same@x.org"
        );
        assert_eq!(
            reason(find_user(&read, UserKey::Username, "uid", "bob")),
            "`uid`: account deleted (bob)"
        );
        assert_eq!(
            find_user(&read, UserKey::Username, "uid", "ANN")
                .unwrap()
                .username,
            "ann"
        );
        assert_eq!(
            find_course(&read, CourseKey::Shortname, "cid", "Z")
                .unwrap_err()
                .reason,
            "course not found: no course with shortname = Z"
        );
        assert_eq!(
            find_role(&read, RoleKey::Shortname, "rolename", "STUDENT")
                .unwrap()
                .shortname,
            "student"
        );
        assert_eq!(
            find_role(&read, RoleKey::Id, "rolename", "99")
                .unwrap_err()
                .reason,
            "`rolename`: no role with id = 99"
        );
    }

    #[test]
    fn groups_and_groupings_are_found_within_the_row_course_only() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        let cat = Categories::create(&mut txn, 0, "C", true, 1).unwrap().id;
        let a = Courses::create(&mut txn, Course::new("A", "A", cat, 1)).unwrap();
        let b = Courses::create(&mut txn, Course::new("B", "B", cat, 1)).unwrap();
        let red = Groups::create_group(&mut txn, &a, "Red", "R1", 1).unwrap();
        let team = Groups::create_grouping(&mut txn, &a, "Team", "T1", 1).unwrap();
        drop(txn);
        let read = store.read();
        let reason = |r: Result<Group, RowError>| r.unwrap_err().reason;
        assert_eq!(
            find_group(&read, &a, GroupKey::Idnumber, "groupid", "R1").unwrap(),
            red
        );
        assert_eq!(
            find_group(&read, &a, GroupKey::Id, "groupid", &red.id.to_string()).unwrap(),
            red
        );
        assert_eq!(
            reason(find_group(&read, &b, GroupKey::Name, "groupid", "Red")),
            "no group with name = Red in course B"
        );
        assert_eq!(
            reason(find_group(&read, &a, GroupKey::Idnumber, "groupid", "")),
            "missing `groupid`"
        );
        assert_eq!(
            find_grouping(&read, &a, GroupKey::Name, "grouping", "Team").unwrap(),
            team
        );
        assert_eq!(
            find_grouping(&read, &a, GroupKey::Idnumber, "grouping", "R1")
                .unwrap_err()
                .reason,
            "no grouping with idnumber = R1 in course A",
            "a group's idnumber designates no grouping"
        );
    }
}
