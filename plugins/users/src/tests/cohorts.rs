//! The cohort columns (formats.md §3.6): the account joins the cohort `cohort` names, created
//! if missing with `cohortid` as its idnumber, in the account's transaction, and through the
//! cohort's bindings is enrolled in its courses in the same row.

use toolsync_plugin_api::model::{
    BindingSpec, Categories, Cohort, CohortKey, Cohorts, Course, Courses, Enrolments, Roles,
};
use toolsync_plugin_api::OutcomeKind::{Created, Deleted, Failed, Unchanged, Updated};

use super::*;

const HEADER: &str = "username;firstname;lastname;cohort;cohortid";

fn cohort(w: &World, name: &str) -> Option<Cohort> {
    Cohorts::find(&w.store.read(), CohortKey::Name, name).unwrap()
}

/// The usernames of a cohort's members.
fn members(w: &World, name: &str) -> Vec<String> {
    let txn = w.store.read();
    let cohort = Cohorts::find(&txn, CohortKey::Name, name).unwrap().unwrap();
    Cohorts::members(&txn, cohort.id)
        .unwrap()
        .into_iter()
        .map(|id| Users::get(&txn, id).unwrap().unwrap().username)
        .collect()
}

/// A cohort made beforehand (by the cohorts processor, say).
fn given_cohort(w: &mut World, name: &str, idnumber: &str) -> Cohort {
    let mut txn = w.store.txn();
    let mut cohort = Cohort::new(name, 1);
    cohort.idnumber = idnumber.to_string();
    Cohorts::create(&mut txn, cohort).unwrap()
}

#[test]
fn a_missing_cohort_is_created_with_cohortid_as_its_idnumber() {
    let mut w = World::new();
    let row = w.row(&[], HEADER, "ann;Ann;A;3A;K3A");
    assert_kind(&row, Created);
    assert_eq!(
        row.message,
        "cohort `3A` created (idnumber `K3A`); joined cohort `3A`"
    );
    assert!(row.warnings.is_empty(), "{row:?}");
    let made = cohort(&w, "3A").expect("the cohort was created");
    assert_eq!(made.idnumber, "K3A");
    assert_eq!((made.category, made.timecreated), (0, T0), "site-wide");
    assert_eq!(
        Cohorts::find(&w.store.read(), CohortKey::Idnumber, "K3A").unwrap(),
        Some(made)
    );
    assert_eq!(members(&w, "3A"), vec!["ann"]);
    // Without cohortid: no idnumber.
    let row = w.row(&[], HEADER, "bob;Bob;B;3B;");
    assert_eq!(row.message, "cohort `3B` created; joined cohort `3B`");
    assert_eq!(cohort(&w, "3B").unwrap().idnumber, "");
    // An empty cohort (and cohortid) does nothing.
    let row = w.row(&[], HEADER, "cy;Cy;C;;");
    assert_kind(&row, Created);
    assert_eq!(row.message, "");
    assert_eq!(w.store.count("cohort"), 2);
}

#[test]
fn an_existing_cohort_is_found_by_name_and_joined() {
    let mut w = World::new();
    given_cohort(&mut w, "3A", "K3A");
    w.given("username;firstname;lastname", &["ann;Ann;A", "bob;Bob;B"]);
    // An existing account otherwise unchanged: joining is its change.
    let report = w.run(&[], HEADER, &["ann;Ann;A;3A;", "bob;Bob;B;3A;K3A"]);
    assert_eq!(report.kinds(), vec![Updated, Updated]);
    assert_eq!(report.rows[0].message, "joined cohort `3A`");
    assert!(
        report.rows[1].warnings.is_empty(),
        "same idnumber: no warning"
    );
    assert_eq!(members(&w, "3A"), vec!["ann", "bob"]);
    assert_eq!(w.store.count("cohort"), 1, "no cohort created");
    // A cohortid that differs from the cohort's idnumber is ignored, with a warning.
    let row = w.row(&[], HEADER, "cy;Cy;C;3A;K9");
    assert_kind(&row, Created);
    assert_eq!(row.message, "joined cohort `3A`");
    assert_eq!(
        row.warnings,
        vec!["cohort `3A` exists with idnumber `K3A`; cohortid `K9` ignored"]
    );
    assert_eq!(cohort(&w, "3A").unwrap().idnumber, "K3A", "left as it was");
    given_cohort(&mut w, "3B", "");
    let row = w.row(&[], HEADER, "ann;Ann;A;3B;K3B");
    assert_eq!(
        row.warnings,
        vec!["cohort `3B` exists with no idnumber; cohortid `K3B` ignored"]
    );
    assert_eq!(cohort(&w, "3B").unwrap().idnumber, "");
}

#[test]
fn an_account_already_a_member_is_unchanged() {
    let mut w = World::new();
    w.row(&[], HEADER, "ann;Ann;A;3A;K3A");
    let before = w.store.clone();
    let row = w.row(&[], HEADER, "ann;Ann;A;3A;K3A");
    assert_kind(&row, Unchanged);
    assert_eq!(row.message, "", "{row:?}");
    assert!(row.warnings.is_empty());
    assert!(w.store == before, "nothing written");
    // The account's own change, and nothing about the cohort.
    let row = w.row(&[], "username;city;cohort", "ann;Lyon;3A");
    assert_kind(&row, Updated);
    assert!(
        row.message.starts_with("city: ") && !row.message.contains("cohort"),
        "{row:?}"
    );
}

