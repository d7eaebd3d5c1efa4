use super::GroupsProcessor as P;
use crate::testkit::World;
use toolsync_plugin_api::testing::Runner;
use toolsync_plugin_api::OutcomeKind::{Created, Failed, Unchanged, Updated};

const FULL: &str = "courseid;name;type;idnumber;description";

#[test]
fn add_mode_creates_then_finds_by_idnumber_or_name() {
    let mut w = World::new();
    let rows = w.run(
        P,
        &[],
        FULL,
        &["A;Red;;R1;the red one", "A;Blue;GROUP;;", "B;Red;group;R1;"],
    );
    assert_eq!(rows.kinds(), [Created, Created, Created]);
    assert_eq!(rows.rows[0].subject, "A/Red");
    let red = w.group(&w.a.clone(), "Red").unwrap();
    assert_eq!(
        (red.idnumber.as_str(), red.description.as_str()),
        ("R1", "the red one")
    );
    assert_eq!(w.group_names(&w.a.clone()), ["Red", "Blue"]);
    assert_eq!(w.group_names(&w.b.clone()), ["Red"], "names are per course");

    // The same file again: every group found (by idnumber, else by name), nothing to change.
    let again = w.run(
        P,
        &[],
        FULL,
        &["A;Red;;R1;the red one", "A;Blue;GROUP;;", "B;Red;group;R1;"],
    );
    assert_eq!(again.kinds(), [Unchanged, Unchanged, Unchanged]);

    // By idnumber: the group is renamed. By name: present columns apply.
    let result = w.row(P, &[], "courseid;name;idnumber", "A;Crimson;R1");
    assert_eq!(result.kind, Updated, "{result:?}");
    assert_eq!(result.message, "name: Red → Crimson");
    let result = w.row(P, &[], "courseid;name;description", "A;Blue;cold");
    assert_eq!(result.kind, Updated);
    assert_eq!(result.message, "description: (empty) → cold");
    // An idnumber given, add mode matches by it only: Blue, which has none, is not found, and
    // a second Blue cannot be created. Update mode by name gives it one.
    let result = w.failing(P, &[], "courseid;name;idnumber", "A;Blue;B1");
    assert_eq!(
        result.message,
        "name `Blue` belongs to another group of the course (id 2): add mode found no group \
         with idnumber = B1; to give `Blue` that idnumber, update it (`updateid` = Blue with \
         group_key = name)"
    );
    let result = w.row(
        P,
        &[("group_key", "name")],
        "courseid;name;idnumber;updateid",
        "A;Blue;B1;Blue",
    );
    assert_eq!(
        (result.kind, result.message.as_str()),
        (Updated, "idnumber: (empty) → B1")
    );
    assert_eq!(w.group(&w.a.clone(), "Blue").unwrap().idnumber, "B1");
    assert_eq!(w.group_names(&w.a.clone()), ["Crimson", "Blue"]);
}

#[test]
fn absent_columns_and_empty_cells_keep_unless_empty_clears() {
    let mut w = World::new();
    w.row(P, &[], FULL, "A;Red;;R1;warm");
    // Absent and empty: unchanged.
    let result = w.row(P, &[], "courseid;name", "A;Red");
    assert_eq!(result.kind, Unchanged);
    let result = w.row(P, &[], "courseid;name;idnumber;description", "A;Red;;");
    assert_eq!(result.kind, Unchanged);
    assert_eq!(w.group(&w.a.clone(), "Red").unwrap().description, "warm");
    // empty_clears: the clearable columns present and empty are reset; absent ones stay.
    let clears = [("empty_clears", "1")];
    let result = w.row(P, &clears, "courseid;name;description", "A;Red;");
    assert_eq!(result.kind, Updated);
    assert_eq!(result.message, "description: warm → (empty)");
    let result = w.row(P, &clears, "courseid;name;idnumber", "A;Red;");
    assert_eq!(result.message, "idnumber: R1 → (empty)");
    let red = w.group(&w.a.clone(), "Red").unwrap();
    assert_eq!((red.idnumber.as_str(), red.description.as_str()), ("", ""));
}

