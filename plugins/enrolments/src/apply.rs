//! What a row does (formats.md §3.7). Main subject: the user's enrolment in the course (in
//! role-only mode, the role assignment), named `uid in cid` as the file writes them.
//!
//! A row reads its cells, resolves the account, the course and the role, runs `cmd`, then
//! `gcmd` — all in the row's transaction, so a failing group command leaves nothing of the
//! enrolment behind either.

use toolsync_plugin_api::brake::{self, Brake};
use toolsync_plugin_api::model::enrol::{ASSIGNMENT_SPACE, ENROLMENT_SPACE};
use toolsync_plugin_api::model::{
    Course, CourseKey, EnrolRequest, Enrolments, GroupKey, Groups, Method, ModelError, Period,
    Role, RoleKey, User, UserKey,
};
use toolsync_plugin_api::{
    keys, Derived, Outcome, OutcomeKind, ReadTxn, Row, RowError, RowHandler, StartContext,
    StartError, StoreRead, Txn,
};

use crate::command::{Cmd, GroupCmd};

/// The run's options.
pub struct Settings {
    pub user_key: UserKey,
    pub course_key: CourseKey,
    pub default_cmd: Cmd,
    pub use_disabled_instances: bool,
    /// Method mode: the file has an `enrol` column. Without it, rows give roles only.
    pub method_mode: bool,
    /// The start of the run: a new enrolment's default start.
    pub started_at: i64,
}

impl Settings {
    pub fn from_context(ctx: &StartContext) -> Result<Settings, StartError> {
        let default_cmd = ctx.option_choice("default_cmd", &Cmd::WORDS)?;
        Ok(Settings {
            user_key: ctx.user_key()?,
            course_key: ctx.course_key()?,
            default_cmd: Cmd::parse(&default_cmd).unwrap_or(Cmd::Add),
            use_disabled_instances: ctx.option_bool("use_disabled_instances")?,
            method_mode: ctx.columns().has("enrol"),
            started_at: ctx.started_at,
        })
    }
}

pub struct EnrolmentsRun {
    settings: Settings,
    /// The survey's count of the enrolments and role assignments the file removes.
    brake: Brake,
}

impl EnrolmentsRun {
    pub fn new(settings: Settings, brake: Brake) -> Self {
        EnrolmentsRun { settings, brake }
    }

    /// What a `del` or `shift` row removes, as the model would (read only): an enrolment
    /// through the row's method (method mode `del`), or the roles no method owns.
    fn removals(&self, row: &Row<'_>, store: &impl StoreRead) -> Result<Vec<Vec<u8>>, RowError> {
        let s = &self.settings;
        let cmd = Cmd::of_row(row, s.default_cmd)?;
        if !matches!(cmd, Cmd::Del | Cmd::Shift) {
            return Ok(Vec::new());
        }
        let t = self.resolve(row, store, cmd)?;
        let (course, user) = (t.course.id, t.user.id);
        if cmd == Cmd::Del && s.method_mode {
            let method = Method::for_rows(row.non_empty("enrol").unwrap_or("manual"))
                .map_err(|e| RowError::new(format!("`enrol`: {e}")))?;
            let Some(instance) =
                Enrolments::row_instance(store, &t.course, method, s.use_disabled_instances)?
            else {
                return Ok(Vec::new());
            };
            let enrolled = Enrolments::enrolments_of(store, course, user)?
                .iter()
                .any(|e| e.instance == instance.id);
            return Ok(if enrolled {
                vec![[
                    b"e".as_slice(),
                    &instance.id.to_be_bytes(),
                    &user.to_be_bytes(),
                ]
                .concat()]
            } else {
                Vec::new()
            });
        }
        let kept = match (cmd, &t.role) {
            (Cmd::Del, RoleCell::Every) => None,
            (Cmd::Del, RoleCell::One(role)) => {
                return Ok(Enrolments::assignments_of(store, course, user)?
                    .iter()
                    .filter(|a| a.source == 0 && a.role == role.id)
                    .map(|a| assignment_key(course, user, a.role))
                    .collect())
            }
            (_, RoleCell::One(role)) => Some(role.id),
            _ => return Ok(Vec::new()),
        };
        Ok(Enrolments::assignments_of(store, course, user)?
            .iter()
            .filter(|a| a.source == 0 && Some(a.role) != kept)
            .map(|a| assignment_key(course, user, a.role))
            .collect())
    }
}

