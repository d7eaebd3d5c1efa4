//! toolsync's group processors (formats.md §3.8, §3.9), one plugin library:
//!
//! - [`groups`]: groups — creates and updates the groups and groupings of courses, puts groups
//!   in groupings;
//! - [`members`]: group-members — adds, moves and removes group memberships, then may purge the
//!   groups (and groupings) the file's courses leave empty.
//!
//! What both read alike — the row's course, a required cell, a row's subject — is in [`row`].
//! The key options and lookups (`course_key`, `group_key`, `user_key`) are plugin-api's
//! (`toolsync_plugin_api::keys`), shared with every processor that designates such records;
//! every invariant (unique names and idnumbers in a course, members taking part in the course)
//! is the model's (`toolsync_plugin_api::model::Groups`): these processors ask, and fail the
//! row when the model refuses.

pub mod groups;
pub mod members;
pub mod row;

#[cfg(test)]
mod testkit;

toolsync_plugin_api::export_plugin!(groups::GroupsProcessor, members::GroupMembers);