#[test]
fn update_mode_finds_by_the_key_option_and_creates_what_it_misses() {
    let mut w = World::new();
    w.with_groups(&w.a.clone(), &[("Red", "R1")]);
    let header = "courseid;name;updateid;description";
    let result = w.row(P, &[], header, "A;Crimson;R1;");
    assert_eq!(result.kind, Updated);
    assert_eq!(result.message, "name: Red → Crimson");
    // Not found by idnumber, no idnumber cell: created with the updateid as its idnumber.
    let result = w.row(P, &[], header, "A;Green;G7;grass");
    assert_eq!(result.kind, Created, "{result:?}");
    assert_eq!(
        result.message,
        "no group with idnumber = G7 to update: created"
    );
    let green = w.group(&w.a.clone(), "Green").unwrap();
    assert_eq!(
        (green.idnumber.as_str(), green.description.as_str()),
        ("G7", "grass")
    );
    // The same row again finds it.
    assert_eq!(w.row(P, &[], header, "A;Green;G7;grass").kind, Unchanged);
    // An idnumber cell wins over the updateid for the new group.
    let result = w.row(P, &[], "courseid;name;updateid;idnumber", "A;Grey;G8;GR");
    assert_eq!(result.kind, Created);
    assert_eq!(w.group(&w.a.clone(), "Grey").unwrap().idnumber, "GR");

    // group_key = name: found by name, renamed; missing: created without an idnumber.
    let by_name = [("group_key", "name")];
    let result = w.row(P, &by_name, "courseid;name;updateid", "A;Scarlet;Crimson");
    assert_eq!(result.message, "name: Crimson → Scarlet");
    let result = w.row(P, &by_name, "courseid;name;updateid", "A;Pink;Rose");
    assert_eq!(result.kind, Created);
    assert_eq!(
        result.message,
        "no group with name = Rose to update: created"
    );
    assert_eq!(w.group(&w.a.clone(), "Pink").unwrap().idnumber, "");

    // group_key = id.
    let id = w.group(&w.a.clone(), "Scarlet").unwrap().id.to_string();
    let result = w.row(
        P,
        &[("group_key", "id")],
        "courseid;name;updateid",
        &format!("A;Ruby;{id}"),
    );
    assert_eq!(result.message, "name: Scarlet → Ruby");
    // A group of another course is not found: B gets a new one.
    let result = w.row(P, &[], header, "B;Crimson;R1;");
    assert_eq!(result.kind, Created);
    assert_eq!(w.group(&w.b.clone(), "Crimson").unwrap().idnumber, "R1");
}

#[test]
fn groupings_are_created_and_updated_by_grouping_key() {
    let mut w = World::new();
    let header = "courseid;name;type;idnumber;updateid";
    let result = w.row(P, &[], header, "A;Team;grouping;T1;");
    assert_eq!(result.kind, Created);
    assert_eq!(result.subject, "A/Team (grouping)");
    // A group and a grouping may share a name and an idnumber.
    assert_eq!(w.row(P, &[], header, "A;Team;group;T1;").kind, Created);
    let result = w.row(P, &[], header, "A;Squad;grouping;;T1");
    assert_eq!(result.kind, Updated);
    assert_eq!(result.message, "name: Team → Squad");
    assert_eq!(w.grouping_names(&w.a.clone()), ["Squad"]);
    assert_eq!(w.group_names(&w.a.clone()), ["Team"], "the group stays");
    // grouping_key, not group_key, finds groupings.
    let result = w.row(
        P,
        &[("grouping_key", "name"), ("group_key", "id")],
        header,
        "A;Crew;grouping;;Squad",
    );
    assert_eq!(result.message, "name: Squad → Crew");
    let result = w.row(P, &[], header, "A;Band;grouping;;X9");
    assert_eq!(result.kind, Created);
    assert_eq!(
        result.message,
        "no grouping with idnumber = X9 to update: created"
    );
    assert_eq!(w.grouping(&w.a.clone(), "Band").unwrap().idnumber, "X9");
}

#[test]
fn a_group_joins_the_named_grouping_and_never_leaves_another() {
    let mut w = World::new();
    w.run(
        P,
        &[],
        "courseid;name;type;idnumber",
        &["A;Team;grouping;T1", "A;Club;grouping;C1"],
    );
    let header = "courseid;name;idnumber;grouping";
    let result = w.row(P, &[], header, "A;Red;R1;T1");
    assert_eq!(result.kind, Created);
    assert_eq!(result.message, "joined grouping `Team`");
    // Already in it: nothing changes.
    let result = w.row(P, &[], header, "A;Red;R1;T1");
    assert_eq!((result.kind, result.message.as_str()), (Unchanged, ""));
    // Another grouping (by name with grouping_key): an existing group joining is updated.
    let result = w.row(P, &[("grouping_key", "name")], header, "A;Red;R1;Club");
    assert_eq!(result.kind, Updated);
    assert_eq!(result.message, "joined grouping `Club`");
    assert_eq!(w.bound(&w.a.clone(), "Team"), ["Red"]);
    assert_eq!(w.bound(&w.a.clone(), "Club"), ["Red"]);
    // An empty cell joins nothing.
    assert_eq!(w.row(P, &[], header, "A;Red;R1;").kind, Unchanged);
}

