//! What a run prints and what it keeps: the short report on stdout and the full one stored, the
//! archive copy with secrets emptied, owner-only permissions, and a closed stdout.

mod common;
use common::*;

use std::io::Read;
use std::process::Stdio;

/// A users file of `n` accounts, the `bad`-th (1-based) with an e-mail that fails.
fn users_csv(n: usize, bad: usize) -> String {
    let mut csv = String::from("username;firstname;lastname;email\n");
    for i in 1..=n {
        let email = if i == bad {
            "not-an-address".to_string()
        } else {
            format!("u{i}@x.org")
        };
        csv.push_str(&format!("u{i};First;Last;{email}\n"));
    }
    csv
}

/// A big run prints its summary, its warnings and its failed rows, not a line per row; the
/// stored reports have every row, and `--report full` prints them.
#[test]
fn stdout_gets_the_summary_and_the_failed_rows_the_stored_report_every_row() {
    let world = World::users();
    let file = world.file("big.csv", users_csv(300, 150));
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 1);
    let out = run.stdout();
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(
        rows,
        ["line 151: failed: u150: `email`: `not-an-address` is not an e-mail address"]
    );
    assert!(
        out.contains("(299 rows that did not fail are not shown: the stored report "),
        "{out}"
    );
    assert!(out.lines().count() < 30, "{out}");
    let stored = std::fs::read_dir(world.data.join("files/reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".report.txt"))
        .unwrap();
    let full = std::fs::read_to_string(&stored).unwrap();
    assert_eq!(full.lines().filter(|l| l.starts_with("line ")).count(), 300);
    assert!(
        out.contains(&stored.display().to_string()),
        "the note names the stored report"
    );

    // The JSON report: failed rows on stdout, every row stored.
    let again = world.file("again.csv", users_csv(300, 150));
    let (_, report) = world.run_json("users", &again, &[]);
    assert_eq!(
        report["rows"].as_array().unwrap().len(),
        1,
        "{}",
        report["rows"]
    );
    assert_eq!(report["rows"][0]["line"], 151);
    let stored_json = std::fs::read_dir(world.data.join("files/reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("again.csv.report.json"))
        .unwrap();
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stored_json).unwrap()).unwrap();
    let rows = stored["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 300);
    assert_eq!(rows[0]["outcome"], "unchanged");
    assert_eq!(rows[0]["subject"], "u1");

    let (_, full) = world.run_text("users", &again, &[]);
    assert_eq!(full.lines().filter(|l| l.starts_with("line ")).count(), 300);
}

/// formats.md §4.4: the archive keeps the input byte for byte but for the secret cells
/// (passwords), emptied; archives, reports and trybacks are readable by their owner only; the
/// data dir is created so.
#[test]
fn the_archive_empties_passwords_and_outputs_are_owner_only() {
    let world = World::users();
    // Windows-1252 bytes, CRLF, a comment, a quoted password holding the delimiter, a failed row.
    let input: &[u8] = b"# accounts\r\nusername;password;city\r\nann;S3cret-1;Lyon\r\nbob;\"p;w\"\"2\";Li\xe8ge\r\n\
        carl;Hunter-3;\r\nbad name;Pass-4;X\r\n";
    let file = world.file("pw.csv", input);
    let (code, report) = world.run_json("users", &file, &["--set", "bcrypt_cost=4"]);
    assert_eq!(code, 1, "{report}");
    let archives: Vec<_> = std::fs::read_dir(world.data.join("files/archives"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(archives.len(), 1);
    let archived = std::fs::read(&archives[0]).unwrap();
    let expected: &[u8] = b"# accounts\r\nusername;password;city\r\nann;;Lyon\r\nbob;;Li\xe8ge\r\n\
        carl;;\r\nbad name;;X\r\n";
    assert_eq!(
        String::from_utf8_lossy(&archived),
        String::from_utf8_lossy(expected)
    );
    assert_eq!(archived, expected, "byte for byte, encoding kept");
    for secret in [&b"S3cret-1"[..], b"Hunter-3", b"p;w", b"Pass-4"] {
        assert!(!contains_bytes(&archived, secret));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&archives[0]), 0o600, "archive");
        for report in std::fs::read_dir(world.data.join("files/reports")).unwrap() {
            assert_eq!(mode(&report.unwrap().path()), 0o600, "report");
        }
        assert_eq!(
            mode(std::path::Path::new(report["tryback"].as_str().unwrap())),
            0o600
        );
        assert_eq!(mode(&world.data), 0o700, "data dir");
    }
}

/// A closed stdout (`| head -1`) ends a command quietly: no panic, no backtrace, and a run
/// still finishes its work.
#[test]
fn a_closed_stdout_ends_quietly() {
    let world = World::users();
    let file = world.file("many.csv", users_csv(3000, 0));
    let head = |args: &[&str]| {
        let mut child = world
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (child.wait().unwrap().code(), stderr)
    };
    let (code, stderr) = head(&["run", "users", file.to_str().unwrap(), "--report", "full"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(world.export_users().len(), 3000, "the run went to its end");
    assert!(
        world
            .data
            .join("files/archives")
            .read_dir()
            .unwrap()
            .count()
            == 1
    );
    for args in [
        &["export", "users", "--format", "json"][..],
        &["export", "users"][..],
        &["schema", "users"][..],
        &["schema"][..],
    ] {
        let (code, stderr) = head(args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
