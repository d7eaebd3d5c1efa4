//! course-check (formats.md §3.4): headerless; each record is `key` or
//! `key<delimiter>description`; more fields fail the row. Writes nothing to the store.
//!
//! A found course is `checked` (message: idnumber, shortname, fullname); a missing one fails
//! ("course not found"), so the tryback lists exactly the missing keys and the exit code is 1.
//! The JSON report's `details` lists both: `found` and `missing`, in file order.
//!
//! The host hands a headerless file's records over as they are, whatever their number of
//! fields, with the manifest's column names: a 1-field record has no `description` value, a
//! 3-field one has a third value under no name. The field count is checked here.

use serde_json::{json, Value};
use toolsync_plugin_api::model::CourseKey;
use toolsync_plugin_api::values::check_longtext;
use toolsync_plugin_api::{
    ColumnSpec, Derived, Finish, Manifest, Outcome, Processor, Row, RowError, RowHandler,
    StartContext, StartError, Txn,
};

use toolsync_plugin_api::keys;

pub const KEY: &str = "key";
pub const DESCRIPTION: &str = "description";

pub struct CourseCheck;

impl Processor for CourseCheck {
    fn manifest(&self) -> Manifest {
        Manifest::new(
            "course-check",
            env!("CARGO_PKG_VERSION"),
            "Checks that courses exist (writes nothing); each line is `key` or `key<delimiter>description` (no header)",
            "courses.csv",
        )
        .headerless()
        .read_only()
        .column(
            ColumnSpec::new(KEY, "key(course)", "a course key per course_key").required(),
        )
        .column(ColumnSpec::new(
            DESCRIPTION,
            "longtext",
            "free text echoed in the report (optional second field)",
        ))
        .option(keys::course_key_option())
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        Ok(Box::new(CheckRun {
            key: ctx.course_key()?,
            found: Vec::new(),
            missing: Vec::new(),
        }))
    }
}

pub struct CheckRun {
    key: CourseKey,
    /// `details.found` and `details.missing`, in file order: the lists are the report's point.
    found: Vec<Value>,
    missing: Vec<Value>,
}

impl RowHandler for CheckRun {
    fn apply(
        &mut self,
        row: &Row<'_>,
        _derived: Derived,
        txn: &mut Txn<'_>,
    ) -> Result<Outcome, RowError> {
        let key = row.get(KEY).unwrap_or("");
        let fields = row.values().count();
        if fields > 2 {
            return Err(RowError::new(format!(
                "{fields} fields: a course-check line is `key` or `key<delimiter>description` \
                 (quote a description that holds the delimiter)"
            ))
            .about(key));
        }
        // An empty second field is no description, like an absent one.
        let description = row.non_empty(DESCRIPTION);
        if let Some(text) = description {
            check_longtext(text)
                .map_err(|e| RowError::new(format!("`{DESCRIPTION}`: {e}")).about(key))?;
        }
        match keys::lookup_course(txn, self.key, KEY, key).map_err(|e| e.about(key))? {
            Some(course) => {
                self.found.push(json!({
                    "line": row.line,
                    "key": key,
                    "description": description,
                    "idnumber": course.idnumber,
                    "shortname": course.shortname,
                    "fullname": course.fullname,
                }));
                let idnumber = if course.idnumber.is_empty() {
                    "(none)"
                } else {
                    &course.idnumber
                };
                Ok(Outcome::checked(&course.shortname).note(format!(
                    "idnumber {idnumber}, shortname {}, fullname {}",
                    course.shortname, course.fullname
                )))
            }
            None => {
                self.missing.push(json!({
                    "line": row.line,
                    "key": key,
                    "description": description,
                }));
                Err(keys::course_not_found(self.key, key).about(key))
            }
        }
    }

