//! Benchmark (not a timed test): `toolsync run pictures` on an archive of JPEG photos of
//! 1200×1600, on 1 core and on 2 (the plugin's `prepare`, which decodes and renders, runs on
//! every core the process may use), against a hand-written loop that decodes, resizes and
//! encodes the same entries with the same code (`toolsync_pictures::imaging::process`);
//! pictures/s, peak memory at two archive sizes.
//!
//! ```text
//! cargo bench -p toolsync --bench pictures            # 10,000 and 1,000 pictures
//! cargo bench -p toolsync --bench pictures -- --pictures 200 --small 50 --pairs 1
//! cargo bench -p toolsync --bench pictures -- --generate 10000 DIR   # only the files
//! ```
//!
//! Setup, untimed (each step's time is reported): the archives (`pictures/generate.rs`: one of
//! `--pictures` entries and one of `--small`, every picture different, stored not deflated),
//! kept in the folder above the work folder (`target/tmp/bench-pictures/archive-<N>.zip`) and
//! reused by the next run when whole, since encoding 10,000 photos takes minutes; then a
//! template data folder, where toolsync itself creates the accounts (`run users` on a file of
//! `username;firstname;lastname`, one account per picture of the larger archive).
//!
//! Every measured run is a child process, timed from spawn to exit, its CPU time and peak
//! resident memory read with `wait4` (`ru_maxrss`), pinned to the first CPU, or the first two,
//! that this process may use (`sched_setaffinity` before `exec`, as `taskset -c 0` or
//! `taskset -c 0,1` would; toolsync sizes its `prepare` pool by
//! `std::thread::available_parallelism`, which honours it):
//!
//! - toolsync: `toolsync -q --data-dir <copy of the template> --plugin-dir <dir> run pictures
//!   ARCHIVE --set max_archive_bytes=64GiB` (the default options otherwise, so the run also
//!   writes its report, its journal and the archive copy in `files/archives/`);
//! - the loop: this same binary in its hidden `--baseline ARCHIVE THREADS` mode, with as many
//!   threads as cores (`pictures/baseline.rs`).
//!
//! For each size and each of `--pairs` pairs the order is: toolsync on 1 core, the loop on 1
//! core, toolsync on 2 cores, the loop on 2 cores.
//!
//! Checks (untimed), so that a regression cannot pass as a speed-up: toolsync exits 0 and its
//! stored JSON report counts every entry `created` and nothing else; `toolsync check --json`
//! finds the store consistent, with one `picture` record per entry and 3 stored files per entry;
//! the data folder's `pictures/` holds exactly 3 files per entry (every rendition of every
//! picture is different, so none is shared); the loop says it processed every entry into 3
//! renditions.
//!
//! Each toolsync run's data folder (its PNGs and the archive copy: about 530 KB per picture)
//! is kept until every run is done, then the work folder is removed: deleting tens of
//! thousands of files between two measured runs would slow the second one's file creation on
//! some file systems (ext4 without a journal skips recently freed inodes). The defaults need
//! about 12 GB free for that, besides the archives (3.2 GB, kept).
//!
//! Environment: `TOOLSYNC_BENCH_PICTURES_PLUGIN`, `TOOLSYNC_BENCH_PLUGIN` (the pictures and
//! users libraries to use instead of the ones cargo built), `TOOLSYNC_BENCH_DIR` (the folder of
//! the archives, default `target/tmp/bench-pictures`; the work folder is its `run/`, removed
//! at the end).

#[path = "pictures/baseline.rs"]
mod baseline;
#[path = "pictures/generate.rs"]
mod generate;
#[path = "common/harness.rs"]
mod harness;
#[path = "common/measure.rs"]
mod measure;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use harness::{Bench, Plugin, Side};
use measure::{bytes, disk_usage, file_size, kib, parse_count, size_name, verdict, Measure};

const PLUGINS: [Plugin; 2] = [
    Plugin {
        env: "TOOLSYNC_BENCH_PICTURES_PLUGIN",
        library: "toolsync_pictures",
        package: "toolsync-pictures",
    },
    Plugin {
        env: "TOOLSYNC_BENCH_PLUGIN",
        library: "toolsync_users",
        package: "toolsync-users",
    },
];

