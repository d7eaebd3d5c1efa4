use toolsync_plugin_api::model::PasswordState;
use toolsync_plugin_api::OutcomeKind::{Created, Deleted, Unchanged, Updated};

use super::*;

const HEADER: &str = "username;firstname;lastname;password";
const SECRET: &str = "Tr0ub4dor&3-unique-secret";

fn hash_of(w: &World, username: &str) -> String {
    let u = w.user(username).unwrap();
    assert_eq!(u.password_state, PasswordState::Hashed);
    u.password_hash.expect("a hash")
}

/// No byte of the store, and no text of the report, holds the clear password.
#[track_caller]
fn assert_nowhere(w: &World, report: &Report, secret: &str) {
    assert!(
        !w.store.contains_bytes(secret.as_bytes()),
        "the store holds the password"
    );
    assert!(
        !report.all_text().contains(secret),
        "the report shows the password"
    );
}

#[test]
fn creation_hashes_marks_or_leaves_the_password_to_be_created() {
    let mut w = World::new();
    let report = w.run(
        &[],
        HEADER,
        &[&format!("sec;S;S;{SECRET}"), "nop;N;N;*NOPASS*", "new;N;N;"],
    );
    assert_eq!(report.kinds(), vec![Created; 3]);
    let hash = hash_of(&w, "sec");
    assert!(hash.starts_with("$2y$04$"), "{hash}");
    assert!(bcrypt::verify(SECRET, &hash).unwrap());
    let nop = w.user("nop").unwrap();
    assert_eq!(
        (nop.password_state, nop.password_hash),
        (PasswordState::Nologin, None)
    );
    let new = w.user("new").unwrap();
    assert_eq!(
        (new.password_state, new.password_hash),
        (PasswordState::ToBeCreated, None)
    );
    // Absent column: to be created as well.
    w.given("username;firstname;lastname", &["plain;P;P"]);
    assert_eq!(
        w.user("plain").unwrap().password_state,
        PasswordState::ToBeCreated
    );
    assert_nowhere(&w, &report, SECRET);
}

#[test]
fn the_same_file_again_is_unchanged() {
    for prepare in [true, false] {
        let mut w = World::new();
        let rows = [
            format!("sec;S;S;{SECRET}"),
            "nop;N;N;*NOPASS*".into(),
            "new;N;N;".into(),
        ];
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        w.run(&[], HEADER, &rows);
        let hash = hash_of(&w, "sec");
        let mut runner = Runner::new(UsersProcessor).option("bcrypt_cost", "4");
        if !prepare {
            runner = runner.without_prepare();
        }
        let report = w.run_with(runner, HEADER, &rows);
        assert_eq!(report.kinds(), vec![Unchanged; 3], "prepare: {prepare}");
        assert_eq!(
            hash_of(&w, "sec"),
            hash,
            "the stored hash verifies it: no new hash"
        );
        assert_nowhere(&w, &report, SECRET);
    }
}

#[test]
fn updates_change_mark_or_keep_the_password() {
    let mut w = World::new();
    w.run(&[], HEADER, &[&format!("sec;S;S;{SECRET}")]);
    let first = hash_of(&w, "sec");
    let header = "username;password";

    // Empty: unchanged, even with empty_clears.
    assert_kind(&w.row(&[("empty_clears", "1")], header, "sec;"), Unchanged);
    assert_eq!(hash_of(&w, "sec"), first);

    // Another password: a new hash, named only as "password".
    let report = w.run(&[], header, &["sec;An0ther-secret"]);
    assert_kind(&report.rows[0], Updated);
    assert_eq!(report.rows[0].message, "password: changed");
    let second = hash_of(&w, "sec");
    assert!(bcrypt::verify("An0ther-secret", &second).unwrap());
    assert!(!bcrypt::verify(SECRET, &second).unwrap());
    assert_nowhere(&w, &report, "An0ther-secret");

    // *NOPASS*: the marker, and no hash left to log in with.
    assert_kind(&w.row(&[], header, "sec;*NOPASS*"), Updated);
    let u = w.user("sec").unwrap();
    assert_eq!(
        (u.password_state, u.password_hash),
        (PasswordState::Nologin, None)
    );
    assert_kind(&w.row(&[], header, "sec;*NOPASS*"), Unchanged);

    // From the marker back to a password.
    assert_kind(&w.row(&[], header, &format!("sec;{SECRET}")), Updated);
    assert!(bcrypt::verify(SECRET, &hash_of(&w, "sec")).unwrap());
}

#[test]
fn bcrypt_cost_sets_the_cost_of_new_hashes() {
    let mut w = World::new();
    w.run(&[("bcrypt_cost", "5")], HEADER, &["a;A;A;pw"]);
    assert!(hash_of(&w, "a").starts_with("$2y$05$"));
    // A hash of another cost that verifies stays.
    assert_kind(
        &w.row(&[("bcrypt_cost", "4")], "username;password", "a;pw"),
        Unchanged,
    );
    assert!(hash_of(&w, "a").starts_with("$2y$05$"));
}

#[test]
fn over_72_bytes_fails_without_quoting_the_password() {
    let mut w = World::new();
    let at_limit = "é".repeat(36);
    let over = format!("{}x", "é".repeat(36));
    let report = w.run(
        &[],
        HEADER,
        &[&format!("a;A;A;{at_limit}"), &format!("b;B;B;{over}")],
    );
    assert_kind(&report.rows[0], Created);
    assert_failed(&report.rows[1], "`password`: 73 bytes of UTF-8, at most 72");
    assert_eq!(report.rows[1].subject, "b");
    assert!(bcrypt::verify(&at_limit, &hash_of(&w, "a")).unwrap());
    assert!(w.user("b").is_none());
    assert_nowhere(&w, &report, &over);
    assert_nowhere(&w, &report, &at_limit);
    // On an update too.
    let row = w.row(&[], "username;password", &format!("a;{over}"));
    assert_failed(&row, "73 bytes");
}

#[test]
fn apply_does_not_trust_what_prepare_saw_before_an_earlier_row_changed_it() {
    // One chunk: every row is prepared against the store as it was before the first.
    let mut w = World::new();
    w.run(&[], HEADER, &["jdoe;J;D;first-pass"]);
    let report = w.run(
        &[],
        "username;password",
        &["jdoe;second-pass", "jdoe;first-pass", "jdoe;first-pass"],
    );
    // Row 3 was prepared as "verified" against the first hash, but row 2 re-hashed it.
    assert_eq!(report.kinds(), vec![Updated, Updated, Unchanged]);
    assert!(bcrypt::verify("first-pass", &hash_of(&w, "jdoe")).unwrap());

    // Created by an earlier row of the chunk, then the same password: unchanged.
    let report = w.run(&[], HEADER, &["ann;A;A;pw-one", "ann;A;A;pw-one"]);
    assert_eq!(report.kinds(), vec![Created, Unchanged]);
    assert!(bcrypt::verify("pw-one", &hash_of(&w, "ann")).unwrap());
}

#[test]
fn prepare_follows_renames_and_skips_deletions() {
    let mut w = World::new();
    w.run(&[], HEADER, &["old;O;L;pw"]);
    let hash = hash_of(&w, "old");
    let report = w.run(
        &[("allow_rename", "1")],
        "username;oldusername;password;deleted",
        &["new;old;pw;", "new;;pw;1"],
    );
    assert_eq!(report.kinds(), vec![Updated, Deleted]);
    assert_eq!(
        report.rows[0].message, "renamed from `old`",
        "the password verified"
    );
    assert_eq!(hash_of(&w, "new"), hash);
}
