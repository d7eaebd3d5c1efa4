//! Errors, one enum per domain, and the one place they become exit codes (design.md §6).
//!
//! A command returns `Result<ExitCode, Error>`: `Ok` when it did its job, whatever the rows
//! said (`1` for failed rows is an outcome, not an error); `Err` when it could not do it.
//! [`Error::exit_code`] is the only mapping from an error to a code, so scripts can rely on
//! `2` usage, `3` input refused, `4` processor, `5` store.

use std::path::PathBuf;

use thiserror::Error;

/// Exit codes scripts rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Every row succeeded.
    Ok = 0,
    /// The run finished with failed rows (or a lookup found nothing, or a check found damage).
    RowsFailed = 1,
    Usage = 2,
    /// Input refused: header, encoding, threshold, unreadable.
    InputRefused = 3,
    /// Processor unknown or plugin refused.
    Processor = 4,
    /// Store error: locked by another process, corrupt, I/O.
    Store = 5,
}

impl ExitCode {
    /// The code of a number a run returned (an unknown number is a store error, the worst).
    pub fn from_code(code: u8) -> ExitCode {
        [
            ExitCode::Ok,
            ExitCode::RowsFailed,
            ExitCode::Usage,
            ExitCode::InputRefused,
            ExitCode::Processor,
            ExitCode::Store,
        ]
        .into_iter()
        .find(|c| *c as u8 == code)
        .unwrap_or(ExitCode::Store)
    }
}

/// Anything that stops a command.
#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Loader(#[from] LoaderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Run(#[from] RunError),
}

impl Error {
    /// The one mapping from errors to exit codes.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) | Error::Config(_) => ExitCode::Usage,
            Error::Loader(_) => ExitCode::Processor,
            Error::Store(_) => ExitCode::Store,
            Error::Read(_) => ExitCode::InputRefused,
            Error::Run(e) => match e {
                RunError::BadOption(_) => ExitCode::Usage,
                RunError::Refused(_) => ExitCode::InputRefused,
                RunError::Interrupted(_) => ExitCode::RowsFailed,
                RunError::Output { .. } => ExitCode::Store,
            },
        }
    }

    /// A usage error with its message.
    pub fn usage(message: impl Into<String>) -> Self {
        UsageError(message.into()).into()
    }

    /// An I/O error on an output (a report, the archive, stdout).
    pub fn output(what: impl Into<String>, source: std::io::Error) -> Self {
        RunError::Output {
            what: what.into(),
            source,
        }
        .into()
    }
}

/// A command line that cannot be run as written.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `toolsync.toml` and option values.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}: unknown table [{table}]{hint}: a table is named after a processor ({known})", path.display())]
    UnknownTable {
        path: PathBuf,
        table: String,
        /// `: did you mean [users]?`, or empty.
        hint: String,
        known: String,
    },
    /// A top-level `key = value`: options belong to a processor's table.
    #[error("{}: `{key}` is a key outside any table: an option goes in the table of its processor{hint}", path.display())]
    OutsideTable {
        path: PathBuf,
        key: String,
        /// `: [users] has this option`, or the tables there may be.
        hint: String,
    },
    #[error("{}: `{table}` must be a table ([{table}])", path.display())]
    NotATable { path: PathBuf, table: String },
    #[error("{}: [{table}] {key}: expected a string, number or boolean, found {found}", path.display())]
    NotAValue {
        path: PathBuf,
        table: String,
        key: String,
        /// With its article: `an array`.
        found: String,
    },
    /// `[course-create] users.identity = …`: that option follows another processor's table.
    #[error("{}: [{table}] {other}.{key}: {table}'s `{other}.{key}` follows [{other}] {key}: set it there, once for both", path.display())]
    FollowsOther {
        path: PathBuf,
        table: String,
        /// The other processor, and its option.
        other: String,
        key: String,
    },
    #[error("{origin}: unknown option `{key}` for {processor}{hint}; valid keys: {valid}")]
    UnknownOption {
        /// Where it was written: the config file's table, or `--set`.
        origin: String,
        processor: String,
        key: String,
        hint: String,
        valid: String,
    },
    #[error("{origin}: `{key}` is internal (a protocol flag between toolsync and the processor) and cannot be set")]
    Internal { origin: String, key: String },
    #[error("the data dir {} {why}", path.display())]
    DataDir { path: PathBuf, why: String },
    /// A plugin folder named by `--plugin-dir` or `$TOOLSYNC_PLUGIN_PATH` that cannot be one.
    #[error("{origin} {}: {problem}", path.display())]
    PluginDir {
        origin: &'static str,
        path: PathBuf,
        problem: String,
    },
    #[error("--set `{0}`: expected KEY=VALUE")]
    BadSet(String),
    #[error("option `{key}`: {why}")]
    BadValue { key: String, why: String },
}

/// Finding and loading processors.
#[derive(Debug, Error)]
pub enum LoaderError {
    #[error("unknown processor `{name}`{hint}{refused}")]
    UnknownProcessor {
        name: String,
        /// `: did you mean `users`?; available: …`, or how to build plugins when there are
        /// none.
        hint: String,
        /// One line per refused library.
        refused: String,
    },
}

