//! cohorts and cohort-courses end to end (formats.md §3.11, §3.12): the real binary, the users,
//! courses, enrolments and cohorts plugins, a real store. Accounts ann (U1), bob (U2), cy (U3),
//! dan (U4) and courses A, B are made by the real processors.

mod common;
use common::*;

use serde_json::Value;

fn world() -> World {
    let world = World::cohorts();
    let users = world.file(
        "users.csv",
        "username;firstname;lastname;idnumber\nann;Ann;A;U1\nbob;Bob;B;U2\ncy;Cy;C;U3\ndan;Dan;D;U4\n",
    );
    let (code, report) = world.run_json("users", &users, &[]);
    assert_eq!(code, 0, "{report}");
    let courses = world.file(
        "courses.csv",
        "shortname;fullname;category\nA;Course A;Cat\nB;Course B;Cat\n",
    );
    let (code, report) = world.run_json("course-create", &courses, &[]);
    assert_eq!(code, 0, "{report}");
    world
}

/// Runs a file; returns the exit code and each row as `outcome: message` (failed rows: the
/// reason), in file order.
fn rows(
    world: &World,
    processor: &str,
    name: &str,
    content: &str,
    extra: &[&str],
) -> (i32, Vec<String>) {
    let file = world.file(name, content);
    let mut args = vec!["--report", "full"];
    args.extend_from_slice(extra);
    let (code, report) = world.run_json(processor, &file, &args);
    let rows = report["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in {report}"))
        .iter()
        .map(|r| {
            let text = r["message"].as_str().or(r["reason"].as_str()).unwrap_or("");
            format!("{}: {text}", r["outcome"].as_str().unwrap_or("?"))
        })
        .collect();
    (code, rows)
}

fn show_enrolment(world: &World, user: &str, course: &str) -> Option<Value> {
    let run = world.run(&["show", "enrolment", user, course]);
    match run.code() {
        0 => Some(serde_json::from_slice(&run.output.stdout).unwrap()),
        1 => None,
        code => panic!("show enrolment: exit {code}: {}", run.stderr()),
    }
}

/// The methods a user is enrolled through in a course, with their state: `cohort:active`.
fn methods(world: &World, user: &str, course: &str) -> Vec<String> {
    let Some(shown) = show_enrolment(world, user, course) else {
        return Vec::new();
    };
    let mut found: Vec<String> = shown["enrolments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["method"].as_str().unwrap(),
                e["status"].as_str().unwrap()
            )
        })
        .collect();
    found.sort();
    found
}

/// The stored participation, stamps left out: compared before and after a run.
fn participation(world: &World) -> Vec<String> {
    exports_without_stamps(
        world,
        &[
            "enrol-instances",
            "enrolments",
            "role-assignments",
            "groups",
            "group-members",
        ],
    )
}

const CLASS: &str = "cidnumber;cname;userid\n3A;Class 3A;U1\n3A;Class 3A;U2\n";

