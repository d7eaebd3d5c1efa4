//! Test helpers for processor authors: an in-memory store, and a runner that drives a processor
//! the way the host does — header check, [`RunSpec`] with every option, the survey run when the
//! manifest asks for it (see [`crate::abi::protocol`]), `start`, then the host's own row loop
//! ([`crate::engine::Engine`]: `prepare` on several threads for a chunk of rows, `apply` row by
//! row, each row's writes kept or dropped, the keyspace guard) over a [`MemoryBackend`]. A
//! processor's unit tests thereby exercise the code its cdylib runs, through the ABI objects,
//! without a host binary or a store on disk.
//!
//! ```ignore
//! let mut store = MemoryStore::new();
//! let report = Runner::new(MyProcessor)
//!     .option("identity", "idnumber")
//!     .run(&mut store, &["idnumber", "username"], &[&["U1", "jdoe"]])
//!     .unwrap();
//! assert_eq!(report.rows[0].kind, OutcomeKind::Created);
//! ```

use std::collections::BTreeMap;

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{ROption, RResult, RSlice, RStr, RString, RVec, Tuple2},
};

use crate::abi::{
    protocol, Entries, OutcomeKind, ProcessorBox, RowOutcome, RunSpec, StartError, TxnAbi,
    TxnAbi_TO, TxnMut, TxnRef,
};
use crate::engine::{
    split_key, AsInput, Backend, BackendError, Engine, Guard, Input, MemoryBackend, RowTxn, Scan,
    Sink, Staging, StoreFailure, Survey, Writes, SEQUENCES,
};
use crate::processor::Processor;
use crate::txn::{ReadTxn, Txn};
use crate::{schema, Manifest};

/// A store in memory. Cloning it is a snapshot; two stores are equal when they hold the same
/// entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore {
    backend: MemoryBackend,
    /// What [`MemoryStore::txn`] and [`MemoryStore::txn_as`] may write: the same rules as the
    /// host's.
    guard: Guard,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A transaction over this store with the model's rights (shared entities, through the
    /// model), for setting up a test or calling model code directly. Its writes apply at once.
    pub fn txn(&mut self) -> Txn<'_> {
        self.guard = Guard::model();
        Txn::new(TxnAbi_TO::from_ptr(self, TD_Opaque), "")
    }

    /// Like [`MemoryStore::txn`], as the processor `processor` (its own data too, through
    /// [`Txn::data`]).
    pub fn txn_as(&mut self, processor: &str) -> Txn<'_> {
        self.guard = Guard::plugin([processor]);
        Txn::new(TxnAbi_TO::from_ptr(self, TD_Opaque), processor)
    }

    /// The ABI object a row's `apply` receives, as the processor `processor` would get it.
    pub fn abi_as(&mut self, processor: &str) -> TxnMut<'_> {
        self.guard = Guard::plugin([processor]);
        TxnAbi_TO::from_ptr(self, TD_Opaque)
    }

    /// The read-only ABI object `prepare` receives.
    pub fn as_read_abi(&self) -> TxnRef<'_> {
        TxnAbi_TO::from_ptr(self, TD_Opaque)
    }

    pub fn read(&self) -> ReadTxn<'_> {
        ReadTxn::new(self.as_read_abi(), "")
    }

    /// Reads as the processor `processor` ([`ReadTxn::data`] reads its own data).
    pub fn read_as(&self, processor: &str) -> ReadTxn<'_> {
        ReadTxn::new(self.as_read_abi(), processor)
    }

    /// Makes this store hold exactly what `other` holds.
    pub fn restore_from(&self, other: &MemoryStore) {
        self.backend.restore(other.backend.entries());
    }

    /// Whether any keyspace name, key or value contains `needle` (a secret that must never be
    /// stored, for instance).
    pub fn contains_bytes(&self, needle: &[u8]) -> bool {
        let has = |hay: &[u8]| !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle);
        self.backend
            .entries()
            .iter()
            .any(|(key, value)| has(key) || has(value))
    }

    /// Number of entries in a keyspace.
    pub fn count(&self, space: &str) -> usize {
        self.backend
            .entries()
            .keys()
            .filter(|k| split_key(k).is_some_and(|(s, _)| s == space))
            .count()
    }

    /// Every `(keyspace, key)` outside the listed keyspaces (and the host's id sequences): what
    /// a cascade must not leave.
    pub fn keys_outside(&self, spaces: &[&str]) -> Vec<(String, Vec<u8>)> {
        self.backend
            .entries()
            .keys()
            .filter_map(|k| split_key(k).map(|(s, key)| (s.to_string(), key.to_vec())))
            .filter(|(s, _)| s != SEQUENCES && !spaces.contains(&s.as_str()))
            .collect()
    }
}

