//! User accounts and their indexes (username, idnumber, e-mail).
//!
//! Invariants kept here: a username is unique among all accounts, deleted ones included; a
//! non-empty idnumber is unique among accounts; every index entry matches its record. E-mail
//! uniqueness is a processor option (`allow_duplicate_emails`), so the e-mail index allows
//! several accounts per address.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::index::{self, text_key, Multi, Unique};
use super::{
    columns_of, id_key, model_version, Cohorts, Enrolments, Extra, ModelError, ModelResult,
    Omitted, Pictures, MODEL_VERSION,
};
use crate::txn::{StoreRead, Txn};

pub const SPACE: &str = "user";
pub(crate) const BY_USERNAME: &str = "user.username";
pub(crate) const BY_IDNUMBER: &str = "user.idnumber";
/// Key: lowercased e-mail, NUL, id (big-endian): several accounts may share an address.
pub(crate) const BY_EMAIL: &str = "user.email";
pub(crate) const SEQUENCE: &str = "user";

/// Where a password stands. The clear text is never stored: only a bcrypt hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PasswordState {
    /// No password yet: the platform creates one.
    #[default]
    ToBeCreated,
    /// `*NOPASS*`: password log-in forbidden.
    Nologin,
    /// `password_hash` holds a bcrypt hash.
    Hashed,
}

/// An account. Field names are the users format's column names.
///
/// Empty values are left out of the stored JSON (they are the defaults when read back): most
/// accounts leave most profile fields empty, and record size drives sled's disk and memory use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    #[serde(default = "model_version")]
    pub v: u32,
    pub id: u64,
    pub username: String,
    pub firstname: String,
    pub lastname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub idnumber: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    pub auth: String,
    #[serde(default)]
    pub password_state: PasswordState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspended: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icq: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phone1: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phone2: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub institution: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub department: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub city: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub country: String,
    pub lang: String,
    pub timezone: String,
    pub mailformat: u8,
    pub maildisplay: u8,
    pub maildigest: u8,
    pub htmleditor: bool,
    pub autosubscribe: bool,
    pub trackforums: bool,
    pub mnethostid: u32,
    /// Custom profile fields (`profile_field_{name}` columns), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profile_fields: BTreeMap<String, String>,
    pub timecreated: i64,
    pub timemodified: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

impl User {
    /// A new account with the creation defaults of formats.md §3.6 (id assigned on create).
    pub fn new(username: &str, firstname: &str, lastname: &str, now: i64) -> Self {
        User {
            v: MODEL_VERSION,
            id: 0,
            username: username.to_lowercase(),
            firstname: firstname.to_string(),
            lastname: lastname.to_string(),
            idnumber: String::new(),
            email: String::new(),
            auth: "manual".into(),
            password_state: PasswordState::ToBeCreated,
            password_hash: None,
            suspended: false,
            deleted: false,
            icq: String::new(),
            phone1: String::new(),
            phone2: String::new(),
            address: String::new(),
            description: String::new(),
            url: String::new(),
            institution: String::new(),
            department: String::new(),
            city: String::new(),
            country: String::new(),
            lang: "en".into(),
            timezone: "99".into(),
            mailformat: 1,
            maildisplay: 2,
            maildigest: 0,
            htmleditor: true,
            autosubscribe: true,
            trackforums: false,
            mnethostid: 1,
            profile_fields: BTreeMap::new(),
            timecreated: now,
            timemodified: now,
            extra: Extra::new(),
        }
    }

    /// The record as `show` and `export` print it: the format's column names (custom fields as
    /// `profile_field_{name}`), `id`, the timestamps, and the password only as `password_hash`.
    pub fn to_columns(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = columns_of(
            self,
            Omitted {
                texts: &OMITTED_WHEN_EMPTY,
                flags: &["suspended", "deleted"],
                ..Omitted::default()
            },
        );
        map.remove("profile_fields");
        map.entry("password_hash")
            .or_insert(serde_json::Value::Null);
        for (name, value) in &self.profile_fields {
            map.insert(format!("profile_field_{name}"), value.clone().into());
        }
        map
    }
}

