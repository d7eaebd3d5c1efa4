//! cohorts (formats.md §3.11): every command, option and failure.

use toolsync_plugin_api::model::{BindingSpec, Cohorts, Roles};
use toolsync_plugin_api::testing::{Refusal, Runner};
use toolsync_plugin_api::OutcomeKind::{self, Created, Deleted, Unchanged, Updated};

use super::CohortsProcessor as P;
use crate::testkit::World;

const HEADER: &str =
    "cmd;cidnumber;cname;cdescription;ccatcontext;ccatcontextidnumber;component;userid";

fn kinds(w: &mut World, options: &[(&str, &str)], rows: &[&str]) -> Vec<(OutcomeKind, String)> {
    w.run(P, options, HEADER, rows)
        .rows
        .into_iter()
        .map(|r| (r.kind, r.message))
        .collect()
}

#[test]
fn add_creates_updates_and_adds_members() {
    let mut w = World::new();
    let done = kinds(
        &mut w,
        &[],
        &[
            "add;3A;Class 3A;Third year;;CAT;erp;",
            ";3A;Class 3A;Third year;;;erp;U1",
            ";3A;;;;;;U1",
            "add;3A;Class 3A bis;New;;;;U2",
        ],
    );
    assert_eq!(done[0].0, Created);
    assert_eq!(done[1], (Created, "ann joined".to_string()));
    assert_eq!(done[2], (Unchanged, "already a member".to_string()));
    assert_eq!(done[3].0, Created, "{:?}", done[3]);
    assert!(
        done[3].1.contains("name: Class 3A → Class 3A bis"),
        "{}",
        done[3].1
    );
    assert!(done[3].1.contains("bob joined"));
    let cohort = w.cohort("Class 3A bis").unwrap();
    assert_eq!(
        (
            cohort.idnumber.as_str(),
            cohort.description.as_str(),
            cohort.component.as_str()
        ),
        ("3A", "New", "erp")
    );
    assert_eq!(cohort.category, w.category);
    assert_eq!(w.members("Class 3A bis"), ["ann", "bob"]);
    let same = kinds(&mut w, &[], &["add;3A;Class 3A bis;New;;;erp;"]);
    assert_eq!(same[0].0, Unchanged);
    let line = format!("add;3A;;;{};;;", w.category);
    let by_id = kinds(&mut w, &[], &[&line]);
    assert_eq!(
        by_id[0].0, Unchanged,
        "the category given by id is the same"
    );
}

#[test]
fn membership_changes_reach_the_bound_courses_with_counts() {
    let mut w = World::new();
    w.row(P, &[], HEADER, "add;3A;Class 3A;;;;;");
    let (a, b) = (w.a.clone(), w.b.clone());
    {
        let mut txn = w.txn();
        let cohort = Cohorts::find(&txn, toolsync_plugin_api::model::CohortKey::Idnumber, "3A")
            .unwrap()
            .unwrap();
        let student = Roles::by_shortname(&txn, "student").unwrap().unwrap().id;
        for course in [&a, &b] {
            Cohorts::bind(
                &mut txn,
                &cohort,
                course,
                student,
                &BindingSpec::default(),
                1,
            )
            .unwrap();
        }
    }
    let joined = w.row(P, &[], HEADER, "add;3A;;;;;;U1");
    assert_eq!(joined.message, "ann joined; 2 enrolments made");
    assert_eq!(w.enrolled(&a), [("ann".to_string(), true, 0, 0)]);
    let left = w.row(P, &[], HEADER, "del;3A;;;;;;U1");
    assert_eq!(
        (left.kind, left.message.as_str()),
        (Deleted, "ann left; 2 enrolments removed")
    );
    assert!(w.enrolled(&b).is_empty());
    w.run(P, &[], HEADER, &["add;3A;;;;;;U1", "add;3A;;;;;;U2"]);
    let freed = w.row(P, &[], HEADER, "free;3A;;;;;;");
    assert_eq!(
        (freed.kind, freed.message.as_str()),
        (Updated, "2 members removed; 4 enrolments removed")
    );
    assert_eq!(w.row(P, &[], HEADER, "free;3A;;;;;;").kind, Unchanged);
}

