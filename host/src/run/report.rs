//! The text and JSON reports of formats.md §4.1–4.2, assembled from the run's summary and its
//! spool files (streamed: a million-row report never sits in memory).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Value};
use toolsync_plugin_api::OutcomeKind;

use super::spool;
use super::tally::Tally;
use crate::clock;
use crate::error::Error;
use crate::escape::Escaping;

/// Everything the reports say that is not per row.
#[derive(Debug, Clone)]
pub struct Summary {
    pub processor: String,
    pub file: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub dry_run: bool,
    pub committed: bool,
    /// `utf-8`, `windows-1252`; None when the file was refused before it was read.
    pub encoding: Option<String>,
    /// How the encoding was chosen (`detected; BOM removed`).
    pub encoding_note: String,
    pub delimiter: Option<String>,
    pub delimiter_note: String,
    pub tally: Tally,
    pub comments: u64,
    /// File-level warnings (unknown columns ignored, a resumed run...).
    pub warnings: Vec<String>,
    pub refused: Option<String>,
    pub stopped: Option<String>,
    pub tryback: Option<PathBuf>,
    pub details: Value,
    pub report_lines: Vec<String>,
    /// Where the full text report is stored (`store_report`), for the short form to point at.
    pub stored: Option<PathBuf>,
}

impl Summary {
    pub fn new(processor: &str, file: &str, started_at: i64, dry_run: bool) -> Self {
        Summary {
            processor: processor.to_string(),
            file: file.to_string(),
            started_at,
            finished_at: started_at,
            dry_run,
            committed: false,
            encoding: None,
            encoding_note: String::new(),
            delimiter: None,
            delimiter_note: String::new(),
            tally: Tally::default(),
            comments: 0,
            warnings: Vec::new(),
            refused: None,
            stopped: None,
            tryback: None,
            details: json!({}),
            report_lines: Vec::new(),
            stored: None,
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn with_note(value: &Option<String>, note: &str) -> String {
    match value {
        None => "none".to_string(),
        Some(v) if note.is_empty() => v.clone(),
        Some(v) => format!("{v} ({note})"),
    }
}

/// Which rows a report lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Every row: the stored reports, and stdout with `--report full`.
    Full,
    /// The failed rows only: stdout by default (a 200,000-row run does not print 200,000
    /// lines; the stored report has them).
    Failures,
}

/// One row of the report, as the spool keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RowLine {
    pub line: u64,
    pub outcome: String,
    pub subject: String,
    pub message: String,
}

impl RowLine {
    /// `line <n>: <outcome>[: <subject>][: <message>]`, on one line.
    fn text(&self) -> String {
        let mut text = format!("line {}: {}", self.line, self.outcome);
        for part in [&self.subject, &self.message] {
            if !part.is_empty() {
                text.push_str(": ");
                text.push_str(&one_line(part));
            }
        }
        text
    }
}

/// A failed row in the report's `errors`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorLine {
    pub line: u64,
    pub reason: String,
}

/// A warning: of a row, or of the file (`line` null).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarningLine {
    pub line: Option<u64>,
    pub message: String,
}

/// Report lines are one line each: a multi-line message is folded.
fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\n', '\r']) {
        text.replace("\r\n", " ").replace(['\n', '\r'], " ").into()
    } else {
        text.into()
    }
}

/// The records of a spool file (JSON lines), read lazily; a missing file holds none.
fn spooled<T: DeserializeOwned>(
    path: Option<PathBuf>,
) -> std::io::Result<impl Iterator<Item = std::io::Result<T>>> {
    let lines = match path.map(File::open) {
        None => None,
        Some(Ok(file)) => Some(BufReader::new(file).lines()),
        Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
        Some(Err(e)) => return Err(e),
    };
    Ok(lines.into_iter().flatten().filter_map(|line| match line {
        Ok(l) if l.is_empty() => None,
        Ok(l) => Some(serde_json::from_str(&l).map_err(std::io::Error::other)),
        Err(e) => Some(Err(e)),
    }))
}

