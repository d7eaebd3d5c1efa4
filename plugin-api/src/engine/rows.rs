//! The row loop (design.md §5, steps 3 and 4): rows in chunks, prepared on every core when the
//! processor asks, applied in file order, each row's writes kept or dropped, batches committed
//! when the caller's [`Sink`] says so.
//!
//! The host drives it over a file and sled; the testing runner over rows in memory and a
//! [`MemoryBackend`](super::MemoryBackend): both run this very code.

use abi_stable::std_types::{RStr, Tuple2};

use super::backend::Backend;
use super::guard::Guard;
use super::prefetch::{self, Prefetch, MAX_WAVES};
use super::staging::{ReadView, RowTxn, Staging};
use crate::abi::{
    protocol, Derived, FinishOutcome, OutcomeKind, ProcessorBox, RowOutcome, RowRef, RunBox,
    RunSpec, StartError,
};

/// Rows read ahead and prepared together.
pub const CHUNK_ROWS: usize = 256;

/// Rows read ahead together when their reads are fetched together ([`super::prefetch`]): each
/// wave of a chunk is a round trip, whatever the chunk's size.
pub const PREFETCH_CHUNK_ROWS: usize = 1_024;

/// One item of a file, as the loop sees it.
pub enum Input<'i> {
    /// A row to hand to the processor: its physical line and its values in header order.
    Row { line: u64, values: Vec<RStr<'i>> },
    /// A record that fails by itself (wrong field count, unreadable bytes, an unsafe path in
    /// an archive...).
    Malformed { line: u64, reason: &'i str },
    /// A record the host's reading rules skip without showing it to the processor (an
    /// archive's system file, formats.md §3.10).
    Skipped { line: u64, reason: &'i str },
}

/// What the loop needs to know of an item; the caller's item type keeps whatever else it needs
/// (the host: the record's raw byte range, for the tryback file).
pub trait AsInput {
    fn input(&self) -> Input<'_>;

    /// About how many bytes the item holds once prepared (an archive entry and its base64
    /// form), for the engine's chunk budget; 0 for a row of text.
    fn weight(&self) -> usize {
        0
    }
}

/// A failure of the store met while applying (I/O, a corrupt record): the run stops on it; it is
/// never counted as a failed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFailure {
    pub during: FailedDuring,
    pub message: String,
}

/// What the engine was doing when the store failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedDuring {
    /// Applying the row of this line.
    Row(u64),
    /// Committing a batch of rows already applied.
    Commit,
    /// The processor's last word, after the last row.
    Finish,
}

impl std::fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.during {
            FailedDuring::Row(line) => write!(f, "line {line}: store error: {}", self.message),
            FailedDuring::Commit => write!(f, "store error committing a batch: {}", self.message),
            FailedDuring::Finish => {
                write!(f, "store error at the end of the run: {}", self.message)
            }
        }
    }
}

impl std::error::Error for StoreFailure {}

/// Whether the loop goes on after an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Stop before the next item, with the reason (`--max-errors`).
    Stop(String),
}

/// Where the loop's results go, and when it commits.
pub trait Sink<I> {
    type Error: From<StoreFailure>;

    /// Every item's outcome, in file order (a malformed record as a failed outcome).
    fn record(&mut self, item: &I, outcome: &RowOutcome) -> Result<(), Self::Error>;

    /// After each item: commit through the engine when due, or stop.
    fn after_item(&mut self, _engine: &mut Engine<'_>) -> Result<Flow, Self::Error> {
        Ok(Flow::Continue)
    }

    /// After each chunk (a progress line).
    fn after_chunk(&mut self) {}
}

/// A run's writes on their way to a backend.
pub struct Engine<'b> {
    backend: &'b dyn Backend,
    /// The chunk's reads fetched together, when each read is a round trip
    /// ([`super::prefetch`]); rows read and commit through it.
    prefetch: Option<Prefetch<'b>>,
    staging: Staging,
    guard: Guard,
    threads: usize,
    chunk: usize,
    chunk_bytes: usize,
}

impl<'b> Engine<'b> {
    /// An engine writing to `backend` under `guard`, preparing on one thread.
    pub fn new(backend: &'b dyn Backend, guard: Guard) -> Self {
        Engine {
            backend,
            prefetch: backend
                .reads_cost_a_round_trip()
                .then(|| Prefetch::new(backend)),
            staging: Staging::default(),
            guard,
            threads: 1,
            chunk: if backend.reads_cost_a_round_trip() {
                PREFETCH_CHUNK_ROWS
            } else {
                CHUNK_ROWS
            },
            chunk_bytes: usize::MAX,
        }
    }