/// The store itself, as the engine's backend (and, through it, read by the model directly).
impl Backend for MemoryStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.backend.get(key)
    }

    fn scan(&self, prefix: &[u8]) -> Scan<'_> {
        self.backend.scan(prefix)
    }

    fn apply(&self, writes: Writes) -> Result<(), BackendError> {
        self.backend.apply(writes)
    }

    fn flush(&self) -> Result<(), BackendError> {
        self.backend.flush()
    }
}

/// Direct transactions ([`MemoryStore::txn`]): each call goes through the engine's own
/// transaction ([`RowTxn`], the same guard and staging as a run's), and its writes apply at
/// once.
impl MemoryStore {
    fn through<T>(&mut self, op: impl FnOnce(&mut RowTxn<'_>) -> T) -> T {
        let mut staging = Staging::default();
        let result = op(&mut RowTxn::new(&mut staging, &self.backend, &self.guard));
        staging.keep_row();
        // The memory backend never fails.
        let _ = self.backend.apply(staging.take_batch());
        result
    }
}

impl TxnAbi for MemoryStore {
    fn get(&self, space: RStr<'_>, key: RSlice<'_, u8>) -> RResult<ROption<RVec<u8>>, RString> {
        let mut staging = Staging::default();
        RowTxn::new(&mut staging, &self.backend, &self.guard).get(space, key)
    }

    fn put(
        &mut self,
        space: RStr<'_>,
        key: RSlice<'_, u8>,
        value: RSlice<'_, u8>,
    ) -> RResult<(), RString> {
        self.through(|txn| txn.put(space, key, value))
    }

    fn remove(&mut self, space: RStr<'_>, key: RSlice<'_, u8>) -> RResult<(), RString> {
        self.through(|txn| txn.remove(space, key))
    }

    fn scan_prefix(
        &self,
        space: RStr<'_>,
        prefix: RSlice<'_, u8>,
        limit: usize,
    ) -> RResult<Entries, RString> {
        let mut staging = Staging::default();
        RowTxn::new(&mut staging, &self.backend, &self.guard).scan_prefix(space, prefix, limit)
    }

    fn next_id(&mut self, sequence: RStr<'_>) -> RResult<u64, RString> {
        self.through(|txn| txn.next_id(sequence))
    }
}

impl Refusal {
    /// The reason of a refusal by the survey (the brake on mass changes, course-delete's
    /// threshold); panics on anything else, for tests that expect one.
    pub fn expect_survey(result: Result<Report, Refusal>) -> String {
        match result {
            Err(Refusal::Survey(e)) => match e {
                StartError::Refused(m) | StartError::BadOption(m) => m.to_string(),
            },
            other => panic!("not refused by the survey: {other:?}"),
        }
    }
}

/// Why a run did not start.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The header does not fit the schema (what the host checks before `start`).
    Header(String),
    /// `start` refused: a bad option value or a file the processor cannot take.
    Start(StartError),
    /// The survey pass refused the file, or found a bad option (API 1.1, see
    /// [`crate::RowHandler::survey_verdict`]); no row was applied. A refusal of the survey
    /// run's own `start` is a [`Refusal::Start`].
    Survey(StartError),
}

