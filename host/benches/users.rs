//! Benchmark (not a timed test): `toolsync run users` on a large file of new accounts, against a
//! hand-written loop doing the same sled writes with no plugin layer; peak memory at two sizes.
//!
//! ```text
//! cargo bench -p toolsync --bench users                     # 1,000,000 and 100,000 rows
//! cargo bench -p toolsync --bench users -- --rows 200000 --small-rows 20000 --pairs 1
//! cargo bench -p toolsync --bench users -- --generate 1000000 users.csv   # only the file
//! ```
//!
//! Every measured run is a child process on a fresh data folder, timed from spawn to exit, its
//! peak resident memory read with `wait4` (`ru_maxrss`). toolsync's runs must exit 0 and leave
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
#[path = "common/measure.rs"]
mod measure;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use measure::{
    bytes, file_size, kib, parse_count, print_table, size_name, verdict, wait_measured, Measure,
};

const USERS_LIBRARY: &str = "toolsync_users";

fn main() -> ExitCode {
    // `cargo bench` adds `--bench` to the arguments of harness-less benches.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let result = match args.first().map(String::as_str) {
        Some("--generate") => generate_command(&args[1..]),
        Some("--baseline") => baseline_command(&args[1..]),
        _ => Settings::parse(&args).and_then(|s| bench(&s)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench users: {message}");
            ExitCode::FAILURE
        }
    }
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
        let mut settings = Settings {
            rows: measure::env_count("TOOLSYNC_BENCH_ROWS", 1_000_000)?,
            small_rows: measure::env_count("TOOLSYNC_BENCH_SMALL_ROWS", 100_000)?,
            pairs: 2,
            work: std::env::var_os("TOOLSYNC_BENCH_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-users")),
        };
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            let mut value = || rest.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--rows" => settings.rows = parse_count(value()?)?,
                "--small-rows" => settings.small_rows = parse_count(value()?)?,
                "--pairs" => settings.pairs = parse_count(value()?)?.max(1) as usize,
                other => {
                    return Err(format!(
                        "unknown argument `{other}` (use --rows N, --small-rows N, --pairs N, \
                         --generate N FILE)"
                    ))
                }
            }
        }
        Ok(settings)
    }
}

fn bench(settings: &Settings) -> Result<(), String> {
    let toolsync = PathBuf::from(env!("CARGO_BIN_EXE_toolsync"));
    let _ = std::fs::remove_dir_all(&settings.work);
    let plugins = settings.work.join("plugins");
    std::fs::create_dir_all(&plugins)
        .map_err(|e| format!("cannot create {}: {e}", plugins.display()))?;
    let library = users_library(&toolsync)?;
    std::fs::copy(
        &library,
        plugins.join(library.file_name().unwrap_or_default()),
    )
    .map_err(|e| format!("cannot copy {}: {e}", library.display()))?;
    eprintln!(
        "toolsync: {}\nplugin:   {}",
        toolsync.display(),
        library.display()
    );

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

    let ctx = Context {
        toolsync: &toolsync,
        plugins: &plugins,
        work: &settings.work,
    };
    let mut big = Vec::new();
    let mut small = Vec::new();
    for input in &files {
        let measures = if input.rows == settings.rows {
            &mut big
        } else {
            &mut small
        };
        let name = size_name(input.rows);
        for pair in 1..=settings.pairs {
            measures.push(ctx.toolsync_run(&format!("toolsync {name} #{pair}"), input)?);
            measures.push(ctx.baseline_run(&format!("baseline {name} #{pair}"), input)?);
        }
    }
    let _ = std::fs::remove_dir_all(&settings.work);
    report(settings, &files, &big, &small);
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

struct Context<'a> {
    toolsync: &'a Path,
    plugins: &'a Path,
    work: &'a Path,
}

