//! course-delete (formats.md §3.2): one course key per line, never split; each existing course
//! is deleted with everything that hangs on it (the model's cascade, `Courses::delete`).
//!
//! A safety threshold guards against a wrong file: before any deletion the host surveys the
//! file (plugin API 1.1) and this processor counts the distinct existing courses it names. More
//! than `max_delete_ratio` × the courses in the store refuses the file, unless the run has
//! `--force` (the report then says so). Dry runs are surveyed too.

use std::collections::HashMap;

use toolsync_plugin_api::model::{CourseKey, Courses};
use toolsync_plugin_api::{
    ColumnSpec, Derived, Manifest, Outcome, Processor, ReadTxn, Row, RowError, RowHandler,
    StartContext, StartError, Txn,
};

use toolsync_plugin_api::keys;

/// The one column of a headerless, whole-line file.
pub const COLUMN: &str = "course";
pub use toolsync_plugin_api::brake::RATIO_OPTION;
use toolsync_plugin_api::brake::{self, Brake};

pub struct CourseDelete;

impl Processor for CourseDelete {
    fn manifest(&self) -> Manifest {
        Manifest::new(
            "course-delete",
            env!("CARGO_PKG_VERSION"),
            "Deletes courses with everything that depends on them; one course key per line (no header, never split)",
            "deletecourses.csv",
        )
        .headerless()
        .whole_lines()
        .surveyed()
        .column(
            ColumnSpec::new(
                COLUMN,
                "key(course)",
                "the whole line: a course key per course_key (unquoted if entirely enclosed in \")",
            )
            .required(),
        )
        .option(keys::course_key_option())
        // Its threshold predates the brake's minimum: from one course on.
        .options(brake::options(1))
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        let key = ctx.course_key()?;
        Ok(Box::new(DeleteRun {
            key,
            brake: Brake::new(ctx, "courses")?.said_as("delete", "deleting"),
            now: ctx.started_at,
            deleted: HashMap::new(),
        }))
    }
}

pub struct DeleteRun {
    key: CourseKey,
    /// Survey: the distinct existing courses the file names (bounded by the store).
    brake: Brake,
    now: i64,
    /// Key as written → line that deleted it, for the reason of a repeated key (bounded by the
    /// store's courses too).
    deleted: HashMap<String, u64>,
}

impl RowHandler for DeleteRun {
    fn survey(&mut self, row: &Row<'_>, store: &ReadTxn<'_>) {
        if self.brake.has_failed() {
            return;
        }
        let value = row.get(COLUMN).unwrap_or("");
        if value.is_empty() {
            return;
        }
        match Courses::find(store, self.key, value) {
            Ok(Some(course)) => self.brake.count(course.id.to_be_bytes()),
            Ok(None) => {}
            Err(e) => self.brake.failed(row.line, e),
        }
    }

    fn survey_verdict(&mut self, store: &ReadTxn<'_>) -> Result<Option<String>, StartError> {
        self.brake.verdict(|| Courses::count(store))
    }

