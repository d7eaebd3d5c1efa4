//! What the toolsync-against-a-loop benches share beyond one measurement (`measure.rs`): their
//! command line, the work folder with its plugin folder, toolsync and the baseline run as
//! measured child processes, the runs alternated in pairs, exports digested, the summary
//! lines. Included by `users.rs`, `courses.rs` and `enrolments.rs` with `#[path]`, beside
//! `measure.rs` (which it uses as `crate::measure`); not a bench target of its own.
#![allow(dead_code)] // each bench uses a part

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::hash::Hasher;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use crate::measure::{self, size_name, wait_measured, Measure};

/// The bench binary's arguments, without the `--bench` that `cargo bench` adds to those of
/// harness-less benches.
pub fn args() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect()
}

/// The process's exit: a failure is printed as `bench NAME: message`.
pub fn exit(name: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench {name}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Reads `--flag value` pairs: `take(flag, value)` stores a known flag's value and says
/// whether it knew the flag; an unknown one fails naming `usage`.
pub fn parse_flags(
    args: &[String],
    usage: &str,
    mut take: impl FnMut(&str, &str) -> Result<bool, String>,
) -> Result<(), String> {
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(format!("{flag} needs a value"))?;
        if !take(flag, value)? {
            return Err(format!("unknown argument `{flag}` (use {usage})"));
        }
    }
    Ok(())
}

/// `--pairs N`: at least one.
pub fn parse_pairs(value: &str) -> Result<usize, String> {
    Ok(measure::parse_count(value)?.max(1) as usize)
}

/// The work folder: `$TOOLSYNC_BENCH_DIR`, else `target/tmp/<name>`.
pub fn work_dir(name: &str) -> PathBuf {
    std::env::var_os("TOOLSYNC_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join(name))
}

/// A processor plugin a bench runs: the library cargo built (a dev-dependency of the host),
/// unless the environment variable `env` names another file.
pub struct Plugin {
    pub env: &'static str,
    /// The library's name without prefix and suffix (`toolsync_users`).
    pub library: &'static str,
    /// Its package, built with `cargo build --release -p` when the library is missing.
    pub package: &'static str,
}

/// Which program a measured run runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Toolsync,
    Baseline,
}

impl Side {
    pub fn word(self) -> &'static str {
        match self {
            Side::Toolsync => "toolsync",
            Side::Baseline => "baseline",
        }
    }
}

/// A bench's work folder, with a plugin folder of its own, and the toolsync binary cargo built.
/// The users processor's library (`TOOLSYNC_BENCH_PLUGIN` names another build of it).
pub const USERS_PLUGIN: Plugin = Plugin {
    env: "TOOLSYNC_BENCH_PLUGIN",
    library: "toolsync_users",
    package: "toolsync-users",
};

pub struct Bench {
    pub toolsync: PathBuf,
    pub plugins: PathBuf,
    pub work: PathBuf,
}

