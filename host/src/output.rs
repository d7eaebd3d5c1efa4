//! Everything toolsync prints on stdout goes through [`Out`].
//!
//! Why not `println!`: it panics when stdout is a closed pipe (`toolsync schema users | head
//! -1`), and a panic is no way to end a command. Here a closed pipe is not an error: what is
//! left to print is dropped quietly, and the command still finishes its work (a run still
//! archives its input and clears its journal) and returns its own exit code. Any other write
//! error is an I/O failure.

use std::io::{BufWriter, ErrorKind, StdoutLock, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::error::Error;

/// Set once stdout has been found closed: nothing more is written to it.
static CLOSED: AtomicBool = AtomicBool::new(false);

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

    fn outcome(result: std::io::Result<()>) -> Result<(), Error> {
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                CLOSED.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(Error::output("cannot write to stdout", e)),
        }
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if Self::is_closed() {
            return Ok(());
        }
        Self::outcome(self.inner.write_all(bytes))
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
        Self::outcome(std::io::copy(reader, &mut self.inner).map(|_| ()))
    }

    pub fn flush(&mut self) -> Result<(), Error> {
        if Self::is_closed() {
            return Ok(());
        }
        Self::outcome(self.inner.flush())
    }
}

impl Write for Out {
    /// For writers that take `impl Write` (the CSV writer): a closed pipe swallows the bytes.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if Self::is_closed() {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                CLOSED.store(true, Ordering::Relaxed);
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if Self::is_closed() {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                CLOSED.store(true, Ordering::Relaxed);
                Ok(())
            }
            other => other,
        }
    }
}
