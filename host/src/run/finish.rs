//! Step 6, finish: the tryback file, the reports (stored and printed), the archive copy of the
//! input and its clean-up (formats.md §4).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use toolsync_reader::{CsvReader, DelimiterChoice, FileInfo, ReadOptions};

use super::copy_ahead::CopyAhead;
use super::input::Shape;

use super::plan::Plan;
use super::report::{self, Level, Summary};
use super::spool;
use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode};
use crate::escape::escape_controls;
use crate::output::Out;
use crate::{clock, faults};

/// A refused file: its reports are stored and printed, nothing else is written; the reason
/// also goes to stderr, where a script or an operator watching a terminal sees it.
pub fn refused(data: &DataDir, plan: &Plan<'_>, mut summary: Summary) -> CmdResult {
    if let Some(reason) = &summary.refused {
        crate::output::note(format!(
            "{}: {} refused: {}",
            summary.processor,
            escape_controls(&summary.file),
            escape_controls(reason)
        ));
    }
    summary.finished_at = clock::now();
    let stamp = plan.zone.stamp(summary.started_at);
    publish(data, plan, &mut summary, None, &stamp)?;
    Ok(ExitCode::InputRefused)
}

/// The reports of a run that committed nothing (refused, dry, rolled back): stored under
/// fresh names, then printed. Nothing is journaled: killed here, a re-run is a new run.
pub fn publish(
    data: &DataDir,
    plan: &Plan<'_>,
    summary: &mut Summary,
    spool_dir: Option<&Path>,
    stamp: &str,
) -> Result<(), Error> {
    if plan.outputs.store_report {
        let paths = ReportPaths::free(data, plan, stamp);
        store_reports(summary, spool_dir, &paths)?;
        summary.stored = Some(paths.txt);
    }
    print_report(plan, summary, spool_dir)
}

/// The outputs of a run that committed, named once and journaled with its last batch: a run
/// killed anywhere in its finish writes, when re-run, only the outputs still missing, under the
/// same names — each output exists exactly once. Each is written aside and renamed into place,
/// so an output that exists is whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishPlan {
    pub finished_at: i64,
    pub tryback: Option<PathBuf>,
    pub reports: Option<ReportPaths>,
    pub archive: Option<PathBuf>,
    /// Remove the input once archived (`cleanup`).
    pub cleanup: bool,
    /// The input's identity when the run opened it (see [`super::journal::Journal`]).
    #[serde(default)]
    pub input_identity: Option<(u64, u64)>,
    /// The run's id (`<stamp>_<input name>`, its reports' name): the undo log's too.
    #[serde(default)]
    pub run_id: String,
}

/// Where a run's two stored reports go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportPaths {
    pub txt: PathBuf,
    pub json: PathBuf,
}

impl ReportPaths {
    /// `reports/<stamp>_<name>.report.{txt,json}`, the stamp made unique if a report of that
    /// second exists.
    fn free(data: &DataDir, plan: &Plan<'_>, stamp: &str) -> ReportPaths {
        let at = |s: &str| ReportPaths::at(data, plan, s);
        at(&free_stamp(stamp, |s| {
            let p = at(s);
            vec![p.txt, p.json]
        }))
    }

    /// The reports' names for `stamp`, free or not.
    fn at(data: &DataDir, plan: &Plan<'_>, stamp: &str) -> ReportPaths {
        let dir = data.reports();
        let name = file_name(&plan.input);
        ReportPaths {
            txt: dir.join(format!("{stamp}_{name}.report.txt")),
            json: dir.join(format!("{stamp}_{name}.report.json")),
        }
    }
}

