//! Benchmark (not a timed test): `toolsync run users` on a large file of new accounts, against a
//! hand-written loop doing the same sled writes with no plugin layer; peak memory at two sizes.
//!
//! ```text
//! cargo bench -p toolsync --bench users                     # 1,000,000 and 100,000 rows
//! cargo bench -p toolsync --bench users -- --rows 200000 --small-rows 20000 --pairs 1
//! cargo bench -p toolsync --bench users -- --generate 1000000 users.csv   # only the file
//! ```
//!
//! Every measured run is a child process on a copy of a new store as toolsync seeds it (made
//! once by a run on a header-only file: toolsync reads no store without its meta data, so the
//! baseline starts from it too), timed from spawn to exit, its CPU time and peak resident
//! memory read with `wait4` (`ru_maxrss`). toolsync's runs must exit 0 and leave
//! every row in the store (`export users` counted, last username shown); the baseline is this
//! same binary in its hidden `--baseline FILE DATA_DIR` mode, so that its memory is measured
//! the same way. The large size runs toolsync and the baseline alternately (`--pairs` times),
//! since the machine drifts between runs.
//!
//! Environment: `TOOLSYNC_BENCH_ROWS`, `TOOLSYNC_BENCH_SMALL_ROWS` (sizes),
//! `TOOLSYNC_BENCH_PLUGIN` (a `libtoolsync_users.so` to use instead of the one cargo built),
//! `TOOLSYNC_BENCH_DIR` (work folder, default `target/tmp/bench-users`).

#[path = "users/baseline.rs"]
mod baseline;
#[path = "users/generate.rs"]
mod generate;
#[path = "common/harness.rs"]
mod harness;
#[path = "common/measure.rs"]
mod measure;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use harness::{Bench, Side, USERS_PLUGIN};
use measure::{bytes, file_size, parse_count, size_name, Measure};

fn main() -> ExitCode {
    let args = harness::args();
    let result = match args.first().map(String::as_str) {
        Some("--generate") => generate_command(&args[1..]),
        Some("--baseline") => baseline_command(&args[1..]),
        _ => Settings::parse(&args).and_then(|s| bench(&s)),
    };
    harness::exit("users", result)
}

/// `--generate N FILE`: writes a users file of N rows and exits.
fn generate_command(args: &[String]) -> Result<(), String> {
    let [rows, file] = args else {
        return Err("usage: --generate ROWS FILE".into());
    };
    let rows = parse_count(rows)?;
    let started = Instant::now();
    let last = generate::write_file(Path::new(file), rows)
        .map_err(|e| format!("cannot write {file}: {e}"))?;
    println!(
        "{file}: {rows} rows, {}, last username {last}, written in {:.1} s",
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
    println!("{} {} {}", counts.created, counts.failed, counts.last_id);
    Ok(())
}

struct Settings {
    rows: u64,
    small_rows: u64,
    pairs: usize,
    work: PathBuf,
}

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let mut s = Settings {
            rows: measure::env_count("TOOLSYNC_BENCH_ROWS", 1_000_000)?,
            small_rows: measure::env_count("TOOLSYNC_BENCH_SMALL_ROWS", 100_000)?,
            pairs: 2,
            work: harness::work_dir("bench-users"),
        };
        let usage = "--rows N, --small-rows N, --pairs N, --generate N FILE";
        harness::parse_flags(args, usage, |flag, value| {
            match flag {
                "--rows" => s.rows = parse_count(value)?,
                "--small-rows" => s.small_rows = parse_count(value)?,
                "--pairs" => s.pairs = harness::parse_pairs(value)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(s)
    }
}

fn bench(settings: &Settings) -> Result<(), String> {
    let bench = Bench::prepare(&settings.work, &[USERS_PLUGIN])?;
    let mut files = Vec::new();
    for rows in [settings.rows, settings.small_rows] {
        let path = settings.work.join(format!("users-{rows}.csv"));
        let started = Instant::now();
        let last = generate::write_file(&path, rows)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!(
            "generated {} ({} rows, {}) in {:.1} s",
            path.display(),
            rows,
            bytes(file_size(&path)),
            started.elapsed().as_secs_f64()
        );
        files.push(Input {
            rows,
            bytes: file_size(&path),
            path,
            last,
        });
    }

    let template = bench.seeded_template("users", generate::HEADER)?;
    let mut sizes = Vec::new();
    for input in &files {
        sizes.push(harness::alternate(
            settings.pairs,
            input.rows,
            |side, label| measured_run(&bench, &template, side, label, input),
        )?);
    }
    let _ = std::fs::remove_dir_all(&settings.work);
    report(settings, &files, &sizes[0], &sizes[1]);
    Ok(())
}

/// A generated input file.
struct Input {
    rows: u64,
    bytes: u64,
    path: PathBuf,
    /// Its last row's username, which the store must know after a run.
    last: String,
}

/// One run of toolsync or the baseline on a copy of the new store, measured, then checked
/// (untimed): toolsync must have stored every row (`export users` counted); toolsync must find
/// the last account in either program's store (same layout as the model's).
fn measured_run(
    bench: &Bench,
    template: &Path,
    side: Side,
    label: &str,
    input: &Input,
) -> Result<Measure, String> {
    let (rows, file) = (input.rows, input.path.as_os_str());
    let data = bench.copied_data(template, label)?;
    let measure = match side {
        Side::Toolsync => {
            let measure =
                bench.run_toolsync(label, rows, &data, &[std::ffi::OsStr::new("users"), file])?;
            let stored = bench.exported_users(&data)?;
            if stored != rows {
                return Err(format!(
                    "{label}: `export users` lists {stored} accounts, not {rows}"
                ));
            }
            measure
        }
        Side::Baseline => {
            let (measure, out) =
                bench.run_baseline(label, rows, &data, &[file, data.as_os_str()])?;
            let created: u64 = out
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if created != rows {
                return Err(format!(
                    "{label}: the baseline created {created} accounts, not {rows} ({out})"
                ));
            }
            measure
        }
    };
    check_shown(bench, &data, &input.last)?;
    let _ = std::fs::remove_dir_all(&data);
    Ok(measure)
}

fn check_shown(bench: &Bench, data: &Path, username: &str) -> Result<(), String> {
    let output = bench
        .toolsync(data)
        .args(["show", "user", username])
        .output()
        .map_err(|e| format!("cannot start toolsync show: {e}"))?;
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("`toolsync show user {username}` did not print JSON ({e})"))?;
    if shown["username"] != username {
        return Err(format!("`toolsync show user {username}` printed {shown}"));
    }
    Ok(())
}

fn report(settings: &Settings, files: &[Input], big: &[Measure], small: &[Measure]) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!(
        "toolsync users benchmark: {cores} cores, {} pair(s) per size",
        settings.pairs
    );
    for input in files {
        println!(
            "  input {}: {} rows, {}",
            size_name(input.rows),
            input.rows,
            bytes(input.bytes)
        );
    }
    println!();
    harness::print_two_sizes((settings.rows, big), (settings.small_rows, small), 1.2);
}
