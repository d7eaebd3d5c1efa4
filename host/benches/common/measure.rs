//! What the benches share: one measured child process (wall time, CPU time and peak RSS from
//! `wait4`, store size on disk), finding the plugin library cargo built, the results table,
//! number formats. Included by `users.rs`, `courses.rs`, `enrolments.rs` and `kill_trials.rs`
//! with `#[path]`; not a bench target of its own (cargo only discovers `benches/*.rs` and
//! `benches/*/main.rs`). `harness.rs` builds on it.
#![allow(dead_code)] // each bench uses a part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// One measured child process.
pub struct Measure {
    pub label: String,
    pub rows: u64,
    pub seconds: f64,
    /// User and system CPU time of the process, all its threads: what the machine's other load
    /// changes less than the wall time.
    pub cpu_seconds: f64,
    pub peak_rss_kib: u64,
    pub store_bytes: u64,
}

impl Measure {
    /// A finished run's figures (the store's size read now), echoed on stderr.
    pub fn taken(label: &str, rows: u64, waited: Waited, data: &Path) -> Measure {
        let measure = Measure {
            label: label.to_string(),
            rows,
            seconds: waited.seconds,
            cpu_seconds: waited.cpu_seconds,
            peak_rss_kib: waited.peak_rss_kib,
            store_bytes: disk_usage(&data.join("store")),
        };
        eprintln!(
            "{:.2} s ({:.2} s CPU), {:.0} rows/s, peak RSS {}",
            measure.seconds,
            measure.cpu_seconds,
            measure.rate(),
            kib(measure.peak_rss_kib)
        );
        measure
    }

    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.seconds
    }
}

/// `toolsync -q --data-dir DATA --plugin-dir PLUGINS`, with the environment that would change
/// its behaviour removed and stdin closed.
pub fn toolsync_command(toolsync: &Path, plugins: &Path, data: &Path) -> Command {
    let mut cmd = Command::new(toolsync);
    cmd.arg("-q")
        .arg("--data-dir")
        .arg(data)
        .arg("--plugin-dir")
        .arg(plugins)
        .env_remove("TOOLSYNC_DATA")
        .env_remove("TOOLSYNC_PLUGIN_PATH")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

/// What `wait4` tells of a finished child.
#[derive(Debug, Clone, Copy)]
pub struct Waited {
    /// The exit code, or minus the signal that ended it.
    pub code: i32,
    /// Wall time since it was started.
    pub seconds: f64,
    /// User plus system time, all threads.
    pub cpu_seconds: f64,
    pub peak_rss_kib: u64,
}

/// Waits for a child with `wait4`: exit code, seconds since `started`, CPU time, peak RSS.
pub fn wait_measured(child: Child, started: Instant) -> Result<Waited, String> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child, which `child` does not
    // reap (std only waits on an explicit wait call).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4: {error}"));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    let time = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Waited {
        code,
        seconds,
        cpu_seconds: time(usage.ru_utime) + time(usage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        peak_rss_kib: usage.ru_maxrss as u64,
    })
}

/// The plugin library `library` (e.g. `toolsync_users`) cargo built for this profile (a
/// dev-dependency), beside the toolsync binary or in its `deps/`; failing that, `cargo build
/// --release -p <package>` into the same target folder.
pub fn plugin_library(toolsync: &Path, library: &str, package: &str) -> Result<PathBuf, String> {
    let file = format!(
        "{}{library}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let dir = toolsync
        .parent()
        .ok_or("the toolsync binary has no folder")?;
    // `deps/` first: cargo rebuilds the dev-dependency there on every bench build, while the
    // copy beside the binary is only refreshed by an explicit `cargo build` and may be stale.
    let find = || {
        [dir.join("deps").join(&file), dir.join(&file)]
            .into_iter()
            .find(|p| p.exists())
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    let target = dir
        .parent()
        .ok_or("the toolsync binary is not in a target folder")?;
    eprintln!(
        "{file} not found beside {}: building it",
        toolsync.display()
    );
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "-p", package])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build -p {package} failed: {status}"));
    }
    find().ok_or(format!("{file} is still missing after the build"))
}

/// The results table, one line per measured run.
pub fn print_table<'a>(measures: impl IntoIterator<Item = &'a Measure>) {
    println!(
        "| {:<17} | {:>9} | {:>8} | {:>8} | {:>9} | {:>11} | {:>13} |",
        "run", "rows", "seconds", "CPU s", "rows/s", "peak RSS", "store on disk"
    );
    println!(
        "|{:-<19}|{:->11}|{:->10}|{:->10}|{:->11}|{:->13}|{:->15}|",
        "", "", "", "", "", "", ""
    );
    for m in measures {
        println!(
            "| {:<17} | {:>9} | {:>8.2} | {:>8.2} | {:>9.0} | {:>11} | {:>13} |",
            m.label,
            m.rows,
            m.seconds,
            m.cpu_seconds,
            m.rate(),
            kib(m.peak_rss_kib),
            bytes(m.store_bytes)
        );
    }
}

/// A count from the environment variable `name`, else `default`.
pub fn env_count(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(v) => parse_count(&v),
        Err(_) => Ok(default),
    }
}

pub fn parse_count(text: &str) -> Result<u64, String> {
    text.replace(['_', ','], "")
        .parse()
        .map_err(|_| format!("`{text}` is not a row count"))
}

pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

pub fn size_name(rows: u64) -> String {
    match rows {
        r if r >= 1_000_000 && r % 1_000_000 == 0 => format!("{}M", r / 1_000_000),
        r if r >= 1_000 && r % 1_000 == 0 => format!("{}k", r / 1_000),
        r => r.to_string(),
    }
}

pub fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Space used on disk under `dir` (allocated blocks, as `du` counts).
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => disk_usage(&entry.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

pub fn kib(value: u64) -> String {
    format!("{:.1} MiB", value as f64 / 1024.0)
}

pub fn bytes(value: u64) -> String {
    format!("{:.1} MB", value as f64 / 1e6)
}
