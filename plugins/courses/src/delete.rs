//! course-delete (formats.md §3.2): one course key per line, never split; each existing course
//! is deleted with everything that hangs on it (the model's cascade, `Courses::delete`).
//!
//! A safety threshold guards against a wrong file: before any deletion the host surveys the
//! file (plugin API 1.1) and this processor counts the distinct existing courses it names. More
//! than `max_delete_ratio` × the courses in the store refuses the file, unless the run has
//! `--force` (the report then says so). Dry runs are surveyed too.

use std::collections::{HashMap, HashSet};

use toolsync_plugin_api::model::{CourseKey, Courses};
use toolsync_plugin_api::{
    ColumnSpec, Derived, Manifest, OptionSpec, Outcome, Processor, ReadTxn, Row, RowError,
    RowHandler, StartContext, StartError, Txn,
};

use toolsync_plugin_api::keys;

/// The one column of a headerless, whole-line file.
pub const COLUMN: &str = "course";
pub const RATIO_OPTION: &str = "max_delete_ratio";

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
        .option(OptionSpec::new(
            RATIO_OPTION,
            "0.5",
            "refuse a file naming more than this share (0 to 1) of the store's courses, unless --force",
        ))
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        let key = ctx.course_key()?;
        let ratio = Ratio::parse(ctx.option(RATIO_OPTION))
            .map_err(|e| StartError::BadOption(format!("option `{RATIO_OPTION}`: {e}").into()))?;
        Ok(Box::new(DeleteRun {
            key,
            ratio,
            force: ctx.force,
            now: ctx.started_at,
            named: HashSet::new(),
            survey_error: None,
            deleted: HashMap::new(),
        }))
    }
}

pub struct DeleteRun {
    key: CourseKey,
    ratio: Ratio,
    force: bool,
    now: i64,
    /// Survey: the distinct ids of the existing courses the file names (bounded by the store).
    named: HashSet<u64>,
    /// Survey: the first store error; a partial count must not let a file through.
    survey_error: Option<String>,
    /// Key as written → line that deleted it, for the reason of a repeated key (bounded by the
    /// store's courses too).
    deleted: HashMap<String, u64>,
}

impl RowHandler for DeleteRun {
    fn survey(&mut self, row: &Row<'_>, store: &ReadTxn<'_>) {
        if self.survey_error.is_some() {
            return;
        }
        let value = row.get(COLUMN).unwrap_or("");
        if value.is_empty() {
            return;
        }
        match Courses::find(store, self.key, value) {
            Ok(Some(course)) => {
                self.named.insert(course.id);
            }
            Ok(None) => {}
            Err(e) => self.survey_error = Some(format!("line {}: {e}", row.line)),
        }
    }

    fn survey_verdict(&mut self, store: &ReadTxn<'_>) -> Result<Option<String>, StartError> {
        if let Some(e) = &self.survey_error {
            return Err(StartError::Refused(
                format!("the store could not be read while counting the courses to delete: {e}")
                    .into(),
            ));
        }
        let total = Courses::count(store).map_err(|e| {
            StartError::Refused(format!("the store could not be read to count courses: {e}").into())
        })?;
        let found = self.named.len() as u64;
        // Nothing in the store, nothing to delete: no threshold to apply.
        if total == 0 || !self.ratio.exceeded(found, total) {
            return Ok(None);
        }
        if !self.force {
            return Err(StartError::Refused(
                format!(
                    "the file would delete {found} of the {total} courses in the store (more than \
                     {RATIO_OPTION} = {ratio} × {total} = {limit}); check the file, or run with --force",
                    ratio = self.ratio,
                    limit = self.ratio.times(total),
                )
                .into(),
            ));
        }
        Ok(Some(format!(
            "--force: deleting {found} of {total} courses, over {RATIO_OPTION} = {} ({} × {total} = {})",
            self.ratio,
            self.ratio,
            self.ratio.times(total)
        )))
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

/// `max_delete_ratio`: a decimal number from 0 to 1, kept exact (`num / 10^scale`) so that a
/// count equal to the limit always passes, whatever the binary rounding of `0.1 × 30`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    num: u64,
    scale: u32,
}

impl Ratio {
    /// At most this many decimals (10^18 still fits a u64).
    const MAX_SCALE: u32 = 18;

    /// `0.5`, `.5`, `1`, `1.0`, `0` … (decimal digits, one optional `.`).
    pub fn parse(text: &str) -> Result<Ratio, String> {
        let text = text.trim();
        let bad = || format!("`{text}` is not a number from 0 to 1 (e.g. 0.5)");
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return Err(bad());
        }
        let frac = frac.trim_end_matches('0');
        let int = int.trim_start_matches('0');
        if frac.len() > Self::MAX_SCALE as usize {
            return Err(format!("`{text}`: at most {} decimals", Self::MAX_SCALE));
        }
        let scale = frac.len() as u32;
        let ratio = match int {
            "" => Ratio {
                num: if frac.is_empty() {
                    0
                } else {
                    frac.parse().map_err(|_| bad())?
                },
                scale,
            },
            "1" if frac.is_empty() => Ratio { num: 1, scale: 0 },
            _ => return Err(format!("`{text}` is over 1: the ratio goes from 0 to 1")),
        };
        Ok(ratio)
    }

    /// Whether `count` is more than this ratio of `total`.
    pub fn exceeded(self, count: u64, total: u64) -> bool {
        u128::from(count) * 10u128.pow(self.scale) > u128::from(self.num) * u128::from(total)
    }

    /// This ratio × `total`, exactly, as a decimal (`3.5`, `5`).
    pub fn times(self, total: u64) -> String {
        decimal(u128::from(self.num) * u128::from(total), self.scale)
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&decimal(u128::from(self.num), self.scale))
    }
}

/// `value / 10^scale` written in decimal, without trailing zeros.
fn decimal(value: u128, scale: u32) -> String {
    let unit = 10u128.pow(scale);
    let (int, frac) = (value / unit, value % unit);
    if frac == 0 {
        return int.to_string();
    }
    let frac = format!("{frac:0width$}", width = scale as usize);
    format!("{int}.{}", frac.trim_end_matches('0'))
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
    fn ratios_parse_exactly() {
        for (text, shown) in [
            ("0.5", "0.5"),
            (".5", "0.5"),
            ("0.50", "0.5"),
            ("1", "1"),
            ("1.000", "1"),
            ("0", "0"),
            ("0.0", "0"),
            ("00.25", "0.25"),
            (" 0.1 ", "0.1"),
        ] {
            assert_eq!(Ratio::parse(text).unwrap().to_string(), shown, "{text}");
        }
        for bad in [
            "", ".", "-0.5", "1.5", "2", "0,5", "5e-1", "abc", "0.5.1", "50%",
        ] {
            assert!(Ratio::parse(bad).is_err(), "{bad}");
        }
        let tenth = Ratio::parse("0.1").unwrap();
        assert!(!tenth.exceeded(3, 30), "0.1 × 30 is exactly 3");
        assert!(tenth.exceeded(4, 30));
        assert_eq!(tenth.times(30), "3");
        assert_eq!(Ratio::parse("0.5").unwrap().times(7), "3.5");
        assert_eq!(Ratio::parse("0.333").unwrap().times(10), "3.33");
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
