use toolsync_plugin_api::model::{PasswordState, UserKey};
use toolsync_plugin_api::OutcomeKind::{Deleted, Failed, Unchanged, Updated};

use super::*;

fn with_ann() -> World {
    let mut w = World::new();
    w.given(
        "username;firstname;lastname;idnumber;email;password",
        &["ann;Ann;A;A1;ann@x.org;s3cret-pass"],
    );
    w
}

#[test]
fn deleted_soft_deletes_and_keeps_the_record() {
    let mut w = with_ann();
    let before = w.user("ann").unwrap();
    w.now = T0 + 50;
    let report = w.run(&[], "username;deleted", &["ann;1", "ann;1", "ghost;yes"]);
    assert_eq!(report.kinds(), vec![Deleted, Unchanged, Failed]);
    assert_eq!(report.rows[0].subject, "ann");
    assert_eq!(report.rows[1].message, "already deleted");
    assert_failed(&report.rows[2], "no user with username = `ghost` to delete");
    assert_eq!(report.rows[2].subject, "ghost");
    let after = w.user("ann").expect("the record stays, found by username");
    assert!(after.deleted);
    assert_eq!(after.timemodified, T0 + 50);
    assert_eq!(
        (after.idnumber.as_str(), after.email.as_str()),
        ("A1", "ann@x.org")
    );
    assert_eq!(after.password_state, PasswordState::Hashed);
    assert_eq!(after.password_hash, before.password_hash, "the hash stays");
    assert_eq!(
        w.by(UserKey::Idnumber, "A1").len(),
        1,
        "identity indexes stay"
    );
}

#[test]
fn deleted_acts_only_when_true_and_applies_nothing_else() {
    let mut w = with_ann();
    // A delete row applies nothing else; its cells are still checked by their types, so a bad
    // value fails it like any row (the tryback gives it back to fix).
    let row = w.row(&[], "username;deleted;city;country", "ann;1;Paris;France");
    assert_failed(&row, "`country`: `France` is not a two-letter country code");
    assert_eq!(row.subject, "ann");
    assert!(!w.user("ann").unwrap().deleted);
    let row = w.row(&[], "username;deleted;city;country", "ann;1;Paris;FR");
    assert_kind(&row, Deleted);
    assert_eq!(w.user("ann").unwrap().city, "", "nothing else applied");
    // Revive, then 0 / empty are not deletions.
    let report = w.run(&[], "username;deleted;city", &["ann;0;Lyon", "ann;;Nice"]);
    assert_eq!(report.kinds(), vec![Updated, Updated]);
    assert!(!w.user("ann").unwrap().deleted);
    let row = w.row(&[], "username;deleted", "ann;maybe");
    assert_failed(&row, "`deleted`: `maybe` is not a boolean");
    assert_eq!(row.subject, "ann");
}

#[test]
fn a_later_row_revives_a_deleted_account() {
    let mut w = with_ann();
    w.run(&[], "username;deleted", &["ann;1"]);
    let row = w.row(&[], "username;firstname;lastname", "ann;Ann;A");
    assert_kind(&row, Updated);
    assert_eq!(row.message, "revived");
    let u = w.user("ann").unwrap();
    assert!(!u.deleted);
    assert_eq!(
        u.password_state,
        PasswordState::Hashed,
        "the account comes back as it was"
    );
    // Even a row with nothing else to change revives.
    w.run(&[], "username;deleted", &["ann;1"]);
    let row = w.row(&[], "username", "ann");
    assert_kind(&row, Updated);
    assert!(!w.user("ann").unwrap().deleted);
}

#[test]
fn suspended_suspends_and_reactivates() {
    let mut w = with_ann();
    let report = w.run(
        &[],
        "username;suspended",
        &["ann;1", "ann;1", "ann;0", "ann;", "ann;2"],
    );
    assert_eq!(
        report.kinds(),
        vec![Updated, Unchanged, Updated, Unchanged, Failed]
    );
    assert_eq!(report.rows[0].message, "suspended: 0 → 1");
    assert_eq!(report.rows[2].message, "suspended: 1 → 0");
    assert_failed(&report.rows[4], "`suspended`: `2` is not a boolean");
    assert!(!w.user("ann").unwrap().suspended);
}

/// The brake: a file that would soft-delete more than `max_delete_ratio` of the live accounts
/// (from `max_delete_min` deletions on) is refused before any row, unless `--force`.
#[test]
fn mass_deletions_are_refused_unless_forced() {
    use toolsync_plugin_api::testing::Refusal;
    let mut w = World::new();
    let names: Vec<String> = (0..20).map(|i| format!("u{i};U;{i};u{i}@x.org")).collect();
    let rows: Vec<&str> = names.iter().map(String::as_str).collect();
    w.given("username;firstname;lastname;email", &rows);
    // 11 of 20 (and a ghost, and an account named twice): over 0.5 × 20 = 10.
    let deletions: Vec<String> = (0..11)
        .map(|i| format!("u{i};1"))
        .chain([
            "ghost;1".to_string(),
            "u0;1".to_string(),
            "u15;0".to_string(),
        ])
        .collect();
    let deletions: Vec<&str> = deletions.iter().map(String::as_str).collect();
    let (header, rows) = split("username;deleted", &deletions);
    let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
    let why = Refusal::expect_survey(w.runner(&[]).run(&mut w.store, &header, &rows));
    assert!(
        why.contains("would delete 11 of the 20 accounts")
            && why.contains("max_delete_ratio = 0.5 × 20 = 10"),
        "{why}"
    );
    assert!(!w.user("u0").unwrap().deleted, "nothing applied");
    // With max_delete_min = 12, eleven deletions are under it: the file passes.
    let report = w.run(&[("max_delete_min", "12")], "username;deleted", &deletions);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert!(w.user("u0").unwrap().deleted);
    // --force lets a refused file through, and says so.
    let mut w2 = World::new();
    w2.given("username;firstname;lastname;email", &rows_of(&names));
    let report = w2.run_with(w2.runner(&[]).force(), "username;deleted", &deletions);
    assert!(
        report.warnings[0].starts_with("--force: deleting 11 of 20 accounts"),
        "{:?}",
        report.warnings
    );
    // Deleting an account already deleted counts for nothing: a re-run passes.
    let again = w2.run(&[], "username;deleted", &deletions);
    assert!(again.warnings.is_empty());
}

fn rows_of(lines: &[String]) -> Vec<&str> {
    lines.iter().map(String::as_str).collect()
}
