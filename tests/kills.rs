//! Exactly once through the end of a run: a run killed in any phase of its finish, or at a
//! random instant, and run again leaves the store and every output (tryback, report pair,
//! archive, the input's clean-up) as one uninterrupted run would — each output once.
//!
//! The finish's phases are reached through the `TOOLSYNC_FAULT` hook (host/src/faults.rs),
//! which aborts the process there as `kill -9` would.
mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The phases of a committed run's finish, in order.
const PHASES: &[&str] = &[
    "after-last-commit",
    "before-final-flush",
    "after-final-flush",
    "after-tryback",
    "after-report",
    "after-archive",
    "after-cleanup",
    "after-journal-clear",
];

/// One kind of run to kill: how to prepare its world, the file, the flags, what it ends with.
struct Scenario {
    name: &'static str,
    world: fn() -> World,
    /// Runs before the killed run (courses to delete or check).
    setup: fn(&World),
    processor: &'static str,
    file: &'static str,
    content: &'static str,
    args: &'static [&'static str],
    exit: i32,
    /// A tryback is written (rows fail).
    tryback: bool,
}

const USERS_MIXED: &str = "username;firstname;lastname;email;password\n\
                           ann;Ann;A;ann@example.org;Secret-1\n\
                           bad user;B;B;b@example.org;x\n\
                           cat;Cat;C;cat@example.org;Secret-3\n\
                           dan;Dan;D;not-an-email;x\n\
                           eve;Eve;E;eve@example.org;Secret-5\n";

const COURSES: &str = "shortname;fullname;category\n\
                       C1;Course 1;Sciences\n\
                       C2;Course 2;Sciences\n\
                       C3;Course 3;Arts\n\
                       C4;Course 4;Arts\n";

fn no_setup(_: &World) {}