#[test]
fn selfgrouping_puts_the_group_in_a_grouping_of_its_name() {
    let mut w = World::new();
    let header = "courseid;name;selfgrouping";
    let result = w.row(P, &[], header, "A;Red;1");
    assert_eq!(result.kind, Created);
    assert_eq!(
        result.message,
        "grouping `Red` created; joined grouping `Red`"
    );
    assert_eq!(w.bound(&w.a.clone(), "Red"), ["Red"]);
    assert_eq!(w.grouping(&w.a.clone(), "Red").unwrap().idnumber, "");
    assert_eq!(w.row(P, &[], header, "A;Red;yes").kind, Unchanged);
    // An existing grouping of that name is used; 0 and empty do nothing.
    w.row(P, &[], "courseid;name;type", "A;Blue;grouping");
    let result = w.row(P, &[], header, "A;Blue;true");
    assert_eq!(result.message, "joined grouping `Blue`");
    assert_eq!(w.row(P, &[], header, "A;Green;0").message, "");
    assert_eq!(w.row(P, &[], header, "A;Grey;").message, "");
    assert_eq!(w.grouping_names(&w.a.clone()), ["Red", "Blue"]);
}

#[test]
fn group_columns_on_a_grouping_row_fail() {
    let mut w = World::new();
    w.row(P, &[], "courseid;name;type;idnumber", "A;Team;grouping;T1");
    let header = "courseid;name;type;grouping;selfgrouping";
    let result = w.failing(P, &[], header, "A;Club;grouping;T1;");
    assert_eq!(
        result.message,
        "`grouping` = `T1` on a grouping row: only a group joins a grouping"
    );
    assert_eq!(result.subject, "A/Club (grouping)");
    let result = w.failing(P, &[], header, "A;Club;grouping;;Yes");
    assert_eq!(
        result.message,
        "`selfgrouping` = `Yes` on a grouping row: only a group is put in a grouping"
    );
    assert_eq!(w.row(P, &[], header, "A;Club;grouping;;0").kind, Created);
}

#[test]
fn every_failure_names_its_value_and_leaves_nothing() {
    let mut w = World::new();
    w.with_groups(&w.a.clone(), &[("Red", "R1"), ("Blue", "B1")]);
    let header = "courseid;name;type;idnumber;updateid;grouping";
    let long_name = "x".repeat(255);
    let too_long = format!("A;{long_name};;;;");
    let cases: [(&str, &str); 10] = [
        ("Z;Red;;;;", "course not found: no course with shortname = Z"),
        (";Red;;;;", "missing `courseid`"),
        ("A;;;;;", "missing `name`"),
        ("A;Red;team;;;", "`type`: `team` is not one of group, grouping"),
        // The new group is created before its grouping is looked up: it goes too.
        ("A;Green;;G1;;G9", "no grouping with idnumber = G9 in course A"),
        // Found by updateid, then by idnumber, and renamed to a name in use.
        (
            "A;Blue;;;R1;",
            "name `Blue` belongs to another group of the course (id 2)",
        ),
        (
            "A;Blue;;R1;;",
            "name `Blue` belongs to another group of the course (id 2)",
        ),
        // Not found by its idnumber: created, with a name in use.
        (
            "A;Red;;R9;;",
            "with idnumber = R9; to give `Red` that idnumber, update it (`updateid` = Red with group_key = name)",
        ),
        (
            "A;Red;;B1;R1;",
            "idnumber `B1` belongs to another group of the course (id 2)",
        ),
        (&too_long, "has 255 characters, at most 254 allowed"),
    ];
    for (row, reason) in cases {
        let result = w.failing(P, &[], header, row);
        assert!(result.message.ends_with(reason), "{row}: {result:?}");
    }
    let result = w.failing(P, &[], "courseid;name;type", "Z;Team;grouping");
    assert_eq!(result.subject, "Z/Team (grouping)");
    let result = w.failing(P, &[], "courseid;name;selfgrouping", "A;Red;maybe");
    assert!(
        result.message.starts_with("`selfgrouping`: `maybe`"),
        "{result:?}"
    );
    assert_eq!(
        result.subject, "A/Red",
        "named though its cells did not convert"
    );
    let result = w.failing(P, &[("course_key", "idnumber")], "courseid;name", "A;Red");
    assert_eq!(
        result.message,
        "course not found: no course with idnumber = A"
    );
    // Later rows run normally.
    let report = w.run(P, &[], "courseid;name", &["Z;Red", "A;Green"]);
    assert_eq!(report.kinds(), [Failed, Created]);
}

#[test]
fn course_key_selects_the_course_field() {
    let mut w = World::new();
    let result = w.row(
        P,
        &[("course_key", "idnumber")],
        "courseid;name",
        "B-ID;Red",
    );
    assert_eq!(
        (result.kind, result.subject.as_str()),
        (Created, "B-ID/Red")
    );
    let id = w.b.id.to_string();
    let result = w.row(
        P,
        &[("course_key", "id")],
        "courseid;name",
        &format!("{id};Red"),
    );
    assert_eq!(result.kind, Unchanged);
    assert_eq!(w.group_names(&w.b.clone()), ["Red"]);
}

#[test]
fn courseid_and_name_are_required_columns() {
    let refusal = Runner::new(P)
        .run(
            &mut World::new().store,
            &["courseid", "type"],
            &[&["A", "group"]],
        )
        .unwrap_err();
    assert!(
        refusal.reason().contains("`name` is missing"),
        "{}",
        refusal.reason()
    );
}
