//! Enrolment methods, user enrolments, role assignments and metacourse links, for reading: who
//! is in which course, through what, with which role. Records name their course by shortname,
//! their account by username and their role by shortname (the ids are in the JSON too).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::groups::Accounts;
use super::{scan_space, Column, Ctx, FindError, Lookup, Table};
use crate::model::enrol::{self, EnrolInstance, Enrolments, Method, RoleAssignment, UserEnrolment};
use crate::model::{Cohorts, Courses, Groups, ModelResult, Roles, UserKey, Users};

/// Names of what records point to, looked up once each (bounded: an export of a million
/// enrolments does not keep a million names).
#[derive(Default)]
pub(super) struct Names {
    courses: HashMap<u64, String>,
    cohorts: HashMap<u64, String>,
    users: HashMap<u64, String>,
    roles: HashMap<u64, String>,
    instances: HashMap<(u64, u64), Option<EnrolInstance>>,
}

/// Entries kept per kind before the cache starts over.
const NAMES_KEPT: usize = 10_000;

fn cached(
    map: &mut HashMap<u64, String>,
    id: u64,
    load: impl FnOnce() -> ModelResult<Option<String>>,
) -> ModelResult<String> {
    if let Some(name) = map.get(&id) {
        return Ok(name.clone());
    }
    if map.len() >= NAMES_KEPT {
        map.clear();
    }
    let name = load()?.unwrap_or_else(|| format!("#{id}"));
    map.insert(id, name.clone());
    Ok(name)
}

impl Names {
    pub(super) fn course(&mut self, ctx: Ctx<'_>, id: u64) -> ModelResult<String> {
        cached(&mut self.courses, id, || {
            Ok(Courses::get(&ctx.store, id)?.map(|c| c.shortname))
        })
    }

    pub(super) fn user(&mut self, ctx: Ctx<'_>, id: u64) -> ModelResult<String> {
        cached(&mut self.users, id, || {
            Ok(Users::get(&ctx.store, id)?.map(|u| u.username))
        })
    }

    pub(super) fn role(&mut self, ctx: Ctx<'_>, id: u64) -> ModelResult<String> {
        cached(&mut self.roles, id, || {
            Ok(Roles::get(&ctx.store, id)?.map(|r| r.shortname))
        })
    }

    /// A cohort as a file names it: its idnumber, else its name.
    pub(super) fn cohort(&mut self, ctx: Ctx<'_>, id: u64) -> ModelResult<String> {
        cached(&mut self.cohorts, id, || {
            Ok(Cohorts::get(&ctx.store, id)?.map(|c| {
                if c.idnumber.is_empty() {
                    c.name
                } else {
                    c.idnumber
                }
            }))
        })
    }

    /// What owns a role assignment or a group membership (`source`, an instance of the
    /// course): empty for a row's, `meta:MASTER` for a metacourse link's, `cohort:COHORT` for a
    /// cohort binding's.
    pub(super) fn owner(&mut self, ctx: Ctx<'_>, course: u64, source: u64) -> ModelResult<String> {
        if source == 0 {
            return Ok(String::new());
        }
        Ok(match self.instance(ctx, course, source)? {
            Some(i) if i.method == Method::Meta => format!("meta:{}", self.course(ctx, i.master)?),
            Some(i) if i.method == Method::Cohort => {
                format!("cohort:{}", self.cohort(ctx, i.cohort)?)
            }
            Some(i) => format!("{}:{}", i.method, i.id),
            None => format!("#{source}"),
        })
    }

    fn instance(
        &mut self,
        ctx: Ctx<'_>,
        course: u64,
        id: u64,
    ) -> ModelResult<Option<EnrolInstance>> {
        if let Some(found) = self.instances.get(&(course, id)) {
            return Ok(found.clone());
        }
        if self.instances.len() >= NAMES_KEPT {
            self.instances.clear();
        }
        let found = Enrolments::instance(&ctx.store, course, id)?;
        self.instances.insert((course, id), found.clone());
        Ok(found)
    }
}

// ----- methods ------------------------------------------------------------------------------

pub struct InstanceRow {
    instance: EnrolInstance,
    course: String,
    /// For a metacourse link: the master's shortname.
    master: Option<String>,
}

