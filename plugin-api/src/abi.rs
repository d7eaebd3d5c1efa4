#![allow(non_local_definitions, non_camel_case_types)]
//! The types that cross the host/plugin boundary.
//!
//! Everything here is `#[repr(C)]` + `StableAbi`, so abi_stable can check at load time that a
//! plugin and the host agree on every layout. Plugin authors never touch this module: they
//! implement [`crate::Processor`] and export it with [`crate::export_plugin!`]. The host uses it
//! directly.
//!
//! # Compatibility: the layout is frozen at API 1.0
//!
//! design.md §3 promises that a plugin built against an older 1.x minor keeps loading. The root
//! module [`PluginMod`] and the sabi traits are abi_stable prefix types, which were meant to let
//! a minor append fields and methods after `last_prefix_field`; but abi_stable 0.11.3's
//! load-time layout check refuses a library whose prefix types have FEWER fields than the
//! host's, even for prefix types (`abi_checking.rs`, `check_fields`: "too many fields"). A host
//! whose `RunAbi` vtable had grown would refuse every plugin built against 1.0.
//!
//! So no 1.x minor may add, remove or change a field or method of any type in this module:
//! every type here is exactly as released in 1.0, and `plugin-api/tests/abi_1_0.rs` runs the
//! host's load-time check against a frozen copy of 1.0 to keep it so. New behaviour travels as
//! data over the 1.0 surface instead — reserved options in the manifest and the [`RunSpec`]
//! ([`protocol`]), the contents of [`FinishOutcome`] — and a plugin that relies on it declares
//! the newer minor, which an older host's semver check refuses. Anything that cannot be said
//! that way is a new major version.
//!
//! # Protocol flags
//!
//! Options whose key starts with `_` ([`protocol::FLAG_PREFIX`]) are protocol flags between the
//! host and the plugin-api wrapper ([`crate::export`]), not settings: the operator cannot set
//! them (toolsync.toml, `--set`) and `toolsync schema` does not list them.
//!
//! ## The survey pass (API 1.1)
//!
//! Some checks concern the file as a whole and need the store, which `start` cannot see
//! (course-delete's `max_delete_ratio`): they must be decided before the first row is applied.
//!
//! 1. The processor declares [`protocol::SURVEY_OPTION`] (`_survey`, default `true`) among its
//!    manifest's options (`Manifest::surveyed`).
//! 2. Before the real run, in dry runs and resumed runs too (but not for a resume whose journal
//!    says everything was committed), the host starts a FIRST run whose [`RunSpec::options`]
//!    also hold [`protocol::PHASE_OPTION`] = [`protocol::PHASE_SURVEY`] (`_phase=survey`).
//!    Refusals and bad options from this `start` are handled as for any `start`.
//! 3. It reads the file once with a second reader and calls [`RunAbi::prepare`] for every
//!    well-formed row (malformed records are skipped; the [`Derived`] is ignored), with a
//!    read-only view of the store as it is before the run. A read error refuses the file.
//! 4. It calls [`RunAbi::finish`] with a transaction whose writes are refused, so nothing of
//!    the survey reaches the store. In the returned [`FinishOutcome`], `error` is the verdict:
//!    `None` goes on; `Some` stops the run before any row is applied, its text starting with
//!    [`protocol::REFUSED`] (the file is refused, exit 3) or [`protocol::BAD_OPTION`] (usage
//!    error, exit 2) — text without either prefix counts as a refusal. `warnings` become
//!    file-level warnings of the report; the rest is ignored. [`RunAbi::apply`] is never called
//!    in this phase (the wrapper fails such a row: [`protocol::SURVEY_APPLY`]).
//! 5. The host drops that run and starts the real one normally, without `_phase`.
//!
//! The wrapper maps this onto `RowHandler::survey` (each row) and `RowHandler::survey_verdict`
//! (the end), catching panics: a panic refuses the file. A host older than 1.1 would not
//! survey, but it never loads a plugin built against 1.1 (semver rule).
//!
//! ## Archive input and stored files (API 1.5)
//!
//! A processor whose manifest declares [`protocol::ARCHIVE_OPTION`] (`_archive`, default
//! `true`; `Manifest::archive_input`) reads zip archives instead of CSV files (formats.md
//! §3.10): the host opens the archive, applies the archive rules (safe paths, sizes counted on
//! the bytes decompressed, system files skipped), and hands each remaining entry over as a row
//! of two values, `path` (the entry's name) and `content` (its bytes, base64 — row values are
//! text in the 1.0 ABI; the `bytes` column type decodes them). Rows are numbered by their
//! position in the archive. The host also honours the options `file_prefix`,
//! `max_archive_bytes` and `max_image_bytes` when the manifest declares them.
//!
//! A processor that declares [`protocol::FILES_OPTION`] (`_files`, `Manifest::stores_files`)
//! gets, in that option, the folder of content-addressed files of the data dir
//! ([`crate::blobs::Blobs`]), where it may write files named by their SHA-256 before a row
//! commits (a picture's PNGs); the records that name them are the store's. After each of its
//! runs, committed or not, the host removes every file no record names (see
//! `model::picture::Pictures::names`), so a failed, rolled-back or killed row leaves none.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    sabi_types::{RMut, RRef},
    std_types::{RBox, ROption, RResult, RSlice, RStr, RString, RVec, Tuple2},
    StableAbi,
};

