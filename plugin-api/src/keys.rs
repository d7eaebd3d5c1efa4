//! Keys (formats.md §2.6): the options that say which field designates a record
//! (`course_key`, `user_key`, `role_key`) and the lookups every processor shares, so that an
//! empty key, a key matching nothing, several records or a deleted account fail a row the
//! same way in every processor.

use crate::abi::OptionSpec;
use crate::model::{Course, CourseKey, Courses, Role, RoleKey, Roles, User, UserKey, Users};
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

impl StartContext {
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
}
