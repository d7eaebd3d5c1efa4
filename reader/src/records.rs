//! Records out of the file (formats.md §2.2, §2.3): csv-core splits and unquotes, this module
//! decides where a record starts and ends in the raw bytes.
//!
//! csv-core does the RFC 4180 work: fields, quoted fields with delimiters and line ends inside,
//! `""`, lenient text after a closing quote (`"ab"c` is `abc`), a `"` inside an unquoted field
//! taken literally, and LF, CRLF or a lone CR ending a record. Its `read_record` is driven here
//! over large slices of the buffered [`Input`], which adds what csv-core does not do or does
//! differently, by hand:
//!
//! - **Record starts.** csv-core skips empty lines and comment lines silently and inside the
//!   next record's byte count, and it cannot count comments. So csv-core is only ever handed a
//!   record's first byte: an empty line (a blank record of one empty field) and a `#` line (a
//!   [`Scan::Comment`]) where a record starts are read here; a `#` met later, inside a quoted
//!   multi-line value, is csv-core's and stays data.
//! - **Raw ranges.** A record's range runs from its first byte to the end of its line
//!   terminator. csv-core stops after the CR of a CRLF and would leave the LF to the next
//!   record, so the LF is consumed here.
//! - **Unterminated quoted values.** At end of file csv-core closes an open quoted field as if
//!   it were complete, and does not expose its state. So at end of file it is fed one LF first:
//!   only inside quotes does an LF not end the record. (Asking a clone instead is not possible:
//!   csv-core 0.1.13's `Clone` copies only part of its tables, and the clone misreads.)
//! - **Line mode** (§3.2) never splits nor unquotes: a record is one physical line, found with
//!   memchr.
//!
//! Each csv-core parser is primed with one LF (an empty line, which it skips) so that it never
//! strips a UTF-8 BOM itself: the reader removed the file's BOM already, and a second one is data.
//! Line numbers and offsets are counted by [`Input`] over every consumed byte.
//!
//! Memory is one record: the output buffers are reused and only grow to the largest record, and
//! the raw bytes are copied only when asked (the header, and rows of a file whose pre-pass found
//! something the per-row byte check must locate). A record is bounded too (`max_record_size`):
//! once it has taken more bytes of the file than that, it is marked [`RawRecord::oversized`] and
//! the rest of it is only scanned for its end (quotes still count), its bytes dropped as they
//! come, so that a 200 MB line costs no more memory than the bound.

use std::io::{self, Read, Seek};
use std::ops::Range;

use csv_core::{ReadRecordResult, Reader as Core, ReaderBuilder, Terminator};
use memchr::memchr2;

use crate::input::Input;

/// The candidates `delimiter = auto` counts, in tie-breaking order (§2.2).
pub(crate) const DETECTION_CANDIDATES: [u8; 4] = [b';', b',', b'\t', b':'];

/// How records are split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// Normal reading with one delimiter.
    Delimiter(u8),
    /// Delimiter detection: every candidate separates at once, so that blank records (`;;;`,
    /// `,,,`) and quoted fields are recognised before the delimiter is known. csv-core takes one
    /// delimiter, so it is fed a copy of the input with every candidate turned into `;`.
    Detection,
    /// Line mode (§3.2): a record is exactly one physical line, one field, never unquoted here.
    Lines,
}

/// What one call of [`Records::next`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    Eof,
    /// A comment line (first byte `#` where a record would start) was skipped.
    Comment,
    /// [`RawRecord`] holds a record (possibly blank: the caller decides, since blankness depends
    /// on trimming). An empty line is a record of one empty field.
    Record,
}

/// The record being read; reused from one record to the next.
#[derive(Debug, Default)]
pub(crate) struct RawRecord {
    /// The fields' unquoted bytes, one after the other; only `..ends[fields - 1]` is meaningful,
    /// the rest is room for csv-core to write into.
    out: Vec<u8>,
    /// Where each field ends in `out`; only `..fields` is meaningful.
    ends: Vec<usize>,
    fields: usize,
    /// Every byte of the record, line terminator included, when [`Records::keep_raw`] asked for
    /// them; empty otherwise.
    pub raw: Vec<u8>,
    /// Absolute byte range of the record in the file, line terminator included.
    pub start: u64,
    pub end: u64,
    /// Physical line (1-based) where the record starts.
    pub line: u64,
    /// A quoted field was still open at end of file; the fields are then unusable.
    pub unterminated: bool,
    /// For an unterminated record: how many physical lines after its first one it took in.
    pub swallowed: u64,
    /// The record took more bytes than the limit: its fields and raw bytes are incomplete and
    /// must not be used; only its place (line, range) is right.
    pub oversized: bool,
}