#[test]
fn cohortid_without_cohort_fails_the_row() {
    let mut w = World::new();
    for (header, row) in [
        (HEADER, "ann;Ann;A;;K1"),
        ("username;firstname;lastname;cohortid", "ann;Ann;A;K1"),
    ] {
        let before = w.store.clone();
        let result = w.row(&[], header, row);
        assert_eq!(result.kind, Failed, "{row}");
        assert_eq!(
            result.message,
            "`cohortid` `K1` needs a `cohort` (the name of the cohort to create)"
        );
        assert_eq!(result.subject, "ann");
        assert!(w.store == before, "{row}: the account was created");
    }
    // The same file with an empty cohortid is fine.
    assert_kind(
        &w.row(&[], "username;firstname;lastname;cohortid", "ann;Ann;A;"),
        Created,
    );
}

/// A failure after the account was created or changed — the cohort refused, or an enrolment
/// column after the cohort joined — fails the row: nothing of it is stored.
#[test]
fn a_cohortid_of_another_cohort_fails_the_row_and_nothing_of_it_is_stored() {
    let mut w = World::new();
    given_cohort(&mut w, "Other", "K1");
    w.given("username;firstname;lastname", &["bob;Bob;B"]);
    let before = w.store.clone();
    let row = w.row(&[], HEADER, "ann;Ann;A;3A;K1");
    assert_failed(
        &row,
        "`cohortid`: cohort `3A` cannot be created: idnumber `K1` belongs to another cohort (id 1)",
    );
    assert_eq!(row.subject, "ann");
    assert!(w.user("ann").is_none(), "the account was not created");
    assert!(cohort(&w, "3A").is_none());
    assert!(w.store == before);
    // An existing account's changes go with it.
    let row = w.row(&[], "username;city;cohort;cohortid", "bob;Lyon;3A;K1");
    assert_kind(&row, Failed);
    assert_eq!(w.user("bob").unwrap().city, "");
    assert!(w.store == before);
    // An enrolment column failing after the cohort was created and joined.
    let row = w.row(
        &[],
        "username;firstname;lastname;cohort;course1",
        "ann;Ann;A;3A;NOPE",
    );
    assert_failed(&row, "`course1`: course not found");
    assert!(cohort(&w, "3A").is_none(), "the cohort was not kept");
    assert!(w.store == before);
}

#[test]
fn a_deleted_row_ignores_the_cohort_columns() {
    let mut w = World::new();
    w.row(&[], HEADER, "ann;Ann;A;3A;");
    let header = "username;deleted;cohort;cohortid";
    // Not even cohortid without cohort fails a delete row.
    let report = w.run(&[], header, &["ann;1;3B;K3B", "ann;1;;K1"]);
    assert_eq!(report.kinds(), vec![Deleted, Unchanged]);
    assert_eq!(report.rows[0].message, "");
    assert!(cohort(&w, "3B").is_none(), "no cohort created");
    assert!(
        members(&w, "3A").is_empty(),
        "soft delete leaves the cohort"
    );
    // A later row revives the account; it joins again.
    let row = w.row(&[], header, "ann;0;3A;");
    assert_kind(&row, Updated);
    assert_eq!(row.message, "revived; joined cohort `3A`");
    assert_eq!(members(&w, "3A"), vec!["ann"]);
}

#[test]
fn joining_a_cohort_bound_to_a_course_enrols_in_the_same_row() {
    let mut w = World::new();
    w.given("username;firstname;lastname", &["bob;Bob;B"]);
    let (course, binding) = {
        let mut txn = w.store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "Cat", true, 1).unwrap().id;
        let course = Courses::create(&mut txn, Course::new("A", "A", cat, 1)).unwrap();
        let student = Roles::by_shortname(&txn, "student").unwrap().unwrap().id;
        let class = Cohorts::create(&mut txn, Cohort::new("3A", 1)).unwrap();
        let (binding, _) = Cohorts::bind(
            &mut txn,
            &class,
            &course,
            student,
            &BindingSpec::default(),
            1,
        )
        .unwrap();
        (course, binding)
    };
    let report = w.run(&[], HEADER, &["ann;Ann;A;3A;", "bob;Bob;B;3A;"]);
    assert_eq!(report.kinds(), vec![Created, Updated]);
    for row in &report.rows {
        assert_eq!(
            row.message, "joined cohort `3A` (1 enrolment made)",
            "{row:?}"
        );
    }
    let txn = w.store.read();
    for name in ["ann", "bob"] {
        let user = Users::by_username(&txn, name).unwrap().unwrap().id;
        let held = Enrolments::enrolments_of(&txn, course.id, user).unwrap();
        assert_eq!(held.len(), 1, "{name}");
        assert_eq!((held[0].instance, held[0].active), (binding.id, true));
        let roles: Vec<u64> = Enrolments::assignments_of(&txn, course.id, user)
            .unwrap()
            .iter()
            .map(|a| a.role)
            .collect();
        assert_eq!(roles, vec![binding.role], "{name}");
    }
}