#[test]
fn members_and_bindings_keep_the_courses_in_step() {
    let world = world();
    let (code, done) = rows(&world, "cohorts", "cohorts.csv", CLASS, &[]);
    assert_eq!(code, 0, "{done:?}");
    assert_eq!(
        done,
        [
            "created: cohort `Class 3A` created; ann joined",
            "created: bob joined"
        ]
    );
    let (code, done) = rows(
        &world,
        "cohort-courses",
        "bind.csv",
        "cohort;course;role;enrolstart;makegroup\n3A;A;student;2026-09-01;1\n3A;B;teacher;;\n",
        &[],
    );
    assert_eq!(code, 0, "{done:?}");
    assert_eq!(
        done,
        [
            "created: members grouped in `Class 3A`; 2 enrolments made",
            "created: 2 enrolments made"
        ]
    );
    let ann = show_enrolment(&world, "ann", "A").expect("enrolled through the binding");
    assert_eq!(ann["enrolments"][0]["method"], "cohort");
    assert_eq!(ann["enrolments"][0]["timestart"], 1_788_220_800);
    assert_eq!(ann["groups"], serde_json::json!(["Class 3A"]));
    assert_eq!(methods(&world, "bob", "B"), ["cohort:active"]);
    // Joining and leaving reach both courses, in the same row.
    let (code, done) = rows(
        &world,
        "cohorts",
        "change.csv",
        "cmd;cidnumber;userid\nadd;3A;U3\ndel;3A;U1\n",
        &[],
    );
    assert_eq!(code, 0, "{done:?}");
    assert_eq!(
        done,
        [
            "created: cy joined; 2 enrolments made",
            "deleted: ann left; 2 enrolments removed"
        ]
    );
    assert_eq!(methods(&world, "cy", "A"), ["cohort:active"]);
    assert!(methods(&world, "ann", "A").is_empty());
    assert!(methods(&world, "ann", "B").is_empty());
    world.assert_consistent();
    // Disabling suspends, restore brings back; a member joining while disabled waits.
    let (_, done) = rows(
        &world,
        "cohort-courses",
        "del.csv",
        "cohort;course;cmd;role\n3A;A;del;*\n",
        &[],
    );
    assert_eq!(done, ["updated: 1 binding disabled; 2 enrolments updated"]);
    assert_eq!(methods(&world, "bob", "A"), ["cohort:suspended"]);
    rows(
        &world,
        "cohorts",
        "dan.csv",
        "cidnumber;userid\n3A;U4\n",
        &[],
    );
    assert!(methods(&world, "dan", "A").is_empty());
    assert_eq!(methods(&world, "dan", "B"), ["cohort:active"]);
    world.assert_consistent();
    let (_, done) = rows(
        &world,
        "cohort-courses",
        "restore.csv",
        "cohort;course;cmd\n3A;A;restore\n",
        &[],
    );
    assert_eq!(
        done,
        ["updated: 1 binding re-enabled; 1 enrolment made, 2 updated"]
    );
    assert_eq!(methods(&world, "dan", "A"), ["cohort:active"]);
    world.assert_consistent();
}

#[test]
fn a_manual_enrolment_survives_the_bindings_removal_and_the_group_stays() {
    let world = world();
    rows(&world, "cohorts", "cohorts.csv", CLASS, &[]);
    rows(
        &world,
        "cohort-courses",
        "bind.csv",
        "cohort;course;makegroup\n3A;A;1\n",
        &[],
    );
    let (code, done) = rows(
        &world,
        "enrolments",
        "manual.csv",
        "rolename;uid;cid;enrol\nteacher;U2;A;manual\n",
        &[],
    );
    assert_eq!(code, 0, "{done:?}");
    // A row of the enrolments processor cannot undo what the binding made.
    let (code, done) = rows(
        &world,
        "enrolments",
        "del.csv",
        "cmd;rolename;uid;cid\ndel;student;U1;A\n",
        &[],
    );
    assert_eq!(code, 0, "{done:?}");
    assert_eq!(methods(&world, "ann", "A"), ["cohort:active"]);
    let (code, done) = rows(
        &world,
        "cohort-courses",
        "fulldel.csv",
        "cohort;course;cmd\n3A;A;fulldel\n",
        &[],
    );
    assert_eq!(code, 0, "{done:?}");
    assert_eq!(done, ["deleted: 1 binding removed; 2 enrolments removed"]);
    assert!(methods(&world, "ann", "A").is_empty());
    let bob = show_enrolment(&world, "bob", "A").expect("the manual enrolment stays");
    assert_eq!(bob["enrolments"][0]["method"], "manual");
    assert_eq!(bob["roles"][0]["role"], "teacher");
    let groups = world.run(&["export", "groups", "--format", "csv"]).stdout();
    assert!(groups.contains("Class 3A"), "the group stays: {groups}");
    world.assert_consistent();
}

