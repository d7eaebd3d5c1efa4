use super::purge::SCOPE_SPACE;
use super::GroupMembers as P;
use crate::testkit::World;
use serde_json::{json, Value};
use toolsync_plugin_api::model::{GroupKey, Groups};
use toolsync_plugin_api::testing::Runner;
use toolsync_plugin_api::OutcomeKind::{Created, Deleted, Failed, Unchanged, Updated};

const HEADER: &str = "courseid;groupid;userid;cmd";

/// A world with the groups Red (R1) and Blue (B1) in A, Green (G1) in B.
fn world() -> World {
    let mut w = World::new();
    w.with_groups(&w.a.clone(), &[("Red", "R1"), ("Blue", "B1")]);
    w.with_groups(&w.b.clone(), &[("Green", "G1")]);
    w
}

/// The scope entries left in the store (the purge removes them all).
fn scope_entries(w: &World) -> usize {
    w.store.count(&format!("group-members:{SCOPE_SPACE}"))
}

#[test]
fn add_joins_a_participant_and_again_is_unchanged() {
    let mut w = world();
    let result = w.row(P, &[], HEADER, "A;R1;U1;add");
    assert_eq!(result.kind, Created, "{result:?}");
    assert_eq!(result.subject, "U1 in A/R1");
    assert_eq!(result.message, "ann joined `Red`");
    for cmd in ["add", "ADD", ""] {
        let result = w.row(P, &[], HEADER, &format!("A;R1;U1;{cmd}"));
        assert_eq!(result.kind, Unchanged, "{cmd}");
        assert_eq!(result.message, "already a member");
    }
    // No cmd column: add.
    assert_eq!(
        w.row(P, &[], "courseid;groupid;userid", "A;R1;U2").kind,
        Created
    );
    assert_eq!(w.members(&w.a.clone(), "Red"), ["ann", "bob"]);
}

#[test]
fn a_role_is_enough_and_no_participation_fails() {
    let mut w = world();
    // dee holds a role in A without an enrolment (and no idnumber: found by username).
    let by_username = [("user_key", "username")];
    let result = w.row(P, &by_username, HEADER, "A;R1;dee;add");
    assert_eq!(result.kind, Created, "{result:?}");
    // cid takes part in no course; dee's role is in A, not in B.
    let result = w.failing(P, &[], HEADER, "A;R1;U3;add");
    assert_eq!(
        result.message,
        "account U3 (cid) holds no enrolment or role in course A: only a participant joins its groups"
    );
    let result = w.failing(P, &by_username, HEADER, "B;G1;dee;shift");
    assert_eq!(
        result.message,
        "account dee (dee) holds no enrolment or role in course B: only a participant joins its groups"
    );
}

#[test]
fn shift_leaves_the_other_groups_of_the_course_only() {
    let mut w = world();
    w.run(P, &[], HEADER, &["A;R1;U2;", "B;G1;U2;"]);
    let result = w.row(P, &[], HEADER, "A;B1;U2;shift");
    assert_eq!(result.kind, Updated, "{result:?}");
    assert_eq!(result.message, "left `Red`; bob joined `Blue`");
    assert!(w.members(&w.a.clone(), "Red").is_empty());
    assert_eq!(w.members(&w.a.clone(), "Blue"), ["bob"]);
    assert_eq!(
        w.members(&w.b.clone(), "Green"),
        ["bob"],
        "another course's group stays"
    );
    // A member of this group and of no other: unchanged.
    let result = w.row(P, &[], HEADER, "A;B1;U2;SHIFT");
    assert_eq!(
        (result.kind, result.message.as_str()),
        (Unchanged, "already a member, of no other group")
    );
    // A member of this group and of another: updated, without joining again.
    w.row(P, &[], HEADER, "A;R1;U2;add");
    let result = w.row(P, &[], HEADER, "A;B1;U2;shift");
    assert_eq!(
        (result.kind, result.message.as_str()),
        (Updated, "left `Red`")
    );
    // In no group: only added.
    let result = w.row(P, &[], HEADER, "A;R1;U1;shift");
    assert_eq!(
        (result.kind, result.message.as_str()),
        (Created, "ann joined `Red`")
    );
}

#[test]
fn del_removes_a_membership_or_finds_none() {
    let mut w = world();
    w.row(P, &[], HEADER, "A;R1;U2;add");
    let result = w.row(P, &[], HEADER, "A;R1;U2;del");
    assert_eq!(
        (result.kind, result.message.as_str()),
        (Deleted, "bob left `Red`")
    );
    assert!(w.members(&w.a.clone(), "Red").is_empty());
    let result = w.row(P, &[], HEADER, "A;R1;U2;Del");
    assert_eq!(
        (result.kind, result.message.as_str()),
        (Unchanged, "not a member")
    );
    // A non-participant is no member: nothing to remove, nothing fails.
    assert_eq!(w.row(P, &[], HEADER, "A;R1;U3;del").kind, Unchanged);
}