    /// `prepare` runs on this many threads (1: not at all; the processor did not ask).
    pub fn prepare_on(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Rows read ahead and prepared together (default [`CHUNK_ROWS`]), and no more once they
    /// weigh `bytes` ([`AsInput::weight`]; a heavier item makes a chunk alone).
    pub fn chunk(mut self, rows: usize, bytes: usize) -> Self {
        self.chunk = rows.max(1);
        self.chunk_bytes = bytes;
        self
    }

    /// The next chunk of `items`.
    fn read_chunk<I: AsInput>(&self, items: &mut impl Iterator<Item = I>, chunk: &mut Vec<I>) {
        let mut weight = 0usize;
        while chunk.len() < self.chunk && weight < self.chunk_bytes {
            let Some(item) = items.next() else { break };
            weight = weight.saturating_add(item.weight());
            chunk.push(item);
        }
    }

    pub fn backend(&self) -> &'b dyn Backend {
        self.backend
    }

    /// What rows read and commit through: the prefetch cache, or the backend.
    fn reads(&self) -> &dyn Backend {
        match &self.prefetch {
            Some(prefetch) => prefetch,
            None => self.backend,
        }
    }

    /// The staged writes (the host stages its journal record into the batch it commits with).
    pub fn staging(&mut self) -> &mut Staging {
        &mut self.staging
    }

    /// Streams items through the processor until they run out or the sink stops the loop;
    /// returns the stop reason, if any.
    pub fn stream<I: AsInput + Sync, S: Sink<I>>(
        &mut self,
        run: &mut RunBox,
        items: &mut impl Iterator<Item = I>,
        sink: &mut S,
    ) -> Result<Option<String>, S::Error> {
        let mut chunk: Vec<I> = Vec::new();
        self.read_chunk(items, &mut chunk);
        loop {
            if chunk.is_empty() {
                return Ok(None);
            }
            // While the threads prepare this chunk, this one reads the next: a reader that
            // decompresses or decodes then costs the threads no wait. (Without `prepare` the
            // next chunk is read after this one is applied, as the loop stops at a `Stop`.)
            let mut next = Vec::new();
            let derived = self.prepare(run, &chunk, || self.read_chunk(items, &mut next));
            // Each item is dropped once recorded: an archive's entries are large.
            for (item, derived) in chunk.drain(..).zip(derived) {
                let item = &item;
                let outcome = match item.input() {
                    Input::Row { line, values } => self.apply(run, line, &values, derived)?,
                    Input::Malformed { reason, .. } => not_shown(OutcomeKind::Failed, reason),
                    Input::Skipped { reason, .. } => not_shown(OutcomeKind::Skipped, reason),
                };
                sink.record(item, &outcome)?;
                if let Flow::Stop(reason) = sink.after_item(self)? {
                    return Ok(Some(reason));
                }
            }
            sink.after_chunk();
            chunk = next;
            if self.threads <= 1 {
                self.read_chunk(items, &mut chunk);
            }
        }
    }

    /// `prepare` for a chunk, spread over the threads, all reading the store as it stands
    /// before the chunk; `read_ahead` runs on this thread meanwhile (not at all on one thread).
    /// With a prefetch cache, every row is prepared (on one thread too), in waves that fetch
    /// the chunk's reads together ([`super::prefetch`]).
    fn prepare<I: AsInput + Sync>(
        &self,
        run: &RunBox,
        chunk: &[I],
        read_ahead: impl FnOnce(),
    ) -> Vec<Derived> {
        let mut derived = vec![Derived::default(); chunk.len()];
        let Some(prefetch) = &self.prefetch else {
            if self.threads > 1 {
                let all: Vec<usize> = (0..chunk.len()).collect();
                let view = ReadView::new(&self.staging, self.backend);
                for (i, d, _) in self.prepare_rows(run, chunk, &all, &view, Some(read_ahead)) {
                    derived[i] = d;
                }
            }
            return derived;
        };
        prefetch.clear();
        let view = ReadView::new(&self.staging, prefetch);
        let mut read_ahead = (self.threads > 1).then_some(read_ahead);
        let mut pending: Vec<usize> = (0..chunk.len())
            .filter(|i| matches!(chunk[*i].input(), Input::Row { .. }))
            .collect();
        for _ in 0..MAX_WAVES {
            if pending.is_empty() {
                break;
            }
            prefetch.begin_wave();
            let prepared = self.prepare_rows(run, chunk, &pending, &view, read_ahead.take());
            let fetched = prefetch.end_wave();
            pending.clear();
            for (i, d, missed) in prepared {
                if missed {
                    pending.push(i);
                } else {
                    derived[i] = d;
                }
            }
            // A failed fetch: the rows left read the backend themselves, and meet the failure
            // there, where it stops the run.
            if !matches!(fetched, Ok(true)) {
                break;
            }
        }
        // Reads that still depend on reads after as many waves: straight from the backend.
        for (i, d, _) in self.prepare_rows(run, chunk, &pending, &view, read_ahead.take()) {
            derived[i] = d;
        }
        if let Some(read_ahead) = read_ahead {
            read_ahead();
        }
        derived
    }