/// Accounts U1…U4 (idnumbers) and the four courses.
fn accounts_and_courses(world: &World) {
    let file = world.file(
        "accounts.csv",
        "username;firstname;lastname;idnumber\nu1;U;1;U1\nu2;U;2;U2\nu3;U;3;U3\nu4;U;4;U4\n",
    );
    let run = world.run(&["-q", "run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "setup: {}{}", run.stdout(), run.stderr());
    four_courses(world);
}

const ENROLS: &str = "cmd;rolename;uid;cid;enrol;starttime;gcmd;g1;g2\n\
                      add;student;U1;C1;manual;2026-09-01;gaddcreate;Red;Blue\n\
                      add;student;U2;C1;;;gaddcreate;Red;\n\
                      add;student;U9;C1;;;;;\n\
                      add;teacher;U3;C2;;;gaddcreate;Green;\n\
                      add;student;U4;C2;;;gadd;Nope;\n\
                      shift;editingteacher;U1;C1;;;greplace;Blue;\n\
                      disable;;U2;C1;;;;;\n";

/// Members of the large cohort the cohort-courses scenarios bind.
const LARGE_COHORT: usize = 2_000;

/// The four courses, and cohort BIG of [`LARGE_COHORT`] accounts.
fn a_large_cohort(world: &World) {
    four_courses(world);
    let mut accounts = String::from("username;firstname;lastname;idnumber\n");
    let mut members = String::from("cidnumber;cname;userid\n");
    for i in 0..LARGE_COHORT {
        accounts.push_str(&format!("m{i};M;{i};M{i}\n"));
        members.push_str(&format!("BIG;Big class;M{i}\n"));
    }
    for (processor, name, content) in [
        ("users", "accounts.csv", accounts),
        ("cohorts", "members.csv", members),
    ] {
        let file = world.file(name, content);
        let run = world.run(&["-q", "run", processor, file.to_str().unwrap()]);
        assert_eq!(run.code(), 0, "setup: {}{}", run.stdout(), run.stderr());
    }
}

/// Binds the large cohort to the four courses (one row fails: an unknown cohort).
const BIND_LARGE: &str = "cohort;course;makegroup\nBIG;C1;1\nBIG;C2;\nNOPE;C3;\nBIG;C4;1\n";

fn four_courses(world: &World) {
    let file = world.file("setup.csv", COURSES);
    let run = world.run(&["-q", "run", "course-create", file.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "setup: {}{}", run.stdout(), run.stderr());
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "users, failed rows, clean-up",
        world: World::users,
        setup: no_setup,
        processor: "users",
        file: "users.csv",
        content: USERS_MIXED,
        args: &["--set", "cleanup=true"],
        exit: 1,
        tryback: true,
    },
    Scenario {
        name: "users --atomic",
        world: World::users,
        setup: no_setup,
        processor: "users",
        file: "users.csv",
        content: "username;firstname;lastname\nann;Ann;A\nbob;Bob;B\n",
        args: &["--atomic"],
        exit: 0,
        tryback: false,
    },
    Scenario {
        name: "course-create (surveyed)",
        world: World::courses,
        setup: no_setup,
        processor: "course-create",
        file: "courses.csv",
        content: COURSES,
        args: &[],
        exit: 0,
        tryback: false,
    },
    Scenario {
        name: "enrolments with groups, failed rows",
        world: World::enrolments,
        setup: accounts_and_courses,
        processor: "enrolments",
        file: "enrols.csv",
        content: ENROLS,
        args: &[],
        exit: 1,
        tryback: true,
    },
    Scenario {
        name: "cohort-courses binding a large cohort",
        world: World::cohorts,
        setup: a_large_cohort,
        processor: "cohort-courses",
        file: "bind.csv",
        content: BIND_LARGE,
        args: &[],
        exit: 1,
        tryback: true,
    },
    Scenario {
        name: "course-delete",
        world: World::courses,
        setup: four_courses,
        processor: "course-delete",
        file: "delete.csv",
        content: "C1\nnope\n",
        args: &[],
        exit: 1,
        tryback: true,
    },
    Scenario {
        name: "course-check (read-only)",
        world: World::courses,
        setup: four_courses,
        processor: "course-check",
        file: "check.csv",
        content: "C1\nC9\nC2\n",
        args: &[],
        exit: 1,
        tryback: true,
    },
];

impl Scenario {
    fn prepare(&self) -> (World, PathBuf) {
        let world = (self.world)();
        (self.setup)(&world);
        let file = world.file(self.file, self.content);
        (world, file)
    }

    fn command(&self, world: &World, file: &Path) -> std::process::Command {
        let mut args = vec![
            "-q",
            "run",
            self.processor,
            file.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(self.args);
        world.command(&args)
    }

    /// Runs to the end; returns the exit code and the JSON report.
    fn run(&self, world: &World, file: &Path) -> (i32, Value) {
        let out = self.command(world, file).output().unwrap();
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: not a JSON report ({e}): {}{}",
                self.name,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report)
    }

    /// What an uninterrupted run leaves: (its report's counts, the store's content).
    fn reference(&self) -> (Value, Vec<String>) {
        let (world, file) = self.prepare();
        let (code, report) = self.run(&world, &file);
        assert_eq!(code, self.exit, "{}: reference run: {report}", self.name);
        (report["counts"].clone(), store_content(&world))
    }
}

/// What the store holds, stamps left out.
fn store_content(world: &World) -> Vec<String> {
    exports_without_stamps(
        world,
        &[
            "users",
            "courses",
            "categories",
            "enrolments",
            "role-assignments",
            "groups",
            "group-members",
            "enrol-instances",
        ],
    )
}

/// Files in `dir` whose name satisfies `keep`.
fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| keep(n))
        .collect();
    names.sort();
    names
}