impl Refusal {
    /// The reason, whatever the kind.
    pub fn reason(&self) -> &str {
        match self {
            Refusal::Header(r) => r,
            Refusal::Start(StartError::BadOption(r) | StartError::Refused(r))
            | Refusal::Survey(StartError::BadOption(r) | StartError::Refused(r)) => r.as_str(),
        }
    }
}

/// How one row ended, as the report would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowResult {
    pub line: u64,
    pub kind: OutcomeKind,
    pub subject: String,
    /// The message, or the reason of a failed row.
    pub message: String,
    pub warnings: Vec<String>,
}

/// What a run produced.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub rows: Vec<RowResult>,
    /// `finish`'s details (JSON text, empty for `{}`), lines, warnings and error.
    pub details_json: String,
    pub report_lines: Vec<String>,
    /// File-level warnings: the survey's notes first (as in the host's report), then
    /// `finish`'s.
    pub warnings: Vec<String>,
    pub finish_error: Option<String>,
}

impl Report {
    pub fn kinds(&self) -> Vec<OutcomeKind> {
        self.rows.iter().map(|r| r.kind).collect()
    }

    /// Every text the run showed: subjects, messages, reasons, warnings.
    pub fn all_text(&self) -> String {
        let mut text = String::new();
        for row in &self.rows {
            text.push_str(&format!(
                "{} {} {}\n",
                row.subject,
                row.message,
                row.warnings.join("\n")
            ));
        }
        text.push_str(&self.details_json);
        text.push_str(&self.report_lines.join("\n"));
        text.push_str(&self.warnings.join("\n"));
        text
    }
}

/// Runs a processor over rows held in memory, the way the host runs it over a file.
pub struct Runner {
    processor: ProcessorBox,
    manifest: Manifest,
    options: BTreeMap<String, String>,
    prepare: bool,
    chunk: usize,
    started_at: i64,
    allow_unknown_columns: bool,
    force: bool,
}

/// Threads `prepare` runs on, when the manifest asks for it (the host: every core).
const PREPARE_THREADS: usize = 4;

impl Runner {
    pub fn new<P: Processor>(processor: P) -> Self {
        let processor = crate::export::boxed(processor);
        let manifest = processor.manifest();
        let problems = manifest.type_problems();
        assert!(
            problems.is_empty(),
            "{}: the manifest declares types outside the grammar: {problems:#?}",
            manifest.name
        );
        let options = manifest
            .options
            .iter()
            .map(|o| (o.key.to_string(), o.default.to_string()))
            .collect();
        Runner {
            processor,
            manifest,
            options,
            prepare: true,
            chunk: usize::MAX,
            started_at: 1_700_000_000,
            allow_unknown_columns: false,
            force: false,
        }
    }

    /// Sets an option (the manifest's own; `allow_unknown_columns` is the host's and is honoured).
    ///
    /// # Panics
    /// On a key the manifest does not declare, or a protocol flag (`_survey`...), which the
    /// operator cannot set either: a mistake in the test.
    pub fn option(mut self, key: &str, value: &str) -> Self {
        assert!(
            !protocol::is_flag(key),
            "`{key}` is a protocol flag, not an option"
        );
        if key == "allow_unknown_columns" {
            self.allow_unknown_columns =
                crate::values::parse_bool(value).expect("allow_unknown_columns is a boolean");
        }
        assert!(
            self.options.contains_key(key) || key == "allow_unknown_columns",
            "`{key}` is not an option of {}",
            self.manifest.name
        );
        self.options.insert(key.to_string(), value.to_string());
        self
    }

    /// Skips `prepare` even when the manifest asks for it (as a host without parallelism
    /// would, or when `prepare` panicked): `apply` must then do the work itself.
    pub fn without_prepare(mut self) -> Self {
        self.prepare = false;
        self
    }

    /// Rows prepared together before any of them is applied (default: all of them, so
    /// `prepare` sees the store as it was before the first row).
    pub fn chunk(mut self, rows: usize) -> Self {
        self.chunk = rows.max(1);
        self
    }

    /// The run's start ("now" for the processor), in Unix seconds.
    pub fn started_at(mut self, unix_seconds: i64) -> Self {
        self.started_at = unix_seconds;
        self
    }

