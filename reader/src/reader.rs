//! The public reader: opens a file (everything that can refuse it happens here), then streams
//! rows.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::Path;

use crate::encoding::{
    byte_problem, decode_1252_into, sniff_bom, utf8_len_1252, Bom, ByteProblem, UTF8_BOM,
};
use crate::field::{finish, finish_str, line_content, trim, trim_str};
use crate::header::{drop_trailing_empty, vote, Vote};
use crate::options::{size_name, DelimiterChoice, Encoding, EncodingChoice, ReadOptions, Source};
use crate::prepass::{self, CHUNK};
use crate::records::{RawRecord, Records, Scan, Split};
use crate::{header_refusal, BadRecord, FileInfo, Header, Item, Record, Refusal};

/// Streaming reader of one CSV file.
pub struct CsvReader {
    records: Records<File>,
    encoding: Encoding,
    /// Whether rows need the NUL / UTF-8 byte check: only when the pre-pass saw a NUL, or invalid
    /// UTF-8 in UTF-8 mode. A clean file pays nothing per row.
    check_bytes: bool,
    line_mode: bool,
    /// With a header: (named columns, named + trailing unnamed columns).
    columns: Option<(usize, usize)>,
    comments: u64,
    /// Blank records skipped before the header, for the refusal of a file that has none.
    blanks: u64,
    /// `max_record_size`, for the reasons that name it.
    limit: u64,
    rec: RawRecord,
    scratch: Vec<u8>,
    /// A Windows-1252 record decoded at once.
    decoded: String,
    finished: bool,
    read_error: Option<String>,
}

