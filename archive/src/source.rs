//! The archive file as the zip crate reads it: buffered, and with a reading budget while the
//! central directory is being found.
//!
//! Why not a `BufReader<File>`: the zip crate seeks before almost every read of the central
//! directory (one seek per record), and `BufReader` throws its buffer away on every seek, so a
//! 65,535-entry directory would cost one system call and one 8 KiB copy per record. This reader
//! keeps its buffer when the new position is inside it, and fills backwards when the caller walks
//! backwards (the zip crate looks for the end record from the end of the file).
//!
//! Why a budget: finding the central directory, the zip crate tries every end-record signature it
//! meets from the end of the file, and for each one may scan forwards from the offset the record
//! claims. A crafted file made of many fake end records makes that quadratic: minutes of reading
//! for a few megabytes. Opening an honest archive reads it about once (twice for one with
//! prepended data); the budget ([`OPEN_BUDGET_FACTOR`] times the file plus 1 MiB) stops a crafted
//! one with an error instead of a hang. After the opening the budget is lifted: reading entries is
//! bounded by the crate's own size limits.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes of the file read per physical read (and kept for the next reads).
const BUFFER: usize = 16 * 1024;

/// How many times its own size the file may be read while its central directory is found.
pub(crate) const OPEN_BUDGET_FACTOR: u64 = 4;

/// The message of the error a spent budget gives (the opening names it in its refusal).
pub(crate) const BUDGET_SPENT: &str =
    "its structure needs far more reading than the file's size (crafted end records?)";

/// A budget shared between the reader (inside the zip archive) and its owner, who lifts it.
#[derive(Clone, Debug)]
pub(crate) struct Budget(Arc<AtomicU64>);

impl Budget {
    pub(crate) fn new(bytes: u64) -> Budget {
        Budget(Arc::new(AtomicU64::new(bytes)))
    }

    /// No limit from now on.
    pub(crate) fn lift(&self) {
        self.0.store(u64::MAX, Ordering::Relaxed);
    }

    /// Takes `bytes` from the budget, or fails when it is spent.
    fn charge(&self, bytes: u64) -> io::Result<()> {
        let left = self.0.load(Ordering::Relaxed);
        if left == u64::MAX {
            return Ok(());
        }
        if left < bytes {
            self.0.store(0, Ordering::Relaxed);
            return Err(io::Error::other(BUDGET_SPENT));
        }
        self.0.store(left - bytes, Ordering::Relaxed);
        Ok(())
    }
}

/// A seekable, buffered view of the archive file.
pub(crate) struct Source {
    file: File,
    len: u64,
    pos: u64,
    buf: Box<[u8]>,
    buf_start: u64,
    buf_len: usize,
    budget: Budget,
}

impl Source {
    /// `len` is the file's size when it was opened (what `SeekFrom::End` counts from).
    pub(crate) fn new(file: File, len: u64, budget: Budget) -> Source {
        Source {
            file,
            len,
            pos: 0,
            buf: vec![0; BUFFER].into_boxed_slice(),
            buf_start: 0,
            buf_len: 0,
            budget,
        }
    }

    /// Reads from the file at `at`, always seeking first: another `Source` may share the file
    /// descriptor (and its offset) through `File::try_clone`.
    fn physical(&mut self, at: u64, into: &mut [u8]) -> io::Result<usize> {
        self.budget.charge(into.len() as u64)?;
        self.file.seek(SeekFrom::Start(at))?;
        loop {
            match self.file.read(into) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

impl Read for Source {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let buffered =
            self.pos >= self.buf_start && self.pos - self.buf_start < self.buf_len as u64;
        if !buffered {
            if out.len() >= self.buf.len() {
                let n = self.physical(self.pos, out)?;
                self.pos += n as u64;
                return Ok(n);
            }
            // Walking backwards (the search for the end record): fill the buffer so that it ends
            // just after the wanted bytes, so the next steps back are served from it.
            let backwards = self.buf_len > 0
                && self.pos < self.buf_start
                && self.buf_start - self.pos <= self.buf.len() as u64;
            let start = if backwards {
                (self.pos + out.len() as u64).saturating_sub(self.buf.len() as u64)
            } else {
                self.pos
            };
            let mut buf = std::mem::take(&mut self.buf);
            let filled = self.physical(start, &mut buf);
            self.buf = buf;
            self.buf_start = start;
            self.buf_len = 0;
            self.buf_len = filled?;
            if self.pos - self.buf_start >= self.buf_len as u64 {
                return Ok(0);
            }
        }
        let offset = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf_len - offset);
        out[..n].copy_from_slice(&self.buf[offset..offset + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Source {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(n) => {
                self.pos = n;
                Ok(n)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the archive or past 2^64",
            )),
        }
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.pos)
    }
}
