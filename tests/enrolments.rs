//! The enrolments processor and the users file's enrolment columns end to end: the real
//! binary, the real users, courses and enrolments plugins, a real store. The data is made by
//! the real processors from the repository's samples.

mod common;
use common::*;

use serde_json::Value;
use std::path::PathBuf;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// The README's first command, on a fresh world: accounts, courses, metacourse links,
/// enrolments with groups, accounts with enrolment columns.
fn samples() -> World {
    let world = World::enrolments();
    // The README's samples up to the accounts with enrolment columns.
    for &(processor, file) in &SAMPLES[..6] {
        // A copy: a run archives its input.
        let copy = world.file(file, std::fs::read(sample(file)).unwrap());
        let (code, report) = world.run_json(processor, &copy, &[]);
        assert_eq!(code, 0, "{file}: {report}");
    }
    world
}

fn export(world: &World, entity: &str, format: &str) -> String {
    let run = world.run(&["export", entity, "--format", format]);
    assert_eq!(run.code(), 0, "export {entity}: {}", run.stderr());
    run.stdout()
}

/// What the store holds about participation, stamps left out.
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

fn show_enrolment(world: &World, user: &str, course: &str) -> Option<Value> {
    let run = world.run(&["show", "enrolment", user, course]);
    match run.code() {
        0 => Some(serde_json::from_slice(&run.output.stdout).unwrap()),
        1 => None,
        code => panic!("show enrolment: exit {code}: {}", run.stderr()),
    }
}

fn names(list: &Value, field: &str) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| match field {
            "" => v.as_str().unwrap().to_string(),
            f => v[f].as_str().unwrap().to_string(),
        })
        .collect();
    names.sort();
    names
}

#[test]
fn the_samples_populate_enrolments_groups_and_metacourses() {
    let world = samples();
    world.assert_consistent();
    // mdupont: student of HIST101 in Group A, over the sample's period.
    let held = show_enrolment(&world, "mdupont", "HIST101").expect("enrolled");
    assert_eq!(names(&held["groups"], ""), vec!["Group A"]);
    assert_eq!(held["enrolments"][0]["method"], "manual");
    assert_eq!(held["enrolments"][0]["timestart"], 1_788_220_800);
    assert_eq!(held["enrolments"][0]["timeend"], 1_814_400_000);
    // HIST101 feeds HIST102: the mirrored enrolment carries the period and is the link's.
    let mirrored = show_enrolment(&world, "mdupont", "HIST102").expect("mirrored");
    assert_eq!(mirrored["enrolments"][0]["method"], "meta");
    assert_eq!(mirrored["enrolments"][0]["timestart"], 1_788_220_800);
    assert_eq!(mirrored["roles"][0]["owner"], "meta:HIST101");
    // pmartin was enrolled then suspended: there, not effective.
    let suspended = show_enrolment(&world, "pmartin", "MATH201").expect("enrolled");
    assert_eq!(suspended["enrolments"][0]["status"], "suspended");
    assert_eq!(suspended["enrolments"][0]["effective"], false);
    // The users file's columns: two courses for lbernard, a group in each where named.
    let lucie = show_enrolment(&world, "lbernard", "HIST101").expect("enrolled");
    assert_eq!(names(&lucie["groups"], ""), vec!["Group A"]);
    let lucie = show_enrolment(&world, "lbernard", "MATH201").expect("enrolled");
    assert_eq!(lucie["enrolments"][0]["timeend"], 1_814_313_600);
    assert_eq!(names(&lucie["roles"], "role"), vec!["student"]);
    // Groups are made once per course, whoever made them.
    let groups = export(&world, "groups", "csv");
    assert_eq!(groups.matches("Tutorial 2").count(), 1, "{groups}");
}

