//! group-members (formats.md §3.9): adds, moves and removes group memberships, then, with
//! `purge_empty_groups`, deletes the groups (and groupings) the file's courses are left with
//! empty. Main subject: the membership, `USER in COURSE/GROUP` as the row names them.
//!
//! That a member takes part in the course (an enrolment or a role) is the model's rule
//! ([`Groups::add_member`]); this processor checks it first only to name the account and the
//! course in the reason. The purge is in [`purge`].

pub mod purge;

use toolsync_plugin_api::brake::{self, Brake};
use toolsync_plugin_api::keys;
use toolsync_plugin_api::model::{
    Course, CourseKey, Enrolments, Group, GroupKey, Groups, User, UserKey,
};
use toolsync_plugin_api::{
    fail, ColumnSpec, Derived, Finish, Manifest, OptionSpec, Outcome, Processor, ReadTxn, Row,
    RowError, RowHandler, StartContext, StartError, StoreRead, Txn,
};

use crate::row::{self, listed};
use purge::{Purge, Scope};

pub struct GroupMembers;

impl Processor for GroupMembers {
    fn manifest(&self) -> Manifest {
        Manifest::new(
            "group-members",
            env!("CARGO_PKG_VERSION"),
            "Adds, moves and removes group memberships; may purge the groups left empty",
            "groupmembers.csv",
        )
        .column(
            ColumnSpec::new(
                "courseid",
                "key(course)",
                "the course (a key per course_key, despite the name)",
            )
            .required(),
        )
        .column(
            ColumnSpec::new(
                "groupid",
                "key(group)",
                "the group, within the course (by group_key)",
            )
            .required(),
        )
        .column(ColumnSpec::new("userid", "key(user)", "the account (by user_key)").required())
        .column(ColumnSpec::new(
            "cmd",
            "enum add shift del",
            "add: joins the group; shift: leaves the course's other groups, then joins; del: leaves the group — add",
        ))
        .option(keys::course_key_option())
        .option(keys::group_key_option(
            "group_key",
            "idnumber",
            "the group in `groupid`",
        ))
        .option(keys::user_key_option("idnumber"))
        // The brake on mass removals (`del`, `shift`), counted in a survey of files with `cmd`.
        .options(brake::options(10))
        .surveyed_when(&["cmd"])
        .option(
            OptionSpec::new(
                "purge_empty_groups",
                "none",
                "after the last row, in the courses of the file's successful rows: groups deletes the groups without members, groups_and_groupings also the groupings without groups",
            )
            .choices(&Purge::WORDS),
        )
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        let purge = Purge::parse(&ctx.option_choice("purge_empty_groups", &Purge::WORDS)?);
        Ok(Box::new(MembersRun {
            course_key: ctx.course_key()?,
            group_key: ctx.group_key("group_key")?,
            user_key: ctx.user_key()?,
            scope: (purge != Purge::None).then(|| Scope::new(ctx)),
            purge,
            now: ctx.started_at,
            brake: Brake::new(ctx, "group memberships")?,
        }))
    }
}

struct MembersRun {
    course_key: CourseKey,
    group_key: GroupKey,
    user_key: UserKey,
    purge: Purge,
    /// The courses the purge covers, recorded row by row; none without a purge.
    scope: Option<Scope>,
    now: i64,
    /// The survey's count of the memberships the file removes.
    brake: Brake,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Add,
    Shift,
    Del,
}

impl Cmd {
    /// The row's `cmd`, which its column's type lets through lowercased: absent or empty means
    /// `add`.
    fn of(row: &Row<'_>) -> Cmd {
        match row.text("cmd") {
            Some("shift") => Cmd::Shift,
            Some("del") => Cmd::Del,
            _ => Cmd::Add,
        }
    }
}

/// What a row designates.
struct Membership {
    course: Course,
    group: Group,
    user: User,
}

impl MembersRun {
    fn find(&self, txn: &impl StoreRead, row: &Row<'_>) -> Result<Membership, RowError> {
        let course = row::course(txn, self.course_key, row)?;
        let group = keys::find_group(
            txn,
            &course,
            self.group_key,
            "groupid",
            row.get("groupid").unwrap_or(""),
        )?;
        let user = keys::find_user(
            txn,
            self.user_key,
            "userid",
            row.get("userid").unwrap_or(""),
        )?;
        Ok(Membership {
            course,
            group,
            user,
        })
    }

    /// Makes the account a member of the group. It must hold an enrolment or a role in the
    /// course (the model refuses anyone else; asked first, the reason names them).
    fn join(&self, txn: &mut Txn<'_>, row: &Row<'_>, m: &Membership) -> Result<(), RowError> {
        if !Enrolments::participates(txn, m.course.id, m.user.id)? {
            fail!(
                "account {} ({}) holds no enrolment or role in course {}: only a participant joins its groups",
                row.get("userid").unwrap_or(""),
                m.user.username,
                m.course.shortname
            );
        }
        Groups::add_member(txn, &m.group, m.user.id, self.now)?;
        Ok(())
    }