/// The archive's total is far over the default `max_archive_bytes` (64 MiB).
const MAX_ARCHIVE: &str = "max_archive_bytes=64GiB";

/// toolsync's pictures/s against the loop's, on the same cores, at the larger size.
const THROUGHPUT_TARGET: f64 = 0.8;

/// toolsync's peak memory at the larger size against its peak at the smaller one (the users
/// bench's bound for "independent of the input's size").
const GROWTH_TARGET: f64 = 1.2;

/// The core counts measured.
const CORES: [usize; 2] = [1, 2];

fn main() -> ExitCode {
    let args = harness::args();
    let result = match args.first().map(String::as_str) {
        Some("--generate") => generate_command(&args[1..]),
        Some("--baseline") => baseline_command(&args[1..]),
        _ => Settings::parse(&args).and_then(|s| bench(&s)),
    };
    harness::exit("pictures", result)
}

struct Settings {
    pictures: u64,
    small: u64,
    pairs: usize,
    /// Where the archives are kept; the work folder is its `run/`.
    dir: PathBuf,
}

const USAGE: &str = "--pictures N, --small N, --pairs N, --generate N DIR";

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let mut s = Settings {
            pictures: 10_000,
            small: 1_000,
            pairs: 1,
            dir: harness::work_dir("bench-pictures"),
        };
        harness::parse_flags(args, USAGE, |flag, value| {
            match flag {
                "--pictures" => s.pictures = parse_count(value)?,
                "--small" => s.small = parse_count(value)?,
                "--pairs" => s.pairs = harness::parse_pairs(value)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if s.pictures == 0 || s.small == 0 {
            return Err("--pictures and --small must be at least 1".into());
        }
        Ok(s)
    }

    fn accounts(&self) -> u64 {
        self.pictures.max(self.small)
    }
}

/// `--generate N DIR`: writes (or finds whole) `DIR/archive-N.zip` and the users file
/// `DIR/users-N.csv`, prints their paths and exits.
fn generate_command(args: &[String]) -> Result<(), String> {
    let [pictures, dir] = args else {
        return Err("usage: --generate PICTURES DIR".into());
    };
    let (pictures, dir) = (parse_count(pictures)?, Path::new(dir));
    let archive = timed_archive(dir, pictures)?;
    let users = dir.join(format!("users-{pictures}.csv"));
    generate::write_users(&users, pictures)
        .map_err(|e| format!("cannot write {}: {e}", users.display()))?;
    println!("{}", archive.path.display());
    println!("{}", users.display());
    Ok(())
}

/// `--baseline ARCHIVE THREADS`: the hand-written loop, in its own process; prints the entries
/// processed, the bytes read and the PNG bytes made.
fn baseline_command(args: &[String]) -> Result<(), String> {
    let [archive, threads] = args else {
        return Err("usage: --baseline ARCHIVE THREADS".into());
    };
    let c = baseline::run(Path::new(archive), parse_count(threads)? as usize)?;
    println!("{} {} {}", c.processed, c.read, c.png);
    Ok(())
}

/// An archive of the bench.
struct Archive {
    pictures: u64,
    path: PathBuf,
    bytes: u64,
    /// Seconds to write it; `None` when a whole one was reused.
    generated: Option<f64>,
}

fn timed_archive(dir: &Path, pictures: u64) -> Result<Archive, String> {
    let started = Instant::now();
    let (path, reused) = generate::cached_archive(dir, pictures)?;
    let seconds = started.elapsed().as_secs_f64();
    let archive = Archive {
        pictures,
        bytes: file_size(&path),
        generated: (!reused).then_some(seconds),
        path,
    };
    eprintln!(
        "{} {} ({} pictures, {}) in {seconds:.1} s",
        if reused { "reused" } else { "generated" },
        archive.path.display(),
        pictures,
        bytes(archive.bytes)
    );
    Ok(archive)
}

/// One measured run and what it left.
struct Run {
    side: Side,
    cores: usize,
    measure: Measure,
    /// toolsync's: the data folder's `pictures/` on disk.
    pictures_bytes: Option<u64>,
}

/// The first `cores` CPUs this process may run on.
fn cpus(cores: usize) -> Result<Vec<usize>, String> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for this process.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return Err(format!(
            "sched_getaffinity: {}",
            std::io::Error::last_os_error()
        ));
    }
    let allowed: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .take(cores)
        .collect();
    if allowed.len() < cores {
        return Err(format!(
            "the bench needs {cores} CPUs; this process may use {}",
            allowed.len()
        ));
    }
    Ok(allowed)
}

