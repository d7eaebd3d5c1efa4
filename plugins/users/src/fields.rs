//! The account fields a row sets from a column of the same name, as one table: column, type,
//! whether `empty_clears` may reset it, and where it lives in [`User`]. Conversion, clearing and
//! the manifest's column list are all driven by [`FIELDS`], so a column is declared once and no
//! conversion is written twice. Custom profile fields (`profile_field_{name}`) go through the
//! same path as a [`Target`] whose place is a map entry.
//!
//! Columns with rules of their own (`username`, `password`, `deleted`, `oldusername`, `id`) are
//! handled by the row logic, not here.

use toolsync_plugin_api::model::User;
use toolsync_plugin_api::values::{
    check_email, check_longtext, check_text, is_word, parse_bool, parse_int,
};
use toolsync_plugin_api::{Columns, Row, RowError};

/// The column prefix of custom profile fields.
pub const CUSTOM_PREFIX: &str = "profile_field_";

/// A column's type (formats.md §2.5 and the §3.6 tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `text(n)`.
    Text(usize),
    /// Any length, line breaks allowed.
    LongText,
    /// text(100), one `@` with text on both sides, no spaces.
    Email,
    /// text(20) of `[a-z0-9_]+`: an authentication method.
    Auth,
    /// Two letters, stored uppercased.
    Country,
    /// text(30), stored lowercased without tool_sync's `_utf8` suffix.
    Lang,
    /// An IANA zone name, or `99` for the platform's default.
    Timezone,
    /// `int[a..b]`.
    Int(i64, i64),
    Bool,
    /// Only `1`, this platform: remote (MNet) hosts are not supported.
    MnetHost,
}

/// A converted cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// Longest accepted time zone name (the longest IANA names are about 30 characters).
const TIMEZONE_MAX: usize = 64;

impl Kind {
    /// The type as `toolsync schema` shows it.
    pub fn describe(self) -> String {
        match self {
            Kind::Text(n) => format!("text({n})"),
            Kind::LongText => "longtext".into(),
            Kind::Email => "email".into(),
            Kind::Auth => "text(20)".into(),
            Kind::Country => "two letters".into(),
            Kind::Lang => "text(30)".into(),
            Kind::Timezone => "timezone".into(),
            Kind::Int(a, b) => format!("int[{a}..{b}]"),
            Kind::Bool => "bool".into(),
            Kind::MnetHost => "1".into(),
        }
    }

    /// Converts a non-empty cell; the error is phrased without the column name.
    pub fn convert(self, cell: &str) -> Result<Value, String> {
        match self {
            Kind::Text(n) => check_text(cell, n).map(|()| Value::Text(cell.into())),
            Kind::LongText => check_longtext(cell).map(|()| Value::Text(cell.into())),
            Kind::Email => {
                check_text(cell, 100)?;
                check_email(cell).map(|()| Value::Text(cell.into()))
            }
            Kind::Auth => {
                check_text(cell, 20)?;
                if is_word(cell) {
                    Ok(Value::Text(cell.into()))
                } else {
                    Err(format!(
                        "`{cell}` is not an authentication method (a-z, 0-9, _)"
                    ))
                }
            }
            Kind::Country => {
                if cell.len() == 2 && cell.bytes().all(|b| b.is_ascii_alphabetic()) {
                    Ok(Value::Text(cell.to_ascii_uppercase()))
                } else {
                    Err(format!("`{cell}` is not a two-letter country code"))
                }
            }
            Kind::Lang => {
                let lower = cell.to_lowercase();
                let lang = lower.strip_suffix("_utf8").unwrap_or(&lower);
                check_text(lang, 30)?;
                if lang.is_empty() || lang.chars().any(char::is_whitespace) {
                    return Err(format!("`{cell}` is not a language code"));
                }
                Ok(Value::Text(lang.into()))
            }
            Kind::Timezone => {
                if is_timezone(cell) {
                    Ok(Value::Text(cell.into()))
                } else {
                    Err(format!(
                        "`{cell}` is not a time zone (an IANA name such as Europe/Paris, UTC, or 99)"
                    ))
                }
            }
            Kind::Int(min, max) => parse_int(cell, min, max).map(Value::Int),
            Kind::Bool => parse_bool(cell).map(Value::Bool),
            Kind::MnetHost => match cell {
                "1" => Ok(Value::Int(1)),
                _ => Err(format!(
                    "`{cell}`: only 1 (this platform) is accepted; remote hosts are not supported"
                )),
            },
        }
    }
}