#[test]
fn del_removes_a_member_or_the_cohort_never_by_accident() {
    let mut w = World::new();
    w.run(
        P,
        &[],
        HEADER,
        &["add;3A;Class 3A;;;;;U1", "add;3A;;;;;;U2"],
    );
    assert_eq!(w.row(P, &[], HEADER, "del;3A;;;;;;U2").kind, Deleted);
    assert_eq!(w.row(P, &[], HEADER, "del;3A;;;;;;U2").kind, Unchanged);
    // An unknown or deleted account fails, and the cohort stays.
    assert_eq!(
        w.failing(P, &[], HEADER, "del;3A;;;;;;U99"),
        "no user with idnumber = U99"
    );
    assert!(w
        .failing(P, &[], HEADER, "del;3A;;;;;;U4")
        .contains("account deleted"));
    assert_eq!(w.members("Class 3A"), ["ann"]);
    // Without a user: the cohort, unless switched off.
    let off = [("allow_cohort_delete", "false")];
    assert!(w
        .failing(P, &off, HEADER, "del;3A;;;;;;")
        .contains("allow_cohort_delete is off"));
    let gone = w.run(P, &[], "cmd;cidnumber", &["del;3A"]).rows.remove(0);
    assert_eq!(gone.kind, Deleted);
    assert_eq!(
        gone.message,
        "cohort `Class 3A` deleted with 1 member and 0 course bindings"
    );
    assert!(w.cohort("Class 3A").is_none());
    assert_eq!(
        w.failing(P, &[], HEADER, "del;3A;;;;;;"),
        "no cohort with idnumber = 3A"
    );
}

#[test]
fn free_takes_no_user() {
    let mut w = World::new();
    w.row(P, &[], HEADER, "add;3A;Class 3A;;;;;U1");
    assert!(w
        .failing(P, &[], HEADER, "free;3A;;;;;;U1")
        .contains("leave `userid` empty"));
}

#[test]
fn creation_needs_autocreate_a_name_and_free_keys() {
    let mut w = World::new();
    let no = [("autocreate", "false")];
    assert_eq!(
        w.failing(P, &no, HEADER, "add;3A;Class 3A;;;;;"),
        "no cohort with idnumber = 3A (autocreate is off)"
    );
    assert_eq!(
        w.failing(P, &[], HEADER, "add;3A;;;;;;"),
        "missing `cname`: a new cohort needs a name"
    );
    w.row(P, &[], HEADER, "add;3A;Class 3A;;;;;");
    assert_eq!(
        w.failing(P, &[], HEADER, "add;3B;Class 3A;;;;;"),
        "name `Class 3A` belongs to another cohort (id 1)"
    );
    // An unknown member fails the row before the cohort is created.
    assert_eq!(
        w.failing(P, &[], HEADER, "add;3C;Class 3C;;;;;nobody"),
        "no user with idnumber = nobody"
    );
    assert!(w.cohort("Class 3C").is_none());
    assert_eq!(
        w.failing(P, &[], HEADER, "add;3C;Class 3C;;1;CAT;;"),
        "give the category by `ccatcontext` or `ccatcontextidnumber`, not both"
    );
    assert_eq!(
        w.failing(P, &[], HEADER, "add;3C;Class 3C;;;NOPE;;"),
        "`ccatcontextidnumber`: no category with idnumber = NOPE"
    );
    assert_eq!(
        w.failing(P, &[], HEADER, "add;3C;Class 3C;;99;;;"),
        "`ccatcontext`: no category with id = 99"
    );
    assert_eq!(
        w.failing(P, &[], HEADER, "add;;Class 3C;;;;;"),
        "missing `cidnumber`"
    );
}

#[test]
fn the_key_option_picks_the_column_and_cid_must_agree() {
    let mut w = World::new();
    w.row(P, &[], HEADER, "add;3A;Class 3A;;;;;");
    let by_name = [("cohort_key", "name")];
    // By name: the idnumber is a field to set.
    let renamed = w.row(P, &by_name, "cname;cidnumber", "Class 3A;3A-2024");
    assert_eq!(renamed.kind, Updated);
    assert_eq!(w.cohort("Class 3A").unwrap().idnumber, "3A-2024");
    let by_id = [("cohort_key", "id")];
    assert_eq!(w.row(P, &by_id, "cid;userid", "1;U1").kind, Created);
    assert_eq!(
        w.failing(P, &by_id, "cid;cname", "7;Class 7"),
        "no cohort with id = 7 (cohort_key = id never creates)"
    );
    assert_eq!(
        w.failing(P, &[], "cid;cidnumber;userid", "5;3A-2024;U2"),
        "`cid` 5 is not the id of cohort `Class 3A` (its id is 1)"
    );
    assert_eq!(
        w.row(P, &[], "cid;cidnumber;userid", "1;3A-2024;U2").kind,
        Created
    );
    let refused = Runner::new(P)
        .option("cohort_key", "name")
        .run(&mut w.store, &["cidnumber", "userid"], &[&["3A", "U1"]])
        .unwrap_err();
    assert!(matches!(refused, Refusal::Start(_)));
    assert_eq!(
        refused.reason(),
        "`cname` is required because cohort_key = name"
    );
}

