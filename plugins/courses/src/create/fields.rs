//! The course settings a row (or a template) sets, as one table: column, type, whether
//! `empty_clears` may reset it, and where it lives in [`Course`]. Conversion, clearing, the
//! manifest's column list and the reading of backup settings are all driven by [`FIELDS`].
//!
//! Columns with rules of their own (shortname, id, category, template, self, guest, topics,
//! teachers) are handled by the row logic.

use toolsync_plugin_api::model::Course;
use toolsync_plugin_api::schema::{Cell, ColumnType};

/// One stored setting.
pub struct Field {
    pub column: &'static str,
    /// The column's type (`toolsync_plugin_api::schema::ColumnType`'s grammar): every cell is
    /// converted and checked by it before the row gets here.
    pub kind: &'static str,
    /// `empty_clears` resets it to the creation default.
    pub clearable: bool,
    pub description: &'static str,
    pub set: fn(&mut Course, &Cell),
}

impl Field {
    /// The column's type.
    pub fn column_type(&self) -> ColumnType {
        ColumnType::parse(self.kind).unwrap_or(ColumnType::Text(None))
    }
}

macro_rules! field {
    ($column:literal, $kind:expr, $clearable:literal, $description:literal, |$c:ident, $v:ident| $set:expr) => {
        Field {
            column: $column,
            kind: $kind,
            clearable: $clearable,
            description: $description,
            set: |$c: &mut Course, $v: &Cell| $set,
        }
    };
}

/// A cell as text, a number or a flag, whatever its type made it.
fn text(v: &Cell) -> String {
    v.text()
}

fn int(v: &Cell) -> i64 {
    v.int().unwrap_or(0)
}

fn flag(v: &Cell) -> bool {
    v.bool().unwrap_or(false)
}

pub const FIELDS: &[Field] = &[
    field!("fullname", "text(254)", false, "full name", |c, v| c
        .fullname =
        text(v)),
    field!(
        "idnumber",
        "text(100)",
        true,
        "unique among courses when non-empty — empty",
        |c, v| c.idnumber = text(v)
    ),
    field!(
        "summary",
        "longtext",
        true,
        "description — empty",
        |c, v| c.summary = text(v)
    ),
    field!(
        "format",
        "ident(21)",
        false,
        "course format — topics",
        |c, v| c.format = text(v)
    ),
    field!("showgrades", "bool", false, "— 1", |c, v| c.showgrades =
        flag(v)),
    field!("visible", "bool", false, "— 1", |c, v| c.visible =
        flag(v)),
    field!(
        "visibleold",
        "bool",
        false,
        "— same as visible",
        |c, v| c.visibleold = flag(v)
    ),
    field!("legacyfiles", "bool", false, "— 0", |c, v| c
        .legacyfiles =
        flag(v)),
    field!("showreports", "bool", false, "— 0", |c, v| c
        .showreports =
        flag(v)),
    field!("groupmodeforce", "bool", false, "— 0", |c, v| c
        .groupmodeforce =
        flag(v)),
    field!("enablecompletion", "bool", false, "— 0", |c, v| c
        .enablecompletion =
        flag(v)),
    field!("newsitems", "int[0..10]", false, "— 5", |c, v| c
        .newsitems =
        int(v) as u8),
    field!(
        "startdate",
        "date",
        false,
        "— start of the run",
        |c, v| c.startdate = int(v)
    ),
    field!(
        "timecreated",
        "date",
        false,
        "— start of the run",
        |c, v| c.timecreated = int(v)
    ),
    field!(
        "timemodified",
        "date",
        false,
        "— start of the run (an update sets it to that unless given)",
        |c, v| c.timemodified = int(v)
    ),
    field!(
        "marker",
        "int[0..]",
        false,
        "highlighted section number — 0",
        |c, v| c.marker = int(v) as u64
    ),
    field!(
        "maxbytes",
        "int[0..]",
        false,
        "upload limit in bytes, 0 = platform limit — 0",
        |c, v| c.maxbytes = int(v) as u64
    ),
    field!("coursedisplay", "int[0..1]", false, "— 0", |c, v| c
        .coursedisplay =
        int(v) as u8),
    field!(
        "defaultgroupingid",
        "int[0..]",
        false,
        "id of a grouping of this course, 0 = none — 0",
        |c, v| c.defaultgroupingid = int(v) as u64
    ),
    field!(
        "groupmode",
        "int[0..2]",
        false,
        "0 none, 1 separate, 2 visible — 0",
        |c, v| c.groupmode = int(v) as u8
    ),
    field!("lang", "lang", true, "forced language — empty", |c, v| {
        c.lang = text(v)
    }),
    field!("theme", "text(50)", true, "— empty", |c, v| c.theme =
        text(v)),
    field!(
        "sortorder",
        "int[0..4294967295]",
        false,
        "listing position hint — 0",
        |c, v| c.sortorder = int(v) as u32
    ),
    field!(
        "cost",
        "text(10)",
        true,
        "stored, no effect — empty",
        |c, v| c.cost = text(v)
    ),
];

/// The creation default of a clearable field (what `empty_clears` puts back).
pub fn cleared(field: &Field) -> Cell {
    match field.column_type() {
        ColumnType::Bool => Cell::Bool(false),
        ColumnType::Int { .. } | ColumnType::Date => Cell::Int(0),
        _ => Cell::Text(String::new()),
    }
}

pub fn by_column(column: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.column == column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolsync_plugin_api::time::Zone;

    #[test]
    fn every_backup_setting_is_a_field_and_every_type_parses() {
        for name in crate::backup::SETTINGS {
            assert!(by_column(name).is_some(), "{name}");
        }
        for field in FIELDS {
            assert!(
                ColumnType::parse(field.kind).is_some(),
                "{}: `{}`",
                field.column,
                field.kind
            );
        }
        let utc = Zone::utc();
        let format = by_column("format").unwrap().column_type();
        assert_eq!(
            format.convert("weeks_2", &utc),
            Ok(Cell::Text("weeks_2".into()))
        );
        assert!(format.convert("2weeks", &utc).is_err());
        let mut course = Course::new("s", "f", 1, 0);
        (by_column("maxbytes").unwrap().set)(&mut course, &Cell::Int(1024));
        assert_eq!(course.maxbytes, 1024);
    }
}