#[test]
fn deleting_a_cohort_or_an_account_takes_what_it_produced() {
    let world = world();
    rows(&world, "cohorts", "cohorts.csv", CLASS, &[]);
    rows(
        &world,
        "cohorts",
        "cohorts.csv",
        "cidnumber;cname;userid\n4B;Class 4B;U1\n",
        &[],
    );
    rows(
        &world,
        "cohort-courses",
        "bind.csv",
        "cohort;course\n3A;A\n3A;B\n4B;B\n",
        &[],
    );
    // Soft-deleting ann: her memberships and the enrolments they made go.
    let deleted = world.file("delete.csv", "username;deleted\nann;1\n");
    let (code, report) = world.run_json("users", &deleted, &[]);
    assert_eq!(code, 0, "{report}");
    assert!(methods(&world, "ann", "A").is_empty() && methods(&world, "ann", "B").is_empty());
    world.assert_consistent();
    // Deleting 3A: its members and bindings, and bob's enrolments, in one row.
    let (code, done) = rows(&world, "cohorts", "del.csv", "cmd;cidnumber\ndel;3A\n", &[]);
    assert_eq!(code, 0, "{done:?}");
    assert_eq!(
        done,
        ["deleted: cohort `Class 3A` deleted with 1 member and 2 course bindings; 2 enrolments removed"]
    );
    assert!(methods(&world, "bob", "A").is_empty());
    world.assert_consistent();
}

