//! course-delete and course-check end to end (formats.md §3.2, §3.4): real plugins, real store.

mod common;
use common::*;

use serde_json::{json, Value};
use std::path::Path;

/// Runs course-create on `csv` and expects every row to succeed.
fn create_courses(world: &World, name: &str, csv: &str) {
    let file = world.file(name, csv);
    let (code, report) = world.run_json("course-create", &file, &[]);
    assert_eq!(code, 0, "course-create: {report}");
}

/// Four courses C1…C4 (idnumbers I1…I4) in Sciences/Physics.
fn four_courses(world: &World) {
    create_courses(
        world,
        "four.csv",
        "shortname;fullname;category;idnumber\n\
         C1;Course 1;Sciences/Physics;I1\n\
         C2;Course 2;Sciences/Physics;I2\n\
         C3;Course 3;Sciences/Physics;I3\n\
         C4;Course 4;Sciences/Physics;I4\n",
    );
}

/// `show <entity> <key>` as JSON, or None when not found (exit 1).
fn show(world: &World, entity: &str, key: &str) -> Option<Value> {
    let run = world.run(&["show", entity, key]);
    match run.code() {
        0 => Some(serde_json::from_slice(&run.output.stdout).expect("show prints JSON")),
        1 => None,
        code => panic!("show {entity} {key}: exit {code}: {}", run.stderr()),
    }
}