/// Text fields the stored JSON omits when empty (see [`User`]).
const OMITTED_WHEN_EMPTY: [&str; 12] = [
    "idnumber",
    "email",
    "icq",
    "phone1",
    "phone2",
    "address",
    "description",
    "url",
    "institution",
    "department",
    "city",
    "country",
];

fn is_false(b: &bool) -> bool {
    !*b
}

/// The fields an account can be designated by (formats.md §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKey {
    Id,
    Idnumber,
    Username,
    Email,
}

impl UserKey {
    pub const WORDS: [&'static str; 4] = ["id", "idnumber", "username", "email"];

    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "id" => Some(UserKey::Id),
            "idnumber" => Some(UserKey::Idnumber),
            "username" => Some(UserKey::Username),
            "email" => Some(UserKey::Email),
            _ => None,
        }
    }

    pub fn column(self) -> &'static str {
        match self {
            UserKey::Id => "id",
            UserKey::Idnumber => "idnumber",
            UserKey::Username => "username",
            UserKey::Email => "email",
        }
    }
}

pub struct Users;

/// The account indexes (formats.md §2.6): usernames and non-empty idnumbers are unique; several
/// accounts may share an e-mail address (`allow_duplicate_emails`), compared lowercased.
pub(crate) const USERNAMES: Unique = Unique::new(BY_USERNAME, "username", "account");
pub(crate) const IDNUMBERS: Unique = Unique::new(BY_IDNUMBER, "idnumber", "account");
pub(crate) const EMAILS: Multi = Multi::new(BY_EMAIL);

/// The e-mail index key of an address: lowercased, NUL-terminated (empty: not indexed).
pub(crate) fn email_key(email: &str) -> Vec<u8> {
    if email.is_empty() {
        Vec::new()
    } else {
        text_key(&email.to_lowercase())
    }
}

impl Users {
    pub fn get(txn: &impl StoreRead, id: u64) -> ModelResult<Option<User>> {
        Ok(txn.get_json(SPACE, &id_key(id))?)
    }

    /// How many accounts are not deleted (one pass over the accounts, streamed).
    pub fn count_live(txn: &impl StoreRead) -> ModelResult<u64> {
        #[derive(serde::Deserialize)]
        struct Flag {
            #[serde(default)]
            deleted: bool,
        }
        let mut live = 0;
        txn.for_each(SPACE, b"", &mut |_, value| {
            let flag: Flag = serde_json::from_slice(value).map_err(|e| {
                crate::txn::StoreError::Failure(format!("corrupt record in `{SPACE}` ({e})"))
            })?;
            live += u64::from(!flag.deleted);
            Ok(true)
        })?;
        Ok(live)
    }

    pub fn by_username(txn: &impl StoreRead, username: &str) -> ModelResult<Option<User>> {
        USERNAMES.follow(txn, username.to_lowercase().as_bytes(), Self::get)
    }

    pub fn by_idnumber(txn: &impl StoreRead, idnumber: &str) -> ModelResult<Option<User>> {
        IDNUMBERS.follow(txn, idnumber.as_bytes(), Self::get)
    }

    /// Every account with this address (case-insensitive), deleted ones included.
    pub fn by_email(txn: &impl StoreRead, email: &str) -> ModelResult<Vec<User>> {
        let key = email_key(email);
        if key.is_empty() {
            return Ok(Vec::new());
        }
        EMAILS
            .ids(txn, &key)?
            .into_iter()
            .map(|id| Self::get(txn, id)?.ok_or_else(|| index::damaged(BY_EMAIL, email)))
            .collect()
    }

    /// The accounts a key designates (§2.6), deleted ones included. An id that is not a
    /// positive integer matches nothing.
    pub fn find(txn: &impl StoreRead, key: UserKey, value: &str) -> ModelResult<Vec<User>> {
        let found = match key {
            UserKey::Id => match value.parse::<u64>() {
                Ok(id) if id > 0 => Self::get(txn, id)?,
                _ => None,
            },
            UserKey::Idnumber => Self::by_idnumber(txn, value)?,
            UserKey::Username => Self::by_username(txn, value)?,
            UserKey::Email => return Self::by_email(txn, value),
        };
        Ok(found.into_iter().collect())
    }