#[test]
fn failed_rows_name_their_reason_and_dry_runs_write_nothing() {
    let world = world();
    rows(&world, "cohorts", "cohorts.csv", CLASS, &[]);
    let before = participation(&world);
    let (code, done) = rows(
        &world,
        "cohorts",
        "bad.csv",
        "cmd;cidnumber;cname;userid\nadd;3A;;U9\ndel;3A;;U9\nfree;3A;;U1\nadd;3B;;\n",
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(
        done,
        [
            "failed: no user with idnumber = U9",
            "failed: no user with idnumber = U9",
            "failed: `free` empties the whole cohort: leave `userid` empty",
            "failed: missing `cname`: a new cohort needs a name",
        ]
    );
    let (code, done) = rows(
        &world,
        "cohort-courses",
        "bad.csv",
        "cohort;course;cmd;role;enrol\n3B;A;;;\n3A;Z;;;\n3A;A;add;*;\n3A;A;;dean;\n3A;A;;;manual\n",
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(done.len(), 5);
    assert!(done.iter().all(|d| d.starts_with("failed: ")), "{done:?}");
    assert_eq!(done[0], "failed: no cohort with idnumber = 3B");
    // Dry runs: every row reported as it would be, nothing stored.
    let (code, done) = rows(
        &world,
        "cohort-courses",
        "dry.csv",
        "cohort;course;makegroup\n3A;A;1\n3A;B;\n",
        &["--dry-run"],
    );
    assert_eq!(code, 0);
    assert_eq!(
        done[0],
        "created: members grouped in `Class 3A`; 2 enrolments made"
    );
    let (code, _) = rows(
        &world,
        "cohorts",
        "dry.csv",
        "cmd;cidnumber;userid\nadd;3A;U3\ndel;3A;\n",
        &["--dry-run"],
    );
    assert_eq!(code, 0);
    assert_eq!(participation(&world), before, "a dry run writes nothing");
    let (_, done) = rows(
        &world,
        "cohorts",
        "again.csv",
        "cidnumber;userid\n3A;U3\n",
        &[],
    );
    assert_eq!(
        done,
        ["created: cy joined"],
        "the cohort was not deleted by the dry run"
    );
    world.assert_consistent();
}

/// Binding a large cohort is one row that makes every enrolment and says how many.
#[test]
fn binding_a_large_cohort_is_one_row_with_its_counts() {
    const MEMBERS: usize = 3_000;
    let world = world();
    let mut users = String::from("username;firstname;lastname;idnumber\n");
    let mut members = String::from("cidnumber;cname;userid\n");
    for i in 0..MEMBERS {
        users.push_str(&format!("m{i};M;{i};M{i}\n"));
        members.push_str(&format!("BIG;Big class;M{i}\n"));
    }
    let file = world.file("many.csv", users);
    assert_eq!(world.run_json("users", &file, &[]).0, 0);
    let (code, _) = rows(&world, "cohorts", "members.csv", &members, &[]);
    assert_eq!(code, 0);
    let (code, done) = rows(
        &world,
        "cohort-courses",
        "bind.csv",
        "cohort;course;makegroup\nBIG;A;1\nBIG;B;\n",
        &[],
    );
    assert_eq!(code, 0, "{done:?}");
    assert_eq!(
        done,
        [
            format!("created: members grouped in `Big class`; {MEMBERS} enrolments made"),
            format!("created: {MEMBERS} enrolments made"),
        ]
    );
    let enrolments = world
        .run(&["export", "enrolments", "--format", "json"])
        .stdout();
    let enrolments: Vec<Value> = serde_json::from_str(&enrolments).unwrap();
    assert_eq!(enrolments.len(), 2 * MEMBERS);
    world.assert_consistent();
}

/// `--set` options a CSV export's `# note` asks for (`--set cohort_key=name ...`).
fn options_of_note(csv: &str) -> Vec<String> {
    let Some(note) = csv.lines().next().filter(|l| l.starts_with('#')) else {
        return Vec::new();
    };
    let words: Vec<&str> = note.split_whitespace().collect();
    let mut options = Vec::new();
    for pair in words.windows(2) {
        if pair[0] == "--set" {
            options.push("--set".to_string());
            options.push(pair[1].trim_end_matches(['`', '.', ',']).to_string());
        }
    }
    options
}

/// Each CSV export runs back through its processor and changes nothing: every row
/// `unchanged`, the store as it was. Cohorts with and without an idnumber, a category, a
/// disabled binding, dates and a group.
#[test]
fn the_cohort_exports_run_back_and_change_nothing() {
    let world = world();
    let (code, done) = rows(
        &world,
        "cohorts",
        "cohorts.csv",
        "cidnumber;cname;cdescription;component;userid\n\
         3A;Class 3A;Third year;erp;U1\n3A;Class 3A;;;U2\n4B;Class 4B;;;U3\n",
        &[],
    );
    assert_eq!(code, 0, "{done:?}");
    rows(
        &world,
        "cohorts",
        "named.csv",
        "cname;userid\nNo number;U4\n",
        &[("--set"), ("cohort_key=name")],
    );
    let (code, done) = rows(
        &world,
        "cohort-courses",
        "bind.csv",
        "cohort;course;cmd;role;enrolstart;enrolend;makegroup\n\
         3A;A;;;2026-09-01;2027-07-01;1\n3A;B;;teacher;;;\n4B;B;;;;;\n4B;B;del;;;;\n",
        &[],
    );
    assert_eq!(code, 0, "{done:?}");
    let shown = world.show("cohort", "3A").expect("shown");
    assert_eq!(shown["members"], 2);
    assert_eq!(shown["courses"], serde_json::json!(["A", "B"]));
    assert_eq!(shown["bindings"].as_array().unwrap().len(), 2);
    let before = participation(&world);
    let cohorts_before =
        exports_without_stamps(&world, &["cohorts", "cohort-members", "cohort-bindings"]);
    for (entity, processor) in [
        ("cohorts", "cohorts"),
        ("cohort-members", "cohorts"),
        ("cohort-bindings", "cohort-courses"),
    ] {
        let csv = world.run(&["export", entity, "--format", "csv"]).stdout();
        let options = options_of_note(&csv);
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        let (code, done) = rows(&world, processor, &format!("{entity}.csv"), &csv, &options);
        assert_eq!(code, 0, "{entity}: {done:?}\n{csv}");
        assert!(!done.is_empty(), "{entity}: {csv}");
        assert!(
            done.iter().all(|d| d.starts_with("unchanged")),
            "{entity} ran back with changes: {done:?}\n{csv}"
        );
    }
    assert_eq!(participation(&world), before);
    assert_eq!(
        exports_without_stamps(&world, &["cohorts", "cohort-members", "cohort-bindings"]),
        cohorts_before
    );
    world.assert_consistent();
}
