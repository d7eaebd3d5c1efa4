//! A run: one processor applied to one input file, in the steps of design.md §5, one module
//! each:
//!
//! 1. [`plan`] — resolve the options, the input (found by [`locate`]) and the outputs;
//! 2. [`input`] — read the file by the common rules and check its header (or refuse it);
//! 3. [`survey`] — when the processor asks, show it the whole file before any row is applied;
//! 4. [`stream`] — stream the rows through the engine (`toolsync_plugin_api::engine`), a batch
//!    committed with the [`journal`] every few thousand rows;
//! 5. commit the last batch (not for a dry run nor a rolled-back `--atomic` run);
//! 6. [`finish`] — tryback, reports, archive, clean-up.

mod copy_ahead;
mod finish;
mod input;
mod journal;
mod locate;
mod overlay;
mod plan;
mod progress;
pub mod report;
mod spool;
mod stream;
mod survey;
mod tally;

use std::fs::File;
use std::path::PathBuf;

use toolsync_plugin_api::abi::StartError;
use toolsync_plugin_api::engine::{Engine, Guard};
use toolsync_plugin_api::schema::{self, ColumnType};
use toolsync_plugin_api::Manifest;

use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode, ReadError, RunError, StoreError};
use crate::loader::LoadedProcessor;
use crate::store::Store;
use crate::{clock, faults};
use copy_ahead::CopyAhead;
pub use finish::free_stamp;
use finish::{FinishPlan, InputCopy, Secrets};
use input::Source;
pub use journal::{Journal, SPACE as JOURNAL_SPACE};
pub use locate::AREA_PREFIX;
use plan::Plan;
use progress::Progress;
use report::Summary;
use spool::Spool;
pub use stream::BATCH_ROWS;
use toolsync_plugin_api::blobs::Blobs;

/// How a run groups its rows. A CSV file's rows are light and many: the engine's chunks of
/// [`toolsync_plugin_api::engine::CHUNK_ROWS`], batches of [`BATCH_ROWS`], sled's usual cache.
/// An archive's entries are heavy and few (up to `max_image_bytes` each, milliseconds of
/// decoding), which changes all three: the one place that says how.
struct Grouping {
    /// sled's page cache.
    cache_bytes: u64,
    /// Rows a batch commits.
    batch_rows: u64,
    /// Rows a chunk holds per `prepare` thread, and the most it weighs (`None`: the engine's).
    chunk: Option<(usize, usize)>,
}

impl Grouping {
    fn of(plan: &Plan<'_>) -> Grouping {
        if plan.archive_limits.is_none() {
            return Grouping {
                cache_bytes: crate::store::CACHE_BYTES,
                batch_rows: BATCH_ROWS,
                chunk: None,
            };
        }
        Grouping {
            // A larger cache saves such a run nothing, and filled as the run went on.
            cache_bytes: crate::store::SMALL_CACHE_BYTES,
            // A commit (the stored files synced, the records written) costs far less than 200
            // entries: a kill loses little, and the batch's writes stay small — committing
            // 8,000 records at once (2,000 entries) made the store's memory jump by 30 MB.
            batch_rows: 200,
            // 8 entries a thread, so that a thread seldom waits at a chunk's end for the
            // others' last entry; at most 24 MiB of entries and their base64 forms (besides
            // the next chunk, read meanwhile), so that entries of several MB make smaller ones.
            chunk: Some((8, 24 << 20)),
        }
    }
}

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
    /// stdout gets every row (`--report full`), not only the failed ones.
    pub full_report: bool,
    pub force: bool,
    pub quiet: bool,
    /// Print no report on stdout (runall and the daemon print their own summary).
    pub silent: bool,
    /// Where each finished run's summary goes (runall, the daemon).
    pub tap: Option<Tap>,
}

/// Collects the [`Finished`] summaries of the runs made with it.
pub type Tap = std::sync::Arc<std::sync::Mutex<Vec<Finished>>>;

/// What a run that produced its report tells whoever started it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finished {
    pub processor: String,
    pub file: String,
    pub rows_total: u64,
    pub rows_ok: u64,
    pub rows_failed: u64,
    pub rows_skipped: u64,
    pub committed: bool,
    /// `ok`, `failed rows`, `stopped`, `refused`, `rolled back` or `dry run`.
    pub outcome: &'static str,
    pub exit_code: u8,
    pub refused: Option<String>,
    /// The stored JSON report, when there is one.
    pub report: Option<PathBuf>,
}

