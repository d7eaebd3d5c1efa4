//! Groups, groupings and group memberships of each course.
//!
//! Two of the CSV exports are input files of a processor, which changes nothing when they run
//! back on the same store (every row `unchanged`):
//! - `groups` → the groups processor (formats.md §3.8): `courseid` (the course's shortname),
//!   `name`, `idnumber`, `description`; add mode finds each group by its idnumber, else its name;
//! - `group-members` → the group-members processor (§3.9): `courseid`, `groupid`, `userid`,
//!   written with the keys its default options read where the store allows ([`MemberKeys`]).
//!
//! Groupings stay for reading: a group may sit in several, which the groups processor's one
//! `grouping` cell cannot say.

use std::collections::HashMap;

use serde_json::Value;

use super::enrolments::Names;
use super::{scan_keyed, scan_space, Column, Ctx, FindError, Lookup, Table};
use crate::model::group::{self, Group, GroupKey, Grouping, Groups, Membership};
use crate::model::{id_at, CourseKey, Courses, ModelResult, UserKey, Users};

pub struct GroupRow {
    group: Group,
    course: String,
    members: usize,
}

fn group_row(ctx: Ctx<'_>, names: &mut Names, group: Group) -> ModelResult<GroupRow> {
    Ok(GroupRow {
        course: names.course(ctx, group.course)?,
        members: Groups::members(&ctx.store, &group)?.len(),
        group,
    })
}

/// The course of `show group|grouping <course> <key>`: shortname, idnumber or id.
fn course_of(ctx: Ctx<'_>, key: &str) -> Result<u64, FindError> {
    for field in [CourseKey::Shortname, CourseKey::Idnumber, CourseKey::Id] {
        if let Some(c) = Courses::find(&ctx.store, field, key)? {
            return Ok(c.id);
        }
    }
    Err(FindError::NotFound(format!("no course matches `{key}`")))
}

/// `show group|grouping`: the course was found, the `what` in it was not.
fn none_in_course(keys: &[&str], what: &str) -> FindError {
    FindError::NotFound(format!("course `{}` has no {what} `{}`", keys[0], keys[1]))
}

/// A group or grouping of the course by idnumber, then name, then id (formats.md §2.6: within
/// the row's course only).
fn pick<'a, T>(
    items: &'a [T],
    key: &str,
    fields: impl Fn(&T) -> (&str, &str, u64),
) -> Option<&'a T> {
    let by = |test: &dyn Fn(&T) -> bool| items.iter().find(|t| test(t));
    by(&|t| !fields(t).1.is_empty() && fields(t).1 == key)
        .or_else(|| by(&|t| fields(t).0 == key))
        .or_else(|| by(&|t| key.parse::<u64>().ok() == Some(fields(t).2)))
}

fn find_group(ctx: Ctx<'_>, keys: &[&str]) -> Result<Option<GroupRow>, FindError> {
    let course = course_of(ctx, keys[0])?;
    let groups = Groups::groups(&ctx.store, course)?;
    match pick(&groups, keys[1], |g| (&g.name, &g.idnumber, g.id)) {
        Some(g) => Ok(Some(group_row(ctx, &mut Names::default(), g.clone())?)),
        None => Err(none_in_course(keys, "group")),
    }
}

pub static GROUPS: Table<GroupRow> = Table {
    name: "groups",
    singular: "group",
    about: "groups of each course",
    key_help: Some("a course (shortname, idnumber or id), then the group (idnumber, name or id)"),
    arity: 2,
    processor: Some("groups"),
    json_separator: ",\n",
    scan: |ctx, visit| {
        let mut names = Names::default();
        scan_space(ctx, group::GROUP_SPACE, b"", &mut |g: Group| {
            visit(group_row(ctx, &mut names, g)?)
        })
    },
    lookups: &[Lookup {
        field: "course-and-group",
        find: find_group,
    }],
    // The CSV is a groups file: the processor's column names, the course as course_key's
    // default (shortname) reads it; the id and the counts stay in the JSON.
    columns: &[
        Column::json("course", |r| r.course.clone().into()),
        Column::csv("courseid", |r| r.course.clone().into()),
        Column::json("id", |r| r.group.id.into()),
        Column::both("name", |r| r.group.name.clone().into()),
        Column::both("idnumber", |r| r.group.idnumber.clone().into()),
        Column::both("description", |r| r.group.description.clone().into()),
        Column::json("members", |r| r.members.into()),
        Column::json("timecreated", |r| r.group.timecreated.into()),
    ],
    show_extra: None,
    csv_lines: None,
    csv_note: None,
    csv_header: None,
};

pub struct GroupingRow {
    grouping: Grouping,
    course: String,
    /// The names of its groups.
    groups: Vec<String>,
}

