use toolsync_plugin_api::OutcomeKind::{Created, Unchanged};

use super::*;

/// (column, bad value, part of the reason). Each must fail the row, on creation and on update.
const BAD: &[(&str, &str, &str)] = &[
    ("firstname", "x\u{1}y", "control character U+0001"),
    ("lastname", LONG_101, "101 characters, at most 100"),
    ("idnumber", LONG_256, "256 characters, at most 255"),
    ("email", "nobody", "not an e-mail address"),
    ("email", "a b@x.org", "not an e-mail address"),
    ("auth", "Manual", "is not a word of a-z, 0-9 and _"),
    ("auth", "averyveryverylongauthx", "at most 20"),
    ("suspended", "2", "not a boolean"),
    ("icq", "1234567890123456", "at most 15"),
    ("phone1", "123456789012345678901", "at most 20"),
    ("phone2", "123456789012345678901", "at most 20"),
    ("address", "a\u{0}b", "control character"),
    ("description", "a\u{7}b", "control character"),
    ("url", LONG_256, "at most 255"),
    ("institution", LONG_256, "at most 255"),
    ("department", LONG_256, "at most 255"),
    ("city", LONG_121, "at most 120"),
    ("country", "FRA", "not a two-letter country code"),
    ("country", "F1", "not a two-letter country code"),
    ("lang", LONG_31, "at most 30"),
    ("timezone", "1.0", "not a time zone"),
    ("timezone", "Europe/", "not a time zone"),
    ("mailformat", "2", "out of range 0..1"),
    ("maildisplay", "3", "out of range 0..2"),
    ("maildigest", "-1", "out of range 0..2"),
    ("maildigest", "one", "not an integer"),
    ("htmleditor", "maybe", "not a boolean"),
    ("autosubscribe", "2", "not a boolean"),
    ("trackforums", "oui", "not a boolean"),
    ("mnethostid", "2", "`2` is out of range 1..1"),
    ("profile_field_shoe", "x\u{2}", "control character"),
];

const LONG_31: &str = "abcdefghijabcdefghijabcdefghijk";
const LONG_101: &str = concat!(
    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijk"
);
const LONG_121: &str = concat!(
    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
    "abcdefghijabcdefghijk"
);
const LONG_256: &str = concat!(
    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
    "abcdef"
);

#[test]
fn every_bad_value_fails_the_row_naming_the_column() {
    assert_eq!(
        (
            LONG_31.len(),
            LONG_101.len(),
            LONG_121.len(),
            LONG_256.len()
        ),
        (31, 101, 121, 256)
    );
    let mut w = World::new();
    w.given("username;firstname;lastname", &["jdoe;J;D"]);
    for (column, bad, why) in BAD {
        let store = w.store.clone();
        let update = w.row(&[], &format!("username;{column}"), &format!("jdoe;{bad}"));
        assert_failed(&update, &format!("`{column}`: "));
        assert_failed(&update, why);
        assert_eq!(update.subject, "jdoe");
        assert_eq!(w.store, store, "{column}: nothing written");
        let names = "username;firstname;lastname";
        let create = match *column {
            "firstname" => w.row(&[], names, &format!("new;{bad};N")),
            "lastname" => w.row(&[], names, &format!("new;N;{bad}")),
            _ => w.row(&[], &format!("{names};{column}"), &format!("new;N;N;{bad}")),
        };
        assert_failed(&create, &format!("`{column}`: "));
        assert!(w.user("new").is_none(), "{column}");
    }
}

#[test]
fn values_are_converted_before_comparison() {
    let mut w = World::new();
    let header = "username;firstname;lastname;country;lang;htmleditor;mnethostid;timezone";
    assert_kind(
        &w.row(&[], header, "jdoe;J;D;fr;EN_UTF8;yes;1;UTC"),
        Created,
    );
    let u = w.user("jdoe").unwrap();
    assert_eq!(
        (u.country.as_str(), u.lang.as_str(), u.timezone.as_str()),
        ("FR", "en", "UTC")
    );
    // The same values spelt otherwise change nothing.
    assert_kind(&w.row(&[], header, "JDOE;J;D;Fr;en;TRUE;1;UTC"), Unchanged);
}
