//! The unit tests' world, shared by both processors: two courses and accounts that do and do
//! not take part in them, and a runner that checks that a failed row writes nothing.

use toolsync_plugin_api::model::{
    Categories, Course, Courses, Enrolments, Group, GroupKey, Grouping, Groups, Method, Roles,
    User, Users,
};
use toolsync_plugin_api::testing::{MemoryStore, Report, RowResult, Runner};
use toolsync_plugin_api::{Processor, Txn};

/// Courses A (idnumber A-ID) and B (B-ID); accounts:
/// - ann (U1): editing teacher in A, through its manual method;
/// - bob (U2): student in A and in B;
/// - cid (U3): takes part in no course;
/// - dee (no idnumber): holds the student role in A without an enrolment;
/// - eve (U5): student in A, then soft-deleted.
pub struct World {
    pub store: MemoryStore,
    pub a: Course,
    pub b: Course,
}

impl World {
    pub fn new() -> World {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "Cat", true, 1).unwrap().id;
        let course = |txn: &mut Txn<'_>, name: &str| {
            let mut course = Course::new(name, name, cat, 1);
            course.idnumber = format!("{name}-ID");
            Courses::create(txn, course).unwrap()
        };
        let (a, b) = (course(&mut txn, "A"), course(&mut txn, "B"));
        let account = |txn: &mut Txn<'_>, username: &str, idnumber: &str| {
            let mut user = User::new(username, username, "Test", 1);
            user.idnumber = idnumber.to_string();
            Users::create(txn, user).unwrap()
        };
        let ann = account(&mut txn, "ann", "U1");
        let bob = account(&mut txn, "bob", "U2");
        account(&mut txn, "cid", "U3");
        let dee = account(&mut txn, "dee", "");
        let mut eve = account(&mut txn, "eve", "U5");
        let role = |txn: &Txn<'_>, name: &str| Roles::by_shortname(txn, name).unwrap().unwrap().id;
        let (teacher, student) = (role(&txn, "editingteacher"), role(&txn, "student"));
        let manual_a = Enrolments::ensure_instance(&mut txn, &a, Method::Manual, 1).unwrap();
        let manual_b = Enrolments::ensure_instance(&mut txn, &b, Method::Manual, 1).unwrap();
        Enrolments::enrol(&mut txn, &manual_a, ann.id, &[teacher], 1).unwrap();
        Enrolments::enrol(&mut txn, &manual_a, bob.id, &[student], 1).unwrap();
        Enrolments::enrol(&mut txn, &manual_b, bob.id, &[student], 1).unwrap();
        Enrolments::enrol(&mut txn, &manual_a, eve.id, &[student], 1).unwrap();
        Enrolments::assign(&mut txn, a.id, dee.id, student, 1).unwrap();
        Users::soft_delete(&mut txn, &mut eve, 2).unwrap();
        drop(txn);
        World { store, a, b }
    }

    /// Runs `rows` (cells separated by `;`) under `header` with the options set.
    pub fn run<P: Processor>(
        &mut self,
        processor: P,
        options: &[(&str, &str)],
        header: &str,
        rows: &[&str],
    ) -> Report {
        runner(processor, options)
            .run_lines(&mut self.store, header, rows, ';')
            .expect("not refused")
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

    /// One row that must fail and leave the store as it was; its result.
    pub fn failing<P: Processor>(
        &mut self,
        processor: P,
        options: &[(&str, &str)],
        header: &str,
        row: &str,
    ) -> RowResult {
        runner(processor, options).run_failing_line(&mut self.store, header, row, ';')
    }

    pub fn group(&self, course: &Course, name: &str) -> Option<Group> {
        Groups::find_group(&self.store.read(), course.id, GroupKey::Name, name).unwrap()
    }

    pub fn grouping(&self, course: &Course, name: &str) -> Option<Grouping> {
        Groups::find_grouping(&self.store.read(), course.id, GroupKey::Name, name).unwrap()
    }

    /// The names of a course's groups, in id order.
    pub fn group_names(&self, course: &Course) -> Vec<String> {
        Groups::groups(&self.store.read(), course.id)
            .unwrap()
            .into_iter()
            .map(|g| g.name)
            .collect()
    }

    pub fn grouping_names(&self, course: &Course) -> Vec<String> {
        Groups::groupings(&self.store.read(), course.id)
            .unwrap()
            .into_iter()
            .map(|g| g.name)
            .collect()
    }

    /// The names of the groups a grouping holds.
    pub fn bound(&self, course: &Course, grouping: &str) -> Vec<String> {
        let read = self.store.read();
        let grouping = self
            .grouping(course, grouping)
            .expect("the grouping exists");
        let ids = Groups::bound(&read, &grouping).unwrap();
        Groups::groups(&read, course.id)
            .unwrap()
            .into_iter()
            .filter(|g| ids.contains(&g.id))
            .map(|g| g.name)
            .collect()
    }

    /// The usernames of a group's members, sorted.
    pub fn members(&self, course: &Course, group: &str) -> Vec<String> {
        let read = self.store.read();
        let group = self.group(course, group).expect("the group exists");
        let mut names: Vec<String> = Groups::members(&read, &group)
            .unwrap()
            .into_iter()
            .map(|id| Users::get(&read, id).unwrap().unwrap().username)
            .collect();
        names.sort();
        names
    }

    /// Creates groups directly (names, idnumbers) in a course, for a test's starting point.
    pub fn with_groups(&mut self, course: &Course, groups: &[(&str, &str)]) {
        let mut txn = self.store.txn();
        for (name, idnumber) in groups {
            Groups::create_group(&mut txn, course, name, idnumber, 1).unwrap();
        }
    }
}

/// A runner of `processor` with the options set.
fn runner<P: Processor>(processor: P, options: &[(&str, &str)]) -> Runner {
    options
        .iter()
        .fold(Runner::new(processor), |r, (k, v)| r.option(k, v))
}
