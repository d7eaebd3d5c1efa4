//! metacourse (formats.md §3.5): links a master course to a meta course, whose participants
//! then mirror the master's, or removes such a link. Main subject: the link, `MASTER → META`
//! as the file names the courses.
//!
//! Self-links, cycles and the mirroring itself are the model's ([`Enrolments::link`],
//! [`Enrolments::unlink`]): this processor reads the row, asks, and reports.

use toolsync_plugin_api::model::{Course, CourseKey, Enrolments};
use toolsync_plugin_api::{
    counted, ColumnSpec, Derived, Manifest, Outcome, Processor, Row, RowError, RowHandler,
    StartContext, StartError, StoreRead, Txn,
};

use toolsync_plugin_api::keys;

pub struct Metacourse;

impl Processor for Metacourse {
    fn manifest(&self) -> Manifest {
        Manifest::new(
            "metacourse",
            env!("CARGO_PKG_VERSION"),
            "Links a master course to a meta course that mirrors its participants, or removes the link",
            "metacourses.csv",
        )
        .column(
            ColumnSpec::new(
                "master",
                "key(course)",
                "the course whose participants are mirrored (by course_key)",
            )
            .required(),
        )
        .column(
            ColumnSpec::new(
                "meta",
                "key(course)",
                "the course receiving them (by course_key)",
            )
            .required(),
        )
        .column(ColumnSpec::new(
            "cmd",
            "enum add del",
            "add: link (participants mirrored at once); del: unlink, with what the link gave — add",
        ))
        .option(keys::course_key_option())
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        Ok(Box::new(MetacourseRun {
            key: ctx.course_key()?,
            now: ctx.started_at,
        }))
    }
}

struct MetacourseRun {
    key: CourseKey,
    now: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Add,
    Del,
}

fn read_cmd(cell: &str) -> Result<Cmd, RowError> {
    match cell.to_ascii_lowercase().as_str() {
        "" | "add" => Ok(Cmd::Add),
        "del" => Ok(Cmd::Del),
        _ => Err(RowError::new(format!(
            "`cmd`: `{cell}` is not one of add, del"
        ))),
    }
}

impl MetacourseRun {
    fn course(&self, txn: &impl StoreRead, column: &str, value: &str) -> Result<Course, RowError> {
        keys::lookup_course(txn, self.key, column, value)?.ok_or_else(|| {
            RowError::new(format!(
                "`{column}`: {}",
                keys::course_not_found(self.key, value).reason
            ))
        })
    }
}

