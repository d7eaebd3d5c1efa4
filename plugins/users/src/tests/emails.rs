use toolsync_plugin_api::OutcomeKind::{Created, Deleted, Failed, Unchanged, Updated};

use super::*;

const HEADER: &str = "username;firstname;lastname;email";

#[test]
fn duplicate_emails_fail_unless_allowed() {
    let mut w = World::new();
    let report = w.run(&[], HEADER, &["a;A;A;same@x.org", "b;B;B;SAME@x.org"]);
    assert_eq!(report.kinds(), vec![Created, Failed]);
    assert_failed(
        &report.rows[1],
        "e-mail `SAME@x.org` belongs to another account (`a`); allow_duplicate_emails is off",
    );
    assert_eq!(report.rows[1].subject, "b");
    let report = w.run(
        &[("allow_duplicate_emails", "true")],
        HEADER,
        &["b;B;B;SAME@x.org"],
    );
    assert_eq!(report.kinds(), vec![Created]);
}

#[test]
fn changing_to_a_taken_address_fails_but_an_old_duplicate_does_not_block_updates() {
    let mut w = World::new();
    w.given(HEADER, &["a;A;A;a@x.org", "b;B;B;b@x.org"]);
    let row = w.row(&[], "username;email", "b;A@x.org");
    assert_failed(&row, "belongs to another account (`a`)");
    assert_eq!(w.user("b").unwrap().email, "b@x.org");
    // Duplicates let in earlier (option on) do not fail rows that keep the address.
    w.run(
        &[("allow_duplicate_emails", "1")],
        "username;email",
        &["b;a@x.org"],
    );
    assert_kind(
        &w.row(&[], "username;email;city", "b;a@x.org;Lyon"),
        Updated,
    );
}

#[test]
fn deleted_accounts_do_not_hold_their_address_but_revival_checks_it() {
    let mut w = World::new();
    w.given(HEADER, &["a;A;A;x@x.org"]);
    assert_kind(&w.row(&[], "username;deleted", "a;1"), Deleted);
    assert_kind(&w.row(&[], HEADER, "b;B;B;x@x.org"), Created);
    let row = w.row(&[], "username;city", "a;Lyon");
    assert_failed(&row, "e-mail `x@x.org` belongs to another account (`b`)");
    assert!(w.user("a").unwrap().deleted);
    assert_kind(
        &w.row(
            &[("allow_duplicate_emails", "1")],
            "username;city",
            "a;Lyon",
        ),
        Updated,
    );
}

#[test]
fn protect_emails_keeps_the_address_with_a_warning() {
    let mut w = World::new();
    let protect = [("protect_emails", "true")];
    // Creation sets it: there is nothing to protect yet.
    assert_kind(&w.row(&protect, HEADER, "a;A;A;a@x.org"), Created);
    let row = w.row(&protect, "username;email", "a;new@x.org");
    assert_kind(&row, Unchanged);
    assert_eq!(
        row.warnings,
        vec!["protect_emails: the e-mail stays `a@x.org` (the row has `new@x.org`)".to_string()]
    );
    assert_eq!(w.user("a").unwrap().email, "a@x.org");
    // Another case of the same address is not a difference.
    let row = w.row(&protect, "username;email;city", "a;A@X.org;Lyon");
    assert_kind(&row, Updated);
    assert!(row.warnings.is_empty());
    assert_eq!(w.user("a").unwrap().email, "a@x.org");
    // Not even empty_clears changes it.
    let row = w.row(
        &[("protect_emails", "1"), ("empty_clears", "1")],
        "username;email",
        "a;",
    );
    assert_kind(&row, Unchanged);
    assert_eq!(row.warnings.len(), 1);
    // Off: the change is applied.
    assert_kind(&w.row(&[], "username;email", "a;new@x.org"), Updated);
    assert_eq!(w.user("a").unwrap().email, "new@x.org");
}
