//! course-reset and metacourse end to end: real users and courses plugins, real store. The
//! data is made by the real processors: an account `t1`, courses A (t1 as teacher), B and C.

mod common;
use common::*;

use serde_json::Value;

/// A world with t1 and the courses A (teacher t1), B and C.
fn world() -> World {
    let world = World::courses();
    let users = world.file("users.csv", "username;firstname;lastname\nt1;T;One\n");
    let (code, report) = world.run_json("users", &users, &[]);
    assert_eq!(code, 0, "{report}");
    let courses = world.file(
        "courses.csv",
        "shortname;fullname;category;teacher1_account\nA;Course A;Cat;t1\nB;Course B;Cat;\nC;Course C;Cat;\n",
    );
    let (code, report) = world.run_json("course-create", &courses, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["counts"]["created"], 3);
    world
}

/// `run <processor> <file>` with the text report: (exit code, the row lines `line n: ...`).
fn run_text(world: &World, processor: &str, name: &str, content: &str) -> (i32, Vec<String>) {
    let file = world.file(name, content);
    let run = world.run(&["run", processor, file.to_str().unwrap(), "--report", "full"]);
    let rows = run
        .stdout()
        .lines()
        .filter(|l| l.starts_with("line "))
        .map(str::to_owned)
        .collect();
    (run.code(), rows)
}

/// `show course <shortname>`'s enrolment summary.
fn enrolments(world: &World, course: &str) -> Value {
    let run = world.run(&["show", "course", course]);
    assert_eq!(run.code(), 0, "show course {course}: {}", run.stderr());
    let record: Value = serde_json::from_slice(&run.output.stdout).expect("show prints JSON");
    record["enrolments"].clone()
}

fn participants(world: &World, course: &str) -> u64 {
    enrolments(world, course)["participants"]
        .as_u64()
        .expect("a participant count")
}

fn teachers(world: &World, course: &str) -> Vec<String> {
    enrolments(world, course)["teachers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{} {}",
                t["username"].as_str().unwrap(),
                t["role"].as_str().unwrap()
            )
        })
        .collect()
}

// ----- metacourse ---------------------------------------------------------------------------