fn grouping_row(ctx: Ctx<'_>, names: &mut Names, grouping: Grouping) -> ModelResult<GroupingRow> {
    let bound = Groups::bound(&ctx.store, &grouping)?;
    let groups = Groups::groups(&ctx.store, grouping.course)?
        .into_iter()
        .filter(|g| bound.contains(&g.id))
        .map(|g| g.name)
        .collect();
    Ok(GroupingRow {
        course: names.course(ctx, grouping.course)?,
        groups,
        grouping,
    })
}

pub static GROUPINGS: Table<GroupingRow> = Table {
    name: "groupings",
    singular: "grouping",
    about: "groupings of each course, with their groups",
    key_help: Some(
        "a course (shortname, idnumber or id), then the grouping (idnumber, name or id)",
    ),
    arity: 2,
    processor: None,
    json_separator: ",\n",
    scan: |ctx, visit| {
        let mut names = Names::default();
        scan_space(ctx, group::GROUPING_SPACE, b"", &mut |g: Grouping| {
            visit(grouping_row(ctx, &mut names, g)?)
        })
    },
    lookups: &[Lookup {
        field: "course-and-grouping",
        find: |ctx, keys| {
            let course = course_of(ctx, keys[0])?;
            let groupings = Groups::groupings(&ctx.store, course)?;
            match pick(&groupings, keys[1], |g| (&g.name, &g.idnumber, g.id)) {
                Some(g) => Ok(Some(grouping_row(ctx, &mut Names::default(), g.clone())?)),
                None => Err(none_in_course(keys, "grouping")),
            }
        },
    }],
    columns: &[
        Column::both("course", |r| r.course.clone().into()),
        Column::both("id", |r| r.grouping.id.into()),
        Column::both("name", |r| r.grouping.name.clone().into()),
        Column::both("idnumber", |r| r.grouping.idnumber.clone().into()),
        Column::both("groups", |r| Value::from(r.groups.clone())),
        Column::json("timecreated", |r| r.grouping.timecreated.into()),
    ],
    show_extra: None,
    csv_lines: None,
    csv_note: None,
    csv_header: None,
};

/// How the CSV of `group-members` designates groups and accounts. The processor reads
/// idnumbers by default (`group_key`, `user_key`), so the export writes idnumbers — when every
/// group and every account it lists has one. Otherwise a column takes, for the whole file
/// (a key option holds for a whole file), the field every record has: the group's name
/// (unique in its course) or the username; [`member_note`] says which options read it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberKeys {
    pub group: GroupKey,
    pub user: UserKey,
}

impl MemberKeys {
    /// The `--set` options that read a file written with these keys, if not the defaults.
    fn options(self) -> Vec<String> {
        let mut options = Vec::new();
        if self.group != GroupKey::Idnumber {
            options.push(format!("--set group_key={}", self.group.column()));
        }
        if self.user != UserKey::Idnumber {
            options.push(format!("--set user_key={}", self.user.column()));
        }
        options
    }
}

/// The groups of the course being read: memberships are keyed by course first, so a scan
/// meets each course's groups together and keeps one course's list at a time.
#[derive(Default)]
struct CourseGroups(Option<(u64, Vec<Group>)>);

impl CourseGroups {
    fn get(&mut self, ctx: Ctx<'_>, course: u64, id: u64) -> ModelResult<Option<&Group>> {
        if self.0.as_ref().is_none_or(|(c, _)| *c != course) {
            self.0 = Some((course, Groups::groups(&ctx.store, course)?));
        }
        Ok(self
            .0
            .as_ref()
            .and_then(|(_, groups)| groups.iter().find(|g| g.id == id)))
    }
}

/// Each account's username and idnumber, loaded once (bounded, as [`Names`] is).
#[derive(Default)]
pub(super) struct Accounts(HashMap<u64, (String, String)>);

/// Accounts kept before the cache starts over.
const ACCOUNTS_KEPT: usize = 10_000;

impl Accounts {
    /// (username, idnumber).
    pub(super) fn get(&mut self, ctx: Ctx<'_>, id: u64) -> ModelResult<(String, String)> {
        if let Some(found) = self.0.get(&id) {
            return Ok(found.clone());
        }
        if self.0.len() >= ACCOUNTS_KEPT {
            self.0.clear();
        }
        let found = Users::get(&ctx.store, id)?.map_or_else(
            || (format!("#{id}"), String::new()),
            |u| (u.username, u.idnumber),
        );
        self.0.insert(id, found.clone());
        Ok(found)
    }
}

/// A membership's course and group ids, from its key.
fn membership_place(key: &[u8]) -> (u64, u64) {
    (id_at(key, 0).unwrap_or(0), id_at(key, 1).unwrap_or(0))
}