impl CsvReader {
    /// Runs the streaming pre-pass (fingerprint + UTF-8 validity), decides the encoding, strips
    /// the BOM, detects the delimiter and reads the header (if `has_header`).
    ///
    /// Refuses (§2.1, §2.4): a UTF-16/UTF-32 BOM; a UTF-8 BOM with windows-1252 configured;
    /// invalid UTF-8 (utf-8 mode) or a NUL byte in the header, an open quote in it (at the end
    /// of the file, or running over a line end: no name holds one), or a header over
    /// `max_record_size`; a file with a header but no header record; an unreadable file. Every
    /// refusal about the header names the line taken as the header ([`header_refusal`]).
    pub fn open(path: &Path, opts: &ReadOptions) -> Result<(CsvReader, FileInfo), Refusal> {
        let io_refusal =
            |e: io::Error| Refusal::new(format!("cannot read {}: {e}", path.display()));

        let mut file = File::open(path).map_err(io_refusal)?;
        let pre = prepass::run(&mut file, opts.encoding == EncodingChoice::Windows1252)
            .map_err(io_refusal)?;

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
        let split = match (opts.split_fields, opts.delimiter) {
            (false, _) => Split::Lines,
            (true, DelimiterChoice::Byte(d)) => Split::Delimiter(d),
            (true, DelimiterChoice::Auto) => Split::Detection,
        };
        let check_bytes = pre.has_nul || (encoding == Encoding::Utf8 && !pre.utf8_valid);
        let mut reader = CsvReader {
            records: Records::new(file, CHUNK, bom_len, split),
            encoding,
            check_bytes,
            line_mode: !opts.split_fields,
            columns: None,
            comments: 0,
            blanks: 0,
            limit: opts.max_record_size,
            rec: RawRecord::default(),
            scratch: Vec::new(),
            decoded: String::new(),
            finished: false,
            read_error: None,
        };
        // Detection and the header check need the raw bytes; rows only for the byte check.
        reader.records.keep_raw(true);
        reader.records.limit(opts.max_record_size);
        let header_error = |e: HeaderError| match e {
            HeaderError::Io(e) => io_refusal(e),
            HeaderError::Refused(r) => r,
        };

        let (delimiter, delimiter_source) = match (opts.delimiter, opts.split_fields) {
            (DelimiterChoice::Byte(d), _) => (d, Source::Configured),
            // Line mode never splits, so there is nothing to detect.
            (DelimiterChoice::Auto, false) => (b';', Source::Defaulted),
            (DelimiterChoice::Auto, true) => reader.detect_delimiter().map_err(header_error)?,
        };

        let header = if opts.has_header {
            Some(reader.read_header(pre.size).map_err(header_error)?)
        } else {
            None
        };
        if let Some(h) = &header {
            reader.columns = Some((h.names.len(), h.names.len() + h.trailing_ignored));
        }
        reader.records.keep_raw(check_bytes);

        let info = FileInfo {
            encoding,
            encoding_source,
            bom_removed,
            delimiter,
            delimiter_source,
            header,
            utf8_read_as_1252: encoding_source == Source::Configured
                && encoding == Encoding::Windows1252
                && pre.utf8_valid
                && pre.non_ascii,
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
            match self.records.next(&mut self.rec) {
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
                        raw_end: self.rec.end,
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
        self.records.position()
    }

    /// Bytes of room held for the current record (its fields, their ends, its raw copy).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.rec.held()
    }

    /// The I/O error that ended reading early, if any.
    pub fn read_error(&self) -> Option<&str> {
        self.read_error.as_deref()
    }

    /// `delimiter = auto` (§2.2): finds the header record (headerless: the first data record)
    /// with every candidate separating, counts the candidates in it, then steps back to that
    /// record so that it is read again, this time with the delimiter chosen.
    ///
    /// Comments and blanks before it are counted here and not read again. Lines made only of
    /// candidate delimiters and blanks count as blank here, whatever the delimiter chosen: they
    /// are spreadsheet artefacts, and the chosen delimiter cannot be known before the header.
    /// A record over `max_record_size` refuses the file: it would be the header.
    fn detect_delimiter(&mut self) -> Result<(u8, Source), HeaderError> {
        let found = loop {
            match self.records.next(&mut self.rec)? {
                Scan::Eof => break None,
                Scan::Comment => self.comments += 1,
                Scan::Record if self.rec.oversized => {
                    return Err(self.oversized_header());
                }
                Scan::Record => match vote(&self.rec.raw, self.rec.unterminated) {
                    Vote::Blank => self.blanks += 1,
                    Vote::Delimiter(d) => break d,
                },
            }
        };
        let (d, source) = match found {
            Some(d) => (d, Source::Detected),
            None => (b';', Source::Defaulted),
        };
        // `rec` starts where reading goes on: the record just read (again), or the end of file.
        let (start, line) = (self.rec.start, self.rec.line);
        self.records.rewind_to(start, line, Split::Delimiter(d))?;
        Ok((d, source))
    }

    /// The header: the first record neither blank nor a comment (§2.4). `size` is the file's,
    /// for the refusal of a file without one.
    fn read_header(&mut self, size: u64) -> Result<Header, HeaderError> {
        loop {
            match self.records.next(&mut self.rec)? {
                Scan::Eof => return Err(refused(self.no_header(size))),
                Scan::Comment => self.comments += 1,
                Scan::Record => {
                    let rec = &self.rec;
                    let line = rec.line;
                    if rec.unterminated {
                        return Err(refused(header_refusal(
                            line,
                            format_args!(
                                "unterminated quote in the header (the quoted value runs to the \
                                 end of the file, {} on): close the quote",
                                lines(rec.swallowed)
                            ),
                        )));
                    }
                    if rec.oversized {
                        return Err(self.oversized_header());
                    }
                    if is_blank(rec, self.line_mode, &mut self.scratch) {
                        self.blanks += 1;
                        continue;
                    }
                    // A quote closed lines later: no column name holds a line break, so the
                    // header took in data lines (whose cells must not be echoed as names).
                    let content = rec.raw.strip_suffix(b"\n").unwrap_or(&rec.raw);
                    let content = content.strip_suffix(b"\r").unwrap_or(content);
                    if memchr::memchr2(b'\r', b'\n', content).is_some() {
                        // The line of its last byte: a final line end belongs to it.
                        let ended = content.len() < rec.raw.len();
                        let last = self.records.line() - u64::from(ended);
                        return Err(refused(header_refusal(
                            line,
                            format_args!(
                                "unterminated quote in the header (a quoted name runs on to \
                                 line {last}): close the quote"
                            ),
                        )));
                    }
                    match byte_problem(&rec.raw, self.encoding) {
                        Some(ByteProblem::Nul(at)) => {
                            return Err(refused(header_refusal(
                                line,
                                format_args!(
                                    "a NUL byte at byte offset {at}: this is not a text file (or \
                                     it is UTF-16): save it as UTF-8"
                                ),
                            )));
                        }
                        Some(ByteProblem::InvalidUtf8(at)) => {
                            return Err(refused(header_refusal(
                                line,
                                format_args!(
                                    "not valid UTF-8 (byte offset {at}) while encoding is utf-8: \
                                     save the file as UTF-8, or set encoding=auto or windows-1252"
                                ),
                            )));
                        }
                        None => {}
                    }
                    let (line, raw_start, raw_end) = (rec.line, rec.start, rec.end);
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

    /// Why a file without a header is refused, saying what it holds instead.
    fn no_header(&self, size: u64) -> String {
        let mut held = Vec::new();
        if self.blanks > 0 {
            held.push(format!("{} blank line{}", self.blanks, plural(self.blanks)));
        }
        if self.comments > 0 {
            held.push(format!(
                "{} comment line{}",
                self.comments,
                plural(self.comments)
            ));
        }
        if held.is_empty() {
            let bom = if size > 0 {
                " but a byte order mark"
            } else {
                ""
            };
            format!("the file is empty (nothing{bom}): it needs a header line")
        } else {
            format!(
                "the file has no header line: it holds only {}",
                held.join(" and ")
            )
        }
    }

    /// The refusal of a header record over `max_record_size`.
    fn oversized_header(&self) -> HeaderError {
        refused(header_refusal(
            self.rec.line,
            format_args!(
                "longer than {} (option max_record_size): not read",
                size_name(self.limit)
            ),
        ))
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
                raw_end: rec.end,
            }))
        };
        if rec.unterminated {
            return bad(format!(
                "unterminated quoted value (it swallowed {})",
                lines(rec.swallowed)
            ));
        }
        if rec.oversized {
            return bad(format!(
                "the record is longer than {} (option max_record_size): it was not read",
                size_name(self.limit)
            ));
        }
        if is_blank(rec, self.line_mode, &mut self.scratch) {
            return None;
        }
        if self.check_bytes {
            match byte_problem(&rec.raw, self.encoding) {
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
            let n = rec.len();
            if n < named {
                return bad(format!("{}, the header has {named}", fields(n)));
            }
            if n > total {
                return bad(format!("{}, the header has {total}", fields(n)));
            }
            for k in named..n {
                if !trim(rec.field(k)).is_empty() {
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
            raw_end: rec.end,
        }))
    }

    /// The first `keep` fields of the current record as values (§2.5 up to conversion).
    ///
    /// The fields are decoded together, not one by one: a UTF-8 record is validated once, a
    /// Windows-1252 record of ASCII only is taken as it is, any other Windows-1252 record is
    /// decoded in one reused buffer; each field is then a slice of that text, trimmed and
    /// copied out. Only a UTF-8 record that is not valid (the file changed since the pre-pass)
    /// is decoded field by field, lossily.
    fn decode_fields(&mut self, keep: usize) -> Vec<String> {
        let rec = &self.rec;
        let encoding = self.encoding;
        if self.line_mode {
            let text = line_content(rec.field(0), &mut self.scratch);
            return vec![finish(text, encoding)];
        }
        let n = rec.len().min(keep);
        let bytes = rec.text(n);
        let mut out = Vec::with_capacity(n);
        // The record's text, and whether its fields' ends must be shifted: Windows-1252 bytes
        // above 0x7F take two or three bytes once decoded.
        let whole = match encoding {
            Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(|t| (t, false)),
            Encoding::Windows1252 if bytes.is_ascii() => {
                std::str::from_utf8(bytes).ok().map(|t| (t, false))
            }
            Encoding::Windows1252 => {
                decode_1252_into(bytes, &mut self.decoded);
                Some((self.decoded.as_str(), true))
            }
        };
        if let Some((text, shifted)) = whole {
            let may_escape = memchr::memchr(b'&', text.as_bytes()).is_some();
            let (mut start, mut text_start) = (0, 0);
            for &end in rec.ends(n) {
                let text_end = if shifted {
                    text_start + utf8_len_1252(&bytes[start..end])
                } else {
                    end
                };
                // Field ends are character boundaries unless the file changed under us.
                let Some(field) = text.get(text_start..text_end) else {
                    break;
                };
                out.push(finish_str(trim_str(field), may_escape));
                (start, text_start) = (end, text_end);
            }
            if out.len() == n {
                return out;
            }
            out.clear();
        }
        for i in 0..n {
            out.push(finish(trim(rec.field(i)), encoding));
        }
        out
    }
}

/// Blank (§2.3): every field empty after unquoting and trimming, which covers an empty line, a
/// line of spaces and tabs, and `;;;`. In line mode, the one field goes through line-mode
/// unquoting, so a line `""` is blank too.
fn is_blank(rec: &RawRecord, line_mode: bool, scratch: &mut Vec<u8>) -> bool {
    if line_mode {
        return line_content(rec.field(0), scratch).is_empty();
    }
    rec.fields().all(|f| trim(f).is_empty())
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
    format!("{n} line{}", plural(n))
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn fields(n: usize) -> String {
    format!("{n} field{}", if n == 1 { "" } else { "s" })
}