/// Every output exists once, whole, and nothing of the run is left pending.
/// `after_clear`: the last kill came after the journal was cleared (no re-run was due).
fn assert_outputs_once(
    scenario: &Scenario,
    world: &World,
    file: &Path,
    context: &str,
    after_clear: bool,
) {
    // This run's outputs (a setup run has its own).
    let name = file.file_name().unwrap().to_str().unwrap();
    let reports = world.data.join("files/reports");
    let txt = files_in(&reports, |n| n.ends_with(&format!("_{name}.report.txt")));
    let json = files_in(&reports, |n| n.ends_with(&format!("_{name}.report.json")));
    assert_eq!(
        (txt.len(), json.len()),
        (1, 1),
        "{context}: reports {txt:?} {json:?}"
    );
    let archives = files_in(&world.data.join("files/archives"), |n| {
        n.ends_with(&format!("_{name}"))
    });
    assert_eq!(archives.len(), 1, "{context}: archives {archives:?}");
    let stem = file.file_stem().unwrap().to_str().unwrap();
    let trybacks = files_in(&world.root, |n| n.starts_with(&format!("{stem}_tryback_")));
    assert_eq!(
        trybacks.len(),
        usize::from(scenario.tryback),
        "{context}: trybacks {trybacks:?}"
    );
    for dir in [
        reports,
        world.data.join("files/archives"),
        world.root.clone(),
    ] {
        let partial = files_in(&dir, |n| n.ends_with(".partial"));
        assert!(
            partial.is_empty(),
            "{context}: {partial:?} left in {}",
            dir.display()
        );
    }
    let journal = world.run(&["journal"]);
    assert_eq!(journal.stdout().trim(), "no interrupted run", "{context}");
    // The spool (work files) goes after the journal: a kill between the two leaves it until the
    // next run, which starts by removing it.
    if !after_clear {
        assert!(
            !world.data.join("runs").join(scenario.processor).exists(),
            "{context}: the spool is left"
        );
    }
    let cleaned = scenario.args.contains(&"cleanup=true");
    assert_eq!(file.exists(), !cleaned, "{context}: clean-up");
    // The stored JSON report is whole and agrees with the run's outcome.
    let stored: Value = serde_json::from_slice(
        &std::fs::read(world.data.join("files/reports").join(&json[0])).unwrap(),
    )
    .unwrap_or_else(|e| panic!("{context}: the stored report is not whole JSON: {e}"));
    assert_eq!(stored["processor"], scenario.processor, "{context}");
    world.assert_consistent();
}

#[test]
fn a_kill_in_any_phase_of_the_finish_completes_each_output_once() {
    for scenario in SCENARIOS {
        let (counts, content) = scenario.reference();
        for phase in PHASES {
            let context = format!("{} killed {phase}", scenario.name);
            let (world, file) = scenario.prepare();
            let killed = scenario
                .command(&world, &file)
                .env("TOOLSYNC_FAULT", phase)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert_eq!(
                killed.code(),
                None,
                "{context}: the fault point was not reached"
            );
            if *phase == "after-final-flush" {
                // The last batch and the finish plan are durable: only the finish is pending.
                let journal = world.run(&["journal"]).stdout();
                assert!(
                    journal.contains("only its finish remains"),
                    "{context}: {journal}"
                );
            }
            if *phase != "after-journal-clear" {
                let (code, report) = scenario.run(&world, &file);
                assert_eq!(code, scenario.exit, "{context}: {report}");
                assert_eq!(report["counts"], counts, "{context}: the re-run's report");
            }
            // A kill after the journal is cleared leaves nothing pending: no re-run is due.
            let after_clear = *phase == "after-journal-clear";
            assert_outputs_once(scenario, &world, &file, &context, after_clear);
            assert_eq!(store_content(&world), content, "{context}: the store");
            world.assert_consistent();
        }
    }
}

/// Kills at random instants (a fresh seed each time; printed when the test fails), re-runs
/// until the run ends, then checks as above.
#[test]
fn kills_at_random_instants_leave_every_row_and_output_once() {
    killed_at_random_instants(World::users, 4);
}

/// The same on a redb store: its commits are redb's durable transactions.
#[test]
fn kills_at_random_instants_on_a_redb_store_leave_every_row_and_output_once() {
    killed_at_random_instants(|| World::users().on_engine("redb"), 2);
    let world = World::users().on_engine("redb");
    let file = users_file(&world, "few.csv", 10, None);
    let (code, _) = world.run_json("users", &file, &["-q"]);
    assert_eq!(code, 0);
    assert!(world.data.join("store/store.redb").is_file());
    assert!(
        !world.data.join("store/db").exists(),
        "a sled store was made"
    );
}

/// The same on a PostgreSQL store: a batch is a transaction; the killed run's session, and
/// with it the one-writer lock, ends with its process.
#[test]
fn kills_at_random_instants_on_a_postgres_store_leave_every_row_and_output_once() {
    killed_at_random_instants(|| World::users().on_postgres(), 2);
}

