//! The record state machine (formats.md §2.2, §2.3): raw bytes in, one record's raw bytes and
//! field spans out.
//!
//! It never decodes text: field boundaries only depend on `"`, the delimiter, CR and LF, which
//! are single ASCII bytes in both supported encodings (see `encoding`). Each record's raw bytes
//! are kept whole (terminators included) because three later steps need exactly them: the
//! per-row byte check reports offsets from the record's first byte, the tryback file copies them
//! byte for byte, and fields are cut from them without a second copy when unquoted.
//!
//! Memory is one record: the buffers are reused from record to record, and comment lines are
//! skipped without being copied.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

/// Byte classes. The ordering matters: everything below `DELIM` is field content in an unquoted
/// field, which lets the hot loop test one comparison per byte.
const ORD: u8 = 0;
const QUOTE: u8 = 1;
const DELIM: u8 = 2;
const CR: u8 = 3;
const LF: u8 = 4;

/// What each byte value means for the current reading mode.
#[derive(Clone)]
pub(crate) struct Classes([u8; 256]);

impl Classes {
    fn base() -> [u8; 256] {
        let mut t = [ORD; 256];
        t[usize::from(b'\r')] = CR;
        t[usize::from(b'\n')] = LF;
        t
    }

    /// Normal reading with one delimiter.
    pub(crate) fn single(delimiter: u8) -> Self {
        let mut t = Self::base();
        t[usize::from(b'"')] = QUOTE;
        t[usize::from(delimiter)] = DELIM;
        Classes(t)
    }

    /// Delimiter detection: every candidate (`;` `,` TAB `:`) separates at once, so that blank
    /// records (`;;;`, `,,,`) and quoted fields are recognised before the delimiter is known.
    pub(crate) fn detection() -> Self {
        let mut t = Self::base();
        t[usize::from(b'"')] = QUOTE;
        for d in DETECTION_CANDIDATES {
            t[usize::from(d)] = DELIM;
        }
        Classes(t)
    }

    /// Line mode (§3.2): no delimiter and no quoting, so a record is exactly one physical line.
    pub(crate) fn lines() -> Self {
        Classes(Self::base())
    }

    #[inline]
    fn of(&self, b: u8) -> u8 {
        self.0[usize::from(b)]
    }
}

/// The candidates `delimiter = auto` counts, in tie-breaking order (§2.2).
pub(crate) const DETECTION_CANDIDATES: [u8; 4] = [b';', b',', b'\t', b':'];

/// One field's place in `RawRecord::bytes`, delimiter and terminator excluded. A quoted span
/// starts at its opening `"` and still needs unquoting (`field::content`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    pub quoted: bool,
}

/// The record being read; reused from one record to the next.
#[derive(Debug, Default)]
pub(crate) struct RawRecord {
    /// Every byte of the record, line terminators included (the last one too).
    pub bytes: Vec<u8>,
    pub spans: Vec<Span>,
    /// Absolute file offset of `bytes[0]`.
    pub start: u64,
    /// Physical line (1-based) where the record starts.
    pub line: u64,
    /// A quoted field was still open at end of file; `spans` is then unusable.
    pub unterminated: bool,
    /// For an unterminated record: how many physical lines after its first one it took in.
    pub swallowed: u64,
}

impl RawRecord {
    pub(crate) fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

/// What one call of `Scanner::next` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    Eof,
    /// A comment line (first byte `#` where a record would start) was skipped.
    Comment,
    /// `RawRecord` holds a record (possibly blank: the caller decides, since blankness depends
    /// on unquoting).
    Record,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Nothing of the record read yet: a `#` here makes a comment line.
    Start,
    /// At the first byte of a field: a `"` here opens a quoted field.
    FieldStart,
    Unquoted,
    Quoted,
    /// Just read a `"` inside a quoted field: `""`, the closing quote, or (lenient) the closing
    /// quote followed by more content.
    QuoteInQuoted,
    /// Skipping the rest of a comment line.
    Comment,
    /// The record (or comment) ended with CR: a following LF belongs to it.
    AfterCr,
}

/// Streams records out of a buffered reader, tracking the absolute offset and the physical line.
pub(crate) struct Scanner<R> {
    inner: BufReader<R>,
    pos: u64,
    line: u64,
}

impl<R: Read + Seek> Scanner<R> {
    /// `pos` is the absolute offset `inner` is positioned at (after a BOM: 3).
    pub(crate) fn new(inner: BufReader<R>, pos: u64) -> Self {
        Scanner {
            inner,
            pos,
            line: 1,
        }
    }