#[test]
fn every_failure_names_its_value_and_leaves_nothing() {
    let mut w = world();
    w.row(P, &[], HEADER, "A;R1;U2;add");
    let cases = [
        (
            "Z;R1;U1;add",
            "course not found: no course with shortname = Z",
        ),
        ("A;G1;U1;add", "no group with idnumber = G1 in course A"),
        ("A;R1;U9;add", "no user with idnumber = U9"),
        ("A;R1;U5;add", "`userid`: account deleted (eve)"),
        ("A;R1;;add", "missing `userid`"),
        ("A;;U1;add", "missing `groupid`"),
        (";R1;U1;add", "missing `courseid`"),
        (
            "A;R1;U1;join",
            "`cmd`: `join` is not one of add, shift, del",
        ),
        ("A;B1;U3;shift", "account U3 (cid) holds no enrolment"),
    ];
    for (row, reason) in cases {
        let result = w.failing(P, &[], HEADER, row);
        assert!(result.message.starts_with(reason), "{row}: {result:?}");
    }
    assert_eq!(w.members(&w.a.clone(), "Red"), ["bob"]);
    // Later rows run normally.
    let report = w.run(P, &[], HEADER, &["A;R9;U1;", "A;B1;U1;"]);
    assert_eq!(report.kinds(), [Failed, Created]);
    let result = w.failing(P, &[], HEADER, "A;R1;U3;shift");
    assert_eq!(result.subject, "U3 in A/R1");
}

#[test]
fn the_key_options_select_the_fields() {
    let mut w = world();
    let red = w.group(&w.a.clone(), "Red").unwrap().id.to_string();
    let options = [
        ("course_key", "idnumber"),
        ("group_key", "name"),
        ("user_key", "username"),
    ];
    let result = w.row(P, &options, HEADER, "A-ID;Blue;ann;add");
    assert_eq!(result.kind, Created);
    let result = w.row(
        P,
        &[("group_key", "id")],
        HEADER,
        &format!("A;{red};U1;add"),
    );
    assert_eq!(result.kind, Created);
    let result = w.failing(P, &[("group_key", "name")], HEADER, "A;R1;U1;add");
    assert_eq!(result.message, "no group with name = R1 in course A");
    assert_eq!(w.members(&w.a.clone(), "Blue"), ["ann"]);
    assert_eq!(w.members(&w.a.clone(), "Red"), ["ann"]);
}

#[test]
fn without_a_purge_nothing_is_deleted_nor_recorded() {
    let mut w = world();
    let report = w.run(P, &[], HEADER, &["A;R1;U1;add"]);
    assert_eq!(report.details_json, "");
    assert!(report.report_lines.is_empty());
    assert_eq!(w.group_names(&w.a.clone()), ["Red", "Blue"]);
    assert_eq!(scope_entries(&w), 0);
}

#[test]
fn the_purge_deletes_empty_groups_of_the_file_courses_only() {
    let mut w = world();
    w.with_groups(&w.a.clone(), &[("Empty", "")]);
    let report = w.run(
        P,
        &[("purge_empty_groups", "groups")],
        HEADER,
        // bob leaves Red (now empty); the failed row names B, which is not purged.
        &["A;R1;U1;add", "A;B1;U2;add", "B;G1;U3;add"],
    );
    assert_eq!(report.kinds(), [Created, Created, Failed]);
    assert_eq!(w.group_names(&w.a.clone()), ["Red", "Blue"]);
    assert_eq!(
        w.group_names(&w.b.clone()),
        ["Green"],
        "B is not the file's"
    );
    let details: Value = serde_json::from_str(&report.details_json).unwrap();
    assert_eq!(
        details,
        json!({ "purged": { "groups": [{ "course": "A", "name": "Empty" }], "groupings": [] } })
    );
    assert_eq!(
        report.report_lines,
        [
            "purge_empty_groups = groups: 1 group deleted in the 1 course of this file",
            "purged group: A/Empty",
        ]
    );
    assert_eq!(scope_entries(&w), 0, "the purge removes what it read");

    // A group emptied by the file's own rows goes; an unchanged row's course counts.
    let report = w.run(
        P,
        &[("purge_empty_groups", "groups")],
        HEADER,
        &["A;R1;U1;del", "B;G1;U2;del"],
    );
    assert_eq!(report.kinds(), [Deleted, Unchanged]);
    assert_eq!(w.group_names(&w.a.clone()), ["Blue"]);
    assert!(w.group_names(&w.b.clone()).is_empty());
    assert_eq!(
        report.report_lines[0],
        "purge_empty_groups = groups: 2 groups deleted in the 2 courses of this file"
    );
}