/// A role assignment, as the brake counts it.
fn assignment_key(course: u64, user: u64, role: u64) -> Vec<u8> {
    [
        b"r".as_slice(),
        &course.to_be_bytes(),
        &user.to_be_bytes(),
        &role.to_be_bytes(),
    ]
    .concat()
}

/// The role a row names.
enum RoleCell {
    /// Empty (allowed for enable and disable only).
    None,
    /// `*`: every role (del only).
    Every,
    One(Role),
}

/// What a row resolved before acting.
struct Target {
    user: User,
    course: Course,
    role: RoleCell,
    period: Period,
}

impl RowHandler for EnrolmentsRun {
    fn subject(&self, row: &Row<'_>) -> String {
        subject(row)
    }

    /// Counts what `del` and `shift` rows remove, for the brake.
    fn survey(&mut self, row: &Row<'_>, store: &ReadTxn<'_>) {
        if self.brake.has_failed() {
            return;
        }
        let counted = self
            .removals(row, store)
            .map(|keys| keys.into_iter().for_each(|k| self.brake.count(k)));
        self.brake.settle(row.line, counted);
    }

    fn survey_verdict(&mut self, store: &ReadTxn<'_>) -> Result<Option<String>, StartError> {
        self.brake.verdict(|| {
            Ok::<u64, toolsync_plugin_api::StoreError>(
                brake::entries(store, ENROLMENT_SPACE)? + brake::entries(store, ASSIGNMENT_SPACE)?,
            )
        })
    }

    fn apply(
        &mut self,
        row: &Row<'_>,
        _derived: Derived,
        txn: &mut Txn<'_>,
    ) -> Result<Outcome, RowError> {
        let subject = subject(row);
        self.apply_row(row, txn, &subject)
            .map_err(|e| e.about(&subject))
    }
}

fn subject(row: &Row<'_>) -> String {
    format!(
        "{} in {}",
        row.get("uid").unwrap_or(""),
        row.get("cid").unwrap_or("")
    )
}

impl EnrolmentsRun {
    fn apply_row(
        &self,
        row: &Row<'_>,
        txn: &mut Txn<'_>,
        subject: &str,
    ) -> Result<Outcome, RowError> {
        let s = &self.settings;
        let cmd = Cmd::of_row(row, s.default_cmd)?;
        let groups = GroupCmd::of_row(row)?;
        let target = self.resolve(row, txn, cmd)?;
        let outcome = if s.method_mode {
            let method = Method::for_rows(row.non_empty("enrol").unwrap_or("manual"))
                .map_err(|e| RowError::new(format!("`enrol`: {e}")))?;
            self.with_method(txn, cmd, method, &target, subject)?
        } else {
            self.role_only(txn, cmd, &target, subject)?
        };
        match groups {
            None => Ok(outcome),
            Some((gcmd, names)) => {
                let note = self.groups(txn, &target, gcmd, &names)?;
                Ok(outcome.note(note))
            }
        }
    }

    /// The account, the course, the role and the period a row names; the checks that do not
    /// depend on the store (`*` outside `del`, an empty role) come first.
    fn resolve(&self, row: &Row<'_>, txn: &impl StoreRead, cmd: Cmd) -> Result<Target, RowError> {
        let s = &self.settings;
        let rolename = row.get("rolename").unwrap_or("");
        let role = match rolename {
            "*" if cmd == Cmd::Del => RoleCell::Every,
            "*" => return Err(RowError::new("`rolename` * (every role) is for `del` only")),
            "" if matches!(cmd, Cmd::Enable | Cmd::Disable) => RoleCell::None,
            "" => return Err(RowError::new("missing `rolename`")),
            name => RoleCell::One(keys::find_role(txn, RoleKey::Shortname, "rolename", name)?),
        };
        let user = keys::find_user(txn, s.user_key, "uid", row.get("uid").unwrap_or(""))?;
        let course = keys::find_course(txn, s.course_key, "cid", row.get("cid").unwrap_or(""))
            .map_err(|e| RowError::new(format!("`cid`: {}", e.reason)))?;
        Ok(Target {
            user,
            course,
            role,
            period: Period {
                start: row.date("starttime"),
                end: row.date("endtime"),
            },
        })
    }