/// Runs `processor` on the input `args` name; `processors` are the manifests of every processor
/// loaded (`toolsync.toml` is checked against them).
pub fn run(
    data: &DataDir,
    processor: &LoadedProcessor,
    processors: &[&Manifest],
    args: &RunArgs,
) -> CmdResult {
    // 1. Resolve.
    let plan = Plan::resolve(data, processor, processors, args)?;
    let name = plan.name.as_str();
    let grouping = Grouping::of(&plan);
    let store = data.open_or_create_store_with_cache(grouping.cache_bytes)?;
    // Spools and report drafts hold what the file carried: owner-only, like the store.
    finish::create_private_dir(&data.runs())?;
    remove_stale_spools(data, &store);
    // A revert, or an `--atomic` run's rollback, a kill interrupted: completed first.
    let settled = if args.dry_run {
        Vec::new()
    } else {
        crate::undo::revert::settle(data, &store)?
    };
    let spool_dir = data.runs().join(name);
    if let Some(code) = finished_without_input(&store, &plan, &spool_dir)? {
        return Ok(code);
    }
    let mut summary = Summary::new(name, &plan.shown, clock::now(), args.dry_run);
    summary.warnings.extend(settled);
    // Missing, or not a regular file: refused before anything opens it.
    if let Some(reason) = &plan.input_refused {
        summary.refused = Some(reason.clone());
        return finish::refused(data, &plan, summary);
    }

    // 2. Read: the header against the schema, before any row runs.
    let mut opened = match input::open(&plan, &mut summary) {
        Ok(opened) => {
            if let Some(info) = opened.csv_info() {
                tracing::info!(
                    encoding = ?info.encoding,
                    delimiter = %char::from(info.delimiter),
                    columns = ?opened.columns,
                    size = info.size,
                    "input opened"
                );
            }
            opened
        }
        Err(reason) => {
            summary.refused = Some(reason);
            return finish::refused(data, &plan, summary);
        }
    };

    // A journal left by a killed run of this same file: resume after its last commit, or
    // only complete its finish when everything was committed.
    let resumed = if args.dry_run {
        tracing::info!("a dry run: no journal is read nor written");
        None
    } else {
        resume(data, &store, &plan, &opened, &mut summary)?
    };
    let stamp = resumed
        .as_ref()
        .map(|j| j.stamp.clone())
        .unwrap_or_else(|| plan.zone.stamp(summary.started_at));
    if resumed.is_none() {
        let _ = std::fs::remove_dir_all(&spool_dir);
    }
    let mut spool = Spool::open(
        &spool_dir,
        resumed.as_ref().map(|j| j.spools).unwrap_or_default(),
    )?;
    let mut state = resumed.unwrap_or_else(|| {
        let mut fresh = Journal::fresh(
            plan.input.display().to_string(),
            opened.fingerprint,
            opened.size,
            summary.started_at,
            stamp.clone(),
        );
        fresh.input_identity = finish::file_identity(&plan.input);
        fresh.atomic = args.atomic;
        fresh.asked = journal::Asked {
            force: args.force,
            sets: args.sets.clone(),
            max_errors: args.max_errors,
            delimiter: args.delimiter.clone(),
            encoding: args.encoding.clone(),
        };
        fresh
    });
    let read_only = processor.manifest.is_read_only();
    let guard = if read_only {
        Guard::read_only()
    } else {
        Guard::plugin(processor.namespaces.iter().cloned())
    };
    let threads = if processor.manifest.parallel_prepare {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    };
    // A dry run writes over the store into an overlay that spills to a scratch space.
    let overlay = args
        .dry_run
        .then(|| overlay::Overlay::new(&store, spool_dir.join("scratch")));
    let backend: &dyn toolsync_plugin_api::engine::Backend = match &overlay {
        Some(overlay) => overlay,
        None => &store,
    };
    let mut engine = Engine::new(backend, guard).prepare_on(threads);
    if let Some((per_thread, bytes)) = grouping.chunk {
        engine = engine.chunk(per_thread * threads, bytes);
    }

    let secrets = secrets(&processor.manifest, &opened.columns);
    let mut copy_ahead =
        (plan.outputs.archive && !args.dry_run && !state.finished && secrets.positions.is_empty())
            .then(|| CopyAhead::start(&plan.input, &spool_dir));

    if !state.finished {
        // 3. Survey, then start the processor.
        let mut spec = plan.spec(&opened.columns, summary.started_at);
        if backend.reads_cost_a_round_trip() {
            spec.options.push(abi_stable::std_types::Tuple2(
                toolsync_plugin_api::abi::protocol::PREFETCH_OPTION.into(),
                "true".into(),
            ));
        }
        // An archive is not surveyed: no archive processor asks for it.
        let surveyed = if processor.manifest.surveys(&opened.columns) && opened.csv_info().is_some()
        {
            tracing::info!("surveying the whole file before any row is applied");
            survey::survey(&plan, &spec, &store)
        } else {
            Ok(Vec::new())
        };
        let started = surveyed.and_then(|notes| {
            for note in notes {
                // A resumed run surveys again: its notes are in the journal already.
                if !state.warnings.contains(&note) {
                    state.warnings.push(note);
                }
            }
            processor
                .processor
                .start(spec)
                .into_result()
                .map_err(|e| about_the_header(e, opened.csv_info()))
        });
        let mut run = match started {
            Ok(run) => run,
            Err(StartError::BadOption(m)) => return Err(RunError::BadOption(m.into()).into()),
            Err(StartError::Refused(m)) => {
                summary.refused = Some(m.to_string());
                return finish::refused(data, &plan, summary);
            }
        };

        // 4. Stream the rows, 5. commit the last batch — stopped by a store error (a full
        // disk...), the run says up to where its rows are committed.
        let streamed = (|| -> Result<(), Error> {
            // 4. Stream the rows.
            let mut progress = Progress::new(opened.progress_total(), args.quiet);
            let source = File::open(&plan.input).map_err(|source| ReadError::Unreadable {
                path: plan.input.clone(),
                source,
            })?;
            let mut rows = stream::Rows::new(
                &mut spool,
                source,
                &mut state,
                name,
                plan.journaled(),
                args.max_errors,
                &mut progress,
            );
            if processor.manifest.has_files() {
                rows.files = Some(Blobs::new(data.stored_files()));
            }
            rows.batch_rows = grouping.batch_rows;
            rows.atomic = args.atomic;
            rows.spill_at = args.dry_run.then(stream::dry_run_spill_writes);
            // `[undo] keep_runs = 0`: no log is kept, so none is recorded, but for an --atomic
            // run, which needs its own.
            let logged = args.atomic || crate::config::HostSettings::read(data)?.undo_keep_runs > 0;
            if !args.dry_run && !read_only && logged {
                rows.undo = Some(crate::undo::Recorder::for_run(
                    &store,
                    rows.state,
                    name,
                    args.atomic,
                )?);
            }
            match &mut opened.source {
                Source::Csv { reader, .. } => {
                    rows.stream(&mut engine, &mut run, reader)?;
                    rows.state.comments = reader.comments();
                }
                Source::Archive { archive, limits } => {
                    rows.stream_archive(&mut engine, &mut run, archive, *limits)?
                }
            }
            if finishes(args, rows.state, read_only) {
                rows.finish(&mut engine, &mut run)?;
            }

            if let Some(reason) = &rows.state.stopped {
                tracing::info!(reason = %reason, "stopped early");
            }
            // 5. Commit the last batch with the finish's outputs named (not for a dry run nor a
            // rolled-back `--atomic` run, which commit nothing).
            if commits(args, rows.state) {
                let failed = rows.state.tally.failed() > 0;
                let stopped = rows.state.stopped.is_some();
                let mut outputs = FinishPlan::new(data, &plan, &stamp, failed, stopped);
                outputs.input_identity = rows.state.input_identity;
                rows.state.finish = Some(outputs);
                rows.commit(&mut engine, true)?;
                faults::point("after-last-commit");
                faults::point("before-final-flush");
                store.flush_all()?;
                faults::point("after-final-flush");
            } else {
                tracing::info!(
                    dry_run = args.dry_run,
                    atomic = args.atomic,
                    "nothing committed: the staged writes are discarded"
                );
                engine.discard();
                if let (false, Some(run)) = (args.dry_run, rows.state.undo_run) {
                    // An --atomic run that failed: the batches it committed are put back.
                    let undone = crate::undo::revert::roll_back(data, &store, run, name)?;
                    tracing::info!(keys = undone.total(), "--atomic: the run was rolled back");
                }
            }
            Ok(())
        })();
        if let Err(error) = streamed {
            return Err(stopped_by(error, &store, &plan, &opened, &mut summary));
        }
    }
    // Done: the last batch committed (now or by the run this one completes); the finish
    // follows. Not done: a dry run, or a rolled-back --atomic run.
    let done = state.finished;
    let failed_rows = state.tally.failed();
    summary.comments = state.comments;
    summary.committed = done && !read_only;
    summary.tally = state.tally.clone();
    summary.stopped = state.stopped.clone();
    summary.details = state.details.clone();
    summary.report_lines = state.report_lines.clone();
    summary.warnings.extend(state.warnings.iter().cloned());
    if args.atomic && !done {
        summary.warnings.push(
            "--atomic: rows failed, nothing was committed (the batches committed were put back)"
                .to_string(),
        );
    }
    if state.tally.total() == 0 {
        summary.warnings.push(match opened.csv_info() {
            Some(info) if info.header.is_some() => {
                "no data rows: the file holds a header only".to_string()
            }
            Some(_) => "no data rows: the file holds no record".to_string(),
            None => "no entries: the archive holds no file".to_string(),
        });
    }
    spool.flush()?;
    let exit = if failed_rows > 0 || state.stopped.is_some() {
        ExitCode::RowsFailed
    } else {
        ExitCode::Ok
    };

    // 6. Finish: tryback, reports, archive, clean-up — each once, even across kills.
    if done {
        // A journal from before the finish was journaled names no outputs: name them now.
        let outputs = state.finish.clone().unwrap_or_else(|| {
            FinishPlan::new(
                data,
                &plan,
                &stamp,
                failed_rows > 0,
                state.stopped.is_some(),
            )
        });
        summary.finished_at = outputs.finished_at;
        summary.tryback = outputs.tryback.clone();
        summary.stored = outputs.reports.as_ref().map(|r| r.txt.clone());
        outputs.complete(
            data,
            &plan,
            &summary,
            InputCopy {
                shape: opened.shape(),
                secrets: &secrets,
                ahead: copy_ahead.take(),
            },
            &spool_dir,
        )?;
        // Printing may fail (a full stdout): the run is complete all the same.
        let printed = finish::print_report(&plan, &summary, Some(&spool_dir));
        state.complete(&store, name, summary.finished_at)?;
        tracing::info!("journal cleared");
        faults::point("after-journal-clear");
        if !read_only {
            crate::undo::prune_kept(data, &store, &|_| false)?;
        }
        let _ = std::fs::remove_dir_all(&spool_dir);
        printed?;
    } else {
        summary.finished_at = clock::now();
        // Nothing committed, nothing archived: the copy stops before its folder goes.
        drop(copy_ahead.take());
        finish::publish(data, &plan, &mut summary, Some(&spool_dir), &stamp)?;
        let _ = std::fs::remove_dir_all(&spool_dir);
    }
    if processor.manifest.has_files() {
        // After the final flush: the records that name files are durable.
        crate::stored_files::sweep(data, &store)?;
    }
    tracing::info!(
        rows = state.tally.total(),
        ok = state.tally.ok(),
        failed = failed_rows,
        exit = exit as u8,
        "run finished"
    );
    Ok(exit)
}

