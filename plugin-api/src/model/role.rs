//! Roles. The standard ones are seeded when a store is created.

use serde::{Deserialize, Serialize};

use super::{id_key, key_id, model_version, Extra, ModelError, ModelResult};
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

pub struct Roles;

impl Roles {
    pub fn get(txn: &impl StoreRead, id: u64) -> ModelResult<Option<Role>> {
        Ok(txn.get_json(SPACE, &id_key(id))?)
    }

    /// Shortnames compare case-insensitively.
    pub fn by_shortname(txn: &impl StoreRead, shortname: &str) -> ModelResult<Option<Role>> {
        match txn.get(BY_SHORTNAME, shortname.to_lowercase().as_bytes())? {
            Some(id) => match key_id(&id) {
                Some(id) => Self::get(txn, id),
                None => Err(ModelError::Conflict(format!(
                    "corrupt role index entry for `{shortname}`"
                ))),
            },
            None => Ok(None),
        }
    }

    pub fn create(
        txn: &mut Txn<'_>,
        shortname: &str,
        name: &str,
        archetype: &str,
    ) -> ModelResult<Role> {
        if Self::by_shortname(txn, shortname)?.is_some() {
            return Err(ModelError::Conflict(format!("role `{shortname}` exists")));
        }
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
        txn.put(
            BY_SHORTNAME,
            shortname.to_lowercase().as_bytes(),
            &id_key(id),
        )?;
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
        txn.scan_prefix(SPACE, b"", usize::MAX)?
            .into_iter()
            .map(|(_, v)| {
                serde_json::from_slice(&v)
                    .map_err(|e| ModelError::Conflict(format!("corrupt role record: {e}")))
            })
            .collect()
    }
}
