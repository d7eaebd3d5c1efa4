//! groups and group-members end to end (formats.md §3.8, §3.9): the real binary, the users,
//! courses and groups plugins, a real store. Accounts and courses are made by the real
//! processors: ann (U1), bob (U2), cid (U3), dee (no idnumber); course A (teachers ann and
//! bob), B (teachers bob and dee), C (nobody); cid takes part in no course.

mod common;
use common::*;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn world() -> World {
    let world = World::with(&[USERS, COURSES, GROUPS]);
    let users = world.file(
        "users.csv",
        "username;firstname;lastname;idnumber\nann;Ann;A;U1\nbob;Bob;B;U2\ncid;Cid;C;U3\ndee;Dee;D;\n",
    );
    let (code, report) = world.run_json("users", &users, &[]);
    assert_eq!(code, 0, "{report}");
    let courses = world.file(
        "courses.csv",
        "shortname;fullname;category;idnumber;teacher1_account;teacher2_account\n\
         A;Course A;Cat;A-ID;ann;bob\nB;Course B;Cat;B-ID;bob;dee\nC;Course C;Cat;C-ID;;\n",
    );
    let (code, report) = world.run_json("course-create", &courses, &[]);
    assert_eq!(code, 0, "{report}");
    world
}

/// A world whose course A has the grouping Team (T-A) holding Red (R-A) and Blue (B-A), and
/// the group Empty; B has Red (R-B) and Lone (L-B, in no grouping), and the grouping Idle.
fn world_with_groups() -> World {
    let world = world();
    let (code, rows) = run_rows(
        &world,
        "groups",
        "setup-groups.csv",
        "courseid;name;type;idnumber;grouping\n\
         A;Team;grouping;T-A;\nA;Red;;R-A;T-A\nA;Blue;;B-A;T-A\nA;Empty;;;\n\
         B;Red;;R-B;\nB;Lone;;L-B;\nB;Idle;grouping;;\n",
        &[],
    );
    assert_eq!(code, 0, "{rows:?}");
    world
}

/// `run <processor> <file> --report full <extra>`: (exit code, the row lines `line n: ...`,
/// then the processor's report lines, which follow the rows).
fn run_rows(
    world: &World,
    processor: &str,
    name: &str,
    content: &str,
    extra: &[&str],
) -> (i32, Vec<String>) {
    let file = world.file(name, content);
    let (code, text) = world.run_text(processor, &file, extra);
    let rows = text
        .lines()
        .skip_while(|l| !l.starts_with("line "))
        .take_while(|l| *l != "end of report")
        .map(str::to_owned)
        .collect();
    (code, rows)
}

fn export(world: &World, entity: &str, format: &str) -> String {
    let run = world.run(&["export", entity, "--format", format]);
    assert_eq!(run.code(), 0, "export {entity}: {}", run.stderr());
    run.stdout()
}

fn export_json(world: &World, entity: &str) -> Vec<Value> {
    serde_json::from_str(&export(world, entity, "json")).expect("export prints JSON")
}

