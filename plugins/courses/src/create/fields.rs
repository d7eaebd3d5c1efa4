//! The course settings a row (or a template) sets, as one table: column, type, whether
//! `empty_clears` may reset it, and where it lives in [`Course`]. Conversion, clearing, the
//! manifest's column list and the reading of backup settings are all driven by [`FIELDS`].
//!
//! Columns with rules of their own (shortname, id, category, template, self, guest, topics,
//! teachers) are handled by the row logic.

use toolsync_plugin_api::model::Course;
use toolsync_plugin_api::time::{parse_date, Zone};
use toolsync_plugin_api::values::{check_longtext, check_text, parse_bool, parse_int};

/// A column's type (formats.md §2.5 and §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text(usize),
    LongText,
    /// text(21) of `[a-z][a-z0-9_]*`.
    Format,
    /// text(30), lowercased.
    Lang,
    Bool,
    Int(i64, i64),
    Date,
}

impl Kind {
    pub fn describe(self) -> String {
        match self {
            Kind::Text(n) => format!("text({n})"),
            Kind::LongText => "longtext".into(),
            Kind::Format => "text(21), [a-z][a-z0-9_]*".into(),
            Kind::Lang => "text(30), lowercased".into(),
            Kind::Bool => "bool".into(),
            Kind::Int(a, b) if b == i64::MAX => format!("int[{a}..]"),
            Kind::Int(a, b) => format!("int[{a}..{b}]"),
            Kind::Date => "date".into(),
        }
    }

    /// Converts a non-empty cell; the error is phrased without the column name.
    pub fn convert(self, cell: &str, zone: &Zone) -> Result<Value, String> {
        match self {
            Kind::Text(n) => check_text(cell, n).map(|()| Value::Text(cell.into())),
            Kind::LongText => check_longtext(cell).map(|()| Value::Text(cell.into())),
            Kind::Format => {
                check_text(cell, 21)?;
                let mut chars = cell.chars();
                let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                    && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if ok {
                    Ok(Value::Text(cell.into()))
                } else {
                    Err(format!("`{cell}` is not a course format ([a-z][a-z0-9_]*)"))
                }
            }
            Kind::Lang => {
                let lang = cell.to_lowercase();
                check_text(&lang, 30)?;
                if lang.chars().any(char::is_whitespace) {
                    return Err(format!("`{cell}` is not a language code"));
                }
                Ok(Value::Text(lang))
            }
            Kind::Bool => parse_bool(cell).map(Value::Bool),
            Kind::Int(min, max) => parse_int(cell, min, max).map(Value::Int),
            Kind::Date => parse_date(cell, zone).map(Value::Int),
        }
    }
}

/// A converted cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Int(i64),
    Bool(bool),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => u8::from(*b).to_string(),
        }
    }
    fn int(&self) -> i64 {
        match self {
            Value::Int(i) => *i,
            Value::Bool(b) => i64::from(*b),
            Value::Text(_) => 0,
        }
    }
    fn bool(&self) -> bool {
        matches!(self, Value::Bool(true)) || matches!(self, Value::Int(i) if *i != 0)
    }
}

/// One stored setting.
pub struct Field {
    pub column: &'static str,
    pub kind: Kind,
    /// `empty_clears` resets it to the creation default.
    pub clearable: bool,
    pub description: &'static str,
    pub set: fn(&mut Course, &Value),
}

macro_rules! field {
    ($column:literal, $kind:expr, $clearable:literal, $description:literal, |$c:ident, $v:ident| $set:expr) => {
        Field {
            column: $column,
            kind: $kind,
            clearable: $clearable,
            description: $description,
            set: |$c: &mut Course, $v: &Value| $set,
        }
    };
}