pub static INSTANCES: Table<InstanceRow> = Table {
    name: "enrol-instances",
    singular: "enrol-instance",
    about: "enrolment methods of each course (manual, self, guest, meta...; for reading)",
    key_help: None,
    arity: 1,
    processor: None,
    json_separator: ",\n",
    scan: |ctx, visit| {
        let mut names = Names::default();
        scan_space(ctx, enrol::INSTANCE_SPACE, b"", &mut |i: EnrolInstance| {
            let master = match i.method {
                Method::Meta => Some(names.course(ctx, i.master)?),
                _ => None,
            };
            visit(InstanceRow {
                course: names.course(ctx, i.course)?,
                master,
                instance: i,
            })
        })
    },
    lookups: &[],
    columns: &[
        Column::both("course", |r| r.course.clone().into()),
        Column::both("id", |r| r.instance.id.into()),
        Column::both("method", |r| r.instance.method.word().into()),
        Column::both("enabled", |r| r.instance.enabled.into()),
        Column::both("master", |r| r.master.clone().into()),
        Column::json("course_id", |r| r.instance.course.into()),
    ],
    show_extra: None,
    csv_lines: None,
    csv_note: None,
    csv_header: None,
};

// ----- user enrolments ----------------------------------------------------------------------

#[derive(Clone)]
pub struct EnrolmentRow {
    enrolment: UserEnrolment,
    user: String,
    course: String,
    method: String,
    effective: bool,
    /// The roles the account holds in the course: those the enrolment's method owns for an
    /// owned method (a link's), else those no method owns.
    roles: Vec<String>,
    /// Whether a row of the enrolments processor can make this enrolment (manual, self).
    row_made: bool,
    /// The role of one CSV line (see [`csv_lines`]).
    line_role: String,
    /// The account as the CSV's `uid` names it (see [`enrolment_uid_key`]).
    uid: String,
}

fn enrolment_row(
    ctx: Ctx<'_>,
    names: &mut Names,
    enrolment: UserEnrolment,
) -> ModelResult<EnrolmentRow> {
    let instance = names.instance(ctx, enrolment.course, enrolment.instance)?;
    let source = match &instance {
        Some(i) if i.owns_roles() => i.id,
        _ => 0,
    };
    let mut roles = Vec::new();
    for a in Enrolments::assignments_of(&ctx.store, enrolment.course, enrolment.user)? {
        if a.source == source {
            roles.push(names.role(ctx, a.role)?);
        }
    }
    Ok(EnrolmentRow {
        user: names.user(ctx, enrolment.user)?,
        course: names.course(ctx, enrolment.course)?,
        method: instance
            .as_ref()
            .map_or(String::new(), |i| i.method.word().to_string()),
        effective: enrolment.is_effective(instance.as_ref().is_some_and(|i| i.enabled), ctx.now),
        row_made: instance
            .as_ref()
            .is_some_and(|i| matches!(i.method, Method::Manual | Method::SelfEnrol)),
        roles,
        line_role: String::new(),
        uid: names.user(ctx, enrolment.user)?,
        enrolment,
    })
}

/// The CSV of `export enrolments` is an enrolments file (method mode): a line per role of an
/// enrolment a row can make (`add` when active, `disable` when suspended), or one line without
/// a role (`enable` / `disable`) for an enrolment without one. Enrolments a metacourse link
/// made are left out: the link makes them again. Run back on the same store, every line is
/// `unchanged`.
fn csv_lines(row: &EnrolmentRow) -> Vec<EnrolmentRow> {
    if !row.row_made {
        return Vec::new();
    }
    if row.roles.is_empty() {
        return vec![row.clone()];
    }
    row.roles
        .iter()
        .map(|role| EnrolmentRow {
            line_role: role.clone(),
            ..row.clone()
        })
        .collect()
}

/// How the CSV's `uid` names accounts: by idnumber, as the enrolments processor reads them by
/// default, when every account the file lists has one; else, for the whole file, by username
/// (every account has one), which `--set user_key=username` reads (the export's note says so).
/// A first pass over the enrolments, which stops at the first account without an idnumber.
fn enrolment_uid_key(ctx: Ctx<'_>) -> ModelResult<UserKey> {
    let mut key = UserKey::Idnumber;
    let mut accounts = Accounts::default();
    let mut names = Names::default();
    scan_space(ctx, enrol::ENROLMENT_SPACE, b"", &mut |e: UserEnrolment| {
        let row_made = names
            .instance(ctx, e.course, e.instance)?
            .is_some_and(|i| matches!(i.method, Method::Manual | Method::SelfEnrol));
        if row_made && accounts.get(ctx, e.user)?.1.is_empty() {
            key = UserKey::Username;
        }
        Ok(key == UserKey::Idnumber)
    })?;
    Ok(key)
}

/// The note of a CSV export whose `uid` holds usernames.
fn enrolment_note(ctx: Ctx<'_>) -> ModelResult<Option<String>> {
    Ok((enrolment_uid_key(ctx)? == UserKey::Username).then(|| {
        "`uid` holds usernames (an account has no idnumber): run it with \
         `toolsync run enrolments FILE --set user_key=username`"
            .to_string()
    }))
}

/// The line's command (see [`csv_lines`]).
fn csv_cmd(r: &EnrolmentRow) -> &'static str {
    match (r.enrolment.active, r.line_role.is_empty()) {
        (false, _) => "disable",
        (true, true) => "enable",
        (true, false) => "add",
    }
}