    /// Method mode: the enrolment through the course's instance of the method.
    fn with_method(
        &self,
        txn: &mut Txn<'_>,
        cmd: Cmd,
        method: Method,
        t: &Target,
        subject: &str,
    ) -> Result<Outcome, RowError> {
        let s = &self.settings;
        let now = s.started_at;
        let (user, course) = (t.user.id, &t.course);
        let roles = match &t.role {
            RoleCell::One(role) => vec![role.id],
            RoleCell::None | RoleCell::Every => Vec::new(),
        };
        match cmd {
            Cmd::Add | Cmd::Shift => {
                let instance = Enrolments::instance_for_rows(
                    txn,
                    course,
                    method,
                    s.use_disabled_instances,
                    now,
                )?;
                let mut removed = 0;
                if cmd == Cmd::Shift {
                    if let Some(role) = roles.first() {
                        removed = Enrolments::shift_roles(txn, course.id, user, *role, now)?.0;
                    }
                }
                let request = EnrolRequest {
                    roles,
                    period: t.period,
                    default_start: s.started_at,
                    reactivate: true,
                };
                let done = Enrolments::enrol_with(txn, &instance, user, &request, now)?;
                let kind = if done.created {
                    OutcomeKind::Created
                } else if done.changed || removed > 0 {
                    OutcomeKind::Updated
                } else {
                    OutcomeKind::Unchanged
                };
                let mut outcome = Outcome::new(kind, subject).note(format!("through {method}"));
                if removed > 0 {
                    outcome = outcome.note(format!("{} removed", plural(removed, "other role")));
                }
                Ok(outcome)
            }
            Cmd::Del => {
                let Some(instance) =
                    Enrolments::row_instance(txn, course, method, s.use_disabled_instances)?
                else {
                    return Ok(
                        Outcome::unchanged(subject).note(format!("not enrolled through {method}"))
                    );
                };
                if Enrolments::unenrol(txn, &instance, user, now)? {
                    Ok(Outcome::deleted(subject).note(format!("unenrolled from {method}")))
                } else {
                    Ok(Outcome::unchanged(subject).note(format!("not enrolled through {method}")))
                }
            }
            Cmd::Enable | Cmd::Disable => {
                let active = cmd == Cmd::Enable;
                let instance =
                    Enrolments::row_instance(txn, course, method, s.use_disabled_instances)?;
                let changed = match instance {
                    Some(instance) => {
                        Enrolments::set_status(txn, &instance, user, active, t.period, now)?
                    }
                    None => None,
                };
                match changed {
                    None => Err(RowError::new(format!(
                        "not enrolled in `{}` through {method}",
                        course.shortname
                    ))),
                    Some(changed) => Ok(status_outcome(subject, changed, active)),
                }
            }
        }
    }

    /// Role-only mode: roles in the course, and the state of every enrolment no owner made.
    fn role_only(
        &self,
        txn: &mut Txn<'_>,
        cmd: Cmd,
        t: &Target,
        subject: &str,
    ) -> Result<Outcome, RowError> {
        let now = self.settings.started_at;
        let (user, course) = (t.user.id, t.course.id);
        match (cmd, &t.role) {
            (Cmd::Add, RoleCell::One(role)) => {
                if Enrolments::assign(txn, course, user, role.id, now)? {
                    Ok(Outcome::created(subject).note(format!("role {}", role.shortname)))
                } else {
                    Ok(Outcome::unchanged(subject).note(format!("holds {}", role.shortname)))
                }
            }
            (Cmd::Del, RoleCell::Every) => {
                let removed = Enrolments::unassign_all(txn, course, user, None, now)?;
                if removed > 0 {
                    Ok(Outcome::deleted(subject)
                        .note(format!("{} removed", plural(removed, "role"))))
                } else {
                    Ok(Outcome::unchanged(subject).note("no role to remove"))
                }
            }
            (Cmd::Del, RoleCell::One(role)) => {
                if Enrolments::unassign(txn, course, user, role.id, now)? {
                    Ok(Outcome::deleted(subject).note(format!("role {} removed", role.shortname)))
                } else {
                    Ok(Outcome::unchanged(subject)
                        .note(format!("does not hold {}", role.shortname)))
                }
            }
            (Cmd::Shift, RoleCell::One(role)) => {
                let (removed, added) = Enrolments::shift_roles(txn, course, user, role.id, now)?;
                let kind = if removed > 0 || added {
                    OutcomeKind::Updated
                } else {
                    OutcomeKind::Unchanged
                };
                Ok(Outcome::new(kind, subject).note(format!(
                    "role {}; {} removed",
                    role.shortname,
                    plural(removed, "other role")
                )))
            }
            (Cmd::Enable | Cmd::Disable, _) => {
                let active = cmd == Cmd::Enable;
                let mut changed = false;
                let mut found = false;
                for enrolment in Enrolments::enrolments_of(txn, course, user)? {
                    let Some(instance) = Enrolments::instance(txn, course, enrolment.instance)?
                    else {
                        continue;
                    };
                    if instance.owns_roles() {
                        continue;
                    }
                    found = true;
                    changed |= Enrolments::set_status(txn, &instance, user, active, t.period, now)?
                        .unwrap_or(false);
                }
                if !found {
                    return Err(RowError::new(format!(
                        "no enrolment in `{}` to {}",
                        t.course.shortname,
                        if active { "enable" } else { "disable" }
                    )));
                }
                Ok(status_outcome(subject, changed, active))
            }
            // `resolve` lets an empty role or `*` through only where they mean something.
            (Cmd::Add | Cmd::Shift | Cmd::Del, _) => Err(RowError::new("missing `rolename`")),
        }
    }