/// Runs a processor as the operator asked: [`run`] on the named file; for an archive processor
/// given no file (formats.md §3.10), [`run`] on every `<file_prefix>*.zip` of the file area in
/// byte order of names, each a run with its own report — from the one an interrupted run was
/// on, when there is one (those before it had finished). The exit code is the worst of them.
pub fn run_processor(
    data: &DataDir,
    processor: &LoadedProcessor,
    processors: &[&Manifest],
    args: &RunArgs,
) -> CmdResult {
    if !processor.manifest.is_archive() || args.file.is_some() {
        return run(data, processor, processors, args);
    }
    let options =
        crate::config::Options::resolve(&processor.manifest, data, &args.sets, processors)?;
    // An `input` set in toolsync.toml or by --set names the one archive to read.
    if options.get("input") != processor.manifest.default_input.as_str() {
        let args = RunArgs {
            file: Some(PathBuf::from(options.get("input"))),
            ..args.clone()
        };
        return run(data, processor, processors, &args);
    }
    let prefix = options.get("file_prefix").to_string();
    // Absolute, as the journal names its input: a resumed run finds its archive again.
    let area = std::path::absolute(data.files()).unwrap_or_else(|_| data.files());
    let (mut archives, trybacks) = archives_in(&area, &prefix);
    // A run killed after its clean-up removed its archive, before it cleared its journal: its
    // stored report and exit code come first (`run` says so, and clears the journal).
    let interrupted = data.open_store().ok().and_then(|store| {
        Journal::load(&store, &processor.manifest.name)
            .ok()
            .flatten()
    });
    if let Some(journal) = &interrupted {
        let path = PathBuf::from(&journal.input);
        match archives.iter().position(|a| *a == path) {
            // Those before it had finished.
            Some(at) => drop(archives.drain(..at)),
            None if journal.finished && !path.exists() => archives.insert(0, path),
            None => {}
        }
    }
    if archives.is_empty() {
        let skipped = match trybacks {
            0 => String::new(),
            n => format!(
                " ({n} tryback archive{} there not read)",
                if n == 1 { "" } else { "s" }
            ),
        };
        return Err(RunError::Refused(format!(
            "no archive named {prefix}*.zip in the file area {}{skipped}: put one there, or name \
             one (toolsync run {} FILE.zip)",
            area.display(),
            processor.manifest.name
        ))
        .into());
    }
    let mut worst = ExitCode::Ok;
    for archive in archives {
        let args = RunArgs {
            file: Some(archive),
            ..args.clone()
        };
        let code = run(data, processor, processors, &args)?;
        if code as u8 > worst as u8 {
            worst = code;
        }
    }
    Ok(worst)
}

