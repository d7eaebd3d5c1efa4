//! Benchmark (not a timed test): `toolsync run enrolments` on a large file of `add` rows with a
//! role and a group (`gaddcreate`), against a hand-written loop doing the same sled reads and
//! writes with no plugin layer, alternately; rows/s and peak memory at two sizes.
//!
//! ```text
//! cargo bench -p toolsync --bench enrolments              # 1,000,000 and 100,000 rows
//! cargo bench -p toolsync --bench enrolments -- --rows 20000 --small-rows 2000 --pairs 1
//! cargo bench -p toolsync --bench enrolments -- --generate 1000000 DIR   # only the files
//! ```
//!
//! Setup, untimed: one template data folder, where toolsync itself creates the accounts
//! (`run users`, one per `--courses` rows of the larger size) and the courses (`run
//! course-create`). Every measured run is a child process on a copy of that folder, so both
//! sizes and both programs start from the same store; it is timed from spawn to exit, its peak
//! resident memory read with `wait4` (`ru_maxrss`). The baseline is this same binary in its
//! hidden `--baseline FILE DATA_DIR` mode. After every run (untimed), toolsync's exports
//! (`enrolments`, `group-members`, `groups`, `enrol-instances`, as CSV, the `starttime` column
//! aside: it is each run's start) must list every row and give the same digest for every run
//! of a size, and `toolsync check` must find the store consistent with the same number of
//! entries in every keyspace: so both programs wrote the same records under the same keys,
//! by-user entries included, and neither skipped work.
//!
//! Environment: `TOOLSYNC_BENCH_ENROLMENTS_PLUGIN`, `TOOLSYNC_BENCH_PLUGIN`,
//! `TOOLSYNC_BENCH_COURSES_PLUGIN` (libraries to use instead of the ones cargo built),
//! `TOOLSYNC_BENCH_DIR` (work folder, default `target/tmp/bench-enrolments`).

#[path = "enrolments/baseline.rs"]
mod baseline;
#[path = "enrolments/generate.rs"]
mod generate;
#[path = "common/harness.rs"]
mod harness;
#[path = "common/measure.rs"]
mod measure;

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use harness::{Bench, Plugin, Side};
use measure::{bytes, disk_usage, file_size, parse_count, size_name, Measure};

const PLUGINS: [Plugin; 3] = [
    Plugin {
        env: "TOOLSYNC_BENCH_ENROLMENTS_PLUGIN",
        library: "toolsync_enrolments",
        package: "toolsync-enrolments",
    },
    Plugin {
        env: "TOOLSYNC_BENCH_PLUGIN",
        library: "toolsync_users",
        package: "toolsync-users",
    },
    Plugin {
        env: "TOOLSYNC_BENCH_COURSES_PLUGIN",
        library: "toolsync_courses",
        package: "toolsync-courses",
    },
];

fn main() -> ExitCode {
    let args = harness::args();
    let result = match args.first().map(String::as_str) {
        Some("--generate") => generate_command(&args[1..]),
        Some("--baseline") => baseline_command(&args[1..]),
        _ => Settings::parse(&args).and_then(|s| bench(&s)),
    };
    harness::exit("enrolments", result)
}

struct Settings {
    rows: u64,
    small_rows: u64,
    courses: u64,
    groups: u64,
    pairs: usize,
    work: PathBuf,
}

