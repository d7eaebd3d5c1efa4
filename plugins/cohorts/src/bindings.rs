//! cohort-courses (formats.md §3.12): binds cohorts to courses. Each member of a bound cohort is
//! enrolled in the course with the binding's role, its period and (with `makegroup`) in a group
//! named after the cohort — kept in step as members come and go (the model's [`Cohorts`]). Main
//! subject: the binding, `COHORT → COURSE (ROLE)` as the row names them.
//!
//! - `add`: no binding → created, the current members enrolled; a disabled one re-enabled, and
//!   present dates and `makegroup` applied → updated; else unchanged.
//! - `del`: disables the binding(s), suspending their enrolments; `restore` re-enables them;
//!   `fulldel` removes them with what they made (the group stays). `*` as the role: every
//!   binding of the cohort and course.
//!
//! The row's message counts the enrolments made, updated or removed: binding a cohort of
//! 50,000 members is one row that says `50000 enrolments made`.

use toolsync_plugin_api::brake::{self, Brake};
use toolsync_plugin_api::keys;
use toolsync_plugin_api::model::{
    BindingSpec, Cohort, CohortKey, Cohorts, Course, CourseKey, EnrolInstance, Period, Role,
    RoleKey, Roles, Synced,
};
use toolsync_plugin_api::{
    counted, fail, ColumnSpec, Derived, Manifest, Outcome, OutcomeKind, Processor, ReadTxn, Row,
    RowError, RowHandler, StartContext, StartError, StoreRead, Txn,
};

use crate::cohorts::with_synced;

pub struct CohortCourses;

impl Processor for CohortCourses {
    fn manifest(&self) -> Manifest {
        Manifest::new(
            "cohort-courses",
            env!("CARGO_PKG_VERSION"),
            "Binds cohorts to courses: every member enrolled with the binding's role, kept in step with the cohort",
            "cohortscourses.csv",
        )
        .column(ColumnSpec::new("cohort", "key(cohort)", "the cohort (by cohort_key)").required())
        .column(ColumnSpec::new("course", "key(course)", "the course (by course_key)").required())
        .column(ColumnSpec::new(
            "cmd",
            "enum add del restore fulldel",
            "add: binds (or re-enables); del: disables, suspending its enrolments; restore: re-enables; fulldel: removes with what it made, the group kept — add",
        ))
        .column(ColumnSpec::new(
            "role",
            "text(100)",
            "the binding's role (by role_key), or * (every binding of the cohort and course; not with add) — student",
        ))
        .column(ColumnSpec::new(
            "enrol",
            "enum cohort",
            "the enrolment method: only cohort — cohort",
        ))
        .column(ColumnSpec::new(
            "enrolstart",
            "date",
            "start of the enrolments the binding makes; 0: none — none",
        ))
        .column(ColumnSpec::new(
            "enrolend",
            "date",
            "end of the enrolments the binding makes; 0: none — none",
        ))
        .column(ColumnSpec::new(
            "makegroup",
            "bool",
            "1: a group named after the cohort (reused if present) holds the members enrolled through the binding; 0: the binding fills no group (what it put there goes)",
        ))
        .option(keys::cohort_key_option())
        .option(keys::course_key_option())
        .option(keys::role_key_option())
        // The brake on mass removals (`del` disables, `fulldel` removes), counted in a survey
        // of files with `cmd`.
        .options(brake::options(10))
        .surveyed_when(&["cmd"])
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        Ok(Box::new(BindingsRun {
            cohort_key: ctx.cohort_key()?,
            course_key: ctx.course_key()?,
            role_key: ctx.role_key()?,
            now: ctx.started_at,
            brake: Brake::new(ctx, "cohort bindings")?,
        }))
    }
}

struct BindingsRun {
    cohort_key: CohortKey,
    course_key: CourseKey,
    role_key: RoleKey,
    now: i64,
    /// The survey's count of the bindings the file disables or removes.
    brake: Brake,
}

/// What a row designates.
struct Designated {
    cmd: Cmd,
    role: RoleCell,
    cohort: Cohort,
    course: Course,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Add,
    Del,
    Restore,
    FullDel,
}

impl Cmd {
    /// The row's `cmd`, which its column's type lets through lowercased: absent or empty means
    /// `add`.
    fn of(row: &Row<'_>) -> Cmd {
        match row.text("cmd") {
            Some("del") => Cmd::Del,
            Some("restore") => Cmd::Restore,
            Some("fulldel") => Cmd::FullDel,
            _ => Cmd::Add,
        }
    }
}

/// The role a row names.
enum RoleCell {
    /// `*`: every binding of the pair.
    Every,
    One(Role),
}

/// `COHORT → COURSE (ROLE)`, as the row wrote them (the role `student` when empty).
fn subject(row: &Row<'_>) -> String {
    format!(
        "{} → {} ({})",
        row.get("cohort").unwrap_or(""),
        row.get("course").unwrap_or(""),
        row.non_empty("role").unwrap_or("student")
    )
}

impl RowHandler for BindingsRun {
    fn subject(&self, row: &Row<'_>) -> String {
        subject(row)
    }

    /// Counts the bindings `del` disables and `fulldel` removes, for the brake.
    fn survey(&mut self, row: &Row<'_>, store: &ReadTxn<'_>) {
        if !matches!(Cmd::of(row), Cmd::Del | Cmd::FullDel) || self.brake.has_failed() {
            return;
        }
        let counted = self.designate(store, row).and_then(|d| {
            for binding in Self::bindings(store, &d)? {
                if d.cmd == Cmd::FullDel || binding.enabled {
                    self.brake.count(binding.id.to_be_bytes());
                }
            }
            Ok(())
        });
        self.brake.settle(row.line, counted);
    }

