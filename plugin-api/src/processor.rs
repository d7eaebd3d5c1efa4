//! What a processor author writes: plain Rust traits, no ABI types.
//!
//! ```ignore
//! struct Hello;
//! impl Processor for Hello {
//!     fn manifest(&self) -> Manifest {
//!         Manifest::new("hello", env!("CARGO_PKG_VERSION"), "Greets", "hello.csv")
//!             .column(ColumnSpec::new("name", "text(100)", "who").required())
//!     }
//!     fn start(&self, _ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
//!         Ok(Box::new(HelloRun))
//!     }
//! }
//! toolsync_plugin_api::export_plugin!(Hello);
//! ```

use std::collections::HashMap;

use abi_stable::std_types::{ROption, RString, RVec, Tuple2};

use crate::abi::{
    protocol, ColumnSpec, Derived, Manifest, OptionSpec, OutcomeKind, RowOutcome, RunSpec,
};
pub use crate::abi::{RowRef, StartError};
use crate::model::ModelError;
use crate::schema::{self, Cell, ColumnType};
use crate::txn::{ReadTxn, StoreError, Txn};

/// A file kind.
pub trait Processor: Send + Sync + 'static {
    fn manifest(&self) -> Manifest;

    /// Starts a run: read the options, locate the columns, check what depends on options.
    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError>;
}

/// One run of a processor over one file.
pub trait RowHandler: Send + Sync + 'static {
    /// Expensive work for a row that only reads the store (password hashing), run on several
    /// threads at once when the manifest sets `parallel_prepare`. It sees the store as it was
    /// before the current chunk of rows, so `apply` re-checks what an earlier row may have
    /// changed. Its result is handed to [`RowHandler::apply`].
    fn prepare(&self, _row: &Row<'_>, _store: &ReadTxn<'_>) -> Derived {
        Derived::default()
    }

    /// The row's subject (`jdoe`), for the report line of a row that fails before `apply`
    /// sees it (a cell its column's type refuses). The row holds the cells as read, none
    /// converted.
    fn subject(&self, _row: &Row<'_>) -> String {
        String::new()
    }

    /// Applies one row; its writes commit together if it returns `Ok` with a non-failed outcome.
    fn apply(
        &mut self,
        row: &Row<'_>,
        derived: Derived,
        txn: &mut Txn<'_>,
    ) -> Result<Outcome, RowError>;

    /// After the last row.
    fn finish(&mut self, _txn: &mut Txn<'_>) -> Result<Finish, RowError> {
        Ok(Finish::default())
    }

    /// Sees one data row during the survey pass (API 1.1), with a read-only view of the store
    /// as it is before the run.
    ///
    /// Some checks concern the file as a whole and depend on the store, which `start` cannot
    /// see: course-delete refuses a file that names more existing courses than
    /// `max_delete_ratio` × the courses in the store (formats.md §3.2), and that must be
    /// decided before the first deletion. A processor whose manifest is
    /// [`Manifest::surveyed`] gets a first, separate run over the whole file before the real
    /// one — in dry runs and resumed runs too: `start`, this method for each row, then
    /// [`RowHandler::survey_verdict`]; nothing is applied. The real run then starts afresh
    /// (another `start`), so keep nothing of the survey but its verdict. The survey pass
    /// streams the file: keep what it gathers small (counts, or a set bounded by the store,
    /// not the rows). Malformed records (wrong field count...) are not surveyed; they fail
    /// later as usual. A panic here refuses the file.
    fn survey(&mut self, _row: &Row<'_>, _store: &ReadTxn<'_>) {}

    /// Decides after the survey pass: `Ok(None)` goes on; `Ok(Some(note))` goes on and the
    /// note becomes a file-level warning of the report (say so when `--force` overrode a
    /// threshold, see [`StartContext::force`]); `Err(StartError::Refused)` refuses the whole
    /// file (exit 3, nothing applied: name the numbers); `Err(StartError::BadOption)` is a
    /// usage error (exit 2).
    fn survey_verdict(&mut self, _store: &ReadTxn<'_>) -> Result<Option<String>, StartError> {
        Ok(None)
    }
}

/// What [`RowHandler::finish`] reports.
#[derive(Debug, Default)]
pub struct Finish {
    /// The JSON report's `details` object.
    pub details: Option<serde_json::Value>,
    pub report_lines: Vec<String>,
    pub warnings: Vec<String>,
}

/// Why a row failed. The reason is shown to the operator: never put a password in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub reason: String,
    /// The row's subject when known (`jdoe`), for the report line.
    pub subject: String,
}