#[test]
fn empty_cells_keep_values_unless_empty_clears() {
    let mut w = World::new();
    w.row(P, &[], HEADER, "add;3A;Class 3A;About;;;erp;");
    assert_eq!(w.row(P, &[], HEADER, "add;3A;;;;;;").kind, Unchanged);
    let clears = [("empty_clears", "true")];
    let cleared = w.row(P, &clears, HEADER, "add;3A;;;;;;");
    assert_eq!(cleared.kind, Updated);
    let cohort = w.cohort("Class 3A").unwrap();
    assert_eq!(
        (cohort.description.as_str(), cohort.component.as_str()),
        ("", "")
    );
    assert_eq!(cohort.idnumber, "3A", "the key is never cleared");
}

/// A member joining a cohort bound to 200 courses is enrolled in the 200 in that row, and the
/// row says so; leaving takes the 200 back.
#[test]
fn joining_a_cohort_bound_to_200_courses_enrols_in_each_in_one_row() {
    use toolsync_plugin_api::model::{CohortKey, Course, Courses, Enrolments};
    let mut w = World::new();
    w.row(P, &[], HEADER, "add;3A;Class 3A;;;;;");
    let category = w.category;
    let courses: Vec<Course> = {
        let mut txn = w.txn();
        let cohort = Cohorts::find(&txn, CohortKey::Idnumber, "3A")
            .unwrap()
            .unwrap();
        let student = Roles::by_shortname(&txn, "student").unwrap().unwrap().id;
        (0..200)
            .map(|i| {
                let name = format!("C{i}");
                let course =
                    Courses::create(&mut txn, Course::new(&name, &name, category, 1)).unwrap();
                Cohorts::bind(
                    &mut txn,
                    &cohort,
                    &course,
                    student,
                    &BindingSpec::default(),
                    1,
                )
                .unwrap();
                course
            })
            .collect()
    };
    let joined = w.row(P, &[], HEADER, "add;3A;;;;;;U1");
    assert_eq!(
        (joined.kind, joined.message.as_str()),
        (Created, "ann joined; 200 enrolments made")
    );
    let enrolled = |w: &World| {
        courses
            .iter()
            .filter(|c| {
                !Enrolments::enrolments(&w.store.read(), c.id)
                    .unwrap()
                    .is_empty()
            })
            .count()
    };
    assert_eq!(enrolled(&w), 200);
    let left = w.row(P, &[], HEADER, "del;3A;;;;;;U1");
    assert_eq!(left.message, "ann left; 200 enrolments removed");
    assert_eq!(enrolled(&w), 0);
}

/// The brake: `del` and `free` rows that would remove more than `max_delete_ratio` of the
/// cohort memberships (from `max_delete_min` on) refuse the file before any row.
#[test]
fn mass_removals_are_refused_unless_forced() {
    let mut w = World::new();
    // Four memberships: ann, bob, cy in 3A; ann in 3B.
    w.run(
        P,
        &[],
        HEADER,
        &[
            "add;3A;Class 3A;;;;;U1",
            "add;3A;;;;;;U2",
            "add;3A;;;;;;U3",
            "add;3B;Class 3B;;;;;U1",
        ],
    );
    // free 3A removes three of the four (the member named by a `del` too counts once).
    let rows = ["free;3A;;;;;;", "del;3A;;;;;;U1"];
    let refused =
        Runner::new(P)
            .option("max_delete_min", "2")
            .run_lines(&mut w.store, HEADER, &rows, ';');
    let why = Refusal::expect_survey(refused);
    assert!(
        why.contains("would remove 3 of the 4 cohort memberships"),
        "{why}"
    );
    assert_eq!(w.members("Class 3A").len(), 3, "nothing applied");
    let forced = Runner::new(P)
        .option("max_delete_min", "2")
        .force()
        .run_lines(&mut w.store, HEADER, &rows, ';')
        .expect("forced through");
    assert!(forced.warnings[0].starts_with("--force: removing 3 of 4 cohort memberships"));
    assert!(w.members("Class 3A").is_empty());
}