/// What a run of a processor with no `FILE` would read, as found in the file area.
pub struct DefaultInputs {
    /// Its `input` file (something there but not a regular file counts: the run says why it
    /// refuses it), or for an archive processor each of its archives there; empty when there
    /// is nothing to run.
    pub inputs: Vec<PathBuf>,
    /// The processor's `rerun_unchanged` option.
    pub rerun_unchanged: bool,
}

/// The inputs a run of `processor` with no `FILE` would read (options resolved once).
pub fn default_inputs(
    data: &DataDir,
    processor: &LoadedProcessor,
    processors: &[&Manifest],
) -> Result<DefaultInputs, Error> {
    let manifest = &processor.manifest;
    let options = crate::config::Options::resolve(manifest, data, &[], processors)?;
    let rerun_unchanged = options.flag("rerun_unchanged")?;
    let input = options.get("input");
    let inputs = if manifest.is_archive() && input == manifest.default_input.as_str() {
        // Absolute, as `run_processor` names them (and the journal, and the applied record).
        let area = std::path::absolute(data.files()).unwrap_or_else(|_| data.files());
        archives_in(&area, options.get("file_prefix")).0
    } else {
        let located = locate::locate(&data.files(), None, input);
        std::fs::symlink_metadata(&located.path)
            .is_ok()
            .then_some(located.path)
            .into_iter()
            .collect()
    };
    Ok(DefaultInputs {
        inputs,
        rerun_unchanged,
    })
}

