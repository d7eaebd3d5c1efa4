use toolsync_plugin_api::model::{PasswordState, UserKey};
use toolsync_plugin_api::OutcomeKind::{Created, Failed, Unchanged, Updated};

use super::*;

#[test]
fn creation_gives_the_defaults_of_the_spec() {
    let mut w = World::new();
    let row = w.row(&[], "username;firstname;lastname", "JDoe;John;Doe");
    assert_kind(&row, Created);
    assert_eq!(row.subject, "jdoe");
    let u = w.user("jdoe").expect("stored lowercased");
    assert!(u.id > 0);
    assert_eq!((u.firstname.as_str(), u.lastname.as_str()), ("John", "Doe"));
    assert_eq!(u.auth, "manual");
    assert_eq!(u.password_state, PasswordState::ToBeCreated);
    assert_eq!(u.password_hash, None);
    assert_eq!((u.lang.as_str(), u.timezone.as_str()), ("en", "99"));
    assert_eq!((u.mailformat, u.maildisplay, u.maildigest), (1, 2, 0));
    assert_eq!(
        (u.htmleditor, u.autosubscribe, u.trackforums),
        (true, true, false)
    );
    assert_eq!(u.mnethostid, 1);
    assert!(!u.suspended && !u.deleted);
    assert_eq!(
        (u.idnumber.as_str(), u.email.as_str(), u.city.as_str()),
        ("", "", "")
    );
    assert_eq!((u.timecreated, u.timemodified), (T0, T0));
}

#[test]
fn creation_takes_every_column_converted() {
    let mut w = World::new();
    let header = concat!(
        "username;firstname;lastname;idnumber;email;auth;suspended;icq;phone1;phone2;address;",
        "description;url;institution;department;city;country;lang;timezone;mailformat;",
        "maildisplay;maildigest;htmleditor;autosubscribe;trackforums;mnethostid;profile_field_shoe",
    );
    let row = concat!(
        "ann;Ann;Arbor;A1;Ann@X.org;ldap;yes;12345;+33 1;06;1 rue X;likes tea;https://a.org;Uni;",
        "Maths;Lyon;fr;FR_utf8;Europe/Paris;0;1;2;no;false;TRUE;1;42",
    );
    let result = w.row(&[], header, row);
    assert_kind(&result, Created);
    let u = w.user("ann").unwrap();
    assert_eq!(u.idnumber, "A1");
    assert_eq!(u.email, "Ann@X.org", "the address is stored as written");
    assert_eq!(u.auth, "ldap");
    assert!(u.suspended);
    assert_eq!(
        (u.icq.as_str(), u.phone1.as_str(), u.phone2.as_str()),
        ("12345", "+33 1", "06")
    );
    assert_eq!(
        (u.address.as_str(), u.description.as_str()),
        ("1 rue X", "likes tea")
    );
    assert_eq!(
        (
            u.url.as_str(),
            u.institution.as_str(),
            u.department.as_str()
        ),
        ("https://a.org", "Uni", "Maths")
    );
    assert_eq!(
        (u.city.as_str(), u.country.as_str(), u.lang.as_str()),
        ("Lyon", "FR", "fr")
    );
    assert_eq!(u.timezone, "Europe/Paris");
    assert_eq!((u.mailformat, u.maildisplay, u.maildigest), (0, 1, 2));
    assert_eq!(
        (u.htmleditor, u.autosubscribe, u.trackforums),
        (false, false, true)
    );
    assert_eq!(u.profile_fields.get("shoe").map(String::as_str), Some("42"));
    assert_eq!(
        w.by(UserKey::Idnumber, "A1")[0].id,
        u.id,
        "the idnumber index is written"
    );
    assert_eq!(
        w.by(UserKey::Email, "ann@x.org")[0].id,
        u.id,
        "the e-mail index is written"
    );
}

#[test]
fn creation_names_the_missing_columns() {
    let mut w = World::new();
    let row = w.row(&[], "username;firstname;lastname", "x;;");
    assert_failed(
        &row,
        "cannot create the account: `firstname`, `lastname` missing",
    );
    assert_eq!(row.subject, "x");
    // Absent columns count as missing too.
    let row = w.row(&[], "username;lastname", "x;X");
    assert_failed(&row, "`firstname` missing");
    let row = w.row(
        &[("identity", "idnumber")],
        "idnumber;firstname;lastname",
        "U1;A;B",
    );
    assert_failed(&row, "`username` missing");
    assert_eq!(
        row.subject, "U1",
        "no account: the identity value is the subject"
    );
    assert!(w.user("x").is_none());
}

#[test]
fn an_update_changes_only_present_columns_and_empty_cells_keep() {
    let mut w = World::new();
    w.given(
        "username;firstname;lastname;email;city;country",
        &["jdoe;John;Doe;jd@x.org;Lyon;FR"],
    );
    w.now = T0 + 100;
    let row = w.row(&[], "username;firstname;lastname;email", "jdoe;Johnny;;");
    assert_kind(&row, Updated);
    assert_eq!(row.message, "firstname: John → Johnny");
    let u = w.user("jdoe").unwrap();
    assert_eq!(u.firstname, "Johnny");
    assert_eq!(u.lastname, "Doe", "empty cell: unchanged");
    assert_eq!(u.email, "jd@x.org", "empty cell: unchanged");
    assert_eq!(
        (u.city.as_str(), u.country.as_str()),
        ("Lyon", "FR"),
        "absent columns: unchanged"
    );
    assert_eq!((u.timecreated, u.timemodified), (T0, T0 + 100));

    // Nothing to change: unchanged, and timemodified stays.
    w.now = T0 + 200;
    let row = w.row(
        &[],
        "username;firstname;city;country",
        "JDOE;Johnny;Lyon;fr",
    );
    assert_kind(&row, Unchanged);
    assert_eq!(w.user("jdoe").unwrap().timemodified, T0 + 100);
}

