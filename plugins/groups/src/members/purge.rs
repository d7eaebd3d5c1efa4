//! group-members' purge (formats.md §3.9): after the last row, with `purge_empty_groups`, the
//! groups without members — and with `groups_and_groupings` the groupings without groups,
//! those the purge itself emptied included — of the courses named by a successful row of the
//! file, and of no other course (§2.7: a clean-up covers only what the file touched).
//!
//! Those courses are the purge's [`Scope`]. It is kept in the processor's own keyspace, written
//! by each successful row with its other writes, rather than in the run's memory:
//! - a failed row's entry goes with its writes, so only successful rows count;
//! - a run killed and started again resumes after its last commit with a fresh handler: the
//!   entries of the rows committed before the kill are still there for its purge;
//! - a dry run and an `--atomic` rollback drop them with everything else.
//!
//! Entries are keyed by the run (its start and its input, which a resumed run keeps). A run
//! that never reaches its purge (stopped by `--max-errors`) leaves its entries behind: the next
//! run ignores them and removes them with its first successful row, and every purge removes
//! what it read.

use std::collections::HashSet;

use serde_json::json;
use toolsync_plugin_api::model::{Courses, Groups};
use toolsync_plugin_api::{Finish, RowError, StartContext, Txn};

use toolsync_plugin_api::counted;

/// The `purge_empty_groups` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    None,
    Groups,
    GroupsAndGroupings,
}

impl Purge {
    pub const WORDS: [&'static str; 3] = ["none", "groups", "groups_and_groupings"];

    /// One of [`Purge::WORDS`] (the option's choices are checked before).
    pub fn parse(word: &str) -> Purge {
        match word {
            "groups" => Purge::Groups,
            "groups_and_groupings" => Purge::GroupsAndGroupings,
            _ => Purge::None,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Purge::None => "none",
            Purge::Groups => "groups",
            Purge::GroupsAndGroupings => "groups_and_groupings",
        }
    }
}

/// The keyspace (in the processor's namespace) of the courses the purge covers: key = run,
/// course id (big-endian), no value.
pub(crate) const SCOPE_SPACE: &str = "purge.courses";

/// The courses of this run's successful rows, as recorded in the store (see the module).
pub struct Scope {
    /// The run's prefix of every key it writes: its start and input, then a NUL.
    run: Vec<u8>,
    /// Courses recorded by this handler (a resumed run records again: same key, no harm).
    recorded: HashSet<u64>,
    /// The entries of other runs are removed with the first recorded course.
    others_removed: bool,
}

impl Scope {
    pub fn new(ctx: &StartContext) -> Scope {
        let mut run = format!("{} {}", ctx.started_at, ctx.input).into_bytes();
        run.push(0);
        Scope {
            run,
            recorded: HashSet::new(),
            others_removed: false,
        }
    }

    fn key(&self, course: u64) -> Vec<u8> {
        let mut key = self.run.clone();
        key.extend_from_slice(&course.to_be_bytes());
        key
    }

    /// Records the course of a row that succeeds, in the row's transaction. Call it last in the
    /// row, once nothing can fail it.
    pub fn record(&mut self, txn: &mut Txn<'_>, course: u64) -> Result<(), RowError> {
        if !self.others_removed {
            let mut data = txn.data();
            for (key, _) in data.scan_prefix(SCOPE_SPACE, b"", usize::MAX)? {
                if !key.starts_with(&self.run) {
                    data.remove(SCOPE_SPACE, &key)?;
                }
            }
            self.others_removed = true;
        }
        if self.recorded.insert(course) {
            let key = self.key(course);
            txn.data().put(SCOPE_SPACE, &key, &[])?;
        }
        Ok(())
    }

    /// This run's courses, in id order; every entry (any run's) is removed.
    fn take(&self, txn: &mut Txn<'_>) -> Result<Vec<u64>, RowError> {
        let mut data = txn.data();
        let mut courses = Vec::new();
        for (key, _) in data.scan_prefix(SCOPE_SPACE, b"", usize::MAX)? {
            if let Some(id) = key.strip_prefix(self.run.as_slice()) {
                if let Ok(bytes) = <[u8; 8]>::try_from(id) {
                    courses.push(u64::from_be_bytes(bytes));
                }
            }
            data.remove(SCOPE_SPACE, &key)?;
        }
        Ok(courses)
    }
}

/// A group or grouping the purge deleted.
struct Deleted {
    course: String,
    name: String,
}

/// Deletes, in the scope's courses, the groups without members, then with
/// `groups_and_groupings` the groupings without groups. The details list them
/// (`purged.groups`, `purged.groupings`: {course, name}); so do the report lines.
pub fn run(txn: &mut Txn<'_>, purge: Purge, scope: &Scope) -> Result<Finish, RowError> {
    let courses = scope.take(txn)?;
    let (mut groups, mut groupings) = (Vec::new(), Vec::new());
    for id in &courses {
        // A course deleted since its row (by no processor of this run) has nothing to purge.
        let Some(course) = Courses::get(txn, *id)? else {
            continue;
        };
        for group in Groups::groups(txn, course.id)? {
            if !Groups::has_members(txn, &group)? {
                Groups::delete_group(txn, &group)?;
                groups.push(Deleted {
                    course: course.shortname.clone(),
                    name: group.name,
                });
            }
        }
        if purge == Purge::GroupsAndGroupings {
            for grouping in Groups::groupings(txn, course.id)? {
                if Groups::bound(txn, &grouping)?.is_empty() {
                    Groups::delete_grouping(txn, &grouping)?;
                    groupings.push(Deleted {
                        course: course.shortname.clone(),
                        name: grouping.name,
                    });
                }
            }
        }
    }
    let listed = |deleted: &[Deleted]| -> Vec<serde_json::Value> {
        deleted
            .iter()
            .map(|d| json!({ "course": d.course, "name": d.name }))
            .collect()
    };
    let details = json!({
        "purged": { "groups": listed(&groups), "groupings": listed(&groupings) }
    });
    let mut deleted = vec![counted(groups.len(), "group", "groups")];
    if purge == Purge::GroupsAndGroupings {
        deleted.push(counted(groupings.len(), "grouping", "groupings"));
    }
    let mut report_lines = vec![format!(
        "purge_empty_groups = {}: {} deleted in the {} of this file",
        purge.word(),
        deleted.join(" and "),
        counted(courses.len(), "course", "courses"),
    )];
    for (what, list) in [("group", &groups), ("grouping", &groupings)] {
        report_lines.extend(
            list.iter()
                .map(|d| format!("purged {what}: {}/{}", d.course, d.name)),
        );
    }
    Ok(Finish {
        details: Some(details),
        report_lines,
        warnings: Vec::new(),
    })
}
