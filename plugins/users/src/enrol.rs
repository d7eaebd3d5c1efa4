//! The users file's enrolment columns (formats.md §3.6, "Enrolment columns"): for each n
//! with a non-empty `course{n}`, the account is enrolled in that course through `enrol{n}`
//! (manual by default) with `role{n}` (student by default) over `start{n}`…`end{n}`, then
//! joins `group{n}` (created if missing). Each n is independent; any failure fails the row,
//! and the account's own changes with it (one transaction).
//!
//! What enrolling means — instances, periods, what an existing enrolment keeps — is the
//! model's ([`Enrolments::enrol_with`]), shared with the enrolments processor.

use toolsync_plugin_api::model::{
    CourseKey, EnrolRequest, Enrolments, Groups, Method, Period, RoleKey, User,
};
use toolsync_plugin_api::{keys, Columns, Row, RowError, Txn};

/// The enrolment columns of one file.
#[derive(Debug, Clone)]
pub struct EnrolmentColumns {
    /// The n of every `course{n}` present, in order.
    numbers: Vec<u32>,
    course_key: CourseKey,
}

impl EnrolmentColumns {
    pub fn of(columns: &Columns, course_key: CourseKey) -> Self {
        EnrolmentColumns {
            numbers: columns.indices_of("course{n}"),
            course_key,
        }
    }

    /// Whether the file has no enrolment column (most users files: nothing to do per row).
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// Enrols the row's account as its enrolment columns say; returns the notes for the
    /// outcome's message.
    pub fn apply(
        &self,
        row: &Row<'_>,
        txn: &mut Txn<'_>,
        user: &User,
        started_at: i64,
    ) -> Result<Vec<String>, RowError> {
        let mut notes = Vec::new();
        for n in &self.numbers {
            let column = |stem: &str| format!("{stem}{n}");
            let Some(course_cell) = row.non_empty(&column("course")) else {
                continue;
            };
            let course = keys::find_course(txn, self.course_key, &column("course"), course_cell)
                .map_err(|e| RowError::new(format!("`{}`: {}", column("course"), e.reason)))?;
            let role_name = row.non_empty(&column("role")).unwrap_or("student");
            let role = keys::find_role(txn, RoleKey::Shortname, &column("role"), role_name)?;
            let method = Method::for_rows(row.non_empty(&column("enrol")).unwrap_or("manual"))
                .map_err(|e| RowError::new(format!("`{}`: {e}", column("enrol"))))?;
            let instance = Enrolments::instance_for_rows(txn, &course, method, false, started_at)
                .map_err(|e| RowError::new(format!("`{}`: {e}", column("course"))))?;
            let request = EnrolRequest {
                roles: vec![role.id],
                period: Period {
                    start: row.date(&column("start")),
                    end: row.date(&column("end")),
                },
                default_start: started_at,
                reactivate: false,
            };
            let done = Enrolments::enrol_with(txn, &instance, user.id, &request, started_at)?;
            if done.created {
                notes.push(format!(
                    "enrolled in {} ({})",
                    course.shortname, role.shortname
                ));
            } else if done.changed {
                notes.push(format!(
                    "enrolment in {} updated ({})",
                    course.shortname, role.shortname
                ));
            }
            if let Some(name) = row.non_empty(&column("group")) {
                let (group, created) = Groups::find_or_create_group(txn, &course, name, started_at)
                    .map_err(|e| RowError::new(format!("`{}`: {e}", column("group"))))?;
                if created {
                    notes.push(format!("group {}/{name} created", course.shortname));
                }
                if Groups::add_member(txn, &group, user.id, started_at)? {
                    notes.push(format!("joined {}/{name}", course.shortname));
                }
            }
        }
        Ok(notes)
    }
}
