#![allow(non_local_definitions, non_camel_case_types)]
//! The types that cross the host/plugin boundary.
//!
//! Everything here is `#[repr(C)]` + `StableAbi`, so abi_stable can check at load time that a
//! plugin and the host agree on every layout. Plugin authors never touch this module: they
//! implement [`crate::Processor`] and export it with [`crate::export_plugin!`]. The host uses it
//! directly.
//!
//! Forward compatibility: the root module [`PluginMod`] and the sabi traits are prefix types, so
//! a later 1.x API may append fields and methods after `last_prefix_field` without breaking
//! plugins built against an earlier 1.x. Anything else changed here is a new major version.

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

/// The state of one run.
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

    // ---- Added in API 1.1 -------------------------------------------------------------------
    //
    // Appended after `last_prefix_field`, each with a default body; later additions go below
    // and keep one. abi_stable 0.11.3 marks a defaulted method's vtable slot
    // `#[sabi(missing_field(option))]` and, when a vtable lacks it, runs the default body on the
    // caller's side (`RunAbi_TO`'s inherent method) instead of panicking. But its load-time
    // layout check refuses a library whose prefix types have FEWER fields than the host's
    // (abi_checking.rs: "too many fields"), so a 1.1 host refuses a plugin built against API
    // 1.0 at load ("rebuild the plugin"): it never calls these on a 1.0 vtable.

    /// Whether the run wants the survey pass (API 1.1): when true, the host reads the whole
    /// file once, calling [`RunAbi::survey`] for every well-formed row, then
    /// [`RunAbi::survey_verdict`], before any row is applied, in dry runs and on resume too.
    /// Meant for file-level safety thresholds that need the store (course-delete's
    /// `max_delete_ratio`), which `start` cannot see.
    fn wants_survey(&self) -> bool {
        false
    }

    /// Sees one data row during the survey pass (API 1.1). `store` is read-only and shows the
    /// store as it is before the run applies anything. Malformed records are not surveyed.
    fn survey(&mut self, _row: RowRef<'_>, _store: TxnRef<'_>) {}

    /// The survey's conclusion, after the last surveyed row (API 1.1): `Ok("")` goes on;
    /// `Ok(note)` goes on and the host adds the note to the report as a file-level warning;
    /// `Err(Refused)` refuses the whole file (exit 3, nothing applied); `Err(BadOption)` is a
    /// usage error (exit 2).
    fn survey_verdict(&mut self, _store: TxnRef<'_>) -> RResult<RString, StartError> {
        RResult::ROk(RString::new())
    }
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