/// The keys the CSV export writes with: a first pass over the memberships, which stops as soon
/// as both columns have fallen back.
pub fn member_keys(ctx: Ctx<'_>) -> ModelResult<MemberKeys> {
    let mut keys = MemberKeys {
        group: GroupKey::Idnumber,
        user: UserKey::Idnumber,
    };
    let (mut groups, mut accounts) = (CourseGroups::default(), Accounts::default());
    scan_keyed(
        ctx,
        group::MEMBER_SPACE,
        b"",
        &mut |key, membership: Membership| {
            if membership.source != 0 {
                // Not in the CSV (a binding's): it decides nothing.
                return Ok(true);
            }
            let (course, group_id) = membership_place(key);
            if groups
                .get(ctx, course, group_id)?
                .is_none_or(|g| g.idnumber.is_empty())
            {
                keys.group = GroupKey::Name;
            }
            if accounts.get(ctx, membership.user)?.1.is_empty() {
                keys.user = UserKey::Username;
            }
            Ok(keys.group == GroupKey::Idnumber || keys.user == UserKey::Idnumber)
        },
    )?;
    Ok(keys)
}

/// The note of a CSV export that departs from group-members' default keys.
fn member_note(ctx: Ctx<'_>) -> ModelResult<Option<String>> {
    let keys = member_keys(ctx)?;
    let options = keys.options();
    if options.is_empty() {
        return Ok(None);
    }
    let mut fallbacks = Vec::new();
    if keys.group == GroupKey::Name {
        fallbacks.push("`groupid` holds group names (a group has no idnumber)");
    }
    if keys.user == UserKey::Username {
        fallbacks.push("`userid` holds usernames (an account has no idnumber)");
    }
    Ok(Some(format!(
        "{}: run it with `toolsync run group-members FILE {}`",
        fallbacks.join(", "),
        options.join(" ")
    )))
}

#[derive(Clone)]
pub struct MemberRow {
    membership: Membership,
    /// What made the membership (`cohort:3A`), empty for a row's.
    owner: String,
    course: String,
    group: String,
    group_idnumber: String,
    user: String,
    user_idnumber: String,
    keys: MemberKeys,
}

pub static MEMBERS: Table<MemberRow> = Table {
    name: "group-members",
    singular: "group-member",
    about: "group memberships: course, group, account",
    key_help: None,
    arity: 1,
    processor: Some("group-members"),
    json_separator: ",\n",
    scan: |ctx, visit| {
        let keys = member_keys(ctx)?;
        let mut names = Names::default();
        let (mut groups, mut accounts) = (CourseGroups::default(), Accounts::default());
        scan_keyed(
            ctx,
            group::MEMBER_SPACE,
            b"",
            &mut |key, membership: Membership| {
                let (course, group_id) = membership_place(key);
                let (group, group_idnumber) = groups.get(ctx, course, group_id)?.map_or_else(
                    || (format!("#{group_id}"), String::new()),
                    |g| (g.name.clone(), g.idnumber.clone()),
                );
                let (user, user_idnumber) = accounts.get(ctx, membership.user)?;
                visit(MemberRow {
                    owner: names.owner(ctx, course, membership.source)?,
                    course: names.course(ctx, course)?,
                    group,
                    group_idnumber,
                    user,
                    user_idnumber,
                    keys,
                    membership,
                })
            },
        )
    },
    lookups: &[],
    // The JSON names each membership's course, group and account; the CSV is a
    // group-members file, with the keys [`member_keys`] chose.
    columns: &[
        Column::json("course", |r| r.course.clone().into()),
        Column::json("group", |r| r.group.clone().into()),
        Column::json("user", |r| r.user.clone().into()),
        Column::json("timeadded", |r| r.membership.timeadded.into()),
        Column::json("owner", |r| r.owner.clone().into()),
        Column::csv("courseid", |r| r.course.clone().into()),
        Column::csv("groupid", |r| match r.keys.group {
            GroupKey::Idnumber => r.group_idnumber.clone().into(),
            _ => r.group.clone().into(),
        }),
        Column::csv("userid", |r| match r.keys.user {
            UserKey::Idnumber => r.user_idnumber.clone().into(),
            _ => r.user.clone().into(),
        }),
    ],
    show_extra: None,
    // A membership a cohort binding made is the binding's: the cohort-bindings export
    // (`makegroup`) makes it again, a group-members row would make it a row's.
    csv_lines: Some(|r| {
        if r.owner.is_empty() {
            vec![r.clone()]
        } else {
            Vec::new()
        }
    }),
    csv_note: Some(member_note),
    csv_header: None,
};