/// Runs `command` on `cpus` only (as `taskset -c` does), from its `exec` on.
fn pin(command: &mut Command, cpus: &[usize]) {
    use std::os::unix::process::CommandExt;
    let cpus = cpus.to_vec();
    // SAFETY: between fork and exec the closure only fills a plain struct and makes one
    // system call; it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &cpu in &cpus {
                libc::CPU_SET(cpu, &mut set);
            }
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn cpu_list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The `.report.json` files in a data folder's reports folder.
fn reports(data: &Path) -> Vec<PathBuf> {
    let dir = data.join("files").join("reports");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".report.json"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The counts (`created`, `updated`…) of the one report stored since `before`.
fn new_report_counts(data: &Path, before: &[PathBuf]) -> Result<BTreeMap<String, u64>, String> {
    let new: Vec<PathBuf> = reports(data)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let [path] = new.as_slice() else {
        return Err(format!("{} new reports stored, not 1", new.len()));
    };
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let report: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let counts = report["counts"]
        .as_object()
        .ok_or(format!("{}: no counts", path.display()))?;
    Ok(counts
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
        .filter(|(_, n)| *n != 0)
        .collect())
}

/// The files under `dir`, at any depth.
fn count_files(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => count_files(&entry.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}

/// toolsync on `cores` cores, on a copy of the template, measured, then checked.
fn toolsync_run(
    bench: &Bench,
    template: &Path,
    archive: &Archive,
    cores: usize,
    label: &str,
) -> Result<Run, String> {
    let n = archive.pictures;
    let data = bench.copied_data(template, label)?;
    let before = reports(&data);
    let cpus = cpus(cores)?;
    eprint!("{label} (CPUs {}): ", cpu_list(&cpus));
    let mut command = bench.toolsync(&data);
    command
        .args(["run", "pictures"])
        .arg(&archive.path)
        .args(["--set", MAX_ARCHIVE])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    pin(&mut command, &cpus);
    let started = Instant::now();
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start toolsync: {e}"))?;
    let waited = measure::wait_measured(child, started)?;
    if waited.code != 0 {
        return Err(format!(
            "{label}: `toolsync run pictures {}` exited {}: every entry should succeed",
            archive.path.display(),
            waited.code
        ));
    }
    let measure = Measure::taken(label, n, waited, &data);

    let checked = Instant::now();
    let counts = new_report_counts(&data, &before)?;
    let expected = BTreeMap::from([("created".to_string(), n)]);
    if counts != expected {
        return Err(format!(
            "{label}: the report counts {counts:?}, not {expected:?}"
        ));
    }
    let spaces = bench.check(&data)?;
    let found = (
        spaces.get("picture").copied().unwrap_or(0),
        spaces.get("stored files").copied().unwrap_or(0),
    );
    if found != (n, 3 * n) {
        return Err(format!(
            "{label}: `toolsync check` counted {} picture records and {} stored files, not {n} and {}",
            found.0,
            found.1,
            3 * n
        ));
    }
    let folder = data.join("pictures");
    let files = count_files(&folder);
    if files != 3 * n {
        return Err(format!(
            "{label}: {} holds {files} files, not {}",
            folder.display(),
            3 * n
        ));
    }
    let pictures_bytes = disk_usage(&folder);
    eprintln!(
        "  checked in {:.1} s: {n} created, check clean, {files} files in pictures/ ({})",
        checked.elapsed().as_secs_f64(),
        bytes(pictures_bytes)
    );
    // Kept until the end of the bench: deleting 30,000 files just before the next measured
    // run would slow that run's file creation (ext4 without a journal skips inodes freed in
    // the last minutes when it allocates new ones).
    Ok(Run {
        side: Side::Toolsync,
        cores,
        measure,
        pictures_bytes: Some(pictures_bytes),
    })
}

/// The loop with `cores` threads on `cores` cores, measured, then checked.
fn baseline_run(
    bench: &Bench,
    archive: &Archive,
    cores: usize,
    label: &str,
) -> Result<Run, String> {
    let n = archive.pictures;
    let cpus = cpus(cores)?;
    eprint!("{label} (CPUs {}): ", cpu_list(&cpus));
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the bench binary: {e}"))?;
    let mut command = Command::new(exe);
    command
        .arg("--baseline")
        .arg(&archive.path)
        .arg(cores.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    pin(&mut command, &cpus);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the baseline: {e}"))?;
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use std::io::Read;
        let _ = stdout.read_to_string(&mut out);
    }
    let waited = measure::wait_measured(child, started)?;
    if waited.code != 0 {
        return Err(format!("{label}: the baseline exited {}", waited.code));
    }
    // No data folder: the loop stores nothing.
    let measure = Measure::taken(label, n, waited, &bench.work.join("no-store"));
    let processed = out
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<u64>().ok());
    if processed != Some(n) {
        return Err(format!(
            "{label}: the baseline printed {out:?}; it should have processed {n} entries"
        ));
    }
    Ok(Run {
        side: Side::Baseline,
        cores,
        measure,
        pictures_bytes: None,
    })
}

/// The machine's load average over 1, 5 and 15 minutes.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn bench(settings: &Settings) -> Result<(), String> {
    let load_before = load();
    // The work folder is emptied; the archives beside it are kept.
    let bench = Bench::prepare(&settings.dir.join("run"), &PLUGINS)?;
    cpus(*CORES.iter().max().unwrap_or(&1))?;
    let archives = [
        timed_archive(&settings.dir, settings.pictures)?,
        timed_archive(&settings.dir, settings.small)?,
    ];

    let users = bench.work.join("users.csv");
    generate::write_users(&users, settings.accounts())
        .map_err(|e| format!("cannot write {}: {e}", users.display()))?;
    let template = bench.work.join("template");
    let started = Instant::now();
    bench.setup_run(&template, "users", &users)?;
    let setup_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "setup: `run users`, {} accounts, {setup_seconds:.1} s",
        settings.accounts()
    );

    let mut sizes = Vec::new();
    for archive in &archives {
        let name = size_name(archive.pictures);
        let mut runs = Vec::new();
        for pair in 1..=settings.pairs {
            for cores in CORES {
                let label = |side: Side| format!("{} {name} {cores}c #{pair}", side.word());
                runs.push(toolsync_run(
                    &bench,
                    &template,
                    archive,
                    cores,
                    &label(Side::Toolsync),
                )?);
                runs.push(baseline_run(
                    &bench,
                    archive,
                    cores,
                    &label(Side::Baseline),
                )?);
            }
        }
        sizes.push(runs);
    }
    let _ = std::fs::remove_dir_all(&bench.work);
    report(settings, &archives, setup_seconds, &sizes[0], &sizes[1]);
    println!(
        "load average (1, 5, 15 min): {load_before} at the start, {} at the end",
        load()
    );
    Ok(())
}

