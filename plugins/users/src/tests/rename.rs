use toolsync_plugin_api::OutcomeKind::{Deleted, Failed, Unchanged, Updated};

use super::*;

fn with_old() -> World {
    let mut w = World::new();
    w.given(
        "username;firstname;lastname;idnumber",
        &["old;O;L;U1", "other;O;T;U2"],
    );
    w
}

#[test]
fn identity_username_renames_with_oldusername_and_allow_rename() {
    let mut w = with_old();
    let id = w.user("old").unwrap().id;
    let header = "username;oldusername";
    let row = w.row(&[], header, "new;old");
    assert_failed(&row, "renaming `old` to `new` needs allow_rename");
    assert!(w.user("old").is_some() && w.user("new").is_none());

    let on = [("allow_rename", "true")];
    let row = w.row(&on, header, "New;OLD");
    assert_kind(&row, Updated);
    assert_eq!(row.subject, "new");
    assert_eq!(row.message, "renamed from `old`");
    assert!(w.user("old").is_none());
    assert_eq!(w.user("new").unwrap().id, id);

    // Again: nobody has the old name, the account with the new one counts as renamed.
    assert_kind(&w.row(&on, header, "new;old"), Unchanged);
    // The same with a change to apply: that account is updated.
    let row = w.row(&on, "username;oldusername;city", "new;old;Lyon");
    assert_kind(&row, Updated);
    assert_eq!(w.user("new").unwrap().city, "Lyon");
}

#[test]
fn identity_username_rename_failures() {
    let mut w = with_old();
    let on = [("allow_rename", "true")];
    let row = w.row(&on, "username;oldusername", "fresh;ghost");
    assert_failed(&row, "no user with username = `ghost` to rename to `fresh`");
    assert_eq!(row.subject, "fresh");
    let row = w.row(&on, "username;oldusername", "other;old");
    assert_failed(&row, "username `other` belongs to another account");
    assert_eq!(row.subject, "old");
    assert!(w.user("old").is_some());
    // oldusername equal to the username, or empty: no rename, allow_rename not needed.
    let report = w.run(
        &[],
        "username;oldusername;city",
        &["old;old;Lyon", "old;;Nice"],
    );
    assert_eq!(report.kinds(), vec![Updated, Updated]);
    // A bad new name fails like any username.
    assert_failed(
        &w.row(&on, "username;oldusername", "bad name;old"),
        "a username may only hold",
    );
}

#[test]
fn another_identity_renames_by_a_different_username() {
    let mut w = with_old();
    let idn = [("identity", "idnumber")];
    let row = w.row(&idn, "idnumber;username", "U1;renamed");
    assert_failed(&row, "renaming `old` to `renamed` needs allow_rename");
    assert_eq!(row.subject, "old");

    let on = [("identity", "idnumber"), ("allow_rename", "yes")];
    // A non-empty oldusername must be the account's current username.
    let row = w.row(&on, "idnumber;username;oldusername", "U1;renamed;someone");
    assert_failed(
        &row,
        "`oldusername` is `someone` but the account with idnumber = `U1` is `old`",
    );
    let row = w.row(&on, "idnumber;username;oldusername", "U1;Renamed;old");
    assert_kind(&row, Updated);
    assert_eq!(row.message, "renamed from `old`");
    assert_eq!(w.user("renamed").unwrap().idnumber, "U1");
    // The same file again: nothing to rename.
    assert_kind(
        &w.row(&on, "idnumber;username;oldusername", "U1;renamed;old"),
        Unchanged,
    );
    // A taken name fails.
    assert_failed(
        &w.row(&on, "idnumber;username", "U1;other"),
        "username `other` belongs to another account",
    );
    // An empty username cell is no rename.
    assert_kind(&w.row(&idn, "idnumber;username", "U1;"), Unchanged);
}

#[test]
fn a_deleting_row_finds_the_account_through_the_rename() {
    let mut w = with_old();
    let row = w.row(
        &[("allow_rename", "1")],
        "username;oldusername;deleted",
        "new;old;1",
    );
    assert_kind(&row, Deleted);
    assert_eq!(row.subject, "old", "nothing but the deletion is applied");
    assert!(w.user("old").unwrap().deleted);
    assert!(w.user("new").is_none());
}

#[test]
fn renaming_a_deleted_account_revives_it() {
    let mut w = with_old();
    w.run(&[], "username;deleted", &["old;1"]);
    let row = w.row(&[("allow_rename", "1")], "username;oldusername", "new;old");
    assert_kind(&row, Updated);
    assert_eq!(row.message, "revived; renamed from `old`");
    assert!(!w.user("new").unwrap().deleted);
    assert_eq!(Failed, w.row(&[], "username;deleted", "old;1").kind);
}