    fn apply(
        &mut self,
        row: &Row<'_>,
        _derived: Derived,
        txn: &mut Txn<'_>,
    ) -> Result<Outcome, RowError> {
        let value = row.get(COLUMN).unwrap_or("");
        let found =
            keys::lookup_course(txn, self.key, COLUMN, value).map_err(|e| e.about(value))?;
        let Some(course) = found else {
            let mut error = keys::course_not_found(self.key, value);
            if let Some(line) = self.deleted.get(value) {
                error.reason.push_str(&format!(" (deleted by line {line})"));
            }
            return Err(error.about(value));
        };
        Courses::delete(txn, &course, self.now).map_err(|e| RowError::from(e).about(value))?;
        self.deleted.insert(value.to_string(), row.line);
        let mut outcome = Outcome::deleted(&course.shortname).note(format!("id {}", course.id));
        if !course.idnumber.is_empty() {
            outcome = outcome.note(format!("idnumber {}", course.idnumber));
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolsync_plugin_api::model::{
        Activities, Categories, Course, Enrolments, Groups, Roles, Section, Sections, User, Users,
    };
    use toolsync_plugin_api::testing::{MemoryStore, Refusal, Report, Runner};
    use toolsync_plugin_api::OutcomeKind;

    /// A store with the standard roles and `n` courses `C1`… (idnumber `I1`…).
    fn store_with(n: u64) -> MemoryStore {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "Misc", true, 1).unwrap().id;
        for i in 1..=n {
            let mut course = Course::new(&format!("C{i}"), &format!("Course {i}"), cat, 1);
            course.idnumber = format!("I{i}");
            Courses::create(&mut txn, course).unwrap();
        }
        drop(txn);
        store
    }

    fn count(store: &mut MemoryStore) -> u64 {
        Courses::count(&store.txn()).unwrap()
    }

    /// Runs over one row per key (the Runner numbers rows from line 2, as after a header).
    fn run(runner: Runner, store: &mut MemoryStore, keys: &[&str]) -> Result<Report, Refusal> {
        let rows: Vec<[&str; 1]> = keys.iter().map(|k| [*k]).collect();
        let rows: Vec<&[&str]> = rows.iter().map(|r| r.as_slice()).collect();
        runner.run(store, &[COLUMN], &rows)
    }

    #[test]
    fn a_bad_ratio_is_a_usage_error() {
        let refusal = run(
            Runner::new(CourseDelete).option(RATIO_OPTION, "1.5"),
            &mut store_with(2),
            &["C1"],
        )
        .unwrap_err();
        match &refusal {
            Refusal::Start(StartError::BadOption(r)) => {
                assert!(r.contains("max_delete_ratio") && r.contains("1.5"), "{r}")
            }
            other => panic!("expected a bad option, got {other:?}"),
        }
    }

    #[test]
    fn equal_to_the_limit_passes() {
        let mut store = store_with(4);
        let report = run(Runner::new(CourseDelete), &mut store, &["C1", "C2"]).unwrap();
        assert_eq!(report.kinds(), vec![OutcomeKind::Deleted; 2]);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(report.rows[0].subject, "C1");
        assert_eq!(count(&mut store), 2);
    }

    #[test]
    fn one_over_the_limit_refuses_with_both_numbers_and_deletes_nothing() {
        let mut store = store_with(4);
        let before = store.clone();
        let refusal = run(Runner::new(CourseDelete), &mut store, &["C1", "C2", "C3"]).unwrap_err();
        match &refusal {
            Refusal::Survey(StartError::Refused(r)) => {
                assert!(
                    r.contains("would delete 3 of the 4 courses")
                        && r.contains("max_delete_ratio = 0.5 × 4 = 2")
                        && r.contains("--force"),
                    "{r}"
                )
            }
            other => panic!("expected a survey refusal, got {other:?}"),
        }
        assert_eq!(store, before);
    }

    #[test]
    fn only_distinct_existing_courses_count() {
        // 2 of 4 distinct existing courses, named several times and by id too, plus unknown
        // keys: within 0.5.
        let mut store = store_with(4);
        let report = run(
            Runner::new(CourseDelete),
            &mut store,
            &["C1", "C2", "C1", "X1", "X2", "X3"],
        )
        .unwrap();
        assert_eq!(
            report
                .rows
                .iter()
                .filter(|r| r.kind == OutcomeKind::Deleted)
                .count(),
            2
        );
        // By id: the same course under another key is still one course.
        let mut store = store_with(2);
        assert_eq!(
            Courses::by_shortname(&store.txn(), "C1")
                .unwrap()
                .unwrap()
                .id,
            1
        );
        let report = run(
            Runner::new(CourseDelete).option("course_key", "id"),
            &mut store,
            &["1", "01"],
        )
        .unwrap();
        assert_eq!(
            report.kinds(),
            vec![OutcomeKind::Deleted, OutcomeKind::Failed],
            "{report:?}"
        );
    }

    #[test]
    fn force_passes_and_says_so() {
        let mut store = store_with(4);
        let report = run(
            Runner::new(CourseDelete).force(),
            &mut store,
            &["C1", "C2", "C3"],
        )
        .unwrap();
        assert_eq!(report.kinds(), vec![OutcomeKind::Deleted; 3]);
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        let note = &report.warnings[0];
        assert!(
            note.starts_with("--force: deleting 3 of 4 courses, over max_delete_ratio = 0.5"),
            "{note}"
        );
        assert_eq!(count(&mut store), 1);
    }

    #[test]
    fn ratio_bounds() {
        // 1: everything may go.
        let mut store = store_with(2);
        let report = run(
            Runner::new(CourseDelete).option(RATIO_OPTION, "1"),
            &mut store,
            &["C1", "C2"],
        )
        .unwrap();
        assert_eq!(report.kinds(), vec![OutcomeKind::Deleted; 2]);
        assert_eq!(count(&mut store), 0);
        // 0: nothing may go; a file naming only unknown courses still runs.
        let mut store = store_with(2);
        assert!(run(
            Runner::new(CourseDelete).option(RATIO_OPTION, "0"),
            &mut store,
            &["C1"],
        )
        .is_err());
        let report = run(
            Runner::new(CourseDelete).option(RATIO_OPTION, "0"),
            &mut store,
            &["nope"],
        )
        .unwrap();
        assert_eq!(report.kinds(), vec![OutcomeKind::Failed]);
        // An empty store: nothing to refuse.
        let mut empty = store_with(0);
        let report = run(Runner::new(CourseDelete), &mut empty, &["C1"]).unwrap();
        assert_eq!(report.kinds(), vec![OutcomeKind::Failed]);
    }

    #[test]
    fn a_repeated_key_fails_the_second_time() {
        let mut store = store_with(4);
        let report = run(Runner::new(CourseDelete), &mut store, &["C1", "C1"]).unwrap();
        assert_eq!(
            report.kinds(),
            vec![OutcomeKind::Deleted, OutcomeKind::Failed]
        );
        let failed = &report.rows[1];
        assert_eq!(failed.line, 3);
        assert_eq!(failed.subject, "C1");
        assert!(
            failed.message.starts_with("course not found"),
            "{}",
            failed.message
        );
        assert!(
            failed.message.contains("deleted by line 2"),
            "{}",
            failed.message
        );
    }

    #[test]
    fn unknown_and_idnumber_keys() {
        let mut store = store_with(4);
        let report = run(
            Runner::new(CourseDelete).option("course_key", "idnumber"),
            &mut store,
            &["I2", "C3", "ghost"],
        )
        .unwrap();
        assert_eq!(
            report.kinds(),
            vec![
                OutcomeKind::Deleted,
                OutcomeKind::Failed,
                OutcomeKind::Failed
            ]
        );
        assert_eq!(report.rows[0].subject, "C2", "the subject is the shortname");
        assert!(report.rows[0].message.contains("idnumber I2"));
        assert_eq!(
            report.rows[1].message,
            "course not found: no course with idnumber = C3"
        );
        let txn = store.txn();
        assert!(Courses::by_shortname(&txn, "C2").unwrap().is_none());
        assert!(Courses::by_shortname(&txn, "C3").unwrap().is_some());
    }

    #[test]
    fn deletion_cascades_but_users_and_categories_stay() {
        let mut store = store_with(2);
        {
            let mut txn = store.txn();
            let course = Courses::by_shortname(&txn, "C1").unwrap().unwrap();
            let user = Users::create(&mut txn, User::new("t1", "T", "One", 1)).unwrap();
            let teacher = Roles::by_shortname(&txn, "editingteacher")
                .unwrap()
                .unwrap();
            let manual = Enrolments::ensure_instance(
                &mut txn,
                &course,
                toolsync_plugin_api::model::Method::Manual,
                1,
            )
            .unwrap();
            Enrolments::enrol(&mut txn, &manual, user.id, &[teacher.id], 1).unwrap();
            let group = Groups::create_group(&mut txn, &course, "G", "", 1).unwrap();
            Groups::add_member(&mut txn, &group, user.id, 1).unwrap();
            Activities::add(&mut txn, &course, "forum", "posts", &serde_json::json!({})).unwrap();
            Sections::put(&mut txn, &course, &mut Section::new(course.id, 0)).unwrap();
        }
        let c1 = Courses::by_shortname(&store.txn(), "C1")
            .unwrap()
            .unwrap()
            .id;
        let report = run(Runner::new(CourseDelete), &mut store, &["C1"]).unwrap();
        assert_eq!(report.kinds(), vec![OutcomeKind::Deleted]);
        let txn = store.txn();
        assert!(Courses::get(&txn, c1).unwrap().is_none());
        assert!(Enrolments::instances(&txn, c1).unwrap().is_empty());
        assert!(Enrolments::enrolments(&txn, c1).unwrap().is_empty());
        assert!(Enrolments::assignments(&txn, c1).unwrap().is_empty());
        assert!(Groups::groups(&txn, c1).unwrap().is_empty());
        assert!(Sections::of(&txn, c1).unwrap().is_empty());
        assert!(Activities::modules(&txn, c1).unwrap().is_empty());
        assert!(Users::by_username(&txn, "t1").unwrap().is_some());
        assert_eq!(Categories::all(&txn).unwrap().len(), 1);
        assert!(Courses::by_shortname(&txn, "C2").unwrap().is_some());
    }
}