impl FinishPlan {
    /// Names the outputs a committed run will write.
    pub fn new(
        data: &DataDir,
        plan: &Plan<'_>,
        stamp: &str,
        with_tryback: bool,
        stopped: bool,
    ) -> FinishPlan {
        let name = file_name(&plan.input);
        // One stamp free for the reports and the archive alike: a run's id (its reports'
        // name) names its archive too (`toolsync reports prune` removes them together).
        let reports_at = |s: &str| ReportPaths::at(data, plan, s);
        let archive_at = |s: &str| data.archives().join(format!("{s}_{name}"));
        let stamp = free_stamp(stamp, |s| {
            let reports = reports_at(s);
            vec![reports.txt, reports.json, archive_at(s)]
        });
        FinishPlan {
            finished_at: clock::now(),
            tryback: (with_tryback && plan.outputs.tryback)
                .then(|| tryback_path(&plan.input, &stamp)),
            reports: plan.outputs.store_report.then(|| reports_at(&stamp)),
            archive: plan.outputs.archive.then(|| archive_at(&stamp)),
            // A run stopped by --max-errors keeps its input for the next attempt.
            cleanup: plan.outputs.cleanup && !stopped,
            input_identity: None,
            run_id: format!("{stamp}_{name}"),
        }
    }

    /// Writes what is still missing, in order: tryback, reports, archive, then removes the
    /// input (`cleanup`). `summary` is the run's, `stored` and `tryback` filled from the plan.
    pub fn complete(
        &self,
        data: &DataDir,
        plan: &Plan<'_>,
        summary: &Summary,
        input: InputCopy<'_>,
        spool_dir: &Path,
    ) -> Result<(), Error> {
        let InputCopy {
            shape,
            secrets,
            ahead,
        } = input;
        if let Some(path) = self.tryback.as_ref().filter(|p| !p.exists()) {
            match shape {
                Shape::Csv(info) => write_tryback(path, &plan.input, info, spool_dir)?,
                Shape::Archive => write_archive_tryback(path, &plan.input, spool_dir)?,
            }
            tracing::info!(tryback = %path.display(), "tryback written");
        }
        faults::point("after-tryback");
        if let Some(paths) = &self.reports {
            if !(paths.txt.exists() && paths.json.exists()) {
                store_reports(summary, Some(spool_dir), paths)?;
                tracing::info!(report = %paths.txt.display(), "reports stored");
            }
        }
        faults::point("after-report");
        if let Some(path) = self.archive.as_ref().filter(|p| !p.exists()) {
            create_private_dir(&data.archives())?;
            if !ahead.is_some_and(|copy| copy.place(path)) {
                archive(plan, shape, secrets, path)?;
            }
            tracing::info!(archive = %path.display(), "input archived");
        }
        faults::point("after-archive");
        let replaced = self
            .input_identity
            .is_some_and(|opened| file_identity(&plan.input).is_some_and(|now| now != opened));
        if self.cleanup && replaced {
            tracing::warn!(input = %plan.input.display(), "cleanup: the input was replaced while the run went on (a new file of that name): kept");
        }
        if self.cleanup && !replaced && plan.input.exists() {
            std::fs::remove_file(&plan.input).map_err(|e| {
                Error::output(
                    format!("cannot remove {} (cleanup)", plan.input.display()),
                    e,
                )
            })?;
            tracing::info!(input = %plan.input.display(), "input removed (cleanup)");
        }
        faults::point("after-cleanup");
        Ok(())
    }
}

/// What the finish needs to copy the input to `files/archives/`.
pub struct InputCopy<'a> {
    pub shape: Shape<'a>,
    /// The cells the copy empties.
    pub secrets: &'a Secrets,
    /// The copy made during the run, if any.
    pub ahead: Option<CopyAhead>,
}

