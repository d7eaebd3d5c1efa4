//! Accounts and roles.
//!
//! Users' CSV is an input file of the `users` processor: every column it takes, in the order
//! the export has always written them (alphabetical); not the id, the timestamps or the
//! password state — another store assigns its own, and a password never leaves as text.

use serde_json::Value;

use super::{scan_space, Column, Ctx, FindError, Lookup, Table};
use crate::model::role::{self, Role, Roles};
use crate::model::user::{self, User, UserKey, Users};

/// A user field read as is.
macro_rules! user_field {
    ($field:ident) => {
        Column::both(stringify!($field), |u: &User| Value::from(u.$field.clone()))
    };
}

/// The custom profile fields (`profile_field_{name}`), by name.
fn profile_fields(u: &User) -> Vec<(String, Value)> {
    u.profile_fields
        .iter()
        .map(|(name, value)| (format!("profile_field_{name}"), value.clone().into()))
        .collect()
}

const fn user_lookup(field: UserKey) -> fn(Ctx<'_>, &[&str]) -> Result<Option<User>, FindError> {
    match field {
        UserKey::Username => |ctx, keys| Ok(Users::by_username(&ctx.store, keys[0])?),
        UserKey::Idnumber => |ctx, keys| Ok(Users::by_idnumber(&ctx.store, keys[0])?),
        UserKey::Email => |ctx, keys| Ok(Users::by_email(&ctx.store, keys[0])?.into_iter().next()),
        UserKey::Id => |ctx, keys| {
            Ok(Users::find(&ctx.store, UserKey::Id, keys[0])?
                .into_iter()
                .next())
        },
    }
}

pub static USERS: Table<User> = Table {
    name: "users",
    singular: "user",
    about: "accounts (the users processor's input format)",
    key_help: Some("username, idnumber, e-mail or id"),
    arity: 1,
    processor: Some("users"),
    json_separator: ",\n",
    scan: |ctx, visit| scan_space(ctx, user::SPACE, b"", visit),
    lookups: &[
        Lookup {
            field: "username",
            find: user_lookup(UserKey::Username),
        },
        Lookup {
            field: "idnumber",
            find: user_lookup(UserKey::Idnumber),
        },
        Lookup {
            field: "email",
            find: user_lookup(UserKey::Email),
        },
        Lookup {
            field: "id",
            find: user_lookup(UserKey::Id),
        },
    ],
    columns: &[
        user_field!(address),
        user_field!(auth),
        user_field!(autosubscribe),
        user_field!(city),
        user_field!(country),
        user_field!(deleted),
        user_field!(department),
        user_field!(description),
        user_field!(email),
        user_field!(firstname),
        user_field!(htmleditor),
        user_field!(icq),
        Column::json("id", |u| u.id.into()),
        user_field!(idnumber),
        user_field!(institution),
        user_field!(lang),
        user_field!(lastname),
        user_field!(maildigest),
        user_field!(maildisplay),
        user_field!(mailformat),
        user_field!(mnethostid),
        Column::json("password_hash", |u| u.password_hash.clone().into()),
        Column::json("password_state", |u| {
            serde_json::to_value(u.password_state).unwrap_or(Value::Null)
        }),
        user_field!(phone1),
        user_field!(phone2),
        Column::family("profile_field_{name}", profile_fields),
        user_field!(suspended),
        Column::json("timecreated", |u| u.timecreated.into()),
        Column::json("timemodified", |u| u.timemodified.into()),
        user_field!(timezone),
        user_field!(trackforums),
        user_field!(url),
        user_field!(username),
    ],
    show_extra: None,
    csv_lines: None,
    csv_note: None,
    csv_header: None,
};

pub static ROLES: Table<Role> = Table {
    name: "roles",
    singular: "role",
    about: "roles (seeded with the store; for reading)",
    key_help: Some("shortname or id"),
    arity: 1,
    processor: None,
    json_separator: ",\n",
    scan: |ctx, visit| scan_space(ctx, role::SPACE, b"", visit),
    lookups: &[
        Lookup {
            field: "shortname",
            find: |ctx, keys| Ok(Roles::by_shortname(&ctx.store, keys[0])?),
        },
        Lookup {
            field: "id",
            find: |ctx, keys| match keys[0].parse::<u64>() {
                Ok(id) => Ok(Roles::get(&ctx.store, id)?),
                Err(_) => Ok(None),
            },
        },
    ],
    columns: &[
        Column::both("archetype", |r| r.archetype.clone().into()),
        Column::both("id", |r| r.id.into()),
        Column::both("name", |r| r.name.clone().into()),
        Column::both("shortname", |r| r.shortname.clone().into()),
        Column::both("sortorder", |r| r.sortorder.into()),
    ],
    show_extra: None,
    csv_lines: None,
    csv_note: None,
    csv_header: None,
};

/// An account as `show user` prints it (what an update's change list compares).
pub fn user_fields(user: &User) -> super::Fields {
    USERS.json_fields(user)
}