impl RawRecord {
    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        self.fields
    }

    /// Where field `i` is in [`RawRecord::text`].
    pub(crate) fn range(&self, i: usize) -> Range<usize> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        start..self.ends[i]
    }

    /// Field `i`, unquoted, not trimmed.
    pub(crate) fn field(&self, i: usize) -> &[u8] {
        &self.out[self.range(i)]
    }

    pub(crate) fn fields(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.fields).map(|i| self.field(i))
    }

    /// Where each of the first `n` fields ends in [`RawRecord::text`].
    pub(crate) fn ends(&self, n: usize) -> &[usize] {
        &self.ends[..n.min(self.fields)]
    }

    /// The first `n` fields' bytes, one after the other: decoding them at once validates UTF-8
    /// once per record instead of once per field.
    pub(crate) fn text(&self, n: usize) -> &[u8] {
        match n.min(self.fields) {
            0 => &[],
            n => &self.out[..self.ends[n - 1]],
        }
    }

    fn clear(&mut self, start: u64, line: u64) {
        self.fields = 0;
        self.raw.clear();
        self.start = start;
        self.end = start;
        self.line = line;
        self.unterminated = false;
        self.swallowed = 0;
        self.oversized = false;
    }

    /// Bytes of room held (see [`crate::CsvReader`]'s memory bound).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.out.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
            + self.raw.capacity()
    }

    /// The record is one field, `out[..len]`.
    fn set_one_field(&mut self, len: usize) {
        if self.ends.is_empty() {
            self.grow_ends();
        }
        self.ends[0] = len;
        self.fields = 1;
    }

    /// More room for field bytes. The length grows by at most 1 MiB at a time (the capacity
    /// still doubles, so copies stay amortised): the room is zeroed, hence resident, and a
    /// 200 MB record must not cost more than about its own size.
    fn grow_out(&mut self) {
        let extra = self.out.len().clamp(4096, 1 << 20);
        self.out.resize(self.out.len() + extra, 0);
    }

    fn grow_ends(&mut self) {
        let n = (self.ends.len() * 2).max(64);
        self.ends.resize(n, 0);
    }
}

/// How much of the input is copied at a time for detection: the copy is only for the records
/// up to the header, so it is kept small rather than fast.
const DETECTION_WINDOW: usize = 4096;

/// Streams records out of a file (or, in tests, any `Read + Seek`).
pub(crate) struct Records<R> {
    input: Input<R>,
    split: Split,
    core: Core,
    keep_raw: bool,
    /// The most bytes a record may take before it is [`RawRecord::oversized`].
    limit: u64,
    /// Detection only: the candidates-to-`;` copy csv-core reads.
    mapped: Vec<u8>,
}

impl<R: Read + Seek> Records<R> {
    /// `inner` is positioned at absolute offset `offset` (after a BOM: 3); `capacity` is the
    /// size of the reads.
    pub(crate) fn new(inner: R, capacity: usize, offset: u64, split: Split) -> Self {
        Records {
            input: Input::new(inner, capacity, offset),
            split,
            core: core_for(split),
            keep_raw: false,
            limit: u64::MAX,
            mapped: Vec::new(),
        }
    }

    /// Records longer than `bytes` (terminator included) are not kept, only skipped.
    pub(crate) fn limit(&mut self, bytes: u64) {
        self.limit = bytes;
    }

    /// Physical line (1-based) of the next byte to read.
    pub(crate) fn line(&self) -> u64 {
        self.input.line()
    }

    /// Whether [`RawRecord::raw`] is filled from the next record on.
    pub(crate) fn keep_raw(&mut self, yes: bool) {
        self.keep_raw = yes;
    }

    /// Bytes consumed so far, as an absolute offset.
    pub(crate) fn position(&self) -> u64 {
        self.input.offset()
    }

