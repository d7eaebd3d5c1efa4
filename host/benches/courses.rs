//! Benchmark (not a timed test): `toolsync run course-create` on a large file of new courses
//! (two-level categories, ten topics each), against a hand-written loop doing the same sled
//! writes with no plugin layer, alternately in the same run; rows/s and peak memory.
//!
//! ```text
//! cargo bench -p toolsync --bench courses                  # 100,000 courses, 1,000 categories
//! TOOLSYNC_BENCH_COURSES=10000 cargo bench -p toolsync --bench courses -- --pairs 1   # quick
//! cargo bench -p toolsync --bench courses -- --generate 100000 courses.csv   # only the file
//! ```
//!
//! Every measured run is a child process on a copy of a new store as toolsync seeds it (made
//! once by a run on a header-only file: toolsync reads no store without its meta data, so the
//! baseline starts from it too), timed from spawn to exit, its CPU time and peak resident
//! memory read with `wait4` (`ru_maxrss`). The baseline is this same binary in
//! its hidden `--baseline FILE DATA_DIR` mode, so that its memory is measured the same way.
//! After every run (untimed), `toolsync export courses` and `export categories` must list every
//! course and category, and give the same CSV for every run, toolsync's and the baseline's
//! alike (the `startdate` column aside: it is each run's start): so both wrote the same
//! records under the same keys, and neither skipped work.
//!
//! Environment: `TOOLSYNC_BENCH_COURSES` (courses, default 100,000), `TOOLSYNC_BENCH_CATEGORIES`
//! (departments, default 1,000), `TOOLSYNC_BENCH_COURSES_PLUGIN` (a `libtoolsync_courses.so`
//! to use instead of the one cargo built), `TOOLSYNC_BENCH_DIR` (work folder, default
//! `target/tmp/bench-courses`).

#[path = "courses/baseline.rs"]
mod baseline;
#[path = "courses/generate.rs"]
mod generate;
#[path = "common/harness.rs"]
mod harness;
#[path = "common/measure.rs"]
mod measure;

use std::collections::hash_map::DefaultHasher;
use std::ffi::OsStr;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use harness::{Bench, Plugin, Side};
use measure::{bytes, file_size, kib, parse_count, print_table, size_name, Measure};

const COURSES_PLUGIN: Plugin = Plugin {
    env: "TOOLSYNC_BENCH_COURSES_PLUGIN",
    library: "toolsync_courses",
    package: "toolsync-courses",
};

fn main() -> ExitCode {
    let args = harness::args();
    let result = match args.first().map(String::as_str) {
        Some("--generate") => generate_command(&args[1..]),
        Some("--baseline") => baseline_command(&args[1..]),
        _ => Settings::parse(&args).and_then(|s| bench(&s)),
    };
    harness::exit("courses", result)
}