    /// Stores a new account: assigns its id, checks uniqueness, writes its indexes.
    pub fn create(txn: &mut Txn<'_>, mut user: User) -> ModelResult<User> {
        user.username = user.username.to_lowercase();
        Self::check_unique(txn, &user)?;
        user.id = txn.next_id(SEQUENCE)?;
        user.v = MODEL_VERSION;
        txn.put_json(SPACE, &id_key(user.id), &user)?;
        USERNAMES.put(txn, user.username.as_bytes(), user.id)?;
        IDNUMBERS.put(txn, user.idnumber.as_bytes(), user.id)?;
        EMAILS.change(txn, b"", &email_key(&user.email), user.id)?;
        Ok(user)
    }

    /// Rewrites an existing account, moving the index entries of changed fields.
    pub fn save(txn: &mut Txn<'_>, user: &mut User) -> ModelResult<()> {
        user.username = user.username.to_lowercase();
        let stored = Self::get(txn, user.id)?
            .ok_or_else(|| ModelError::Conflict(format!("account {} no longer exists", user.id)))?;
        Self::check_unique(txn, user)?;
        USERNAMES.change(
            txn,
            stored.username.as_bytes(),
            user.username.as_bytes(),
            user.id,
        )?;
        IDNUMBERS.change(
            txn,
            stored.idnumber.as_bytes(),
            user.idnumber.as_bytes(),
            user.id,
        )?;
        EMAILS.change(
            txn,
            &email_key(&stored.email),
            &email_key(&user.email),
            user.id,
        )?;
        user.v = MODEL_VERSION;
        txn.put_json(SPACE, &id_key(user.id), user)?;
        Ok(())
    }

    /// Soft-deletes an account (formats.md §3.6): the record, its identity fields and hash stay,
    /// flagged deleted; its cohort memberships (with what their bindings made), enrolments, role
    /// assignments and group memberships go with it, in
    /// the caller's transaction (linked courses follow).
    pub fn soft_delete(txn: &mut Txn<'_>, user: &mut User, now: i64) -> ModelResult<()> {
        Cohorts::remove_user(txn, user.id, now)?;
        Enrolments::remove_user(txn, user.id, now)?;
        Pictures::remove(txn, user.id)?;
        user.deleted = true;
        user.timemodified = now;
        Self::save(txn, user)
    }

