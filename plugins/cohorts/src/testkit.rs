//! The unit tests' world, shared by both processors: a category, two courses, accounts (one
//! soft-deleted), and a runner that checks that a failed row writes nothing and that the store
//! keeps the model's invariants after every run.

use toolsync_plugin_api::model::check::check_store;
use toolsync_plugin_api::model::{
    Categories, Cohort, CohortKey, Cohorts, Course, Courses, Enrolments, GroupKey, Groups, Roles,
    User, UserEnrolment, Users,
};
use toolsync_plugin_api::testing::{MemoryStore, Report, RowResult, Runner};
use toolsync_plugin_api::{Processor, Txn};

/// Category `Cat` (idnumber CAT); courses A and B; accounts ann (U1), bob (U2), cy (U3), and
/// dee (U4), soft-deleted.
pub struct World {
    pub store: MemoryStore,
    pub a: Course,
    pub b: Course,
    pub category: u64,
}

impl World {
    pub fn new() -> World {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let mut cat = Categories::create(&mut txn, 0, "Cat", true, 1).unwrap();
        cat.idnumber = "CAT".into();
        Categories::save(&mut txn, &mut cat).unwrap();
        let a = Courses::create(&mut txn, Course::new("A", "A", cat.id, 1)).unwrap();
        let b = Courses::create(&mut txn, Course::new("B", "B", cat.id, 1)).unwrap();
        for (i, name) in ["ann", "bob", "cy", "dee"].iter().enumerate() {
            let mut user = User::new(name, name, "Test", 1);
            user.idnumber = format!("U{}", i + 1);
            let mut user = Users::create(&mut txn, user).unwrap();
            if *name == "dee" {
                Users::soft_delete(&mut txn, &mut user, 1).unwrap();
            }
        }
        drop(txn);
        World {
            store,
            a,
            b,
            category: cat.id,
        }
    }

    /// Runs `rows` (cells separated by `;`) under `header` with the options set; the store
    /// passes `toolsync check` after.
    pub fn run<P: Processor>(
        &mut self,
        processor: P,
        options: &[(&str, &str)],
        header: &str,
        rows: &[&str],
    ) -> Report {
        let report = runner(processor, options)
            .run_lines(&mut self.store, header, rows, ';')
            .expect("not refused");
        let findings = check_store(&self.store.read()).unwrap();
        assert!(findings.is_clean(), "{:#?}", findings.problems);
        report
    }

    /// One row's result.
    pub fn row<P: Processor>(
        &mut self,
        processor: P,
        options: &[(&str, &str)],
        header: &str,
        row: &str,
    ) -> RowResult {
        self.run(processor, options, header, &[row]).rows.remove(0)
    }

    /// One row that must fail and leave the store as it was; its reason.
    pub fn failing<P: Processor>(
        &mut self,
        processor: P,
        options: &[(&str, &str)],
        header: &str,
        row: &str,
    ) -> String {
        runner(processor, options)
            .run_failing_line(&mut self.store, header, row, ';')
            .message
    }

    pub fn cohort(&self, name: &str) -> Option<Cohort> {
        Cohorts::find(&self.store.read(), CohortKey::Name, name).unwrap()
    }

    /// The usernames of a cohort's members, sorted.
    pub fn members(&self, name: &str) -> Vec<String> {
        let read = self.store.read();
        let cohort = self.cohort(name).expect("the cohort exists");
        let mut names: Vec<String> = Cohorts::members(&read, cohort.id)
            .unwrap()
            .into_iter()
            .map(|id| username(&read, id))
            .collect();
        names.sort();
        names
    }

    /// (username, active, start, end) of the course's enrolments, sorted.
    pub fn enrolled(&self, course: &Course) -> Vec<(String, bool, i64, i64)> {
        let read = self.store.read();
        let mut found: Vec<_> = Enrolments::enrolments(&read, course.id)
            .unwrap()
            .into_iter()
            .map(|e: UserEnrolment| (username(&read, e.user), e.active, e.timestart, e.timeend))
            .collect();
        found.sort();
        found
    }

    /// The usernames in a course's group, sorted; `None` without such a group.
    pub fn group_members(&self, course: &Course, name: &str) -> Option<Vec<String>> {
        let read = self.store.read();
        let group = Groups::find_group(&read, course.id, GroupKey::Name, name).unwrap()?;
        let mut names: Vec<String> = Groups::members(&read, &group)
            .unwrap()
            .into_iter()
            .map(|id| username(&read, id))
            .collect();
        names.sort();
        Some(names)
    }

    /// A direct write, for a test's starting point.
    pub fn txn(&mut self) -> Txn<'_> {
        self.store.txn()
    }
}

fn username(read: &impl toolsync_plugin_api::StoreRead, id: u64) -> String {
    Users::get(read, id).unwrap().unwrap().username
}

/// A runner of `processor` with the options set, started at a fixed instant.
fn runner<P: Processor>(processor: P, options: &[(&str, &str)]) -> Runner {
    options
        .iter()
        .fold(Runner::new(processor), |r, (k, v)| r.option(k, v))
        .started_at(1_000)
}
