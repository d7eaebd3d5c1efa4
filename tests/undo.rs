//! The undo log end to end: `toolsync revert` after a run of every processor puts the store back
//! key for key; a course-delete and a users deletion come back with all they took along;
//! conflicts with later runs are refused unless forced; a killed revert completes; `--atomic`
//! rolls back after a failed row and after a kill; the logs are pruned to `[undo] keep_runs`; a
//! dry run larger than its in-memory budget spills to a scratch space that does not outlive it.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toolsync_plugin_api::engine::Backend;

type Snapshot = BTreeMap<Vec<u8>, Vec<u8>>;

/// Every key the processors write (the host's own keyspaces left out), with its value.
fn snapshot(world: &World) -> Snapshot {
    world.with_store(|store| {
        store
            .scan(b"")
            .map(Result::unwrap)
            .filter(|(key, _)| toolsync::undo::is_recorded(key))
            .collect()
    })
}

/// The keys that differ between two snapshots, readable.
fn differences(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut keys: Vec<&Vec<u8>> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| toolsync::undo::describe_key(k))
        .collect()
}

fn assert_same(before: &Snapshot, after: &Snapshot, what: &str) {
    let diff = differences(before, after);
    assert!(
        diff.is_empty(),
        "{what}: {} keys differ, the first: {:?}",
        diff.len(),
        &diff[..diff.len().min(20)]
    );
}