impl Context<'_> {
    fn toolsync(&self, data: &Path) -> Command {
        measure::toolsync_command(self.toolsync, self.plugins, data)
    }

    fn fresh_data(&self, label: &str) -> PathBuf {
        let data = self.work.join(label.replace([' ', '#'], ""));
        let _ = std::fs::remove_dir_all(&data);
        data
    }

    fn toolsync_run(&self, label: &str, input: &Input) -> Result<Measure, String> {
        let (rows, file, last) = (input.rows, &input.path, &input.last);
        let data = self.fresh_data(label);
        eprint!("{label}: ");
        let started = Instant::now();
        let child = self
            .toolsync(&data)
            .arg("run")
            .arg("users")
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start toolsync: {e}"))?;
        let (status, seconds, peak) = wait_measured(child, started)?;
        if status != 0 {
            return Err(format!(
                "`toolsync run users` exited {status}: every row should be created"
            ));
        }
        let measure = Measure::taken(label, rows, seconds, peak, &data);
        // The run must really have stored every row.
        let stored = self.export_count(&data)?;
        if stored != rows {
            return Err(format!(
                "{label}: `export users` lists {stored} accounts, not {rows}"
            ));
        }
        self.check_shown(&data, last)?;
        let _ = std::fs::remove_dir_all(&data);
        Ok(measure)
    }

    fn baseline_run(&self, label: &str, input: &Input) -> Result<Measure, String> {
        let (rows, file, last) = (input.rows, &input.path, &input.last);
        let data = self.fresh_data(label);
        eprint!("{label}: ");
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find the bench binary: {e}"))?;
        let started = Instant::now();
        let mut child = Command::new(exe)
            .arg("--baseline")
            .arg(file)
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the baseline: {e}"))?;
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        let (status, seconds, peak) = wait_measured(child, started)?;
        if status != 0 {
            return Err(format!("the baseline exited {status}"));
        }
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
        let measure = Measure::taken(label, rows, seconds, peak, &data);
        // Same layout as the model's: toolsync finds the last account in the baseline's store.
        self.check_shown(&data, last)?;
        let _ = std::fs::remove_dir_all(&data);
        Ok(measure)
    }

    /// `toolsync export users --format json`, its records counted as they stream.
    fn export_count(&self, data: &Path) -> Result<u64, String> {
        let mut child = self
            .toolsync(data)
            .args(["export", "users", "--format", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start toolsync export: {e}"))?;
        let mut stdout = child.stdout.take().ok_or("no stdout")?;
        let mut buffer = vec![0u8; 1 << 20];
        let (mut newlines, mut total, mut head) = (0u64, 0u64, Vec::new());
        loop {
            let n = stdout
                .read(&mut buffer)
                .map_err(|e| format!("cannot read the export: {e}"))?;
            if n == 0 {
                break;
            }
            if head.len() < 3 {
                head.extend_from_slice(&buffer[..n.min(3)]);
            }
            total += n as u64;
            newlines += buffer[..n].iter().filter(|b| **b == b'\n').count() as u64;
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("`toolsync export users` failed: {status}"));
        }
        // `[` record (`,\n` record)* `]\n`: one newline per record, `[]\n` when empty.
        Ok(if total <= 3 && head.starts_with(b"[]") {
            0
        } else {
            newlines
        })
    }

    fn check_shown(&self, data: &Path, username: &str) -> Result<(), String> {
        let output = self
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
}

/// The users plugin cargo built for this profile (a dev-dependency), beside the toolsync binary
/// or in its `deps/`; failing that, `cargo build --release -p toolsync-users` into the same
/// target folder.
fn users_library(toolsync: &Path) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("TOOLSYNC_BENCH_PLUGIN") {
        return Ok(PathBuf::from(path));
    }
    measure::plugin_library(toolsync, USERS_LIBRARY, "toolsync-users")
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
    print_table(big.iter().chain(small));
    println!();

    let best = |list: &[Measure], who: &str| {
        list.iter()
            .filter(|m| m.label.starts_with(who))
            .map(Measure::rate)
            .fold(0.0, f64::max)
    };
    let (t, b) = (best(big, "toolsync"), best(big, "baseline"));
    let pairs: Vec<String> = big
        .chunks(2)
        .filter(|p| p.len() == 2)
        .map(|p| format!("{:.2}", p[0].rate() / p[1].rate()))
        .collect();
    let ratio = t / b;
    println!(
        "{}: best toolsync {:.0} rows/s, best baseline {:.0} rows/s, ratio {:.2} (per pair: {}); target >= 0.80: {}",
        size_name(settings.rows),
        t,
        b,
        ratio,
        pairs.join(", "),
        verdict(ratio >= 0.8)
    );
    let (ts, bs) = (best(small, "toolsync"), best(small, "baseline"));
    println!(
        "{}: best toolsync {:.0} rows/s, best baseline {:.0} rows/s, ratio {:.2}",
        size_name(settings.small_rows),
        ts,
        bs,
        ts / bs
    );
    let peak = |list: &[Measure], who: &str| {
        list.iter()
            .filter(|m| m.label.starts_with(who))
            .map(|m| m.peak_rss_kib)
            .max()
            .unwrap_or(0)
    };
    for who in ["toolsync", "baseline"] {
        let (p_big, p_small) = (peak(big, who), peak(small, who));
        let growth = p_big as f64 / p_small.max(1) as f64;
        let target = if who == "toolsync" {
            format!("; target <= 1.20: {}", verdict(growth <= 1.2))
        } else {
            String::new()
        };
        println!(
            "peak RSS {who}: {} {} (max), {} {} (max), ratio {:.2}{target}",
            size_name(settings.small_rows),
            kib(p_small),
            size_name(settings.rows),
            kib(p_big),
            growth
        );
    }
}