impl RowError {
    pub fn new(reason: impl Into<String>) -> Self {
        RowError {
            reason: reason.into(),
            subject: String::new(),
        }
    }

    /// Names the row's subject, unless an inner call already did.
    pub fn about(mut self, subject: &str) -> Self {
        if self.subject.is_empty() {
            self.subject = subject.to_string();
        }
        self
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl From<String> for RowError {
    fn from(s: String) -> Self {
        RowError::new(s)
    }
}

impl From<&str> for RowError {
    fn from(s: &str) -> Self {
        RowError::new(s)
    }
}

impl From<StoreError> for RowError {
    fn from(e: StoreError) -> Self {
        RowError::new(e.to_string())
    }
}

impl From<ModelError> for RowError {
    fn from(e: ModelError) -> Self {
        RowError::new(e.to_string())
    }
}

/// Shorthand for `Err(RowError(format!(...)))`.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::RowError::new(format!($($arg)*)))
    };
}

/// A successful row's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub kind: OutcomeKind,
    pub subject: String,
    pub message: String,
    pub warnings: Vec<String>,
}

impl Outcome {
    pub fn new(kind: OutcomeKind, subject: impl Into<String>) -> Self {
        Outcome {
            kind,
            subject: subject.into(),
            message: String::new(),
            warnings: Vec::new(),
        }
    }
    pub fn created(subject: impl Into<String>) -> Self {
        Self::new(OutcomeKind::Created, subject)
    }
    pub fn updated(subject: impl Into<String>) -> Self {
        Self::new(OutcomeKind::Updated, subject)
    }
    pub fn deleted(subject: impl Into<String>) -> Self {
        Self::new(OutcomeKind::Deleted, subject)
    }
    pub fn unchanged(subject: impl Into<String>) -> Self {
        Self::new(OutcomeKind::Unchanged, subject)
    }
    pub fn checked(subject: impl Into<String>) -> Self {
        Self::new(OutcomeKind::Checked, subject)
    }
    pub fn skipped(subject: impl Into<String>) -> Self {
        Self::new(OutcomeKind::Skipped, subject)
    }

    /// Appends to the message (`; ` between parts).
    pub fn note(mut self, part: impl AsRef<str>) -> Self {
        if !self.message.is_empty() {
            self.message.push_str("; ");
        }
        self.message.push_str(part.as_ref());
        self
    }

    pub fn warn(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }
}

/// The options and columns of a run, as `start` sees them.
pub struct StartContext {
    columns: Columns,
    options: HashMap<String, String>,
    pub input: String,
    pub started_at: i64,
    pub dry_run: bool,
    /// `--force`: the operator overrides a safety threshold.
    pub force: bool,
}

impl StartContext {
    pub fn from_spec(spec: &RunSpec) -> Self {
        StartContext {
            columns: Columns::new(spec.columns.iter().map(|c| c.as_str())),
            options: spec
                .options
                .iter()
                .map(|t| (t.0.to_string(), t.1.to_string()))
                .collect(),
            input: spec.input.to_string(),
            started_at: spec.started_at,
            dry_run: spec.dry_run,
            force: spec.force,
        }
    }

    /// Whether the host fetches a chunk's reads together ([`crate::abi::protocol::PREFETCH_OPTION`]):
    /// `prepare` should then make the reads `apply` will make.
    pub fn prefetching(&self) -> bool {
        self.option(crate::abi::protocol::PREFETCH_OPTION) == "true"
    }

    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// The effective value of an option (manifest default when nobody set it).
    pub fn option(&self, key: &str) -> &str {
        self.options.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn option_bool(&self, key: &str) -> Result<bool, StartError> {
        crate::values::parse_bool(self.option(key)).map_err(|e| bad_option(key, &e))
    }

    /// One of the given words (case-insensitive), returned in lowercase.
    pub fn option_choice(&self, key: &str, choices: &[&str]) -> Result<String, StartError> {
        let value = self.option(key).to_ascii_lowercase();
        if choices.contains(&value.as_str()) {
            Ok(value)
        } else {
            Err(bad_option(
                key,
                &format!(
                    "`{}`: expected one of {}",
                    self.option(key),
                    choices.join(", ")
                ),
            ))
        }
    }

    pub fn option_int(&self, key: &str, min: i64, max: i64) -> Result<i64, StartError> {
        crate::values::parse_int(self.option(key), min, max).map_err(|e| bad_option(key, &e))
    }

    /// The folder of content-addressed files the host lends a processor that declared
    /// [`Manifest::stores_files`]; `None` when it gave none (a unit test's runner may).
    pub fn files(&self) -> Option<crate::blobs::Blobs> {
        let dir = self.option(protocol::FILES_OPTION);
        (!dir.is_empty()).then(|| crate::blobs::Blobs::new(dir))
    }

    pub fn columns_handle(&self) -> Columns {
        self.columns.clone()
    }
}

fn bad_option(key: &str, why: &str) -> StartError {
    StartError::BadOption(format!("option `{key}`: {why}").into())
}

/// Where each column of the file is, by canonical name.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    by_name: HashMap<String, usize>,
    names: Vec<String>,
}

