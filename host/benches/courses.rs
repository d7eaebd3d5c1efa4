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
//! Every measured run is a child process on a fresh data folder, timed from spawn to exit, its
//! peak resident memory read with `wait4` (`ru_maxrss`). The baseline is this same binary in
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
#[path = "common/measure.rs"]
mod measure;

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use measure::{bytes, file_size, kib, parse_count, print_table, size_name, wait_measured, Measure};

const COURSES_LIBRARY: &str = "toolsync_courses";

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
            eprintln!("bench courses: {message}");
            ExitCode::FAILURE
        }
    }
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
        let mut settings = Settings {
            courses: measure::env_count("TOOLSYNC_BENCH_COURSES", 100_000)?,
            departments: measure::env_count("TOOLSYNC_BENCH_CATEGORIES", 1_000)?,
            pairs: 2,
            work: std::env::var_os("TOOLSYNC_BENCH_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-courses")),
        };
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            let mut value = || rest.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--courses" => settings.courses = parse_count(value()?)?,
                "--categories" => settings.departments = parse_count(value()?)?,
                "--pairs" => settings.pairs = parse_count(value()?)?.max(1) as usize,
                other => {
                    return Err(format!(
                        "unknown argument `{other}` (use --courses N, --categories N, --pairs N, \
                         --generate N FILE)"
                    ))
                }
            }
        }
        if settings.courses == 0 || settings.departments == 0 {
            return Err("--courses and --categories must be at least 1".into());
        }
        Ok(settings)
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
    let toolsync = PathBuf::from(env!("CARGO_BIN_EXE_toolsync"));
    let _ = std::fs::remove_dir_all(&settings.work);
    let plugins = settings.work.join("plugins");
    std::fs::create_dir_all(&plugins)
        .map_err(|e| format!("cannot create {}: {e}", plugins.display()))?;
    let library = match std::env::var_os("TOOLSYNC_BENCH_COURSES_PLUGIN") {
        Some(path) => PathBuf::from(path),
        None => measure::plugin_library(&toolsync, COURSES_LIBRARY, "toolsync-courses")?,
    };
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

    let ctx = Context {
        toolsync: &toolsync,
        plugins: &plugins,
        work: &settings.work,
    };
    let name = size_name(rows);
    let mut measures = Vec::new();
    let mut contents = Vec::new();
    for pair in 1..=settings.pairs {
        for who in ["toolsync", "baseline"] {
            let label = format!("{who} {name} #{pair}");
            let (measure, content) = ctx.measured_run(who, &label, &input)?;
            measures.push(measure);
            contents.push((label, content));
        }
    }
    let (first_label, first) = &contents[0];
    for (label, content) in &contents[1..] {
        if content != first {
            return Err(format!(
                "the stores differ: {first_label} holds {first:?}, {label} holds {content:?}"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&settings.work);
    report(settings, &input, &measures);
    Ok(())
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

    /// One run of `who` (toolsync or the baseline) on a fresh data folder, measured, then
    /// checked through toolsync's exports (untimed).
    fn measured_run(
        &self,
        who: &str,
        label: &str,
        input: &Input,
    ) -> Result<(Measure, Content), String> {
        let data = self.work.join(label.replace([' ', '#'], ""));
        let _ = std::fs::remove_dir_all(&data);
        eprint!("{label}: ");
        let started = Instant::now();
        let measure = if who == "toolsync" {
            let child = self
                .toolsync(&data)
                .arg("run")
                .arg("course-create")
                .arg(&input.path)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| format!("cannot start toolsync: {e}"))?;
            let (status, seconds, peak) = wait_measured(child, started)?;
            if status != 0 {
                return Err(format!(
                    "`toolsync run course-create` exited {status}: every row should be created"
                ));
            }
            Measure::taken(label, input.rows, seconds, peak, &data)
        } else {
            let exe = std::env::current_exe()
                .map_err(|e| format!("cannot find the bench binary: {e}"))?;
            let mut child = Command::new(exe)
                .arg("--baseline")
                .arg(&input.path)
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
            if created != input.rows {
                return Err(format!(
                    "{label}: the baseline created {created} courses, not {} ({out})",
                    input.rows
                ));
            }
            Measure::taken(label, input.rows, seconds, peak, &data)
        };
        let content = self.content(&data)?;
        if content.courses != input.rows || content.categories != input.categories {
            return Err(format!(
                "{label}: the exports list {} courses and {} categories, not {} and {}",
                content.courses, content.categories, input.rows, input.categories
            ));
        }
        self.check_shown(&data, &input.last)?;
        let _ = std::fs::remove_dir_all(&data);
        Ok((measure, content))
    }

    /// `export courses` and `export categories` as CSV: record counts and one digest of both,
    /// the `startdate` column left out.
    fn content(&self, data: &Path) -> Result<Content, String> {
        let mut hasher = DefaultHasher::new();
        let mut counts = [0u64; 2];
        for (i, entity) in ["courses", "categories"].into_iter().enumerate() {
            let mut child = self
                .toolsync(data)
                .args(["export", entity, "--format", "csv"])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| format!("cannot start toolsync export: {e}"))?;
            let stdout = child.stdout.take().ok_or("no stdout")?;
            let mut lines = BufReader::with_capacity(1 << 20, stdout).lines();
            let header = lines
                .next()
                .ok_or(format!("`export {entity}` printed nothing"))?
                .map_err(|e| format!("cannot read the export: {e}"))?;
            let skip = split_fields(&header).iter().position(|h| h == "startdate");
            hasher.write(header.as_bytes());
            for line in lines {
                let line = line.map_err(|e| format!("cannot read the export: {e}"))?;
                // The generated values have no line breaks: one line, one record.
                for (n, field) in split_fields(&line).iter().enumerate() {
                    if Some(n) != skip {
                        hasher.write(field.as_bytes());
                        hasher.write_u8(0);
                    }
                }
                hasher.write_u8(b'\n');
                counts[i] += 1;
            }
            let status = child.wait().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("`toolsync export {entity}` failed: {status}"));
            }
        }
        Ok(Content {
            courses: counts[0],
            categories: counts[1],
            digest: hasher.finish(),
        })
    }

    fn check_shown(&self, data: &Path, shortname: &str) -> Result<(), String> {
        let output = self
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
}