/// The root module every plugin library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// Called once by the host right after loading, before anything else.
    pub init: extern "C" fn(host: HostServices),
    /// The processors this library provides.
    #[sabi(last_prefix_field)]
    pub processors: extern "C" fn() -> RVec<ProcessorBox>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "toolsync_plugin";
    const NAME: &'static str = "toolsync_plugin";
    /// The `plugin-api` version the plugin was compiled against: the host's semver check reads it
    /// from the library header before abi_stable's layout check runs.
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// What the host lends a plugin for its whole life.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct HostServices {
    /// Forwards a log event to the host's `tracing` subscriber (each cdylib has its own copy of
    /// every crate, so the host's subscriber does not reach plugin code by itself).
    pub log: extern "C" fn(level: LogLevel, target: RStr<'_>, message: RStr<'_>),
}

#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// A processor, boxed for the host.
pub type ProcessorBox = ProcessorAbi_TO<RBox<()>>;
/// One run of a processor, boxed for the host.
pub type RunBox = RunAbi_TO<RBox<()>>;
/// The host's transaction, lent to the plugin for one call.
pub type TxnMut<'a> = TxnAbi_TO<'a, RMut<'a, ()>>;
/// A read-only view of the store, lent to `prepare` (its writes fail).
pub type TxnRef<'a> = TxnAbi_TO<'a, RRef<'a, ()>>;

/// One processor: a file kind.
#[sabi_trait]
pub trait ProcessorAbi: Send + Sync + 'static {
    fn manifest(&self) -> Manifest;

    /// Starts a run on a file whose header the host has already checked against the manifest.
    /// The plugin checks what depends on options (required columns, option values).
    #[sabi(last_prefix_field)]
    fn start(&self, spec: RunSpec) -> RResult<RunBox, StartError>;
}

/// The state of one run. A survey run (`_phase=survey`, see [`protocol`]) uses the same
/// methods with other roles: `prepare` sees every row, `finish` gives the verdict.
#[sabi_trait]
pub trait RunAbi: Send + Sync + 'static {
    /// Expensive work that only reads the store (password hashing and checking...). The host
    /// calls it for a chunk of rows on several threads at once, when the manifest asks for it,
    /// before applying any row of the chunk: it sees the store as it was before the chunk, so
    /// `apply` must re-check whatever an earlier row of the chunk may have changed.
    fn prepare(&self, row: RowRef<'_>, store: TxnRef<'_>) -> Derived;

    /// Applies one row. Everything written through `txn` commits with the row, or not at all.
    fn apply(&mut self, row: RowRef<'_>, derived: Derived, txn: TxnMut<'_>) -> RowOutcome;

    /// Called once after the last row (not after an early stop); its writes commit like a row's.
    #[sabi(last_prefix_field)]
    fn finish(&mut self, txn: TxnMut<'_>) -> FinishOutcome;
}

