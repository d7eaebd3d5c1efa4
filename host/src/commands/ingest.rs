//! `toolsync ingest`: the drop folder's complete files moved into the file area
//! ([`crate::ingest`]), with what was taken, what was left and why.

use std::time::Duration;

use crate::area::FileArea;
use crate::config::HostSettings;
use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode, StoreError};
use crate::escape::escape_controls;
use crate::ingest::{self, IngestReport};
use crate::output::Out;

/// Runs one ingest and prints its report; exit 1 when a file that should have been taken
/// could not be moved.
pub fn run(data: &DataDir, settle: Option<u64>, json: bool) -> CmdResult {
    let report = ingest_once(data, settle)?;
    let mut out = Out::stdout();
    if json {
        out.json(&report)?;
    } else {
        for line in text(&report) {
            out.line(&line)?;
        }
    }
    out.flush()?;
    Ok(if report.failed.is_empty() {
        ExitCode::Ok
    } else {
        ExitCode::RowsFailed
    })
}

/// One ingest, under the data dir's ingest lock: the command's and the daemon's.
pub fn ingest_once(data: &DataDir, settle: Option<u64>) -> Result<IngestReport, Error> {
    if !data.root.is_dir() {
        return Err(StoreError::Open {
            path: data.root.clone(),
            message: "no data dir there (a first `toolsync run` creates it): is --data-dir \
                      right?"
                .into(),
        }
        .into());
    }
    let settings = HostSettings::read(data)?;
    let drop = &settings.drop_dir;
    if !drop.exists() {
        if settings.drop_dir_configured {
            return Err(Error::usage(format!(
                "the drop folder {} ([ingest] drop_dir) does not exist",
                drop.display()
            )));
        }
        crate::data_dir::create_private_dir(drop)
            .map_err(|e| Error::output(format!("cannot create {}", drop.display()), e))?;
    }
    overlap(data, drop)?;
    let lock_path = data.root.join("ingest.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::output(format!("cannot open {}", lock_path.display()), e))?;
    fs2::FileExt::lock_exclusive(&lock)
        .map_err(|e| Error::output(format!("cannot lock {}", lock_path.display()), e))?;
    let area = FileArea::new(data.files());
    crate::data_dir::create_private_dir(&area.root)
        .map_err(|e| Error::output(format!("cannot create {}", area.root.display()), e))?;
    let settle = Duration::from_secs(settle.unwrap_or(settings.settle_seconds));
    ingest::ingest(drop, &area, settle)
        .map_err(|e| Error::output(format!("cannot read the drop folder {}", drop.display()), e))
}

/// Refuses a drop folder that would take toolsync's own files: the data dir itself, a folder
/// holding it, or one of its folders (the file area, the store…). A folder of its own inside
/// the data dir (the default `sync/`) is fine.
fn overlap(data: &DataDir, drop: &std::path::Path) -> Result<(), Error> {
    let real = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (drop, root) = (real(drop), real(&data.root));
    let owned = ["files", "store", "runs", "pictures", "plugins"];
    let clash = root.starts_with(&drop)
        || owned
            .iter()
            .any(|folder| drop.starts_with(root.join(folder)));
    if clash {
        return Err(Error::usage(format!(
            "the drop folder {} ([ingest] drop_dir) holds toolsync's own files (the data dir \
             {}, its store or its file area): give it a folder of its own",
            drop.display(),
            root.display()
        )));
    }
    Ok(())
}

/// The text report: a line per file, then the counts.
pub fn text(report: &IngestReport) -> Vec<String> {
    let mut lines = Vec::new();
    for taken in &report.taken {
        let mut line = format!(
            "taken: {} -> {}",
            escape_controls(&taken.from),
            escape_controls(&taken.to)
        );
        if taken.renamed {
            line.push_str(" (a file of that name is already in the file area)");
        }
        lines.push(line);
    }
    for (word, files) in [("left", &report.left), ("failed", &report.failed)] {
        for file in files {
            lines.push(format!(
                "{word}: {}: {}",
                escape_controls(&file.path),
                escape_controls(&file.why)
            ));
        }
    }
    lines.push(format!(
        "ingest: {} taken, {} left, {} failed (drop folder {})",
        report.taken.len(),
        report.left.len(),
        report.failed.len(),
        report.drop_dir
    ));
    lines
}