    fn check_unique(txn: &impl StoreRead, user: &User) -> ModelResult<()> {
        USERNAMES.check_free(txn, user.username.as_bytes(), &user.username, user.id)?;
        IDNUMBERS.check_free(txn, user.idnumber.as_bytes(), &user.idnumber, user.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;

    #[test]
    fn a_rewrite_keeps_fields_this_version_does_not_know() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        let user = Users::create(&mut txn, User::new("Ann", "Ann", "A", 1)).unwrap();
        // A newer plugin added a field to the record.
        let mut value = serde_json::to_value(&user).unwrap();
        value["shoe_size"] = 42.into();
        value["v"] = 9.into();
        txn.put_json(SPACE, &id_key(user.id), &value).unwrap();

        let mut loaded = Users::get(&txn, user.id).unwrap().unwrap();
        assert_eq!(loaded.username, "ann");
        loaded.city = "Lyon".into();
        Users::save(&mut txn, &mut loaded).unwrap();
        let stored: serde_json::Value = txn.get_json(SPACE, &id_key(user.id)).unwrap().unwrap();
        assert_eq!(stored["shoe_size"], 42);
        assert_eq!(stored["city"], "Lyon");
        assert_eq!(stored["v"], MODEL_VERSION);
    }

    #[test]
    fn empty_fields_are_not_stored_but_always_shown() {
        let bare = User::new("a", "A", "A", 1);
        let stored = serde_json::to_string(&bare).unwrap();
        assert!(
            !stored.contains("\"icq\"") && !stored.contains("deleted"),
            "{stored}"
        );
        let back: User = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, bare);

        let mut full = bare.clone();
        for (key, value) in full.to_columns() {
            if value == "" {
                let mut map = serde_json::to_value(&full).unwrap();
                map[key.as_str()] = "x".into();
                full = serde_json::from_value(map).unwrap();
            }
        }
        full.password_hash = Some("$2y$".into());
        full.suspended = true;
        full.deleted = true;
        let keys = |u: &User| u.to_columns().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&bare), keys(&full));
        assert!(keys(&bare).contains(&"icq".to_string()));
    }

    /// formats.md §3.6: a soft-deleted account keeps its record but loses its enrolments,
    /// role assignments and group memberships everywhere — metacourses included — in the same
    /// transaction.
    #[test]
    fn a_soft_delete_removes_everything_the_account_holds() {
        use crate::model::{Categories, Course, Courses, Enrolments, Groups, Roles};
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "C", true, 1).unwrap().id;
        let course = |txn: &mut Txn<'_>, name: &str| {
            Courses::create(txn, Course::new(name, name, cat, 1)).unwrap()
        };
        let (a, b, c) = (
            course(&mut txn, "A"),
            course(&mut txn, "B"),
            course(&mut txn, "C"),
        );
        let teacher = Roles::by_shortname(&txn, "editingteacher")
            .unwrap()
            .unwrap()
            .id;
        let mut ann = Users::create(&mut txn, User::new("ann", "A", "A", 1)).unwrap();
        let bob = Users::create(&mut txn, User::new("bob", "B", "B", 1)).unwrap();
        let manual =
            Enrolments::ensure_instance(&mut txn, &a, crate::model::Method::Manual, 1).unwrap();
        for user in [ann.id, bob.id] {
            Enrolments::enrol(&mut txn, &manual, user, &[teacher], 1).unwrap();
        }
        Enrolments::link(&mut txn, &a, &b, 1).unwrap();
        Enrolments::assign(&mut txn, c.id, ann.id, teacher, 1).unwrap();
        let group = Groups::create_group(&mut txn, &a, "G", "", 1).unwrap();
        Groups::add_member(&mut txn, &group, ann.id, 1).unwrap();
        Groups::add_member(&mut txn, &group, bob.id, 1).unwrap();

        Users::soft_delete(&mut txn, &mut ann, 2).unwrap();
        let stored = Users::get(&txn, ann.id).unwrap().unwrap();
        assert!(stored.deleted && stored.username == "ann");
        for course in [a.id, b.id, c.id] {
            assert!(Enrolments::enrolments_of(&txn, course, ann.id)
                .unwrap()
                .is_empty());
            assert!(Enrolments::assignments_of(&txn, course, ann.id)
                .unwrap()
                .is_empty());
        }
        assert_eq!(Groups::members(&txn, &group).unwrap(), vec![bob.id]);
        assert!(Enrolments::courses_of(&txn, ann.id).unwrap().is_empty());
        assert!(Enrolments::courses_with_roles(&txn, ann.id)
            .unwrap()
            .is_empty());
        assert!(Groups::courses_of_member(&txn, ann.id).unwrap().is_empty());
        // Bob is untouched, in A and mirrored in B.
        assert!(Enrolments::is_active(&txn, a.id, bob.id).unwrap());
        assert!(Enrolments::is_active(&txn, b.id, bob.id).unwrap());
    }

    #[test]
    fn indexes_follow_their_record_and_usernames_stay_unique() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        let mut a = User::new("a", "A", "A", 1);
        a.email = "Same@X.org".into();
        a.idnumber = "I1".into();
        let mut a = Users::create(&mut txn, a).unwrap();
        let b = Users::create(&mut txn, User::new("b", "B", "B", 1)).unwrap();
        assert!(Users::create(&mut txn, User::new("A", "x", "y", 1)).is_err());

        a.username = "a2".into();
        a.email = "other@x.org".into();
        a.idnumber = String::new();
        Users::save(&mut txn, &mut a).unwrap();
        assert!(Users::by_username(&txn, "a").unwrap().is_none());
        assert_eq!(Users::by_username(&txn, "A2").unwrap().unwrap().id, a.id);
        assert!(Users::by_email(&txn, "same@x.org").unwrap().is_empty());
        assert_eq!(Users::by_email(&txn, "OTHER@x.org").unwrap().len(), 1);
        assert!(Users::by_idnumber(&txn, "I1").unwrap().is_none());

        let mut b = b;
        b.username = "a2".into();
        assert!(matches!(
            Users::save(&mut txn, &mut b),
            Err(ModelError::Conflict(_))
        ));
    }
}