impl Columns {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
        let by_name = names
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty())
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Columns { by_name, names }
    }

    /// Position of a column, if the file has it.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Canonical names in file order (empty for ignored columns).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The `n` present for an indexed pattern such as `course{n}`, sorted.
    pub fn indices_of(&self, pattern: &str) -> Vec<u32> {
        let mut found: Vec<u32> = self
            .names
            .iter()
            .filter_map(|name| schema::pattern_index(pattern, name))
            .collect();
        found.sort_unstable();
        found
    }
}

/// A data row, as processor code sees it: the cells as read (unquoted, trimmed, `&#44`
/// decoded) and, for the columns whose type the manifest declares, their converted values —
/// a cell that does not convert never gets here (its row failed, naming the column and the
/// value).
pub struct Row<'a> {
    pub line: u64,
    values: &'a [abi_stable::std_types::RStr<'a>],
    /// The converted value of each non-empty typed cell, in file order.
    cells: &'a [Option<Cell>],
    columns: &'a Columns,
}

impl<'a> Row<'a> {
    pub fn new(raw: RowRef<'a>, cells: &'a [Option<Cell>], columns: &'a Columns) -> Self {
        Row {
            line: raw.line,
            values: raw.values.as_slice(),
            cells,
            columns,
        }
    }

    /// The converted value of a present, non-empty cell of a typed column.
    pub fn cell(&self, column: &str) -> Option<&'a Cell> {
        self.columns
            .index(column)
            .and_then(|i| self.cells.get(i))
            .and_then(Option::as_ref)
    }

    /// A text value as its type normalised it (`lang` lowercased, `enum` words lowercased...),
    /// else the cell as read; `None` for an absent column or an empty cell.
    pub fn text(&self, column: &str) -> Option<&'a str> {
        match self.cell(column) {
            Some(Cell::Text(text)) => Some(text),
            _ => self.non_empty(column),
        }
    }

    /// An `int`, `date` or `bool` cell as a number.
    pub fn int(&self, column: &str) -> Option<i64> {
        self.cell(column).and_then(Cell::int)
    }

    /// A `bytes` cell (an archive entry's content), decoded now: read it once, where it is
    /// needed.
    pub fn bytes(&self, column: &str) -> Option<Vec<u8>> {
        match self.cell(column) {
            Some(Cell::Bytes) => self
                .non_empty(column)
                .and_then(|text| crate::schema::decode_bytes(text).ok()),
            _ => None,
        }
    }

    /// A `bool` cell.
    pub fn bool(&self, column: &str) -> Option<bool> {
        self.cell(column).and_then(Cell::bool)
    }

    /// A `date` cell, in Unix seconds (0: no date).
    pub fn date(&self, column: &str) -> Option<i64> {
        match self.cell(column) {
            Some(Cell::Date(secs)) => Some(*secs),
            _ => None,
        }
    }

    /// The value of a column; `None` when the file has no such column.
    pub fn get(&self, column: &str) -> Option<&'a str> {
        self.columns
            .index(column)
            .and_then(|i| self.values.get(i))
            .map(|v| v.as_str())
    }

    /// The value of a present, non-empty cell.
    pub fn non_empty(&self, column: &str) -> Option<&'a str> {
        self.get(column).filter(|v| !v.is_empty())
    }

    /// What the row sets an optional text field to (formats.md §2.7): the cell's text; `None`
    /// (keep the field) for an absent column or an empty cell, unless `empty_clears`, which
    /// makes a present empty cell `Some("")` (clear it).
    pub fn edit(&self, column: &str, empty_clears: bool) -> Option<&'a str> {
        match self.text(column) {
            Some(value) => Some(value),
            None if empty_clears && self.get(column).is_some() => Some(""),
            None => None,
        }
    }

    /// Every value, in file order.
    pub fn values(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.values.iter().map(|v| v.as_str())
    }
}

