//! What both processors read alike from a row: a required cell, the row's course, the
//! course-and-group part of a subject.

use toolsync_plugin_api::keys;
use toolsync_plugin_api::model::{Course, CourseKey};
use toolsync_plugin_api::{Row, RowError, StoreRead};

/// The cell of a required column: the header check saw the column, an empty cell fails the row
/// here (formats.md §2.7).
pub fn required<'a>(row: &Row<'a>, column: &str) -> Result<&'a str, RowError> {
    row.text(column)
        .ok_or_else(|| RowError::new(format!("missing `{column}`")))
}

/// The course named by the row's `courseid` (a key per `course_key`, despite the column's
/// name).
pub fn course(store: &impl StoreRead, key: CourseKey, row: &Row<'_>) -> Result<Course, RowError> {
    keys::find_course(store, key, "courseid", row.get("courseid").unwrap_or(""))
}

/// `COURSE/NAME`, as the row wrote them: where a group or grouping is, in a subject.
pub fn in_course(row: &Row<'_>, name_column: &str) -> String {
    format!(
        "{}/{}",
        row.get("courseid").unwrap_or(""),
        row.get(name_column).unwrap_or("")
    )
}

/// Names in backquotes, comma-separated: `` `A`, `B` ``.
pub fn listed<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}
