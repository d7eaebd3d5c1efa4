//! `show` and `export` output pinned byte for byte: the README's sample sequence (two users files,
//! the courses, the metacourse links, the enrolments, a users file with enrolment columns, the
//! groups and their members) is run through the real binary, then every entity the samples
//! fill is shown and exported and compared with `tests/golden/` (the enrolments' own exports
//! carry the run's start as a default start date, so they are checked in `tests/enrolments.rs`
//! instead). The stored timestamps
//! (`timecreated`, `timemodified`, a membership's `timeadded`) are the run's "now": they are set
//! to 0 on both sides.
//!
//! To accept a deliberate change of output, regenerate the files with
//! `TOOLSYNC_BLESS=1 cargo test -p toolsync --test golden` and review the diff.

mod common;
use common::*;

use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden")
}

/// `"timecreated": 1796189606` → `"timecreated": 0` (pretty or compact JSON), and the same for
/// `timemodified`, `timeadded`, and a course's count of `effective` enrolments (which depends on
/// today's date against the samples' enrolment periods).
fn without_stamps(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = [
        "\"timecreated\":",
        "\"timemodified\":",
        "\"timeadded\":",
        "\"effective\":",
    ]
    .iter()
    .filter_map(|key| rest.find(key).map(|i| (i, key.len())))
    .min()
    {
        let (i, len) = at;
        out.push_str(&rest[..i + len]);
        rest = &rest[i + len..];
        let spaces = rest.len() - rest.trim_start_matches(' ').len();
        out.push_str(&rest[..spaces]);
        rest = &rest[spaces..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push('0');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

fn check(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    let actual = without_stamps(actual);
    if std::env::var_os("TOOLSYNC_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        actual == expected,
        "{name} differs from tests/golden/{name}:\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

fn samples_world() -> World {
    let world = World::with(&[USERS, COURSES, ENROLMENTS, GROUPS, COHORTS, PICTURES]);
    for (processor, file) in SAMPLES {
        let path = examples().join(file);
        let run = world.run(&["run", processor, path.to_str().unwrap()]);
        assert_eq!(run.code(), 0, "{processor} {file}: {}", run.stdout());
    }
    world
}

#[test]
fn show_and_export_of_the_samples_are_pinned() {
    let world = samples_world();
    let stdout = |args: &[&str]| {
        let run = world.run(args);
        assert_eq!(run.code(), 0, "{args:?}: {}", run.stderr());
        run.stdout()
    };
    for entity in [
        "users",
        "courses",
        "categories",
        "roles",
        "groups",
        "groupings",
        "group-members",
    ] {
        for format in ["csv", "json"] {
            check(
                &format!("export-{entity}.{format}"),
                &stdout(&["export", entity, "--format", format]),
            );
        }
    }
    check(
        "show-user-asmith.json",
        &stdout(&["show", "user", "asmith"]),
    );
    check(
        "show-course-HIST101.json",
        &stdout(&["show", "course", "HIST101"]),
    );
    check(
        "show-category-history.json",
        &stdout(&["show", "category", "Humanities/History"]),
    );
    check(
        "show-role-student.json",
        &stdout(&["show", "role", "student"]),
    );
    // The pictures' records: hashes of the sample's entries and of the PNGs rendered from
    // them (deterministic: the same image library, filter and compression).
    check(
        "show-picture-asmith.json",
        &stdout(&["show", "picture", "asmith"]),
    );
    check("export-pictures.csv", &stdout(&["export", "pictures"]));
}

#[test]
fn the_stamp_filter_only_zeroes_stamps() {
    assert_eq!(
        without_stamps(
            "{\"timecreated\":12,\"startdate\":34,\n  \"timemodified\": 56,\"timeadded\":7}"
        ),
        "{\"timecreated\":0,\"startdate\":34,\n  \"timemodified\": 0,\"timeadded\":0}"
    );
}
