//! The common reading rules (formats.md §2), through the real binary and the users processor.

mod common;
use common::*;

fn firstname(world: &World, user: &str) -> String {
    world
        .show_user(user)
        .unwrap_or_else(|| panic!("no user {user}"))["firstname"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_windows_1252_spreadsheet_file_is_detected_and_decoded_once() {
    let world = World::users();
    let mut bytes = b"username;firstname;lastname;city\r\n".to_vec();
    bytes.extend_from_slice(
        b"fg;Fran\xe7ois;Gar\xe7on;Besan\xe7on\r\ncb;C\xe9cile;B\x9cuf;\x80uro\r\n",
    );
    let file = world.file("cp.csv", &bytes);
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["encoding"], "windows-1252");
    assert_eq!(firstname(&world, "fg"), "François");
    let cb = world.show_user("cb").unwrap();
    assert_eq!(cb["lastname"], "Bœuf");
    assert_eq!(cb["city"], "€uro");
}

#[test]
fn the_sample_files_run_clean() {
    let world = World::users();
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for (name, encoding) in [
        ("userimport.csv", "utf-8"),
        ("userimport-excel-cp1252.csv", "windows-1252"),
    ] {
        let copy = world.file(name, std::fs::read(samples.join(name)).unwrap());
        let (code, report) = world.run_json("users", &copy, &[]);
        assert_eq!(code, 0, "{name}: {report}");
        assert_eq!(report["encoding"], encoding);
        assert_eq!(report["delimiter"], ";");
    }
    assert_eq!(world.show_user("cboeuf").unwrap()["lastname"], "Bœuf");
    assert_eq!(
        world.show_user("asmith").unwrap()["department"],
        "Maths; Physics"
    );
}

#[test]
fn a_bom_is_removed_and_reported() {
    let world = World::users();
    let file = world.file(
        "bom.csv",
        b"\xef\xbb\xbfusername,firstname,lastname\njd,J\xc3\xa9r\xc3\xb4me,D\n",
    );
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stdout());
    assert!(
        run.stdout()
            .contains("encoding: utf-8 (detected; BOM removed)"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout().contains("delimiter: , (detected)"),
        "{}",
        run.stdout()
    );
    assert_eq!(firstname(&world, "jd"), "Jérôme");
}

#[test]
fn quoted_separators_and_line_breaks_and_comments() {
    let world = World::users();
    let text = "# exported by the ERP\nusername;firstname;lastname;description\n\
                a;\"Ann; Marie\";X;\"two\nlines\"\n# a comment between rows\n;;;\nb;B;\"Y \"\"Z\"\"\";\n";
    let file = world.file("q.csv", text);
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["comments"], 2);
    assert_eq!(
        report["rows_total"], 2,
        "the `;;;` line is blank, not a row"
    );
    let a = world.show_user("a").unwrap();
    assert_eq!(a["firstname"], "Ann; Marie");
    assert_eq!(a["description"], "two\nlines");
    assert_eq!(world.show_user("b").unwrap()["lastname"], "Y \"Z\"");
    // Line numbers are physical: b starts on line 7.
    let run = world.run(&["run", "users", file.to_str().unwrap(), "--report", "full"]);
    assert!(
        run.stdout().contains("line 7: unchanged: b"),
        "{}",
        run.stdout()
    );
}

#[test]
fn delimiter_override_and_comma_escape() {
    let world = World::users();
    let file = world.file("c.csv", "username|firstname|lastname\nx|A&#44B|C&#44;D\n");
    let (code, report) = world.run_json("users", &file, &["--delimiter", "|"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["delimiter"], "|");
    let x = world.show_user("x").unwrap();
    assert_eq!(x["firstname"], "A,B");
    assert_eq!(x["lastname"], "C,D");
}

#[test]
fn a_ragged_row_fails_alone_and_goes_byte_exact_to_the_tryback() {
    let world = World::users();
    let mut bytes = b"username;firstname;lastname;description\r\n".to_vec();
    bytes.extend_from_slice(b"ok1;A;B;\r\n");
    bytes.extend_from_slice(b"bad;\xe9t\xe9\r\n"); // 2 fields, windows-1252
    bytes.extend_from_slice(b"# comment\r\n");
    bytes.extend_from_slice(b"ok2;C;D;\"multi\r\nline\"\r\n");
    bytes.extend_from_slice(b"bad2;x;y;z;w\r\n");
    let file = world.file("ragged.csv", &bytes);
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["rows_failed"], 2);
    assert_eq!(report["counts"]["created"], 2);
    assert_eq!(report["errors"][0]["line"], 3);
    assert_eq!(report["errors"][0]["reason"], "2 fields, the header has 4");
    assert_eq!(report["errors"][1]["line"], 7);
    let tryback = std::path::PathBuf::from(report["tryback"].as_str().unwrap());
    let mut expected = b"username;firstname;lastname;description\r\n".to_vec();
    expected.extend_from_slice(b"bad;\xe9t\xe9\r\nbad2;x;y;z;w\r\n");
    assert_eq!(std::fs::read(&tryback).unwrap(), expected);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&tryback).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the tryback may hold passwords");
    }
}