#[test]
fn the_enrolments_export_runs_back_and_changes_nothing() {
    let world = samples();
    let before = participation(&world);
    let csv = export(&world, "enrolments", "csv");
    // Every sample account has an idnumber: `uid` holds them, as the default user_key reads.
    assert!(
        csv.starts_with("cmd;rolename;uid;cid;enrol;starttime;endtime\nadd;editingteacher;U001;HIST101;manual;0;0\n"),
        "{csv}"
    );
    assert!(
        !csv.contains(";meta;"),
        "what links made is theirs to make: {csv}"
    );
    let file = world.file("back.csv", &csv);
    for _ in 0..2 {
        let (code, report) = world.run_json("enrolments", &file, &[]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(
            report["counts"]["unchanged"],
            csv.lines().count() as u64 - 1,
            "{report}"
        );
        assert_eq!(participation(&world), before);
    }
    world.assert_consistent();
    // An enrolled account without an idnumber: the whole file names accounts by username,
    // and says how to read it back, on stderr and in its first line.
    let users = world.file(
        "noid.csv",
        "username;firstname;lastname;course1\nnoid;No;Id;HIST101\n",
    );
    assert_eq!(world.run_json("users", &users, &[]).0, 0);
    let run = world.run(&["export", "enrolments", "--format", "csv"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let note = "`uid` holds usernames (an account has no idnumber): run it with `toolsync run enrolments FILE --set user_key=username`";
    assert!(run.stderr().contains(note), "{}", run.stderr());
    let csv = run.stdout();
    assert!(csv.starts_with(&format!("# {note}\n")), "{csv}");
    assert!(
        csv.contains(";noid;HIST101;") && csv.contains(";jdoe;HIST101;"),
        "{csv}"
    );
    let before = participation(&world);
    let file = world.file("back-by-username.csv", &csv);
    let (code, report) = world.run_json("enrolments", &file, &["--set", "user_key=username"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        report["counts"]["unchanged"],
        csv.lines().count() as u64 - 2,
        "{report}"
    );
    assert_eq!(participation(&world), before);
}

#[test]
fn every_failure_names_its_value_and_leaves_the_exports_as_they_were() {
    let world = samples();
    // NOSELF has no self method; SHUT's is disabled.
    let courses = world.file(
        "more.csv",
        "shortname;fullname;category;self\nNOSELF;N;Misc;0\nSHUT;S;Misc;1\nSHUT;S;Misc;0\n",
    );
    let (code, report) = world.run_json(
        "course-create",
        &courses,
        &["--set", "update_existing=true"],
    );
    assert_eq!(code, 0, "{report}");
    let before = participation(&world);
    // cmd;rolename;uid;cid;enrol;starttime;gcmd;g1;g2
    let cases: &[(&str, &str)] = &[
        (
            "add;student;U999;HIST101;;;;;",
            "no user with idnumber = U999",
        ),
        (
            "add;student;U001;NOPE;;;;;",
            "no course with shortname = NOPE",
        ),
        (
            "add;dean;U001;MATH201;;;;;",
            "no role with shortname = dean",
        ),
        (
            "add;student;U001;MATH201;sync;;;;",
            "unknown enrolment method `sync`",
        ),
        (
            "add;student;U001;NOSELF;self;;;;",
            "course `NOSELF` has no `self` method",
        ),
        (
            "add;student;U001;SHUT;self;;;;",
            "the `self` method of course `SHUT` is disabled",
        ),
        (
            "add;*;U001;MATH201;;;;;",
            "`rolename` * (every role) is for `del` only",
        ),
        ("add;;U001;MATH201;;;;;", "missing `rolename`"),
        (
            "enable;;U001;MATH201;;;;;",
            "not enrolled in `MATH201` through manual",
        ),
        (
            "add;student;U001;MATH201;;;gadd;Nope;",
            "course `MATH201` has no group named `Nope`",
        ),
        (
            "add;student;U001;MATH201;;;gdel;;",
            "`gcmd` gdel names no group",
        ),
        (
            "del;student;U003;HIST101;;;gadd;Group A;",
            "holds no enrolment or role in `HIST101`",
        ),
        ("add;student;U001;MATH201;;2026-02-30;;;", "`starttime`"),
        ("frob;student;U001;MATH201;;;;;", "`cmd`"),
    ];
    let mut content = String::from("cmd;rolename;uid;cid;enrol;starttime;gcmd;g1;g2\n");
    for (row, _) in cases {
        content.push_str(row);
        content.push('\n');
    }
    let file = world.file("bad.csv", &content);
    let (code, report) = world.run_json("enrolments", &file, &["--report", "full"]);
    assert_eq!(code, 1, "{report}");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), cases.len(), "{report}");
    for (i, (row, reason)) in cases.iter().enumerate() {
        assert_eq!(rows[i]["outcome"], "failed", "{row}: {}", rows[i]);
        let message = rows[i]["message"].as_str().unwrap();
        assert!(message.contains(reason), "{row}: {message}");
    }
    assert_eq!(participation(&world), before, "a failed row left something");
    world.assert_consistent();
}

#[test]
fn a_deleted_account_and_a_deleted_course_take_what_hangs_on_them() {
    let world = samples();
    // asmith teaches MATH201 (course-create) and is in Tutorial 1 (enrols.csv).
    assert!(show_enrolment(&world, "asmith", "MATH201").is_some());
    let file = world.file("delete.csv", "username;deleted\nasmith;1\n");
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(show_enrolment(&world, "asmith", "MATH201"), None);
    assert!(!export(&world, "group-members", "csv").contains("asmith"));
    // course-delete: MATH201's groups, members, enrolments and roles go with it.
    let file = world.file("deletecourses.csv", "MATH201\n");
    let (code, report) = world.run_json("course-delete", &file, &[]);
    assert_eq!(code, 0, "{report}");
    for entity in [
        "enrolments",
        "role-assignments",
        "groups",
        "group-members",
        "enrol-instances",
    ] {
        let csv = export(&world, entity, "csv");
        assert!(!csv.contains("MATH201"), "{entity}: {csv}");
    }
    assert!(
        export(&world, "groups", "csv").contains("Group A"),
        "HIST101's stay"
    );
    world.assert_consistent();
}

#[test]
fn an_atomic_run_with_a_failing_row_changes_nothing() {
    let world = samples();
    let before = participation(&world);
    let file = world.file(
        "atomic.csv",
        "rolename;uid;cid;enrol;gcmd;g1\nstudent;U001;MATH201;;gaddcreate;New\nstudent;U999;MATH201;;;\n",
    );
    let (code, report) = world.run_json("enrolments", &file, &["--atomic"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(participation(&world), before);
}

#[test]
fn the_users_file_commits_an_account_with_its_enrolments_or_neither() {
    let world = World::enrolments();
    let courses = world.file("courses.csv", "shortname;fullname;category\nC1;C1;Cat\n");
    assert_eq!(world.run_json("course-create", &courses, &[]).0, 0);
    let file = world.file(
        "users.csv",
        "username;firstname;lastname;course1;role1;group1;course2\n\
         ann;Ann;A;C1;teacher;G;\n\
         bob;Bob;B;C1;;;C9\n",
    );
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["rows"][0]["outcome"], "failed");
    assert!(
        report["rows"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`course2`: course not found: no course with shortname = C9"),
        "{report}"
    );
    assert!(
        world.show_user("bob").is_none(),
        "bob came without his enrolments"
    );
    let ann = show_enrolment(&world, "ann", "C1").expect("ann enrolled");
    assert_eq!(names(&ann["roles"], "role"), vec!["teacher"]);
    assert_eq!(names(&ann["groups"], ""), vec!["G"]);
    world.assert_consistent();
}