/// The runs of one side on `cores` cores.
fn of(runs: &[Run], side: Side, cores: usize) -> Vec<&Run> {
    runs.iter()
        .filter(|r| r.side == side && r.cores == cores)
        .collect()
}

fn best_rate(runs: &[Run], side: Side, cores: usize) -> f64 {
    of(runs, side, cores)
        .iter()
        .map(|r| r.measure.rate())
        .fold(0.0, f64::max)
}

fn peak(runs: &[Run], side: Side, cores: usize) -> u64 {
    of(runs, side, cores)
        .iter()
        .map(|r| r.measure.peak_rss_kib)
        .max()
        .unwrap_or(0)
}

fn print_table<'a>(runs: impl IntoIterator<Item = &'a Run>) {
    println!(
        "| {:<22} | {:>8} | {:>8} | {:>8} | {:>10} | {:>10} | {:>10} | {:>10} | {:>12} |",
        "run",
        "pictures",
        "seconds",
        "CPU s",
        "CPU ms/pic",
        "pictures/s",
        "peak RSS",
        "store",
        "pictures/"
    );
    println!(
        "|{:-<24}|{:->10}|{:->10}|{:->10}|{:->12}|{:->12}|{:->12}|{:->12}|{:->14}|",
        "", "", "", "", "", "", "", "", ""
    );
    for r in runs {
        let m = &r.measure;
        let (store, pictures) = match r.pictures_bytes {
            Some(p) => (bytes(m.store_bytes), bytes(p)),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "| {:<22} | {:>8} | {:>8.2} | {:>8.2} | {:>10.1} | {:>10.1} | {:>10} | {:>10} | {:>12} |",
            m.label,
            m.rows,
            m.seconds,
            m.cpu_seconds,
            m.cpu_seconds * 1000.0 / m.rows as f64,
            m.rate(),
            kib(m.peak_rss_kib),
            store,
            pictures
        );
    }
}