impl RowHandler for MetacourseRun {
    fn apply(
        &mut self,
        row: &Row<'_>,
        _derived: Derived,
        txn: &mut Txn<'_>,
    ) -> Result<Outcome, RowError> {
        let master_key = row.get("master").unwrap_or("");
        let meta_key = row.get("meta").unwrap_or("");
        let subject = format!("{master_key} → {meta_key}");
        let cmd = read_cmd(row.get("cmd").unwrap_or("")).map_err(|e| e.about(&subject))?;
        let master = self
            .course(txn, "master", master_key)
            .map_err(|e| e.about(&subject))?;
        let meta = self
            .course(txn, "meta", meta_key)
            .map_err(|e| e.about(&subject))?;
        if master.id == meta.id {
            return Err(RowError::new(format!(
                "`master` and `meta` are the same course (`{}`): a course cannot be its own metacourse",
                master.shortname
            ))
            .about(&subject));
        }
        let existing = Enrolments::link_between(txn, master.id, meta.id)?;
        match (cmd, existing) {
            (Cmd::Add, Some(_)) => Ok(Outcome::unchanged(subject).note("link exists")),
            (Cmd::Add, None) => {
                let link = Enrolments::link(txn, &master, &meta, self.now)
                    .map_err(|e| RowError::from(e).about(&subject))?;
                let mirrored = Enrolments::enrolments(txn, meta.id)?
                    .iter()
                    .filter(|e| e.instance == link.id)
                    .count();
                Ok(Outcome::created(subject).note(format!(
                    "{} mirrored from `{}` into `{}`",
                    counted(mirrored, "participant", "participants"),
                    master.shortname,
                    meta.shortname
                )))
            }
            (Cmd::Del, None) => Ok(Outcome::unchanged(subject).note("no link")),
            (Cmd::Del, Some(link)) => {
                let enrolments = Enrolments::enrolments(txn, meta.id)?
                    .iter()
                    .filter(|e| e.instance == link.id)
                    .count();
                let assignments = Enrolments::assignments(txn, meta.id)?
                    .iter()
                    .filter(|a| a.source == link.id)
                    .count();
                Enrolments::unlink(txn, master.id, meta.id, self.now)?;
                Ok(Outcome::deleted(subject).note(format!(
                    "{} and {} the link gave in `{}` removed",
                    counted(enrolments, "enrolment", "enrolments"),
                    counted(assignments, "role assignment", "role assignments"),
                    meta.shortname
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolsync_plugin_api::model::{Categories, Courses, Roles, User, Users};
    use toolsync_plugin_api::testing::{MemoryStore, Refusal, RowResult, Runner};
    use toolsync_plugin_api::OutcomeKind;

    /// Courses A, B, C, D; A has a student and a teacher through its manual method.
    struct Fixture {
        store: MemoryStore,
        courses: Vec<Course>,
        student: u64,
        teacher: u64,
    }

    fn fixture() -> Fixture {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "Cat", true, 1).unwrap().id;
        let courses: Vec<Course> = ["A", "B", "C", "D"]
            .iter()
            .map(|s| {
                let mut course = Course::new(s, s, cat, 1);
                course.idnumber = format!("{s}-ID");
                Courses::create(&mut txn, course).unwrap()
            })
            .collect();
        let student = Users::create(&mut txn, User::new("s1", "S", "One", 1))
            .unwrap()
            .id;
        let teacher = Users::create(&mut txn, User::new("t1", "T", "One", 1))
            .unwrap()
            .id;
        let role = |txn: &Txn<'_>, name: &str| Roles::by_shortname(txn, name).unwrap().unwrap().id;
        let (student_role, teacher_role) = (role(&txn, "student"), role(&txn, "editingteacher"));
        let manual = Enrolments::ensure_instance(
            &mut txn,
            &courses[0],
            toolsync_plugin_api::model::Method::Manual,
            1,
        )
        .unwrap();
        Enrolments::enrol(&mut txn, &manual, student, &[student_role], 1).unwrap();
        Enrolments::enrol(&mut txn, &manual, teacher, &[teacher_role], 1).unwrap();
        drop(txn);
        Fixture {
            store,
            courses,
            student,
            teacher,
        }
    }

    impl Fixture {
        fn run_with(
            &mut self,
            options: &[(&str, &str)],
            header: &str,
            rows: &[&str],
        ) -> Vec<RowResult> {
            let runner = options
                .iter()
                .fold(Runner::new(Metacourse), |r, (k, v)| r.option(k, v));
            runner
                .run_lines(&mut self.store, header, rows, ';')
                .expect("not refused")
                .rows
        }

        fn row(&mut self, header: &str, row: &str) -> RowResult {
            self.run_with(&[], header, &[row]).remove(0)
        }

        fn failing(&mut self, header: &str, row: &str) -> RowResult {
            let before = self.store.clone();
            let result = self.row(header, row);
            assert_eq!(result.kind, OutcomeKind::Failed, "{result:?}");
            assert_eq!(self.store, before, "a failed row writes nothing");
            result
        }

        fn enrolled(&self, course: usize) -> Vec<u64> {
            let mut users: Vec<u64> =
                Enrolments::enrolments(&self.store.read(), self.courses[course].id)
                    .unwrap()
                    .iter()
                    .map(|e| e.user)
                    .collect();
            users.dedup();
            users
        }

        fn linked(&self, master: usize, meta: usize) -> bool {
            Enrolments::link_between(
                &self.store.read(),
                self.courses[master].id,
                self.courses[meta].id,
            )
            .unwrap()
            .is_some()
        }
    }

    #[test]
    fn add_links_and_mirrors_then_again_is_unchanged() {
        let mut f = fixture();
        let result = f.row("master;meta", "A;B");
        assert_eq!(result.kind, OutcomeKind::Created, "{result:?}");
        assert_eq!(result.subject, "A → B");
        assert_eq!(result.message, "2 participants mirrored from `A` into `B`");
        assert_eq!(f.enrolled(1), vec![f.student, f.teacher]);
        assert!(f.linked(0, 1));
        for cmd in ["add", "ADD", ""] {
            let result = f.row("master;meta;cmd", &format!("A;B;{cmd}"));
            assert_eq!(result.kind, OutcomeKind::Unchanged, "{cmd}");
            assert_eq!(result.message, "link exists");
        }
        // A course with no participants mirrors none, and chains follow.
        let result = f.row("master;meta;cmd", "C;D;add");
        assert_eq!(result.message, "0 participants mirrored from `C` into `D`");
        let result = f.row("master;meta", "B;C");
        assert_eq!(result.message, "2 participants mirrored from `B` into `C`");
        assert_eq!(f.enrolled(3), vec![f.student, f.teacher], "A → B → C → D");
    }

    #[test]
    fn del_removes_the_link_with_what_it_gave() {
        let mut f = fixture();
        f.row("master;meta", "A;B");
        {
            // The student also has a manual enrolment in B: it stays.
            let mut txn = f.store.txn();
            let manual = Enrolments::ensure_instance(
                &mut txn,
                &f.courses[1],
                toolsync_plugin_api::model::Method::Manual,
                2,
            )
            .unwrap();
            Enrolments::enrol(&mut txn, &manual, f.student, &[], 2).unwrap();
        }
        let result = f.row("master;meta;cmd", "A;B;Del");
        assert_eq!(result.kind, OutcomeKind::Deleted, "{result:?}");
        assert_eq!(
            result.message,
            "2 enrolments and 2 role assignments the link gave in `B` removed"
        );
        assert!(!f.linked(0, 1));
        assert_eq!(f.enrolled(1), vec![f.student]);
        assert!(Enrolments::assignments(&f.store.read(), f.courses[1].id)
            .unwrap()
            .is_empty());
        let result = f.row("master;meta;cmd", "A;B;del");
        assert_eq!(result.kind, OutcomeKind::Unchanged);
        assert_eq!(result.message, "no link");
    }

    #[test]
    fn self_links_cycles_and_unknown_courses_fail() {
        let mut f = fixture();
        let result = f.failing("master;meta", "A;A");
        assert_eq!(
            result.message,
            "`master` and `meta` are the same course (`A`): a course cannot be its own metacourse"
        );
        assert_eq!(result.subject, "A → A");
        f.failing("master;meta;cmd", "B;B;del");
        f.row("master;meta", "A;B");
        f.row("master;meta", "B;C");
        let result = f.failing("master;meta", "C;A");
        assert_eq!(
            result.message,
            "the link would close a cycle: C → A → B → C"
        );
        let result = f.failing("master;meta", "Z;A");
        assert_eq!(
            result.message,
            "`master`: course not found: no course with shortname = Z"
        );
        let result = f.failing("master;meta;cmd", "A;Y;del");
        assert_eq!(
            result.message,
            "`meta`: course not found: no course with shortname = Y"
        );
        let result = f.failing("master;meta", ";A");
        assert_eq!(result.message, "missing `master`");
    }

    #[test]
    fn an_unknown_cmd_fails_and_later_rows_run() {
        let mut f = fixture();
        let results = f.run_with(&[], "master;meta;cmd", &["A;B;remove", "A;C;add"]);
        assert_eq!(results[0].kind, OutcomeKind::Failed);
        assert_eq!(results[0].message, "`cmd`: `remove` is not one of add, del");
        assert_eq!(results[1].kind, OutcomeKind::Created);
        assert!(!f.linked(0, 1), "the failed row left nothing");
        assert!(f.linked(0, 2));
    }

    #[test]
    fn course_key_selects_the_field() {
        let mut f = fixture();
        let results = f.run_with(
            &[("course_key", "idnumber")],
            "master;meta",
            &["A-ID;B-ID", "A;B"],
        );
        assert_eq!(results[0].kind, OutcomeKind::Created);
        assert_eq!(results[0].subject, "A-ID → B-ID");
        assert_eq!(
            results[1].message,
            "`master`: course not found: no course with idnumber = A"
        );
        let row = format!("{};{}", f.courses[0].id, f.courses[1].id);
        let results = f.run_with(
            &[("course_key", "id")],
            "master;meta;cmd",
            &[&format!("{row};del")],
        );
        assert_eq!(results[0].kind, OutcomeKind::Deleted);
    }

    #[test]
    fn master_and_meta_are_required() {
        let refusal = Runner::new(Metacourse)
            .run(
                &mut MemoryStore::new(),
                &["master", "cmd"],
                &[&["A", "add"]],
            )
            .unwrap_err();
        assert!(matches!(refusal, Refusal::Header(_)));
        assert!(
            refusal.reason().contains("`meta` is missing"),
            "{}",
            refusal.reason()
        );
    }
}
