//! Reading toolsync's CSV inputs: the common reading rules of formats.md §2.1–§2.5, plus the raw
//! byte ranges the tryback file (§4.3) needs.
//!
//! [`CsvReader::open`] does everything that can refuse a whole file before any row is applied: a
//! streaming pre-pass (fingerprint, UTF-8 validity, NUL bytes), encoding and BOM, delimiter
//! detection and the header. [`CsvReader::next_item`] then streams rows one at a time, each
//! either a [`Record`] or a [`BadRecord`] that fails alone; memory does not grow with the file.
//!
//! What this crate does *not* do: interpret header names (unknown, duplicate or missing columns
//! are the host's business, per processor), convert values (§2.5 types) or write reports.
//!
//! RFC 4180 splitting and unquoting are `csv-core`'s (rust-csv's core), Windows-1252 decoding is
//! `encoding_rs`'s. What is hand-written is what they do not cover, each module saying why: the
//! physical line numbers and absolute offsets (`input`), where records start, comment lines,
//! raw ranges, unterminated quoted values and line mode (`records`), trimming and `&#44` (`field`),
//! the delimiter vote (`header`), and the pre-pass (`prepass`, `fingerprint`, `encoding`).
//!
//! Modules, one idea each: `prepass` (the first read), `fingerprint` (FNV-1a 64), `encoding`
//! (BOMs, UTF-8 validity, decoding), `input` (buffered reading with offsets and physical lines),
//! `records` (records out of csv-core, or lines in line mode), `field` (trim, line-mode
//! unquoting, `&#44`), `header` (delimiter choice, trailing empty names), `reader` (the public
//! reader tying them together), `tryback` (copying raw ranges).

mod encoding;
mod field;
mod fingerprint;
mod header;
mod input;
mod options;
mod prepass;
mod reader;
mod records;
mod tryback;

#[cfg(test)]
mod tests;

use std::fmt;

pub use fingerprint::{fingerprint_file, fnv1a64};
pub use options::{
    delimiter_name, parse_size, size_name, DelimiterChoice, Encoding, EncodingChoice, ReadOptions,
    Source, DEFAULT_MAX_RECORD_SIZE,
};
pub use reader::CsvReader;
pub use tryback::{copy_raw, field_spans};

/// What the reader decided about a file, for the report (§2.1, §2.2) and the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub encoding: Encoding,
    pub encoding_source: Source,
    /// A UTF-8 BOM (`EF BB BF`) was at the start of the file and is not part of any record. The
    /// tryback writer copies bytes `0..3` first when it is true, to keep "a leading BOM" (§4.3).
    pub bom_removed: bool,
    pub delimiter: u8,
    pub delimiter_source: Source,
    /// `None` for headerless reading (`ReadOptions::has_header == false`).
    pub header: Option<Header>,
    /// windows-1252 was configured, yet the file is valid UTF-8 with non-ASCII characters: it
    /// is almost certainly UTF-8, and every accent will come out wrong (`Ã©` for `é`). The host
    /// warns; reading goes on as configured.
    pub utf8_read_as_1252: bool,
    /// File size in bytes, as read by the pre-pass.
    pub size: u64,
    /// FNV-1a 64 over the whole raw file, computed in the pre-pass; used to recognise the same
    /// input when a killed run is re-run. Stable across builds and platforms.
    pub fingerprint: u64,
}

/// The header record (§2.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Trimmed names in file order, decoded to UTF-8, `&#44` decoded; EMPTY names at the END are
    /// dropped (spreadsheet artefact, §2.4); an empty name between named columns is kept as ""
    /// (the host refuses the file for it).
    pub names: Vec<String>,
    /// How many trailing empty header fields were dropped.
    pub trailing_ignored: usize,
    /// Physical line (1-based) where the header starts.
    pub line: u64,
    /// Byte range of the header's physical line(s), line ending included; the BOM is not part of
    /// it (see [`FileInfo::bom_removed`]).
    pub raw_start: u64,
    pub raw_end: u64,
}

/// How every refusal about the header begins: the line that was taken as the header. Blank
/// lines (`;;;` included) and comments before it are skipped, so it is not always line 1, and
/// an operator looking at line 1 must be told where to look.
pub fn header_refusal(line: u64, what: impl fmt::Display) -> String {
    format!("line {line}, taken as the header: {what}")
}

/// Why a whole file is refused (exit code 3 upstream). The message says what to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
}

impl Refusal {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Refusal {
            message: message.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

/// One data row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Physical 1-based line where the record starts.
    pub line: u64,
    /// Unquoted, trimmed (spaces and tabs, quoted fields too), `&#44;` then `&#44` → `,`, decoded
    /// to UTF-8. Exactly `header.names.len()` fields when there is a header (the fields under
    /// trailing unnamed columns are removed).
    pub fields: Vec<String>,
    /// Byte range of the record's physical line(s) in the file, line terminator(s) included.
    pub raw_start: u64,
    pub raw_end: u64,
}

/// A record that fails alone (§1 "a row fails"): unreadable bytes, wrong field count, a value
/// under an unnamed column, an unterminated quoted value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRecord {
    pub line: u64,
    pub reason: String,
    pub raw_start: u64,
    pub raw_end: u64,
}

/// What [`CsvReader::next_item`] yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Row(Record),
    Bad(BadRecord),
}

impl Item {
    /// Line where the item starts.
    pub fn line(&self) -> u64 {
        match self {
            Item::Row(r) => r.line,
            Item::Bad(b) => b.line,
        }
    }

    /// Its raw byte range, for the tryback file.
    pub fn raw_range(&self) -> (u64, u64) {
        match self {
            Item::Row(r) => (r.raw_start, r.raw_end),
            Item::Bad(b) => (b.raw_start, b.raw_end),
        }
    }
}
