//! Benchmark (not a timed test): the undo log's three uses on a users file — a normal run (which
//! records the log), an `--atomic` run (ordinary batches, rolled back from the log if need be),
//! a `--dry-run` (its staged writes spilled to a scratch overlay past 100,000) — and the revert
//! of the normal run, at two sizes.
//!
//! ```text
//! cargo bench -p toolsync --bench undo                      # 1,000,000 and 200,000 rows
//! cargo bench -p toolsync --bench undo -- --rows 100000 --small-rows 20000 --pairs 1
//! ```
//!
//! Every run is a child process on a copy of a new store (as the users bench), timed from spawn
//! to exit, its CPU time and peak RSS read with `wait4`. Per pair, normal, atomic and dry run
//! follow each other (the machine drifts), then the normal run's store is reverted. Checks: the
//! normal and atomic runs exit 0 and leave every row (`export users` counted); the dry run leaves
//! none; the revert exits 0 and leaves none.
//!
//! Environment: `TOOLSYNC_BENCH_ROWS`, `TOOLSYNC_BENCH_SMALL_ROWS`, `TOOLSYNC_BENCH_PLUGIN`,
//! `TOOLSYNC_BENCH_DIR` (work folder, default `target/tmp/bench-undo`).

#[path = "users/generate.rs"]
mod generate;
#[path = "common/harness.rs"]
mod harness;
#[path = "common/measure.rs"]
mod measure;

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Instant;

use harness::{Bench, USERS_PLUGIN};
use measure::{bytes, file_size, kib, parse_count, size_name, Measure};

fn main() -> ExitCode {
    let result = Settings::parse(&harness::args()).and_then(|s| bench(&s));
    harness::exit("undo", result)
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
            small_rows: measure::env_count("TOOLSYNC_BENCH_SMALL_ROWS", 200_000)?,
            pairs: 1,
            work: harness::work_dir("bench-undo"),
        };
        harness::parse_flags(
            args,
            "--rows N, --small-rows N, --pairs N",
            |flag, value| {
                match flag {
                    "--rows" => s.rows = parse_count(value)?,
                    "--small-rows" => s.small_rows = parse_count(value)?,
                    "--pairs" => s.pairs = harness::parse_pairs(value)?,
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?;
        Ok(s)
    }
}

/// The kinds of measured run, in the order of a pair.
const KINDS: [(&str, Option<&str>); 3] = [
    ("normal", None),
    ("atomic", Some("--atomic")),
    ("dry-run", Some("--dry-run")),
];

fn bench(settings: &Settings) -> Result<(), String> {
    let bench = Bench::prepare(&settings.work, &[USERS_PLUGIN])?;
    let template = bench.seeded_template("users", generate::HEADER)?;
    let mut sizes = Vec::new();
    for rows in [settings.small_rows, settings.rows] {
        let path = settings.work.join(format!("users-{rows}.csv"));
        generate::write_file(&path, rows)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!(
            "generated {} ({rows} rows, {})",
            path.display(),
            bytes(file_size(&path))
        );
        let mut measures = Vec::new();
        for pair in 1..=settings.pairs {
            let mut normal_data = None;
            for (kind, flag) in KINDS {
                let label = format!("{kind} {} #{pair}", size_name(rows));
                let data = bench.copied_data(&template, &label)?;
                let mut args = vec![std::ffi::OsString::from("users"), path.clone().into()];
                args.extend(flag.map(Into::into));
                measures.push(bench.run_toolsync(&label, rows, &data, &args)?);
                let expected = if kind == "dry-run" { 0 } else { rows };
                let stored = bench.exported_users(&data)?;
                if stored != expected {
                    return Err(format!("{label}: {stored} accounts stored, not {expected}"));
                }
                match kind {
                    "normal" => normal_data = Some(data),
                    _ => drop(std::fs::remove_dir_all(&data)),
                }
            }
            let data = normal_data.expect("a normal run per pair");
            let label = format!("revert {} #{pair}", size_name(rows));
            measures.push(revert(&bench, &label, rows, &data)?);
            let _ = std::fs::remove_dir_all(&data);
        }
        let _ = std::fs::remove_file(&path);
        sizes.push((rows, measures));
    }
    let _ = std::fs::remove_dir_all(&settings.work);
    report(&sizes);
    Ok(())
}

/// `toolsync revert <the run's id>`, measured; every account must be gone after it.
fn revert(bench: &Bench, label: &str, rows: u64, data: &Path) -> Result<Measure, String> {
    let listed = bench
        .toolsync(data)
        .args(["reports", "--json"])
        .output()
        .map_err(|e| format!("cannot start toolsync: {e}"))?;
    let runs: serde_json::Value = serde_json::from_slice(&listed.stdout)
        .map_err(|e| format!("`toolsync reports --json`: {e}"))?;
    let id = runs[runs.as_array().map_or(0, Vec::len).saturating_sub(1)]["id"]
        .as_str()
        .ok_or("no run to revert")?
        .to_string();
    eprint!("{label}: ");
    let started = Instant::now();
    let child = bench
        .toolsync(data)
        .args(["revert", &id])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start toolsync: {e}"))?;
    let waited = measure::wait_measured(child, started)?;
    if waited.code != 0 {
        return Err(format!("`toolsync revert {id}` exited {}", waited.code));
    }
    let measure = Measure::taken(label, rows, waited, data);
    let left = bench.exported_users(data)?;
    if left != 0 {
        return Err(format!("{label}: {left} accounts left after the revert"));
    }
    Ok(measure)
}

fn report(sizes: &[(u64, Vec<Measure>)]) {
    measure::print_table(sizes.iter().flat_map(|(_, m)| m));
    println!();
    for (rows, measures) in sizes {
        let best = |kind: &str| {
            measures
                .iter()
                .filter(|m| m.label.starts_with(kind))
                .map(Measure::rate)
                .fold(0.0, f64::max)
        };
        let peak = |kind: &str| {
            measures
                .iter()
                .filter(|m| m.label.starts_with(kind))
                .map(|m| m.peak_rss_kib)
                .max()
                .unwrap_or(0)
        };
        let normal = best("normal");
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let (atomic, revert) = (ratio(best("atomic"), normal), ratio(best("revert"), normal));
        let rss = |kind: &str| ratio(peak(kind) as f64, peak("normal") as f64);
        println!(
            "{}: normal {:.0} rows/s, {} peak; atomic {:.2} × normal rows/s (target >= 0.70: {}), \
             {:.2} × its RSS (target <= 1.20: {}); dry run {:.2} × normal RSS (target <= 1.50: \
             {}), {} peak; revert {:.0} rows/s, {:.2} × the forward run (target >= 0.70: {})",
            size_name(*rows),
            normal,
            kib(peak("normal")),
            atomic,
            measure::verdict(atomic >= 0.7),
            rss("atomic"),
            measure::verdict(rss("atomic") <= 1.2),
            rss("dry-run"),
            measure::verdict(rss("dry-run") <= 1.5),
            kib(peak("dry-run")),
            best("revert"),
            revert,
            measure::verdict(revert >= 0.7),
        );
    }
}
