//! A run: one processor applied to one input file (design.md §5).
//!
//! read (encoding, delimiter, header) → refuse the file or start the processor → stream rows in
//! chunks (prepared in parallel when the processor asks, applied in order) → each row's writes
//! kept or dropped → a batch committed every [`BATCH_ROWS`] rows with the journal → finish →
//! tryback, reports, archive, clean-up.

mod journal;
mod progress;
pub mod report;
mod spool;
mod tally;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RStr, RString, Tuple2};
use toolsync_plugin_api::abi::{protocol, Derived, RowRef, RunBox, RunSpec, StartError, TxnAbi_TO};
use toolsync_plugin_api::{schema, OutcomeKind};
use toolsync_reader::{CsvReader, DelimiterChoice, EncodingChoice, FileInfo, Item, ReadOptions};

use crate::clock;
use crate::config::{DataDir, Options};
use crate::exit::{CmdResult, ExitCode, Failure};
use crate::loader::LoadedProcessor;
use crate::store::{ReadView, RowTxn, Staging, Store};
use journal::Journal;
use progress::Progress;
use report::Summary;
use spool::{Spool, SpoolLengths};
use tally::Tally;

/// Rows per committed batch: large enough to amortise sled's per-commit cost, small enough
/// that a kill loses little work and memory stays flat.
pub const BATCH_ROWS: u64 = 2_000;
/// Rows read ahead and prepared together.
const CHUNK_ROWS: usize = 256;

/// What the operator asked for.
#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    pub processor: String,
    pub file: Option<PathBuf>,
    pub dry_run: bool,
    pub atomic: bool,
    pub max_errors: Option<u64>,
    pub delimiter: Option<String>,
    pub encoding: Option<String>,
    pub sets: Vec<String>,
    pub json: bool,
    pub force: bool,
    pub quiet: bool,
}

/// Output switches (formats.md §4.4).
struct Outputs {
    store_report: bool,
    tryback: bool,
    archive: bool,
    cleanup: bool,
}

