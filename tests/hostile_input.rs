//! Files written by an attacker, or by mistake, through the real binary: nothing a file holds
//! may leak into what is printed (a first line of data, control characters), make a message
//! huge, or take memory or time out of proportion; and a wrong option says what to do.

mod common;
use common::*;

use std::path::Path;
use std::time::Instant;

/// Everything a refused run printed or stored: stdout, stderr, the stored text and JSON
/// reports.
fn everything_printed(world: &World, run: &Run) -> Vec<(String, Vec<u8>)> {
    let mut all = vec![
        ("stdout".to_string(), run.output.stdout.clone()),
        ("stderr".to_string(), run.output.stderr.clone()),
    ];
    for entry in std::fs::read_dir(world.data.join("files/reports")).unwrap() {
        let path = entry.unwrap().path();
        all.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    assert_eq!(all.len(), 4, "two stored reports");
    all
}

fn run_file(world: &World, file: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["run", "users", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    world.run(&args)
}

/// A file whose first line is data has no header: its cells (a password here) are never
/// echoed as unknown column names, not even with `allow_unknown_columns`.
#[test]
fn a_first_line_of_data_is_refused_without_being_echoed() {
    for extra in [&[][..], &["--set", "allow_unknown_columns=1"]] {
        let world = World::users();
        let file = world.file(
            "nohdr.csv",
            "jdoe;John;Doe;jdoe@example.org;HeaderlessS3cret\nmsmith;Mary;Smith;m@x.org;Other\n",
        );
        let run = run_file(&world, &file, extra);
        assert_eq!(run.code(), 3, "{}", run.stderr());
        for (what, bytes) in everything_printed(&world, &run) {
            let text = String::from_utf8_lossy(&bytes);
            for cell in ["HeaderlessS3cret", "jdoe", "John", "Doe"] {
                assert!(!text.contains(cell), "{what} quotes {cell}: {text}");
            }
        }
        assert!(
            run.stderr().contains(
                "refused: line 1, taken as the header: this does not look like a header: none \
                 of its 5 fields is a column of users (expected e.g. `username`, `firstname`, \
                 `lastname`, …); the file must start with a header line"
            ),
            "{}",
            run.stderr()
        );
        assert!(world.show_user("msmith").is_none());
    }
}

/// 10,000 unknown columns: a short refusal, and no far-fetched "did you mean".
#[test]
fn a_header_of_ten_thousand_unknown_columns_gets_a_short_refusal() {
    let world = World::users();
    let mut header = "username;jdoe;Doe;nope".to_string();
    for i in 0..10_000 {
        header.push_str(&format!(";unknown{i}"));
    }
    let file = world.file("wide.csv", format!("{header}\n"));
    let run = run_file(&world, &file, &[]);
    assert_eq!(run.code(), 3);
    for (what, bytes) in everything_printed(&world, &run) {
        assert!(bytes.len() < 4000, "{what}: {} bytes", bytes.len());
    }
    let stderr = run.stderr();
    assert!(
        stderr.contains(
            "unknown column `jdoe`; unknown column `Doe`; unknown column `nope`; unknown column \
             `unknown0`; unknown column `unknown1`; and 9998 more unknown columns; (`toolsync \
             schema users` lists the valid columns)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("did you mean"), "{stderr}");
}

/// A 20 MB column name: refused at once, echoed cut.
#[test]
fn a_huge_column_name_is_refused_fast_and_echoed_cut() {
    let world = World::users();
    let name = "n".repeat(20 << 20);
    let file = world.file("long.csv", format!("username;{name};lastname\nx;y;z\n"));
    let started = Instant::now();
    let run = run_file(&world, &file, &[]);
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert_eq!(run.code(), 3);
    for (what, bytes) in everything_printed(&world, &run) {
        assert!(bytes.len() < 2000, "{what}: {} bytes", bytes.len());
    }
    assert!(
        run.stderr().contains(&format!(
            "line 1, taken as the header: a column name of 20971520 bytes (`{}…` (+20971480 \
             characters)): at most 4096",
            "n".repeat(40)
        )),
        "{}",
        run.stderr()
    );
}

/// Past `max_record_size` a row fails alone, without being read; the tryback gets its bytes
/// exactly, copied from the file. A header past it refuses the file.
#[test]
fn a_record_over_max_record_size_fails_alone_and_reaches_the_tryback_byte_exact() {
    let world = World::users();
    let long = format!(
        "big;B;C;\"{}\r\n{}\"\r\n",
        "d;".repeat(2000),
        "\u{e9}".repeat(2000)
    );
    let mut data = b"username;firstname;lastname;description\r\nok1;A;B;short\r\n".to_vec();
    data.extend_from_slice(long.as_bytes());
    data.extend_from_slice(b"ok2;A;B;after\r\n");
    let file = world.file("big.csv", &data);
    let (code, report) = world.run_json("users", &file, &["--set", "max_record_size=4KiB"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        reasons(&report),
        ["the record is longer than 4 KiB (option max_record_size): it was not read"]
    );
    assert_eq!(report["errors"][0]["line"], 3);
    assert!(world.show_user("ok1").is_some() && world.show_user("ok2").is_some());
    assert!(world.show_user("big").is_none());
    let tryback = std::fs::read(report["tryback"].as_str().unwrap()).unwrap();
    let mut want = b"username;firstname;lastname;description\r\n".to_vec();
    want.extend_from_slice(long.as_bytes());
    assert_eq!(tryback, want);

    // The archive empties passwords by reading each record again: one over the bound is not
    // held for that, and keeps only its line ends there (the tryback has it whole).
    let world = World::users();
    let big = format!("big;B;C;S3cret{}\n", "p".repeat(5000));
    let file = world.file(
        "pw.csv",
        format!("username;firstname;lastname;password\nok1;A;B;Pass1\n{big}ok2;A;B;Pass2\n"),
    );
    let (code, report) = world.run_json("users", &file, &["--set", "max_record_size=4KiB"]);
    assert_eq!(code, 1, "{report}");
    let archives: Vec<_> = std::fs::read_dir(world.data.join("files/archives"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        std::fs::read_to_string(&archives[0]).unwrap(),
        "username;firstname;lastname;password\nok1;A;B;\n\nok2;A;B;\n"
    );
    let tryback = std::fs::read_to_string(report["tryback"].as_str().unwrap()).unwrap();
    assert!(tryback.ends_with(&big));

    let file = world.file("bighead.csv", format!("#x\n{}\nx\n", "h;".repeat(3000)));
    let run = run_file(&world, &file, &["--set", "max_record_size=4KiB"]);
    assert_eq!(run.code(), 3);
    assert!(
        run.stderr().contains(
            "refused: line 2, taken as the header: longer than 4 KiB (option \
             max_record_size): not read"
        ),
        "{}",
        run.stderr()
    );
    let run = run_file(&world, &file, &["--set", "max_record_size=lots"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("`lots` is not a size"),
        "{}",
        run.stderr()
    );
}

/// The default bound: a 65 MiB line fails without taking the run down.
#[test]
fn a_line_over_64_mib_fails_by_default() {
    let world = World::users();
    let mut data = b"username;firstname;lastname;description\nok1;A;B;x\nbig;A;B;".to_vec();
    data.resize(data.len() + (65 << 20), b'w');
    data.extend_from_slice(b"\nok2;A;B;y\n");
    let file = world.file("huge.csv", &data);
    drop(data);
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        reasons(&report),
        ["the record is longer than 64 MiB (option max_record_size): it was not read"]
    );
    assert!(world.show_user("ok2").is_some());
}

/// Control characters from a file (here its name, and a row's cells) reach the terminal and
/// the text report escaped; the JSON report keeps JSON escapes.
#[test]
fn control_characters_never_reach_the_terminal_raw() {
    let world = World::users();
    let file = world.file(
        "x\u{1b}]0;PWNED\u{7}.csv",
        "username;firstname;lastname\nu1;\u{1b}[31m;B\nusername;x;y\n",
    );
    let run = run_file(&world, &file, &["--report", "full"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    for (what, bytes) in everything_printed(&world, &run) {
        assert!(
            !bytes.iter().any(|&b| b == 0x1b || b == 0x07),
            "{what}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    assert!(
        run.stdout().contains("/x\\x1b]0;PWNED\\x07.csv\n"),
        "{}",
        run.stdout()
    );
    let (_, report) = world.run_json("users", &file, &[]);
    assert_eq!(
        Path::new(report["file"].as_str().unwrap())
            .file_name()
            .unwrap(),
        "x\u{1b}]0;PWNED\u{7}.csv"
    );

    let file = world.file(
        "esc.csv",
        "username;firstname;lastname\n\u{1b}]0;PWNED\u{7};a;b\n",
    );
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert!(!run.output.stderr.contains(&0x1b), "{}", run.stderr());
    assert!(!run.output.stdout.contains(&0x1b), "{}", run.stdout());
}

#[test]
fn timezones_are_checked_against_the_tz_database() {
    let world = World::users();
    let file = world.file(
        "tz.csv",
        "username;firstname;lastname;timezone\nmars;A;B;Mars/Olympus\nutc;A;B;UTC\n",
    );
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 1, "{report}");
    let reasons = reasons(&report);
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].contains("`Mars/Olympus` is not a time zone"),
        "{reasons:?}"
    );
    assert!(world.show_user("utc").is_some());
    if Path::new("/usr/share/zoneinfo/Europe/Paris").exists() {
        let file = world.file("tz2.csv", "username;timezone\nutc;Europe/Paris\n");
        let (code, report) = world.run_json("users", &file, &[]);
        assert_eq!(code, 0, "{report}");
    }
}

/// An open quote in the header that a later line closes would make column names of data: the
/// refusal says what it is, and quotes none of it.
#[test]
fn an_unbalanced_quote_in_the_header_is_named() {
    let world = World::users();
    let file = world.file(
        "q.csv",
        "username;\"firstname;lastname\njdoe;\"S3cretJohn\";Doe\n",
    );
    let run = run_file(&world, &file, &[]);
    assert_eq!(run.code(), 3);
    let stderr = run.stderr();
    assert!(
        stderr.contains(
            "line 1, taken as the header: unterminated quote in the header (a quoted name runs \
             on to line 2): close the quote"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("S3cret"), "{stderr}");
}

/// Blank lines (`;;;`) before the header are skipped; the refusal names the line it took.
#[test]
fn header_refusals_name_the_line_taken_as_the_header() {
    let world = World::users();
    let file = world.file("h.csv", ";;;\n\nusername;fristname;lastname\nx;y;z\n");
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 3);
    assert_eq!(
        report["refused"],
        "line 3, taken as the header: unknown column `fristname`: did you mean `firstname`?; \
         (`toolsync schema users` lists the valid columns)"
    );
    // What the processor refuses in the header, given its options, too.
    let file = world.file("i.csv", "#\nusername;firstname;lastname\nx;y;z\n");
    let (code, report) = world.run_json("users", &file, &["--set", "identity=idnumber"]);
    assert_eq!(code, 3);
    assert_eq!(
        report["refused"],
        "line 2, taken as the header: `idnumber` is required because identity = idnumber"
    );
}

#[test]
fn a_wrong_delimiter_is_named() {
    let world = World::users();
    let file = world.file("semi.csv", "username;firstname;lastname\njdoe;John;Doe\n");
    let run = run_file(&world, &file, &["--delimiter", ","]);
    assert_eq!(run.code(), 3);
    assert!(
        run.stderr().contains(
            "line 1, taken as the header: a single field that is no column of users, but split \
             at `;` it names columns: did you mean --delimiter ';'?"
        ),
        "{}",
        run.stderr()
    );
}

#[test]
fn windows_1252_on_a_utf8_file_warns() {
    let world = World::users();
    let file = world.file("u8.csv", "username;firstname;lastname\njdoe;Jéan;Doe\n");
    for encoding in ["latin1", "cp1252"] {
        let (code, report) = world.run_json("users", &file, &["--encoding", encoding, "--dry-run"]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(
            report["warnings"][0]["message"],
            "the file is valid UTF-8 but was read as windows-1252 (configured): accents will be \
             wrong; drop --encoding (or set encoding = auto)"
        );
    }
    let (_, report) = world.run_json("users", &file, &["--dry-run"]);
    assert_eq!(report["warnings"], serde_json::json!([]));
}

#[test]
fn a_file_without_a_header_says_what_it_holds() {
    let world = World::users();
    let file = world.file("c.csv", "# exported\n\n;;;\n# nothing else\n");
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 3);
    assert_eq!(
        report["refused"],
        "the file has no header line: it holds only 2 blank lines and 2 comment lines"
    );
}

#[test]
fn custom_profile_field_names_have_at_most_255_characters() {
    let world = World::users();
    let ok = format!("profile_field_{}", "s".repeat(255));
    let long = format!("profile_field_{}", "s".repeat(256));
    let file = world.file("p.csv", format!("username;{long}\nu;x\n"));
    let run = run_file(&world, &file, &[]);
    assert_eq!(run.code(), 3);
    assert!(
        run.stderr().contains(
            "(+230 characters): the name in `profile_field_{name}` has 256 characters, at most \
             255"
        ),
        "{}",
        run.stderr()
    );
    let file = world.file(
        "p.csv",
        format!("username;firstname;lastname;{ok}\nu;a;b;x\n"),
    );
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn one_row_not_shown_is_one_row() {
    let world = World::users();
    let file = world.file(
        "o.csv",
        "username;firstname;lastname\nok;A;B\nBad User;A;B\n",
    );
    let run = run_file(&world, &file, &["--set", "store_report=0"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stdout()
            .contains("(1 row that did not fail is not shown: `--report full` prints it)"),
        "{}",
        run.stdout()
    );
}

#[test]
fn schema_columns_do_not_run_together() {
    let world = World::users();
    let run = world.run(&["schema", "users"]);
    let line = run
        .stdout()
        .lines()
        .find(|l| l.trim_start().starts_with("enrol{n}"))
        .map(str::to_string)
        .expect("an enrol{n} line");
    assert!(
        line.contains("enum manual self  manual (instance"),
        "{line}"
    );
}