    /// Runs as with `--force` (the operator overrides a safety threshold).
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// [`Runner::run`] over lines written as a file would hold them, split at `delimiter`
    /// (no quoting: test data), as in `run_lines(&mut store, "a;b", &["1;2"], ';')`.
    pub fn run_lines(
        &self,
        store: &mut MemoryStore,
        header: &str,
        rows: &[&str],
        delimiter: char,
    ) -> Result<Report, Refusal> {
        let header: Vec<&str> = header.split(delimiter).collect();
        let rows: Vec<Vec<&str>> = rows.iter().map(|r| r.split(delimiter).collect()).collect();
        let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
        self.run(store, &header, &rows)
    }

    /// One line under `header` that must fail and leave the store exactly as it was (a failed
    /// row writes nothing, formats.md §2.8); its result. Panics otherwise, naming the line.
    pub fn run_failing_line(
        &self,
        store: &mut MemoryStore,
        header: &str,
        line: &str,
        delimiter: char,
    ) -> RowResult {
        let before = store.clone();
        let mut report = self
            .run_lines(store, header, &[line], delimiter)
            .unwrap_or_else(|refusal| panic!("refused: {}", refusal.reason()));
        let result = report.rows.remove(0);
        assert_eq!(result.kind, OutcomeKind::Failed, "{line}: {result:?}");
        assert!(*store == before, "a failed row writes nothing: {line}");
        result
    }

    /// Checks the header, surveys the rows in a run of their own when the manifest asks for it
    /// ([`Manifest::surveyed`]; refusing with [`Refusal::Survey`] before any row is applied),
    /// starts the run and streams every row through the host's row loop (line 1 is the header,
    /// rows follow from line 2), then finishes and commits. A failed row's writes are
    /// discarded; so are `finish`'s when it reports an error.
    ///
    /// # Panics
    /// When a row has not as many values as the header (the host fails such rows itself).
    pub fn run(
        &self,
        store: &mut MemoryStore,
        header: &[&str],
        rows: &[&[&str]],
    ) -> Result<Report, Refusal> {
        let names: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        let check = schema::check_header(
            &self.manifest.name,
            &self.manifest.columns,
            &names,
            self.allow_unknown_columns,
        );
        if !check.problems.is_empty() {
            return Err(Refusal::Header(check.problems.join("; ")));
        }
        let spec = RunSpec {
            columns: check
                .canonical
                .iter()
                .map(|c| RString::from(c.as_str()))
                .collect(),
            options: self
                .options
                .iter()
                .map(|(k, v)| Tuple2(RString::from(k.as_str()), RString::from(v.as_str())))
                .collect(),
            input: self.manifest.default_input.clone(),
            started_at: self.started_at,
            dry_run: false,
            force: self.force,
        };
        let items = || {
            (2..).zip(rows).map(|(line, values)| {
                assert_eq!(
                    values.len(),
                    header.len(),
                    "line {line}: not as many values as the header"
                );
                MemoryRow { line, values }
            })
        };
        let mut report = Report::default();
        if self.manifest.surveys(header) {
            let mut survey =
                Survey::start(&self.processor, &spec, store).map_err(Refusal::Start)?;
            for item in items() {
                survey.item(&item);
            }
            report.warnings = survey.verdict().map_err(Refusal::Survey)?;
        }
        let mut run = self
            .processor
            .start(spec)
            .into_result()
            .map_err(Refusal::Start)?;
        let threads = if self.prepare && self.manifest.parallel_prepare {
            PREPARE_THREADS
        } else {
            1
        };
        let backend: &MemoryStore = store;
        let guard = if self.manifest.is_read_only() {
            Guard::read_only()
        } else {
            Guard::plugin([self.manifest.name.as_str()])
        };
        let mut engine = Engine::new(backend, guard)
            .prepare_on(threads)
            .chunk(self.chunk.min(rows.len()), usize::MAX);
        let mut sink = Collect(&mut report.rows);
        let memory = |e: StoreFailure| -> ! { panic!("the memory store failed: {e}") };
        engine
            .stream(&mut run, &mut items(), &mut sink)
            .unwrap_or_else(|e| memory(e));
        let finish = engine.finish(&mut run).unwrap_or_else(|e| memory(e));
        engine.commit().unwrap_or_else(|e| memory(e));
        report.details_json = finish.details_json.into();
        report.report_lines = finish.report_lines.into_iter().map(String::from).collect();
        report
            .warnings
            .extend(finish.warnings.into_iter().map(String::from));
        report.finish_error = finish.error.into_option().map(String::from);
        Ok(report)
    }
}