/// Runs a users file killed at random instants (a fresh seed each time; printed when the test
/// fails) in `trials` new worlds, each then run to its end: every row and output once.
fn killed_at_random_instants(new_world: fn() -> World, trials: usize) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut random = Lcg(seed | 1);
    let reference = new_world();
    let file = users_file(&reference, "big.csv", 6_000, Some(500));
    let started = Instant::now();
    let (code, report) = reference.run_json("users", &file, &["-q"]);
    let took = started.elapsed();
    assert_eq!(code, 1);
    let expected = (export_without_stamps(&reference), report["counts"].clone());
    let scenario = Scenario {
        name: "random kills",
        world: new_world,
        setup: no_setup,
        processor: "users",
        file: "big.csv",
        content: "",
        args: &[],
        exit: 1,
        tryback: true,
    };
    for trial in 0..trials {
        let world = new_world();
        let copy = world.file("big.csv", std::fs::read(&file).unwrap());
        let mut kills = 0;
        let mut after_clear = false;
        loop {
            let mut child = scenario
                .command(&world, &copy)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let delay = Duration::from_micros(random.below(took.as_micros() as u64 + 1));
            let deadline = Instant::now() + delay;
            let mut ended = None;
            while Instant::now() < deadline {
                if let Some(status) = child.try_wait().unwrap() {
                    ended = Some(status);
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            if ended.is_some() || kills == 3 {
                let status = match ended {
                    Some(status) => status,
                    None => child.wait().unwrap(),
                };
                assert_eq!(status.code(), Some(1), "seed {seed}, trial {trial}");
                break;
            }
            child.kill().unwrap();
            child.wait().unwrap();
            kills += 1;
            // Killed before its first commit, the store holds nothing yet (the next run seeds
            // it); otherwise it is consistent.
            let check = world.run(&["check"]);
            assert!(
                check.code() == 0
                    || (check.code() == 5
                        && (check.stderr().contains("no store at")
                            || check.stderr().contains("holds nothing"))),
                "seed {seed}, trial {trial}: check after a kill: {}{}",
                check.stdout(),
                check.stderr()
            );
            // Killed after its journal was cleared, the run was complete: nothing is due.
            let pending = world.run(&["journal"]).stdout();
            let reported = !files_in(&world.data.join("files/reports"), |_| true).is_empty();
            if pending.trim() == "no interrupted run" && reported {
                after_clear = true;
                break;
            }
        }
        let context = format!("seed {seed}, trial {trial}, {kills} kills");
        assert_outputs_once(&scenario, &world, &copy, &context, after_clear);
        assert_eq!(export_without_stamps(&world), expected.0, "{context}");
        let stored = files_in(&world.data.join("files/reports"), |n| n.ends_with(".json"));
        let stored: Value = serde_json::from_slice(
            &std::fs::read(world.data.join("files/reports").join(&stored[0])).unwrap(),
        )
        .unwrap();
        assert_eq!(stored["counts"], expected.1, "{context}: the stored report");
    }
}

/// A cohort-courses file binding a large cohort, killed at random instants (a fresh seed each
/// time; printed when the test fails) while its rows make thousands of enrolments each: after
/// each kill the store passes `toolsync check`, and the run resumed to its end leaves what an
/// uninterrupted run leaves.
#[test]
fn a_binding_of_a_large_cohort_killed_at_random_instants_resumes_to_the_same_store() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut random = Lcg(seed | 1);
    let scenario = SCENARIOS
        .iter()
        .find(|s| s.processor == "cohort-courses")
        .unwrap();
    let (world, file) = scenario.prepare();
    let started = Instant::now();
    let (code, report) = scenario.run(&world, &file);
    let took = started.elapsed();
    assert_eq!(code, scenario.exit, "{report}");
    let expected = (store_content(&world), report["counts"].clone());
    for trial in 0..2 {
        let (world, file) = scenario.prepare();
        let context = format!("seed {seed}, trial {trial}");
        for _ in 0..3 {
            let mut child = scenario
                .command(&world, &file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_micros(
                random.below(took.as_micros() as u64 + 1),
            ));
            if child.try_wait().unwrap().is_some() {
                break;
            }
            child.kill().unwrap();
            child.wait().unwrap();
            world.assert_consistent();
            // A kill that came after the run's end (its journal cleared, its report stored,
            // the process still exiting) leaves nothing to do: another attempt would be a new
            // run of the same file, with a report of its own.
            let pending = world.run(&["journal"]).stdout().trim() != "no interrupted run";
            let reported = !files_in(&world.data.join("files/reports"), |n| {
                n.contains(scenario.file) && n.ends_with(".json")
            })
            .is_empty();
            if !pending && reported {
                break;
            }
        }
        // Unless a kill came after the run's end (its journal cleared, its report stored), the
        // run is due again: resumed from its journal, or from the start if it was killed before
        // its first commit.
        let pending = world.run(&["journal"]).stdout().trim() != "no interrupted run";
        let ours = |n: &str| n.contains(scenario.file) && n.ends_with(".json");
        let reported = !files_in(&world.data.join("files/reports"), ours).is_empty();
        if pending || !reported {
            let (code, report) = scenario.run(&world, &file);
            assert_eq!(code, scenario.exit, "{context}: {report}");
        }
        assert_same_content(&store_content(&world), &expected.0, &context);
        world.assert_consistent();
        let stored = files_in(&world.data.join("files/reports"), ours);
        assert_eq!(stored.len(), 1, "{context}: one stored report");
        let stored: Value = serde_json::from_slice(
            &std::fs::read(world.data.join("files/reports").join(&stored[0])).unwrap(),
        )
        .unwrap();
        assert_eq!(stored["counts"], expected.1, "{context}: the stored report");
    }
}