impl Bench {
    /// Empties `work` and copies each plugin's library into `work/plugins`.
    pub fn prepare(work: &Path, plugins: &[Plugin]) -> Result<Bench, String> {
        let toolsync = PathBuf::from(env!("CARGO_BIN_EXE_toolsync"));
        let _ = std::fs::remove_dir_all(work);
        let folder = work.join("plugins");
        std::fs::create_dir_all(&folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        eprintln!("toolsync: {}", toolsync.display());
        for plugin in plugins {
            let library = match std::env::var_os(plugin.env) {
                Some(path) => PathBuf::from(path),
                None => measure::plugin_library(&toolsync, plugin.library, plugin.package)?,
            };
            std::fs::copy(
                &library,
                folder.join(library.file_name().unwrap_or_default()),
            )
            .map_err(|e| format!("cannot copy {}: {e}", library.display()))?;
            eprintln!("plugin:   {}", library.display());
        }
        Ok(Bench {
            toolsync,
            plugins: folder,
            work: work.to_path_buf(),
        })
    }

    /// `toolsync -q --data-dir DATA --plugin-dir <the bench's plugins>`.
    pub fn toolsync(&self, data: &Path) -> Command {
        measure::toolsync_command(&self.toolsync, &self.plugins, data)
    }

    /// The data folder of a measured run, named after its label, removed if it was there.
    pub fn fresh_data(&self, label: &str) -> PathBuf {
        let data = self.work.join(label.replace([' ', '#'], ""));
        let _ = std::fs::remove_dir_all(&data);
        data
    }

    /// `toolsync run PROCESSOR FILE` on `data`, unmeasured (a setup step); it must exit 0.
    pub fn setup_run(&self, data: &Path, processor: &str, file: &Path) -> Result<(), String> {
        let status = self
            .toolsync(data)
            .arg("run")
            .arg(processor)
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .map_err(|e| format!("cannot start toolsync: {e}"))?;
        if !status.success() {
            return Err(format!(
                "setup: `toolsync run {processor}` failed: {status}"
            ));
        }
        Ok(())
    }

    /// `work/template`: a data folder whose store is new, as toolsync seeds it (its meta data,
    /// the standard roles), made by running `processor` on a file of `header` alone. Measured
    /// runs start from copies of it, the baseline's too: toolsync reads no store without its
    /// meta data (a store whose version record is missing is damaged).
    pub fn seeded_template(&self, processor: &str, header: &str) -> Result<PathBuf, String> {
        let template = self.work.join("template");
        self.seed(&template, processor, header)?;
        Ok(template)
    }

    /// Seeds the store of the data folder `data` (whose `toolsync.toml` may name its engine)
    /// as [`Bench::seeded_template`] does.
    pub fn seed(&self, data: &Path, processor: &str, header: &str) -> Result<(), String> {
        let file = self.work.join("header-only.csv");
        std::fs::write(&file, format!("{header}\n"))
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        self.setup_run(data, processor, &file)
    }

    /// A copy of `template` named after a measured run's label, ready for the run.
    pub fn copied_data(&self, template: &Path, label: &str) -> Result<PathBuf, String> {
        let data = self.fresh_data(label);
        copy_tree(template, &data)?;
        Ok(data)
    }

    /// `toolsync run ARGS...` on `data`, measured; it must exit 0.
    pub fn run_toolsync<S: AsRef<OsStr>>(
        &self,
        label: &str,
        rows: u64,
        data: &Path,
        args: &[S],
    ) -> Result<Measure, String> {
        eprint!("{label}: ");
        let started = Instant::now();
        let child = self
            .toolsync(data)
            .arg("run")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start toolsync: {e}"))?;
        let waited = wait_measured(child, started)?;
        if waited.code != 0 {
            let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
            return Err(format!(
                "`toolsync run {}` exited {}: every row should succeed",
                shown.join(" "),
                waited.code
            ));
        }
        Ok(Measure::taken(label, rows, waited, data))
    }

    /// This bench binary in its hidden `--baseline ARGS...` mode, measured; it must exit 0.
    /// Returns what it printed too.
    pub fn run_baseline<S: AsRef<OsStr>>(
        &self,
        label: &str,
        rows: u64,
        data: &Path,
        args: &[S],
    ) -> Result<(Measure, String), String> {
        eprint!("{label}: ");
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find the bench binary: {e}"))?;
        let started = Instant::now();
        let mut child = Command::new(exe)
            .arg("--baseline")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the baseline: {e}"))?;
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        let waited = wait_measured(child, started)?;
        if waited.code != 0 {
            return Err(format!("the baseline exited {}", waited.code));
        }
        Ok((Measure::taken(label, rows, waited, data), out))
    }

    /// Every line `toolsync export ENTITY --format FORMAT` prints, streamed to `visit`; fails
    /// when the export does.
    fn each_export_line(
        &self,
        data: &Path,
        entity: &str,
        format: &str,
        mut visit: impl FnMut(String) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut child = self
            .toolsync(data)
            .args(["export", entity, "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start toolsync export: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        for line in BufReader::with_capacity(1 << 20, stdout).lines() {
            visit(line.map_err(|e| format!("cannot read the export: {e}"))?)?;
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("`toolsync export {entity}` failed: {status}"));
        }
        Ok(())
    }

    /// `toolsync export ENTITY --format csv`, fed into `hasher` field by field (the columns
    /// named in `skip` left out: what differs from run to run, such as a start date); returns
    /// the number of records. The values must hold no line break (one line, one record).
    pub fn digest_export(
        &self,
        data: &Path,
        entity: &str,
        skip: &[&str],
        hasher: &mut DefaultHasher,
    ) -> Result<u64, String> {
        let mut skipped: Option<Vec<bool>> = None;
        let mut count = 0;
        self.each_export_line(data, entity, "csv", |line| {
            // A leading `#` line is the export's note on how to read it back (group names for
            // groups without idnumber...): not a record.
            if skipped.is_none() && line.starts_with('#') {
                return Ok(());
            }
            let Some(skipped) = &skipped else {
                skipped = Some(
                    split_fields(&line)
                        .iter()
                        .map(|h| skip.contains(&h.as_str()))
                        .collect(),
                );
                hasher.write(line.as_bytes());
                return Ok(());
            };
            for (n, field) in split_fields(&line).iter().enumerate() {
                if !skipped.get(n).copied().unwrap_or(false) {
                    hasher.write(field.as_bytes());
                    hasher.write_u8(0);
                }
            }
            hasher.write_u8(b'\n');
            count += 1;
            Ok(())
        })?;
        if skipped.is_none() {
            return Err(format!("`export {entity}` printed nothing"));
        }
        Ok(count)
    }

    /// `toolsync export ENTITY --format json`, one record a line, fed into `hasher` record by
    /// record without the fields named in `skip`; returns the number of records.
    pub fn digest_json_export(
        &self,
        data: &Path,
        entity: &str,
        skip: &[&str],
        hasher: &mut DefaultHasher,
    ) -> Result<u64, String> {
        let mut count = 0;
        self.each_export_line(data, entity, "json", |line| {
            let record = line
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim_end_matches(',');
            if record.is_empty() {
                return Ok(());
            }
            let mut fields: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(record)
                    .map_err(|e| format!("`export {entity}`: not a record a line ({e})"))?;
            for field in skip {
                fields.remove(*field);
            }
            hasher.write(serde_json::Value::Object(fields).to_string().as_bytes());
            hasher.write_u8(b'\n');
            count += 1;
            Ok(())
        })?;
        Ok(count)
    }

    /// `toolsync export users --format json`, its records counted as they stream. Never read
    /// whole into this process: a child's `ru_maxrss` starts from the resident memory its
    /// forked copy of this process had before the exec, so a 1M-row export held here (~175
    /// MiB, kept resident by the allocator) became the floor of every measured run after it
    /// (seen: three runs at exactly 174.5 MiB).
    pub fn exported_users(&self, data: &Path) -> Result<u64, String> {
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

    /// `toolsync check --json`: the store must be consistent (every index entry matches its
    /// record, both ways); returns the entries checked per keyspace.
    pub fn check(&self, data: &Path) -> Result<BTreeMap<String, u64>, String> {
        let output = self
            .toolsync(data)
            .args(["check", "--json"])
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot start toolsync check: {e}"))?;
        let verdict: serde_json::Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("`toolsync check --json` did not print JSON ({e})"))?;
        if !output.status.success() || verdict["clean"] != true {
            let shown = verdict["problems"]
                .as_array()
                .map_or(String::new(), |list| {
                    list.iter()
                        .take(5)
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                });
            return Err(format!(
                "`toolsync check` found the store inconsistent ({}): {shown}",
                output.status
            ));
        }
        Ok(verdict["checked"]
            .as_object()
            .map(|spaces| {
                spaces
                    .iter()
                    .map(|(space, n)| (space.clone(), n.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Runs `pairs` pairs — toolsync then the baseline, labelled `<side> <size> #<pair>` — since
/// the machine drifts between runs; returns what each run gave, in run order.
pub fn alternate<T>(
    pairs: usize,
    rows: u64,
    mut run: impl FnMut(Side, &str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let name = size_name(rows);
    let mut done = Vec::new();
    for pair in 1..=pairs {
        for side in [Side::Toolsync, Side::Baseline] {
            done.push(run(side, &format!("{} {name} #{pair}", side.word()))?);
        }
    }
    Ok(done)
}

/// Fails unless every run's `content` equals the first's (label, content pairs).
pub fn same_content<T: PartialEq + std::fmt::Debug>(
    contents: &[(String, T)],
) -> Result<(), String> {
    let Some((first_label, first)) = contents.first() else {
        return Ok(());
    };
    for (label, content) in &contents[1..] {
        if content != first {
            return Err(format!(
                "the stores differ: {first_label} holds {first:?}, {label} holds {content:?}"
            ));
        }
    }
    Ok(())
}

/// The measures of one side (by label).
pub fn of(measures: &[Measure], side: Side) -> Vec<&Measure> {
    measures
        .iter()
        .filter(|m| m.label.starts_with(side.word()))
        .collect()
}

/// The best rows/s of a side.
pub fn best_rate(measures: &[Measure], side: Side) -> f64 {
    of(measures, side)
        .iter()
        .map(|m| m.rate())
        .fold(0.0, f64::max)
}

/// The highest peak RSS of a side (KiB).
pub fn peak(measures: &[Measure], side: Side) -> u64 {
    of(measures, side)
        .iter()
        .map(|m| m.peak_rss_kib)
        .max()
        .unwrap_or(0)
}

/// `f(toolsync, baseline)` for each pair, as `0.91, 0.83`.
pub fn per_pair(measures: &[Measure], f: impl Fn(&Measure, &Measure) -> f64) -> String {
    of(measures, Side::Toolsync)
        .iter()
        .zip(of(measures, Side::Baseline))
        .map(|(t, b)| format!("{:.2}", f(t, b)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `1M: best toolsync … rows/s, best baseline … rows/s, ratio … (per pair: …)`, with the
/// throughput target's verdict when there is one; returns the line and the ratio.
/// The results of a bench measured at two sizes: the table, the throughput line of each size
/// (the large one against the 0.8 target), and each side's memory growth from the small size
/// to the large one (toolsync's against `growth_target`).
pub fn print_two_sizes(
    (rows, big): (u64, &[Measure]),
    (small_rows, small): (u64, &[Measure]),
    growth_target: f64,
) {
    measure::print_table(big.iter().chain(small));
    println!();
    println!("{}", throughput_line(rows, big, Some(0.8)).0);
    println!("{}", throughput_line(small_rows, small, None).0);
    for (side, target) in [
        (Side::Toolsync, Some(growth_target)),
        (Side::Baseline, None),
    ] {
        println!(
            "{}",
            growth_line(side, (small_rows, small), (rows, big), target).0
        );
    }
}

pub fn throughput_line(rows: u64, measures: &[Measure], target: Option<f64>) -> (String, f64) {
    let (t, b) = (
        best_rate(measures, Side::Toolsync),
        best_rate(measures, Side::Baseline),
    );
    let ratio = t / b;
    let mut line = format!(
        "{}: best toolsync {:.0} rows/s, best baseline {:.0} rows/s, ratio {:.2} (per pair: {})",
        size_name(rows),
        t,
        b,
        ratio,
        per_pair(measures, |t, b| t.rate() / b.rate())
    );
    if let Some(target) = target {
        line.push_str(&format!(
            "; target >= {target:.2}: {}",
            measure::verdict(ratio >= target)
        ));
    }
    (line, ratio)
}

/// `peak RSS <side>: 100k … (max), 1M … (max), ratio …`, with the growth target's verdict when
/// there is one; returns the line and the growth.
pub fn growth_line(
    side: Side,
    (small_rows, small): (u64, &[Measure]),
    (rows, big): (u64, &[Measure]),
    target: Option<f64>,
) -> (String, f64) {
    let (p_small, p_big) = (peak(small, side), peak(big, side));
    let growth = p_big as f64 / p_small.max(1) as f64;
    let mut line = format!(
        "peak RSS {}: {} {} (max), {} {} (max), ratio {:.2}",
        side.word(),
        size_name(small_rows),
        measure::kib(p_small),
        size_name(rows),
        measure::kib(p_big),
        growth
    );
    if let Some(target) = target {
        line.push_str(&format!(
            "; target <= {target:.2}: {}",
            measure::verdict(growth <= target)
        ));
    }
    (line, growth)
}

/// The fields of one CSV line with `;` and RFC 4180 quotes, unquoted.
pub fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let field = fields.last_mut().expect("never empty");
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' => quoted = !quoted,
            ';' if !quoted => fields.push(String::new()),
            c => field.push(c),
        }
    }
    fields
}

/// Copies a folder and everything in it (`cp -r`): a data folder set up once, copied for every
/// measured run.
pub fn copy_tree(from: &Path, to: &Path) -> Result<u64, String> {
    let fail = |path: &Path, e: std::io::Error| format!("cannot copy {}: {e}", path.display());
    std::fs::create_dir_all(to).map_err(|e| fail(to, e))?;
    let mut copied = 0;
    for entry in std::fs::read_dir(from).map_err(|e| fail(from, e))? {
        let entry = entry.map_err(|e| fail(from, e))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().map_err(|e| fail(&source, e))?.is_dir() {
            copied += copy_tree(&source, &target)?;
        } else {
            copied += std::fs::copy(&source, &target).map_err(|e| fail(&source, e))?;
        }
    }
    Ok(copied)
}
