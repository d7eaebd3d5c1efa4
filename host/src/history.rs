//! The run history: the stored reports of `files/reports/`, read back as a list of runs, and
//! pruned with the archives of the same runs.
//!
//! A run's id is its reports' name without `.report.json`: `<stamp>_<input name>`, unique
//! (formats.md §4.4), sortable by time, and the name of the run's archive in `archives/` when
//! it has one. The JSON report is the record read: only its summary keys are kept.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data_dir::DataDir;

const JSON_SUFFIX: &str = ".report.json";
const TEXT_SUFFIX: &str = ".report.txt";

/// One past run, as its stored JSON report says.
#[derive(Debug, Clone, Serialize)]
pub struct PastRun {
    pub id: String,
    pub processor: String,
    pub file: String,
    pub started_at: String,
    pub finished_at: String,
    /// Seconds from start to finish.
    pub duration: i64,
    pub rows_total: u64,
    pub rows_ok: u64,
    pub rows_failed: u64,
    pub rows_skipped: u64,
    /// `ok`, `failed rows`, `stopped`, `refused`, `rolled back` or `dry run`.
    pub outcome: &'static str,
    /// The exit code the run had.
    pub exit_code: u8,
    #[serde(skip)]
    started: i64,
    /// When its JSON report was written.
    #[serde(skip)]
    written: std::time::Duration,
}

/// The keys of a JSON report the history reads; the rest of it is skipped.
#[derive(Deserialize)]
struct Head {
    processor: String,
    file: String,
    started_at: String,
    finished_at: String,
    dry_run: bool,
    committed: bool,
    rows_total: u64,
    rows_ok: u64,
    rows_failed: u64,
    rows_skipped: u64,
    refused: Option<String>,
    stopped: Option<String>,
    warnings: Vec<Warning>,
}

#[derive(Deserialize)]
struct Warning {
    line: Option<u64>,
    message: String,
}

impl PastRun {
    fn from_head(id: String, head: Head) -> PastRun {
        let instant = |text: &str| crate::clock::parse_rfc3339(text).unwrap_or(0);
        let started = instant(&head.started_at);
        // Only an `--atomic` run is rolled back (its report says so); a read-only processor
        // (course-check) never commits, and is not rolled back.
        let rolled_back = head
            .warnings
            .iter()
            .any(|w| w.line.is_none() && w.message.starts_with("--atomic"));
        let (outcome, exit_code) = outcome(
            head.refused.is_some(),
            head.stopped.is_some(),
            head.dry_run,
            head.committed || !rolled_back,
            head.rows_failed,
        );
        PastRun {
            id,
            duration: instant(&head.finished_at) - started,
            processor: head.processor,
            file: head.file,
            started_at: head.started_at,
            finished_at: head.finished_at,
            rows_total: head.rows_total,
            rows_ok: head.rows_ok,
            rows_failed: head.rows_failed,
            rows_skipped: head.rows_skipped,
            outcome,
            exit_code,
            started,
            written: std::time::Duration::ZERO,
        }
    }

    /// When the run started, Unix seconds.
    pub fn started(&self) -> i64 {
        self.started
    }
}

/// A run's outcome word and exit code, from its report: `committed` is false for a run rolled
/// back (`--atomic`), true otherwise.
pub fn outcome(
    refused: bool,
    stopped: bool,
    dry_run: bool,
    committed: bool,
    rows_failed: u64,
) -> (&'static str, u8) {
    if refused {
        ("refused", 3)
    } else if stopped {
        ("stopped", 1)
    } else if dry_run {
        ("dry run", u8::from(rows_failed > 0))
    } else if !committed {
        ("rolled back", 1)
    } else if rows_failed > 0 {
        ("failed rows", 1)
    } else {
        ("ok", 0)
    }
}

/// Every run whose JSON report is stored, oldest first. A report that cannot be read is
/// skipped with a warning in the log, not an error: the history of the others stands.
pub fn past_runs(data: &DataDir) -> std::io::Result<Vec<PastRun>> {
    let dir = data.reports();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut runs = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(JSON_SUFFIX) else {
            continue;
        };
        let read = std::fs::File::open(entry.path()).and_then(|file| {
            serde_json::from_reader::<_, Head>(std::io::BufReader::new(file))
                .map_err(std::io::Error::other)
        });
        let written = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default();
        match read {
            Ok(head) => {
                let mut run = PastRun::from_head(id.to_string(), head);
                run.written = written;
                runs.push(run)
            }
            Err(e) => tracing::warn!(report = %entry.path().display(), "not a report: {e}"),
        }
    }
    // Runs of one second: in the order their reports were written.
    runs.sort_by_key(|run| {
        (
            run.started,
            same_second_rank(&run.id),
            run.written,
            run.id.clone(),
        )
    });
    Ok(runs)
}

