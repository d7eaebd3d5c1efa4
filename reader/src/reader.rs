//! The public reader: opens a file (everything that can refuse it happens here), then streams
//! rows.

use std::fs::File;
use std::io::{self, BufReader, Seek, SeekFrom};
use std::path::Path;

use crate::encoding::{byte_problem, sniff_bom, Bom, ByteProblem, UTF8_BOM};
use crate::field::{content, finish, line_content, trim};
use crate::header::{drop_trailing_empty, pick_delimiter};
use crate::options::{DelimiterChoice, Encoding, EncodingChoice, ReadOptions, Source};
use crate::parse::{Classes, RawRecord, Scan, Scanner};
use crate::prepass::{self, CHUNK};
use crate::{BadRecord, FileInfo, Header, Item, Record, Refusal};

/// Streaming reader of one CSV file.
pub struct CsvReader {
    scanner: Scanner<File>,
    classes: Classes,
    encoding: Encoding,
    /// Whether rows need the NUL / UTF-8 byte check: only when the pre-pass saw a NUL, or invalid
    /// UTF-8 in UTF-8 mode. A clean file pays nothing per row.
    check_bytes: bool,
    line_mode: bool,
    /// With a header: (named columns, named + trailing unnamed columns).
    columns: Option<(usize, usize)>,
    comments: u64,
    rec: RawRecord,
    scratch: Vec<u8>,
    finished: bool,
    read_error: Option<String>,
}

impl CsvReader {
    /// Runs the streaming pre-pass (fingerprint + UTF-8 validity), decides the encoding, strips
    /// the BOM, detects the delimiter and reads the header (if `has_header`).
    ///
    /// Refuses (§2.1, §2.4): a UTF-16/UTF-32 BOM; a UTF-8 BOM with windows-1252 configured;
    /// invalid UTF-8 (utf-8 mode) or a NUL byte in the header, or an unterminated quoted value
    /// in it; a file with a header but no header record; an unreadable file.
    pub fn open(path: &Path, opts: &ReadOptions) -> Result<(CsvReader, FileInfo), Refusal> {
        let io_refusal =
            |e: io::Error| Refusal::new(format!("cannot read {}: {e}", path.display()));

        let mut file = File::open(path).map_err(io_refusal)?;
        let pre = prepass::run(&mut file).map_err(io_refusal)?;

        let bom = sniff_bom(pre.head());
        let (encoding, encoding_source) = match (bom, opts.encoding) {
            (Bom::Utf16Or32, _) => {
                return Err(Refusal::new("the file is UTF-16/UTF-32: save it as UTF-8"));
            }
            (Bom::Utf8, EncodingChoice::Windows1252) => {
                return Err(Refusal::new(
                    "the file starts with a UTF-8 byte order mark but encoding is \
                     windows-1252/iso-8859-1: set encoding=utf-8 (or auto)",
                ));
            }
            (Bom::Utf8, EncodingChoice::Auto) => (Encoding::Utf8, Source::Detected),
            (_, EncodingChoice::Utf8) => (Encoding::Utf8, Source::Configured),
            (_, EncodingChoice::Windows1252) => (Encoding::Windows1252, Source::Configured),
            (_, EncodingChoice::Auto) if pre.utf8_valid => (Encoding::Utf8, Source::Detected),
            (_, EncodingChoice::Auto) => (Encoding::Windows1252, Source::Detected),
        };
        let bom_removed = bom == Bom::Utf8;
        let bom_len = if bom_removed {
            UTF8_BOM.len() as u64
        } else {
            0
        };

        file.seek(SeekFrom::Start(bom_len)).map_err(io_refusal)?;
        let mut reader = CsvReader {
            scanner: Scanner::new(BufReader::with_capacity(CHUNK, file), bom_len),
            classes: Classes::lines(),
            encoding,
            check_bytes: pre.has_nul || (encoding == Encoding::Utf8 && !pre.utf8_valid),
            line_mode: !opts.split_fields,
            columns: None,
            comments: 0,
            rec: RawRecord::default(),
            scratch: Vec::new(),
            finished: false,
            read_error: None,
        };

        let (delimiter, delimiter_source) = match (opts.delimiter, opts.split_fields) {
            (DelimiterChoice::Byte(d), split) => {
                if split {
                    reader.classes = Classes::single(d);
                }
                (d, Source::Configured)
            }
            // Line mode never splits, so there is nothing to detect.
            (DelimiterChoice::Auto, false) => (b';', Source::Defaulted),
            (DelimiterChoice::Auto, true) => {
                let (d, source) = reader.detect_delimiter().map_err(io_refusal)?;
                reader.classes = Classes::single(d);
                (d, source)
            }
        };

        let header = if opts.has_header {
            Some(reader.read_header().map_err(|e| match e {
                HeaderError::Io(e) => io_refusal(e),
                HeaderError::Refused(r) => r,
            })?)
        } else {
            None
        };
        if let Some(h) = &header {
            reader.columns = Some((h.names.len(), h.names.len() + h.trailing_ignored));
        }

        let info = FileInfo {
            encoding,
            encoding_source,
            bom_removed,
            delimiter,
            delimiter_source,
            header,
            size: pre.size,
            fingerprint: pre.fingerprint,
        };
        Ok((reader, info))
    }

