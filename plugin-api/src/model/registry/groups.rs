//! Groups, groupings and group memberships of each course, for reading.

use serde_json::Value;

use super::enrolments::Names;
use super::{scan_keyed, scan_space, Column, Ctx, FindError, Lookup, Table};
use crate::model::group::{self, Group, Grouping, Groups, Membership};
use crate::model::{id_at, CourseKey, Courses, ModelResult};

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
    processor: None,
    run_back_options: &[],
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
    columns: &[
        Column::both("course", |r| r.course.clone().into()),
        Column::both("id", |r| r.group.id.into()),
        Column::both("name", |r| r.group.name.clone().into()),
        Column::both("idnumber", |r| r.group.idnumber.clone().into()),
        Column::both("members", |r| r.members.into()),
        Column::json("timecreated", |r| r.group.timecreated.into()),
    ],
    show_extra: None,
    csv_lines: None,
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
    run_back_options: &[],
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
};

pub struct MemberRow {
    membership: Membership,
    course: String,
    group: String,
    user: String,
}

pub static MEMBERS: Table<MemberRow> = Table {
    name: "group-members",
    singular: "group-member",
    about: "group memberships: course, group, account",
    key_help: None,
    arity: 1,
    processor: None,
    run_back_options: &[],
    json_separator: ",\n",
    scan: |ctx, visit| {
        let mut names = Names::default();
        let mut group_names: Option<(u64, Vec<Group>)> = None;
        scan_keyed(
            ctx,
            group::MEMBER_SPACE,
            b"",
            &mut |key, membership: Membership| {
                let (course, group_id) = (id_at(key, 0).unwrap_or(0), id_at(key, 1).unwrap_or(0));
                if group_names.as_ref().is_none_or(|(c, _)| *c != course) {
                    group_names = Some((course, Groups::groups(&ctx.store, course)?));
                }
                let group = group_names
                    .as_ref()
                    .and_then(|(_, groups)| groups.iter().find(|g| g.id == group_id))
                    .map_or_else(|| format!("#{group_id}"), |g| g.name.clone());
                visit(MemberRow {
                    course: names.course(ctx, course)?,
                    user: names.user(ctx, membership.user)?,
                    group,
                    membership,
                })
            },
        )
    },
    lookups: &[],
    columns: &[
        Column::both("course", |r| r.course.clone().into()),
        Column::both("group", |r| r.group.clone().into()),
        Column::both("user", |r| r.user.clone().into()),
        Column::json("timeadded", |r| r.membership.timeadded.into()),
    ],
    show_extra: None,
    csv_lines: None,
};