/// Whether every one of `inputs` holds the content the last completed run of the processor of
/// `manifest` on it applied (same fingerprint and size). False for no input.
pub fn applied_already(
    data: &DataDir,
    manifest: &Manifest,
    inputs: &[PathBuf],
) -> Result<bool, Error> {
    if inputs.is_empty() || !data.has_store() {
        return Ok(false);
    }
    let store = data.open_store()?;
    for input in inputs {
        let Some(applied) = journal::applied(&store, &manifest.name, &input.display().to_string())?
        else {
            return Ok(false);
        };
        let unreadable = |e: std::io::Error| ReadError::Unreadable {
            path: input.to_path_buf(),
            source: e,
        };
        let (fingerprint, size) = if manifest.is_archive() {
            let archive = toolsync_archive::Archive::open(input)
                .map_err(|why| unreadable(std::io::Error::other(why)))?;
            (archive.fingerprint(), archive.size())
        } else {
            toolsync_reader::fingerprint_file(input).map_err(unreadable)?
        };
        if (applied.fingerprint, applied.size) != (fingerprint, size) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The regular files of `dir` named `<prefix>…zip` (case-insensitive), in byte order of names,
/// and how many of the names were trybacks (`…_tryback_…`), which are left out: a tryback is
/// for the operator to fix and run by name.
fn archives_in(dir: &std::path::Path, prefix: &str) -> (Vec<PathBuf>, usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (Vec::new(), 0);
    };
    let prefix = prefix.to_lowercase();
    let (mut found, trybacks): (Vec<PathBuf>, Vec<PathBuf>) = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_lowercase();
            name.starts_with(&prefix) && name.ends_with(".zip")
        })
        .map(|e| e.path())
        .partition(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().to_lowercase().contains("_tryback_"))
        });
    found.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    (found, trybacks.len())
}