/// The stored text report of run `id`.
pub fn text_report(data: &DataDir, id: &str) -> Option<PathBuf> {
    let id = id
        .strip_suffix(TEXT_SUFFIX)
        .or_else(|| id.strip_suffix(JSON_SUFFIX))
        .unwrap_or(id);
    if id.contains('/') || id.starts_with('.') {
        return None;
    }
    let path = data.reports().join(format!("{id}{TEXT_SUFFIX}"));
    path.is_file().then_some(path)
}

/// The stored JSON report of run `id`.
pub fn json_report(data: &DataDir, id: &str) -> Option<PathBuf> {
    let text = text_report(data, id)?;
    let name = text
        .file_name()?
        .to_string_lossy()
        .replace(TEXT_SUFFIX, JSON_SUFFIX);
    let path = text.with_file_name(name);
    path.is_file().then_some(path)
}

/// What a prune removed.
#[derive(Debug, Default, Serialize)]
pub struct Pruned {
    /// Ids of the runs whose reports were removed.
    pub runs: Vec<String>,
    /// Archive files removed (names in `archives/`).
    pub archives: Vec<String>,
    /// Bytes freed.
    pub bytes: u64,
    /// Runs whose undo log was removed with their reports (`toolsync revert` can no longer
    /// revert them).
    pub undo_logs: Vec<String>,
}

/// Which runs a prune removes.
#[derive(Debug, Clone, Copy)]
pub enum Keep {
    /// The `n` most recent runs of each processor.
    Last(usize),
    /// The runs started at or after this instant.
    Since(i64),
}

/// Removes the reports of the runs `keep` does not keep, and their archives; with
/// [`Keep::Since`], archives older than the instant too (an archive whose report is gone).
pub fn prune(data: &DataDir, keep: Keep, dry_run: bool) -> std::io::Result<Pruned> {
    let runs = past_runs(data)?;
    let mut doomed: Vec<&PastRun> = Vec::new();
    match keep {
        Keep::Last(n) => {
            let mut processors: Vec<&str> = runs.iter().map(|r| r.processor.as_str()).collect();
            processors.sort_unstable();
            processors.dedup();
            for processor in processors {
                let of: Vec<&PastRun> = runs.iter().filter(|r| r.processor == processor).collect();
                doomed.extend(&of[..of.len().saturating_sub(n)]);
            }
        }
        Keep::Since(cutoff) => doomed.extend(runs.iter().filter(|r| r.started < cutoff)),
    }
    let mut pruned = Pruned::default();
    let remove = |path: &Path, pruned: &mut Pruned| -> std::io::Result<bool> {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return Ok(false);
        };
        if !dry_run {
            std::fs::remove_file(path)?;
        }
        pruned.bytes += meta.len();
        Ok(true)
    };
    for run in doomed {
        for suffix in [TEXT_SUFFIX, JSON_SUFFIX] {
            remove(
                &data.reports().join(format!("{}{suffix}", run.id)),
                &mut pruned,
            )?;
        }
        pruned.runs.push(run.id.clone());
        if remove(&data.archives().join(&run.id), &mut pruned)? {
            pruned.archives.push(run.id.clone());
        }
    }
    if let Keep::Since(cutoff) = keep {
        if let Ok(entries) = std::fs::read_dir(data.archives()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let old = name
                    .get(..15)
                    .and_then(crate::clock::parse_stamp)
                    .is_some_and(|at| at < cutoff);
                // An archive whose run's report is kept stays with it.
                let reported = data.reports().join(format!("{name}{JSON_SUFFIX}")).exists()
                    || data.reports().join(format!("{name}{TEXT_SUFFIX}")).exists();
                if old
                    && !reported
                    && !pruned.archives.contains(&name)
                    && remove(&entry.path(), &mut pruned)?
                {
                    pruned.archives.push(name);
                }
            }
        }
    }
    if !dry_run {
        crate::area::sync_dir(&data.reports());
        crate::area::sync_dir(&data.archives());
    }
    Ok(pruned)
}

/// Runs of the same second are named `<stamp>_…`, `<stamp>-2_…`, `<stamp>-3_…` in the order
/// they ran: that number.
fn same_second_rank(id: &str) -> u32 {
    id.get(15..)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|rest| rest.split('_').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}