/// `show enrolment <user> <course>`: the account's enrolments, roles and groups in the course.
fn participation(ctx: Ctx<'_>, keys: &[&str]) -> Result<Option<EnrolmentRow>, FindError> {
    // The row type carries one enrolment; `show` reports them all through `show_extra`, so the
    // lookup only needs to find the pair.
    let (user, course) = pair(ctx, keys)?;
    let mut names = Names::default();
    let first = Enrolments::enrolments_of(&ctx.store, course, user)?
        .into_iter()
        .next();
    let roles = Enrolments::assignments_of(&ctx.store, course, user)?;
    let groups = Groups::groups_of_member(&ctx.store, course, user)?;
    let enrolment = match first {
        Some(e) => e,
        None if roles.is_empty() && groups.is_empty() => {
            return Err(FindError::NotFound(format!(
                "account `{}` has no enrolment, role or group in course `{}`",
                keys[0], keys[1]
            )))
        }
        // Roles or groups without an enrolment: shown all the same.
        None => UserEnrolment {
            v: crate::model::MODEL_VERSION,
            course,
            user,
            instance: 0,
            active: false,
            timestart: 0,
            timeend: 0,
            timecreated: 0,
            timemodified: 0,
            extra: Default::default(),
        },
    };
    Ok(Some(enrolment_row(ctx, &mut names, enrolment)?))
}

/// The account and the course `show enrolment` names (account: username, idnumber, e-mail or
/// id; course: shortname, idnumber or id), or which of them matches nothing.
fn pair(ctx: Ctx<'_>, keys: &[&str]) -> Result<(u64, u64), FindError> {
    let mut user = None;
    for key in [
        UserKey::Username,
        UserKey::Idnumber,
        UserKey::Email,
        UserKey::Id,
    ] {
        if let Some(found) = Users::find(&ctx.store, key, keys[0])?.into_iter().next() {
            user = Some(found.id);
            break;
        }
    }
    let mut course = None;
    for key in [
        crate::model::CourseKey::Shortname,
        crate::model::CourseKey::Idnumber,
        crate::model::CourseKey::Id,
    ] {
        if let Some(found) = Courses::find(&ctx.store, key, keys[1])? {
            course = Some(found.id);
            break;
        }
    }
    let missing = |what: &str, key: &str| FindError::NotFound(format!("no {what} matches `{key}`"));
    Ok((
        user.ok_or_else(|| missing("user", keys[0]))?,
        course.ok_or_else(|| missing("course", keys[1]))?,
    ))
}

/// Everything an account holds in a course, for `show enrolment`.
fn held(ctx: Ctx<'_>, row: &EnrolmentRow) -> ModelResult<Vec<(String, Value)>> {
    let (course, user) = (row.enrolment.course, row.enrolment.user);
    let mut names = Names::default();
    let mut enrolments = Vec::new();
    for e in Enrolments::enrolments_of(&ctx.store, course, user)? {
        let r = enrolment_row(ctx, &mut names, e)?;
        enrolments.push(json!({
            "method": r.method,
            "instance": r.enrolment.instance,
            "status": status(&r),
            "timestart": r.enrolment.timestart,
            "timeend": r.enrolment.timeend,
            "effective": r.effective,
        }));
    }
    let mut roles = Vec::new();
    for a in Enrolments::assignments_of(&ctx.store, course, user)? {
        let row = assignment_row(ctx, &mut names, a)?;
        roles.push(json!({ "role": row.role, "owner": row.owner }));
    }
    let mut groups = Vec::new();
    for id in Groups::groups_of_member(&ctx.store, course, user)? {
        if let Some(g) = Groups::groups(&ctx.store, course)?
            .into_iter()
            .find(|g| g.id == id)
        {
            groups.push(Value::from(g.name));
        }
    }
    Ok(vec![
        ("enrolments".into(), enrolments.into()),
        ("roles".into(), roles.into()),
        ("groups".into(), groups.into()),
    ])
}

fn status(r: &EnrolmentRow) -> &'static str {
    if r.enrolment.active {
        "active"
    } else {
        "suspended"
    }
}

