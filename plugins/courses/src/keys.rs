//! What every course processor shares: the `course_key` option and finding a row's course.

use toolsync_plugin_api::model::{Course, CourseKey, Courses};
use toolsync_plugin_api::{OptionSpec, RowError, StartContext, StartError, StoreRead};

/// The `course_key` option: which field designates a course (formats.md §2.6).
pub fn option() -> OptionSpec {
    OptionSpec::new(
        "course_key",
        "shortname",
        "field that designates a course: shortname, idnumber or id",
    )
    .choices(&CourseKey::WORDS)
}

pub fn from_context(ctx: &StartContext) -> Result<CourseKey, StartError> {
    let word = ctx.option_choice("course_key", &CourseKey::WORDS)?;
    Ok(CourseKey::parse(&word).expect("a checked choice"))
}

/// The course a cell designates; an empty cell or no match fails the row, naming `what` (the
/// column, or "course" for headerless files).
pub fn find(
    txn: &impl StoreRead,
    key: CourseKey,
    what: &str,
    value: &str,
) -> Result<Course, RowError> {
    lookup(txn, key, what, value)?.ok_or_else(|| not_found(key, value))
}

/// Like [`find`], but a missing course is `None` (an empty cell still fails).
pub fn lookup(
    txn: &impl StoreRead,
    key: CourseKey,
    what: &str,
    value: &str,
) -> Result<Option<Course>, RowError> {
    if value.is_empty() {
        return Err(RowError::new(format!("missing `{what}`")));
    }
    Ok(Courses::find(txn, key, value)?)
}

pub fn not_found(key: CourseKey, value: &str) -> RowError {
    RowError::new(format!(
        "course not found: no course with {} = {value}",
        key.column()
    ))
}