/// Key/value pairs returned by a scan.
pub type Entries = RVec<Tuple2<RVec<u8>, RVec<u8>>>;

/// The store, as a plugin sees it: named keyspaces of ordered byte keys.
///
/// A row sees its own writes and those of the earlier rows of the run. Errors are store
/// failures (I/O, corruption) or refused writes; the host also notes them and stops the run.
#[sabi_trait]
pub trait TxnAbi {
    fn get(&self, space: RStr<'_>, key: RSlice<'_, u8>) -> RResult<ROption<RVec<u8>>, RString>;

    fn put(
        &mut self,
        space: RStr<'_>,
        key: RSlice<'_, u8>,
        value: RSlice<'_, u8>,
    ) -> RResult<(), RString>;

    fn remove(&mut self, space: RStr<'_>, key: RSlice<'_, u8>) -> RResult<(), RString>;

    /// Up to `limit` entries whose key starts with `prefix`, in key order.
    fn scan_prefix(
        &self,
        space: RStr<'_>,
        prefix: RSlice<'_, u8>,
        limit: usize,
    ) -> RResult<Entries, RString>;

    /// The next value of a named id sequence (1, 2, ...). Rolled back with the row.
    #[sabi(last_prefix_field)]
    fn next_id(&mut self, sequence: RStr<'_>) -> RResult<u64, RString>;
}

/// A data row: its physical line and its values in header order, already decoded, unquoted,
/// trimmed and `&#44`-decoded by the host.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct RowRef<'a> {
    pub line: u64,
    pub values: RSlice<'a, RStr<'a>>,
}

/// Values computed by [`RunAbi::prepare`], handed back to [`RunAbi::apply`].
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default)]
pub struct Derived {
    pub entries: RVec<Tuple2<RString, RString>>,
}

/// What a processor declares about itself.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct Manifest {
    pub name: RString,
    pub version: RString,
    pub description: RString,
    pub default_input: RString,
    pub has_header: bool,
    /// false: each physical line is one value, never split (course-delete).
    pub split_fields: bool,
    /// Whether the host should call `prepare` on chunks of rows in parallel.
    pub parallel_prepare: bool,
    pub columns: RVec<ColumnSpec>,
    pub options: RVec<OptionSpec>,
}

/// One column, or an indexed family of columns (`course{n}`).
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct ColumnSpec {
    /// `email`, or a pattern with one `{n}`: `course{n}`, `teacher{n}_role`.
    pub name: RString,
    /// Human-readable type: `text(100)`, `bool`, `int[0..2]`, `date`, ...
    pub kind: RString,
    /// Required whatever the options (option-dependent requirements are checked at `start`).
    pub required: bool,
    pub description: RString,
    /// For patterns: the accepted range of `n`.
    pub index_min: u32,
    pub index_max: u32,
    /// For a companion column (`role{n}`), the pattern that must be present with the same `n`
    /// (`course{n}`).
    pub anchor: ROption<RString>,
    /// Listed by `toolsync template` (plain columns a spreadsheet user fills in).
    pub in_template: bool,
}

/// A processor option with its default.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct OptionSpec {
    pub key: RString,
    pub default: RString,
    pub description: RString,
    /// The accepted words, or empty for free values (checked by the processor).
    pub choices: RVec<RString>,
}

/// What the host tells a processor when a run starts.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct RunSpec {
    /// Canonical (schema-cased) column name of each field of a row, in file order; empty for a
    /// column ignored by `allow_unknown_columns`.
    pub columns: RVec<RString>,
    /// Every option of the manifest, with its effective value.
    pub options: RVec<Tuple2<RString, RString>>,
    /// The input file, as resolved.
    pub input: RString,
    /// Unix seconds at the start of the run ("now" for defaults).
    pub started_at: i64,
    pub dry_run: bool,
    /// `--force`: the operator overrides a safety threshold.
    pub force: bool,
}