/// A run stopped by an error while streaming or committing. A store error (a full disk, I/O,
/// damage) says how far the committed rows go — the journal of the last commit knows — and the
/// summary of what is committed is printed; the run resumes from there when started again.
fn stopped_by(
    error: Error,
    store: &Store,
    plan: &Plan<'_>,
    opened: &input::Opened,
    summary: &mut Summary,
) -> Error {
    let Error::Store(cause) = error else {
        return error;
    };
    if store.vanished() {
        return cause.into();
    }
    // A batch a server is still committing is waited for: the journal read next must be the
    // store's, not the one sent with that batch (which may be what failed).
    let _ = store.settle();
    let committed = Journal::load(store, &plan.name)
        .map(|j| j.filter(|j| j.fingerprint == opened.fingerprint && j.size == opened.size));
    let position = match committed.as_ref().map(|j| j.as_ref().map(|j| j.line_done)) {
        Ok(Some(line)) if line > 0 => format!(
            "rows up to line {line} are committed, none after it: run the file again to resume"
        ),
        Ok(_) => "no row of this file was committed: run the file again".to_string(),
        Err(_) => "the store cannot say now how far the committed rows go: run the file again \
                   once it is back, to resume after them"
            .to_string(),
    };
    let committed = committed.ok().flatten();
    let message = format!("{cause}; {position}");
    if let Some(journal) = committed {
        summary.tally = journal.tally;
        summary.committed = true;
    }
    summary.stopped = Some(message.clone());
    summary.finished_at = clock::now();
    let _ = finish::print_report(plan, summary, None);
    StoreError::Failure(message).into()
}

