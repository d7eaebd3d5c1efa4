//! The `template` column: the base a new course starts from (formats.md §3.1, "Template").
//!
//! A course of the store with that shortname wins; otherwise a value ending in `.mbz` is a
//! Moodle backup (read by [`crate::backup`]); anything else fails the row.

use std::path::Path;

use toolsync_plugin_api::model::{Course, Courses, Sections};
use toolsync_plugin_api::{RowError, StoreRead};

use super::fields::by_column;
use super::Settings;
use crate::backup::read_backup;

/// What a template gives a new course: its settings already applied to a course record, and
/// its sections (number, name, summary).
pub struct Base {
    pub course: Course,
    /// The template course's category (a backup's category is another site's: not taken).
    pub category: Option<u64>,
    pub sections: Vec<(u32, String, String)>,
}

/// The base for a new course from the `template` cell.
pub fn load(txn: &impl StoreRead, value: &str, settings: &Settings) -> Result<Base, RowError> {
    if let Some(template) = Courses::by_shortname(txn, value)? {
        let sections = Sections::of(txn, template.id)?
            .into_iter()
            .map(|s| (s.section, s.name, s.summary))
            .collect();
        return Ok(Base {
            category: Some(template.category),
            course: template,
            sections,
        });
    }
    if !value.to_ascii_lowercase().ends_with(".mbz") {
        return Err(RowError::new(format!(
            "template not found: `{value}` is neither a course shortname nor a .mbz backup"
        )));
    }
    let path = Path::new(value);
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        settings.input_dir.join(path)
    };
    let backup = read_backup(&path).map_err(RowError::new)?;
    let mut course = Course::new("", "", 0, settings.now);
    for (name, text) in &backup.settings {
        // The reader returns only the settings a template takes (`backup::SETTINGS`).
        let Some(field) = by_column(name) else {
            continue;
        };
        // Backups write `$@NULL@$` (read as empty) for unset values: not taken.
        if text.is_empty() && !matches!(name.as_str(), "summary" | "lang" | "theme") {
            continue;
        }
        let value = if text.is_empty() {
            toolsync_plugin_api::schema::Cell::Text(String::new())
        } else {
            // A backup's values are checked by the same column types as a file's cells.
            field
                .column_type()
                .convert(text, &settings.zone)
                .map_err(|e| {
                    RowError::new(format!("template `{value}`: course.xml `{name}`: {e}"))
                })?
        };
        (field.set)(&mut course, &value);
    }
    course.visibleold = course.visible;
    Ok(Base {
        course,
        category: None,
        sections: backup
            .sections
            .into_iter()
            .map(|s| (s.number, s.name, s.summary))
            .collect(),
    })
}