/// The ids of `processor`'s runs `toolsync reports` lists.
fn run_ids(world: &World, processor: &str) -> Vec<String> {
    let run = world.run(&["reports", "--processor", processor, "--json"]);
    let runs: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    runs.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// The id of the run of `processor` listed now and not in `before` (runs of one second may be
/// listed in either order).
fn new_run(world: &World, processor: &str, before: &[String]) -> String {
    run_ids(world, processor)
        .into_iter()
        .find(|id| !before.contains(id))
        .expect("a new run is listed")
}

fn run_ok(world: &World, processor: &str, file: &Path, extra: &[&str]) -> String {
    let before = run_ids(world, processor);
    let mut args = vec!["run", processor, file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = world.run(&args);
    assert_eq!(
        run.code(),
        0,
        "{processor}: {}{}",
        run.stdout(),
        run.stderr()
    );
    new_run(world, processor, &before)
}

fn revert_json(world: &World, id: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args = vec!["revert", id, "--json"];
    args.extend_from_slice(extra);
    let run = world.run(&args);
    let report = serde_json::from_str(&run.stdout()).unwrap_or(serde_json::Value::Null);
    (run.code(), report, run.stderr())
}

/// Runs `args` to the fault point `point`, leaves sled the time to write what was committed
/// (it does every 500 ms), then kills the process.
fn killed_at(world: &World, args: &[&str], point: &str) {
    killed_with(world, world.command(args), point)
}

/// [`killed_at`] for a command already set up.
fn killed_with(world: &World, mut command: std::process::Command, point: &str) {
    let pause = world.root.join(format!("pause-{point}"));
    std::fs::create_dir_all(&pause).unwrap();
    let mut child = command
        .env(
            "TOOLSYNC_FAULT",
            format!("{point}:pause={}", pause.display()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !pause.join("reached").exists() {
        assert!(
            child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline,
            "{point} was not reached"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    child.kill().unwrap();
    child.wait().unwrap();
}

fn stored_files(world: &World) -> usize {
    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        count(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
    }
    count(&world.data.join("pictures"))
}

fn everything() -> World {
    World::with(&[USERS, COURSES, ENROLMENTS, GROUPS, COHORTS, PICTURES])
}

#[test]
fn a_run_of_every_processor_reverts_to_the_store_it_found() {
    let world = everything();
    let after_samples = [
        ("course-reset", "resetcourses.csv"),
        ("course-delete", "deletecourses.csv"),
    ];
    for (processor, file) in SAMPLES.into_iter().chain(after_samples) {
        let path = examples().join(file);
        let before = snapshot(&world);
        let files_before = stored_files(&world);
        let id = run_ok(&world, processor, &path, &[]);
        assert!(
            !differences(&before, &snapshot(&world)).is_empty(),
            "{processor} {file} changed nothing: the revert would prove nothing"
        );
        let (code, report, stderr) = revert_json(&world, &id, &[]);
        assert_eq!(code, 0, "revert of {processor} {file}: {stderr}");
        assert_eq!(report["reverted"]["processor"], processor);
        assert!(report["rows_total"].as_u64().unwrap() > 0);
        assert_same(&before, &snapshot(&world), &format!("{processor} {file}"));
        assert_eq!(
            stored_files(&world),
            files_before,
            "{processor}: stored files"
        );
        world.assert_consistent();
        // Applied again, for the processors that follow.
        run_ok(&world, processor, &path, &[]);
    }
    // A read-only processor commits nothing: there is nothing to revert.
    // A copy: its failed key's tryback is written beside it.
    let courses = world.file(
        "courses.csv",
        std::fs::read(examples().join("courses.csv")).unwrap(),
    );
    let before = run_ids(&world, "course-check");
    // Exit 1: the sample names a course that does not exist.
    assert_eq!(
        world
            .run(&["run", "course-check", courses.to_str().unwrap()])
            .code(),
        1
    );
    let id = new_run(&world, "course-check", &before);
    let (code, _, stderr) = revert_json(&world, &id, &[]);
    assert_eq!(code, 3);
    assert!(stderr.contains("has no undo log"), "{stderr}");
}

fn samples_world() -> World {
    let world = everything();
    // The samples but the pictures.
    for (processor, file) in &SAMPLES[..SAMPLES.len() - 1] {
        run_ok(&world, processor, &examples().join(file), &[]);
    }
    world
}

#[test]
fn a_deleted_course_comes_back_with_all_the_delete_took_along() {
    let world = samples_world();
    let course = world.show("course", "HIST101").expect("HIST101 exists");
    assert!(course["enrolments"]["participants"].as_u64().unwrap() > 0);
    let before = snapshot(&world);
    let exports = exports_without_stamps(
        &world,
        &[
            "courses",
            "enrolments",
            "groups",
            "groupings",
            "group-members",
            "cohorts",
        ],
    );
    let file = world.file("delete.csv", "HIST101\n");
    let id = run_ok(&world, "course-delete", &file, &[]);
    assert!(world.show("course", "HIST101").is_none());
    let removed = before.len() - snapshot(&world).len();
    assert!(removed > 20, "the delete cascaded to {removed} keys only");
    let (code, report, stderr) = revert_json(&world, &id, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(report["keys"]["course"]["recreated"].as_u64().unwrap() >= 1);
    assert!(report["keys"]["enrol.user"]["recreated"].as_u64().unwrap() > 0);
    assert!(report["keys"]["group"]["recreated"].as_u64().unwrap() > 0);
    assert_same(&before, &snapshot(&world), "course-delete of HIST101");
    assert_eq!(
        exports_without_stamps(
            &world,
            &[
                "courses",
                "enrolments",
                "groups",
                "groupings",
                "group-members",
                "cohorts"
            ],
        ),
        exports
    );
    world.assert_consistent();
}

#[test]
fn a_deleted_account_comes_back_with_its_enrolments_memberships_and_roles() {
    let world = samples_world();
    let before = snapshot(&world);
    let file = world.file("gone.csv", "username;deleted\njdoe;1\n");
    let id = run_ok(&world, "users", &file, &[]);
    let after = snapshot(&world);
    let changed = differences(&before, &after);
    for space in ["enrol.user/", "group.member/", "role.assignment/"] {
        assert!(
            changed.iter().any(|k| k.starts_with(space)),
            "the deletion did not touch {space}: {changed:?}"
        );
    }
    let (code, _, stderr) = revert_json(&world, &id, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_same(&before, &snapshot(&world), "users deletion of jdoe");
    let user = world.show_user("jdoe").unwrap();
    assert_eq!(user["deleted"], false);
    world.assert_consistent();
}

#[test]
fn a_revert_over_a_later_change_is_refused_unless_forced_and_a_dry_run_writes_nothing() {
    let world = World::users();
    let first = world.file(
        "a.csv",
        "username;firstname;lastname;email\nann;Ann;A;ann@x.org\nbob;Bob;B;bob@x.org\n",
    );
    let before_first = snapshot(&world);
    let a = run_ok(&world, "users", &first, &[]);
    let second = world.file(
        "b.csv",
        "username;firstname;lastname;email\nann;Anne;A;ann@x.org\n",
    );
    let b = run_ok(&world, "users", &second, &[]);
    let before = snapshot(&world);

    let (code, _, stderr) = revert_json(&world, &a, &[]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&b) && stderr.contains("user/#1") && stderr.contains("--force"),
        "the refusal names the later run and the key: {stderr}"
    );
    assert_same(&before, &snapshot(&world), "a refused revert");

    let (code, report, stderr) = revert_json(&world, &b, &["--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["keys"]["user"]["restored"], 1);
    assert_same(&before, &snapshot(&world), "a dry run");

    let (code, report, stderr) = revert_json(&world, &a, &["--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["conflicts"], 1);
    assert_eq!(report["forced"][0]["later_runs"][0], b.as_str());
    assert_same(&before_first, &snapshot(&world), "a forced revert");
    let (code, _, stderr) = revert_json(&world, &a, &[]);
    assert_eq!(code, 3);
    assert!(stderr.contains("already reverted"), "{stderr}");
    // A mistyped id is refused with where to find the ids.
    let (code, _, stderr) = revert_json(&world, "20990101-000000_nope.csv", &[]);
    assert_eq!(code, 3);
    assert!(stderr.contains("toolsync reports"), "{stderr}");
    // Its report is stored like a run's.
    let listed = world
        .run(&["reports", "--processor", "revert", "--json"])
        .stdout();
    assert!(listed.contains("revert"), "{listed}");
    // A revert's own id: it cannot be reverted, and is told so.
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let revert_id = listed[0]["id"].as_str().unwrap().to_string();
    let (code, _, stderr) = revert_json(&world, &revert_id, &[]);
    assert_eq!(code, 3);
    assert!(stderr.contains("a revert cannot be reverted"), "{stderr}");
}

#[test]
fn the_later_run_reverted_first_lets_the_earlier_one_revert_cleanly() {
    let world = World::users();
    let empty = snapshot(&world);
    let a = run_ok(
        &world,
        "users",
        &world.file(
            "a.csv",
            "username;firstname;lastname;email\nann;Ann;A;ann@x.org\n",
        ),
        &[],
    );
    let b = run_ok(
        &world,
        "users",
        &world.file(
            "b.csv",
            "username;firstname;lastname;email\nann;Anne;A;ann@x.org\n",
        ),
        &[],
    );
    assert_eq!(revert_json(&world, &b, &[]).0, 0);
    let (code, _, stderr) = revert_json(&world, &a, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_same(&empty, &snapshot(&world), "both reverted");
}

fn users_rows(world: &World, name: &str, rows: usize, bad_at: Option<usize>) -> PathBuf {
    let mut text = String::from("username;firstname;lastname;email\n");
    for i in 0..rows {
        if Some(i) == bad_at {
            text.push_str("bad name;F;L;bad@x.org\n");
        } else {
            text.push_str(&format!("u{i};F{i};L;u{i}@x.org\n"));
        }
    }
    world.file(name, text)
}

#[test]
fn a_killed_revert_is_completed_by_the_next_one() {
    let world = World::users();
    let empty = snapshot(&world);
    // 4,000 accounts × 3 keys: a revert of two batches.
    let id = run_ok(
        &world,
        "users",
        &users_rows(&world, "many.csv", 4_000, None),
        &[],
    );
    killed_at(&world, &["revert", &id], "after-revert-batch");
    let partial = snapshot(&world);
    assert!(!differences(&empty, &partial).is_empty() && partial.len() < 12_000);
    let journal = world.run(&["journal"]);
    assert!(
        journal.stdout().contains("a revert of") && journal.stdout().contains("interrupted"),
        "{}",
        journal.stdout()
    );
    let (code, report, stderr) = revert_json(&world, &id, &[]);
    // The kill's revert is completed first; the second asks for a run already reverted.
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("completed") && stderr.contains("already reverted"),
        "{stderr}"
    );
    assert_eq!(report, serde_json::Value::Null);
    assert_same(&empty, &snapshot(&world), "a killed revert completed");
}

#[test]
fn an_atomic_run_with_a_failed_row_leaves_the_store_as_it_was() {
    let world = World::users();
    run_ok(
        &world,
        "users",
        &users_rows(&world, "seed.csv", 10, None),
        &[],
    );
    let before = snapshot(&world);
    // Several batches committed before the failed row, the last one after it.
    let file = users_rows(&world, "atomic.csv", 5_000, Some(4_500));
    let earlier = run_ids(&world, "users");
    let run = world.run(&["run", "users", file.to_str().unwrap(), "--atomic", "--json"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["committed"], false);
    assert_same(&before, &snapshot(&world), "a rolled-back --atomic run");
    let listed = world.run(&["reports", "--json"]).stdout();
    assert!(listed.contains("rolled back"), "{listed}");
    let (code, _, stderr) = revert_json(&world, &new_run(&world, "users", &earlier), &[]);
    assert_eq!(code, 3);
    assert!(stderr.contains("no undo log"), "{stderr}");
    world.assert_consistent();
}

#[test]
fn an_atomic_run_killed_midway_is_rolled_back_by_the_next_start() {
    let world = World::users();
    run_ok(
        &world,
        "users",
        &users_rows(&world, "seed.csv", 10, None),
        &[],
    );
    let before = snapshot(&world);
    let file = users_rows(&world, "atomic.csv", 5_000, None);
    killed_at(
        &world,
        &["run", "users", file.to_str().unwrap(), "--atomic"],
        "after-batch-commit",
    );
    assert!(
        snapshot(&world).len() > before.len(),
        "the killed run had committed a batch"
    );
    // The next run, of another file, rolls it back first and says so.
    let other = world.file(
        "other.csv",
        "username;firstname;lastname;email\nzed;Z;Z;z@x.org\n",
    );
    let run = world.run(&["run", "users", other.to_str().unwrap(), "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.stdout().contains("rolled back"), "{}", run.stdout());
    // Only zed's account is new: its record and its two index entries.
    let after = snapshot(&world);
    let new = differences(&before, &after);
    assert!(
        new.len() == 3
            && new
                .iter()
                .all(|k| !before.keys().any(|b| toolsync::undo::describe_key(b) == *k)),
        "{new:?}"
    );
    assert!(new.contains(&"user.username/zed".to_string()), "{new:?}");
    world.assert_consistent();
}

#[test]
fn an_atomic_rollback_killed_midway_completes_at_the_next_start() {
    let world = World::users();
    let before = snapshot(&world);
    let file = users_rows(&world, "atomic.csv", 5_000, Some(4_900));
    killed_at(
        &world,
        &["run", "users", file.to_str().unwrap(), "--atomic"],
        "after-revert-batch",
    );
    assert!(!differences(&before, &snapshot(&world)).is_empty());
    // A prune meanwhile (keeping no log at all) keeps what the interrupted rollback still has
    // to read.
    std::fs::write(world.data.join("toolsync.toml"), "[undo]\nkeep_runs = 0\n").unwrap();
    let prune = world.run(&["reports", "prune", "--keep", "0"]);
    assert_eq!(prune.code(), 0, "{}", prune.stderr());
    let other = users_rows(&world, "nothing.csv", 0, None);
    let run = world.run(&["run", "users", other.to_str().unwrap()]);
    assert!(run.stdout().contains("rollback"), "{}", run.stdout());
    assert_same(&before, &snapshot(&world), "a completed rollback");
}

#[test]
fn only_the_last_keep_runs_logs_are_kept() {
    let world = World::users();
    std::fs::create_dir_all(&world.data).unwrap();
    std::fs::write(world.data.join("toolsync.toml"), "[undo]\nkeep_runs = 2\n").unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let file = world.file(
            &format!("r{i}.csv"),
            format!("username;firstname;lastname;email\nr{i};R;R;r{i}@x.org\n"),
        );
        ids.push(run_ok(&world, "users", &file, &[]));
    }
    let (code, _, stderr) = revert_json(&world, &ids[0], &[]);
    assert_eq!(code, 3);
    assert!(
        stderr.contains("pruned") && stderr.contains("keep_runs"),
        "{stderr}"
    );
    assert_eq!(revert_json(&world, &ids[2], &[]).0, 0);
    assert_eq!(revert_json(&world, &ids[1], &[]).0, 0);
}

#[test]
fn a_dry_run_beyond_its_memory_budget_spills_and_answers_as_the_real_run() {
    let world = World::users();
    let before = snapshot(&world);
    // 12,000 accounts × 3 keys, past the 20,000 staged writes this test lets a dry run hold in
    // memory (500,000 otherwise); the last rows meet accounts early rows created, whose writes
    // were spilled by then.
    let mut text = String::from("username;firstname;lastname;email\n");
    for i in 0..12_000 {
        text.push_str(&format!("u{i};F;L;u{i}@x.org\n"));
    }
    text.push_str("u1;Changed;L;u1@x.org\nu2;F;L;u3@x.org\n");
    let file = world.file("big.csv", text);
    let mut dry_run = world.command(&[
        "-v",
        "run",
        "users",
        file.to_str().unwrap(),
        "--dry-run",
        "--json",
    ]);
    dry_run.env("TOOLSYNC_DRY_RUN_SPILL_WRITES", "20000");
    let run = run_bounded(dry_run, None);
    assert!(
        run.stderr().contains("moved to the scratch space"),
        "no spill: {}",
        run.stderr()
    );
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["dry_run"], true);
    let (created, updated, _, _, failed) = counts(&report);
    assert_eq!((created, updated), (12_000, 1), "{}", run.stdout());
    // u3's address is taken by an account the scratch holds.
    assert_eq!(failed, 1, "{:?}", reasons(&report));
    assert_same(&before, &snapshot(&world), "a dry run");
    let runs = world.data.join("runs");
    let left: Vec<_> = std::fs::read_dir(&runs).map_or(Vec::new(), |d| d.flatten().collect());
    assert!(left.is_empty(), "the scratch space stays: {left:?}");
}

#[test]
fn a_killed_dry_runs_scratch_space_is_removed_by_the_next_run() {
    let world = World::users();
    let file = users_rows(&world, "big.csv", 8_000, None);
    let scratch = world.data.join("runs/users/scratch");
    let mut dry_run = world.command(&["run", "users", file.to_str().unwrap(), "--dry-run"]);
    dry_run.env("TOOLSYNC_DRY_RUN_SPILL_WRITES", "10000");
    killed_with(&world, dry_run, "after-dry-run-spill");
    assert!(scratch.is_dir(), "the spill made no scratch space");
    let nothing = users_rows(&world, "nothing.csv", 0, None);
    let run = world.run(&["run", "users", nothing.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(!scratch.exists(), "a killed dry run's scratch space stays");
}

fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn a_replaced_picture_keeps_its_files_while_a_log_names_them_and_comes_back() {
    use toolsync_pictures::fixtures::png;
    let world = World::with(&[USERS, PICTURES]);
    run_ok(
        &world,
        "users",
        &world.file("u.csv", "username;firstname;lastname\nann;Ann;A\n"),
        &[],
    );
    run_ok(
        &world,
        "pictures",
        &world.file("userpictures_1.zip", zip_of(&[("ann.png", png(40, 20))])),
        &[],
    );
    let first = world.show("picture", "ann").unwrap();
    let before = snapshot(&world);
    let id = run_ok(
        &world,
        "pictures",
        &world.file("userpictures_2.zip", zip_of(&[("ann.png", png(30, 30))])),
        &[],
    );
    assert_eq!(world.show("picture", "ann").unwrap()["width"], 30);
    // The first picture's three renditions stay beside the new ones: the log names them.
    assert_eq!(stored_files(&world), 6);
    let check = world.run(&["check"]);
    assert!(
        !check.stdout().contains("no record names"),
        "{}",
        check.stdout()
    );
    let (code, _, stderr) = revert_json(&world, &id, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_same(&before, &snapshot(&world), "a replaced picture");
    assert_eq!(world.show("picture", "ann").unwrap(), first);
    // Its PNG is there again; the reverted run's files are swept.
    let out = world.root.join("ann.png");
    let got = world.run(&["picture", "get", "ann", "--output", out.to_str().unwrap()]);
    assert_eq!(got.code(), 0, "{}", got.stderr());
    assert_eq!(stored_files(&world), 3);
    world.assert_consistent();
}

#[test]
fn with_keep_runs_0_no_log_is_recorded_but_atomic_still_rolls_back() {
    let world = World::users();
    std::fs::create_dir_all(&world.data).unwrap();
    std::fs::write(world.data.join("toolsync.toml"), "[undo]\nkeep_runs = 0\n").unwrap();
    let id = run_ok(&world, "users", &users_rows(&world, "a.csv", 5, None), &[]);
    let logged = world.with_store(|store| {
        store
            .scan(&toolsync_plugin_api::engine::full_key(
                toolsync::undo::LOG,
                b"",
            ))
            .count()
    });
    assert_eq!(logged, 0, "no undo record written");
    let (code, _, stderr) = revert_json(&world, &id, &[]);
    assert_eq!(code, 3);
    assert!(stderr.contains("no undo log"), "{stderr}");
    let before = snapshot(&world);
    let file = users_rows(&world, "atomic.csv", 3_000, Some(2_500));
    let run = world.run(&["run", "users", file.to_str().unwrap(), "--atomic"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_same(
        &before,
        &snapshot(&world),
        "an --atomic run with keep_runs 0",
    );
}