pub fn run(data: &DataDir, processor: &LoadedProcessor, args: &RunArgs) -> CmdResult {
    let manifest = &processor.manifest;
    let name = manifest.name.to_string();
    let mut options = Options::resolve(manifest, data, &args.sets)?;
    if let Some(d) = &args.delimiter {
        options.set("delimiter", d);
    }
    if let Some(e) = &args.encoding {
        options.set("encoding", e);
    }
    let encoding = EncodingChoice::parse(options.get("encoding"))
        .map_err(|e| Failure::usage(format!("option `encoding`: {e}")))?;
    let delimiter = DelimiterChoice::parse(options.get("delimiter"))
        .map_err(|e| Failure::usage(format!("option `delimiter`: {e}")))?;
    let zone = clock::Zone::parse(options.get("timezone"))
        .map_err(|e| Failure::usage(format!("option `timezone`: {e}")))?;
    let outputs = Outputs {
        store_report: options.flag("store_report")?,
        tryback: options.flag("tryback")?,
        archive: options.flag("archive")?,
        cleanup: options.flag("cleanup")?,
    };
    let allow_unknown = options.flag("allow_unknown_columns")?;
    let (input, shown) = resolve_input(data, args.file.as_deref(), options.get("input"));

    let store = Store::open(&data.store())?;
    let now = clock::now();
    let mut summary = Summary::new(&name, &shown, now, args.dry_run);
    let journaled = !args.dry_run && !args.atomic;

    let read_options = ReadOptions {
        encoding,
        delimiter,
        has_header: manifest.has_header,
        split_fields: manifest.split_fields,
    };
    let (mut reader, info) = match CsvReader::open(&input, &read_options) {
        Ok(opened) => opened,
        Err(refusal) => {
            summary.refused = Some(refusal.message);
            return refuse(data, &summary, &input, &outputs, &zone, args);
        }
    };
    describe_input(&mut summary, &info);
    if !manifest.split_fields {
        // Whole lines (course-delete): no delimiter was used.
        summary.delimiter = None;
        summary.delimiter_note.clear();
    }

    // The header against the schema, before any row runs.
    let columns: Vec<String> = match &info.header {
        Some(header) => {
            let check =
                schema::check_header(&name, &manifest.columns, &header.names, allow_unknown);
            if !check.problems.is_empty() {
                summary.refused = Some(check.problems.join("; "));
                return refuse(data, &summary, &input, &outputs, &zone, args);
            }
            if !check.ignored.is_empty() {
                summary.warnings.push(format!(
                    "unknown columns ignored (allow_unknown_columns): {}",
                    check.ignored.join(", ")
                ));
            }
            check.canonical
        }
        None => manifest
            .columns
            .iter()
            .map(|c| c.name.to_string())
            .collect(),
    };

    // A journal left by a killed run of this same file: resume after its last commit.
    let mut resumed: Option<Journal> = None;
    if journaled {
        if let Some(j) = Journal::load(&store, &name)? {
            if j.fingerprint == info.fingerprint && j.size == info.size {
                resumed = Some(j);
            } else {
                summary.warnings.push(format!(
                    "an interrupted run of {} on {} was abandoned: its committed rows stay, the rest was not applied",
                    name, j.input
                ));
                let _ = std::fs::remove_dir_all(data.runs().join(&name));
            }
        }
    }
    if let Some(j) = &resumed {
        summary.started_at = j.started_at;
        if j.finished {
            tracing::info!(
                "the previous run of this file committed everything; writing its reports"
            );
        } else {
            summary.warnings.push(format!(
                "resumed an interrupted run after {} rows already committed",
                j.items_done
            ));
        }
    }
    let stamp = resumed
        .as_ref()
        .map(|j| j.stamp.clone())
        .unwrap_or_else(|| zone.stamp(summary.started_at));

    let spec = RunSpec {
        columns: columns.iter().map(|c| RString::from(c.as_str())).collect(),
        options: options
            .iter()
            .map(|(k, v)| Tuple2(RString::from(k), RString::from(v)))
            .collect(),
        input: input.display().to_string().into(),
        started_at: summary.started_at,
        dry_run: args.dry_run,
        force: args.force,
    };
    // A resumed run whose journal says everything was committed has nothing left to guard.
    let needs_survey = manifest.is_surveyed() && !resumed.as_ref().is_some_and(|j| j.finished);
    let surveyed = if needs_survey {
        survey(processor, &spec, &store, &input, &read_options)
            .map(|notes| summary.warnings.extend(notes))
    } else {
        Ok(())
    };
    let started = surveyed.and_then(|()| processor.processor.start(spec).into_result());
    let mut run = match started {
        Ok(run) => run,
        Err(StartError::BadOption(m)) => return Err(Failure::usage(m.to_string())),
        Err(StartError::Refused(m)) => {
            summary.refused = Some(m.to_string());
            return refuse(data, &summary, &input, &outputs, &zone, args);
        }
    };

    let spool_dir = data.runs().join(&name);
    if resumed.is_none() {
        let _ = std::fs::remove_dir_all(&spool_dir);
    }
    let mut spool = Spool::open(
        &spool_dir,
        resumed.as_ref().map(|j| j.spools).unwrap_or_default(),
    )?;
    let state = resumed.take().unwrap_or_else(|| Journal {
        input: input.display().to_string(),
        fingerprint: info.fingerprint,
        size: info.size,
        started_at: summary.started_at,
        stamp: stamp.clone(),
        items_done: 0,
        tally: Tally::default(),
        spools: SpoolLengths::default(),
        finished: false,
        stopped: None,
        details: serde_json::json!({}),
        report_lines: Vec::new(),
        warnings: Vec::new(),
    });

    let mut rows = RowLoop {
        store: &store,
        staging: Staging::default(),
        spool: &mut spool,
        source: File::open(&input)
            .map_err(|e| Failure::refused(format!("cannot read {}: {e}", input.display())))?,
        state,
        parallel: manifest.parallel_prepare,
        name: &name,
        journaled,
        max_errors: args.max_errors,
    };
    let mut progress = Progress::new(info.size, args.quiet);
    if !rows.state.finished {
        rows.skip(&mut reader, &mut progress);
        rows.stream(&mut run, &mut reader, &mut progress)?;
        progress.finish();
        if let Some(error) = reader.read_error() {
            rows.state.stopped = Some(format!("the input could not be read to the end: {error}"));
        }
        rows.finish(&mut run)?;
    }
    summary.comments = reader.comments();
    let state = rows.state.clone();
    let failed_rows = state.tally.failed();

    // Commit (or not) the last batch.
    let rolled_back = args.atomic && (failed_rows > 0 || state.stopped.is_some());
    let committed = if args.dry_run || rolled_back {
        false
    } else {
        rows.commit(true)?;
        store.flush()?;
        true
    };
    drop(rows);
    summary.committed = committed;
    summary.tally = state.tally.clone();
    summary.stopped = state.stopped.clone();
    summary.details = state.details.clone();
    summary.report_lines = state.report_lines.clone();
    summary.warnings.extend(state.warnings.iter().cloned());
    if rolled_back {
        summary
            .warnings
            .push("--atomic: rows failed, nothing was committed".to_string());
    }
    spool.flush()?;

    // The tryback: header line(s) and failed records, byte for byte.
    if committed && failed_rows > 0 && outputs.tryback {
        summary.tryback = Some(write_tryback(&input, &info, &stamp, &spool_dir)?);
    }
    summary.finished_at = clock::now();
    let exit = if failed_rows > 0 || state.stopped.is_some() {
        ExitCode::RowsFailed
    } else {
        ExitCode::Ok
    };
    publish(
        data,
        &summary,
        Some(&spool_dir),
        &input,
        &stamp,
        &outputs,
        args,
    )?;
    if committed {
        if outputs.archive {
            archive(data, &input, &stamp)?;
        }
        if outputs.cleanup && state.stopped.is_none() {
            std::fs::remove_file(&input).map_err(|e| {
                Failure::io(&format!("cannot remove {} (cleanup)", input.display()), e)
            })?;
        }
        if journaled {
            Journal::clear(&store, &name)?;
        }
    }
    let _ = std::fs::remove_dir_all(&spool_dir);
    Ok(exit)
}