    /// Goes back to a record already read (after delimiter detection) so that it is read again,
    /// split as `split` says.
    pub(crate) fn rewind_to(&mut self, offset: u64, line: u64, split: Split) -> io::Result<()> {
        self.input.seek_to(offset, line)?;
        self.split = split;
        self.core = core_for(split);
        Ok(())
    }

    /// Reads the next record or comment line into `rec`.
    ///
    /// On an I/O error, `rec` holds the place of the record being read, up to the bytes consumed
    /// before the error.
    pub(crate) fn next(&mut self, rec: &mut RawRecord) -> io::Result<Scan> {
        rec.clear(self.input.offset(), self.input.line());
        let result = match self.input.fill()?.first() {
            None => return Ok(Scan::Eof),
            Some(b'#') => self.read_line(None).map(|()| Scan::Comment),
            // An empty line: one empty field, which makes it blank.
            Some(b'\r' | b'\n') => {
                self.consume(1, rec);
                rec.set_one_field(0);
                self.complete_crlf(rec).map(|()| Scan::Record)
            }
            Some(_) => match self.split {
                Split::Lines => self.read_line(Some(rec)),
                Split::Delimiter(_) | Split::Detection => self.read_csv(rec),
            }
            .map(|()| Scan::Record),
        };
        rec.end = self.input.offset();
        result
    }

    /// Consumes `n` buffered bytes of `rec`, and marks it oversized once it has taken more
    /// than the limit (its raw copy is then dropped: nothing of it will be used).
    fn consume(&mut self, n: usize, rec: &mut RawRecord) {
        let end = self.input.offset() + n as u64;
        let bytes = self.input.consume(n);
        if rec.oversized {
            return;
        }
        if end - rec.start > self.limit {
            rec.oversized = true;
            rec.raw = Vec::new();
        } else if self.keep_raw {
            rec.raw.extend_from_slice(bytes);
        }
    }

    /// After a record that ended with CR: the LF of a CRLF belongs to it.
    fn complete_crlf(&mut self, rec: &mut RawRecord) -> io::Result<()> {
        if self.input.last() == b'\r' && self.input.fill()?.first() == Some(&b'\n') {
            self.consume(1, rec);
        }
        Ok(())
    }

    /// One physical line, terminator included: a line-mode record (its one field is the line
    /// without terminator) or, with `rec == None`, a comment line.
    fn read_line(&mut self, mut rec: Option<&mut RawRecord>) -> io::Result<()> {
        let mut len = 0;
        loop {
            let buf = self.input.fill()?;
            if buf.is_empty() {
                break;
            }
            let (n, ended) = match memchr2(b'\r', b'\n', buf) {
                Some(k) => (k + 1, true),
                None => (buf.len(), false),
            };
            match rec.as_deref_mut() {
                // A line over the limit: the rest of it is only looked through for its end.
                Some(rec) if !rec.oversized => {
                    let content = &self.input.buffered()[..n - usize::from(ended)];
                    while rec.out.len() < len + content.len() {
                        rec.grow_out();
                    }
                    rec.out[len..len + content.len()].copy_from_slice(content);
                    len += content.len();
                    self.consume(n, rec);
                }
                Some(rec) => self.consume(n, rec),
                None => {
                    self.input.consume(n);
                }
            }
            if ended {
                match rec.as_deref_mut() {
                    Some(rec) => self.complete_crlf(rec)?,
                    None => self.input.complete_crlf()?,
                }
                break;
            }
        }
        if let Some(rec) = rec.filter(|rec| !rec.oversized) {
            rec.set_one_field(len);
        }
        Ok(())
    }