/// Removes the spools no journal points at: a run killed after clearing its journal, before
/// removing its spool, leaves one (it holds what the file carried). This process holds the
/// store, so no other run is using them. Best effort: a spool that stays is only a work file.
fn remove_stale_spools(data: &DataDir, store: &Store) {
    let Ok(entries) = std::fs::read_dir(data.runs()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && matches!(Journal::load(store, &name), Ok(None)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether a run's outcome commits: not a dry run, and not a rolled-back `--atomic` run.
fn commits(args: &RunArgs, state: &Journal) -> bool {
    !args.dry_run && !rolled_back(args, state)
}

/// An `--atomic` run with a failed row or an early stop: nothing of it is committed.
fn rolled_back(args: &RunArgs, state: &Journal) -> bool {
    args.atomic && (state.tally.failed() > 0 || state.stopped.is_some())
}

/// Whether the processor's final step (`finish`) runs. It acts on what the rows did
/// (group-members purges the empty groups of the file's courses, formats.md §3.9), so it runs
/// only when the rows stand: not after an early stop (`--max-errors`), whose rows stay
/// committed though the file was not applied to its end, nor before an `--atomic` rollback,
/// which would drop its writes while its report said they were done. A processor that writes
/// nothing has nothing rolled back: its final step, a report (course-check's lists), runs
/// after a rollback too. A dry run finishes, to say what the final step would do.
fn finishes(args: &RunArgs, state: &Journal, read_only: bool) -> bool {
    state.stopped.is_none() && (read_only || !rolled_back(args, state))
}

/// `start` sees the file's columns and the options only, so when it refuses a file that has a
/// header, the refusal is about that header (a column an option requires, a forbidden
/// combination): it names the line taken as the header, as every header refusal does.
fn about_the_header(error: StartError, info: Option<&toolsync_reader::FileInfo>) -> StartError {
    match (error, info.and_then(|info| info.header.as_ref())) {
        (StartError::Refused(m), Some(header)) => {
            StartError::Refused(toolsync_reader::header_refusal(header.line, m.as_str()).into())
        }
        (error, _) => error,
    }
}

/// The columns the archive empties.
fn secrets(manifest: &Manifest, columns: &[String]) -> Secrets {
    let positions = columns
        .iter()
        .enumerate()
        .filter(|(_, name)| {
            schema::match_column(&manifest.columns, name)
                .and_then(|(spec, _)| ColumnType::parse(&spec.kind))
                .is_some_and(|kind| kind.is_secret())
        })
        .map(|(i, _)| i)
        .collect();
    Secrets {
        positions,
        columns: columns.len(),
    }
}

/// A run killed after its finish removed the input (`cleanup`) and before its journal was
/// cleared: everything was written, only the journal is left. It is cleared, and the exit
/// code is the run's.
fn finished_without_input(
    store: &Store,
    plan: &Plan<'_>,
    spool_dir: &std::path::Path,
) -> Result<Option<ExitCode>, Error> {
    if plan.input.exists() {
        return Ok(None);
    }
    let Some(journal) = Journal::load(store, &plan.name)? else {
        return Ok(None);
    };
    let cleaned = journal.finish.as_ref().is_some_and(|f| f.cleanup);
    if !(journal.finished && cleaned && journal.input == plan.input.display().to_string()) {
        return Ok(None);
    }
    journal.complete(store, &plan.name, clock::now())?;
    let _ = std::fs::remove_dir_all(spool_dir);
    crate::output::note(format!(
        "the last run of {} on {} had finished and removed its input; its stored report follows",
        plan.name, journal.input
    ));
    // Its report, as stored (every row), in the form asked for.
    if let Some(reports) = journal.finish.as_ref().and_then(|f| f.reports.as_ref()) {
        let stored = if plan.args.json {
            &reports.json
        } else {
            &reports.txt
        };
        let mut file = File::open(stored)
            .map_err(|e| Error::output(format!("cannot read {}", stored.display()), e))?;
        let mut out = crate::output::Out::stdout();
        out.copy_from(&mut file)?;
        out.flush()?;
    }
    Ok(Some(
        if journal.tally.failed() > 0 || journal.stopped.is_some() {
            ExitCode::RowsFailed
        } else {
            ExitCode::Ok
        },
    ))
}

/// The journal of an interrupted run of this processor, if it ran on this same file; a journal
/// of another file is abandoned (its committed rows stay), with a warning.
fn resume(
    data: &DataDir,
    store: &Store,
    plan: &Plan<'_>,
    opened: &input::Opened,
    summary: &mut Summary,
) -> Result<Option<Journal>, Error> {
    let Some(journal) = Journal::load(store, &plan.name)? else {
        tracing::info!("no interrupted run to resume: starting from the first row");
        return Ok(None);
    };
    let other_file = journal.fingerprint != opened.fingerprint || journal.size != opened.size;
    // An --atomic run commits all or nothing: it does not take over the rows of an
    // interrupted batch-by-batch run (they stay committed and come out `unchanged`).
    let atomic_over_partial = plan.args.atomic && !journal.finished;
    if other_file || atomic_over_partial {
        tracing::info!(
            journal_input = %journal.input,
            committed = journal.items_done,
            other_file,
            "not resuming the interrupted run: its journal is abandoned"
        );
        summary.warnings.push(if journal.finished {
            format!(
                "an interrupted run of {} on {} had committed every row but not finished: its tryback, reports or archive may be missing",
                plan.name, journal.input
            )
        } else {
            format!(
                "an interrupted run of {} on {} was abandoned: its committed rows stay, the rest was not applied",
                plan.name, journal.input
            )
        });
        let _ = std::fs::remove_dir_all(data.runs().join(&plan.name));
        return Ok(None);
    }
    summary.started_at = journal.started_at;
    if journal.finished {
        tracing::info!("the previous run of this file committed everything; writing its reports");
    } else {
        tracing::info!(
            committed = journal.items_done,
            "resuming an interrupted run of this file after its last commit"
        );
        summary.warnings.push(format!(
            "resumed an interrupted run after {} rows already committed",
            journal.items_done
        ));
    }
    Ok(Some(journal))
}