#[repr(u8)]
#[derive(StableAbi, Clone, Debug)]
pub enum StartError {
    /// An option has a bad value (usage error).
    BadOption(RString),
    /// The file cannot be processed with these options (input refused).
    Refused(RString),
}

/// The seven outcomes of formats.md §2.8.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
    Created,
    Updated,
    Deleted,
    Unchanged,
    Checked,
    Skipped,
    Failed,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 7] = [
        OutcomeKind::Created,
        OutcomeKind::Updated,
        OutcomeKind::Deleted,
        OutcomeKind::Unchanged,
        OutcomeKind::Checked,
        OutcomeKind::Skipped,
        OutcomeKind::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Created => "created",
            OutcomeKind::Updated => "updated",
            OutcomeKind::Deleted => "deleted",
            OutcomeKind::Unchanged => "unchanged",
            OutcomeKind::Checked => "checked",
            OutcomeKind::Skipped => "skipped",
            OutcomeKind::Failed => "failed",
        }
    }

    /// Counted in `rows_ok`.
    pub fn is_ok(self) -> bool {
        !matches!(self, OutcomeKind::Failed | OutcomeKind::Skipped)
    }
}

impl std::fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a row ended.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct RowOutcome {
    pub kind: OutcomeKind,
    /// The main subject (`jdoe`), for the report line.
    pub subject: RString,
    /// A message, or for `Failed` the reason. Never a password or the raw line.
    pub message: RString,
    pub warnings: RVec<RString>,
}

/// What a run returns when it finishes.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default)]
pub struct FinishOutcome {
    /// The report's processor-specific `details` object, as JSON text (empty means `{}`).
    pub details_json: RString,
    /// Extra lines for the text report.
    pub report_lines: RVec<RString>,
    pub warnings: RVec<RString>,
    /// Set when `finish` itself failed: the run's last batch is not committed.
    pub error: ROption<RString>,
}

/// Names and encodings of the protocol that travels as data over the 1.0 ABI (see the module
/// documentation). Shared by the host and the plugin-api wrapper, so both sides agree.
pub mod protocol {
    use abi_stable::std_types::{ROption, RString};

    use super::{FinishOutcome, StartError};

    /// Options whose key starts with this are protocol flags, not operator settings.
    pub const FLAG_PREFIX: &str = "_";
    /// Manifest option: the processor wants the survey pass (its default is `true`).
    pub const SURVEY_OPTION: &str = "_survey";
    /// Manifest option (API 1.2): the processor writes nothing (course-check). The host
    /// refuses its writes and its reports say `committed: no`.
    pub const READ_ONLY_OPTION: &str = "_read_only";
    /// Manifest option (API 1.5): the processor reads zip archives, an entry a row (see the
    /// module documentation).
    pub const ARCHIVE_OPTION: &str = "_archive";
    /// Manifest option (API 1.5): the processor stores files; the host sets its value to the
    /// data dir's folder of content-addressed files.
    pub const FILES_OPTION: &str = "_files";
    /// Manifest option (API 1.6): the processors this one runs after in a bundle (`toolsync
    /// runall`, the daemon), comma-separated; its default value carries the list.
    pub const AFTER_OPTION: &str = "_after";
    /// Manifest option (API 1.6): the survey pass runs only when the file has one of these
    /// columns (comma-separated; users surveys a file with a `deleted` column only).
    pub const SURVEY_WHEN_OPTION: &str = "_survey_when";
    /// Run option set to `true` by the host when each read of the store is a round trip to a
    /// server (a host that never sets it, an older one, leaves `prepare` as it was: no version
    /// needed): `prepare` is then called for every row, in waves, to learn the reads
    /// the chunk will make (see `engine::prefetch`). A processor whose `prepare` reads only
    /// for its own sake may skip those reads otherwise (they would cost an embedded store a
    /// second look-up for nothing).
    pub const PREFETCH_OPTION: &str = "_prefetch";
    /// Run option set by the host on the survey run only.
    pub const PHASE_OPTION: &str = "_phase";
    /// The value of [`PHASE_OPTION`] on the survey run.
    pub const PHASE_SURVEY: &str = "survey";
    /// Prefix of a survey's `FinishOutcome::error`: the file is refused (exit 3).
    pub const REFUSED: &str = "refused: ";
    /// Prefix of a survey's `FinishOutcome::error`: an option has a bad value (exit 2).
    pub const BAD_OPTION: &str = "bad option: ";
    /// The start of a failed row's reason (or of `finish`'s error) when the store itself failed
    /// (I/O, a damaged record): the host stops the run on it (exit 5) instead of counting a
    /// failed row. Plugins built against 1.1 and older word their store errors the same way.
    pub const STORE_FAILURE: &str = "store error: ";
    /// What a survey run's `apply` answers (the host never calls it).
    pub const SURVEY_APPLY: &str = "survey phase: rows are not applied";

