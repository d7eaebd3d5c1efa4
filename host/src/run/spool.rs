//! Spool files: the parts of a report that grow with the file (one line per row, the errors,
//! the warnings, the failed lines for the tryback) go to disk as the run goes, so memory stays
//! flat. Their lengths are recorded in the journal at each commit; a resumed run cuts them back
//! to those lengths and appends, so the final report covers every row exactly once.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::report::{ErrorLine, RowLine, WarningLine};
use crate::error::Error;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SpoolLengths {
    pub rows: u64,
    pub errors: u64,
    pub warnings: u64,
    pub tryback: u64,
}

pub struct Spool {
    rows: Part,
    errors: Part,
    warnings: Part,
    tryback: Part,
}

struct Part {
    out: BufWriter<File>,
    len: u64,
}

impl Part {
    fn open(path: &Path, keep: u64) -> std::io::Result<Part> {
        let mut options = OpenOptions::new();
        options.create(true).write(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // The tryback part holds failed lines as read: passwords included.
            options.mode(0o600);
        }
        let file = options.open(path)?;
        file.set_len(keep)?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        std::io::Seek::seek(out.get_mut(), std::io::SeekFrom::Start(keep))?;
        Ok(Part { out, len: keep })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// One JSON line.
    fn record(&mut self, value: &impl serde::Serialize) -> Result<(), Error> {
        let mut line = serde_json::to_vec(value).map_err(|e| spool_error(e.into()))?;
        line.push(b'\n');
        self.write(&line).map_err(spool_error)
    }
}

pub const ROWS: &str = "rows.jsonl";
pub const ERRORS: &str = "errors.jsonl";
pub const WARNINGS: &str = "warnings.jsonl";
pub const TRYBACK: &str = "tryback.raw";

impl Spool {
    /// Opens the spool in `dir`, keeping the first `keep` bytes of each part (zero: fresh).
    pub fn open(dir: &Path, keep: SpoolLengths) -> Result<Spool, Error> {
        super::finish::create_private_dir(dir)?;
        let part = |name: &str, keep: u64| {
            Part::open(&dir.join(name), keep)
                .map_err(|e| Error::output(format!("cannot open {}", dir.join(name).display()), e))
        };
        Ok(Spool {
            rows: part(ROWS, keep.rows)?,
            errors: part(ERRORS, keep.errors)?,
            warnings: part(WARNINGS, keep.warnings)?,
            tryback: part(TRYBACK, keep.tryback)?,
        })
    }

    /// A row's outcome.
    pub fn row(
        &mut self,
        line: u64,
        outcome: &str,
        subject: &str,
        message: &str,
    ) -> Result<(), Error> {
        self.rows.record(&RowLine {
            line,
            outcome: outcome.to_string(),
            subject: subject.to_string(),
            message: message.to_string(),
        })
    }

    pub fn error(&mut self, line: u64, reason: &str) -> Result<(), Error> {
        self.errors.record(&ErrorLine {
            line,
            reason: reason.to_string(),
        })
    }

    pub fn warning(&mut self, line: Option<u64>, message: &str) -> Result<(), Error> {
        self.warnings.record(&WarningLine {
            line,
            message: message.to_string(),
        })
    }

    /// Appends a failed record's original bytes.
    pub fn tryback(&mut self, source: &mut File, start: u64, end: u64) -> Result<(), Error> {
        toolsync_reader::copy_raw(source, start, end, &mut self.tryback.out)
            .map_err(spool_error)?;
        self.tryback.len += end - start;
        Ok(())
    }

    /// Notes a failed archive entry for the tryback archive: its index, a line each.
    pub fn tryback_entry(&mut self, index: usize) -> Result<(), Error> {
        self.tryback
            .write(format!("{index}\n").as_bytes())
            .map_err(spool_error)
    }

    /// Hands everything written so far to the OS (a killed process loses nothing written
    /// before a commit) and returns the lengths to record in the journal.
    pub fn flush(&mut self) -> Result<SpoolLengths, Error> {
        for part in [
            &mut self.rows,
            &mut self.errors,
            &mut self.warnings,
            &mut self.tryback,
        ] {
            part.out.flush().map_err(spool_error)?;
        }
        Ok(self.lengths())
    }

    pub fn lengths(&self) -> SpoolLengths {
        SpoolLengths {
            rows: self.rows.len,
            errors: self.errors.len,
            warnings: self.warnings.len,
            tryback: self.tryback.len,
        }
    }
}

fn spool_error(e: std::io::Error) -> Error {
    Error::output("cannot write the run's report spool", e)
}