#[test]
fn groups_and_groupings_also_deletes_the_groupings_left_without_groups() {
    let mut w = world();
    {
        let mut txn = w.store.txn();
        let a = w.a.clone();
        let red = Groups::find_group(&txn, a.id, GroupKey::Name, "Red")
            .unwrap()
            .unwrap();
        let blue = Groups::find_group(&txn, a.id, GroupKey::Name, "Blue")
            .unwrap()
            .unwrap();
        let of_red = Groups::create_grouping(&mut txn, &a, "Of red", "", 1).unwrap();
        let of_blue = Groups::create_grouping(&mut txn, &a, "Of blue", "", 1).unwrap();
        Groups::create_grouping(&mut txn, &a, "Of none", "", 1).unwrap();
        Groups::bind(&mut txn, &of_red, &red).unwrap();
        Groups::bind(&mut txn, &of_blue, &blue).unwrap();
    }
    let options = [("purge_empty_groups", "groups_and_groupings")];
    let report = w.run(P, &options, HEADER, &["A;B1;U1;add"]);
    assert_eq!(w.group_names(&w.a.clone()), ["Blue"]);
    assert_eq!(w.grouping_names(&w.a.clone()), ["Of blue"]);
    let details: Value = serde_json::from_str(&report.details_json).unwrap();
    assert_eq!(
        details["purged"],
        json!({
            "groups": [{ "course": "A", "name": "Red" }],
            "groupings": [{ "course": "A", "name": "Of red" }, { "course": "A", "name": "Of none" }],
        })
    );
    assert_eq!(
        report.report_lines,
        [
            "purge_empty_groups = groups_and_groupings: 1 group and 2 groupings deleted in the 1 course of this file",
            "purged group: A/Red",
            "purged grouping: A/Of red",
            "purged grouping: A/Of none",
        ]
    );
}

#[test]
fn a_file_without_a_successful_row_purges_nothing() {
    let mut w = world();
    let report = w.run(
        P,
        &[("purge_empty_groups", "groups")],
        HEADER,
        &["A;R1;U3;add"],
    );
    assert_eq!(report.kinds(), [Failed]);
    assert_eq!(w.group_names(&w.a.clone()), ["Red", "Blue"]);
    assert_eq!(
        report.report_lines,
        ["purge_empty_groups = groups: 0 groups deleted in the 0 courses of this file"]
    );
}

/// What a run that never purged (stopped by `--max-errors`) recorded is not the next run's:
/// it is removed, and its courses are not purged.
#[test]
fn another_run_s_scope_is_ignored_and_removed() {
    let mut w = world();
    // A run started at 1 that recorded B and stopped before its finish: its entry.
    {
        let mut txn = w.store.txn_as("group-members");
        let mut key = b"1 groupmembers.csv\0".to_vec();
        key.extend_from_slice(&w.b.id.to_be_bytes());
        txn.data().put(SCOPE_SPACE, &key, &[]).unwrap();
    }
    assert_eq!(scope_entries(&w), 1);
    let report = w.run(
        P,
        &[("purge_empty_groups", "groups")],
        HEADER,
        &["A;R1;U1;add"],
    );
    assert_eq!(
        w.group_names(&w.b.clone()),
        ["Green"],
        "B is not this file's"
    );
    assert_eq!(w.group_names(&w.a.clone()), ["Red"]);
    assert_eq!(scope_entries(&w), 0);
    assert_eq!(
        report.report_lines[0],
        "purge_empty_groups = groups: 1 group deleted in the 1 course of this file"
    );
}

#[test]
fn the_three_key_columns_are_required() {
    let refusal = Runner::new(P)
        .run(
            &mut world().store,
            &["courseid", "groupid"],
            &[&["A", "R1"]],
        )
        .unwrap_err();
    assert!(
        refusal.reason().contains("`userid` is missing"),
        "{}",
        refusal.reason()
    );
}

/// The brake: `del` and `shift` rows that would remove more than `max_delete_ratio` of the
/// memberships (from `max_delete_min` on) refuse the file before any row.
#[test]
fn mass_removals_are_refused_unless_forced() {
    use toolsync_plugin_api::testing::Refusal;
    let mut w = world();
    // Four memberships: ann and bob in Red and in Blue.
    w.run(
        P,
        &[],
        HEADER,
        &["A;R1;U1;add", "A;B1;U1;add", "A;R1;U2;add", "A;B1;U2;add"],
    );
    // ann leaves both groups (del, del), bob shifts to Red (leaves Blue): 3 of 4.
    let rows = ["A;R1;U1;del", "A;B1;U1;del", "A;R1;U2;shift", "A;R1;U1;del"];
    let refused =
        Runner::new(P)
            .option("max_delete_min", "2")
            .run_lines(&mut w.store, HEADER, &rows, ';');
    let why = Refusal::expect_survey(refused);
    assert!(
        why.contains("would remove 3 of the 4 group memberships"),
        "{why}"
    );
    assert_eq!(w.members(&w.a.clone(), "Red").len(), 2, "nothing applied");
    // Under the default minimum (10 removals), the same file passes.
    let report = w.run(P, &[], HEADER, &rows);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(w.members(&w.a.clone(), "Blue").len(), 0);
    // A file of adds only (or without `cmd`) is not even surveyed.
    let report = w.run(P, &[], "courseid;groupid;userid", &["A;R1;U1"]);
    assert_eq!(report.kinds(), vec![Created]);
}