    /// Whether an option key is a protocol flag.
    pub fn is_flag(key: &str) -> bool {
        key.starts_with(FLAG_PREFIX)
    }

    /// A survey's verdict as its run's `finish` returns it: `Ok(notes)` goes on, the notes
    /// becoming file-level warnings; `Err` stops before any row.
    pub fn verdict_to_finish(verdict: Result<Vec<String>, StartError>) -> FinishOutcome {
        match verdict {
            Ok(notes) => FinishOutcome {
                warnings: notes.into_iter().map(RString::from).collect(),
                ..FinishOutcome::default()
            },
            Err(e) => {
                let text = match e {
                    StartError::Refused(m) => format!("{REFUSED}{m}"),
                    StartError::BadOption(m) => format!("{BAD_OPTION}{m}"),
                };
                FinishOutcome {
                    error: ROption::RSome(text.into()),
                    ..FinishOutcome::default()
                }
            }
        }
    }

    /// The host's reading of a survey run's `finish`: the inverse of [`verdict_to_finish`]. An
    /// error without a known prefix refuses the file with its text as is.
    pub fn verdict_from_finish(outcome: FinishOutcome) -> Result<Vec<String>, StartError> {
        match outcome.error.into_option() {
            None => Ok(outcome.warnings.into_iter().map(String::from).collect()),
            Some(text) => Err(if let Some(m) = text.strip_prefix(BAD_OPTION) {
                StartError::BadOption(m.into())
            } else if let Some(m) = text.strip_prefix(REFUSED) {
                StartError::Refused(m.into())
            } else {
                StartError::Refused(text)
            }),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn verdicts_travel_through_a_finish_outcome_and_back() {
            let back = |v| verdict_from_finish(verdict_to_finish(v));
            assert_eq!(back(Ok(vec![])).unwrap(), Vec::<String>::new());
            assert_eq!(back(Ok(vec!["note".into()])).unwrap(), vec!["note"]);
            match back(Err(StartError::Refused("too many: 3".into()))) {
                Err(StartError::Refused(m)) => assert_eq!(m.as_str(), "too many: 3"),
                other => panic!("{other:?}"),
            }
            match back(Err(StartError::BadOption("option `x`: bad".into()))) {
                Err(StartError::BadOption(m)) => assert_eq!(m.as_str(), "option `x`: bad"),
                other => panic!("{other:?}"),
            }
            let plain = FinishOutcome {
                error: ROption::RSome("finish failed".into()),
                ..FinishOutcome::default()
            };
            match verdict_from_finish(plain) {
                Err(StartError::Refused(m)) => assert_eq!(m.as_str(), "finish failed"),
                other => panic!("{other:?}"),
            }
            assert!(is_flag(SURVEY_OPTION) && is_flag(PHASE_OPTION) && !is_flag("limit"));
        }
    }
}