/// `--generate N FILE`: writes a course-create file of N rows and exits.
fn generate_command(args: &[String]) -> Result<(), String> {
    let [rows, file] = args else {
        return Err("usage: --generate ROWS FILE".into());
    };
    let rows = parse_count(rows)?;
    let departments = Settings::parse(&[])?.departments;
    let started = Instant::now();
    let last = generate::write_file(Path::new(file), rows, departments)
        .map_err(|e| format!("cannot write {file}: {e}"))?;
    println!(
        "{file}: {rows} courses, {} categories, {}, last shortname {last}, written in {:.1} s",
        generate::category_count(rows, departments),
        bytes(file_size(Path::new(file))),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `--baseline FILE DATA_DIR`: the hand-written loop, in its own process; prints its counts.
fn baseline_command(args: &[String]) -> Result<(), String> {
    let [file, data] = args else {
        return Err("usage: --baseline FILE DATA_DIR".into());
    };
    let counts = baseline::run(Path::new(file), &Path::new(data).join("store"))?;
    println!("{} {} {}", counts.created, counts.failed, counts.categories);
    Ok(())
}

struct Settings {
    courses: u64,
    departments: u64,
    pairs: usize,
    work: PathBuf,
}

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let mut s = Settings {
            courses: measure::env_count("TOOLSYNC_BENCH_COURSES", 100_000)?,
            departments: measure::env_count("TOOLSYNC_BENCH_CATEGORIES", 1_000)?,
            pairs: 2,
            work: harness::work_dir("bench-courses"),
        };
        let usage = "--courses N, --categories N, --pairs N, --generate N FILE";
        harness::parse_flags(args, usage, |flag, value| {
            match flag {
                "--courses" => s.courses = parse_count(value)?,
                "--categories" => s.departments = parse_count(value)?,
                "--pairs" => s.pairs = harness::parse_pairs(value)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if s.courses == 0 || s.departments == 0 {
            return Err("--courses and --categories must be at least 1".into());
        }
        Ok(s)
    }
}

/// The generated input file.
struct Input {
    rows: u64,
    bytes: u64,
    path: PathBuf,
    /// Category records the file makes (departments and their faculties).
    categories: u64,
    /// Its last row's shortname, which the store must know after a run.
    last: String,
}

/// What a store holds, as the exports show it: compared across runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Content {
    courses: u64,
    categories: u64,
    digest: u64,
}

fn bench(settings: &Settings) -> Result<(), String> {
    let bench = Bench::prepare(&settings.work, &[COURSES_PLUGIN])?;
    let (rows, departments) = (settings.courses, settings.departments);
    let path = settings.work.join(format!("courses-{rows}.csv"));
    let started = Instant::now();
    let last = generate::write_file(&path, rows, departments)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let input = Input {
        rows,
        bytes: file_size(&path),
        categories: generate::category_count(rows, departments),
        path,
        last,
    };
    eprintln!(
        "generated {} ({} courses, {} categories, {}) in {:.1} s",
        input.path.display(),
        input.rows,
        input.categories,
        bytes(input.bytes),
        started.elapsed().as_secs_f64()
    );

    let template = bench.seeded_template("course-create", "shortname;fullname;category")?;
    let mut contents = Vec::new();
    let measures = harness::alternate(settings.pairs, rows, |side, label| {
        let (measure, content) = measured_run(&bench, &template, side, label, &input)?;
        contents.push((label.to_string(), content));
        Ok(measure)
    })?;
    harness::same_content(&contents)?;
    let _ = std::fs::remove_dir_all(&settings.work);
    report(settings, &input, &measures);
    Ok(())
}

/// One run of toolsync or the baseline on a copy of the new store, measured, then checked
/// through toolsync's exports (untimed).
fn measured_run(
    bench: &Bench,
    template: &Path,
    side: Side,
    label: &str,
    input: &Input,
) -> Result<(Measure, Content), String> {
    let data = bench.copied_data(template, label)?;
    let file = input.path.as_os_str();
    let measure = match side {
        Side::Toolsync => bench.run_toolsync(
            label,
            input.rows,
            &data,
            &[OsStr::new("course-create"), file],
        )?,
        Side::Baseline => {
            let (measure, out) =
                bench.run_baseline(label, input.rows, &data, &[file, data.as_os_str()])?;
            let created: u64 = out
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if created != input.rows {
                return Err(format!(
                    "{label}: the baseline created {created} courses, not {} ({out})",
                    input.rows
                ));
            }
            measure
        }
    };
    // `export courses` and `export categories` as CSV: record counts and one digest of both,
    // the `startdate` column (each run's start) left out.
    let mut hasher = DefaultHasher::new();
    let courses = bench.digest_export(&data, "courses", &["startdate"], &mut hasher)?;
    let categories = bench.digest_export(&data, "categories", &["startdate"], &mut hasher)?;
    let content = Content {
        courses,
        categories,
        digest: hasher.finish(),
    };
    if content.courses != input.rows || content.categories != input.categories {
        return Err(format!(
            "{label}: the exports list {} courses and {} categories, not {} and {}",
            content.courses, content.categories, input.rows, input.categories
        ));
    }
    check_shown(bench, &data, &input.last)?;
    let _ = std::fs::remove_dir_all(&data);
    Ok((measure, content))
}

fn check_shown(bench: &Bench, data: &Path, shortname: &str) -> Result<(), String> {
    let output = bench
        .toolsync(data)
        .args(["show", "course", shortname])
        .output()
        .map_err(|e| format!("cannot start toolsync show: {e}"))?;
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("`toolsync show course {shortname}` did not print JSON ({e})"))?;
    let topic = format!("topic{}", generate::TOPICS);
    let expected = format!("Week {0}|Summary {0}", generate::TOPICS);
    if shown["shortname"] != shortname || shown[&topic] != expected.as_str() {
        return Err(format!(
            "`toolsync show course {shortname}` printed {shown}"
        ));
    }
    Ok(())
}

fn report(settings: &Settings, input: &Input, measures: &[Measure]) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!(
        "toolsync course-create benchmark: {cores} cores, {} pair(s)",
        settings.pairs
    );
    println!(
        "  input {}: {} courses, {} categories ({} departments), {} topics each, {}",
        size_name(input.rows),
        input.rows,
        input.categories,
        settings.departments.min(input.rows),
        generate::TOPICS,
        bytes(input.bytes)
    );
    println!();
    print_table(measures);
    println!();
    println!("{}", harness::throughput_line(input.rows, measures, None).0);
    let (pt, pb) = (
        harness::peak(measures, Side::Toolsync),
        harness::peak(measures, Side::Baseline),
    );
    println!(
        "peak RSS: toolsync {} (max), baseline {} (max), ratio toolsync/loop {:.2} (per pair: {})",
        kib(pt),
        kib(pb),
        pt as f64 / pb.max(1) as f64,
        harness::per_pair(measures, |t, b| t.peak_rss_kib as f64
            / b.peak_rss_kib.max(1) as f64)
    );
    let disk = |side| {
        harness::of(measures, side)
            .iter()
            .map(|m| m.store_bytes)
            .max()
            .unwrap_or(0)
    };
    println!(
        "store on disk: toolsync {} (max), baseline {} (max)",
        bytes(disk(Side::Toolsync)),
        bytes(disk(Side::Baseline))
    );
}
