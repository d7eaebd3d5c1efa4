//! cohort-courses (formats.md §3.12): every command, option and failure.

use toolsync_plugin_api::model::{Enrolments, Method, Roles, UserKey, Users};
use toolsync_plugin_api::OutcomeKind::{Created, Deleted, Unchanged, Updated};

use super::CohortCourses as P;
use crate::cohorts::CohortsProcessor;
use crate::testkit::World;

const HEADER: &str = "cohort;course;cmd;role;enrol;enrolstart;enrolend;makegroup";

/// Cohort 3A (Class 3A) with ann and bob.
fn world() -> World {
    let mut w = World::new();
    w.run(
        CohortsProcessor,
        &[],
        "cidnumber;cname;userid",
        &["3A;Class 3A;U1", "3A;Class 3A;U2"],
    );
    w
}

fn row(u: &str, active: bool, start: i64, end: i64) -> (String, bool, i64, i64) {
    (u.to_string(), active, start, end)
}

#[test]
fn add_binds_the_members_and_keeps_them_in_step() {
    let mut w = world();
    let a = w.a.clone();
    let made = w.row(P, &[], HEADER, "3A;A;;;;2025-09-01;2026-07-01;1");
    assert_eq!(made.kind, Created);
    assert_eq!(
        made.message,
        "members grouped in `Class 3A`; 2 enrolments made"
    );
    let (start, end) = (1_756_684_800, 1_782_864_000);
    assert_eq!(
        w.enrolled(&a),
        [row("ann", true, start, end), row("bob", true, start, end)]
    );
    assert_eq!(w.group_members(&a, "Class 3A").unwrap(), ["ann", "bob"]);
    assert_eq!(
        w.row(P, &[], HEADER, "3A;A;add;student;cohort;;;").kind,
        Unchanged
    );
    // A member joining later is enrolled; leaving, unenrolled.
    let joined = w.row(CohortsProcessor, &[], "cidnumber;userid", "3A;U3");
    assert_eq!(joined.message, "cy joined; 1 enrolment made");
    assert_eq!(
        w.group_members(&a, "Class 3A").unwrap(),
        ["ann", "bob", "cy"]
    );
    w.row(CohortsProcessor, &[], "cmd;cidnumber;userid", "del;3A;U1");
    assert_eq!(w.group_members(&a, "Class 3A").unwrap(), ["bob", "cy"]);
    // New dates reach every enrolment of the binding.
    let moved = w.row(P, &[], HEADER, "3A;A;;;;;0;");
    assert_eq!(
        (moved.kind, moved.message.as_str()),
        (Updated, "2 enrolments updated")
    );
    assert_eq!(
        w.enrolled(&a),
        [row("bob", true, start, 0), row("cy", true, start, 0)]
    );
    // A second role is a second binding.
    let teachers = w.row(P, &[], HEADER, "3A;A;add;teacher;;;;");
    assert_eq!(teachers.kind, Created);
    assert_eq!(w.enrolled(&a).len(), 4);
}

#[test]
fn del_suspends_restore_reactivates_fulldel_removes_and_keeps_the_group() {
    let mut w = world();
    let a = w.a.clone();
    w.run(P, &[], HEADER, &["3A;A;;;;;;1", "3A;A;;teacher;;;;"]);
    let off = w.row(P, &[], HEADER, "3A;A;del;*;;;;");
    assert_eq!(
        (off.kind, off.message.as_str()),
        (Updated, "2 bindings disabled; 4 enrolments updated")
    );
    assert!(w.enrolled(&a).iter().all(|e| !e.1), "suspended");
    assert_eq!(w.row(P, &[], HEADER, "3A;A;del;;;;;").kind, Unchanged);
    // Disabled: a new member is not enrolled; restore enrols them.
    w.row(CohortsProcessor, &[], "cidnumber;userid", "3A;U3");
    assert_eq!(w.enrolled(&a).len(), 4);
    let on = w.row(P, &[], HEADER, "3A;A;restore;student;;;;");
    assert_eq!(
        (on.kind, on.message.as_str()),
        (Updated, "1 binding re-enabled; 1 enrolment made, 2 updated")
    );
    assert_eq!(
        w.row(P, &[], HEADER, "3A;A;restore;student;;;;").kind,
        Unchanged
    );
    // add re-enables a disabled binding.
    let again = w.row(P, &[], HEADER, "3A;A;add;teacher;;;;");
    assert_eq!(again.kind, Updated);
    assert!(again.message.starts_with("re-enabled"), "{}", again.message);
    // A manual enrolment of a member survives the binding's removal.
    {
        let mut txn = w.txn();
        let manual = Enrolments::ensure_instance(&mut txn, &a, Method::Manual, 1).unwrap();
        let bob = Users::find(&txn, UserKey::Username, "bob").unwrap()[0].id;
        let student = Roles::by_shortname(&txn, "student").unwrap().unwrap().id;
        Enrolments::enrol(&mut txn, &manual, bob, &[student], 1).unwrap();
    }
    let gone = w.row(P, &[], HEADER, "3A;A;fulldel;*;;;;");
    assert_eq!(
        (gone.kind, gone.message.as_str()),
        (Deleted, "2 bindings removed; 6 enrolments removed")
    );
    assert_eq!(
        w.enrolled(&a),
        [row("bob", true, 0, 0)],
        "the manual enrolment stays"
    );
    assert_eq!(
        w.group_members(&a, "Class 3A").unwrap(),
        Vec::<String>::new(),
        "the group stays, empty"
    );
    assert_eq!(w.row(P, &[], HEADER, "3A;A;fulldel;*;;;;").kind, Unchanged);
}