/// The survey pass (plugin API 1.1, see `toolsync_plugin_api::abi::protocol`), for a processor
/// whose manifest asks for it: a first run of its own with `_phase=survey`, shown every
/// well-formed row of the file (`prepare`) with a read-only view of the store as it is before
/// the run, then asked for its verdict (`finish`, whose writes are refused) — so that a
/// file-level threshold can refuse the whole file before any row is applied. Streams like the
/// main pass. Gives the processor's notes for the report's warnings.
fn survey(
    processor: &LoadedProcessor,
    spec: &RunSpec,
    store: &Store,
    input: &Path,
    read_options: &ReadOptions,
) -> Result<Vec<String>, StartError> {
    let mut spec = spec.clone();
    spec.options.push(Tuple2(
        protocol::PHASE_OPTION.into(),
        protocol::PHASE_SURVEY.into(),
    ));
    let mut run = processor.processor.start(spec).into_result()?;
    let refused = |m: String| StartError::Refused(m.into());
    let (mut reader, _) = CsvReader::open(input, read_options).map_err(|r| refused(r.message))?;
    let staging = Staging::default();
    let mut view = ReadView::new(&staging, store);
    while let Some(item) = reader.next_item() {
        let Item::Row(record) = item else { continue };
        let values: Vec<RStr<'_>> = record
            .fields
            .iter()
            .map(|f| RStr::from(f.as_str()))
            .collect();
        let row = RowRef {
            line: record.line,
            values: values.as_slice().into(),
        };
        run.prepare(row, view.as_abi());
    }
    // A partial count could let a file through a threshold it exceeds.
    if let Some(error) = reader.read_error() {
        return Err(refused(format!(
            "the input could not be read to the end while surveying it: {error}"
        )));
    }
    // The view refuses writes: nothing of the survey reaches the store.
    let outcome = run.finish(TxnAbi_TO::from_ptr(&mut view, TD_Opaque));
    protocol::verdict_from_finish(outcome)
}

/// The loop over rows, with everything it mutates.
struct RowLoop<'a> {
    store: &'a Store,
    staging: Staging,
    spool: &'a mut Spool,
    source: File,
    state: Journal,
    parallel: bool,
    name: &'a str,
    journaled: bool,
    max_errors: Option<u64>,
}

