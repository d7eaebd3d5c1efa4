//! toolsync's cohort processors (formats.md §3.11, §3.12), one plugin library:
//!
//! - [`cohorts`]: cohorts — creates, updates, empties and deletes cohorts, adds and removes
//!   their members;
//! - [`bindings`]: cohort-courses — binds cohorts to courses, so that every member is enrolled
//!   there with the binding's role; disables, restores and removes bindings.
//!
//! What a membership or a binding carries to the courses (enrolments, roles, group
//! memberships, owned by the binding) is the model's (`toolsync_plugin_api::model::Cohorts`):
//! these processors read the row, ask, and report the counts.

pub mod bindings;
pub mod cohorts;

#[cfg(test)]
mod testkit;

toolsync_plugin_api::export_plugin!(cohorts::CohortsProcessor, bindings::CohortCourses);

/// The words a boolean option takes (formats.md §2.5), listed by `toolsync schema`.
pub(crate) const BOOL_WORDS: [&str; 6] = ["true", "false", "1", "0", "yes", "no"];

/// `1 member`, `2 members`.
pub(crate) fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
