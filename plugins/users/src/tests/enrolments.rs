//! The enrolment columns (formats.md §3.6): each n independent, defaults (manual, student, the
//! run's start), groups created and joined, and the account and its enrolments committed
//! together or not at all.

use toolsync_plugin_api::model::{
    Categories, Course, Courses, Enrolments, GroupKey, Groups, Method, Roles, Users,
};
use toolsync_plugin_api::OutcomeKind;

use super::{World, T0};

/// Courses A and B (B has a disabled self method).
fn world() -> (World, Course, Course) {
    let mut w = World::new();
    let mut txn = w.store.txn();
    Roles::seed_standard(&mut txn).unwrap();
    let cat = Categories::create(&mut txn, 0, "Cat", true, 1).unwrap().id;
    let a = Courses::create(&mut txn, Course::new("A", "A", cat, 1)).unwrap();
    let b = Courses::create(&mut txn, Course::new("B", "B", cat, 1)).unwrap();
    let mut own = Enrolments::ensure_instance(&mut txn, &b, Method::SelfEnrol, 1).unwrap();
    own.enabled = false;
    Enrolments::save_instance(&mut txn, &own, 1).unwrap();
    drop(txn);
    (w, a, b)
}

/// (method, active, start, end, roles) of an account's enrolments in a course.
fn held(w: &World, username: &str, course: &Course) -> Vec<(Method, i64, i64, Vec<String>)> {
    let txn = w.store.read();
    let user = Users::by_username(&txn, username).unwrap().unwrap().id;
    let mut roles: Vec<String> = Enrolments::assignments_of(&txn, course.id, user)
        .unwrap()
        .iter()
        .map(|a| Roles::get(&txn, a.role).unwrap().unwrap().shortname)
        .collect();
    roles.sort();
    Enrolments::enrolments_of(&txn, course.id, user)
        .unwrap()
        .iter()
        .map(|e| {
            let method = Enrolments::instance(&txn, course.id, e.instance)
                .unwrap()
                .unwrap()
                .method;
            (method, e.timestart, e.timeend, roles.clone())
        })
        .collect()
}

const HEADER: &str =
    "username;firstname;lastname;course1;role1;enrol1;start1;end1;group1;course2;role2";

#[test]
fn each_course_column_enrols_with_its_defaults_and_group() {
    let (mut w, a, b) = world();
    let r = w.row(&[], HEADER, "ann;A;N;A;;;;;Red;;");
    assert_eq!(r.kind, OutcomeKind::Created, "{r:?}");
    assert!(
        r.message.contains("enrolled in A (student)"),
        "{}",
        r.message
    );
    assert!(r.message.contains("group A/Red created"), "{}", r.message);
    assert_eq!(
        held(&w, "ann", &a),
        vec![(Method::Manual, T0, 0, vec!["student".to_string()])]
    );
    let txn = w.store.read();
    let red = Groups::find_group(&txn, a.id, GroupKey::Name, "Red")
        .unwrap()
        .unwrap();
    let ann = Users::by_username(&txn, "ann").unwrap().unwrap().id;
    assert!(Groups::is_member(&txn, &red, ann).unwrap());
    drop(txn);
    // Already enrolled: a role added, dates applied; n = 2 is independent of n = 1.
    let r = w.row(
        &[],
        HEADER,
        "ann;A;N;A;teacher;manual;2026-09-01;2027-07-01;Red;B;",
    );
    assert_eq!(r.kind, OutcomeKind::Unchanged, "the account itself: {r:?}");
    assert!(
        r.message.contains("enrolment in A updated"),
        "{}",
        r.message
    );
    assert_eq!(
        held(&w, "ann", &a),
        vec![(
            Method::Manual,
            1_788_220_800,
            1_814_400_000,
            vec!["student".to_string(), "teacher".to_string()]
        )]
    );
    assert_eq!(held(&w, "ann", &b).len(), 1, "course2 = B, manual created");
    // The same row again changes nothing.
    let r = w.row(
        &[],
        HEADER,
        "ann;A;N;A;teacher;manual;2026-09-01;2027-07-01;Red;B;",
    );
    assert_eq!(r.kind, OutcomeKind::Unchanged);
    assert_eq!(r.message, "", "{r:?}");
}

#[test]
fn a_failing_enrolment_fails_the_row_and_the_account_with_it() {
    let (mut w, _, _) = world();
    let cases = [
        ("bob;B;O;Z;;;;;;;", "`course1`: course not found: no course with shortname = Z"),
        ("bob;B;O;A;boss;;;;;;", "`role1`: no role with shortname = boss"),
        ("bob;B;O;B;;self;;;;;", "`course1`: the `self` method of course `B` is disabled (option use_disabled_instances allows it)"),
        ("bob;B;O;A;;;;;;Z;", "`course2`: course not found: no course with shortname = Z"),
    ];
    for (row, reason) in cases {
        let before = w.store.clone();
        let r = w.row(&[], HEADER, row);
        assert_eq!(r.kind, OutcomeKind::Failed, "{row}");
        assert_eq!(r.message, reason, "{row}");
        assert!(
            w.store == before,
            "{row}: the account was created without its enrolments"
        );
    }
    assert!(Users::by_username(&w.store.read(), "bob")
        .unwrap()
        .is_none());
}

#[test]
fn a_suspended_enrolment_stays_suspended_and_a_deleted_row_enrols_nothing() {
    let (mut w, a, _) = world();
    w.row(&[], HEADER, "cy;C;Y;A;;;;;;;");
    {
        let mut txn = w.store.txn();
        let manual = Enrolments::instance_of(&txn, a.id, Method::Manual)
            .unwrap()
            .unwrap();
        let cy = Users::by_username(&txn, "cy").unwrap().unwrap().id;
        Enrolments::set_status(&mut txn, &manual, cy, false, Default::default(), 1).unwrap();
    }
    w.row(&[], HEADER, "cy;C;Y;A;;;;;;;");
    let txn = w.store.read();
    let cy = Users::by_username(&txn, "cy").unwrap().unwrap().id;
    assert!(!Enrolments::enrolments_of(&txn, a.id, cy).unwrap()[0].active);
    drop(txn);
    let r = w.row(&[], &format!("{HEADER};deleted"), "cy;C;Y;A;;;;;;;;1");
    assert_eq!(r.kind, OutcomeKind::Deleted);
    assert!(
        held(&w, "cy", &a).is_empty(),
        "deleted: its enrolments went"
    );
}
