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