impl Derived {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|t| t.0.as_str() == key)
            .map(|t| t.1.as_str())
    }

    pub fn insert(&mut self, key: &str, value: String) {
        self.entries.push(Tuple2(key.into(), value.into()));
    }
}

impl From<Outcome> for RowOutcome {
    fn from(o: Outcome) -> Self {
        RowOutcome {
            kind: o.kind,
            subject: o.subject.into(),
            message: o.message.into(),
            warnings: o.warnings.into_iter().map(RString::from).collect(),
        }
    }
}

impl From<RowError> for RowOutcome {
    fn from(e: RowError) -> Self {
        RowOutcome {
            kind: OutcomeKind::Failed,
            subject: e.subject.into(),
            message: e.reason.into(),
            warnings: RVec::new(),
        }
    }
}

impl Manifest {
    pub fn new(name: &str, version: &str, description: &str, default_input: &str) -> Self {
        Manifest {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            default_input: default_input.into(),
            has_header: true,
            split_fields: true,
            parallel_prepare: false,
            columns: RVec::new(),
            options: RVec::new(),
        }
    }

    pub fn headerless(mut self) -> Self {
        self.has_header = false;
        self
    }

    /// Each physical line is one value, never split.
    pub fn whole_lines(mut self) -> Self {
        self.split_fields = false;
        self
    }

    pub fn parallel_prepare(mut self) -> Self {
        self.parallel_prepare = true;
        self
    }

    /// Asks for the survey pass before any row is applied (API 1.1, see
    /// [`RowHandler::survey`]): declares the protocol flag `_survey`, which the operator never
    /// sees nor sets.
    pub fn surveyed(self) -> Self {
        self.option(OptionSpec::new(
            protocol::SURVEY_OPTION,
            "true",
            "(protocol) the host surveys the file before applying it",
        ))
    }

    /// Asks for the survey pass only for files that have one of `columns` (API 1.6): a file
    /// without them is read once. The protocol flags `_survey` and `_survey_when` carry it; a
    /// host before 1.6 surveys every file.
    pub fn surveyed_when(self, columns: &[&str]) -> Self {
        self.surveyed().option(OptionSpec::new(
            protocol::SURVEY_WHEN_OPTION,
            &columns.join(","),
            "(protocol) the host surveys files with one of these columns only",
        ))
    }

    /// Whether the manifest asks for the survey pass (it declares `_survey`, default `true`).
    pub fn is_surveyed(&self) -> bool {
        self.flag(protocol::SURVEY_OPTION)
    }

    /// Whether a file with these columns is surveyed ([`Manifest::surveyed_when`]).
    pub fn surveys(&self, columns: &[impl AsRef<str>]) -> bool {
        if !self.is_surveyed() {
            return false;
        }
        let Some(when) = self
            .options
            .iter()
            .find(|o| o.key.as_str() == protocol::SURVEY_WHEN_OPTION)
        else {
            return true;
        };
        when.default
            .split(',')
            .map(str::trim)
            .any(|c| columns.iter().any(|have| have.as_ref() == c))
    }

    /// Declares that the processor writes nothing (API 1.2): the host refuses its writes, and
    /// its reports say that nothing was committed. The protocol flag `_read_only` carries it.
    pub fn read_only(self) -> Self {
        self.option(OptionSpec::new(
            protocol::READ_ONLY_OPTION,
            "true",
            "(protocol) the processor writes nothing",
        ))
    }

    pub fn is_read_only(&self) -> bool {
        self.flag(protocol::READ_ONLY_OPTION)
    }

    /// Declares that the processor reads zip archives, each entry a row of `path` and
    /// `content` (API 1.5): the protocol flag `_archive` carries it.
    pub fn archive_input(self) -> Self {
        self.option(OptionSpec::new(
            protocol::ARCHIVE_OPTION,
            "true",
            "(protocol) the input is zip archives, an entry a row",
        ))
    }

    pub fn is_archive(&self) -> bool {
        self.flag(protocol::ARCHIVE_OPTION)
    }

    /// Declares where the processor goes in a bundle (`toolsync runall`, the daemon's runs of
    /// one minute; API 1.6): after these processors, when they are installed. Without it, a
    /// vendor processor runs after every processor toolsync ships. The protocol flag `_after`
    /// carries the list, so hosts before 1.6 load the plugin unchanged.
    pub fn after(self, processors: &[&str]) -> Self {
        self.option(OptionSpec::new(
            protocol::AFTER_OPTION,
            &processors.join(","),
            "(protocol) the processors this one runs after in a bundle",
        ))
    }