    fn finish(&mut self, _txn: &mut Txn<'_>) -> Result<Finish, RowError> {
        Ok(Finish {
            details: Some(json!({
                "found": std::mem::take(&mut self.found),
                "missing": std::mem::take(&mut self.missing),
            })),
            ..Finish::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolsync_plugin_api::model::{Categories, Course, Courses, Roles};
    use toolsync_plugin_api::testing::{MemoryStore, Runner};
    use toolsync_plugin_api::OutcomeKind;

    fn store() -> MemoryStore {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "Misc", true, 1).unwrap().id;
        let mut c1 = Course::new("C1", "Course 1", cat, 1);
        c1.idnumber = "I1".into();
        Courses::create(&mut txn, c1).unwrap();
        Courses::create(&mut txn, Course::new("C2", "Course 2", cat, 1)).unwrap();
        drop(txn);
        store
    }

    fn details(report: &toolsync_plugin_api::testing::Report) -> Value {
        serde_json::from_str(&report.details_json).unwrap()
    }

    #[test]
    fn found_and_missing_with_and_without_description() {
        let mut store = store();
        let before = store.clone();
        let report = Runner::new(CourseCheck)
            .run(
                &mut store,
                &[KEY, DESCRIPTION],
                &[&["C1", "first"], &["nope", "gone"], &["C2", ""]],
            )
            .unwrap();
        assert_eq!(
            report.kinds(),
            vec![
                OutcomeKind::Checked,
                OutcomeKind::Failed,
                OutcomeKind::Checked
            ]
        );
        assert_eq!(report.rows[0].subject, "C1");
        assert_eq!(
            report.rows[0].message,
            "idnumber I1, shortname C1, fullname Course 1"
        );
        assert_eq!(
            report.rows[2].message,
            "idnumber (none), shortname C2, fullname Course 2"
        );
        assert_eq!(report.rows[1].subject, "nope");
        assert!(report.rows[1].message.starts_with("course not found"));
        assert_eq!(
            details(&report),
            json!({
                "found": [
                    {"line": 2, "key": "C1", "description": "first", "idnumber": "I1",
                     "shortname": "C1", "fullname": "Course 1"},
                    {"line": 4, "key": "C2", "description": null, "idnumber": "",
                     "shortname": "C2", "fullname": "Course 2"},
                ],
                "missing": [{"line": 3, "key": "nope", "description": "gone"}],
            })
        );
        assert_eq!(store, before, "course-check writes nothing");
    }

    #[test]
    fn a_key_alone_has_a_null_description() {
        // The host gives a 1-field record one value (the `description` column has none).
        let mut store = store();
        let report = Runner::new(CourseCheck)
            .run(&mut store, &[KEY], &[&["C2"], &["X"]])
            .unwrap();
        assert_eq!(
            details(&report),
            json!({
                "found": [{"line": 2, "key": "C2", "description": null, "idnumber": "",
                           "shortname": "C2", "fullname": "Course 2"}],
                "missing": [{"line": 3, "key": "X", "description": null}],
            })
        );
    }

    #[test]
    fn three_fields_fail_the_row() {
        // A third value under no name, as the host gives a 3-field headerless record.
        let mut store = store();
        let report = Runner::new(CourseCheck)
            .option("allow_unknown_columns", "true")
            .run(
                &mut store,
                &[KEY, DESCRIPTION, "extra"],
                &[&["C1", "a", "b"], &["C2", "a", ""]],
            )
            .unwrap();
        assert_eq!(report.kinds(), vec![OutcomeKind::Failed; 2]);
        assert!(
            report.rows[0]
                .message
                .starts_with("3 fields: a course-check line is `key`"),
            "{}",
            report.rows[0].message
        );
        assert_eq!(report.rows[0].subject, "C1");
        assert_eq!(details(&report), json!({"found": [], "missing": []}));
    }

    #[test]
    fn keys_by_idnumber_and_id_and_an_empty_key() {
        let mut store = store();
        let report = Runner::new(CourseCheck)
            .option("course_key", "idnumber")
            .run(
                &mut store,
                &[KEY, DESCRIPTION],
                &[&["I1", ""], &["C1", ""], &["", "x"]],
            )
            .unwrap();
        assert_eq!(
            report.kinds(),
            vec![
                OutcomeKind::Checked,
                OutcomeKind::Failed,
                OutcomeKind::Failed
            ]
        );
        assert_eq!(report.rows[0].subject, "C1");
        assert_eq!(
            report.rows[1].message,
            "course not found: no course with idnumber = C1"
        );
        assert_eq!(report.rows[2].message, "missing `key`");
        let d = details(&report);
        assert_eq!(d["missing"].as_array().unwrap().len(), 1, "{d}");

        let report = Runner::new(CourseCheck)
            .option("course_key", "id")
            .run(&mut store, &[KEY], &[&["1"], &["x"]])
            .unwrap();
        assert_eq!(
            report.kinds(),
            vec![OutcomeKind::Checked, OutcomeKind::Failed]
        );
    }
}