    /// `prepare` for the rows `rows` of `chunk` on the threads (this one only, with one), each
    /// row's result with whether it missed a read of a prefetch wave.
    fn prepare_rows<I: AsInput + Sync>(
        &self,
        run: &RunBox,
        chunk: &[I],
        rows: &[usize],
        view: &ReadView<'_>,
        read_ahead: Option<impl FnOnce()>,
    ) -> Vec<(usize, Derived, bool)> {
        let prepare_one = |i: usize| {
            let before = prefetch::misses();
            let derived = match chunk[i].input() {
                Input::Row { line, values } => run.prepare(
                    RowRef {
                        line,
                        values: values.as_slice().into(),
                    },
                    view.as_abi(),
                ),
                Input::Malformed { .. } | Input::Skipped { .. } => Derived::default(),
            };
            (i, derived, prefetch::misses() != before)
        };
        let threads = self.threads.min(rows.len());
        if threads <= 1 {
            let done = rows.iter().map(|i| prepare_one(*i)).collect();
            if let Some(read_ahead) = read_ahead {
                read_ahead();
            }
            return done;
        }
        // Each thread takes the next row not yet taken, so that rows of very uneven cost (a
        // picture of 4096×4096 among thumbnails) keep every core busy to the end of the chunk.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut done = Vec::with_capacity(rows.len());
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let (prepare_one, next) = (&prepare_one, &next);
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(i) = rows.get(at) else {
                                return done;
                            };
                            done.push(prepare_one(*i));
                        }
                    })
                })
                .collect();
            if let Some(read_ahead) = read_ahead {
                read_ahead();
            }
            // A thread that panicked leaves its rows without derived values: `apply` then
            // does their work itself.
            done.extend(
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default()),
            );
        });
        done
    }

    /// Applies one row: its writes join the batch when it succeeds, and are dropped when it
    /// fails.
    pub fn apply(
        &mut self,
        run: &mut RunBox,
        line: u64,
        values: &[RStr<'_>],
        derived: Derived,
    ) -> Result<RowOutcome, StoreFailure> {
        let row = RowRef {
            line,
            values: values.into(),
        };
        let outcome = {
            let reads = match &self.prefetch {
                Some(prefetch) => prefetch as &dyn Backend,
                None => self.backend,
            };
            let mut txn = RowTxn::new(&mut self.staging, reads, &self.guard);
            run.apply(row, derived, txn.as_abi())
        };
        let fatal = self.staging.take_fatal().or_else(|| {
            // A store failure the plugin met while reading, as its reason words it.
            (outcome.kind == OutcomeKind::Failed)
                .then(|| outcome.message.strip_prefix(protocol::STORE_FAILURE))
                .flatten()
                .map(str::to_string)
        });
        if let Some(message) = fatal {
            self.staging.drop_row();
            return Err(StoreFailure {
                during: FailedDuring::Row(line),
                message,
            });
        }
        if outcome.kind == OutcomeKind::Failed {
            self.staging.drop_row();
        } else {
            self.staging.keep_row();
        }
        Ok(outcome)
    }

    /// The processor's last word (not after an early stop); its writes commit like a row's,
    /// and are dropped when it reports an error.
    pub fn finish(&mut self, run: &mut RunBox) -> Result<FinishOutcome, StoreFailure> {
        let outcome = {
            let mut txn = RowTxn::new(&mut self.staging, self.backend, &self.guard);
            run.finish(txn.as_abi())
        };
        let fatal = self.staging.take_fatal().or_else(|| {
            outcome
                .error
                .as_ref()
                .into_option()
                .and_then(|e| e.strip_prefix(protocol::STORE_FAILURE))
                .map(str::to_string)
        });
        if let Some(message) = fatal {
            self.staging.drop_row();
            return Err(StoreFailure {
                during: FailedDuring::Finish,
                message,
            });
        }
        if outcome.error.is_some() {
            self.staging.drop_row();
        } else {
            self.staging.keep_row();
        }
        Ok(outcome)
    }

    /// Applies the staged batch atomically.
    pub fn commit(&mut self) -> Result<(), StoreFailure> {
        let batch = self.staging.take_batch();
        self.reads().apply(batch).map_err(|e| StoreFailure {
            during: FailedDuring::Commit,
            message: e.0,
        })
    }

    /// Forgets every staged write (a dry run, a rolled-back `--atomic` run).
    pub fn discard(&mut self) {
        self.staging.discard();
    }
}

