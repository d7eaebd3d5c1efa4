//! Run modes and durability: dry run, atomic, max errors, a locked store, kill and re-run.

mod common;
use common::*;

use std::time::{Duration, Instant};

#[test]
fn a_dry_run_changes_nothing() {
    let world = World::users();
    let seed = world.file("s.csv", "username;firstname;lastname\nkeep;K;K\n");
    world.run_json("users", &seed, &[]);
    let before = world.export_users();
    let archives = || {
        std::fs::read_dir(world.data.join("files/archives"))
            .unwrap()
            .count()
    };
    let archived = archives();
    let file = world.file(
        "d.csv",
        "username;firstname;lastname;deleted\nkeep;Changed;K;\nnew;N;N;\nkeep2;K;K;\n",
    );
    let (code, report) = world.run_json("users", &file, &["--dry-run"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["committed"], false);
    assert_eq!(
        report["counts"]["created"], 2,
        "the report says what would happen"
    );
    assert_eq!(report["counts"]["updated"], 1);
    assert_eq!(world.export_users(), before);
    assert_eq!(archives(), archived, "a dry run is not archived");
}

#[test]
fn atomic_with_one_bad_row_writes_nothing() {
    let world = World::users();
    let file = world.file(
        "a.csv",
        "username;firstname;lastname\ngood1;A;A\nbad user;B;B\ngood2;C;C\n",
    );
    let (code, report) = world.run_json("users", &file, &["--atomic"]);
    assert_eq!(code, 1);
    assert_eq!(report["committed"], false);
    assert_eq!(
        report["tryback"],
        serde_json::Value::Null,
        "no tryback for a rolled-back run"
    );
    assert!(world.export_users().is_empty());
    let good = world.file("g.csv", "username;firstname;lastname\ngood1;A;A\n");
    let (code, report) = world.run_json("users", &good, &["--atomic"]);
    assert_eq!(code, 0);
    assert_eq!(report["committed"], true);
    assert_eq!(world.export_users().len(), 1);
}

#[test]
fn max_errors_stops_the_run() {
    let world = World::users();
    let file = users_file(&world, "m.csv", 50, Some(5));
    let (code, report) = world.run_json("users", &file, &["--max-errors", "2"]);
    assert_eq!(code, 1);
    assert_eq!(report["rows_failed"], 2);
    assert_eq!(
        report["rows_total"], 10,
        "stopped right after the second failure"
    );
    assert!(report["stopped"]
        .as_str()
        .unwrap()
        .contains("--max-errors 2"));
    assert_eq!(
        world.export_users().len(),
        8,
        "what ran before the stop is committed"
    );
}

/// `--max-errors 0` would stop after the first row and skip the rest of the file in silence:
/// it is refused before anything runs.
#[test]
fn max_errors_0_is_refused() {
    let world = World::users();
    let file = users_file(&world, "z.csv", 5, None);
    let run = world.run(&["run", "users", file.to_str().unwrap(), "--max-errors", "0"]);
    assert_eq!(run.code(), 2, "{}", run.stdout());
    assert!(
        run.stderr().contains("must be at least 1"),
        "{}",
        run.stderr()
    );
    assert!(!world.data.exists(), "nothing was opened nor written");
}

#[test]
fn a_store_in_use_gives_exit_5() {
    for engine in ["sled", "redb", "postgres"] {
        let world = match engine {
            "postgres" => World::users().on_postgres(),
            embedded => World::users().on_engine(embedded),
        };
        let file = world.file("l.csv", "username;firstname;lastname\nx;X;X\n");
        let held = toolsync::data_dir::DataDir::resolve(Some(&world.data))
            .unwrap()
            .open_or_create_store()
            .unwrap();
        let run = world.run(&["run", "users", file.to_str().unwrap()]);
        assert_eq!(run.code(), 5, "{engine}: {}", run.stderr());
        assert!(
            run.stderr().contains("in use by another toolsync process"),
            "{engine}: {}",
            run.stderr()
        );
        world.release_store(held);
        assert_eq!(
            world.run(&["run", "users", file.to_str().unwrap()]).code(),
            0,
            "{engine}"
        );
    }
}

#[test]
fn reports_and_archive_are_stored_without_overwriting() {
    let world = World::users();
    let file = world.file("z.csv", "username;firstname;lastname\nx;X;X\n");
    world.run_json("users", &file, &[]);
    world.run_json("users", &file, &[]);
    let reports = std::fs::read_dir(world.data.join("files/reports"))
        .unwrap()
        .count();
    assert_eq!(reports, 4, "two runs in the same second get -2 names");
    let archives = std::fs::read_dir(world.data.join("files/archives"))
        .unwrap()
        .count();
    assert_eq!(archives, 2);
    // The file area is the default place for inputs.
    std::fs::copy(&file, world.data.join("files/userimport.csv")).unwrap();
    let run = world.run(&["run", "users"]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    let cleanup = world.run(&["run", "users", "--set", "cleanup=true"]);
    assert_eq!(cleanup.code(), 0);
    assert!(!world.data.join("files/userimport.csv").exists());
}

/// Runs the file, kills the process once `rows` report lines are spooled; returns whether the
/// run was still going when killed.
fn run_and_kill(world: &World, file: &std::path::Path, spooled_bytes: u64) -> bool {
    let mut child = world
        .command(&["-q", "run", "users", file.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let spool = world.data.join("runs/users/rows.jsonl");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let size = std::fs::metadata(&spool).map(|m| m.len()).unwrap_or(0);
        if size >= spooled_bytes || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    true
}

#[test]
fn a_run_killed_mid_way_and_rerun_applies_every_row_once() {
    const ROWS: usize = 60_000;
    let reference = World::users();
    let file = users_file(&reference, "big.csv", ROWS, Some(1000));
    let (code, report) = reference.run_json("users", &file, &["-q"]);
    assert_eq!(code, 1, "one bad row in a thousand");
    let failed = report["rows_failed"].as_u64().unwrap();

    let killed = World::users();
    let copy = killed.file("big.csv", std::fs::read(&file).unwrap());
    // Killed early, then killed again later, then left to finish.
    assert!(
        run_and_kill(&killed, &copy, 400_000),
        "the first run ended before the kill"
    );
    killed.assert_consistent();
    let second = run_and_kill(&killed, &copy, 2_400_000);
    killed.assert_consistent();
    let (code, report) = killed.run_json("users", &copy, &["-q"]);
    killed.assert_consistent();
    assert_eq!(code, 1);
    let warnings = report["warnings"].to_string();
    if second {
        assert!(
            warnings.contains("resumed an interrupted run"),
            "{warnings}"
        );
    }
    assert_eq!(
        report["rows_total"].as_u64().unwrap(),
        ROWS as u64,
        "the report covers every row once"
    );
    assert_eq!(report["rows_failed"].as_u64().unwrap(), failed);
    assert_eq!(
        report["counts"]["created"].as_u64().unwrap(),
        ROWS as u64 - failed,
        "{report}"
    );

    let (a, b) = (
        export_without_stamps(&reference),
        export_without_stamps(&killed),
    );
    assert_eq!(a.len(), b.len());
    assert!(a == b, "the exports differ");
    let tryback = std::fs::read_to_string(report["tryback"].as_str().unwrap()).unwrap();
    assert_eq!(
        tryback.lines().count() as u64,
        failed + 1,
        "header + each failed line once"
    );
}

/// The file-level warnings of a JSON report, as one text.
fn warnings_text(report: &serde_json::Value) -> String {
    report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["message"].as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The survey pass (plugin API 1.1) through a real cdylib: the fixture `surveyor` refuses a file
/// of more than `limit` rows (default 2) before any row is applied, in dry runs too, and
/// otherwise leaves a note among the report's warnings.
#[test]
fn a_survey_refuses_the_whole_file_before_any_row_is_applied() {
    let world = World::with(&[PANICKY]);
    let applied = |value: &str| {
        let key = format!("surveyor:value\0{value}");
        contains_bytes(&world.store_bytes(), key.as_bytes())
    };
    let three = world.file("three.csv", "value\nzebra\nyak\nxerus\n");
    for extra in [&[][..], &["--dry-run"][..]] {
        let (code, report) = world.run_json("surveyor", &three, extra);
        assert_eq!(code, 3, "{extra:?}: {report}");
        assert_eq!(
            report["refused"], "the file has 3 rows, more than limit = 2",
            "{report}"
        );
        assert_eq!(report["committed"], false, "{report}");
        assert_eq!(report["rows_total"], 0, "{report}");
    }
    assert!(!applied("zebra") && !applied("yak") && !applied("xerus"));
    let stored = std::fs::read_dir(world.data.join("files/reports"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with("three.csv.report.json")
        })
        .count();
    assert_eq!(stored, 2, "each refused run stores its report");

    // A 1-row file is within the limit: applied, with the survey's note.
    let one = world.file("one.csv", "value\nzebra\n");
    let (code, report) = world.run_json("surveyor", &one, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["refused"], serde_json::Value::Null);
    assert_eq!(report["counts"]["created"], 1);
    assert!(
        warnings_text(&report).contains("surveyed 1 rows, 0 already in the store"),
        "{report}"
    );
    assert!(applied("zebra"));

    // Within a raised limit; the survey reads the store as it is before the run.
    let (code, report) = world.run_json("surveyor", &three, &["--set", "limit=3"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["counts"]["created"], 3);
    assert!(
        warnings_text(&report).contains("surveyed 3 rows, 1 already in the store"),
        "{report}"
    );
    assert!(applied("yak") && applied("xerus"));

    // --force overrides the threshold, and the report says so.
    let (code, report) = world.run_json("surveyor", &three, &["--force"]);
    assert_eq!(code, 0, "{report}");
    assert!(
        warnings_text(&report)
            .contains("surveyed 3 rows, 3 already in the store (over the limit: --force)"),
        "{report}"
    );
}

#[test]
fn a_panic_while_surveying_refuses_the_file() {
    let world = World::with(&[PANICKY]);
    let file = world.file("p.csv", "value\nzebra\nsurvey-panic\n");
    let (code, report) = world.run_json("surveyor", &file, &["--set", "limit=10"]);
    assert_eq!(code, 3, "{report}");
    assert_eq!(
        report["refused"],
        "the processor panicked while surveying the file: cannot survey line 3"
    );
    assert!(!contains_bytes(&world.store_bytes(), b"surveyor\0zebra"));
}

/// A store failure inside a row (here a damaged account record the row reads) stops the run
/// with exit 5 and says so; the row is not counted as failed, and the rows before it stay.
#[test]
fn a_damaged_record_met_by_a_row_stops_the_run_with_exit_5() {
    use toolsync_plugin_api::engine::{full_key, Backend, Writes};
    let world = World::users();
    let create = world.file(
        "a.csv",
        "username;firstname;lastname\nann;Ann;A\nbob;Bob;B\n",
    );
    assert_eq!(world.run_json("users", &create, &[]).0, 0);
    let bob = world.show_user("bob").unwrap()["id"].as_u64().unwrap();
    world.with_store(|store| {
        let mut writes = Writes::new();
        writes.insert(
            full_key("user", &bob.to_be_bytes()),
            Some(b"{damaged".to_vec()),
        );
        store.apply(writes).unwrap();
        store.flush_all().unwrap();
    });
    let update = world.file(
        "b.csv",
        "username;firstname;lastname;city\nann;Ann;A;Lyon\nbob;Bob;B;Paris\n",
    );
    let run = world.run(&["run", "users", update.to_str().unwrap()]);
    assert_eq!(run.code(), 5, "{}{}", run.stdout(), run.stderr());
    assert!(
        run.stderr()
            .contains("line 3: store error: corrupt record in `user`"),
        "{}",
        run.stderr()
    );
    assert!(!run.stdout().contains("failed: 1"), "{}", run.stdout());
    assert!(
        run.stderr().contains("no row of this file was committed"),
        "{}",
        run.stderr()
    );
    assert!(run.stdout().contains("stopped: "), "{}", run.stdout());

    // Past a commit, the message says how far the committed rows go.
    let mut long = String::from("username;firstname;lastname\n");
    for i in 0..2100 {
        long.push_str(&format!("new{i};N;N\n"));
    }
    long.push_str("bob;Bob;B\n");
    let long = world.file("c.csv", long);
    let run = world.run(&["run", "users", long.to_str().unwrap()]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    assert!(
        run.stderr().contains(
            "rows up to line 2001 are committed, none after it: run the file again to resume"
        ),
        "{}",
        run.stderr()
    );
    assert!(world.show_user("new1999").is_some());
    assert!(world.show_user("new2000").is_none());
    let run = world.run(&["check"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stdout().contains("the record does not decode"),
        "{}",
        run.stdout()
    );
}

/// A refused file says why on stderr too, in one line, besides its report on stdout.
#[test]
fn a_refused_file_says_why_on_stderr() {
    let world = World::users();
    // The data dir exists (toolsync announces one it creates, on stderr).
    std::fs::create_dir_all(&world.data).unwrap();
    let file = world.file("bad.csv", "usernme;firstname\nann;Ann\n");
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 3);
    let stderr = run.stderr();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(
            "refused: line 1, taken as the header: unknown column `usernme`: did you mean \
             `username`?"
        ),
        "{stderr}"
    );
    assert!(
        run.stdout().contains("refused: "),
        "the report is on stdout too"
    );
}