/// The fields of one CSV line with `;` and RFC 4180 quotes, unquoted.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ';' if !quoted => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
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

    let of = |who: &str| -> Vec<&Measure> {
        measures
            .iter()
            .filter(|m| m.label.starts_with(who))
            .collect()
    };
    let (tools, loops) = (of("toolsync"), of("baseline"));
    let best = |list: &[&Measure]| list.iter().map(|m| m.rate()).fold(0.0, f64::max);
    let pairs = |f: &dyn Fn(&Measure, &Measure) -> f64| -> String {
        tools
            .iter()
            .zip(&loops)
            .map(|(t, b)| format!("{:.2}", f(t, b)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (t, b) = (best(&tools), best(&loops));
    println!(
        "{}: best toolsync {:.0} rows/s, best baseline {:.0} rows/s, ratio toolsync/loop {:.2} (per pair: {})",
        size_name(input.rows),
        t,
        b,
        t / b,
        pairs(&|t, b| t.rate() / b.rate())
    );
    let peak = |list: &[&Measure]| list.iter().map(|m| m.peak_rss_kib).max().unwrap_or(0);
    let (pt, pb) = (peak(&tools), peak(&loops));
    println!(
        "peak RSS: toolsync {} (max), baseline {} (max), ratio toolsync/loop {:.2} (per pair: {})",
        kib(pt),
        kib(pb),
        pt as f64 / pb.max(1) as f64,
        pairs(&|t, b| t.peak_rss_kib as f64 / b.peak_rss_kib.max(1) as f64)
    );
    let disk = |list: &[&Measure]| list.iter().map(|m| m.store_bytes).max().unwrap_or(0);
    println!(
        "store on disk: toolsync {} (max), baseline {} (max)",
        bytes(disk(&tools)),
        bytes(disk(&loops))
    );
}