    /// Bytes consumed so far, as an absolute offset.
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    /// Goes back to a record already read (after delimiter detection) so that it is read again
    /// with the real delimiter.
    pub(crate) fn rewind_to(&mut self, pos: u64, line: u64) -> io::Result<()> {
        self.inner.seek(SeekFrom::Start(pos))?;
        self.pos = pos;
        self.line = line;
        Ok(())
    }

    /// Reads the next record or comment line into `rec`.
    ///
    /// On an I/O error, `rec` holds the bytes of the record read before it.
    pub(crate) fn next(&mut self, classes: &Classes, rec: &mut RawRecord) -> io::Result<Scan> {
        rec.bytes.clear();
        rec.spans.clear();
        rec.start = self.pos;
        rec.line = self.line;
        rec.unterminated = false;
        rec.swallowed = 0;

        let mut state = State::Start;
        let mut comment = false;
        let mut field_start = 0usize;
        let mut field_quoted = false;
        let mut line = self.line;

        loop {
            let buf = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.line = line;
                    return Err(e);
                }
            };
            if buf.is_empty() {
                self.line = line;
                let end = rec.bytes.len();
                return Ok(match state {
                    State::Start => Scan::Eof,
                    State::Comment => Scan::Comment,
                    State::AfterCr if comment => Scan::Comment,
                    State::AfterCr => Scan::Record,
                    State::FieldStart => {
                        // After a final delimiter (`a;` at EOF): one more, empty, field.
                        rec.spans.push(Span {
                            start: end,
                            end,
                            quoted: false,
                        });
                        Scan::Record
                    }
                    State::Unquoted | State::QuoteInQuoted => {
                        rec.spans.push(Span {
                            start: field_start,
                            end,
                            quoted: field_quoted,
                        });
                        Scan::Record
                    }
                    State::Quoted => {
                        rec.unterminated = true;
                        // The line the last byte is on: a final terminator belongs to the line
                        // it ends, not to the (non-existent) next one.
                        let last_line = match rec.bytes.last() {
                            Some(b'\r' | b'\n') => line - 1,
                            _ => line,
                        };
                        rec.swallowed = last_line - rec.line;
                        Scan::Record
                    }
                });
            }

            // Offsets inside the record: buf[i] is rec.bytes[base + i], because every call
            // starts exactly where the previous record ended.
            let base = rec.bytes.len();
            let n = buf.len();
            let mut i = 0;
            let mut done = false;
            while i < n && !done {
                match state {
                    State::Start => {
                        if buf[i] == b'#' {
                            comment = true;
                            state = State::Comment;
                            i += 1;
                        } else {
                            state = State::FieldStart;
                        }
                    }
                    State::Comment => match buf[i..].iter().position(|&b| b == b'\r' || b == b'\n')
                    {
                        None => i = n,
                        Some(k) => {
                            i += k;
                            line += 1;
                            if buf[i] == b'\r' {
                                state = State::AfterCr;
                            } else {
                                done = true;
                            }
                            i += 1;
                        }
                    },
                    State::FieldStart => {
                        field_start = base + i;
                        if classes.of(buf[i]) == QUOTE {
                            field_quoted = true;
                            state = State::Quoted;
                            i += 1;
                        } else {
                            field_quoted = false;
                            state = State::Unquoted;
                        }
                    }
                    State::Unquoted => {
                        while i < n && classes.of(buf[i]) < DELIM {
                            i += 1;
                        }
                        if i < n {
                            (state, done) = end_field(classes.of(buf[i]), &mut line);
                            rec.spans.push(Span {
                                start: field_start,
                                end: base + i,
                                quoted: field_quoted,
                            });
                            i += 1;
                        }
                    }
                    State::Quoted => {
                        while i < n {
                            match buf[i] {
                                b'"' => break,
                                b'\r' => line += 1,
                                b'\n' => {
                                    let prev = if i > 0 {
                                        Some(buf[i - 1])
                                    } else {
                                        rec.bytes.last().copied()
                                    };
                                    if prev != Some(b'\r') {
                                        line += 1;
                                    }
                                }
                                _ => {}
                            }
                            i += 1;
                        }
                        if i < n {
                            state = State::QuoteInQuoted;
                            i += 1;
                        }
                    }
                    State::QuoteInQuoted => match classes.of(buf[i]) {
                        QUOTE => {
                            state = State::Quoted;
                            i += 1;
                        }
                        ORD => state = State::Unquoted,
                        class => {
                            (state, done) = end_field(class, &mut line);
                            rec.spans.push(Span {
                                start: field_start,
                                end: base + i,
                                quoted: true,
                            });
                            i += 1;
                        }
                    },
                    State::AfterCr => {
                        if buf[i] == b'\n' {
                            i += 1;
                        }
                        done = true;
                    }
                }
            }
            if !comment {
                rec.bytes.extend_from_slice(&buf[..i]);
            }
            self.inner.consume(i);
            self.pos += i as u64;
            if done {
                self.line = line;
                return Ok(if comment { Scan::Comment } else { Scan::Record });
            }
        }
    }
}

