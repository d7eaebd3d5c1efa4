//! Everything toolsync prints goes through this module: stdout through [`Out`], stderr
//! (messages, logs, the progress line) through [`Stderr`] and [`note`].
//!
//! Why not `println!` and `eprintln!`: they panic when their stream cannot be written (`toolsync
//! schema users | head -1`, `2>/dev/full`), and a panic is no way to end a command.
//!
//! - On stdout a closed pipe is not an error: what is left to print is dropped quietly, and the
//!   command still finishes its work (a run still archives its input and clears its journal)
//!   and returns its own exit code. Any other write error is an I/O failure (exit 5): stdout
//!   is what the command was asked for.
//! - On stderr every write error is dropped: stderr is where failures are reported, so a
//!   failure to write there has nowhere left to go, and it must not change what the command
//!   does nor its exit code.

use std::fmt::Display;
use std::io::{BufWriter, ErrorKind, StdoutLock, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::error::Error;
use crate::escape::Escaping;

/// Set once stdout has been found closed: nothing more is written to it.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// A write to stdout that ended on a closed pipe counts as done (`done`), and marks stdout
/// closed; any other outcome is returned as it is.
fn closed_is_done<T>(result: std::io::Result<T>, done: T) -> std::io::Result<T> {
    match result {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(done)
        }
        other => other,
    }
}

/// The outcome of writing to stdout, as a command sees it: done (or quietly dropped on a
/// closed pipe), or an output error. For writes toolsync does not make itself (clap's help).
pub fn stdout_result(result: std::io::Result<()>) -> Result<(), Error> {
    closed_is_done(result, ()).map_err(stdout_failure)
}

/// The one wording of a failed write to stdout, whatever was being printed.
pub fn stdout_failure(e: std::io::Error) -> Error {
    Error::output("cannot write to stdout", e)
}

/// Buffered stdout.
pub struct Out {
    inner: BufWriter<StdoutLock<'static>>,
}

impl Out {
    pub fn stdout() -> Out {
        Out {
            inner: BufWriter::with_capacity(64 * 1024, std::io::stdout().lock()),
        }
    }

    /// Whether stdout was found closed.
    pub fn is_closed() -> bool {
        CLOSED.load(Ordering::Relaxed)
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if Self::is_closed() {
            return Ok(());
        }
        stdout_result(self.inner.write_all(bytes))
    }

    /// `text` and a line feed.
    pub fn line(&mut self, text: &str) -> Result<(), Error> {
        self.write_all(text.as_bytes())?;
        self.write_all(b"\n")
    }

    /// A value as pretty JSON, and a line feed.
    pub fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::output("cannot encode JSON", e.into()))?;
        self.line(&text)
    }

    /// Copies a whole reader (a report file) to stdout.
    pub fn copy_from(&mut self, reader: &mut impl std::io::Read) -> Result<(), Error> {
        if Self::is_closed() {
            return Ok(());
        }
        stdout_result(std::io::copy(reader, &mut self.inner).map(|_| ()))
    }

    pub fn flush(&mut self) -> Result<(), Error> {
        if Self::is_closed() {
            return Ok(());
        }
        stdout_result(self.inner.flush())
    }
}

impl Write for Out {
    /// For writers that take `impl Write` (the CSV writer): a closed pipe swallows the bytes.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if Self::is_closed() {
            return Ok(buf.len());
        }
        closed_is_done(self.inner.write(buf), buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if Self::is_closed() {
            return Ok(());
        }
        closed_is_done(self.inner.flush(), ())
    }
}

/// stderr, whose write errors are dropped (see the module documentation): the writer of the
/// logs (`tracing_subscriber` takes it, so its own `eprintln!` fallback is never reached), of
/// the progress line and of [`note`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

impl Write for Stderr {
    /// All of `buf` or nothing, in one locked write so that lines of two threads do not mix.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().lock().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().lock().flush();
        Ok(())
    }
}

/// A message for the operator on stderr, `toolsync: ` first: why a command failed, why it
/// found nothing, what it did not do. Messages may quote what a file or a command line held,
/// so its control characters are escaped ([`Escaping`]); a message of several lines keeps
/// them. Written in one piece.
pub fn note(message: impl Display) {
    let mut line = Vec::new();
    {
        let mut escaping = Escaping::new(&mut line);
        let _ = writeln!(escaping, "toolsync: {message}");
    }
    let _ = Stderr.write_all(&line);
}
