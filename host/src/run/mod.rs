//! A run: one processor applied to one input file, in the steps of design.md §5, one module
//! each:
//!
//! 1. [`plan`] — resolve the options, the input and the outputs;
//! 2. [`input`] — read the file by the common rules and check its header (or refuse it);
//! 3. [`survey`] — when the processor asks, show it the whole file before any row is applied;
//! 4. [`stream`] — stream the rows through the engine (`toolsync_plugin_api::engine`), a batch
//!    committed with the [`journal`] every few thousand rows;
//! 5. commit the last batch (not for a dry run nor a rolled-back `--atomic` run);
//! 6. [`finish`] — tryback, reports, archive, clean-up.

mod finish;
mod input;
mod journal;
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

use crate::clock;
use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode, ReadError, RunError};
use crate::loader::LoadedProcessor;
use crate::store::Store;
pub use journal::{Journal, SPACE as JOURNAL_SPACE};
use plan::Plan;
use progress::Progress;
use report::Summary;
use spool::Spool;
pub use stream::BATCH_ROWS;

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
}

/// Runs `processor` on the input `args` name; `known` are the processors loaded (the tables
/// `toolsync.toml` may hold).
pub fn run(
    data: &DataDir,
    processor: &LoadedProcessor,
    known: &[&str],
    args: &RunArgs,
) -> CmdResult {
    // 1. Resolve.
    let plan = Plan::resolve(data, processor, known, args)?;
    let name = plan.name.as_str();
    let store = data.open_or_create_store()?;
    // Spools and report drafts hold what the file carried: owner-only, like the store.
    finish::create_private_dir(&data.runs())?;
    let mut summary = Summary::new(name, &plan.shown, clock::now(), args.dry_run);

    // 2. Read: the header against the schema, before any row runs.
    let mut opened = match input::open(&plan, &mut summary) {
        Ok(opened) => opened,
        Err(reason) => {
            summary.refused = Some(reason);
            return finish::refused(data, &plan, summary);
        }
    };

    // A journal left by a killed run of this same file: resume after its last commit.
    let journaled = plan.journaled();
    let resumed = if journaled {
        resume(data, &store, &plan, &opened, &mut summary)?
    } else {
        None
    };
    let stamp = resumed
        .as_ref()
        .map(|j| j.stamp.clone())
        .unwrap_or_else(|| plan.zone.stamp(summary.started_at));
    let spec = plan.spec(&opened.columns, summary.started_at);

    // 3. Survey (not for a resume whose journal says everything was committed).
    let needs_survey =
        processor.manifest.is_surveyed() && !resumed.as_ref().is_some_and(|j| j.finished);
    let surveyed = if needs_survey {
        survey::survey(&plan, &spec, &store).map(|notes| summary.warnings.extend(notes))
    } else {
        Ok(())
    };
    let started = surveyed.and_then(|()| processor.processor.start(spec).into_result());
    let mut run = match started {
        Ok(run) => run,
        Err(StartError::BadOption(m)) => return Err(RunError::BadOption(m.into()).into()),
        Err(StartError::Refused(m)) => {
            summary.refused = Some(m.to_string());
            return finish::refused(data, &plan, summary);
        }
    };

    // 4. Stream the rows.
    let spool_dir = data.runs().join(name);
    if resumed.is_none() {
        let _ = std::fs::remove_dir_all(&spool_dir);
    }
    let mut spool = Spool::open(
        &spool_dir,
        resumed.as_ref().map(|j| j.spools).unwrap_or_default(),
    )?;
    let mut state = resumed.unwrap_or_else(|| {
        Journal::fresh(
            plan.input.display().to_string(),
            opened.info.fingerprint,
            opened.info.size,
            summary.started_at,
            stamp.clone(),
        )
    });
    let threads = if processor.manifest.parallel_prepare {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    };
    let guard = if processor.manifest.is_read_only() {
        Guard::read_only()
    } else {
        Guard::plugin(processor.namespaces.iter().cloned())
    };
    let mut engine = Engine::new(&store, guard).prepare_on(threads);
    let mut progress = Progress::new(opened.info.size, args.quiet);
    let source = File::open(&plan.input).map_err(|source| ReadError::Unreadable {
        path: plan.input.clone(),
        source,
    })?;
    let mut rows = stream::Rows::new(
        &mut spool,
        source,
        &mut state,
        name,
        journaled,
        args.max_errors,
        &mut progress,
    );
    if !rows.state.finished {
        rows.stream(&mut engine, &mut run, &mut opened.reader)?;
        rows.finish(&mut engine, &mut run)?;
    }

    // 5. Commit (or not) the last batch.
    let failed_rows = rows.state.tally.failed();
    let stopped = rows.state.stopped.is_some();
    let rolled_back = args.atomic && (failed_rows > 0 || stopped);
    // Done: the run's outcome stands (tryback, archive, clean-up follow); committed: and it
    // wrote to the store (a read-only processor never does).
    let done = if args.dry_run || rolled_back {
        engine.discard();
        false
    } else {
        rows.commit(&mut engine, true)?;
        store.flush_all()?;
        true
    };
    drop(rows);
    summary.comments = opened.reader.comments();
    summary.committed = done && !processor.manifest.is_read_only();
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
    if state.tally.total() == 0 {
        summary.warnings.push(if opened.info.header.is_some() {
            "no data rows: the file holds a header only".to_string()
        } else {
            "no data rows: the file holds no record".to_string()
        });
    }
    spool.flush()?;

    // 6. Finish: tryback, reports, archive, clean-up.
    if done && failed_rows > 0 && plan.outputs.tryback {
        summary.tryback = Some(finish::write_tryback(
            &plan.input,
            &opened.info,
            &stamp,
            &spool_dir,
        )?);
    }
    summary.finished_at = clock::now();
    let exit = if failed_rows > 0 || state.stopped.is_some() {
        ExitCode::RowsFailed
    } else {
        ExitCode::Ok
    };
    finish::publish(data, &plan, &summary, Some(&spool_dir), &stamp)?;
    if done {
        if plan.outputs.archive {
            let secret = secret_positions(&processor.manifest, &opened.columns);
            finish::archive(data, &plan, &opened.info, &secret, &stamp)?;
        }
        if plan.outputs.cleanup && state.stopped.is_none() {
            std::fs::remove_file(&plan.input).map_err(|e| {
                Error::output(
                    format!("cannot remove {} (cleanup)", plan.input.display()),
                    e,
                )
            })?;
        }
        if journaled {
            Journal::clear(&store, name)?;
        }
    }
    let _ = std::fs::remove_dir_all(&spool_dir);
    Ok(exit)
}

/// The positions of the file's columns whose type is `secret` (their cells are emptied in the
/// archive copy).
fn secret_positions(manifest: &Manifest, columns: &[String]) -> Vec<usize> {
    columns
        .iter()
        .enumerate()
        .filter(|(_, name)| {
            schema::match_column(&manifest.columns, name)
                .and_then(|(spec, _)| ColumnType::parse(&spec.kind))
                .is_some_and(|kind| kind.is_secret())
        })
        .map(|(i, _)| i)
        .collect()
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
        return Ok(None);
    };
    if journal.fingerprint != opened.info.fingerprint || journal.size != opened.info.size {
        summary.warnings.push(format!(
            "an interrupted run of {} on {} was abandoned: its committed rows stay, the rest was not applied",
            plan.name, journal.input
        ));
        let _ = std::fs::remove_dir_all(data.runs().join(&plan.name));
        return Ok(None);
    }
    summary.started_at = journal.started_at;
    if journal.finished {
        tracing::info!("the previous run of this file committed everything; writing its reports");
    } else {
        summary.warnings.push(format!(
            "resumed an interrupted run after {} rows already committed",
            journal.items_done
        ));
    }
    Ok(Some(journal))
}