impl RowLoop<'_> {
    /// Skips what an interrupted run already committed.
    fn skip(&mut self, reader: &mut CsvReader, progress: &mut Progress) {
        for _ in 0..self.state.items_done {
            if reader.next_item().is_none() {
                break;
            }
        }
        progress.tick(self.state.items_done, reader.position());
    }

    fn stream(
        &mut self,
        run: &mut RunBox,
        reader: &mut CsvReader,
        progress: &mut Progress,
    ) -> Result<(), Failure> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut chunk: Vec<Item> = Vec::with_capacity(CHUNK_ROWS);
        let mut since_commit = 0u64;
        loop {
            chunk.clear();
            while chunk.len() < CHUNK_ROWS {
                match reader.next_item() {
                    Some(item) => chunk.push(item),
                    None => break,
                }
            }
            if chunk.is_empty() {
                return Ok(());
            }
            let derived = self.prepare(run, &chunk, threads);
            for (item, derived) in chunk.drain(..).zip(derived) {
                self.apply(run, item, derived)?;
                self.state.items_done += 1;
                since_commit += 1;
                if let Some(max) = self.max_errors {
                    if self.state.tally.failed() >= max {
                        self.state.stopped = Some(format!(
                            "stopped after {max} failed rows (--max-errors {max})"
                        ));
                        return Ok(());
                    }
                }
                if self.journaled && since_commit >= BATCH_ROWS {
                    self.commit(false)?;
                    since_commit = 0;
                }
            }
            progress.tick(self.state.items_done, reader.position());
        }
    }

    /// `prepare` for a chunk, on every core when the processor asks for it.
    fn prepare(&self, run: &RunBox, chunk: &[Item], threads: usize) -> Vec<Derived> {
        if !self.parallel {
            return vec![Derived::default(); chunk.len()];
        }
        let view = ReadView::new(&self.staging, self.store);
        let prepare_one = |item: &Item| match item {
            Item::Row(record) => {
                let values: Vec<RStr<'_>> = record
                    .fields
                    .iter()
                    .map(|f| RStr::from(f.as_str()))
                    .collect();
                run.prepare(
                    RowRef {
                        line: record.line,
                        values: values.as_slice().into(),
                    },
                    view.as_abi(),
                )
            }
            Item::Bad(_) => Derived::default(),
        };
        let per_thread = chunk.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .chunks(per_thread)
                .map(|part| {
                    (
                        part.len(),
                        scope.spawn(move || part.iter().map(prepare_one).collect::<Vec<_>>()),
                    )
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|(len, h)| h.join().unwrap_or_else(|_| vec![Derived::default(); len]))
                .collect()
        })
    }

    fn apply(&mut self, run: &mut RunBox, item: Item, derived: Derived) -> Result<(), Failure> {
        let record = match item {
            Item::Bad(bad) => {
                return self.fail(bad.line, "", &bad.reason, bad.raw_start, bad.raw_end)
            }
            Item::Row(record) => record,
        };
        let values: Vec<RStr<'_>> = record
            .fields
            .iter()
            .map(|f| RStr::from(f.as_str()))
            .collect();
        let row = RowRef {
            line: record.line,
            values: values.as_slice().into(),
        };
        let outcome = {
            let mut txn = RowTxn::new(&mut self.staging, self.store);
            run.apply(row, derived, txn.as_abi())
        };
        if let Some(fatal) = self.staging.take_fatal() {
            self.staging.drop_row();
            return Err(Failure::store(format!(
                "line {}: store error: {fatal}",
                record.line
            )));
        }
        if outcome.kind == OutcomeKind::Failed {
            self.staging.drop_row();
            return self.fail(
                record.line,
                &outcome.subject,
                &outcome.message,
                record.raw_start,
                record.raw_end,
            );
        }
        self.staging.keep_row();
        self.state.tally.add(outcome.kind);
        self.spool.row(
            record.line,
            outcome.kind.as_str(),
            &outcome.subject,
            &outcome.message,
        )?;
        for warning in outcome.warnings.iter() {
            self.spool.warning(Some(record.line), warning)?;
        }
        Ok(())
    }

    fn fail(
        &mut self,
        line: u64,
        subject: &str,
        reason: &str,
        start: u64,
        end: u64,
    ) -> Result<(), Failure> {
        self.state.tally.add(OutcomeKind::Failed);
        self.spool.row(line, "failed", subject, reason)?;
        self.spool.error(line, reason)?;
        self.spool.tryback(&mut self.source, start, end)
    }

    /// The processor's last word; its writes commit like a row's.
    fn finish(&mut self, run: &mut RunBox) -> Result<(), Failure> {
        if self.state.stopped.is_some() {
            return Ok(());
        }
        let outcome = {
            let mut txn = RowTxn::new(&mut self.staging, self.store);
            run.finish(txn.as_abi())
        };
        if let Some(fatal) = self.staging.take_fatal() {
            self.staging.drop_row();
            return Err(Failure::store(format!(
                "store error at the end of the run: {fatal}"
            )));
        }
        match outcome.error.into_option() {
            Some(error) => {
                self.staging.drop_row();
                self.state.warnings.push(format!(
                    "the processor's final step failed, its changes were dropped: {error}"
                ));
            }
            None => self.staging.keep_row(),
        }
        if !outcome.details_json.is_empty() {
            self.state.details = serde_json::from_str(&outcome.details_json).unwrap_or_else(|e| {
                serde_json::json!({ "error": format!("the processor returned invalid details: {e}") })
            });
        }
        self.state.report_lines = outcome.report_lines.iter().map(|l| l.to_string()).collect();
        self.state
            .warnings
            .extend(outcome.warnings.iter().map(|w| w.to_string()));
        Ok(())
    }

    /// Commits the batch with the journal record, atomically.
    fn commit(&mut self, last: bool) -> Result<(), Failure> {
        self.state.spools = self.spool.flush()?;
        self.state.finished = last;
        if self.journaled {
            self.state.stage(&mut self.staging, self.name);
        }
        self.store.commit(&mut self.staging)
    }
}