/// A row held in memory.
struct MemoryRow<'r> {
    line: u64,
    values: &'r [&'r str],
}

impl AsInput for MemoryRow<'_> {
    fn input(&self) -> Input<'_> {
        Input::Row {
            line: self.line,
            values: self.values.iter().map(|v| RStr::from(*v)).collect(),
        }
    }
}

/// The runner's sink: every outcome, in order; nothing is committed before the end.
struct Collect<'r>(&'r mut Vec<RowResult>);

impl Sink<MemoryRow<'_>> for Collect<'_> {
    type Error = StoreFailure;

    fn record(&mut self, item: &MemoryRow<'_>, outcome: &RowOutcome) -> Result<(), StoreFailure> {
        self.0.push(RowResult {
            line: item.line,
            kind: outcome.kind,
            subject: outcome.subject.to_string(),
            message: outcome.message.to_string(),
            warnings: outcome.warnings.iter().map(|w| w.to_string()).collect(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreRead;

    #[test]
    fn the_memory_store_scans_within_a_space_and_counts_ids() {
        let mut store = MemoryStore::new();
        {
            let mut txn = store.txn_as("p");
            let mut data = txn.data();
            data.put("a", b"k1", b"v1").unwrap();
            data.put("a", b"k2", b"v2").unwrap();
            data.put("a", b"l1", b"x").unwrap();
            data.put("b", b"k3", b"v3").unwrap();
            assert_eq!(data.next_id("s").unwrap(), 1);
            assert_eq!(data.next_id("s").unwrap(), 2);
            data.remove("a", b"k2").unwrap();
        }
        let read = store.read_as("p");
        let found = read.data().scan_prefix("a", b"k", usize::MAX).unwrap();
        assert_eq!(found, vec![(b"k1".to_vec(), b"v1".to_vec())]);
        assert_eq!(read.data().get("b", b"k3").unwrap(), Some(b"v3".to_vec()));
        assert_eq!(read.scan_prefix("p:a", b"", 1).unwrap().len(), 1);
        assert!(store.contains_bytes(b"v3"));
        assert!(!store.contains_bytes(b"v2"));
        assert_eq!(store.count("p:a"), 2);
    }

    /// The test store applies the host's rules: no `_` space, no other plugin's namespace, no
    /// keyspace outside the model.
    #[test]
    fn the_memory_store_refuses_what_the_host_refuses() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn_as("p");
        assert!(txn.data().put("a", b"k", b"v").is_ok());
        for space in ["_journal", "_meta", "q:a", "free"] {
            assert!(txn.put(space, b"k", b"v").is_err(), "{space}");
        }
        assert!(txn.next_id("_seq").is_err());
        assert!(txn.next_id("user").is_ok());
        drop(txn);
        let mut model = store.txn();
        assert!(model.data().put("a", b"k", b"v").is_err(), "no namespace");
        assert!(model.put("user", b"k", b"v").is_ok());
    }
}

#[cfg(test)]
mod survey_tests {
    use super::*;
    use crate::abi::RowRef;
    use crate::processor::{Outcome, Row, RowError, RowHandler, StartContext};
    use crate::{ColumnSpec, Derived, OptionSpec};

    /// Refuses a file naming more than `limit` existing things (unless forced), the way a
    /// delete threshold would; `panic_at` makes the survey panic on that value.
    struct Guarded;

    impl Processor for Guarded {
        fn manifest(&self) -> Manifest {
            Manifest::new("guarded", "0.1.0", "survey test", "g.csv")
                .surveyed()
                .column(ColumnSpec::new("name", "text(10)", "a thing").required())
                .option(OptionSpec::new(
                    "limit",
                    "2",
                    "existing things a file may name",
                ))
                .option(OptionSpec::new(
                    "panic_at",
                    "",
                    "a value the survey panics on",
                ))
                .option(OptionSpec::new("verdict", "", "`bad` gives a bad option"))
        }

        fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
            Ok(Box::new(GuardedRun {
                limit: ctx.option_int("limit", 0, 1000)? as u64,
                panic_at: ctx.option("panic_at").to_string(),
                bad_verdict: ctx.option("verdict") == "bad",
                force: ctx.force,
                rows: 0,
                existing: 0,
            }))
        }
    }

    struct GuardedRun {
        limit: u64,
        panic_at: String,
        bad_verdict: bool,
        force: bool,
        rows: u64,
        existing: u64,
    }

    impl RowHandler for GuardedRun {
        fn survey(&mut self, row: &Row<'_>, store: &ReadTxn<'_>) {
            let name = row.get("name").unwrap_or_default();
            if name == self.panic_at {
                panic!("cannot survey {name}");
            }
            self.rows += 1;
            if store
                .data()
                .get("things", name.as_bytes())
                .unwrap()
                .is_some()
            {
                self.existing += 1;
            }
        }

        fn survey_verdict(&mut self, store: &ReadTxn<'_>) -> Result<Option<String>, StartError> {
            if self.bad_verdict {
                return Err(StartError::BadOption("option `verdict`: bad".into()));
            }
            let total = store
                .data()
                .scan_prefix("things", b"", usize::MAX)
                .unwrap()
                .len();
            let over = self.existing > self.limit;
            if over && !self.force {
                return Err(StartError::Refused(
                    format!(
                        "the file names {} existing things, more than the limit {} ({total} in the store)",
                        self.existing, self.limit
                    )
                    .into(),
                ));
            }
            let forced = if over { " (--force)" } else { "" };
            Ok(Some(format!(
                "surveyed {} rows, {} existing{forced}",
                self.rows, self.existing
            )))
        }

        fn apply(
            &mut self,
            row: &Row<'_>,
            _derived: Derived,
            txn: &mut Txn<'_>,
        ) -> Result<Outcome, RowError> {
            let name = row.get("name").unwrap_or_default();
            txn.data().put("things", name.as_bytes(), b"1")?;
            Ok(Outcome::created(name))
        }
    }

    fn seeded() -> MemoryStore {
        let mut store = MemoryStore::new();
        let mut txn = store.txn_as("guarded");
        for name in ["a", "b", "c"] {
            txn.data().put("things", name.as_bytes(), b"1").unwrap();
        }
        drop(txn);
        store
    }

    const FILE: &[&[&str]] = &[&["a"], &["b"], &["c"], &["new"]];

    #[test]
    fn a_survey_over_the_threshold_refuses_before_any_row() {
        let mut store = seeded();
        let before = store.clone();
        let refusal = Runner::new(Guarded)
            .run(&mut store, &["name"], FILE)
            .unwrap_err();
        match &refusal {
            Refusal::Survey(StartError::Refused(r)) => {
                assert!(r.contains("3 existing") && r.contains("limit 2"), "{r}")
            }
            other => panic!("expected a survey refusal, got {other:?}"),
        }
        assert_eq!(store, before, "no row was applied");
    }

    #[test]
    fn a_survey_within_the_threshold_notes_and_goes_on() {
        let mut store = seeded();
        let report = Runner::new(Guarded)
            .option("limit", "3")
            .run(&mut store, &["name"], FILE)
            .unwrap();
        assert_eq!(report.warnings, vec!["surveyed 4 rows, 3 existing"]);
        assert_eq!(report.rows.len(), 4);
        assert_eq!(store.count("guarded:things"), 4);
    }

    #[test]
    fn force_overrides_the_threshold_and_says_so() {
        let mut store = seeded();
        let report = Runner::new(Guarded)
            .force()
            .run(&mut store, &["name"], FILE)
            .unwrap();
        assert_eq!(
            report.warnings,
            vec!["surveyed 4 rows, 3 existing (--force)"]
        );
        assert_eq!(store.count("guarded:things"), 4);
    }

    #[test]
    fn a_panic_while_surveying_refuses_the_file() {
        let mut store = seeded();
        let refusal = Runner::new(Guarded)
            .option("limit", "10")
            .option("panic_at", "b")
            .run(&mut store, &["name"], FILE)
            .unwrap_err();
        match &refusal {
            Refusal::Survey(StartError::Refused(r)) => assert_eq!(
                r.as_str(),
                "the processor panicked while surveying the file: cannot survey b"
            ),
            other => panic!("expected a survey refusal, got {other:?}"),
        }
        assert_eq!(store, seeded());
    }

    #[test]
    fn only_a_surveyed_manifest_is_surveyed_and_its_flag_stays_internal() {
        let plain = Manifest::new("plain", "0.1.0", "", "p.csv");
        assert!(!plain.is_surveyed());
        let surveyed = plain.surveyed();
        assert!(surveyed.is_surveyed());
        assert!(surveyed
            .options
            .iter()
            .all(|o| o.key.as_str() == protocol::SURVEY_OPTION && o.default.as_str() == "true"));
    }

    /// The survey phase through the ABI, as the host drives it: `prepare` surveys, `apply` is
    /// refused, `finish` carries the verdict and cannot write.
    #[test]
    fn the_survey_phase_speaks_through_the_1_0_abi() {
        let processor = crate::export::boxed(Guarded);
        let spec = |phase: bool| {
            let mut options: RVec<Tuple2<RString, RString>> = [("limit", "1"), ("panic_at", "")]
                .iter()
                .map(|(k, v)| Tuple2(RString::from(*k), RString::from(*v)))
                .collect();
            if phase {
                options.push(Tuple2(
                    protocol::PHASE_OPTION.into(),
                    protocol::PHASE_SURVEY.into(),
                ));
            }
            RunSpec {
                columns: vec![RString::from("name")].into(),
                options,
                input: "g.csv".into(),
                started_at: 0,
                dry_run: false,
                force: false,
            }
        };
        let mut store = seeded();
        let before = store.clone();
        let mut survey = processor.start(spec(true)).unwrap();
        for (line, name) in [(2, "a"), (3, "b")] {
            let values = [RStr::from(name)];
            let derived = survey.prepare(
                RowRef {
                    line,
                    values: values.as_slice().into(),
                },
                store.as_read_abi(),
            );
            assert!(derived.entries.is_empty());
        }
        let values = [RStr::from("c")];
        let row = RowRef {
            line: 4,
            values: values.as_slice().into(),
        };
        let outcome = survey.apply(row, Derived::default(), store.abi_as("guarded"));
        assert_eq!(outcome.kind, OutcomeKind::Failed);
        assert_eq!(outcome.message.as_str(), protocol::SURVEY_APPLY);
        let verdict = survey.finish(store.abi_as("guarded"));
        assert_eq!(
            verdict.error.as_ref().into_option().map(|e| e.as_str()),
            Some(
                "refused: the file names 2 existing things, more than the limit 1 (3 in the store)"
            )
        );
        assert_eq!(store, before, "the survey wrote nothing");

        // The same processor without `_phase` is an ordinary run.
        let mut run = processor.start(spec(false)).unwrap();
        let outcome = run.apply(row, Derived::default(), store.abi_as("guarded"));
        assert_eq!(outcome.kind, OutcomeKind::Created);
    }

    #[test]
    fn a_bad_option_from_the_verdict_is_a_usage_refusal() {
        let refusal = Runner::new(Guarded)
            .option("verdict", "bad")
            .run(&mut MemoryStore::new(), &["name"], FILE)
            .unwrap_err();
        assert!(
            matches!(&refusal, Refusal::Survey(StartError::BadOption(_))),
            "{refusal:?}"
        );
        assert_eq!(refusal.reason(), "option `verdict`: bad");
    }
}