/// Writes the text report (formats.md §4.1). `spool_dir` is None for a file refused before
/// any row. Every line is one line ([`one_line`]), and every control character that a file
/// put into it (a header name, a cell in a reason) is escaped ([`Escaping`]): the report is
/// printed on terminals.
pub fn write_text(
    summary: &Summary,
    spool_dir: Option<&Path>,
    level: Level,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let out = &mut Escaping::new(out);
    let s = summary;
    writeln!(out, "processor: {}", s.processor)?;
    writeln!(out, "file: {}", one_line(&s.file))?;
    writeln!(out, "started: {}", clock::rfc3339(s.started_at))?;
    writeln!(out, "finished: {}", clock::rfc3339(s.finished_at))?;
    writeln!(out, "dry run: {}", yes_no(s.dry_run))?;
    writeln!(out, "committed: {}", yes_no(s.committed))?;
    writeln!(
        out,
        "encoding: {}",
        with_note(&s.encoding, &s.encoding_note)
    )?;
    writeln!(
        out,
        "delimiter: {}",
        with_note(&s.delimiter, &s.delimiter_note)
    )?;
    let t = &s.tally;
    writeln!(
        out,
        "rows: {} (ok {}, failed {}, skipped {})",
        t.total(),
        t.ok(),
        t.failed(),
        t.skipped()
    )?;
    writeln!(out, "comments: {}", s.comments)?;
    for kind in OutcomeKind::ALL {
        writeln!(out, "{kind}: {}", t.get(kind))?;
    }
    match &s.tryback {
        Some(p) => writeln!(out, "tryback: {}", p.display())?,
        None => writeln!(out, "tryback: none")?,
    }
    if let Some(reason) = &s.refused {
        writeln!(out, "refused: {}", one_line(reason))?;
        writeln!(out, "end of report")?;
        return out.flush();
    }
    if let Some(reason) = &s.stopped {
        writeln!(out, "stopped: {}", one_line(reason))?;
    }
    for warning in &s.warnings {
        writeln!(out, "warning: {}", one_line(warning))?;
    }
    let part = |name: &str| spool_dir.map(|dir| dir.join(name));
    for warning in spooled::<WarningLine>(part(spool::WARNINGS))? {
        let warning = warning?;
        let message = one_line(&warning.message);
        match warning.line {
            Some(line) => writeln!(out, "warning: line {line}: {message}")?,
            None => writeln!(out, "warning: {message}")?,
        }
    }
    let mut hidden = 0u64;
    for row in spooled::<RowLine>(part(spool::ROWS))? {
        let row = row?;
        if level == Level::Full || row.outcome == OutcomeKind::Failed.as_str() {
            writeln!(out, "{}", row.text())?;
        } else {
            hidden += 1;
        }
    }
    for line in &s.report_lines {
        writeln!(out, "{}", one_line(line))?;
    }
    if hidden > 0 {
        let (rows, them) = match hidden {
            1 => ("1 row that did not fail is".to_string(), "it"),
            n => (format!("{n} rows that did not fail are"), "them"),
        };
        let stored = match &s.stored {
            Some(path) => format!("the stored report {} lists {them}", path.display()),
            None => format!("`--report full` prints {them}"),
        };
        writeln!(out, "({rows} not shown: {stored})")?;
    }
    writeln!(out, "end of report")?;
    out.flush()
}

/// The JSON report (formats.md §4.2), as serde writes it: every key always present, in the
/// order of the table; the arrays that grow with the file are streamed from the spool.
#[derive(Serialize)]
struct JsonReport<'a> {
    processor: &'a str,
    file: &'a str,
    started_at: String,
    finished_at: String,
    dry_run: bool,
    committed: bool,
    encoding: Option<&'a str>,
    delimiter: Option<&'a str>,
    rows_total: u64,
    rows_ok: u64,
    rows_failed: u64,
    rows_skipped: u64,
    comments: u64,
    counts: BTreeMap<&'static str, u64>,
    errors: Streamed<ErrorLine>,
    warnings: Warnings<'a>,
    /// Every row (or the failed ones), with its outcome, subject and message.
    rows: Streamed<RowLine>,
    refused: Option<&'a str>,
    stopped: Option<&'a str>,
    tryback: Option<String>,
    details: &'a Value,
}

