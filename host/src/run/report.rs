//! The text and JSON reports of formats.md §4.1–4.2, assembled from the run's summary and its
//! spool files (streamed: a million-row report never sits in memory).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use toolsync_plugin_api::OutcomeKind;

use super::spool;
use super::tally::Tally;
use crate::clock;
use crate::error::Error;

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

/// Writes the text report. `spool_dir` is None for a file refused before any row.
pub fn write_text(
    summary: &Summary,
    spool_dir: Option<&Path>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let s = summary;
    writeln!(out, "processor: {}", s.processor)?;
    writeln!(out, "file: {}", s.file)?;
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
        writeln!(out, "refused: {reason}")?;
        return writeln!(out, "end of report");
    }
    if let Some(reason) = &s.stopped {
        writeln!(out, "stopped: {reason}")?;
    }
    for warning in &s.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    if let Some(dir) = spool_dir {
        for item in read_jsonl(&dir.join(spool::WARNINGS))? {
            let item = item?;
            match item["line"].as_u64() {
                Some(line) => writeln!(out, "warning: line {line}: {}", text(&item["message"]))?,
                None => writeln!(out, "warning: {}", text(&item["message"]))?,
            }
        }
        let rows = BufReader::new(File::open(dir.join(spool::ROWS))?);
        for line in rows.lines() {
            writeln!(out, "{}", line?)?;
        }
    }
    for line in &s.report_lines {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "end of report")
}

/// Writes the JSON report: one object, every key always present, keys in the order of §4.2.
pub fn write_json(
    summary: &Summary,
    spool_dir: Option<&Path>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let s = summary;
    let t = &s.tally;
    let counts: serde_json::Map<String, Value> = OutcomeKind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), json!(t.get(*k))))
        .collect();
    let head = [
        ("processor", json!(s.processor)),
        ("file", json!(s.file)),
        ("started_at", json!(clock::rfc3339(s.started_at))),
        ("finished_at", json!(clock::rfc3339(s.finished_at))),
        ("dry_run", json!(s.dry_run)),
        ("committed", json!(s.committed)),
        ("encoding", json!(s.encoding)),
        ("delimiter", json!(s.delimiter)),
        ("rows_total", json!(t.total())),
        ("rows_ok", json!(t.ok())),
        ("rows_failed", json!(t.failed())),
        ("rows_skipped", json!(t.skipped())),
        ("comments", json!(s.comments)),
        ("counts", Value::Object(counts)),
    ];
    out.write_all(b"{")?;
    for (key, value) in head {
        write!(out, "{}:{},", json!(key), value)?;
    }
    // Streamed arrays.
    out.write_all(b"\"errors\":[")?;
    if let Some(dir) = spool_dir {
        copy_jsonl_array(&dir.join(spool::ERRORS), out)?;
    }
    out.write_all(b"],\"warnings\":[")?;
    let mut first = true;
    for warning in &s.warnings {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        write!(out, "{}", json!({ "line": null, "message": warning }))?;
    }
    if let Some(dir) = spool_dir {
        if !first && has_content(&dir.join(spool::WARNINGS)) {
            out.write_all(b",")?;
        }
        copy_jsonl_array(&dir.join(spool::WARNINGS), out)?;
    }
    out.write_all(b"],")?;
    let tail = [
        ("refused", json!(s.refused)),
        ("stopped", json!(s.stopped)),
        (
            "tryback",
            json!(s.tryback.as_ref().map(|p| p.display().to_string())),
        ),
        ("details", s.details.clone()),
    ];
    let mut first = true;
    for (key, value) in tail {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        write!(out, "{}:{}", json!(key), value)?;
    }
    out.write_all(b"}\n")
}

fn has_content(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false)
}

/// Copies a JSON-lines file as the inside of a JSON array.
fn copy_jsonl_array(path: &Path, out: &mut impl Write) -> std::io::Result<()> {
    let Ok(file) = File::open(path) else {
        return Ok(());
    };
    let mut first = true;
    for line in BufReader::new(file).lines() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn read_jsonl(path: &Path) -> std::io::Result<impl Iterator<Item = std::io::Result<Value>>> {
    let lines = match File::open(path) {
        Ok(file) => Some(BufReader::new(file).lines()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    Ok(lines.into_iter().flatten().filter_map(|line| match line {
        Ok(l) if l.is_empty() => None,
        Ok(l) => Some(serde_json::from_str(&l).map_err(std::io::Error::other)),
        Err(e) => Some(Err(e)),
    }))
}

fn text(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

/// Renders both reports into `dir` (`report.txt`, `report.json`) and returns their paths.
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
        let mut out = BufWriter::new(File::create(path)?);
        if json {
            write_json(summary, spool_dir, &mut out)?;
        } else {
            write_text(summary, spool_dir, &mut out)?;
        }
        out.flush()
    };
    write(&txt, false).map_err(|e| Error::output("cannot write the text report", e))?;
    write(&jsn, true).map_err(|e| Error::output("cannot write the JSON report", e))?;
    Ok((txt, jsn))
}