    /// Next data row, or a failed record, or `None` at end of file. Only the current record is
    /// held in memory.
    ///
    /// An I/O error while reading ends the stream: the record being read is returned as failed
    /// (reason "cannot read the file: …"), then `None`; [`CsvReader::read_error`] keeps it so the
    /// host can tell a short read from a real end of file.
    pub fn next_item(&mut self) -> Option<Item> {
        while !self.finished {
            match self.scanner.next(&self.classes, &mut self.rec) {
                Ok(Scan::Eof) => self.finished = true,
                Ok(Scan::Comment) => self.comments += 1,
                Ok(Scan::Record) => {
                    if let Some(item) = self.process() {
                        return Some(item);
                    }
                }
                Err(e) => {
                    self.finished = true;
                    let reason = format!("cannot read the file: {e}");
                    self.read_error = Some(reason.clone());
                    return Some(Item::Bad(BadRecord {
                        line: self.rec.line,
                        reason,
                        raw_start: self.rec.start,
                        raw_end: self.rec.end(),
                    }));
                }
            }
        }
        None
    }

    /// Comment lines seen so far (§2.3), the ones before the header included.
    pub fn comments(&self) -> u64 {
        self.comments
    }

    /// Bytes consumed so far, as an absolute file offset (for a progress bar against
    /// [`FileInfo::size`]).
    pub fn position(&self) -> u64 {
        self.scanner.position()
    }

    /// The I/O error that ended reading early, if any.
    pub fn read_error(&self) -> Option<&str> {
        self.read_error.as_deref()
    }

    /// `delimiter = auto` (§2.2): finds the header record (headerless: the first data record)
    /// with every candidate separating, counts the candidates in it, then steps back to that
    /// record so that it is read again, this time with the delimiter chosen.
    ///
    /// Comments before it are counted here and not read again. Lines made only of candidate
    /// delimiters and blanks count as blank here, whatever the delimiter chosen: they are
    /// spreadsheet artefacts, and the chosen delimiter cannot be known before the header.
    fn detect_delimiter(&mut self) -> io::Result<(u8, Source)> {
        let classes = Classes::detection();
        loop {
            match self.scanner.next(&classes, &mut self.rec)? {
                Scan::Eof => return Ok((b';', Source::Defaulted)),
                Scan::Comment => self.comments += 1,
                Scan::Record => {
                    if !self.rec.unterminated && is_blank(&self.rec, false, &mut self.scratch) {
                        continue;
                    }
                    let found = pick_delimiter(&self.rec);
                    self.scanner.rewind_to(self.rec.start, self.rec.line)?;
                    return Ok(match found {
                        Some(d) => (d, Source::Detected),
                        None => (b';', Source::Defaulted),
                    });
                }
            }
        }
    }

    /// The header: the first record neither blank nor a comment (§2.4).
    fn read_header(&mut self) -> Result<Header, HeaderError> {
        loop {
            match self.scanner.next(&self.classes, &mut self.rec)? {
                Scan::Eof => {
                    return Err(refused("the file is empty: it needs a header line"));
                }
                Scan::Comment => self.comments += 1,
                Scan::Record => {
                    let rec = &self.rec;
                    if rec.unterminated {
                        return Err(refused(format!(
                            "the header (line {}) has an unterminated quoted value (it swallowed \
                             {}): close the quote",
                            rec.line,
                            lines(rec.swallowed)
                        )));
                    }
                    if is_blank(rec, self.line_mode, &mut self.scratch) {
                        continue;
                    }
                    match byte_problem(&rec.bytes, self.encoding) {
                        Some(ByteProblem::Nul(at)) => {
                            return Err(refused(format!(
                                "the header (line {}) contains a NUL byte at byte offset {at}: \
                                 this is not a text file (or it is UTF-16): save it as UTF-8",
                                rec.line
                            )));
                        }
                        Some(ByteProblem::InvalidUtf8(at)) => {
                            return Err(refused(format!(
                                "the header (line {}) is not valid UTF-8 (byte offset {at}) while \
                                 encoding is utf-8: save the file as UTF-8, or set \
                                 encoding=auto or windows-1252",
                                rec.line
                            )));
                        }
                        None => {}
                    }
                    let (line, raw_start, raw_end) = (rec.line, rec.start, rec.end());
                    let mut names = self.decode_fields(usize::MAX);
                    let trailing_ignored = drop_trailing_empty(&mut names);
                    return Ok(Header {
                        names,
                        trailing_ignored,
                        line,
                        raw_start,
                        raw_end,
                    });
                }
            }
        }
    }

