//! Exit codes scripts rely on (design.md §6), and the error type that carries them up to
//! `main`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Every row succeeded.
    Ok = 0,
    /// The run finished with failed rows (or a lookup found nothing).
    RowsFailed = 1,
    Usage = 2,
    /// Input refused: header, encoding, threshold, unreadable.
    InputRefused = 3,
    /// Processor unknown or plugin refused.
    Processor = 4,
    /// Store error: locked by another process, corrupt, I/O.
    Store = 5,
}

/// An error that ends a command, with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub message: String,
}

impl Failure {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Usage, message)
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ExitCode::InputRefused, message)
    }
    pub fn processor(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Processor, message)
    }
    pub fn store(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Store, message)
    }
    /// An I/O error outside the store (report files, archive...).
    pub fn io(what: &str, err: std::io::Error) -> Self {
        Self::new(ExitCode::Store, format!("{what}: {err}"))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

pub type CmdResult<T = ExitCode> = Result<T, Failure>;

impl From<toolsync_plugin_api::engine::StoreFailure> for Failure {
    fn from(e: toolsync_plugin_api::engine::StoreFailure) -> Self {
        Failure::store(e.to_string())
    }
}