pub static ENROLMENTS: Table<EnrolmentRow> = Table {
    name: "enrolments",
    singular: "enrolment",
    about: "user enrolments: account, course, method, status, period, effective now",
    key_help: Some(
        "an account (username, idnumber, e-mail or id), then a course (shortname, idnumber or id)",
    ),
    arity: 2,
    processor: Some("enrolments"),
    json_separator: ",\n",
    scan: |ctx, visit| {
        let by_idnumber = enrolment_uid_key(ctx)? == UserKey::Idnumber;
        let mut names = Names::default();
        let mut accounts = Accounts::default();
        scan_space(ctx, enrol::ENROLMENT_SPACE, b"", &mut |e: UserEnrolment| {
            let mut row = enrolment_row(ctx, &mut names, e)?;
            if by_idnumber {
                row.uid = accounts.get(ctx, row.enrolment.user)?.1;
            }
            visit(row)
        })
    },
    lookups: &[Lookup {
        field: "account-and-course",
        find: participation,
    }],
    columns: &[
        Column::csv("cmd", |r| csv_cmd(r).into()),
        Column::csv("rolename", |r| r.line_role.clone().into()),
        Column::csv("uid", |r| r.uid.clone().into()),
        Column::csv("cid", |r| r.course.clone().into()),
        Column::csv("enrol", |r| r.method.clone().into()),
        Column::csv("starttime", |r| r.enrolment.timestart.into()),
        Column::csv("endtime", |r| r.enrolment.timeend.into()),
        Column::json("user", |r| r.user.clone().into()),
        Column::json("course", |r| r.course.clone().into()),
        Column::json("method", |r| r.method.clone().into()),
        Column::json("instance", |r| r.enrolment.instance.into()),
        Column::json("status", |r| status(r).into()),
        Column::json("timestart", |r| r.enrolment.timestart.into()),
        Column::json("timeend", |r| r.enrolment.timeend.into()),
        Column::json("effective", |r| r.effective.into()),
        Column::json("roles", |r| Value::from(r.roles.clone())),
        Column::json("timecreated", |r| r.enrolment.timecreated.into()),
        Column::json("timemodified", |r| r.enrolment.timemodified.into()),
    ],
    show_extra: Some(held),
    csv_lines: Some(csv_lines),
    csv_note: Some(enrolment_note),
    csv_header: None,
};

// ----- role assignments ---------------------------------------------------------------------

pub struct AssignmentRow {
    assignment: RoleAssignment,
    user: String,
    course: String,
    role: String,
    /// What owns it: empty when nothing does; `meta:<master>` for a metacourse link; else the
    /// owning method and its instance.
    owner: String,
}

fn assignment_row(
    ctx: Ctx<'_>,
    names: &mut Names,
    a: RoleAssignment,
) -> ModelResult<AssignmentRow> {
    let owner = names.owner(ctx, a.course, a.source)?;
    Ok(AssignmentRow {
        user: names.user(ctx, a.user)?,
        course: names.course(ctx, a.course)?,
        role: names.role(ctx, a.role)?,
        owner,
        assignment: a,
    })
}

pub static ASSIGNMENTS: Table<AssignmentRow> = Table {
    name: "role-assignments",
    singular: "role-assignment",
    about: "roles held in courses, and what owns each (a metacourse link...)",
    key_help: None,
    arity: 1,
    processor: None,
    json_separator: ",\n",
    scan: |ctx, visit| {
        let mut names = Names::default();
        scan_space(
            ctx,
            enrol::ASSIGNMENT_SPACE,
            b"",
            &mut |a: RoleAssignment| visit(assignment_row(ctx, &mut names, a)?),
        )
    },
    lookups: &[],
    columns: &[
        Column::both("user", |r| r.user.clone().into()),
        Column::both("course", |r| r.course.clone().into()),
        Column::both("role", |r| r.role.clone().into()),
        Column::both("owner", |r| r.owner.clone().into()),
        Column::json("timemodified", |r| r.assignment.timemodified.into()),
    ],
    show_extra: None,
    csv_lines: None,
    csv_note: None,
    csv_header: None,
};

// ----- metacourse links ---------------------------------------------------------------------

pub struct LinkRow {
    master: String,
    meta: String,
    instance: EnrolInstance,
}

pub static META_LINKS: Table<LinkRow> = Table {
    name: "meta-links",
    singular: "meta-link",
    about: "metacourse links (the metacourse processor's input format)",
    key_help: None,
    arity: 1,
    processor: Some("metacourse"),
    json_separator: ",\n",
    scan: |ctx, visit| {
        let mut names = Names::default();
        scan_space(ctx, enrol::INSTANCE_SPACE, b"", &mut |i: EnrolInstance| {
            if i.method != Method::Meta {
                return Ok(true);
            }
            visit(LinkRow {
                master: names.course(ctx, i.master)?,
                meta: names.course(ctx, i.course)?,
                instance: i,
            })
        })
    },
    lookups: &[],
    columns: &[
        Column::both("master", |r| r.master.clone().into()),
        Column::both("meta", |r| r.meta.clone().into()),
        Column::json("enabled", |r| r.instance.enabled.into()),
        Column::json("instance", |r| r.instance.id.into()),
    ],
    show_extra: None,
    csv_lines: None,
    csv_note: None,
    csv_header: None,
};