pub const FIELDS: &[Field] = &[
    field!(
        "fullname",
        Kind::Text(254),
        false,
        "full name; required",
        |c, v| c.fullname = v.text()
    ),
    field!(
        "idnumber",
        Kind::Text(100),
        true,
        "unique among courses when non-empty — empty",
        |c, v| c.idnumber = v.text()
    ),
    field!(
        "summary",
        Kind::LongText,
        true,
        "description — empty",
        |c, v| c.summary = v.text()
    ),
    field!(
        "format",
        Kind::Format,
        false,
        "course format — topics",
        |c, v| c.format = v.text()
    ),
    field!("showgrades", Kind::Bool, false, "— 1", |c, v| c
        .showgrades =
        v.bool()),
    field!("visible", Kind::Bool, false, "— 1", |c, v| c.visible =
        v.bool()),
    field!(
        "visibleold",
        Kind::Bool,
        false,
        "— same as visible",
        |c, v| c.visibleold = v.bool()
    ),
    field!("legacyfiles", Kind::Bool, false, "— 0", |c, v| c
        .legacyfiles =
        v.bool()),
    field!("showreports", Kind::Bool, false, "— 0", |c, v| c
        .showreports =
        v.bool()),
    field!("groupmodeforce", Kind::Bool, false, "— 0", |c, v| c
        .groupmodeforce =
        v.bool()),
    field!("enablecompletion", Kind::Bool, false, "— 0", |c, v| c
        .enablecompletion =
        v.bool()),
    field!("newsitems", Kind::Int(0, 10), false, "— 5", |c, v| c
        .newsitems =
        v.int() as u8),
    field!(
        "startdate",
        Kind::Date,
        false,
        "— start of the run",
        |c, v| c.startdate = v.int()
    ),
    field!(
        "timecreated",
        Kind::Date,
        false,
        "— start of the run",
        |c, v| c.timecreated = v.int()
    ),
    field!(
        "timemodified",
        Kind::Date,
        false,
        "— start of the run (an update sets it to that unless given)",
        |c, v| c.timemodified = v.int()
    ),
    field!(
        "marker",
        Kind::Int(0, i64::MAX),
        false,
        "highlighted section number — 0",
        |c, v| c.marker = v.int() as u64
    ),
    field!(
        "maxbytes",
        Kind::Int(0, i64::MAX),
        false,
        "upload limit in bytes, 0 = platform limit — 0",
        |c, v| c.maxbytes = v.int() as u64
    ),
    field!("coursedisplay", Kind::Int(0, 1), false, "— 0", |c, v| c
        .coursedisplay =
        v.int() as u8),
    field!(
        "defaultgroupingid",
        Kind::Int(0, i64::MAX),
        false,
        "id of a grouping of this course, 0 = none — 0",
        |c, v| c.defaultgroupingid = v.int() as u64
    ),
    field!(
        "groupmode",
        Kind::Int(0, 2),
        false,
        "0 none, 1 separate, 2 visible — 0",
        |c, v| c.groupmode = v.int() as u8
    ),
    field!(
        "lang",
        Kind::Lang,
        true,
        "forced language — empty",
        |c, v| c.lang = v.text()
    ),
    field!("theme", Kind::Text(50), true, "— empty", |c, v| c.theme =
        v.text()),
    field!(
        "sortorder",
        Kind::Int(0, 4_294_967_295),
        false,
        "listing position hint — 0",
        |c, v| c.sortorder = v.int() as u32
    ),
    field!(
        "cost",
        Kind::Text(10),
        true,
        "stored, no effect — empty",
        |c, v| c.cost = v.text()
    ),
];

/// The creation default of a clearable field (what `empty_clears` puts back).
pub fn cleared(field: &Field) -> Value {
    match field.kind {
        Kind::Bool => Value::Bool(false),
        Kind::Int(..) | Kind::Date => Value::Int(0),
        _ => Value::Text(String::new()),
    }
}

pub fn by_column(column: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.column == column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backup_setting_is_a_field_and_the_table_converts() {
        for name in crate::backup::SETTINGS {
            assert!(by_column(name).is_some(), "{name}");
        }
        let utc = Zone::parse("UTC").unwrap();
        assert_eq!(
            Kind::Format.convert("weeks_2", &utc),
            Ok(Value::Text("weeks_2".into()))
        );
        assert!(Kind::Format.convert("2weeks", &utc).is_err());
        assert!(Kind::Format.convert("Topics", &utc).is_err());
        assert_eq!(Kind::Lang.convert("FR", &utc), Ok(Value::Text("fr".into())));
        assert!(Kind::Int(0, 10).convert("11", &utc).is_err());
        assert_eq!(
            Kind::Date.convert("2026-09-01", &utc),
            Ok(Value::Int(1_788_220_800))
        );
        let mut course = Course::new("s", "f", 1, 0);
        (by_column("maxbytes").unwrap().set)(&mut course, &Value::Int(1024));
        assert_eq!(course.maxbytes, 1024);
    }
}