fn describe_input(summary: &mut Summary, info: &FileInfo) {
    summary.encoding = Some(info.encoding.to_string());
    summary.encoding_note = info.encoding_source.to_string();
    if info.bom_removed {
        summary.encoding_note.push_str("; BOM removed");
    }
    summary.delimiter = Some(toolsync_reader::delimiter_name(info.delimiter));
    summary.delimiter_note = info.delimiter_source.to_string();
}

/// A path given on the command line is taken as is when it exists (or is absolute), else in
/// the file area; the `input` option is relative to the file area unless absolute.
fn resolve_input(data: &DataDir, file: Option<&Path>, option: &str) -> (PathBuf, String) {
    let path = match file {
        Some(p) if p.is_absolute() || p.exists() => p.to_path_buf(),
        Some(p) => data.files().join(p),
        None if Path::new(option).is_absolute() => PathBuf::from(option),
        None => data.files().join(option),
    };
    let shown = path.display().to_string();
    (path, shown)
}

fn refuse(
    data: &DataDir,
    summary: &Summary,
    input: &Path,
    outputs: &Outputs,
    zone: &clock::Zone,
    args: &RunArgs,
) -> CmdResult {
    let mut summary = summary.clone();
    summary.finished_at = clock::now();
    let stamp = zone.stamp(summary.started_at);
    publish(data, &summary, None, input, &stamp, outputs, args)?;
    Ok(ExitCode::InputRefused)
}

/// Renders the reports, stores them (`store_report`), prints one on stdout.
fn publish(
    data: &DataDir,
    summary: &Summary,
    spool_dir: Option<&Path>,
    input: &Path,
    stamp: &str,
    outputs: &Outputs,
    args: &RunArgs,
) -> Result<(), Failure> {
    let work = data.runs().join(format!("{}.report", summary.processor));
    let (txt, json) = report::render(summary, spool_dir, &work)?;
    if outputs.store_report {
        let dir = data.reports();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::io(&format!("cannot create {}", dir.display()), e))?;
        let name = file_name(input);
        let stamp = free_stamp(stamp, |s| {
            vec![
                dir.join(format!("{s}_{name}.report.txt")),
                dir.join(format!("{s}_{name}.report.json")),
            ]
        });
        copy(&txt, &dir.join(format!("{stamp}_{name}.report.txt")))?;
        copy(&json, &dir.join(format!("{stamp}_{name}.report.json")))?;
    }
    let shown = if args.json { &json } else { &txt };
    let mut stdout = std::io::stdout().lock();
    let mut file = File::open(shown).map_err(|e| Failure::io("cannot read the report", e))?;
    std::io::copy(&mut file, &mut stdout)
        .and_then(|_| stdout.flush())
        .map_err(|e| Failure::io("cannot print the report", e))?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".to_string())
}

/// `stamp`, else `stamp-2`, `stamp-3`... until none of the names it gives exists.
fn free_stamp(stamp: &str, names: impl Fn(&str) -> Vec<PathBuf>) -> String {
    let mut candidate = stamp.to_string();
    let mut n = 1;
    while names(&candidate).iter().any(|p| p.exists()) {
        n += 1;
        candidate = format!("{stamp}-{n}");
    }
    candidate
}

fn copy(from: &Path, to: &Path) -> Result<(), Failure> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| Failure::io(&format!("cannot write {}", to.display()), e))
}

/// `<base>_tryback_<stamp>.<ext>` beside the input, owner-only: users files hold passwords.
fn write_tryback(
    input: &Path,
    info: &FileInfo,
    stamp: &str,
    spool_dir: &Path,
) -> Result<PathBuf, Failure> {
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
        Failure::io(
            &format!("cannot write the tryback file {}", path.display()),
            e,
        )
    })?;
    Ok(path)
}

/// `archives/<stamp>_<name>`: a byte copy of the input.
fn archive(data: &DataDir, input: &Path, stamp: &str) -> Result<(), Failure> {
    let dir = data.archives();
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::io(&format!("cannot create {}", dir.display()), e))?;
    let name = file_name(input);
    let stamp = free_stamp(stamp, |s| vec![dir.join(format!("{s}_{name}"))]);
    copy(input, &dir.join(format!("{stamp}_{name}")))
}
