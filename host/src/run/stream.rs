//! Step 4, stream rows: the reader's items through the engine's row loop, every outcome to the
//! report spool (failed records' raw bytes to the tryback spool), a batch committed with the
//! journal every [`BATCH_ROWS`] rows, `--max-errors` honoured, progress drawn.

use std::cell::Cell;
use std::fs::File;
use std::rc::Rc;
use std::time::Instant;

use toolsync_archive::{Archive, EntryKind, Limits};
use toolsync_plugin_api::abi::{RowOutcome, RunBox};
use toolsync_plugin_api::engine::{Engine, Flow, Sink};
use toolsync_plugin_api::OutcomeKind;
use toolsync_reader::CsvReader;

use super::input::ReadItem;
use super::journal::Journal;
use super::progress::Progress;
use super::spool::Spool;
use crate::error::{Error, RunError, StoreError};
use crate::undo::Recorder;
use toolsync_plugin_api::blobs::Blobs;

/// Rows per committed batch: large enough to amortise the store's per-commit cost, small enough
/// that a kill loses little work and memory stays flat.
pub const BATCH_ROWS: u64 = 2_000;

/// Staged writes after which a batch commits before [`BATCH_ROWS`]: a row may make thousands of
/// writes (binding a cohort of 50,000 members makes 50,000 enrolments), and a batch of such
/// rows must not hold them all in memory.
pub const BATCH_WRITES: usize = 200_000;

/// Staged writes after which a dry run moves them to its scratch overlay: memory holds at most
/// this many of them (about 200 MB of users records), whatever the file's size. Smaller, a dry
/// run pays sled's cost per written key sooner: a dry run of 200,000 accounts does not spill.
/// `TOOLSYNC_DRY_RUN_SPILL_WRITES` sets another figure, for the tests.
pub const DRY_RUN_SPILL_WRITES: usize = 500_000;

/// [`DRY_RUN_SPILL_WRITES`], or the figure the environment sets.
pub fn dry_run_spill_writes() -> usize {
    std::env::var("TOOLSYNC_DRY_RUN_SPILL_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DRY_RUN_SPILL_WRITES)
}

/// Where the rows go, and what the loop keeps of them.
pub struct Rows<'a> {
    pub spool: &'a mut Spool,
    /// The input again, to copy failed records' raw bytes.
    pub source: File,
    pub state: &'a mut Journal,
    pub name: &'a str,
    pub journaled: bool,
    pub max_errors: Option<u64>,
    pub progress: &'a mut Progress,
    /// The stored files of a processor that writes them: made durable before each commit.
    pub files: Option<Blobs>,
    /// Rows a batch commits ([`BATCH_ROWS`] unless the run says otherwise).
    pub batch_rows: u64,
    /// The run's undo log, recorded with each batch (not for a dry run).
    pub undo: Option<Recorder>,
    /// An `--atomic` run: a stop rolls it back rather than leaving its batches committed.
    pub atomic: bool,
    /// A dry run: its staged writes move to the scratch overlay once they are this many
    /// ([`dry_run_spill_writes`], `super::overlay`).
    pub spill_at: Option<usize>,
    since_commit: u64,
    /// The line of the last item recorded.
    last_line: u64,
    /// The reader's position after the last item read (for the progress line).
    position: Rc<Cell<u64>>,
    /// When the rows began, for the log of each commit.
    started: Instant,
}

