//! Logs go to stderr through `tracing`; `RUST_LOG` overrides `-v`/`-q`. Colours only when
//! stderr is a terminal: a log file or a pipe gets plain text. A log line that cannot be
//! written (stderr closed or full) is dropped: see [`crate::output::Stderr`].

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::output::Stderr;

/// `daemon`: the daemon's own events (runs, schedules) are logged at the info level by default:
/// its log is its report.
pub fn init(verbose: u8, quiet: bool, daemon: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) if daemon => "warn,toolsync::daemon=info",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Stderr::default)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