    /// One CSV record through csv-core, from its first byte (neither a line end nor a `#`).
    fn read_csv(&mut self, rec: &mut RawRecord) -> io::Result<()> {
        let (mut nout, mut nend) = (0, 0);
        loop {
            if self.input.fill()?.is_empty() {
                // End of file inside the record. csv-core would complete it as it stands, open
                // quotes or not, so it is first fed one LF: outside quotes that ends the record
                // just as the end of file would (same fields); inside quotes the LF is content,
                // and the record is unterminated.
                if rec.oversized {
                    (nout, nend) = (0, 0);
                }
                if nout == rec.out.len() {
                    rec.grow_out();
                }
                if nend == rec.ends.len() {
                    rec.grow_ends();
                }
                let (result, _, _, n_ends) =
                    self.core
                        .read_record(b"\n", &mut rec.out[nout..], &mut rec.ends[nend..]);
                nend += n_ends;
                if result != ReadRecordResult::Record {
                    rec.unterminated = true;
                    if nend == rec.ends.len() {
                        rec.grow_ends();
                    }
                    let (_, _, _, n_ends) =
                        self.core.read_record(&[], &mut [], &mut rec.ends[nend..]);
                    nend += n_ends;
                    // The line the last byte is on: a final line end belongs to the line it
                    // ends, not to the (non-existent) next one.
                    let last_ended = matches!(self.input.last(), b'\r' | b'\n');
                    rec.swallowed = self.input.line() - rec.line - u64::from(last_ended);
                }
                break;
            }
            let input = self.input.buffered();
            let fed = if self.split == Split::Detection {
                let window = &input[..input.len().min(DETECTION_WINDOW)];
                self.mapped.clear();
                self.mapped
                    .extend(window.iter().map(|&b| detection_byte(b)));
                &self.mapped[..]
            } else {
                input
            };
            let (result, nin, n_out, n_ends) =
                self.core
                    .read_record(fed, &mut rec.out[nout..], &mut rec.ends[nend..]);
            nout += n_out;
            nend += n_ends;
            self.consume(nin, rec);
            // An oversized record's fields are written over and over in the room it has: only
            // its end is looked for. (csv-core's DFA reader, the builder's default, carries
            // from call to call only an offset it adds to `ends`, which are not used then.)
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull if rec.oversized => nout = 0,
                ReadRecordResult::OutputEndsFull if rec.oversized => nend = 0,
                ReadRecordResult::OutputFull => rec.grow_out(),
                ReadRecordResult::OutputEndsFull => rec.grow_ends(),
                ReadRecordResult::Record => {
                    self.complete_crlf(rec)?;
                    break;
                }
                // Only for an empty input at a record start, which is never fed.
                ReadRecordResult::End => break,
            }
        }
        rec.fields = if rec.oversized { 0 } else { nend };
        Ok(())
    }
}

/// A csv-core parser for `split` (RFC 4180: `"` quotes, `""` escapes, CR, LF or CRLF ends a
/// record), primed so that it never strips a BOM (see the module doc).
pub(crate) fn core_for(split: Split) -> Core {
    let delimiter = match split {
        Split::Delimiter(d) => d,
        Split::Detection | Split::Lines => b';',
    };
    let mut core = ReaderBuilder::new()
        .delimiter(delimiter)
        .terminator(Terminator::CRLF)
        .build();
    let _ = core.read_record(b"\n", &mut [0; 1], &mut [0; 1]);
    core
}