const USAGE: &str =
    "--rows N, --small-rows N, --courses N, --groups N, --pairs N, --generate ROWS DIR";

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let mut s = Settings {
            rows: 1_000_000,
            small_rows: 100_000,
            courses: 10,
            groups: 20,
            pairs: 2,
            work: harness::work_dir("bench-enrolments"),
        };
        harness::parse_flags(args, USAGE, |flag, value| {
            match flag {
                "--rows" => s.rows = parse_count(value)?,
                "--small-rows" => s.small_rows = parse_count(value)?,
                "--courses" => s.courses = parse_count(value)?,
                "--groups" => s.groups = parse_count(value)?,
                "--pairs" => s.pairs = harness::parse_pairs(value)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if s.rows == 0 || s.small_rows == 0 || s.courses == 0 || s.groups == 0 {
            return Err("--rows, --small-rows, --courses and --groups must be at least 1".into());
        }
        Ok(s)
    }

    /// The accounts the larger file enrols (each in every course).
    fn users(&self) -> u64 {
        self.rows.max(self.small_rows).div_ceil(self.courses)
    }
}

/// The input files: accounts and courses (the setup), enrolments of each size.
struct Files {
    users: PathBuf,
    courses: PathBuf,
    enrolments: Vec<Input>,
}

/// An enrolments file.
struct Input {
    rows: u64,
    bytes: u64,
    path: PathBuf,
    /// What a run of it must leave: group records, enrolment instances.
    groups: u64,
    instances: u64,
}

fn write_files(settings: &Settings, dir: &Path) -> Result<Files, String> {
    let fail = |path: &Path, e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let started = Instant::now();
    let users = dir.join("users.csv");
    generate::write_users(&users, settings.users()).map_err(|e| fail(&users, e))?;
    let courses = dir.join("courses.csv");
    generate::write_courses(&courses, settings.courses).map_err(|e| fail(&courses, e))?;
    let mut enrolments = Vec::new();
    for rows in [settings.rows, settings.small_rows] {
        let path = dir.join(format!("enrolments-{rows}.csv"));
        let (last_user, _) =
            generate::write_enrolments(&path, rows, settings.courses, settings.groups)
                .map_err(|e| fail(&path, e))?;
        enrolments.push(Input {
            rows,
            bytes: file_size(&path),
            path,
            groups: settings.courses.min(rows) * settings.groups.min(last_user),
            instances: settings.courses.min(rows),
        });
    }
    eprintln!(
        "generated {} accounts, {} courses, enrolments of {} in {:.1} s",
        settings.users(),
        settings.courses,
        enrolments
            .iter()
            .map(|i| format!("{} rows ({})", i.rows, bytes(i.bytes)))
            .collect::<Vec<_>>()
            .join(" and "),
        started.elapsed().as_secs_f64()
    );
    Ok(Files {
        users,
        courses,
        enrolments,
    })
}

/// `--generate ROWS DIR`: writes the users, courses and enrolments files for ROWS rows (with
/// `--courses`, `--groups` after them) and exits.
fn generate_command(args: &[String]) -> Result<(), String> {
    let [rows, dir, rest @ ..] = args else {
        return Err("usage: --generate ROWS DIR [--courses N] [--groups N]".into());
    };
    let mut settings = Settings::parse(rest)?;
    settings.rows = parse_count(rows)?;
    settings.small_rows = settings.rows;
    let files = write_files(&settings, Path::new(dir))?;
    for path in [&files.users, &files.courses, &files.enrolments[0].path] {
        println!("{}", path.display());
    }
    Ok(())
}

/// `--baseline FILE DATA_DIR`: the hand-written loop, in its own process; prints its counts.
fn baseline_command(args: &[String]) -> Result<(), String> {
    let [file, data] = args else {
        return Err("usage: --baseline FILE DATA_DIR".into());
    };
    let c = baseline::run(Path::new(file), &Path::new(data).join("store"))?;
    println!(
        "{} {} {} {} {}",
        c.enrolments, c.memberships, c.groups, c.instances, c.failed
    );
    Ok(())
}

/// What a store holds after a run, as toolsync's exports and check show it: compared across
/// the runs of a size.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Content {
    enrolments: u64,
    memberships: u64,
    groups: u64,
    instances: u64,
    digest: u64,
    /// Entries per keyspace of the model, as `toolsync check` counted them.
    keyspaces: BTreeMap<String, u64>,
}

