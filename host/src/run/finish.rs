//! Step 6, finish: the tryback file, the reports (stored and printed), the archive copy of the
//! input and its clean-up (formats.md §4).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use toolsync_reader::FileInfo;

use super::plan::Plan;
use super::report::{self, Summary};
use super::spool;
use crate::clock;
use crate::config::DataDir;
use crate::error::{CmdResult, Error, ExitCode};

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

/// Renders the reports, stores them (`store_report`), prints one on stdout.
pub fn publish(
    data: &DataDir,
    plan: &Plan<'_>,
    summary: &Summary,
    spool_dir: Option<&Path>,
    stamp: &str,
) -> Result<(), Error> {
    let work = data.runs().join(format!("{}.report", summary.processor));
    let (txt, json) = report::render(summary, spool_dir, &work)?;
    if plan.outputs.store_report {
        let dir = data.reports();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::output(format!("cannot create {}", dir.display()), e))?;
        let name = file_name(&plan.input);
        let stamp = free_stamp(stamp, |s| {
            vec![
                dir.join(format!("{s}_{name}.report.txt")),
                dir.join(format!("{s}_{name}.report.json")),
            ]
        });
        copy(&txt, &dir.join(format!("{stamp}_{name}.report.txt")))?;
        copy(&json, &dir.join(format!("{stamp}_{name}.report.json")))?;
    }
    let shown = if plan.args.json { &json } else { &txt };
    let mut stdout = std::io::stdout().lock();
    let mut file = File::open(shown).map_err(|e| Error::output("cannot read the report", e))?;
    std::io::copy(&mut file, &mut stdout)
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::output("cannot print the report", e))?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
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

/// `archives/<stamp>_<name>`: a byte copy of the input.
pub fn archive(data: &DataDir, input: &Path, stamp: &str) -> Result<(), Error> {
    let dir = data.archives();
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::output(format!("cannot create {}", dir.display()), e))?;
    let name = file_name(input);
    let stamp = free_stamp(stamp, |s| vec![dir.join(format!("{s}_{name}"))]);
    copy(input, &dir.join(format!("{stamp}_{name}")))
}
