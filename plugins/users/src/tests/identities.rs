use toolsync_plugin_api::model::UserKey;
use toolsync_plugin_api::OutcomeKind::{Created, Deleted, Updated};

use super::*;

fn with_two() -> World {
    let mut w = World::new();
    w.given(
        "username;firstname;lastname;idnumber;email",
        &["a;A;A;U1;a@x.org", "b;B;B;U2;b@x.org"],
    );
    w
}

#[test]
fn identity_idnumber_finds_creates_and_needs_its_value() {
    let mut w = with_two();
    let idn = [("identity", "idnumber")];
    let row = w.row(&idn, "idnumber;city", "U2;Lyon");
    assert_kind(&row, Updated);
    assert_eq!(row.subject, "b");
    assert_eq!(w.user("b").unwrap().city, "Lyon");
    let row = w.row(&idn, "idnumber;username;firstname;lastname", "U3;c;C;C");
    assert_kind(&row, Created);
    assert_eq!(w.user("c").unwrap().idnumber, "U3");
    // An empty identity value fails; it does not fall back to the username.
    let row = w.row(&idn, "idnumber;username;city", ";a;Nice");
    assert_failed(&row, "missing `idnumber` (identity = idnumber)");
    assert_eq!(w.user("a").unwrap().city, "");
    // Exact match: another case is another idnumber.
    assert_failed(
        &w.row(&idn, "idnumber;city", "u1;Nice"),
        "cannot create the account",
    );
}

#[test]
fn identity_email_is_case_insensitive_and_refuses_ambiguity() {
    let mut w = with_two();
    let mail = [("identity", "email")];
    let row = w.row(&mail, "email;city", "A@X.ORG;Lyon");
    assert_kind(&row, Updated);
    assert_eq!(row.subject, "a");
    let u = w.user("a").unwrap();
    assert_eq!((u.city.as_str(), u.email.as_str()), ("Lyon", "A@X.ORG"));
    assert_failed(
        &w.row(&mail, "email;city", "not-an-address;Lyon"),
        "`email`: `not-an-address` is not an e-mail address",
    );

    // Two live accounts with one address: ambiguous.
    let dup = [("allow_duplicate_emails", "1")];
    w.given("username;firstname;lastname;email", &["c;C;C;shared@x.org"]);
    w.run(
        &dup,
        "username;firstname;lastname;email",
        &["d;D;D;Shared@x.org"],
    );
    let row = w.row(&mail, "email;city", "shared@x.org;Nice");
    assert_failed(
        &row,
        "2 accounts have email = `shared@x.org`; use another identity",
    );
    // Once one of them is deleted, the live one is meant.
    assert_kind(&w.row(&[], "username;deleted", "c;1"), Deleted);
    let row = w.row(&mail, "email;city", "shared@x.org;Nice");
    assert_kind(&row, Updated);
    assert_eq!(row.subject, "d");
}

#[test]
fn identity_id_updates_and_never_creates() {
    let mut w = with_two();
    let id = w.user("b").unwrap().id.to_string();
    let by_id = [("identity", "id")];
    let row = w.row(&by_id, "id;city", &format!("{id};Lyon"));
    assert_kind(&row, Updated);
    assert_eq!(row.subject, "b");
    let row = w.row(&by_id, "id;username;firstname;lastname", "999;z;Z;Z");
    assert_failed(
        &row,
        "no user with id = 999 (identity = id never creates accounts)",
    );
    assert!(w.user("z").is_none());
    for bad in ["0", "abc", "-1"] {
        assert_failed(&w.row(&by_id, "id;city", &format!("{bad};X")), "`id`: ");
    }
    assert_eq!(w.by(UserKey::Id, &id)[0].city, "Lyon");
}