#[test]
fn failures() {
    let mut w = world();
    assert_eq!(
        w.failing(P, &[], HEADER, "3B;A;;;;;;"),
        "no cohort with idnumber = 3B"
    );
    assert_eq!(
        w.failing(P, &[], HEADER, "3A;Z;;;;;;"),
        "course not found: no course with shortname = Z"
    );
    assert_eq!(
        w.failing(P, &[], HEADER, "3A;A;;dean;;;;"),
        "`role`: no role with shortname = dean"
    );
    assert!(w
        .failing(P, &[], HEADER, "3A;A;add;*;;;;")
        .contains("not for `add`"));
    assert!(w
        .failing(P, &[], HEADER, "3A;A;;;manual;;;")
        .contains("enrol"));
    assert!(w.failing(P, &[], HEADER, "3A;A;bind;;;;;").contains("cmd"));
    let by_name = [("cohort_key", "name"), ("role_key", "id")];
    let student = Roles::by_shortname(&w.store.read(), "student")
        .unwrap()
        .unwrap()
        .id
        .to_string();
    let made = w.row(
        P,
        &by_name,
        "cohort;course;role",
        &format!("Class 3A;A;{student}"),
    );
    assert_eq!(made.kind, Created);
}

/// The brake: `del` (enabled bindings) and `fulldel` rows that would take more than
/// `max_delete_ratio` of the bindings (from `max_delete_min` on) refuse the file before any
/// row; a binding already disabled is not counted by `del`.
#[test]
fn mass_unbinding_is_refused() {
    use toolsync_plugin_api::testing::{Refusal, Runner};
    let mut w = world();
    w.run(
        P,
        &[],
        HEADER,
        &["3A;A;;;;;;", "3A;A;;teacher;;;;", "3A;B;;;;;;"],
    );
    let refused = Runner::new(P).option("max_delete_min", "1").run_lines(
        &mut w.store,
        HEADER,
        &["3A;A;del;*;;;;"],
        ';',
    );
    let why = Refusal::expect_survey(refused);
    assert!(
        why.contains("would remove 2 of the 3 cohort bindings"),
        "{why}"
    );
    // One binding of three is within the ratio.
    let report = w.run(
        P,
        &[("max_delete_min", "1")],
        HEADER,
        &["3A;B;fulldel;;;;;"],
    );
    assert_eq!(report.kinds(), vec![Deleted]);
    // Disabled first (under the minimum), then gone: `fulldel` counts them, `del` does not.
    w.run(P, &[], HEADER, &["3A;A;del;*;;;;"]);
    let report = w.run(P, &[("max_delete_min", "1")], HEADER, &["3A;A;del;*;;;;"]);
    assert_eq!(report.kinds(), vec![Unchanged]);
    let refused = Runner::new(P).option("max_delete_min", "1").run_lines(
        &mut w.store,
        HEADER,
        &["3A;A;fulldel;*;;;;"],
        ';',
    );
    assert!(matches!(refused, Err(Refusal::Survey(_))), "{refused:?}");
}