/// `course/name` of every group (or grouping), in export order.
fn names(world: &World, entity: &str) -> Vec<String> {
    export_json(world, entity)
        .iter()
        .map(|g| {
            format!(
                "{}/{}",
                g["course"].as_str().unwrap(),
                g["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// `course/group/user` of every membership.
fn memberships(world: &World) -> Vec<String> {
    export_json(world, "group-members")
        .iter()
        .map(|m| {
            format!(
                "{}/{}/{}",
                m["course"].as_str().unwrap(),
                m["group"].as_str().unwrap(),
                m["user"].as_str().unwrap()
            )
        })
        .collect()
}

fn show(world: &World, entity: &str, course: &str, key: &str) -> Value {
    let run = world.run(&["show", entity, course, key]);
    assert_eq!(
        run.code(),
        0,
        "show {entity} {course} {key}: {}",
        run.stderr()
    );
    serde_json::from_slice(&run.output.stdout).expect("show prints JSON")
}

// ----- groups -------------------------------------------------------------------------------

#[test]
fn groups_are_created_updated_and_put_in_groupings() {
    let world = world();
    let (code, rows) = run_rows(
        &world,
        "groups",
        "groups.csv",
        "courseid;name;type;idnumber;updateid;description;grouping;selfgrouping\n\
         A;Team;grouping;T-A;;The teaching team;;\n\
         A;Red;;R-A;;\"Red, the first\";T-A;\n\
         A;Blue;GROUP;B-A;;;T-A;1\n\
         B;Red;;R-B;;;;\n\
         A;Crimson;;;R-A;;;\n\
         A;Green;;;G-A;grass;;\n\
         A;Squad;grouping;;T-A;;;\n\
         A;Red;;R-A;;;;\n\
         C;Red;grouping;;;;T-A;\n\
         Z;Red;;;;;;\n\
         A;Grey;;;;;NOPE;\n\
         A;Blue;sometimes;;;;;\n",
        &[],
    );
    assert_eq!(code, 1, "{rows:#?}");
    assert_eq!(
        rows,
        [
            "line 2: created: A/Team (grouping)",
            "line 3: created: A/Red: joined grouping `Team`",
            "line 4: created: A/Blue: joined grouping `Team`; grouping `Blue` created; joined grouping `Blue`",
            "line 5: created: B/Red",
            "line 6: updated: A/Crimson: name: Red → Crimson",
            "line 7: created: A/Green: no group with idnumber = G-A to update: created",
            "line 8: updated: A/Squad (grouping): name: Team → Squad",
            "line 9: updated: A/Red: name: Crimson → Red",
            "line 10: failed: C/Red (grouping): `grouping` = `T-A` on a grouping row: only a group joins a grouping",
            "line 11: failed: Z/Red: course not found: no course with shortname = Z",
            "line 12: failed: A/Grey: no grouping with idnumber = NOPE in course A",
            "line 13: failed: A/Blue: `type`: `sometimes` is not one of group, grouping",
        ]
    );
    let red = show(&world, "group", "A", "R-A");
    assert_eq!(red["description"], "Red, the first");
    assert_eq!(show(&world, "group", "A", "G-A")["description"], "grass");
    assert_eq!(
        show(&world, "grouping", "A", "T-A")["groups"],
        json!(["Red", "Blue"])
    );
    assert_eq!(
        show(&world, "grouping", "A", "Blue")["groups"],
        json!(["Blue"])
    );
    assert_eq!(
        names(&world, "groups"),
        ["A/Red", "A/Blue", "A/Green", "B/Red"]
    );
    assert!(
        !names(&world, "groups").iter().any(|n| n == "A/Grey"),
        "a failed row leaves nothing"
    );
    world.assert_consistent();

    // The options: keys by name and by idnumber of the course; empty_clears.
    let (code, rows) = run_rows(
        &world,
        "groups",
        "options.csv",
        "courseid;name;type;updateid;grouping;description;idnumber\n\
         A-ID;Scarlet;;Red;Squad;;\n\
         A-ID;Crew;grouping;Squad;;;\n\
         A-ID;Green;;Green;;;\n",
        &[
            "--set",
            "course_key=idnumber",
            "--set",
            "group_key=name",
            "--set",
            "grouping_key=name",
            "--set",
            "empty_clears=1",
        ],
    );
    assert_eq!(code, 0, "{rows:#?}");
    assert_eq!(
        rows,
        [
            "line 2: updated: A-ID/Scarlet: description: Red, the first → (empty); idnumber: R-A → (empty); name: Red → Scarlet",
            "line 3: updated: A-ID/Crew (grouping): description: The teaching team → (empty); idnumber: T-A → (empty); name: Squad → Crew",
            "line 4: updated: A-ID/Green: description: grass → (empty); idnumber: G-A → (empty)",
        ]
    );
    world.assert_consistent();
}

// ----- group-members ------------------------------------------------------------------------

#[test]
fn members_are_added_moved_and_removed() {
    let world = world_with_groups();
    let (code, rows) = run_rows(
        &world,
        "group-members",
        "groupmembers.csv",
        "courseid;groupid;userid;cmd\n\
         A;R-A;U1;add\n\
         A;R-A;U2;\n\
         A;R-A;U1;ADD\n\
         A;B-A;U2;shift\n\
         A;R-A;U2;del\n\
         A;R-A;U1;del\n\
         B;R-B;U2;shift\n\
         A;R-A;U3;add\n\
         A;NOPE;U1;add\n\
         A;R-A;U9;add\n\
         A;R-A;U1;join\n",
        &[],
    );
    assert_eq!(code, 1, "{rows:#?}");
    assert_eq!(
        rows,
        [
            "line 2: created: U1 in A/R-A: ann joined `Red`",
            "line 3: created: U2 in A/R-A: bob joined `Red`",
            "line 4: unchanged: U1 in A/R-A: already a member",
            "line 5: updated: U2 in A/B-A: left `Red`; bob joined `Blue`",
            "line 6: unchanged: U2 in A/R-A: not a member",
            "line 7: deleted: U1 in A/R-A: ann left `Red`",
            "line 8: created: U2 in B/R-B: bob joined `Red`",
            "line 9: failed: U3 in A/R-A: account U3 (cid) holds no enrolment or role in course A: only a participant joins its groups",
            "line 10: failed: U1 in A/NOPE: no group with idnumber = NOPE in course A",
            "line 11: failed: U9 in A/R-A: no user with idnumber = U9",
            "line 12: failed: U1 in A/R-A: `cmd`: `join` is not one of add, shift, del",
        ]
    );
    assert_eq!(memberships(&world), ["A/Blue/bob", "B/Red/bob"]);
    // bob's move in A left B alone; the options read names and usernames.
    let (code, rows) = run_rows(
        &world,
        "group-members",
        "byname.csv",
        "courseid;groupid;userid;cmd\nB-ID;Lone;dee;shift\nB-ID;Lone;bob;shift\n",
        &[
            "--set",
            "course_key=idnumber",
            "--set",
            "group_key=name",
            "--set",
            "user_key=username",
        ],
    );
    assert_eq!(code, 0, "{rows:#?}");
    assert_eq!(
        rows,
        [
            "line 2: created: dee in B-ID/Lone: dee joined `Lone`",
            "line 3: updated: bob in B-ID/Lone: left `Red`; bob joined `Lone`",
        ]
    );
    assert_eq!(
        memberships(&world),
        ["A/Blue/bob", "B/Lone/bob", "B/Lone/dee"]
    );
    world.assert_consistent();
}

// ----- the purge ----------------------------------------------------------------------------

const PURGE_GROUPS: &[&str] = &["--set", "purge_empty_groups=groups"];
const PURGE_ALL: &[&str] = &["--set", "purge_empty_groups=groups_and_groupings"];

#[test]
fn the_purge_covers_the_file_courses_only_and_is_reported() {
    let world = world_with_groups();
    // Only A is named (ann joins Red): A's Blue and Empty go, B's empty groups stay.
    let file = world.file("purge.csv", "courseid;groupid;userid\nA;R-A;U1\n");
    let (code, report) = world.run_json("group-members", &file, PURGE_GROUPS);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        report["details"],
        json!({ "purged": {
            "groups": [{ "course": "A", "name": "Blue" }, { "course": "A", "name": "Empty" }],
            "groupings": [],
        } })
    );
    assert_eq!(names(&world, "groups"), ["A/Red", "B/Red", "B/Lone"]);
    assert_eq!(names(&world, "groupings"), ["A/Team", "B/Idle"]);

    // groups_and_groupings, in B (a successful `del` of nobody names it): its groups go, then
    // Idle, which never had any, and Team in A stays (A is not named).
    let (code, rows) = run_rows(
        &world,
        "group-members",
        "purge2.csv",
        "courseid;groupid;userid;cmd\nB;R-B;U2;del\nA;R-A;U3;add\n",
        PURGE_ALL,
    );
    assert_eq!(code, 1, "{rows:#?}");
    assert_eq!(
        rows[2..],
        [
            "purge_empty_groups = groups_and_groupings: 2 groups and 1 grouping deleted in the 1 course of this file",
            "purged group: B/Red",
            "purged group: B/Lone",
            "purged grouping: B/Idle",
        ]
    );
    assert_eq!(names(&world, "groups"), ["A/Red"]);
    assert_eq!(names(&world, "groupings"), ["A/Team"]);
    world.assert_consistent();

    // No option: no purge, no details.
    let (code, report) = world.run_json("group-members", &file, &[]);
    assert_eq!(code, 0);
    assert_eq!(report["details"], json!({}));
}

#[test]
fn no_purge_after_an_atomic_rollback_or_an_early_stop_and_a_dry_run_only_says_it() {
    let world = world_with_groups();
    let before = names(&world, "groups");
    let content = "courseid;groupid;userid\nA;R-A;U1\nA;R-A;U3\n";
    let file = world.file("atomic.csv", content);
    let mut args = vec!["--atomic"];
    args.extend_from_slice(PURGE_GROUPS);
    let (code, report) = world.run_json("group-members", &file, &args);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["committed"], false);
    assert_eq!(report["details"], json!({}), "the purge did not run");
    assert_eq!(names(&world, "groups"), before);
    assert!(memberships(&world).is_empty());

    // Stopped by --max-errors after a successful row naming B: no purge. That row's course is
    // not the next run's either, which names only A.
    let file = world.file(
        "stopped.csv",
        "courseid;groupid;userid\nB;R-B;U2\nA;R-A;U3\nA;R-A;U1\n",
    );
    let mut args = vec!["--max-errors", "1"];
    args.extend_from_slice(PURGE_GROUPS);
    let (code, report) = world.run_json("group-members", &file, &args);
    assert_eq!(code, 1, "{report}");
    assert!(report["stopped"].is_string(), "{report}");
    assert_eq!(report["details"], json!({}));
    assert_eq!(names(&world, "groups"), before);
    assert_eq!(
        memberships(&world),
        ["B/Red/bob"],
        "the row before the stop stays"
    );

    // A dry run says what it would purge, and purges nothing.
    let file = world.file("a.csv", "courseid;groupid;userid\nA;R-A;U1\n");
    let mut args = vec!["--dry-run"];
    args.extend_from_slice(PURGE_GROUPS);
    let (code, report) = world.run_json("group-members", &file, &args);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        report["details"]["purged"]["groups"],
        json!([{ "course": "A", "name": "Blue" }, { "course": "A", "name": "Empty" }])
    );
    assert_eq!(names(&world, "groups"), before);

    // The real run: A only, whatever the stopped run had named.
    let (code, report) = world.run_json("group-members", &file, PURGE_GROUPS);
    assert_eq!(code, 0, "{report}");
    assert_eq!(names(&world, "groups"), ["A/Red", "B/Red", "B/Lone"]);
    world.assert_consistent();
}

/// A run killed after its first batch and started again purges the courses of the rows
/// committed before the kill too: the purge's scope is kept in the store with the rows.
#[test]
fn a_resumed_run_purges_the_courses_of_the_rows_before_the_kill() {
    let world = world_with_groups();
    // Row 2 names B (bob joins Red there); the 9,999 rows after it, A only.
    let mut content = String::from("courseid;groupid;userid\nB;R-B;U2\n");
    for _ in 0..9_999 {
        content.push_str("A;R-A;U1\n");
    }
    let file = world.file("big.csv", &content);
    // Paused after its first batch (2,000 rows) is committed, then killed once sled has
    // written it (it does every 500 ms).
    let pause = world.root.join("pause");
    let mut args = vec!["run", "group-members", file.to_str().unwrap()];
    args.extend_from_slice(PURGE_GROUPS);
    let mut child = world
        .command(&args)
        .env(
            "TOOLSYNC_FAULT",
            format!("after-batch-commit:pause={}", pause.display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + HANG;
    while !pause.join("reached").exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its first batch"
        );
        assert!(Instant::now() < deadline, "the run never committed a batch");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(memberships(&world), ["A/Red/ann", "B/Red/bob"]);
    assert_eq!(names(&world, "groups").len(), 5, "nothing purged yet");

    let (code, report) = world.run_json("group-members", &file, PURGE_GROUPS);
    assert_eq!(code, 0, "{report}");
    assert!(
        report["warnings"]
            .to_string()
            .contains("resumed an interrupted run"),
        "{report}"
    );
    assert_eq!(
        report["details"]["purged"]["groups"],
        json!([
            { "course": "A", "name": "Blue" },
            { "course": "A", "name": "Empty" },
            { "course": "B", "name": "Lone" },
        ])
    );
    world.assert_consistent();
}

// ----- exports run back ---------------------------------------------------------------------

#[test]
fn the_exports_run_back_through_their_processors_unchanged() {
    let world = world_with_groups();
    let (code, rows) = run_rows(
        &world,
        "groups",
        "more.csv",
        "courseid;name;description\nA;Red;\"Warm; bright\nand red\"\n",
        &[],
    );
    assert_eq!(code, 0, "{rows:?}");
    let (code, rows) = run_rows(
        &world,
        "group-members",
        "members.csv",
        "courseid;groupid;userid\nA;R-A;U1\nA;B-A;U2\nB;R-B;U2\n",
        &[],
    );
    assert_eq!(code, 0, "{rows:?}");

    let groups = export(&world, "groups", "csv");
    assert!(
        groups.starts_with("courseid;name;idnumber;description\n"),
        "{groups}"
    );
    let file = world.file("groups-export.csv", &groups);
    let (code, report) = world.run_json("groups", &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(counts(&report), (0, 0, 0, 5, 0), "{report}");

    // Every member has an idnumber: the defaults read the export.
    let members = export(&world, "group-members", "csv");
    assert_eq!(
        members,
        "courseid;groupid;userid\nA;R-A;U1\nA;B-A;U2\nB;R-B;U2\n"
    );
    let file = world.file("members-export.csv", &members);
    let (code, report) = world.run_json("group-members", &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(counts(&report), (0, 0, 0, 3, 0), "{report}");

    // bob in Empty (no idnumber), dee (no idnumber) in Lone: the export says how to read it.
    let (code, rows) = run_rows(
        &world,
        "group-members",
        "more-members.csv",
        "courseid;groupid;userid\nA;Empty;bob\nB;Lone;dee\n",
        &["--set", "group_key=name", "--set", "user_key=username"],
    );
    assert_eq!(code, 0, "{rows:?}");
    let run = world.run(&["export", "group-members", "--format", "csv"]);
    assert_eq!(run.code(), 0);
    let note = "`groupid` holds group names (a group has no idnumber), `userid` holds usernames \
                (an account has no idnumber): run it with `toolsync run group-members FILE \
                --set group_key=name --set user_key=username`";
    assert_eq!(
        run.stdout(),
        format!(
            "# {note}\ncourseid;groupid;userid\nA;Red;ann\nA;Blue;bob\nA;Empty;bob\nB;Red;bob\nB;Lone;dee\n"
        )
    );
    assert!(run.stderr().contains(note), "{}", run.stderr());
    let file = world.file("members-export2.csv", run.stdout());
    let (code, report) = world.run_json(
        "group-members",
        &file,
        &["--set", "group_key=name", "--set", "user_key=username"],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(counts(&report), (0, 0, 0, 5, 0), "{report}");
    assert_eq!(report["comments"], 1);
    world.assert_consistent();
}

// ----- course-delete ------------------------------------------------------------------------

#[test]
fn course_delete_takes_the_course_groups_groupings_and_members() {
    let world = world_with_groups();
    let (code, rows) = run_rows(
        &world,
        "group-members",
        "members.csv",
        "courseid;groupid;userid\nA;R-A;U1\nA;B-A;U2\nB;R-B;U2\n",
        &[],
    );
    assert_eq!(code, 0, "{rows:?}");
    let file = world.file("deletecourses.csv", "A\n");
    let (code, report) = world.run_json("course-delete", &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(names(&world, "groups"), ["B/Red", "B/Lone"]);
    assert_eq!(names(&world, "groupings"), ["B/Idle"]);
    assert_eq!(memberships(&world), ["B/Red/bob"]);
    assert!(!export(&world, "group-members", "csv").contains("\nA;"));
    world.assert_consistent();
}

// ----- the samples --------------------------------------------------------------------------

/// The README's sample runs, then the group samples: every row succeeds.
#[test]
fn the_group_samples_run_after_the_readme_s() {
    let world = World::with(&[USERS, COURSES, GROUPS]);
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for (processor, file) in [
        ("users", "userimport.csv"),
        ("users", "userimport-excel-cp1252.csv"),
        ("course-create", "uploadcourses.csv"),
        ("metacourse", "metacourses.csv"),
        ("groups", "groups.csv"),
        ("group-members", "groupmembers.csv"),
    ] {
        let copy = world.file(file, std::fs::read(examples.join(file)).unwrap());
        let (code, report) = world.run_json(processor, &copy, &[]);
        assert_eq!(code, 0, "{processor} {file}: {report}");
        assert_eq!(report["rows_failed"], 0);
    }
    assert!(!memberships(&world).is_empty());
    world.assert_consistent();
}