/// A batch too large for one sled batch — a cohort-courses file binding a large cohort, one
/// batch of ~30,000 writes — killed between the chunks it is applied in: the next open of the
/// store completes the batch from its redo record (so `toolsync check` finds it consistent),
/// and the run then resumes and ends as an uninterrupted run does.
#[test]
fn a_batch_killed_between_its_chunks_is_completed_at_the_next_open() {
    let scenario = SCENARIOS
        .iter()
        .find(|s| s.processor == "cohort-courses")
        .unwrap();
    let (counts, content) = scenario.reference();
    let (world, file) = scenario.prepare();
    // Paused after the first chunk long enough for sled to write it (it does every 500 ms),
    // then killed: the store holds the redo record and part of the batch.
    let pause = world.root.join("pause");
    std::fs::create_dir_all(&pause).unwrap();
    let mut child = scenario
        .command(&world, &file)
        .env(
            "TOOLSYNC_FAULT",
            format!("between-batch-chunks:pause={}", pause.display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pause.join("reached").exists() {
        assert!(
            child.try_wait().unwrap().is_none() && Instant::now() < deadline,
            "the batch was not applied in chunks"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1_500));
    child.kill().unwrap();
    child.wait().unwrap();
    world.assert_consistent();
    let (code, report) = scenario.run(&world, &file);
    assert_eq!(code, scenario.exit, "{report}");
    assert_eq!(report["counts"], counts, "the re-run's report");
    assert_outputs_once(scenario, &world, &file, "killed between chunks", false);
    assert_same_content(&store_content(&world), &content, "killed between chunks");
    world.assert_consistent();
}

/// Two stores' exports are the same; else the first record that differs, not the whole store.
fn assert_same_content(actual: &[String], expected: &[String], context: &str) {
    for (entity, (a, e)) in actual.iter().zip(expected).enumerate() {
        if a == e {
            continue;
        }
        let (a, e): (Value, Value) = (
            serde_json::from_str(a).unwrap(),
            serde_json::from_str(e).unwrap(),
        );
        let (a, e) = (a.as_array().unwrap(), e.as_array().unwrap());
        let at = (0..a.len().max(e.len()))
            .find(|i| a.get(*i) != e.get(*i))
            .unwrap_or(0);
        panic!(
            "{context}: export #{entity} differs at record {at} ({} records, {} expected): {:?} instead of {:?}",
            a.len(),
            e.len(),
            a.get(at),
            e.get(at)
        );
    }
}

/// A small deterministic generator (the seed is printed on failure), not worth a crate.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// A spool left by a run killed between clearing its journal and removing its spool is
/// removed by the next run, of any processor.
#[test]
fn a_spool_without_a_journal_is_removed_by_the_next_run() {
    let world = World::courses();
    let file = world.file("u.csv", "username;firstname;lastname\nann;Ann;A\n");
    let killed = world
        .command(&["run", "users", file.to_str().unwrap()])
        .env("TOOLSYNC_FAULT", "after-journal-clear")
        .output()
        .unwrap();
    assert_eq!(killed.status.code(), None);
    let spool = world.data.join("runs/users");
    assert!(
        spool.exists(),
        "the kill left no spool: the test proves nothing"
    );
    let courses = world.file("c.csv", "shortname;fullname;category\nC1;C 1;Arts\n");
    let run = world.run(&["run", "course-create", courses.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(!spool.exists(), "the users spool outlived the next run");
}