    /// `gcmd` after `cmd`: the user must then take part in the course. Returns the note
    /// (groups joined, left, created).
    fn groups(
        &self,
        txn: &mut Txn<'_>,
        t: &Target,
        gcmd: GroupCmd,
        names: &[(&str, &str)],
    ) -> Result<String, RowError> {
        let now = self.settings.started_at;
        let (user, course) = (t.user.id, &t.course);
        let outsider = || {
            RowError::new(format!(
                "`gcmd`: the account holds no enrolment or role in `{}` (after `cmd`), so it cannot be in its groups",
                course.shortname
            ))
        };
        // A group joined checks it itself (the model's rule for every member): the check
        // here is for the commands that join nothing.
        let joins = gcmd != GroupCmd::Del && !names.is_empty();
        if !joins && !Enrolments::participates(txn, course.id, user)? {
            return Err(outsider());
        }
        let mut left = 0;
        if gcmd.replaces() {
            left = Groups::remove_user(txn, course.id, user)?;
        }
        let (mut joined, mut created, mut removed) = (Vec::new(), Vec::new(), Vec::new());
        for (column, name) in names {
            let group = if gcmd.creates() {
                let (group, new) = Groups::find_or_create_group(txn, course, name, now)
                    .map_err(|e| RowError::new(format!("`{column}`: {e}")))?;
                if new {
                    created.push(name.to_string());
                }
                group
            } else {
                Groups::find_group(txn, course.id, GroupKey::Name, name)?.ok_or_else(|| {
                    RowError::new(format!(
                        "`{column}`: course `{}` has no group named `{name}`",
                        course.shortname
                    ))
                })?
            };
            if gcmd == GroupCmd::Del {
                if Groups::remove_member(txn, &group, user)? {
                    removed.push(name.to_string());
                }
            } else if Groups::add_member(txn, &group, user, now).map_err(|e| match e {
                ModelError::Conflict(_) => outsider(),
                other => other.into(),
            })? {
                joined.push(name.to_string());
            }
        }
        let mut parts = Vec::new();
        if left > 0 {
            parts.push(format!("left {}", plural(left, "group")));
        }
        if !created.is_empty() {
            parts.push(format!("created {}", created.join(", ")));
        }
        if !joined.is_empty() {
            parts.push(format!("joined {}", joined.join(", ")));
        }
        if !removed.is_empty() {
            parts.push(format!("left {}", removed.join(", ")));
        }
        if parts.is_empty() {
            parts.push("groups unchanged".into());
        }
        Ok(parts.join("; "))
    }
}

fn status_outcome(subject: &str, changed: bool, active: bool) -> Outcome {
    let word = if active { "active" } else { "suspended" };
    if changed {
        Outcome::updated(subject).note(word)
    } else {
        Outcome::unchanged(subject).note(format!("already {word}"))
    }
}

fn plural(n: usize, one: &str) -> String {
    format!("{n} {one}{}", if n == 1 { "" } else { "s" })
}
