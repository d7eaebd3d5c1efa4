//! Roles. The standard ones are seeded when a store is created.

use serde::{Deserialize, Serialize};

use super::index::Unique;
use super::{id_key, model_version, scan_records, Extra, ModelResult};
use crate::txn::{StoreRead, Txn};

pub const SPACE: &str = "role";
pub(crate) const BY_SHORTNAME: &str = "role.shortname";
pub(crate) const SEQUENCE: &str = "role";

/// The standard roles, in Moodle's order: (shortname, name, archetype).
pub const STANDARD: [(&str, &str); 7] = [
    ("manager", "Manager"),
    ("coursecreator", "Course creator"),
    ("editingteacher", "Teacher"),
    ("teacher", "Non-editing teacher"),
    ("student", "Student"),
    ("guest", "Guest"),
    ("user", "Authenticated user"),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    #[serde(default = "model_version")]
    pub v: u32,
    pub id: u64,
    pub shortname: String,
    pub name: String,
    #[serde(default)]
    pub archetype: String,
    #[serde(default)]
    pub sortorder: u32,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The fields a role can be designated by (formats.md §2.6, option `role_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKey {
    Shortname,
    Id,
}

impl RoleKey {
    pub const WORDS: [&'static str; 2] = ["shortname", "id"];

    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "shortname" => Some(RoleKey::Shortname),
            "id" => Some(RoleKey::Id),
            _ => None,
        }
    }

    pub fn column(self) -> &'static str {
        match self {
            RoleKey::Shortname => "shortname",
            RoleKey::Id => "id",
        }
    }
}

pub struct Roles;

/// Shortnames are unique, compared lowercased.
pub(crate) const SHORTNAMES: Unique = Unique::new(BY_SHORTNAME, "shortname", "role");

impl Roles {
    pub fn get(txn: &impl StoreRead, id: u64) -> ModelResult<Option<Role>> {
        Ok(txn.get_json(SPACE, &id_key(id))?)
    }

    /// Shortnames compare case-insensitively.
    /// The role a key designates: a shortname (any case), or a positive id.
    pub fn find(txn: &impl StoreRead, key: RoleKey, value: &str) -> ModelResult<Option<Role>> {
        match key {
            RoleKey::Shortname => Self::by_shortname(txn, value),
            RoleKey::Id => match value.parse::<u64>() {
                Ok(id) if id > 0 => Self::get(txn, id),
                _ => Ok(None),
            },
        }
    }

    pub fn by_shortname(txn: &impl StoreRead, shortname: &str) -> ModelResult<Option<Role>> {
        SHORTNAMES.follow(txn, shortname.to_lowercase().as_bytes(), Self::get)
    }

    pub fn create(
        txn: &mut Txn<'_>,
        shortname: &str,
        name: &str,
        archetype: &str,
    ) -> ModelResult<Role> {
        let key = shortname.to_lowercase();
        SHORTNAMES.check_free(txn, key.as_bytes(), shortname, 0)?;
        let id = txn.next_id(SEQUENCE)?;
        let role = Role {
            v: super::MODEL_VERSION,
            id,
            shortname: shortname.to_string(),
            name: name.to_string(),
            archetype: archetype.to_string(),
            sortorder: id as u32,
            extra: Extra::new(),
        };
        txn.put_json(SPACE, &id_key(id), &role)?;
        SHORTNAMES.put(txn, key.as_bytes(), id)?;
        Ok(role)
    }

    /// Seeds the standard roles into a new store.
    pub fn seed_standard(txn: &mut Txn<'_>) -> ModelResult<()> {
        for (shortname, name) in STANDARD {
            if Self::by_shortname(txn, shortname)?.is_none() {
                Self::create(txn, shortname, name, shortname)?;
            }
        }
        Ok(())
    }

    pub fn all(txn: &impl StoreRead) -> ModelResult<Vec<Role>> {
        scan_records(txn, SPACE, b"")
    }
}