/// The outcome of a record that never reached the processor.
fn not_shown(kind: OutcomeKind, reason: &str) -> RowOutcome {
    RowOutcome {
        kind,
        subject: "".into(),
        message: reason.into(),
        warnings: Default::default(),
    }
}

/// The survey pass (plugin API 1.1, see [`crate::abi::protocol`]): a first run of its own with
/// `_phase=survey`, shown every well-formed row (`prepare`) with a read-only view of the store
/// as it is before the run, then asked for its verdict (`finish`, whose writes are refused) —
/// so that a file-level threshold refuses the whole file before any row is applied.
pub struct Survey<'b> {
    run: RunBox,
    backend: &'b dyn Backend,
    staging: Staging,
}

impl<'b> Survey<'b> {
    /// Starts the survey run; a refusal of its `start` is the processor's usual refusal.
    pub fn start(
        processor: &ProcessorBox,
        spec: &RunSpec,
        backend: &'b dyn Backend,
    ) -> Result<Self, StartError> {
        let mut spec = spec.clone();
        spec.options.push(Tuple2(
            protocol::PHASE_OPTION.into(),
            protocol::PHASE_SURVEY.into(),
        ));
        Ok(Survey {
            run: processor.start(spec).into_result()?,
            backend,
            staging: Staging::default(),
        })
    }

    /// Shows one item (malformed records are not surveyed: they fail later as usual).
    pub fn item(&mut self, item: &impl AsInput) {
        if let Input::Row { line, values } = item.input() {
            let view = ReadView::new(&self.staging, self.backend);
            self.run.prepare(
                RowRef {
                    line,
                    values: values.as_slice().into(),
                },
                view.as_abi(),
            );
        }
    }

    /// The verdict: `Ok(notes)` goes on (the notes become file-level warnings), `Err` stops the
    /// run before any row.
    pub fn verdict(mut self) -> Result<Vec<String>, StartError> {
        let mut view = ReadView::new(&self.staging, self.backend);
        let outcome = self.run.finish(view.as_abi_mut());
        protocol::verdict_from_finish(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MemoryBackend;

    /// An item of a given weight.
    struct Weighing(usize);

    impl AsInput for Weighing {
        fn input(&self) -> Input<'_> {
            Input::Skipped {
                line: 1,
                reason: "",
            }
        }
        fn weight(&self) -> usize {
            self.0
        }
    }

    fn chunks(engine: &Engine<'_>, weights: &[usize]) -> Vec<Vec<usize>> {
        let mut items = weights.iter().map(|&w| Weighing(w));
        let mut chunks = Vec::new();
        loop {
            let mut chunk = Vec::new();
            engine.read_chunk(&mut items, &mut chunk);
            if chunk.is_empty() {
                return chunks;
            }
            chunks.push(chunk.iter().map(|i| i.0).collect());
        }
    }

    #[test]
    fn a_chunk_stops_at_its_row_count_or_once_it_weighs_its_budget() {
        let backend = MemoryBackend::default();
        let engine = Engine::new(&backend, Guard::read_only()).chunk(3, 10);
        assert_eq!(
            chunks(&engine, &[1, 1, 1, 1, 4, 6, 3, 25, 2]),
            [vec![1, 1, 1], vec![1, 4, 6], vec![3, 25], vec![2]]
        );
        let unbounded = Engine::new(&backend, Guard::read_only()).chunk(2, usize::MAX);
        assert_eq!(
            chunks(&unbounded, &[100, 100, 100]),
            [vec![100, 100], vec![100]]
        );
    }
}
