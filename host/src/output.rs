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
//!
//! A command the daemon runs for a client (`toolsync show` while `toolsync daemon` holds the
//! store) prints to that client instead: [`Remote::serve`] routes this thread's stdout and
//! stderr messages to the client's socket, in frames ([`crate::daemon::protocol`]). A client
//! gone is a closed pipe: the command finishes its work, printing nothing more.

use std::cell::RefCell;
use std::fmt::Display;
use std::io::{BufWriter, ErrorKind, StdoutLock, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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

/// Buffered stdout: the process's, or the client's of a command the daemon runs.
pub struct Out {
    inner: BufWriter<Target>,
}

/// Where [`Out`] writes.
enum Target {
    Local(StdoutLock<'static>),
    Remote(Remote),
}

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Target::Local(out) => out.write(buf),
            Target::Remote(remote) => remote
                .send(crate::daemon::protocol::STDOUT, buf)
                .map(|()| buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Target::Local(out) => out.flush(),
            Target::Remote(_) => Ok(()),
        }
    }
}

impl Out {
    pub fn stdout() -> Out {
        let target = match Remote::current() {
            Some(remote) => Target::Remote(remote),
            None => Target::Local(std::io::stdout().lock()),
        };
        Out {
            inner: BufWriter::with_capacity(64 * 1024, target),
        }
    }

    /// Whether stdout (this thread's client's, for a command the daemon runs) was found
    /// closed.
    pub fn is_closed() -> bool {
        match Remote::current() {
            Some(remote) => remote.is_closed(),
            None => CLOSED.load(Ordering::Relaxed),
        }
    }

    /// Whether stdout is a terminal (the client's, for a command the daemon runs).
    pub fn is_terminal() -> bool {
        use std::io::IsTerminal;
        match Remote::current() {
            Some(remote) => remote.stdout_terminal,
            None => std::io::stdout().is_terminal(),
        }
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
    match Remote::current() {
        Some(remote) => {
            let _ = remote.send(crate::daemon::protocol::STDERR, &line);
        }
        None => {
            let _ = Stderr.write_all(&line);
        }
    }
}

/// The client a command the daemon runs prints to.
#[derive(Clone)]
pub struct Remote {
    stream: Arc<std::sync::Mutex<std::os::unix::net::UnixStream>>,
    closed: Arc<AtomicBool>,
    /// The client's stdout is a terminal (a PNG is not printed there).
    pub stdout_terminal: bool,
}

thread_local! {
    static REMOTE: RefCell<Option<Remote>> = const { RefCell::new(None) };
}

impl Remote {
    pub fn new(stream: std::os::unix::net::UnixStream, stdout_terminal: bool) -> Remote {
        Remote {
            stream: Arc::new(std::sync::Mutex::new(stream)),
            closed: Arc::new(AtomicBool::new(false)),
            stdout_terminal,
        }
    }

    /// The client of the command this thread runs, if the daemon runs it for one.
    pub fn current() -> Option<Remote> {
        REMOTE.with(|r| r.borrow().clone())
    }

    /// Runs `work` with this thread's stdout and messages going to this client.
    pub fn serve<T>(&self, work: impl FnOnce() -> T) -> T {
        REMOTE.with(|r| *r.borrow_mut() = Some(self.clone()));
        let result = work();
        REMOTE.with(|r| *r.borrow_mut() = None);
        result
    }

    /// Whether the client went away.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Sends a frame; a client gone is noted once, and what follows is dropped.
    pub fn send(&self, kind: u8, bytes: &[u8]) -> std::io::Result<()> {
        if self.is_closed() {
            return Ok(());
        }
        let mut stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        if crate::daemon::protocol::write_frame(&mut *stream, kind, bytes).is_err() {
            self.closed.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}