impl<'a> Rows<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spool: &'a mut Spool,
        source: File,
        state: &'a mut Journal,
        name: &'a str,
        journaled: bool,
        max_errors: Option<u64>,
        progress: &'a mut Progress,
    ) -> Self {
        Rows {
            spool,
            source,
            state,
            name,
            journaled,
            max_errors,
            progress,
            files: None,
            batch_rows: BATCH_ROWS,
            undo: None,
            atomic: false,
            spill_at: None,
            since_commit: 0,
            last_line: 0,
            position: Rc::new(Cell::new(0)),
            started: Instant::now(),
        }
    }

    /// Skips what an interrupted run already committed, then streams the rest; `stopped` is
    /// set when `--max-errors` ended the loop or the file could not be read to the end.
    pub fn stream(
        &mut self,
        engine: &mut Engine<'_>,
        run: &mut RunBox,
        reader: &mut CsvReader,
    ) -> Result<(), Error> {
        for _ in 0..self.state.items_done {
            if reader.next_item().is_none() {
                break;
            }
        }
        self.progress.tick(self.state.items_done, reader.position());
        let position = Rc::clone(&self.position);
        let mut reader_items = {
            let reader = &mut *reader;
            std::iter::from_fn(move || {
                let item = reader.next_item().map(ReadItem::Csv);
                position.set(reader.position());
                item
            })
        };
        let stopped = engine.stream(run, &mut reader_items, self)?;
        self.progress.finish();
        self.state.stopped = stopped;
        self.stop_if_unread(reader.read_error());
        Ok(())
    }

    /// [`Rows::stream`] for an archive: its entries from the first one an interrupted run did
    /// not commit (the skipped ones are not decompressed), each a row.
    pub fn stream_archive(
        &mut self,
        engine: &mut Engine<'_>,
        run: &mut RunBox,
        archive: &mut Archive,
        limits: Limits,
    ) -> Result<(), Error> {
        let position = Rc::clone(&self.position);
        let mut entries = archive.entries(limits, self.state.items_done);
        let mut items = entries.by_ref().map(|entry| {
            position.set(entry.line);
            ReadItem::entry(entry)
        });
        let stopped = engine.stream(run, &mut items, self)?;
        self.progress.finish();
        self.state.stopped = stopped;
        self.stop_if_unread(entries.read_error());
        Ok(())
    }

    /// An input that could not be read to its end stops the run, whatever the rows said: its
    /// rest was never seen, so the run must not finish as if complete.
    fn stop_if_unread(&mut self, read_error: Option<&str>) {
        if let Some(error) = read_error {
            self.state.stopped = Some(format!("the input could not be read to the end: {error}"));
        }
    }

    /// Commits the batch with the journal record, atomically. The last batch always carries
    /// the journal (an `--atomic` run's only one too): it names the finish's outputs, so that a
    /// kill during the finish is completed by the next run instead of redone.
    pub fn commit(&mut self, engine: &mut Engine<'_>, last: bool) -> Result<(), Error> {
        self.state.spools = self.spool.flush()?;
        self.state.finished = last;
        if self.last_line > 0 {
            self.state.line_done = self.last_line;
        }
        if self.journaled || last {
            self.state.stage(engine.staging(), self.name);
        }
        if let Some(undo) = &mut self.undo {
            let id = last
                .then(|| self.state.finish.as_ref().map(|f| f.run_id.as_str()))
                .flatten();
            let store = engine.backend();
            undo.stage(engine.staging(), store, id)?;
        }
        // The files the batch's records name reach the disk before the records do.
        if let Some(files) = &self.files {
            files.sync().map_err(|e| {
                StoreError::Failure(format!(
                    "cannot make the files in {} durable: {e}",
                    files.root().display()
                ))
            })?;
        }
        engine.commit()?;
        tracing::info!(
            rows = self.state.items_done,
            ok = self.state.tally.ok(),
            failed = self.state.tally.failed(),
            elapsed = ?self.started.elapsed(),
            last,
            "batch committed"
        );
        if !last {
            crate::faults::point("after-batch-commit");
        }
        Ok(())
    }

    /// The processor's last word (when it runs: see `finishes` in the run's module); its
    /// writes commit like a row's.
    pub fn finish(&mut self, engine: &mut Engine<'_>, run: &mut RunBox) -> Result<(), Error> {
        let outcome = engine.finish(run)?;
        if let Some(error) = outcome.error.into_option() {
            self.state.warnings.push(format!(
                "the processor's final step failed, its changes were dropped: {error}"
            ));
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

    fn fail(&mut self, item: &ReadItem, subject: &str, reason: &str) -> Result<(), Error> {
        let line = item.line();
        self.spool.row(line, "failed", subject, reason)?;
        self.spool.error(line, reason)?;
        match item {
            ReadItem::Csv(item) => {
                let (start, end) = item.raw_range();
                self.spool.tryback(&mut self.source, start, end)
            }
            ReadItem::Entry(entry, _) => match &entry.kind {
                // An unsafe entry is never written out again, not even into the tryback.
                EntryKind::Failed { tryback: false, .. } => Ok(()),
                _ => self.spool.tryback_entry(entry.index),
            },
        }
    }
}

impl Sink<ReadItem> for Rows<'_> {
    type Error = Error;

    fn record(&mut self, item: &ReadItem, outcome: &RowOutcome) -> Result<(), Error> {
        // Per row, so trace only: the fields are evaluated only when the level is on.
        tracing::trace!(
            line = item.line(),
            outcome = outcome.kind.as_str(),
            subject = %outcome.subject,
            detail = %outcome.message,
            "row"
        );
        self.state.tally.add(outcome.kind);
        let line = item.line();
        self.last_line = line;
        // An archive's entry: every message starts with its path (formats.md §3.10).
        let said = |text: &str| match item {
            ReadItem::Entry(entry, _) if text.is_empty() => entry.path.clone(),
            ReadItem::Entry(entry, _) => format!("{}: {text}", entry.path),
            ReadItem::Csv(_) => text.to_string(),
        };
        if outcome.kind == OutcomeKind::Failed {
            return self.fail(item, &outcome.subject, &said(&outcome.message));
        }
        self.spool.row(
            line,
            outcome.kind.as_str(),
            &outcome.subject,
            &said(&outcome.message),
        )?;
        for warning in outcome.warnings.iter() {
            self.spool.warning(Some(line), &said(warning))?;
        }
        Ok(())
    }

    fn after_item(&mut self, engine: &mut Engine<'_>) -> Result<Flow, Error> {
        self.state.items_done += 1;
        self.since_commit += 1;
        if crate::daemon::stop_requested() {
            if self.atomic {
                // Rolled back whole, as a failed row would have it.
                return Ok(Flow::Stop("the daemon is stopping".to_string()));
            }
            // The daemon stops: what the batch holds is committed with the journal, the rest
            // waits for the daemon's next start.
            if self.journaled {
                self.commit(engine, false)?;
            }
            return Err(RunError::Interrupted(format!(
                "the daemon is stopping: rows up to line {} are committed, the run resumes \
                 when it starts again",
                self.state.line_done
            ))
            .into());
        }
        if let Some(max) = self.max_errors {
            if self.state.tally.failed() >= max {
                return Ok(Flow::Stop(format!(
                    "stopped after {max} failed rows (--max-errors {max})"
                )));
            }
        }
        if self.journaled
            && (self.since_commit >= self.batch_rows
                || engine.staging().batch_len() >= BATCH_WRITES)
        {
            self.commit(engine, false)?;
            self.since_commit = 0;
        } else if self
            .spill_at
            .is_some_and(|at| engine.staging().batch_len() >= at)
        {
            let writes = engine.staging().batch_len();
            engine.commit()?;
            tracing::info!(writes, "dry run: staged writes moved to the scratch space");
            crate::faults::point("after-dry-run-spill");
        }
        Ok(Flow::Continue)
    }

    fn after_chunk(&mut self) {
        self.progress
            .tick(self.state.items_done, self.position.get());
    }
}
