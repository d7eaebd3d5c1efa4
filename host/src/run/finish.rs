//! Step 6, finish: the tryback file, the reports (stored and printed), the archive copy of the
//! input and its clean-up (formats.md §4).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use toolsync_reader::{CsvReader, DelimiterChoice, FileInfo, ReadOptions};

use super::plan::Plan;
use super::report::{self, Level, Summary};
use super::spool;
use crate::clock;
use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode};
use crate::output::Out;

/// A refused file: its reports are stored and printed, nothing else is written; the reason
/// also goes to stderr, where a script or an operator watching a terminal sees it.
pub fn refused(data: &DataDir, plan: &Plan<'_>, mut summary: Summary) -> CmdResult {
    if let Some(reason) = &summary.refused {
        eprintln!(
            "toolsync: {}: {} refused: {reason}",
            summary.processor, summary.file
        );
    }
    summary.finished_at = clock::now();
    let stamp = plan.zone.stamp(summary.started_at);
    publish(data, plan, &summary, None, &stamp)?;
    Ok(ExitCode::InputRefused)
}

/// Renders the full reports and stores them (`store_report`), then prints one on stdout: the
/// text or the JSON one (`--json`), every row (`--report full`) or only the failed ones.
pub fn publish(
    data: &DataDir,
    plan: &Plan<'_>,
    summary: &Summary,
    spool_dir: Option<&Path>,
    stamp: &str,
) -> Result<(), Error> {
    let work = data.runs().join(format!("{}.report", summary.processor));
    let (txt, json) = report::render(summary, spool_dir, &work)?;
    let mut summary = summary.clone();
    if plan.outputs.store_report {
        let dir = data.reports();
        create_private_dir(&dir)?;
        let name = file_name(&plan.input);
        let stamp = free_stamp(stamp, |s| {
            vec![
                dir.join(format!("{s}_{name}.report.txt")),
                dir.join(format!("{s}_{name}.report.json")),
            ]
        });
        let stored = dir.join(format!("{stamp}_{name}.report.txt"));
        copy(&txt, &stored)?;
        copy(&json, &dir.join(format!("{stamp}_{name}.report.json")))?;
        summary.stored = Some(stored);
    }
    let level = if plan.args.full_report {
        Level::Full
    } else {
        Level::Failures
    };
    let mut out = Out::stdout();
    let printed = if plan.args.json {
        report::write_json(&summary, spool_dir, level, &mut out)
    } else {
        report::write_text(&summary, spool_dir, level, &mut out)
    };
    printed.map_err(|e| Error::output("cannot print the report", e))?;
    out.flush()?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// A folder for outputs, owner-only (reports name accounts; archives keep what files carried).
pub fn create_private_dir(dir: &Path) -> Result<(), Error> {
    crate::data_dir::create_private_dir(dir)
        .map_err(|e| Error::output(format!("cannot create {}", dir.display()), e))
}

pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".to_string())
}

/// `stamp`, else `stamp-2`, `stamp-3`... until none of the names it gives exists.
pub fn free_stamp(stamp: &str, names: impl Fn(&str) -> Vec<PathBuf>) -> String {
    let mut candidate = stamp.to_string();
    let mut n = 1;
    while names(&candidate).iter().any(|p| p.exists()) {
        n += 1;
        candidate = format!("{stamp}-{n}");
    }
    candidate
}

fn copy(from: &Path, to: &Path) -> Result<(), Error> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| Error::output(format!("cannot write {}", to.display()), e))
}

/// `<base>_tryback_<stamp>.<ext>` beside the input, owner-only: users files hold passwords.
pub fn write_tryback(
    input: &Path,
    info: &FileInfo,
    stamp: &str,
    spool_dir: &Path,
) -> Result<PathBuf, Error> {
    let dir = input.parent().unwrap_or(Path::new("."));
    let base = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = input
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let stamp = free_stamp(
        stamp,
        |s| vec![dir.join(format!("{base}_tryback_{s}{ext}"))],
    );
    let path = dir.join(format!("{base}_tryback_{stamp}{ext}"));
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut out = std::io::BufWriter::new(options.open(&path)?);
        let mut source = File::open(input)?;
        if info.bom_removed {
            toolsync_reader::copy_raw(&mut source, 0, 3, &mut out)?;
        }
        if let Some(header) = &info.header {
            toolsync_reader::copy_raw(&mut source, header.raw_start, header.raw_end, &mut out)?;
        }
        std::io::copy(&mut File::open(spool_dir.join(spool::TRYBACK))?, &mut out)?;
        out.flush()
    };
    write().map_err(|e| {
        Error::output(
            format!("cannot write the tryback file {}", path.display()),
            e,
        )
    })?;
    Ok(path)
}

/// `archives/<stamp>_<name>`: a copy of the input readable by its owner only, byte for byte
/// except the cells of secret columns (users' `password`), emptied — so that no secret is kept
/// and re-running an archive never changes one (formats.md §4.4). The file is read again by the
/// same rules (and the delimiter the run used) to find those cells; everything else, comments,
/// line ends and the encoding included, is copied as it was.
pub fn archive(
    data: &DataDir,
    plan: &Plan<'_>,
    info: &FileInfo,
    secret: &[usize],
    stamp: &str,
) -> Result<(), Error> {
    let dir = data.archives();
    create_private_dir(&dir)?;
    let name = file_name(&plan.input);
    let stamp = free_stamp(stamp, |s| vec![dir.join(format!("{s}_{name}"))]);
    let path = dir.join(format!("{stamp}_{name}"));
    let failed = |e: std::io::Error| Error::output(format!("cannot write {}", path.display()), e);
    let mut out = std::io::BufWriter::new(report::private_file(&path).map_err(failed)?);
    let mut source = File::open(&plan.input).map_err(failed)?;
    if secret.is_empty() {
        std::io::copy(&mut source, &mut out).map_err(failed)?;
        return out.flush().map_err(failed);
    }
    let options = ReadOptions {
        delimiter: DelimiterChoice::Byte(info.delimiter),
        ..plan.read
    };
    let (mut reader, _) = CsvReader::open(&plan.input, &options)
        .map_err(|r| failed(std::io::Error::other(r.message)))?;
    let mut at = 0u64;
    let mut raw = Vec::new();
    while let Some(item) = reader.next_item() {
        let (start, end) = item.raw_range();
        toolsync_reader::copy_raw(&mut source, at, start, &mut out).map_err(failed)?;
        raw.clear();
        toolsync_reader::copy_raw(&mut source, start, end, &mut raw).map_err(failed)?;
        let spans = toolsync_reader::field_spans(&raw, info.delimiter);
        let mut kept = 0;
        for (i, span) in spans.iter().enumerate() {
            if secret.contains(&i) {
                out.write_all(&raw[kept..span.start]).map_err(failed)?;
                kept = span.end;
            }
        }
        out.write_all(&raw[kept..]).map_err(failed)?;
        at = end;
    }
    std::io::copy(&mut source, &mut out).map_err(failed)?;
    out.flush().map_err(failed)
}