#[test]
fn metacourse_add_mirrors_participants_and_again_is_unchanged() {
    let world = world();
    assert_eq!(participants(&world, "B"), 0);
    let (code, rows) = run_text(
        &world,
        "metacourse",
        "metacourses.csv",
        "master;meta\nA;B\n",
    );
    assert_eq!(code, 0, "{rows:?}");
    assert_eq!(
        rows,
        vec!["line 2: created: A → B: 1 participant mirrored from `A` into `B`"]
    );
    assert_eq!(participants(&world, "B"), 1);
    assert_eq!(teachers(&world, "B"), vec!["t1 editingteacher"]);
    assert_eq!(enrolments(&world, "B")["fed_by"], serde_json::json!(["A"]));

    let file = world.file("again.csv", "master;meta;cmd\nA;B;add\nA;B;\n");
    let (code, report) = world.run_json("metacourse", &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(counts(&report), (0, 0, 0, 2, 0));
    assert_eq!(participants(&world, "B"), 1);
}

#[test]
fn metacourse_del_removes_the_mirrored_enrolments() {
    let world = world();
    run_text(&world, "metacourse", "add.csv", "master;meta\nA;B\nB;C\n");
    assert_eq!(participants(&world, "C"), 1, "mirrored through B");
    let (code, rows) = run_text(
        &world,
        "metacourse",
        "del.csv",
        "master;meta;cmd\nA;B;del\n",
    );
    assert_eq!(code, 0);
    assert_eq!(
        rows,
        vec!["line 2: deleted: A → B: 1 enrolment and 1 role assignment the link gave in `B` removed"]
    );
    assert_eq!(participants(&world, "B"), 0);
    assert!(teachers(&world, "B").is_empty());
    assert_eq!(participants(&world, "C"), 0, "the chain follows");
    assert_eq!(participants(&world, "A"), 1, "the master keeps its own");
    let (code, rows) = run_text(
        &world,
        "metacourse",
        "del.csv",
        "master;meta;cmd\nA;B;DEL\n",
    );
    assert_eq!(code, 0);
    assert_eq!(rows, vec!["line 2: unchanged: A → B: no link"]);
}

#[test]
fn metacourse_bad_rows_fail_alone_and_leave_nothing_behind() {
    let world = world();
    let file = world.file(
        "metacourses.csv",
        "master;meta;cmd\nA;A;add\nA;B;\nB;C;add\nC;A;add\nZ;B;add\nA;Y;del\nA;C;remove\n",
    );
    let (code, report) = world.run_json("metacourse", &file, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(counts(&report), (2, 0, 0, 0, 5));
    let errors: Vec<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(errors[0].0, 2);
    assert!(
        errors[0].1.contains("cannot be its own metacourse"),
        "{errors:?}"
    );
    assert_eq!(
        errors[1],
        (5, "the link would close a cycle: C → A → B → C".to_string())
    );
    assert_eq!(
        errors[2],
        (
            6,
            "`master`: course not found: no course with shortname = Z".to_string()
        )
    );
    assert_eq!(
        errors[3],
        (
            7,
            "`meta`: course not found: no course with shortname = Y".to_string()
        )
    );
    assert_eq!(
        errors[4],
        (8, "`cmd`: `remove` is not one of add, del".to_string())
    );
    assert!(report["tryback"].is_string(), "{report}");
    // Only the two good links exist: A feeds B, B feeds C; nothing feeds A.
    assert_eq!(enrolments(&world, "A")["fed_by"], serde_json::json!([]));
    assert_eq!(enrolments(&world, "C")["fed_by"], serde_json::json!(["B"]));
    // The failed `A;C` row made no link: adding it now creates it.
    let (_, rows) = run_text(&world, "metacourse", "ac.csv", "master;meta\nA;C\n");
    assert_eq!(
        rows,
        vec!["line 2: created: A → C: 1 participant mirrored from `A` into `C`"]
    );
}

// ----- course-reset -------------------------------------------------------------------------

#[test]
fn reset_of_roles_removes_the_teacher_then_has_nothing_to_reset() {
    let world = world();
    assert_eq!(teachers(&world, "A"), vec!["t1 editingteacher"]);
    let content = "shortname;roles\nA;all\n";
    let (code, rows) = run_text(&world, "course-reset", "resetcourses.csv", content);
    assert_eq!(code, 0);
    assert_eq!(
        rows,
        vec!["line 2: updated: A: roles: 1 enrolment, 1 role assignment removed"]
    );
    assert_eq!(participants(&world, "A"), 0);
    assert!(teachers(&world, "A").is_empty());
    let (code, rows) = run_text(&world, "course-reset", "resetcourses.csv", content);
    assert_eq!(code, 0);
    assert_eq!(rows, vec!["line 2: unchanged: A: roles: nothing to reset"]);
}

#[test]
fn reset_of_roles_keeps_what_a_link_owns_and_is_mirrored() {
    let world = world();
    run_text(&world, "metacourse", "m.csv", "master;meta\nA;B\n");
    let (code, rows) = run_text(&world, "course-reset", "r.csv", "shortname;roles\nB;all\n");
    assert_eq!(code, 0);
    assert_eq!(rows, vec!["line 2: unchanged: B: roles: nothing to reset"]);
    assert_eq!(participants(&world, "B"), 1, "the link's enrolment stays");
    // A reset of A reaches B through the link.
    let (_, rows) = run_text(
        &world,
        "course-reset",
        "r.csv",
        "shortname;roles\nA;student EDITINGTEACHER\n",
    );
    assert_eq!(
        rows,
        vec!["line 2: updated: A: roles: 1 enrolment, 1 role assignment removed"]
    );
    assert_eq!(participants(&world, "B"), 0);
}

#[test]
fn reset_failures_fail_their_row_only() {
    let world = world();
    let file = world.file(
        "resetcourses.csv",
        "shortname;roles;groups;chat\nA;nobody;;\nZ;all;;\nA;;sometimes;\nA;;;maybe\nA;all;;\n",
    );
    let (code, report) = world.run_json("course-reset", &file, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(counts(&report), (0, 1, 0, 0, 4));
    let reasons = reasons(&report);
    assert_eq!(
        reasons,
        vec![
            "`roles`: unknown role `nobody`",
            "course not found: no course with shortname = Z",
            "`groups`: `sometimes` is not one of all, groups, members, none",
            "`chat`: `maybe` is not one of 1, 0, yes, no, true, false, all, none",
        ]
    );
    assert_eq!(participants(&world, "A"), 0, "the last row ran");
}

#[test]
fn a_reset_file_with_only_the_key_column_is_refused() {
    let world = world();
    let file = world.file("resetcourses.csv", "shortname\nA\n");
    let (code, report) = world.run_json("course-reset", &file, &[]);
    assert_eq!(code, 3, "{report}");
    assert!(
        report["refused"]
            .as_str()
            .unwrap()
            .contains("no reset column"),
        "{report}"
    );
    assert_eq!(report["committed"], false);
    let file = world.file("both.csv", "shortname;apointments;appointments\nA;1;1\n");
    let (code, report) = world.run_json("course-reset", &file, &[]);
    assert_eq!(code, 3, "{report}");
    let file = world.file("nokey.csv", "shortname;roles\nA;all\n");
    let (code, report) = world.run_json("course-reset", &file, &["--set", "course_key=idnumber"]);
    assert_eq!(code, 3, "{report}");
    assert!(report["refused"]
        .as_str()
        .unwrap()
        .contains("`idnumber` is required because course_key = idnumber"));
    assert_eq!(participants(&world, "A"), 1, "nothing was applied");
}

#[test]
fn reset_of_data_a_course_lacks_and_of_unmodelled_data_reports_nothing_to_reset() {
    let world = world();
    let (code, rows) = run_text(
        &world,
        "course-reset",
        "resetcourses.csv",
        "shortname;groups;groupings;modules;forum_all;quiz_attempts;local_roles;events;logs;notes;grades;completion;blog_associations;comments\n\
         C;all;all;all;1;yes;all;1;yes;true;items;all;1;1\n\
         B;members;members;-forum;0;no;overrides;0;no;false;none;none;0;\n\
         A;none;none;none;none;none;none;none;none;none;none;none;none;none\n",
    );
    assert_eq!(code, 0, "{rows:?}");
    assert_eq!(
        rows,
        vec![
            "line 2: unchanged: C: local_roles: nothing to reset; groups: nothing to reset; groupings: nothing to reset; \
             modules: nothing to reset; forum_all: nothing to reset; quiz_attempts: nothing to reset; \
             events: nothing to reset (not modelled); \
             logs: nothing to reset (not modelled); notes: nothing to reset (not modelled); \
             grades: nothing to reset (not modelled); completion: nothing to reset (not modelled); \
             blog_associations: nothing to reset (not modelled); comments: nothing to reset (not modelled)",
            "line 3: unchanged: B: local_roles: nothing to reset (not modelled); \
             groups: nothing to reset; groupings: nothing to reset; modules: nothing to reset",
            "line 4: unchanged: A: nothing to reset (every reset cell is empty or none)",
        ]
    );
    assert_eq!(participants(&world, "A"), 1);
}

/// The scenario: the samples loaded (asmith teaches HIST101, mirrored into HIST102),
/// then asmith soft-deleted by the users processor: she is no teacher, no participant anywhere
/// any more, in the same row, and jdoe stays.
#[test]
fn a_soft_deleted_teacher_leaves_every_course_she_taught() {
    let world = World::courses();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for (processor, file) in [
        ("users", "userimport.csv"),
        ("course-create", "uploadcourses.csv"),
        ("metacourse", "metacourses.csv"),
    ] {
        let path = examples.join(file);
        let (code, report) = world.run_json(processor, &path, &[]);
        assert_eq!(code, 0, "{processor}: {report}");
    }
    let teachers = |course: &str| -> Vec<String> {
        world.show("course", course).unwrap()["enrolments"]["teachers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["username"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(teachers("HIST101"), ["jdoe", "asmith"]);
    assert!(teachers("HIST102").contains(&"asmith".to_string()));
    let participants = |course: &str| {
        world.show("course", course).unwrap()["enrolments"]["participants"]
            .as_u64()
            .unwrap()
    };
    let before = (participants("HIST101"), participants("HIST102"));

    let delete = world.file("delete.csv", "username;deleted\nasmith;1\n");
    let (code, report) = world.run_json("users", &delete, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["counts"]["deleted"], 1, "{report}");
    assert_eq!(teachers("HIST101"), ["jdoe"]);
    assert!(!teachers("HIST102").contains(&"asmith".to_string()));
    assert_eq!(participants("HIST101"), before.0 - 1);
    assert_eq!(participants("HIST102"), before.1 - 1);
    let asmith = world.show_user("asmith").expect("the record stays");
    assert_eq!(asmith["deleted"], true);
}