fn bench(settings: &Settings) -> Result<(), String> {
    let bench = Bench::prepare(&settings.work, &PLUGINS)?;
    let files = write_files(settings, &settings.work)?;

    // The template: accounts and courses, made by toolsync, copied for every measured run.
    let template = settings.work.join("template");
    let started = Instant::now();
    for (processor, file) in [("users", &files.users), ("course-create", &files.courses)] {
        bench.setup_run(&template, processor, file)?;
    }
    let template_store = disk_usage(&template.join("store"));
    eprintln!(
        "template: {} accounts and {} courses in {:.1} s, store {}",
        settings.users(),
        settings.courses,
        started.elapsed().as_secs_f64(),
        bytes(template_store)
    );

    let mut sizes = Vec::new();
    for input in &files.enrolments {
        let mut contents = Vec::new();
        let measures = harness::alternate(settings.pairs, input.rows, |side, label| {
            let data = bench.copied_data(&template, label)?;
            let measure = match side {
                Side::Toolsync => bench.run_toolsync(
                    label,
                    input.rows,
                    &data,
                    &[OsStr::new("enrolments"), input.path.as_os_str()],
                )?,
                Side::Baseline => {
                    let (measure, out) = bench.run_baseline(
                        label,
                        input.rows,
                        &data,
                        &[input.path.as_os_str(), data.as_os_str()],
                    )?;
                    let counts: Vec<u64> = out
                        .split_whitespace()
                        .filter_map(|n| n.parse().ok())
                        .collect();
                    if counts.first() != Some(&input.rows) || counts.get(4) != Some(&0) {
                        return Err(format!(
                            "{label}: the baseline enrolled {out:?} (enrolments, memberships, groups, instances, failed), not {} rows",
                            input.rows
                        ));
                    }
                    measure
                }
            };
            let checked = Instant::now();
            let content = content(&bench, &data)?;
            eprintln!(
                "  checked in {:.1} s: {} enrolments, {} memberships, {} groups, {} instances",
                checked.elapsed().as_secs_f64(),
                content.enrolments,
                content.memberships,
                content.groups,
                content.instances
            );
            let expected = (input.rows, input.rows, input.groups, input.instances);
            let found = (
                content.enrolments,
                content.memberships,
                content.groups,
                content.instances,
            );
            if found != expected {
                return Err(format!(
                    "{label}: the exports list (enrolments, memberships, groups, instances) {found:?}, not {expected:?}"
                ));
            }
            contents.push((label.to_string(), content));
            let _ = std::fs::remove_dir_all(&data);
            Ok(measure)
        })?;
        harness::same_content(&contents)?;
        sizes.push(measures);
    }
    let _ = std::fs::remove_dir_all(&settings.work);
    report(settings, &files, template_store, &sizes[0], &sizes[1]);
    Ok(())
}

/// The store as toolsync reads it: the exports (counted, one digest, `starttime` left out) and
/// `check` (consistent; entries per model keyspace).
fn content(bench: &Bench, data: &Path) -> Result<Content, String> {
    let mut hasher = DefaultHasher::new();
    let mut count =
        |entity: &str, skip: &[&str]| bench.digest_export(data, entity, skip, &mut hasher);
    let enrolments = count("enrolments", &["starttime"])?;
    let memberships = count("group-members", &[])?;
    let groups = count("groups", &[])?;
    let instances = count("enrol-instances", &[])?;
    let keyspaces = bench
        .check(data)?
        .into_iter()
        .filter(|(space, _)| !space.starts_with('_'))
        .collect();
    Ok(Content {
        enrolments,
        memberships,
        groups,
        instances,
        digest: hasher.finish(),
        keyspaces,
    })
}

fn report(settings: &Settings, files: &Files, template: u64, big: &[Measure], small: &[Measure]) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!(
        "toolsync enrolments benchmark: {cores} cores, {} pair(s) per size",
        settings.pairs
    );
    println!(
        "  store before each run: {} accounts, {} courses ({} on disk)",
        settings.users(),
        settings.courses,
        bytes(template)
    );
    for input in &files.enrolments {
        println!(
            "  input {}: {} rows ({} accounts x {} courses, user-major), {} groups, {}",
            size_name(input.rows),
            input.rows,
            input.rows.div_ceil(settings.courses),
            settings.courses,
            input.groups,
            bytes(input.bytes)
        );
    }
    println!();
    harness::print_two_sizes((settings.rows, big), (settings.small_rows, small), 1.5);
    println!(
        "CPU time baseline/toolsync (throughput by CPU time): {} per pair {}; {} per pair {}",
        size_name(settings.rows),
        harness::per_pair(big, cpu_ratio),
        size_name(settings.small_rows),
        harness::per_pair(small, cpu_ratio)
    );
    println!(
        "peak RSS toolsync/baseline: {} per pair {}; {} per pair {}",
        size_name(settings.rows),
        harness::per_pair(big, rss_ratio),
        size_name(settings.small_rows),
        harness::per_pair(small, rss_ratio)
    );
}

fn cpu_ratio(t: &Measure, b: &Measure) -> f64 {
    b.cpu_seconds / t.cpu_seconds
}

fn rss_ratio(t: &Measure, b: &Measure) -> f64 {
    t.peak_rss_kib as f64 / b.peak_rss_kib.max(1) as f64
}
