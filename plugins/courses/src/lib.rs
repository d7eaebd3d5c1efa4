//! toolsync's course processors (formats.md §3.1–3.5), one plugin library:
//!
//! - [`create`]: course-create — courses, categories, sections, access, teachers;
//! - [`delete`]: course-delete — courses and all that hangs on them, under a threshold;
//! - [`check`]: course-check — which courses exist, writing nothing;
//! - [`reset`]: course-reset — participants, groups, groupings, activity data removed;
//! - [`metacourse`]: metacourse — links whose meta course mirrors the master's participants;
//! - [`backup`]: reading a Moodle `.mbz` backup used as a course template.
//!
//! The `course_key` option and the course lookups are plugin-api's (`toolsync_plugin_api::keys`),
//! shared with every processor that designates courses.
//!
//! Every invariant of the shared data (unique shortnames, category paths, links) is the
//! model's (`toolsync_plugin_api::model`): these processors ask, and fail the row when the
//! model refuses.

pub mod backup;
pub mod check;
pub mod create;
pub mod delete;
pub mod metacourse;
pub mod reset;

toolsync_plugin_api::export_plugin!(
    create::CourseCreate,
    delete::CourseDelete,
    check::CourseCheck,
    reset::CourseReset,
    metacourse::Metacourse
);