/// The store.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the store at {} is in use by another toolsync process (a scheduled run?): wait for it to finish, then run again", path.display())]
    Locked { path: PathBuf },
    #[error("cannot open the store at {}: {message}", path.display())]
    Open { path: PathBuf, message: String },
    #[error("the store at {} {what}: upgrade toolsync", path.display())]
    Newer { path: PathBuf, what: String },
    /// A read command on a data dir where nothing has run (a mistyped `--data-dir`?).
    #[error("no store at {}: nothing has run with this data dir yet (check --data-dir or $TOOLSYNC_DATA; `toolsync run` creates the store)", path.display())]
    Missing { path: PathBuf },
    /// A store folder whose log holds nothing: a first run killed before its first commit, or
    /// a log emptied by accident. Not shown as an empty platform.
    #[error("the store at {} holds nothing (its first run was interrupted, or its log was emptied): `toolsync run` starts it again; restore a backup if it held data", path.display())]
    Empty { path: PathBuf },
    /// sled cannot read its own files.
    #[error("the store at {} is damaged ({detail}): restore it from a backup (`toolsync restore`), or try `toolsync export` to save what can still be read", path.display())]
    Damaged { path: PathBuf, detail: String },
    #[error("the disk holding the store at {} is full: free some space and run again", path.display())]
    DiskFull { path: PathBuf },
    /// Under the space kept free beside an embedded store ([`crate::store::DEFAULT_RESERVE`]).
    #[error("the disk holding the store at {} is nearly full: {free} free, under the {reserve} toolsync keeps free there (an engine cut off mid-write by a full disk can lose a batch); no write was made: free some space and run again, or lower `store_reserve` in toolsync.toml", path.display())]
    NearlyFull {
        path: PathBuf,
        free: String,
        reserve: String,
    },
    /// The store's files were deleted or replaced while a command had them open.
    #[error("the store at {} was deleted or replaced while toolsync was using it: what was written since is lost; run again (or restore a backup)", path.display())]
    Vanished { path: PathBuf },
    /// An I/O failure or a damaged record met while working.
    #[error("{0}")]
    Failure(String),
    /// The journal of an interrupted run cannot be read: resuming could re-apply rows.
    #[error("{0}")]
    Journal(String),
}

impl StoreError {
    pub fn damaged(path: &std::path::Path, detail: impl Into<String>) -> Self {
        StoreError::Damaged {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }

    /// An I/O error on the store's files, said plainly (a full disk by name).
    pub fn io(path: &std::path::Path, error: &std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::StorageFull {
            return StoreError::DiskFull {
                path: path.to_path_buf(),
            };
        }
        StoreError::Failure(format!(
            "I/O error on the store at {}: {error}",
            path.display()
        ))
    }
}

/// The input file as a whole.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A run that cannot go on.
#[derive(Debug, Error)]
pub enum RunError {
    /// An option value the processor refuses (usage error).
    #[error("{0}")]
    BadOption(String),
    /// The processor refuses the file with these options (input refused).
    #[error("{0}")]
    Refused(String),
    /// The daemon is stopping (SIGTERM): the run stopped after committing its batch in
    /// progress, its journal says where; it resumes when the daemon starts again.
    #[error("{0}")]
    Interrupted(String),
    /// A report, the tryback, the archive or stdout could not be written.
    #[error("{what}: {source}")]
    Output {
        what: String,
        source: std::io::Error,
    },
}

impl From<toolsync_plugin_api::engine::StoreFailure> for Error {
    fn from(e: toolsync_plugin_api::engine::StoreFailure) -> Self {
        StoreError::Failure(e.to_string()).into()
    }
}

impl From<toolsync_plugin_api::engine::BackendError> for Error {
    fn from(e: toolsync_plugin_api::engine::BackendError) -> Self {
        StoreError::Failure(e.0).into()
    }
}

impl From<toolsync_plugin_api::StoreError> for Error {
    fn from(e: toolsync_plugin_api::StoreError) -> Self {
        StoreError::Failure(e.to_string()).into()
    }
}

impl From<toolsync_plugin_api::model::ModelError> for Error {
    fn from(e: toolsync_plugin_api::model::ModelError) -> Self {
        StoreError::Failure(e.to_string()).into()
    }
}

/// What a command returns.
pub type CmdResult<T = ExitCode> = Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_domain_maps_to_its_exit_code() {
        let io = || std::io::Error::other("disk full");
        let cases: Vec<(Error, ExitCode)> = vec![
            (Error::usage("x"), ExitCode::Usage),
            (ConfigError::BadSet("k".into()).into(), ExitCode::Usage),
            (RunError::BadOption("x".into()).into(), ExitCode::Usage),
            (RunError::Refused("x".into()).into(), ExitCode::InputRefused),
            (
                ReadError::Unreadable {
                    path: "f".into(),
                    source: io(),
                }
                .into(),
                ExitCode::InputRefused,
            ),
            (
                LoaderError::UnknownProcessor {
                    name: "x".into(),
                    hint: String::new(),
                    refused: String::new(),
                }
                .into(),
                ExitCode::Processor,
            ),
            (
                StoreError::Locked { path: "s".into() }.into(),
                ExitCode::Store,
            ),
            (Error::output("report", io()), ExitCode::Store),
        ];
        for (error, code) in cases {
            assert_eq!(error.exit_code(), code, "{error}");
        }
    }
}