/// A file's device and inode (Unix), to tell it from another put under its name.
pub fn file_identity(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Writes both full reports, each aside then renamed into place.
fn store_reports(
    summary: &Summary,
    spool_dir: Option<&Path>,
    paths: &ReportPaths,
) -> Result<(), Error> {
    if let Some(dir) = paths.txt.parent() {
        create_private_dir(dir)?;
    }
    write_whole(&paths.txt, |out| {
        report::write_text(summary, spool_dir, Level::Full, out)
    })?;
    write_whole(&paths.json, |out| {
        report::write_json(summary, spool_dir, Level::Full, out)
    })
}

/// Prints one report on stdout: the text or the JSON one (`--json`), every row (`--report
/// full`) or only the failed ones.
pub fn print_report(
    plan: &Plan<'_>,
    summary: &Summary,
    spool_dir: Option<&Path>,
) -> Result<(), Error> {
    if let Some(tap) = &plan.args.tap {
        let json = summary.stored.as_ref().map(|txt| {
            let name = file_name(txt).replace(".report.txt", ".report.json");
            txt.with_file_name(name)
        });
        let t = &summary.tally;
        let (outcome, exit_code) = crate::history::outcome(
            summary.refused.is_some(),
            summary.stopped.is_some(),
            summary.dry_run,
            summary.committed || !plan.args.atomic,
            t.failed(),
        );
        tap.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(super::Finished {
                processor: summary.processor.clone(),
                file: summary.file.clone(),
                rows_total: t.total(),
                rows_ok: t.ok(),
                rows_failed: t.failed(),
                rows_skipped: t.skipped(),
                committed: summary.committed,
                outcome,
                exit_code,
                refused: summary.refused.clone(),
                report: json,
            });
    }
    if plan.args.silent {
        return Ok(());
    }
    let level = if plan.args.full_report {
        Level::Full
    } else {
        Level::Failures
    };
    let mut out = Out::stdout();
    let printed = if plan.args.json {
        report::write_json(summary, spool_dir, level, &mut out)
    } else {
        report::write_text(summary, spool_dir, level, &mut out)
    };
    printed.map_err(|e| Error::output("cannot print the report", e))?;
    out.flush()
}

/// Writes `path` whole or not at all: into `<path>.partial` (owner-only), synced, then renamed.
/// A kill leaves at most a `.partial` file, which the next attempt overwrites.
fn write_whole(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), Error> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let attempt = || -> std::io::Result<()> {
        let mut out = BufWriter::new(report::private_file(&partial)?);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&partial, path)
    };
    attempt().map_err(|e| Error::output(format!("cannot write {}", path.display()), e))
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

/// `<base>_tryback_<stamp>.<ext>` beside the input (the stamp made unique).
fn tryback_path(input: &Path, stamp: &str) -> PathBuf {
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
    dir.join(format!("{base}_tryback_{stamp}{ext}"))
}

/// The tryback file: the input's BOM and header, then the raw bytes of every failed record,
/// owner-only (users files hold passwords).
fn write_tryback(
    path: &Path,
    input: &Path,
    info: &FileInfo,
    spool_dir: &Path,
) -> Result<(), Error> {
    write_whole(path, |out| {
        let mut source = File::open(input)?;
        if info.bom_removed {
            toolsync_reader::copy_raw(&mut source, 0, 3, out)?;
        }
        if let Some(header) = &info.header {
            toolsync_reader::copy_raw(&mut source, header.raw_start, header.raw_end, out)?;
        }
        std::io::copy(&mut File::open(spool_dir.join(spool::TRYBACK))?, out)?;
        Ok(())
    })
}

/// The tryback of an archive: a zip of the failed entries, copied as stored (the spool lists
/// their indexes; unsafe entries were never listed), owner-only.
fn write_archive_tryback(path: &Path, input: &Path, spool_dir: &Path) -> Result<(), Error> {
    let listed = std::fs::read_to_string(spool_dir.join(spool::TRYBACK))
        .map_err(|e| Error::output("cannot read the run's tryback spool", e))?;
    let indexes: Vec<usize> = listed.lines().filter_map(|l| l.parse().ok()).collect();
    write_whole(path, |out| {
        let file = out.get_mut();
        toolsync_archive::write_tryback(input, &indexes, file)
    })
}