#[test]
fn a_bad_header_refuses_the_file_before_any_write() {
    let world = World::users();
    let file = world.file(
        "h.csv",
        "username;fristname;lastname;firstname;firstname\nx;a;b;c;d\n",
    );
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 3);
    let reason = report["refused"].as_str().unwrap();
    assert!(
        reason.contains("`fristname`: did you mean `firstname`?"),
        "{reason}"
    );
    assert!(reason.contains("`firstname` appears twice"), "{reason}");
    assert!(reason.contains("toolsync schema users"), "{reason}");
    assert_eq!(report["committed"], false);
    assert!(world.show_user("x").is_none());
    // The refusal is reported and stored.
    let reports: Vec<_> = std::fs::read_dir(world.data.join("files/reports"))
        .unwrap()
        .collect();
    assert_eq!(reports.len(), 2);
}

#[test]
fn unknown_columns_can_be_allowed() {
    let world = World::users();
    let file = world.file("u.csv", "username;firstname;lastname;shoesize\nx;a;b;42\n");
    let (code, report) = world.run_json("users", &file, &["--set", "allow_unknown_columns=1"]);
    assert_eq!(code, 0, "{report}");
    let warning = report["warnings"][0]["message"].as_str().unwrap();
    assert!(warning.contains("shoesize"), "{warning}");
    assert_eq!(report["warnings"][0]["line"], serde_json::Value::Null);
}

#[test]
fn utf16_and_invalid_utf8_in_utf8_mode() {
    let world = World::users();
    let file = world.file("w.csv", b"\xff\xfeu\x00");
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 3);
    assert!(
        report["refused"].as_str().unwrap().contains("UTF-16"),
        "{report}"
    );

    let file = world.file("bad.csv", b"username;firstname;lastname\nx;\xe9;b\ny;c;d\n");
    let (code, report) = world.run_json("users", &file, &["--encoding", "utf-8"]);
    assert_eq!(code, 1, "{report}");
    let reason = report["errors"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("encoding=auto"), "{reason}");
    assert!(world.show_user("y").is_some(), "later rows still run");
}

#[test]
fn the_text_report_has_the_stable_layout() {
    let world = World::users();
    let file = world.file("r.csv", "username;firstname;lastname\nx;a;b\n");
    let run = world.run(&["run", "users", file.to_str().unwrap(), "--report", "full"]);
    let out = run.stdout();
    let keys: Vec<&str> = out
        .lines()
        .take(18)
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "processor",
            "file",
            "started",
            "finished",
            "dry run",
            "committed",
            "encoding",
            "delimiter",
            "rows",
            "comments",
            "created",
            "updated",
            "deleted",
            "unchanged",
            "checked",
            "skipped",
            "failed",
            "tryback"
        ]
    );
    assert!(out.contains("\nline 2: created: x\n"), "{out}");
    assert!(out.ends_with("end of report\n"));
    // JSON: every key always present.
    let (_, report) = world.run_json("users", &file, &[]);
    for key in [
        "processor",
        "file",
        "started_at",
        "finished_at",
        "dry_run",
        "committed",
        "encoding",
        "delimiter",
        "rows_total",
        "rows_ok",
        "rows_failed",
        "rows_skipped",
        "comments",
        "counts",
        "errors",
        "warnings",
        "refused",
        "stopped",
        "tryback",
        "details",
    ] {
        assert!(report.get(key).is_some(), "missing {key}");
    }
}

/// A file with a header and nothing else is not refused, but its report says so; so does an
/// empty headerless file.
#[test]
fn a_header_only_file_gets_a_no_data_rows_warning() {
    let world = World::courses();
    let file = world.file("empty.csv", "username;firstname;lastname\n# nothing yet\n");
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["rows_total"], 0);
    assert_eq!(
        report["warnings"][0]["message"],
        "no data rows: the file holds a header only"
    );
    let none = world.file("none.csv", "# no course to delete\n");
    let (code, report) = world.run_json("course-delete", &none, &[]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report["warnings"]
            .to_string()
            .contains("no data rows: the file holds no record"),
        "{report}"
    );
}