/// A byte as detection feeds it to csv-core: every candidate delimiter becomes `;`.
pub(crate) fn detection_byte(b: u8) -> u8 {
    if DETECTION_CANDIDATES.contains(&b) {
        b';'
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// (kind, line, start, end, unterminated/swallowed, fields)
    type Seen = (Scan, u64, u64, u64, Option<u64>, Vec<Vec<u8>>);

    fn scan_all(data: &[u8], split: Split, capacity: usize) -> Vec<Seen> {
        let mut s = Records::new(Cursor::new(data.to_vec()), capacity, 0, split);
        s.keep_raw(true);
        let mut rec = RawRecord::default();
        let mut out = Vec::new();
        loop {
            let kind = s.next(&mut rec).unwrap();
            if kind == Scan::Eof {
                assert_eq!(s.position(), data.len() as u64);
                return out;
            }
            if kind == Scan::Record {
                assert_eq!(&data[rec.start as usize..rec.end as usize], &rec.raw[..]);
            }
            let fields = rec.fields().map(<[u8]>::to_vec).collect();
            let unterminated = rec.unterminated.then_some(rec.swallowed);
            out.push((kind, rec.line, rec.start, rec.end, unterminated, fields));
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
        let split = Split::Delimiter(b';');
        let whole = scan_all(TRICKY, split, 64 * 1024);
        for capacity in 1..=9 {
            assert_eq!(
                scan_all(TRICKY, split, capacity),
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
            vec![b"a".to_vec(), b"b;\"x\"\r\nmore\rstill".to_vec()]
        );
        assert_eq!((whole[1].2, whole[1].3), (5, 30));
        assert_eq!(
            (whole[2].2, whole[2].3, &whole[2].5),
            (30, 31, &vec![Vec::new()])
        );
        assert_eq!(whole[3].5, vec![Vec::new(), Vec::new(), Vec::new()]);
        assert_eq!(whole[5].5, vec![b"qtail".to_vec(), Vec::new()]);
        assert_eq!(whole[6].5, vec![b"x\"y".to_vec(), b"z".to_vec()]);
        // "open… runs to the end: lines 11 and 12 swallowed.
        assert_eq!(whole[7].4, Some(2));
        assert_eq!(whole[7].3, TRICKY.len() as u64);
    }

    #[test]
    fn empty_last_fields() {
        let split = Split::Delimiter(b';');
        for capacity in [1, 2, 64] {
            let got = scan_all(b"x;", split, capacity);
            assert_eq!(got[0].5, vec![b"x".to_vec(), Vec::new()]);
            let got = scan_all(b"x;\r;", split, capacity);
            assert_eq!(got[0].5, vec![b"x".to_vec(), Vec::new()]);
            assert_eq!(got[1].1, 2);
            assert_eq!(got[1].5, vec![Vec::new(), Vec::new()]);
            let got = scan_all(b"\"\"", split, capacity);
            assert_eq!(got[0].5, vec![Vec::new()]);
            assert_eq!(got[0].4, None);
        }
    }

    #[test]
    fn line_mode_never_splits_or_unquotes() {
        let whole = scan_all(b"a,b;\"c\n\"d\"\r\n#x\n", Split::Lines, 3);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0].5, vec![b"a,b;\"c".to_vec()]);
        assert_eq!(whole[1].5, vec![b"\"d\"".to_vec()]);
        assert_eq!((whole[1].2, whole[1].3), (7, 12));
        assert_eq!(whole[2].0, Scan::Comment);
    }

    #[test]
    fn detection_splits_on_every_candidate_and_keeps_the_raw_bytes() {
        for capacity in [1, 5, 64] {
            let got = scan_all(b",\t:;\n\"a,b\":c\td;e\n", Split::Detection, capacity);
            assert_eq!(got.len(), 2);
            assert_eq!(got[0].5, vec![Vec::new(); 5]);
            // Field bytes come from the mapped copy (only their blankness is used); the raw
            // bytes, checked by `scan_all`, are the file's.
            assert_eq!(
                got[1].5,
                [&b"a;b"[..], b"c", b"d", b"e"].map(<[u8]>::to_vec)
            );
        }
    }

    /// Serves `data`, then fails every read at or after byte `fail_at`.
    struct Failing {
        data: Cursor<Vec<u8>>,
        fail_at: u64,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let left = self.fail_at.saturating_sub(self.data.position());
            if left == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(left as usize);
            self.data.read(&mut buf[..n])
        }
    }

    impl Seek for Failing {
        fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
            self.data.seek(pos)
        }
    }

    #[test]
    fn an_io_error_keeps_the_place_of_the_record_being_read() {
        let data = b"a;b\n1;\"x\ny\";2\n3;4\n".to_vec();
        for capacity in [1, 3, 64] {
            let inner = Failing {
                data: Cursor::new(data.clone()),
                fail_at: 10,
            };
            let mut s = Records::new(inner, capacity, 0, Split::Delimiter(b';'));
            let mut rec = RawRecord::default();
            assert_eq!(s.next(&mut rec).unwrap(), Scan::Record);
            let err = s.next(&mut rec).unwrap_err();
            assert_eq!(err.to_string(), "disk on fire");
            assert_eq!(
                (rec.line, rec.start, rec.end),
                (2, 4, 10),
                "capacity {capacity}"
            );
            assert_eq!(s.position(), 10);
        }
    }

    #[test]
    fn a_second_bom_is_data() {
        let got = scan_all(b"\xEF\xBB\xBFa;b\n", Split::Delimiter(b';'), 64);
        assert_eq!(got[0].5, vec![b"\xEF\xBB\xBFa".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn many_fields_and_long_fields_grow_the_buffers() {
        let mut data = ";".repeat(1000);
        data.push('"');
        data.push_str(&"x\"\"".repeat(10_000));
        data.push_str("\"\n");
        let got = scan_all(data.as_bytes(), Split::Delimiter(b';'), 100);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].5.len(), 1001);
        assert_eq!(got[0].5[1000], "x\"".repeat(10_000).into_bytes());
    }
}