    fn add(&self, txn: &mut Txn<'_>, row: &Row<'_>, m: &Membership) -> Result<Outcome, RowError> {
        let subject = subject(row);
        if Groups::is_member(txn, &m.group, m.user.id)? {
            return Ok(Outcome::unchanged(subject).note("already a member"));
        }
        self.join(txn, row, m)?;
        Ok(Outcome::created(subject).note(joined(m)))
    }

    /// Leaves every other group of the course, then joins this one.
    fn shift(&self, txn: &mut Txn<'_>, row: &Row<'_>, m: &Membership) -> Result<Outcome, RowError> {
        let mut left = Vec::new();
        for id in Groups::groups_of_member(txn, m.course.id, m.user.id)? {
            if id == m.group.id {
                continue;
            }
            if let Some(other) = Groups::group(txn, m.course.id, id)? {
                Groups::remove_member(txn, &other, m.user.id)?;
                left.push(other.name);
            }
        }
        let joins = !Groups::is_member(txn, &m.group, m.user.id)?;
        if joins {
            self.join(txn, row, m)?;
        }
        let subject = subject(row);
        if left.is_empty() && !joins {
            return Ok(Outcome::unchanged(subject).note("already a member, of no other group"));
        }
        let mut outcome = if left.is_empty() {
            Outcome::created(subject)
        } else {
            Outcome::updated(subject).note(format!("left {}", listed(&left)))
        };
        if joins {
            outcome = outcome.note(joined(m));
        }
        Ok(outcome)
    }

    fn del(&self, txn: &mut Txn<'_>, row: &Row<'_>, m: &Membership) -> Result<Outcome, RowError> {
        let subject = subject(row);
        if Groups::remove_member(txn, &m.group, m.user.id)? {
            Ok(Outcome::deleted(subject)
                .note(format!("{} left `{}`", m.user.username, m.group.name)))
        } else {
            Ok(Outcome::unchanged(subject).note("not a member"))
        }
    }

    fn apply_row(&mut self, row: &Row<'_>, txn: &mut Txn<'_>) -> Result<Outcome, RowError> {
        let membership = self.find(txn, row)?;
        let outcome = match Cmd::of(row) {
            Cmd::Add => self.add(txn, row, &membership)?,
            Cmd::Shift => self.shift(txn, row, &membership)?,
            Cmd::Del => self.del(txn, row, &membership)?,
        };
        // Last, once the row cannot fail any more: its course joins the purge's scope with its
        // writes.
        if let Some(scope) = &mut self.scope {
            scope.record(txn, membership.course.id)?;
        }
        Ok(outcome)
    }
}

/// `jdoe joined `Tutors A``.
fn joined(m: &Membership) -> String {
    format!("{} joined `{}`", m.user.username, m.group.name)
}

/// `USER in COURSE/GROUP`, as the row wrote them.
fn subject(row: &Row<'_>) -> String {
    format!(
        "{} in {}",
        row.get("userid").unwrap_or(""),
        row::in_course(row, "groupid")
    )
}

impl RowHandler for MembersRun {
    fn subject(&self, row: &Row<'_>) -> String {
        subject(row)
    }

    /// Counts the memberships `del` and `shift` rows remove, for the brake.
    fn survey(&mut self, row: &Row<'_>, store: &ReadTxn<'_>) {
        let cmd = Cmd::of(row);
        if cmd == Cmd::Add || self.brake.has_failed() {
            return;
        }
        let counted = (|| -> Result<(), RowError> {
            let m = self.find(store, row)?;
            let user = m.user.id;
            let leaves: Vec<u64> = match cmd {
                Cmd::Del if Groups::is_member(store, &m.group, user)? => vec![m.group.id],
                Cmd::Shift => Groups::groups_of_member(store, m.course.id, user)?
                    .into_iter()
                    .filter(|id| *id != m.group.id)
                    .collect(),
                _ => Vec::new(),
            };
            for group in leaves {
                self.brake
                    .count([group.to_be_bytes(), user.to_be_bytes()].concat());
            }
            Ok(())
        })();
        self.brake.settle(row.line, counted);
    }

    fn survey_verdict(&mut self, store: &ReadTxn<'_>) -> Result<Option<String>, StartError> {
        self.brake
            .verdict(|| brake::entries(store, toolsync_plugin_api::model::group::MEMBER_SPACE))
    }

    fn apply(
        &mut self,
        row: &Row<'_>,
        _derived: Derived,
        txn: &mut Txn<'_>,
    ) -> Result<Outcome, RowError> {
        self.apply_row(row, txn).map_err(|e| e.about(&subject(row)))
    }

    /// The purge, after the last row (the host runs this only when the rows stand: not after a
    /// `--max-errors` stop nor before an `--atomic` rollback).
    fn finish(&mut self, txn: &mut Txn<'_>) -> Result<Finish, RowError> {
        match &self.scope {
            Some(scope) => purge::run(txn, self.purge, scope),
            None => Ok(Finish::default()),
        }
    }
}

#[cfg(test)]
mod tests;