fn report(
    settings: &Settings,
    archives: &[Archive; 2],
    setup_seconds: f64,
    big: &[Run],
    small: &[Run],
) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let (n, small_n) = (size_name(settings.pictures), size_name(settings.small));
    println!();
    println!(
        "toolsync pictures benchmark: {cores} cores, {} pair(s) per size, runs pinned to 1 and 2 cores",
        settings.pairs
    );
    for archive in archives {
        println!(
            "  input {}: {} JPEGs of {}x{} (q{}), stored, {}, {}",
            size_name(archive.pictures),
            archive.pictures,
            generate::WIDTH,
            generate::HEIGHT,
            generate::QUALITY,
            bytes(archive.bytes),
            match archive.generated {
                Some(s) => format!("generated in {s:.1} s"),
                None => "reused from an earlier run".to_string(),
            }
        );
    }
    println!(
        "  setup (untimed): `run users` {} accounts {setup_seconds:.1} s",
        settings.accounts()
    );
    println!();
    print_table(big.iter().chain(small));
    println!();
    for (name, runs, target) in [(&n, big, Some(THROUGHPUT_TARGET)), (&small_n, small, None)] {
        for c in CORES {
            let (t, b) = (
                best_rate(runs, Side::Toolsync, c),
                best_rate(runs, Side::Baseline, c),
            );
            let per_pair: Vec<String> = of(runs, Side::Toolsync, c)
                .iter()
                .zip(of(runs, Side::Baseline, c))
                .map(|(t, b)| format!("{:.2}", t.measure.rate() / b.measure.rate()))
                .collect();
            let mut line = format!(
                "{name}, {c} core(s): best toolsync {t:.1} pictures/s, best loop {b:.1} pictures/s, ratio {:.2} (per pair: {})",
                t / b,
                per_pair.join(", ")
            );
            if let Some(target) = target {
                line.push_str(&format!(
                    "; target >= {target:.2}: {}",
                    verdict(t / b >= target)
                ));
            }
            println!("{line}");
        }
    }
    for (name, runs) in [(&n, big), (&small_n, small)] {
        let speedup = |side| best_rate(runs, side, 2) / best_rate(runs, side, 1);
        println!(
            "{name}, speed-up 2 cores / 1 core: toolsync {:.2}x, loop {:.2}x",
            speedup(Side::Toolsync),
            speedup(Side::Baseline)
        );
    }
    for side in [Side::Toolsync, Side::Baseline] {
        for c in CORES {
            let (p_small, p_big) = (peak(small, side, c), peak(big, side, c));
            let growth = p_big as f64 / p_small.max(1) as f64;
            let mut line = format!(
                "peak RSS {}, {c} core(s): {small_n} {}, {n} {}, ratio {growth:.2}",
                side.word(),
                kib(p_small),
                kib(p_big)
            );
            if side == Side::Toolsync {
                line.push_str(&format!(
                    "; target <= {GROWTH_TARGET:.2}: {}",
                    verdict(growth <= GROWTH_TARGET)
                ));
            }
            println!("{line}");
        }
    }
    for (name, runs) in [(&n, big), (&small_n, small)] {
        let folder = runs
            .iter()
            .filter_map(|r| r.pictures_bytes)
            .max()
            .unwrap_or(0);
        let count = runs.first().map_or(0, |r| r.measure.rows);
        println!(
            "{name}: toolsync's pictures/ folder {} on disk ({:.1} KB per picture, 3 PNGs each)",
            bytes(folder),
            folder as f64 / 1e3 / count.max(1) as f64
        );
    }
}