    /// Turns the record just scanned into an item, or `None` when it is blank (skipped, not
    /// counted).
    fn process(&mut self) -> Option<Item> {
        let rec = &self.rec;
        let bad = |reason: String| {
            Some(Item::Bad(BadRecord {
                line: rec.line,
                reason,
                raw_start: rec.start,
                raw_end: rec.end(),
            }))
        };
        if rec.unterminated {
            return bad(format!(
                "unterminated quoted value (it swallowed {})",
                lines(rec.swallowed)
            ));
        }
        if is_blank(rec, self.line_mode, &mut self.scratch) {
            return None;
        }
        if self.check_bytes {
            match byte_problem(&rec.bytes, self.encoding) {
                Some(ByteProblem::Nul(at)) => {
                    return bad(format!(
                        "NUL byte at byte offset {at} in the line: the file is not plain text \
                         in its encoding (UTF-16?); save it as UTF-8 or check encoding=auto"
                    ));
                }
                Some(ByteProblem::InvalidUtf8(at)) => {
                    return bad(format!(
                        "invalid UTF-8 at byte offset {at} in the line while encoding is utf-8: \
                         set encoding=auto (reads a non-UTF-8 file as windows-1252)"
                    ));
                }
                None => {}
            }
        }
        let mut keep = usize::MAX;
        if let Some((named, total)) = self.columns {
            let n = rec.spans.len();
            if n < named {
                return bad(format!("{}, the header has {named}", fields(n)));
            }
            if n > total {
                return bad(format!("{}, the header has {total}", fields(n)));
            }
            for (k, &span) in rec.spans.iter().enumerate().skip(named) {
                if !trim(content(&rec.bytes, span, &mut self.scratch)).is_empty() {
                    return bad(format!(
                        "a value under an unnamed column {} (the header names {named} \
                         column{}): name the column or clear the cell",
                        k + 1,
                        if named == 1 { "" } else { "s" }
                    ));
                }
            }
            keep = named;
        }
        let fields = self.decode_fields(keep);
        let rec = &self.rec;
        Some(Item::Row(Record {
            line: rec.line,
            fields,
            raw_start: rec.start,
            raw_end: rec.end(),
        }))
    }

    /// The first `keep` fields of the current record as values (§2.5 up to conversion).
    fn decode_fields(&mut self, keep: usize) -> Vec<String> {
        let rec = &self.rec;
        let encoding = self.encoding;
        if self.line_mode {
            let span = rec.spans[0];
            let text = line_content(&rec.bytes[span.start..span.end], &mut self.scratch);
            return vec![finish(text, encoding)];
        }
        let mut out = Vec::with_capacity(rec.spans.len().min(keep));
        for &span in rec.spans.iter().take(keep) {
            out.push(finish(
                trim(content(&rec.bytes, span, &mut self.scratch)),
                encoding,
            ));
        }
        out
    }
}

/// Blank (§2.3): every field empty after unquoting and trimming, which covers an empty line, a
/// line of spaces and tabs, and `;;;`. In line mode, the one field goes through line-mode
/// unquoting, so a line `""` is blank too.
fn is_blank(rec: &RawRecord, line_mode: bool, scratch: &mut Vec<u8>) -> bool {
    if line_mode {
        let span = rec.spans[0];
        return line_content(&rec.bytes[span.start..span.end], scratch).is_empty();
    }
    rec.spans
        .iter()
        .all(|&span| trim(content(&rec.bytes, span, scratch)).is_empty())
}

enum HeaderError {
    Io(io::Error),
    Refused(Refusal),
}

impl From<io::Error> for HeaderError {
    fn from(e: io::Error) -> Self {
        HeaderError::Io(e)
    }
}

fn refused(message: impl Into<String>) -> HeaderError {
    HeaderError::Refused(Refusal::new(message))
}

fn lines(n: u64) -> String {
    format!("{n} line{}", if n == 1 { "" } else { "s" })
}

fn fields(n: usize) -> String {
    format!("{n} field{}", if n == 1 { "" } else { "s" })
}