    /// The processors declared with [`Manifest::after`].
    pub fn runs_after(&self) -> Vec<String> {
        self.options
            .iter()
            .filter(|o| o.key.as_str() == protocol::AFTER_OPTION)
            .flat_map(|o| o.default.split(',').map(|p| p.trim().to_string()))
            .filter(|p| !p.is_empty())
            .collect()
    }

    /// Declares that the processor writes content-addressed files (API 1.5): the host hands
    /// it their folder in the protocol option `_files` ([`StartContext::files`]).
    pub fn stores_files(self) -> Self {
        self.option(OptionSpec::new(
            protocol::FILES_OPTION,
            "",
            "(protocol) the folder of content-addressed files, set by the host",
        ))
    }

    pub fn has_files(&self) -> bool {
        self.options
            .iter()
            .any(|o| o.key.as_str() == protocol::FILES_OPTION)
    }

    /// Whether a protocol flag is declared with a true default.
    fn flag(&self, key: &str) -> bool {
        self.options
            .iter()
            .any(|o| o.key.as_str() == key && crate::values::parse_bool(&o.default) == Ok(true))
    }

    pub fn column(mut self, column: ColumnSpec) -> Self {
        self.columns.push(column);
        self
    }

    /// The columns whose type is outside the grammar of [`ColumnType`] (a processor's unit
    /// tests fail on them: the testing runner checks every manifest).
    pub fn type_problems(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|c| ColumnType::parse(&c.kind).is_none())
            .map(|c| {
                format!(
                    "column `{}`: `{}` is not a column type (text(n), longtext, int[a..b], bool, \
                     date, email, enum ..., key(entity), word(n), ident(n), lang, country, \
                     timezone, secret, bytes)",
                    c.name, c.kind
                )
            })
            .collect()
    }

    /// Several options at once (the brake's two, [`crate::brake::options`]).
    pub fn options(self, options: impl IntoIterator<Item = OptionSpec>) -> Self {
        options.into_iter().fold(self, Manifest::option)
    }

    pub fn option(mut self, option: OptionSpec) -> Self {
        self.options.push(option);
        self
    }
}

impl ColumnSpec {
    pub fn new(name: &str, kind: &str, description: &str) -> Self {
        ColumnSpec {
            name: name.into(),
            kind: kind.into(),
            required: false,
            description: description.into(),
            index_min: 0,
            index_max: 0,
            anchor: ROption::RNone,
            in_template: !name.contains("{n}"),
        }
    }

    /// Left out of `toolsync template` (rarely used, or not supported yet).
    pub fn not_in_template(mut self) -> Self {
        self.in_template = false;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// For a pattern with `{n}`: the accepted range of `n`.
    pub fn indexed(mut self, min: u32, max: u32) -> Self {
        self.index_min = min;
        self.index_max = max;
        self
    }

    /// A companion column needs its anchor (`role{n}` needs `course{n}`).
    pub fn anchor(mut self, pattern: &str) -> Self {
        self.anchor = ROption::RSome(pattern.into());
        self
    }

    pub fn is_pattern(&self) -> bool {
        self.name.contains("{n}")
    }
}

impl OptionSpec {
    pub fn new(key: &str, default: &str, description: &str) -> Self {
        OptionSpec {
            key: key.into(),
            default: default.into(),
            description: description.into(),
            choices: RVec::new(),
        }
    }

    pub fn choices(mut self, words: &[&str]) -> Self {
        self.choices = words.iter().map(|w| RString::from(*w)).collect();
        self
    }

    /// A boolean option: its words (formats.md §2.5) listed as its choices by `toolsync
    /// schema`; read it with [`StartContext::option_bool`].
    pub fn boolean(key: &str, default: &str, description: &str) -> Self {
        Self::new(key, default, description).choices(&BOOL_WORDS)
    }
}

/// The words a boolean option or cell takes (formats.md §2.5).
pub const BOOL_WORDS: [&str; 6] = ["true", "false", "1", "0", "yes", "no"];

/// `1 member`, `2 members`: a count in a row's message.
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[doc(hidden)]
pub fn finish_to_abi(result: Result<Finish, RowError>) -> crate::abi::FinishOutcome {
    match result {
        Ok(f) => crate::abi::FinishOutcome {
            details_json: f.details.map(|d| d.to_string()).unwrap_or_default().into(),
            report_lines: f.report_lines.into_iter().map(RString::from).collect(),
            warnings: f.warnings.into_iter().map(RString::from).collect(),
            error: ROption::RNone,
        },
        Err(e) => crate::abi::FinishOutcome {
            error: ROption::RSome(e.reason.into()),
            ..Default::default()
        },
    }
}
