use toolsync_plugin_api::{Processor, StartError};

use super::*;

fn refused_reason(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Start(StartError::Refused(r)) => r.to_string(),
        other => panic!("expected a refusal by start, got {other:?}"),
    }
}

fn bad_option(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Start(StartError::BadOption(r)) => r.to_string(),
        other => panic!("expected a bad option, got {other:?}"),
    }
}

#[test]
fn the_manifest_declares_the_format() {
    let m = UsersProcessor.manifest();
    assert_eq!(m.name.as_str(), "users");
    assert_eq!(m.version.as_str(), env!("CARGO_PKG_VERSION"));
    assert_eq!(m.default_input.as_str(), "userimport.csv");
    assert!(m.has_header && m.parallel_prepare);
    let names: Vec<&str> = m.columns.iter().map(|c| c.name.as_str()).collect();
    for name in [
        "username",
        "firstname",
        "lastname",
        "id",
        "idnumber",
        "email",
        "auth",
        "password",
        "suspended",
        "deleted",
        "oldusername",
        "cohort",
        "cohortid",
        "icq",
        "phone1",
        "phone2",
        "address",
        "description",
        "url",
        "institution",
        "department",
        "city",
        "country",
        "lang",
        "timezone",
        "mailformat",
        "maildisplay",
        "maildigest",
        "htmleditor",
        "autosubscribe",
        "trackforums",
        "mnethostid",
        "profile_field_{name}",
        "course{n}",
        "role{n}",
        "enrol{n}",
        "start{n}",
        "end{n}",
        "group{n}",
    ] {
        assert!(names.contains(&name), "{name} is declared");
    }
    assert_eq!(names.len(), 39, "{names:?}");
    let role = m.columns.iter().find(|c| c.name == "role{n}").unwrap();
    assert_eq!(
        role.anchor.as_ref().map(|a| a.as_str()).into_option(),
        Some("course{n}")
    );
    assert_eq!(role.index_min, 1);
    let options: Vec<(&str, &str)> = m
        .options
        .iter()
        .map(|o| (o.key.as_str(), o.default.as_str()))
        .collect();
    assert_eq!(
        options,
        vec![
            ("identity", "username"),
            ("course_key", "shortname"),
            ("allow_rename", "false"),
            ("allow_duplicate_emails", "false"),
            ("protect_emails", "false"),
            ("bcrypt_cost", "10"),
            ("empty_clears", "false"),
            ("max_delete_ratio", "0.5"),
            ("max_delete_min", "10"),
            ("_survey", "true"),
            ("_survey_when", "deleted"),
        ]
    );
    let identity = m.options.iter().find(|o| o.key == "identity").unwrap();
    assert_eq!(identity.choices.len(), 4);
}

#[test]
fn enrolment_companions_need_their_course() {
    let mut w = World::new();
    // A companion without its anchor is the header check's.
    match w.refused(&[], "username;role1", &["x;student"]) {
        Refusal::Header(reason) => assert!(
            reason.contains("`role1` needs a `course1` column"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_identity_column_is_required_and_id_goes_only_with_identity_id() {
    let mut w = World::new();
    let reason = refused_reason(&w.refused(
        &[("identity", "idnumber")],
        "username;firstname;lastname",
        &["c;C;C"],
    ));
    assert_eq!(reason, "`idnumber` is required because identity = idnumber");
    let reason = refused_reason(&w.refused(&[], "firstname;lastname", &["C;C"]));
    assert_eq!(reason, "`username` is required because identity = username");
    let reason = refused_reason(&w.refused(&[("identity", "email")], "username", &["c"]));
    assert!(
        reason.contains("`email` is required because identity = email"),
        "{reason}"
    );
    let reason = refused_reason(&w.refused(&[], "id;username", &["1;c"]));
    assert!(
        reason.contains("`id` is only accepted with identity = id"),
        "{reason}"
    );
    // Every problem at once.
    let reason = refused_reason(&w.refused(&[("identity", "idnumber")], "id;cohort", &["1;C"]));
    assert!(
        reason.contains("`idnumber` is required") && reason.contains("`id` is only"),
        "{reason}"
    );
    assert!(
        !reason.contains("cohort"),
        "cohort columns are accepted: {reason}"
    );
    // oldusername without allow_rename is not a refusal: rename rows fail one by one.
    w.run(&[], "username;oldusername", &["a;b"]);
}

#[test]
fn bad_option_values_are_refused() {
    let mut w = World::new();
    let header = "username;firstname;lastname";
    for (key, value, part) in [
        (
            "identity",
            "uid",
            "option `identity`: `uid`: expected one of username, idnumber, email, id",
        ),
        ("course_key", "name", "option `course_key`"),
        (
            "bcrypt_cost",
            "3",
            "option `bcrypt_cost`: `3` is out of range 4..31",
        ),
        ("bcrypt_cost", "32", "out of range"),
        ("allow_rename", "maybe", "option `allow_rename`"),
        (
            "allow_duplicate_emails",
            "",
            "option `allow_duplicate_emails`",
        ),
        ("protect_emails", "2", "option `protect_emails`"),
        ("empty_clears", "x", "option `empty_clears`"),
    ] {
        let why = bad_option(&w.refused(&[(key, value)], header, &["a;A;A"]));
        assert!(why.contains(part), "{key}={value}: {why}");
    }
    // Options are case-insensitive words.
    assert_eq!(
        w.run(&[("identity", "USERNAME")], header, &["a;A;A"])
            .rows
            .len(),
        1
    );
}

#[test]
fn unknown_columns_are_the_header_check_and_custom_fields_are_known() {
    let mut w = World::new();
    match w.refused(&[], "username;fristname", &["a;A"]) {
        Refusal::Header(reason) => {
            assert!(reason.contains("did you mean `firstname`?"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    match w.refused(&[], "username;profile_field_a-b", &["a;A"]) {
        Refusal::Header(reason) => assert!(
            reason.contains("unknown column `profile_field_a-b`"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    let report = w.run(
        &[],
        "UserName;FirstName;LastName;Profile_Field_Shoe_Size",
        &["a;A;A;42"],
    );
    assert_kind(&report.rows[0], toolsync_plugin_api::OutcomeKind::Created);
    assert_eq!(
        w.user("a")
            .unwrap()
            .profile_fields
            .get("shoe_size")
            .map(String::as_str),
        Some("42")
    );
}