fn shortnames(world: &World) -> Vec<String> {
    let run = world.run(&["export", "courses", "--format", "json"]);
    assert_eq!(run.code(), 0, "export courses: {}", run.stderr());
    let all: Vec<Value> = serde_json::from_slice(&run.output.stdout).unwrap();
    let mut names: Vec<String> = all
        .iter()
        .map(|c| c["shortname"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

fn tryback(report: &Value) -> Vec<u8> {
    let path = report["tryback"].as_str().expect("a tryback file");
    std::fs::read(path).unwrap()
}

fn lines_of(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect()
}

fn delete(world: &World, file: &Path, extra: &[&str]) -> (i32, Value) {
    world.run_json("course-delete", file, extra)
}

// ----- course-delete ----------------------------------------------------------------------

#[test]
fn deleting_removes_the_course_and_what_hangs_on_it() {
    let world = World::courses();
    let users = world.file("users.csv", "username;firstname;lastname\nt1;T;One\n");
    let (code, report) = world.run_json("users", &users, &[]);
    assert_eq!(code, 0, "{report}");
    create_courses(
        &world,
        "c.csv",
        "shortname;fullname;category;teacher1_account\n\
         C1;Course 1;Sciences/Physics;t1\n\
         C2;Course 2;Sciences/Physics;\n\
         C3;Course 3;Sciences/Physics;\n",
    );
    let before = show(&world, "course", "C1").expect("C1 exists");
    assert_eq!(
        before["enrolments"]["teachers"],
        json!([{"username": "t1", "role": "editingteacher"}]),
        "{before}"
    );
    assert_eq!(
        show(&world, "category", "Sciences/Physics").unwrap()["courses"],
        3
    );

    let file = world.file("deletecourses.csv", "C1\n");
    let (code, report) = delete(&world, &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(counts(&report), (0, 0, 1, 0, 0));
    assert_eq!(report["committed"], true);
    let text = world.run(&["run", "course-delete", file.to_str().unwrap()]);
    assert_eq!(text.code(), 1, "C1 is gone the second time");
    assert!(
        text.stdout()
            .contains("line 1: failed: C1: course not found"),
        "{}",
        text.stdout()
    );

    assert!(show(&world, "course", "C1").is_none(), "the course is gone");
    assert_eq!(shortnames(&world), ["C2", "C3"]);
    // The account stays; its enrolment went with the course; the category stays.
    assert!(world.show_user("t1").is_some());
    let category = show(&world, "category", "Sciences/Physics").unwrap();
    assert_eq!(category["courses"], 2, "{category}");
    // The shortname is free again; the new course has no participant left over.
    create_courses(
        &world,
        "again.csv",
        "shortname;fullname\nC1;Course 1 again\n",
    );
    let again = show(&world, "course", "C1").unwrap();
    assert_eq!(again["enrolments"]["participants"], 0, "{again}");
    assert_eq!(again["enrolments"]["teachers"], json!([]));
}

#[test]
fn a_missing_or_repeated_key_fails_with_its_line_in_the_tryback() {
    let world = World::courses();
    four_courses(&world);
    let file = world.file(
        "deletecourses.csv",
        "C1\r\n# a comment\n\n  ghost  \nC1\n\"C2\"\n",
    );
    let (code, report) = delete(&world, &file, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(counts(&report), (0, 0, 2, 0, 2));
    assert_eq!(report["comments"], 1);
    assert_eq!(lines_of(&report["errors"]), [4, 5]);
    let reasons = reasons(&report);
    assert_eq!(
        reasons[0],
        "course not found: no course with shortname = ghost"
    );
    assert!(
        reasons[1].starts_with("course not found") && reasons[1].contains("deleted by line 1"),
        "{}",
        reasons[1]
    );
    assert_eq!(
        tryback(&report),
        b"  ghost  \nC1\n",
        "the failed lines as read"
    );
    assert_eq!(shortnames(&world), ["C3", "C4"]);
}

#[test]
fn lines_are_never_split() {
    let world = World::courses();
    create_courses(
        &world,
        "c.csv",
        "shortname;fullname\n\"A;B\";Odd 1\n\"X,Y\";Odd 2\nC1;Course 1\nC2;Course 2\n",
    );
    let file = world.file("deletecourses.csv", "A;B\n\"X,Y\"\n");
    let (code, report) = delete(&world, &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(counts(&report), (0, 0, 2, 0, 0));
    assert_eq!(shortnames(&world), ["C1", "C2"]);
}

#[test]
fn over_the_threshold_the_file_is_refused_unless_forced() {
    let world = World::courses();
    four_courses(&world);
    // C1 twice and an unknown key: 3 distinct existing courses of 4, over 0.5 × 4 = 2.
    let file = world.file("deletecourses.csv", "C1\nC2\nC3\nC1\nghost\n");

    let (code, report) = delete(&world, &file, &[]);
    assert_eq!(code, 3, "{report}");
    let refused = report["refused"].as_str().expect("a refusal");
    assert!(
        refused.contains("3 of the 4 courses")
            && refused.contains("max_delete_ratio = 0.5 × 4 = 2")
            && refused.contains("--force"),
        "{refused}"
    );
    assert_eq!(report["committed"], false);
    assert_eq!(report["tryback"], Value::Null);
    assert_eq!(
        shortnames(&world),
        ["C1", "C2", "C3", "C4"],
        "nothing deleted"
    );
    let text = world.run(&["run", "course-delete", file.to_str().unwrap()]);
    assert_eq!(text.code(), 3);
    assert!(
        text.stdout()
            .contains("refused: the file would delete 3 of the 4 courses"),
        "{}",
        text.stdout()
    );

    // A dry run is checked too.
    let (code, report) = delete(&world, &file, &["--dry-run"]);
    assert_eq!(code, 3, "{report}");
    assert!(report["refused"].as_str().unwrap().contains("3 of the 4"));
    // …and a dry run with --force says what would happen, without doing it.
    let (code, report) = delete(&world, &file, &["--dry-run", "--force"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["counts"]["deleted"], 3);
    assert_eq!(shortnames(&world), ["C1", "C2", "C3", "C4"]);

    // --force: deleted, and the report says so.
    let (code, report) = delete(&world, &file, &["--force"]);
    assert_eq!(code, 1, "C1 repeated and ghost fail: {report}");
    assert_eq!(counts(&report), (0, 0, 3, 0, 2));
    assert_eq!(report["refused"], Value::Null);
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w["line"].is_null()
            && w["message"]
                .as_str()
                .unwrap()
                .starts_with("--force: deleting 3 of 4 courses, over max_delete_ratio = 0.5")),
        "{report}"
    );
    assert_eq!(shortnames(&world), ["C4"]);
}

#[test]
fn max_delete_ratio_from_the_command_line() {
    let world = World::courses();
    create_courses(
        &world,
        "c.csv",
        "shortname;fullname\nC1;Course 1\nC2;Course 2\n",
    );
    let file = world.file("deletecourses.csv", "C1\nC2\n");
    let (code, report) = delete(&world, &file, &["--set", "max_delete_ratio=0.5"]);
    assert_eq!(code, 3, "{report}");
    assert!(
        report["refused"]
            .as_str()
            .unwrap()
            .contains("2 of the 2 courses"),
        "{report}"
    );
    let bad = world.run(&[
        "run",
        "course-delete",
        file.to_str().unwrap(),
        "--set",
        "max_delete_ratio=1.5",
    ]);
    assert_eq!(bad.code(), 2, "a ratio over 1 is a usage error");
    assert!(
        bad.stderr().contains("max_delete_ratio"),
        "{}",
        bad.stderr()
    );
    assert_eq!(shortnames(&world), ["C1", "C2"]);

    let (code, report) = delete(&world, &file, &["--set", "max_delete_ratio=1"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(counts(&report), (0, 0, 2, 0, 0));
    assert!(shortnames(&world).is_empty());
    // An empty store: nothing to refuse, every key fails.
    let (code, report) = delete(&world, &file, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["refused"], Value::Null);
    assert_eq!(report["counts"]["failed"], 2);
}

#[test]
fn course_key_idnumber() {
    let world = World::courses();
    four_courses(&world);
    let file = world.file("deletecourses.csv", "I2\nC3\n");
    let (code, report) = delete(&world, &file, &["--set", "course_key=idnumber"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(counts(&report), (0, 0, 1, 0, 1));
    assert_eq!(
        report["errors"][0]["reason"],
        "course not found: no course with idnumber = C3"
    );
    assert_eq!(shortnames(&world), ["C1", "C3", "C4"]);
}

// ----- course-check -----------------------------------------------------------------------

/// Everything `export` shows of the store.
fn snapshot(world: &World) -> (Vec<u8>, Vec<u8>) {
    let courses = world.run(&["export", "courses", "--format", "json"]);
    let users = world.run(&["export", "users", "--format", "json"]);
    assert_eq!(courses.code() + users.code(), 0);
    (courses.output.stdout, users.output.stdout)
}

#[test]
fn check_lists_found_and_missing_courses() {
    let world = World::courses();
    four_courses(&world);
    create_courses(&world, "plain.csv", "shortname;fullname\nC5;Course 5\n");
    let before = snapshot(&world);
    let file = world.file(
        "courses.csv",
        "C1;first course\n# comment\nnope\n\"C5\"\nC9;gone;\nC2;\n",
    );
    let (code, report) = world.run_json("course-check", &file, &[]);
    assert_eq!(code, 1, "any missing course: exit 1: {report}");
    assert_eq!(report["counts"]["checked"], 3);
    assert_eq!(report["rows_failed"], 2);
    assert_eq!(report["delimiter"], ";");
    assert_eq!(
        report["details"],
        json!({
            "found": [
                {"line": 1, "key": "C1", "description": "first course", "idnumber": "I1",
                 "shortname": "C1", "fullname": "Course 1"},
                {"line": 4, "key": "C5", "description": null, "idnumber": "",
                 "shortname": "C5", "fullname": "Course 5"},
                {"line": 6, "key": "C2", "description": null, "idnumber": "I2",
                 "shortname": "C2", "fullname": "Course 2"},
            ],
            "missing": [{"line": 3, "key": "nope", "description": null}],
        }),
        "{report}"
    );
    // `C9;gone;` has three fields: it fails for that, not as a missing course.
    assert_eq!(lines_of(&report["errors"]), [3, 5]);
    let three = report["errors"][1]["reason"].as_str().unwrap();
    assert!(three.starts_with("3 fields"), "{three}");
    assert_eq!(tryback(&report), b"nope\nC9;gone;\n");
    assert_eq!(snapshot(&world), before, "course-check writes nothing");
    assert_eq!(report["committed"], false, "nothing to commit: {report}");

    let text = world.run(&[
        "run",
        "course-check",
        file.to_str().unwrap(),
        "--report",
        "full",
    ]);
    assert!(
        text.stdout().contains("\ncommitted: no\n"),
        "{}",
        text.stdout()
    );
    assert!(
        text.stdout()
            .contains("line 1: checked: C1: idnumber I1, shortname C1, fullname Course 1"),
        "{}",
        text.stdout()
    );
}

#[test]
fn check_tryback_holds_exactly_the_missing_lines() {
    let world = World::courses();
    four_courses(&world);
    let file = world.file(
        "courses.csv",
        "C1,one\r\nX1,not there\r\nC2\r\nX2\r\n\"C3\",\"three, with a comma\"\r\n",
    );
    let (code, report) = world.run_json("course-check", &file, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["delimiter"], ",");
    assert_eq!(report["counts"]["checked"], 3);
    assert_eq!(
        report["details"]["missing"],
        json!([
            {"line": 2, "key": "X1", "description": "not there"},
            {"line": 4, "key": "X2", "description": null},
        ])
    );
    assert_eq!(
        report["details"]["found"][2]["description"],
        "three, with a comma"
    );
    assert_eq!(tryback(&report), b"X1,not there\r\nX2\r\n");

    // Everything found: exit 0, no tryback, an empty `missing`.
    let all = world.file("all.csv", "C1\nI2\n");
    let (code, report) = world.run_json("course-check", &all, &["--set", "course_key=idnumber"]);
    assert_eq!(code, 1, "C1 is no idnumber: {report}");
    let all = world.file("all2.csv", "I1\nI2;second\n");
    let (code, report) = world.run_json("course-check", &all, &["--set", "course_key=idnumber"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["tryback"], Value::Null);
    assert_eq!(report["details"]["missing"], json!([]));
    assert_eq!(lines_of(&report["details"]["found"]), [1, 2]);
}

/// A processor's final step is skipped before an `--atomic` rollback, which would drop its
/// writes (group-members' purge); course-check writes nothing, so its lists are still
/// reported when a missing course fails a row of an `--atomic` run.
#[test]
fn check_lists_its_courses_in_an_atomic_run_with_a_missing_one() {
    let world = World::courses();
    four_courses(&world);
    let file = world.file("courses.csv", "C1\nnope\n");
    let (code, report) = world.run_json("course-check", &file, &["--atomic"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(lines_of(&report["details"]["found"]), [1]);
    assert_eq!(lines_of(&report["details"]["missing"]), [2]);
}