#[test]
fn empty_clears_resets_clearable_fields_only() {
    let mut w = World::new();
    let header = "username;firstname;lastname;idnumber;email;auth;city;lang;mailformat;htmleditor;profile_field_shoe;suspended";
    w.given(header, &["jdoe;John;Doe;U1;jd@x.org;ldap;Lyon;fr;0;0;42;1"]);
    let empty = "jdoe;;;;;;;;;;;";
    // Off: empty cells change nothing.
    assert_kind(&w.row(&[], header, empty), Unchanged);
    // On: the clearable ones go back to their creation default.
    let row = w.row(&[("empty_clears", "true")], header, empty);
    assert_kind(&row, Updated);
    let u = w.user("jdoe").unwrap();
    assert_eq!(
        (u.idnumber.as_str(), u.email.as_str(), u.city.as_str()),
        ("", "", "")
    );
    assert_eq!(
        (u.lang.as_str(), u.mailformat, u.htmleditor),
        ("en", 1, true)
    );
    assert!(u.profile_fields.is_empty());
    assert_eq!(
        (u.firstname.as_str(), u.lastname.as_str(), u.auth.as_str()),
        ("John", "Doe", "ldap")
    );
    assert!(u.suspended, "an action flag is never cleared");
    assert!(
        w.by(UserKey::Idnumber, "U1").is_empty(),
        "the idnumber index follows"
    );
    assert!(
        w.by(UserKey::Email, "jd@x.org").is_empty(),
        "the e-mail index follows"
    );
}

#[test]
fn empty_clears_never_clears_the_identity() {
    let mut w = World::new();
    w.given(
        "username;firstname;lastname;idnumber;email",
        &["jdoe;John;Doe;U1;jd@x.org"],
    );
    let row = w.row(
        &[("identity", "email"), ("empty_clears", "1")],
        "email;idnumber;city",
        "jd@x.org;;",
    );
    assert_kind(&row, Updated);
    let u = w.user("jdoe").unwrap();
    assert_eq!((u.email.as_str(), u.idnumber.as_str()), ("jd@x.org", ""));
}

#[test]
fn custom_profile_fields_are_set_and_kept() {
    let mut w = World::new();
    w.given(
        "username;firstname;lastname;profile_field_a;profile_field_b",
        &["jdoe;J;D;1;2"],
    );
    let row = w.row(&[], "username;profile_field_a;profile_field_c", "jdoe;10;");
    assert_kind(&row, Updated);
    assert_eq!(row.message, "profile_field_a: 1 → 10");
    let fields = w.user("jdoe").unwrap().profile_fields;
    assert_eq!(fields.get("a").map(String::as_str), Some("10"));
    assert_eq!(fields.get("b").map(String::as_str), Some("2"));
    assert!(!fields.contains_key("c"));
}

#[test]
fn usernames_are_lowercased_and_bad_characters_fail() {
    let mut w = World::new();
    let rows = w.run(
        &[],
        "username;firstname;lastname",
        &[
            "J.Doe-2_x@Example.ORG;J;D",
            "jean dupont;J;D",
            "élodie;E;L",
            "a+b;A;B",
        ],
    );
    assert_kind(&rows.rows[0], Created);
    assert_eq!(rows.rows[0].subject, "j.doe-2_x@example.org");
    for row in &rows.rows[1..] {
        assert_failed(row, "a username may only hold a-z 0-9 _ - . @");
    }
    assert_eq!(rows.rows[1].subject, "jean dupont");
    assert!(w.user("jeandupont").is_none(), "nothing is stripped");
}

#[test]
fn a_username_or_idnumber_of_another_account_fails_the_row() {
    let mut w = World::new();
    w.given(
        "username;firstname;lastname;idnumber",
        &["a;A;A;U1", "b;B;B;U2"],
    );
    // identity = idnumber: a new idnumber with a taken username.
    let row = w.row(
        &[("identity", "idnumber")],
        "idnumber;username;firstname;lastname",
        "U3;a;X;X",
    );
    assert_failed(&row, "username `a` belongs to another account");
    // An idnumber taken by another account.
    let row = w.row(&[], "username;idnumber", "b;U1");
    assert_failed(&row, "idnumber `U1` belongs to another account");
    assert_eq!(row.subject, "b");
    assert_eq!(w.user("b").unwrap().idnumber, "U2");
}

#[test]
fn a_failed_row_writes_nothing_and_later_rows_see_earlier_ones() {
    let mut w = World::new();
    let report = w.run(
        &[],
        "username;firstname;lastname;country",
        &["a;A;A;FR", "b;B;B;France", "a;Anne;;"],
    );
    assert_eq!(report.kinds(), vec![Created, Failed, Updated]);
    assert_failed(
        &report.rows[1],
        "`country`: `France` is not a two-letter country code",
    );
    assert!(w.user("b").is_none());
    assert_eq!(w.user("a").unwrap().firstname, "Anne");
}