    fn survey_verdict(&mut self, store: &ReadTxn<'_>) -> Result<Option<String>, StartError> {
        self.brake
            .verdict(|| brake::entries(store, toolsync_plugin_api::model::cohort::BINDING_SPACE))
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

impl BindingsRun {
    fn apply_row(
        &self,
        row: &Row<'_>,
        txn: &mut Txn<'_>,
        subject: &str,
    ) -> Result<Outcome, RowError> {
        let designated = self.designate(txn, row)?;
        match designated.cmd {
            Cmd::Add => {
                let RoleCell::One(role) = &designated.role else {
                    unreachable!("`*` with add fails in designate")
                };
                let Designated { cohort, course, .. } = &designated;
                self.add(row, txn, cohort, course, role, subject)
            }
            cmd => {
                let bindings = Self::bindings(txn, &designated)?;
                self.change(txn, cmd, &bindings, subject)
            }
        }
    }

    /// The binding(s) a `del`, `restore` or `fulldel` row acts on.
    fn bindings(store: &impl StoreRead, d: &Designated) -> Result<Vec<EnrolInstance>, RowError> {
        Ok(match &d.role {
            RoleCell::Every => Cohorts::bindings_between(store, d.cohort.id, d.course.id)?,
            RoleCell::One(role) => Cohorts::binding(store, d.cohort.id, d.course.id, role.id)?
                .into_iter()
                .collect(),
        })
    }

    /// The command, role, cohort and course a row names; what cannot be found fails it.
    fn designate(&self, txn: &impl StoreRead, row: &Row<'_>) -> Result<Designated, RowError> {
        let cmd = Cmd::of(row);
        let role = match row.non_empty("role") {
            Some("*") if cmd == Cmd::Add => {
                fail!("`role` * (every binding) is not for `add`: name the role")
            }
            Some("*") => RoleCell::Every,
            Some(value) => RoleCell::One(keys::find_role(txn, self.role_key, "role", value)?),
            None => match Roles::by_shortname(txn, "student")? {
                Some(student) => RoleCell::One(student),
                None => fail!("`role` is empty and the platform has no `student` role"),
            },
        };
        let cohort = keys::find_cohort(
            txn,
            self.cohort_key,
            "cohort",
            row.get("cohort").unwrap_or(""),
        )?;
        let course = keys::find_course(
            txn,
            self.course_key,
            "course",
            row.get("course").unwrap_or(""),
        )?;
        Ok(Designated {
            cmd,
            role,
            cohort,
            course,
        })
    }

    fn add(
        &self,
        row: &Row<'_>,
        txn: &mut Txn<'_>,
        cohort: &Cohort,
        course: &Course,
        role: &Role,
        subject: &str,
    ) -> Result<Outcome, RowError> {
        let spec = BindingSpec {
            period: Period {
                start: row.date("enrolstart"),
                end: row.date("enrolend"),
            },
            makegroup: row.bool("makegroup"),
        };
        match Cohorts::binding(txn, cohort.id, course.id, role.id)? {
            None => {
                let (binding, synced) =
                    Cohorts::bind(txn, cohort, course, role.id, &spec, self.now)?;
                let mut outcome = Outcome::created(subject);
                if binding.group != 0 {
                    outcome = outcome.note(format!("members grouped in `{}`", cohort.name));
                }
                let made = if synced.is_empty() {
                    "no members to enrol yet".to_string()
                } else {
                    synced.describe()
                };
                Ok(outcome.note(made))
            }
            Some(binding) => {
                let was_disabled = !binding.enabled;
                match Cohorts::update_binding(txn, cohort, course, &binding, &spec, self.now)? {
                    None => Ok(Outcome::unchanged(subject).note("already bound")),
                    Some(synced) => {
                        let outcome = Outcome::updated(subject);
                        let outcome = if was_disabled {
                            outcome.note("re-enabled")
                        } else {
                            outcome
                        };
                        Ok(with_synced(outcome, synced))
                    }
                }
            }
        }
    }

    /// `del`, `restore`, `fulldel` on the row's binding(s).
    fn change(
        &self,
        txn: &mut Txn<'_>,
        cmd: Cmd,
        bindings: &[EnrolInstance],
        subject: &str,
    ) -> Result<Outcome, RowError> {
        let mut changed = 0;
        let mut synced = Synced::default();
        for binding in bindings {
            let done = match cmd {
                Cmd::Del => Cohorts::set_enabled(txn, binding, false, self.now)?,
                Cmd::Restore => Cohorts::set_enabled(txn, binding, true, self.now)?,
                _ => Some(Cohorts::unbind(txn, binding, self.now)?),
            };
            if let Some(done) = done {
                changed += 1;
                synced.add(done);
            }
        }
        let (kind, verb, none) = match cmd {
            Cmd::Del => (OutcomeKind::Updated, "disabled", "no enabled binding"),
            Cmd::Restore => (OutcomeKind::Updated, "re-enabled", "no disabled binding"),
            _ => (OutcomeKind::Deleted, "removed", "no binding"),
        };
        if changed == 0 {
            return Ok(Outcome::unchanged(subject).note(none));
        }
        let outcome = Outcome::new(kind, subject).note(format!(
            "{} {verb}",
            counted(changed, "binding", "bindings")
        ));
        Ok(with_synced(outcome, synced))
    }
}

#[cfg(test)]
mod tests;