/// After a field ended on a byte of class `class` (DELIM, CR or LF): the next state, and whether
/// the record is complete. Counts the line a terminator ends.
fn end_field(class: u8, line: &mut u64) -> (State, bool) {
    match class {
        DELIM => (State::FieldStart, false),
        CR => {
            *line += 1;
            (State::AfterCr, false)
        }
        _ => {
            *line += 1;
            (State::FieldStart, true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// (kind, line, start, end, unterminated/swallowed, raw fields)
    type Seen = (Scan, u64, u64, u64, Option<u64>, Vec<Vec<u8>>);

    fn scan_all(data: &[u8], classes: &Classes, capacity: usize) -> Vec<Seen> {
        let mut s = Scanner::new(
            BufReader::with_capacity(capacity, Cursor::new(data.to_vec())),
            0,
        );
        let mut rec = RawRecord::default();
        let mut out = Vec::new();
        loop {
            let kind = s.next(classes, &mut rec).unwrap();
            if kind == Scan::Eof {
                assert_eq!(s.position(), data.len() as u64);
                return out;
            }
            let fields = rec
                .spans
                .iter()
                .map(|sp| rec.bytes[sp.start..sp.end].to_vec())
                .collect();
            if kind == Scan::Record {
                assert_eq!(
                    &data[rec.start as usize..rec.end() as usize],
                    &rec.bytes[..]
                );
            }
            let unterminated = rec.unterminated.then_some(rec.swallowed);
            out.push((kind, rec.line, rec.start, rec.end(), unterminated, fields));
        }
    }

    const TRICKY: &[u8] = b"#c1\r\n\
a;\"b;\"\"x\"\"\r\nmore\rstill\"\r\n\
\r\
;;\n\
#c2\r\
\"q\"tail;\"\"\n\
x\"y;z\r\n\
\"open\r\n# not a comment\n;";

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let classes = Classes::single(b';');
        let whole = scan_all(TRICKY, &classes, 64 * 1024);
        for capacity in 1..=9 {
            assert_eq!(
                scan_all(TRICKY, &classes, capacity),
                whole,
                "capacity {capacity}"
            );
        }
        let kinds: Vec<(Scan, u64)> = whole.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(
            kinds,
            vec![
                (Scan::Comment, 1),
                (Scan::Record, 2),
                (Scan::Record, 5),
                (Scan::Record, 6),
                (Scan::Comment, 7),
                (Scan::Record, 8),
                (Scan::Record, 9),
                (Scan::Record, 10),
            ]
        );
        assert_eq!(
            whole[1].5,
            vec![b"a".to_vec(), b"\"b;\"\"x\"\"\r\nmore\rstill\"".to_vec()]
        );
        assert_eq!(whole[5].5, vec![b"\"q\"tail".to_vec(), b"\"\"".to_vec()]);
        assert_eq!(whole[6].5, vec![b"x\"y".to_vec(), b"z".to_vec()]);
        // "open… runs to the end: lines 11 and 12 swallowed.
        assert_eq!(whole[7].4, Some(2));
    }

    #[test]
    fn empty_last_fields() {
        let classes = Classes::single(b';');
        for capacity in [1, 2, 64] {
            let got = scan_all(b"x;", &classes, capacity);
            assert_eq!(got[0].5, vec![b"x".to_vec(), Vec::new()]);
            let got = scan_all(b"x;\r;", &classes, capacity);
            assert_eq!(got[0].5, vec![b"x".to_vec(), Vec::new()]);
            assert_eq!(got[1].1, 2);
            assert_eq!(got[1].5, vec![Vec::new(), Vec::new()]);
            let got = scan_all(b"\"\"", &classes, capacity);
            assert_eq!(got[0].5, vec![b"\"\"".to_vec()]);
        }
    }

    #[test]
    fn line_mode_never_splits_or_unquotes() {
        let whole = scan_all(b"a,b;\"c\n\"d\"\r\n#x\n", &Classes::lines(), 3);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0].5, vec![b"a,b;\"c".to_vec()]);
        assert_eq!(whole[1].5, vec![b"\"d\"".to_vec()]);
        assert_eq!(whole[2].0, Scan::Comment);
    }
}