/// A JSON array read from a spool file as it is written out.
struct Streamed<T> {
    path: Option<PathBuf>,
    keep: fn(&T) -> bool,
}

impl<T: Serialize + DeserializeOwned> Serialize for Streamed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        let items = spooled::<T>(self.path.clone()).map_err(serde::ser::Error::custom)?;
        for item in items {
            let item = item.map_err(serde::ser::Error::custom)?;
            if (self.keep)(&item) {
                seq.serialize_element(&item)?;
            }
        }
        seq.end()
    }
}

/// The file-level warnings, then the rows' (from the spool).
struct Warnings<'a> {
    file: &'a [String],
    rows: Streamed<WarningLine>,
}

impl Serialize for Warnings<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for message in self.file {
            seq.serialize_element(&WarningLine {
                line: None,
                message: message.clone(),
            })?;
        }
        let items =
            spooled::<WarningLine>(self.rows.path.clone()).map_err(serde::ser::Error::custom)?;
        for item in items {
            seq.serialize_element(&item.map_err(serde::ser::Error::custom)?)?;
        }
        seq.end()
    }
}

/// Writes the JSON report.
pub fn write_json(
    summary: &Summary,
    spool_dir: Option<&Path>,
    level: Level,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let s = summary;
    let t = &s.tally;
    let part = |name: &str| spool_dir.map(|dir| dir.join(name));
    let report = JsonReport {
        processor: &s.processor,
        file: &s.file,
        started_at: clock::rfc3339(s.started_at),
        finished_at: clock::rfc3339(s.finished_at),
        dry_run: s.dry_run,
        committed: s.committed,
        encoding: s.encoding.as_deref(),
        delimiter: s.delimiter.as_deref(),
        rows_total: t.total(),
        rows_ok: t.ok(),
        rows_failed: t.failed(),
        rows_skipped: t.skipped(),
        comments: s.comments,
        counts: OutcomeKind::ALL
            .iter()
            .map(|k| (k.as_str(), t.get(*k)))
            .collect(),
        errors: Streamed {
            path: part(spool::ERRORS),
            keep: |_| true,
        },
        warnings: Warnings {
            file: &s.warnings,
            rows: Streamed {
                path: part(spool::WARNINGS),
                keep: |_| true,
            },
        },
        rows: Streamed {
            path: part(spool::ROWS),
            keep: match level {
                Level::Full => |_| true,
                Level::Failures => |row: &RowLine| row.outcome == OutcomeKind::Failed.as_str(),
            },
        },
        refused: s.refused.as_deref(),
        stopped: s.stopped.as_deref(),
        tryback: s.tryback.as_ref().map(|p| p.display().to_string()),
        details: &s.details,
    };
    serde_json::to_writer(&mut *out, &report).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

/// Renders both full reports into `dir` (`report.txt`, `report.json`) and returns their paths.
pub fn render(
    summary: &Summary,
    spool_dir: Option<&Path>,
    dir: &Path,
) -> Result<(PathBuf, PathBuf), Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::output(format!("cannot create {}", dir.display()), e))?;
    let txt = dir.join("report.txt");
    let jsn = dir.join("report.json");
    let write = |path: &Path, json: bool| -> std::io::Result<()> {
        let mut out = BufWriter::new(private_file(path)?);
        if json {
            write_json(summary, spool_dir, Level::Full, &mut out)?;
        } else {
            write_text(summary, spool_dir, Level::Full, &mut out)?;
        }
        out.flush()
    };
    write(&txt, false).map_err(|e| Error::output("cannot write the text report", e))?;
    write(&jsn, true).map_err(|e| Error::output("cannot write the JSON report", e))?;
    Ok((txt, jsn))
}

/// A new file readable by its owner only (0600 on Unix): reports name accounts, and trybacks
/// and archives may hold what a file carried.
pub fn private_file(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}