/// The archive copy of the input, readable by its owner only, byte for byte except the cells
/// of secret columns (users' `password`), emptied — so that no secret is kept and re-running an
/// archive never changes one (formats.md §4.4). The file is read again by the same rules (and
/// the delimiter the run used) to find those cells; everything else, comments, line ends and
/// the encoding included, is copied as it was.
fn archive(plan: &Plan<'_>, shape: Shape<'_>, secrets: &Secrets, path: &Path) -> Result<(), Error> {
    write_whole(path, |out| {
        let mut source = File::open(&plan.input)?;
        let info = match shape {
            Shape::Csv(info) if !secrets.positions.is_empty() => info,
            // No secret to empty (an archive has none): a copy byte for byte.
            _ => {
                std::io::copy(&mut source, out)?;
                return Ok(());
            }
        };
        let options = ReadOptions {
            delimiter: DelimiterChoice::Byte(info.delimiter),
            ..plan.read
        };
        let (mut reader, _) =
            CsvReader::open(&plan.input, &options).map_err(|r| std::io::Error::other(r.message))?;
        let mut at = 0u64;
        let mut raw = Vec::new();
        while let Some(item) = reader.next_item() {
            let (start, end) = item.raw_range();
            toolsync_reader::copy_raw(&mut source, at, start, out)?;
            at = end;
            if end - start > plan.read.max_record_size {
                copy_line_ends(&mut source, start, end, out)?;
                continue;
            }
            raw.clear();
            toolsync_reader::copy_raw(&mut source, start, end, &mut raw)?;
            let spans = toolsync_reader::field_spans(&raw, info.delimiter);
            let blank = secrets.fields_to_empty(spans.len());
            let mut kept = 0;
            for (i, span) in spans.iter().enumerate() {
                if blank(i) {
                    out.write_all(&raw[kept..span.start])?;
                    kept = span.end;
                }
            }
            out.write_all(&raw[kept..])?;
        }
        std::io::copy(&mut source, out)?;
        Ok(())
    })
}

/// A record over `max_record_size` in the archive: only its line ends. Its secret cells could
/// not be found without holding it whole in memory, which the bound is there to prevent; it
/// failed its row, and the tryback keeps it byte for byte. Its line ends keep the archive's
/// line numbers those of the input.
fn copy_line_ends(
    source: &mut File,
    start: u64,
    end: u64,
    out: &mut impl Write,
) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    source.seek(SeekFrom::Start(start))?;
    let mut rest = source.take(end - start);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = rest.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        for &b in &chunk[..n] {
            if matches!(b, b'\r' | b'\n') {
                out.write_all(&[b])?;
            }
        }
    }
}

/// The columns whose cells the archive empties (their type is `secret`: users' `password`).
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// Their positions in the file.
    pub positions: Vec<usize>,
    /// How many columns the file's records have.
    pub columns: usize,
}

impl Secrets {
    /// Which fields of a record of `fields` fields to empty. A record with the file's field
    /// count has its secret columns emptied. In one with more fields (an unquoted delimiter
    /// inside a value) or fewer, a secret may have moved: every field from the first place a
    /// secret can now stand is emptied — losing a little of a malformed row in the archive
    /// (the tryback keeps it whole) rather than keeping part of a password.
    pub fn fields_to_empty(&self, fields: usize) -> impl Fn(usize) -> bool + '_ {
        let from = match self.positions.iter().min() {
            Some(first) if fields != self.columns => {
                first.saturating_sub(self.columns.saturating_sub(fields))
            }
            _ => usize::MAX,
        };
        move |i| i >= from || self.positions.contains(&i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emptied(secrets: &Secrets, fields: usize) -> Vec<usize> {
        let blank = secrets.fields_to_empty(fields);
        (0..fields).filter(|&i| blank(i)).collect()
    }

    #[test]
    fn a_malformed_record_loses_every_field_a_secret_may_have_moved_to() {
        // username;firstname;lastname;email;password
        let secrets = Secrets {
            positions: vec![4],
            columns: 5,
        };
        assert_eq!(emptied(&secrets, 5), [4]);
        // `u2;A;B;u2@example.org;Pw;WithSemi7`: the password split in two.
        assert_eq!(emptied(&secrets, 6), [4, 5]);
        // A field missing before the password: it now stands at 3.
        assert_eq!(emptied(&secrets, 4), [3]);
        assert_eq!(emptied(&secrets, 2), [1]);
        assert_eq!(emptied(&secrets, 1), [0]);
        let none = Secrets {
            positions: vec![],
            columns: 3,
        };
        assert_eq!(emptied(&none, 5), Vec::<usize>::new());
    }
}