/// `99`, or the shape of an IANA name: `[A-Za-z_]+` then `/`-separated parts of
/// `[A-Za-z0-9_+-]+` (`UTC`, `Europe/Paris`, `America/Argentina/Buenos_Aires`, `Etc/GMT+5`).
/// The zone database itself is not consulted: the platform owns it, and a shape check catches
/// what spreadsheets actually produce (offsets such as `1.0`, free text).
fn is_timezone(value: &str) -> bool {
    if value == "99" {
        return true;
    }
    let mut parts = value.split('/');
    let area_ok = parts
        .next()
        .is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_'));
    value.len() <= TIMEZONE_MAX
        && area_ok
        && parts.all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-'))
        })
}

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
    fn get(&self) -> Value {
        match self {
            Slot::Text(s) => Value::Text((**s).clone()),
            Slot::Byte(n) => Value::Int(i64::from(**n)),
            Slot::Host(n) => Value::Int(i64::from(**n)),
            Slot::Flag(b) => Value::Bool(**b),
            Slot::Entry(map, name) => Value::Text(map.get(*name).cloned().unwrap_or_default()),
        }
    }

    /// Stores a value of the slot's type; a mismatch is a bug in [`FIELDS`] (a unit test walks
    /// the table), reported as a failed row rather than a panic.
    fn set(self, value: Value) -> Result<(), String> {
        match (self, value) {
            (Slot::Text(s), Value::Text(v)) => *s = v,
            (Slot::Byte(n), Value::Int(v)) => *n = u8::try_from(v).map_err(|e| e.to_string())?,
            (Slot::Host(n), Value::Int(v)) => *n = u32::try_from(v).map_err(|e| e.to_string())?,
            (Slot::Flag(b), Value::Bool(v)) => *b = v,
            (Slot::Entry(map, name), Value::Text(v)) => {
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
    pub kind: Kind,
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
    kind: Kind,
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
    field("firstname",     Kind::Text(100), KEEP,  |u| Slot::Text(&mut u.firstname),     "first name; needed to create"),
    field("lastname",      Kind::Text(100), KEEP,  |u| Slot::Text(&mut u.lastname),      "last name; needed to create"),
    field("idnumber",      Kind::Text(255), CLEAR, |u| Slot::Text(&mut u.idnumber),      "external id, unique when non-empty; required with identity = idnumber"),
    field("email",         Kind::Email,     CLEAR, |u| Slot::Text(&mut u.email),         "one @, no spaces; compared case-insensitively; required with identity = email"),
    field("auth",          Kind::Auth,      KEEP,  |u| Slot::Text(&mut u.auth),          "authentication method, [a-z0-9_]+ [manual]"),
    field("suspended",     Kind::Bool,      KEEP,  |u| Slot::Flag(&mut u.suspended),     "1 suspends, 0 reactivates [0]"),
    field("icq",           Kind::Text(15),  CLEAR, |u| Slot::Text(&mut u.icq),           "ICQ number"),
    field("phone1",        Kind::Text(20),  CLEAR, |u| Slot::Text(&mut u.phone1),        "phone"),
    field("phone2",        Kind::Text(20),  CLEAR, |u| Slot::Text(&mut u.phone2),        "mobile phone"),
    field("address",       Kind::LongText,  CLEAR, |u| Slot::Text(&mut u.address),       "postal address"),
    field("description",   Kind::LongText,  CLEAR, |u| Slot::Text(&mut u.description),   "profile description"),
    field("url",           Kind::Text(255), CLEAR, |u| Slot::Text(&mut u.url),           "web page"),
    field("institution",   Kind::Text(255), CLEAR, |u| Slot::Text(&mut u.institution),   "institution"),
    field("department",    Kind::Text(255), CLEAR, |u| Slot::Text(&mut u.department),    "department"),
    field("city",          Kind::Text(120), CLEAR, |u| Slot::Text(&mut u.city),          "city"),
    field("country",       Kind::Country,   CLEAR, |u| Slot::Text(&mut u.country),       "country code, uppercased"),
    field("lang",          Kind::Lang,      CLEAR, |u| Slot::Text(&mut u.lang),          "language, lowercased, `_utf8` removed [en]"),
    field("timezone",      Kind::Timezone,  CLEAR, |u| Slot::Text(&mut u.timezone),      "IANA name (Europe/Paris, UTC) or 99 = platform default [99]"),
    field("mailformat",    Kind::Int(0, 1), CLEAR, |u| Slot::Byte(&mut u.mailformat),    "0 plain text, 1 HTML [1]"),
    field("maildisplay",   Kind::Int(0, 2), CLEAR, |u| Slot::Byte(&mut u.maildisplay),   "who sees the e-mail address [2]"),
    field("maildigest",    Kind::Int(0, 2), CLEAR, |u| Slot::Byte(&mut u.maildigest),    "forum digest type [0]"),
    field("htmleditor",    Kind::Bool,      CLEAR, |u| Slot::Flag(&mut u.htmleditor),    "use the HTML editor [1]"),
    field("autosubscribe", Kind::Bool,      CLEAR, |u| Slot::Flag(&mut u.autosubscribe), "forum auto-subscription [1]"),
    field("trackforums",   Kind::Bool,      CLEAR, |u| Slot::Flag(&mut u.trackforums),   "forum tracking [0]"),
    field("mnethostid",    Kind::MnetHost,  CLEAR, |u| Slot::Host(&mut u.mnethostid),    "only 1: remote hosts are not supported [1]"),
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
    kind: Kind,
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
                let (kind, clearable, place) =
                    if let Some(f) = FIELDS.iter().find(|f| f.column == name) {
                        (f.kind, f.clearable, Place::Field(f.slot))
                    } else {
                        let custom = name.strip_prefix(CUSTOM_PREFIX)?;
                        (Kind::LongText, CLEAR, Place::Custom(custom.to_string()))
                    };
                Some(Target {
                    column: name.clone(),
                    kind,
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

    /// Applies this column's cell to an account: converts a value, or on an empty cell keeps
    /// the field or (with [`Empty::Clear`], clearable fields only) resets it to the default a
    /// new account gets. The error names the column.
    pub fn apply(&self, row: &Row<'_>, user: &mut User, empty: Empty) -> Result<(), RowError> {
        let cell = row.get(&self.column).unwrap_or_default();
        let named = |why: String| RowError::new(format!("`{}`: {why}", self.column));
        let value = if cell.is_empty() {
            if empty == Empty::Keep || !self.clearable {
                return Ok(());
            }
            let mut blank = User::new("", "", "", 0);
            self.slot(&mut blank).get()
        } else {
            self.kind.convert(cell).map_err(named)?
        };
        self.slot(user).set(value).map_err(named)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_takes_what_its_kind_converts_to() {
        let sample = |kind: Kind| match kind {
            Kind::Text(_) | Kind::LongText => "abc",
            Kind::Email => "a@b.org",
            Kind::Auth => "ldap",
            Kind::Country => "fr",
            Kind::Lang => "fr_utf8",
            Kind::Timezone => "Europe/Paris",
            Kind::Int(_, max) => {
                if max == 1 {
                    "1"
                } else {
                    "2"
                }
            }
            Kind::Bool => "yes",
            Kind::MnetHost => "1",
        };
        for field in FIELDS {
            let mut user = User::new("u", "f", "l", 0);
            let value = field.kind.convert(sample(field.kind)).unwrap();
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

    #[test]
    fn conversions() {
        let ok = |k: Kind, v: &str| k.convert(v).unwrap();
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(ok(Kind::Country, "fr"), text("FR"));
        assert!(Kind::Country.convert("FRA").is_err());
        assert!(Kind::Country.convert("F1").is_err());
        assert_eq!(ok(Kind::Lang, "FR_CA_UTF8"), text("fr_ca"));
        assert_eq!(ok(Kind::Lang, "en"), text("en"));
        assert!(Kind::Lang.convert("_utf8").is_err());
        assert!(Kind::Lang.convert(&"x".repeat(31)).is_err());
        for tz in [
            "99",
            "UTC",
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert_eq!(ok(Kind::Timezone, tz), text(tz));
        }
        for tz in ["1.0", "+02:00", "Europe/", "/Paris", "Paris time", "98"] {
            assert!(Kind::Timezone.convert(tz).is_err(), "{tz}");
        }
        assert_eq!(ok(Kind::Int(0, 2), "2"), Value::Int(2));
        assert!(Kind::Int(0, 1).convert("2").is_err());
        assert_eq!(ok(Kind::Bool, "TRUE"), Value::Bool(true));
        assert!(Kind::Bool.convert("2").is_err());
        assert_eq!(ok(Kind::MnetHost, "1"), Value::Int(1));
        assert!(Kind::MnetHost.convert("2").is_err());
        assert_eq!(ok(Kind::Auth, "manual"), text("manual"));
        assert!(Kind::Auth.convert("Manual").is_err());
        assert!(Kind::Auth.convert(&"a".repeat(21)).is_err());
        assert!(Kind::Email.convert("no-at-sign").is_err());
        assert!(Kind::Email
            .convert(&format!("{}@x.org", "a".repeat(95)))
            .is_err());
        assert!(Kind::Text(15).convert(&"1".repeat(16)).is_err());
        assert_eq!(ok(Kind::LongText, "two\nlines"), text("two\nlines"));
    }
}
