//! The account fields a row sets from a column of the same name, as one table: column, type,
//! whether `empty_clears` may reset it, and where it lives in [`User`]. Conversion, clearing and
//! the manifest's column list are all driven by [`FIELDS`], so a column is declared once and no
//! conversion is written twice. Custom profile fields (`profile_field_{name}`) go through the
//! same path as a [`Target`] whose place is a map entry.
//!
//! Columns with rules of their own (`username`, `password`, `deleted`, `oldusername`, `id`) are
//! handled by the row logic, not here.

use toolsync_plugin_api::model::User;
use toolsync_plugin_api::schema::Cell;
use toolsync_plugin_api::{Columns, Row, RowError};

/// The column prefix of custom profile fields.
pub const CUSTOM_PREFIX: &str = "profile_field_";

/// The type of the custom profile fields.
pub const CUSTOM_TYPE: &str = "longtext";

/// Where a field lives in an account.
pub enum Slot<'a> {
    Text(&'a mut String),
    Byte(&'a mut u8),
    Host(&'a mut u32),
    Flag(&'a mut bool),
    /// A custom profile field: absent and empty are the same thing.
    Entry(&'a mut std::collections::BTreeMap<String, String>, &'a str),
}

impl Slot<'_> {
    fn get(&self) -> Cell {
        match self {
            Slot::Text(s) => Cell::Text((**s).clone()),
            Slot::Byte(n) => Cell::Int(i64::from(**n)),
            Slot::Host(n) => Cell::Int(i64::from(**n)),
            Slot::Flag(b) => Cell::Bool(**b),
            Slot::Entry(map, name) => Cell::Text(map.get(*name).cloned().unwrap_or_default()),
        }
    }

    /// Stores a value of the slot's type (the column's type made it); a mismatch is a bug in
    /// [`FIELDS`] (a unit test walks the table), reported as a failed row rather than a panic.
    fn set(self, value: Cell) -> Result<(), String> {
        match (self, value) {
            (Slot::Text(s), Cell::Text(v)) => *s = v,
            (Slot::Byte(n), Cell::Int(v)) => *n = u8::try_from(v).map_err(|e| e.to_string())?,
            (Slot::Host(n), Cell::Int(v)) => *n = u32::try_from(v).map_err(|e| e.to_string())?,
            (Slot::Flag(b), Cell::Bool(v)) => *b = v,
            (Slot::Entry(map, name), Cell::Text(v)) => {
                if v.is_empty() {
                    map.remove(name);
                } else {
                    map.insert(name.to_string(), v);
                }
            }
            (_, value) => return Err(format!("internal error: {value:?} does not fit this field")),
        }
        Ok(())
    }
}

/// One stored field and its column.
pub struct Field {
    pub column: &'static str,
    /// The column's type (`toolsync_plugin_api::schema::ColumnType`'s grammar): the host's
    /// wrapper converts and checks every cell by it before the row gets here.
    pub kind: &'static str,
    /// Reset to its creation default by an empty cell under `empty_clears` (formats.md §3.6:
    /// the profile columns, `email`, `idnumber`; never the identity column).
    pub clearable: bool,
    pub description: &'static str,
    slot: fn(&mut User) -> Slot<'_>,
}

const CLEAR: bool = true;
const KEEP: bool = false;

const fn field(
    column: &'static str,
    kind: &'static str,
    clearable: bool,
    slot: fn(&mut User) -> Slot<'_>,
    description: &'static str,
) -> Field {
    Field {
        column,
        kind,
        clearable,
        description,
        slot,
    }
}

/// Every field a column of its own name sets, in the order `toolsync schema` lists them.
/// Columns: name, type, clearable, place, description (creation default in brackets).
#[rustfmt::skip]
pub const FIELDS: &[Field] = &[
    field("firstname",     "text(100)", KEEP,  |u| Slot::Text(&mut u.firstname),     "first name; needed to create"),
    field("lastname",      "text(100)", KEEP,  |u| Slot::Text(&mut u.lastname),      "last name; needed to create"),
    field("idnumber",      "text(255)", CLEAR, |u| Slot::Text(&mut u.idnumber),      "external id, unique when non-empty; required with identity = idnumber"),
    field("email",         "email",     CLEAR, |u| Slot::Text(&mut u.email),         "one @, no spaces; compared case-insensitively; required with identity = email"),
    field("auth",          "word(20)",  KEEP,  |u| Slot::Text(&mut u.auth),          "authentication method, [a-z0-9_]+ [manual]"),
    field("suspended",     "bool",      KEEP,  |u| Slot::Flag(&mut u.suspended),     "1 suspends, 0 reactivates [0]"),
    field("icq",           "text(15)",  CLEAR, |u| Slot::Text(&mut u.icq),           "ICQ number"),
    field("phone1",        "text(20)",  CLEAR, |u| Slot::Text(&mut u.phone1),        "phone"),
    field("phone2",        "text(20)",  CLEAR, |u| Slot::Text(&mut u.phone2),        "mobile phone"),
    field("address",       "longtext",  CLEAR, |u| Slot::Text(&mut u.address),       "postal address"),
    field("description",   "longtext",  CLEAR, |u| Slot::Text(&mut u.description),   "profile description"),
    field("url",           "text(255)", CLEAR, |u| Slot::Text(&mut u.url),           "web page"),
    field("institution",   "text(255)", CLEAR, |u| Slot::Text(&mut u.institution),   "institution"),
    field("department",    "text(255)", CLEAR, |u| Slot::Text(&mut u.department),    "department"),
    field("city",          "text(120)", CLEAR, |u| Slot::Text(&mut u.city),          "city"),
    field("country",       "country",   CLEAR, |u| Slot::Text(&mut u.country),       "country code, uppercased"),
    field("lang",          "lang",      CLEAR, |u| Slot::Text(&mut u.lang),          "language, lowercased, `_utf8` removed [en]"),
    field("timezone",      "timezone",  CLEAR, |u| Slot::Text(&mut u.timezone),      "IANA name (Europe/Paris, UTC) or 99 = platform default [99]"),
    field("mailformat",    "int[0..1]", CLEAR, |u| Slot::Byte(&mut u.mailformat),    "0 plain text, 1 HTML [1]"),
    field("maildisplay",   "int[0..2]", CLEAR, |u| Slot::Byte(&mut u.maildisplay),   "who sees the e-mail address [2]"),
    field("maildigest",    "int[0..2]", CLEAR, |u| Slot::Byte(&mut u.maildigest),    "forum digest type [0]"),
    field("htmleditor",    "bool",      CLEAR, |u| Slot::Flag(&mut u.htmleditor),    "use the HTML editor [1]"),
    field("autosubscribe", "bool",      CLEAR, |u| Slot::Flag(&mut u.autosubscribe), "forum auto-subscription [1]"),
    field("trackforums",   "bool",      CLEAR, |u| Slot::Flag(&mut u.trackforums),   "forum tracking [0]"),
    field("mnethostid",    "int[1..1]", CLEAR, |u| Slot::Host(&mut u.mnethostid),    "only 1: remote hosts are not supported [1]"),
];

/// Where a present column writes.
#[derive(Clone)]
enum Place {
    Field(fn(&mut User) -> Slot<'_>),
    /// A custom profile field, by name.
    Custom(String),
}

/// A column of the run's file that sets a stored field, located once at `start`.
#[derive(Clone)]
pub struct Target {
    pub column: String,
    clearable: bool,
    place: Place,
}

/// How a row treats an empty cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Empty {
    /// Leave the field as it is (creation: it keeps its default).
    Keep,
    /// Reset clearable fields to their creation default (`empty_clears` on an update).
    Clear,
}

impl Target {
    /// The targets present in a file's columns, in file order. The identity column is a key:
    /// it is never cleared (formats.md §2.7).
    pub fn present(columns: &Columns, identity_column: &str) -> Vec<Target> {
        columns
            .names()
            .iter()
            .filter_map(|name| {
                let (clearable, place) = if let Some(f) = FIELDS.iter().find(|f| f.column == name) {
                    (f.clearable, Place::Field(f.slot))
                } else {
                    let custom = name.strip_prefix(CUSTOM_PREFIX)?;
                    (CLEAR, Place::Custom(custom.to_string()))
                };
                Some(Target {
                    column: name.clone(),
                    clearable: clearable && name != identity_column,
                    place,
                })
            })
            .collect()
    }

    fn slot<'u>(&'u self, user: &'u mut User) -> Slot<'u> {
        match &self.place {
            Place::Field(slot) => slot(user),
            Place::Custom(name) => Slot::Entry(&mut user.profile_fields, name),
        }
    }

    /// Applies this column's cell to an account: its value (converted by the column's type
    /// before the row got here), or on an empty cell keeps the field or (with
    /// [`Empty::Clear`], clearable fields only) resets it to the default a new account gets.
    /// The error names the column.
    pub fn apply(&self, row: &Row<'_>, user: &mut User, empty: Empty) -> Result<(), RowError> {
        let named = |why: String| RowError::new(format!("`{}`: {why}", self.column));
        let value = match row.cell(&self.column) {
            Some(cell) => cell.clone(),
            None if empty == Empty::Keep || !self.clearable => return Ok(()),
            None => {
                let mut blank = User::new("", "", "", 0);
                self.slot(&mut blank).get()
            }
        };
        self.slot(user).set(value).map_err(named)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolsync_plugin_api::schema::ColumnType;
    use toolsync_plugin_api::time::Zone;

    #[test]
    fn every_field_takes_what_its_type_converts_to() {
        let sample = |kind: &ColumnType| match kind {
            ColumnType::Email => "a@b.org",
            ColumnType::Word(_) => "ldap",
            ColumnType::Country => "fr",
            ColumnType::Lang => "fr_utf8",
            ColumnType::Timezone => "Europe/Paris",
            ColumnType::Int { max, .. } => {
                if *max == 1 {
                    "1"
                } else {
                    "2"
                }
            }
            ColumnType::Bool => "yes",
            _ => "abc",
        };
        for field in FIELDS {
            let kind = ColumnType::parse(field.kind)
                .unwrap_or_else(|| panic!("{}: `{}` is a type", field.column, field.kind));
            let mut user = User::new("u", "f", "l", 0);
            let value = kind.convert(sample(&kind), &Zone::utc()).unwrap();
            (field.slot)(&mut user)
                .set(value.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", field.column));
            assert_eq!((field.slot)(&mut user).get(), value, "{}", field.column);
        }
    }

    #[test]
    fn columns_are_declared_once() {
        let mut names: Vec<&str> = FIELDS.iter().map(|f| f.column).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIELDS.len());
    }
}
