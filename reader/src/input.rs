//! The file as the record reader sees it: a buffer refilled in large chunks, the absolute offset
//! of the next unread byte, and the physical line it is on (formats.md §2.3).
//!
//! Hand-written because neither crate covers it. csv-core wants slices and reports how many
//! bytes each call consumed, so the offsets (raw ranges for the tryback file, §4.3) are ours to
//! keep; and its own line counter counts LF only, while a line here ends with LF, CRLF or a lone
//! CR, mixed freely. Every consumed byte goes through [`Input::consume`], so the line number is
//! right whoever consumed the bytes: csv-core, the comment and blank-line skipping at record
//! starts, or line mode.

use std::io::{self, Read, Seek, SeekFrom};

use memchr::memchr2_iter;

pub(crate) struct Input<R> {
    inner: R,
    buf: Box<[u8]>,
    /// `buf[pos..len]` is read but not consumed.
    pos: usize,
    len: usize,
    /// Absolute offset of `buf[pos]`.
    offset: u64,
    /// Physical line (1-based) of the byte at `offset`.
    line: u64,
    /// The last consumed byte, 0 before any: tells whether an LF completes a CRLF (one line end,
    /// not two) when the CR was consumed by an earlier call.
    last: u8,
}

impl<R: Read + Seek> Input<R> {
    /// `inner` is positioned at absolute offset `offset` (after a BOM: 3), on line 1.
    pub(crate) fn new(inner: R, capacity: usize, offset: u64) -> Self {
        Input {
            inner,
            buf: vec![0; capacity.max(1)].into_boxed_slice(),
            pos: 0,
            len: 0,
            offset,
            line: 1,
            last: 0,
        }
    }

    /// The bytes read but not consumed, reading more when there are none; empty at end of file.
    pub(crate) fn fill(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.len {
            self.pos = 0;
            self.len = 0;
            loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => {
                        self.len = n;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(&self.buf[self.pos..self.len])
    }

    /// The bytes [`Input::fill`] returned, without reading: for callers that hold another
    /// borrow of `self`'s owner while using them.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..self.len]
    }

    /// Consumes `n` buffered bytes, counting the line ends among them, and returns them.
    pub(crate) fn consume(&mut self, n: usize) -> &[u8] {
        let bytes = &self.buf[self.pos..self.pos + n];
        let Some(&last) = bytes.last() else {
            return bytes;
        };
        for i in memchr2_iter(b'\r', b'\n', bytes) {
            // A CR always ends a line; an LF does unless it completes a CRLF.
            let prev = if i == 0 { self.last } else { bytes[i - 1] };
            if bytes[i] == b'\r' || prev != b'\r' {
                self.line += 1;
            }
        }
        self.last = last;
        self.pos += n;
        self.offset += n as u64;
        bytes
    }

    /// After a CR line end: consumes the LF that makes it a CRLF, if it is there. After an LF
    /// it does nothing: the next LF is an empty line of its own.
    pub(crate) fn complete_crlf(&mut self) -> io::Result<()> {
        if self.last == b'\r' && self.fill()?.first() == Some(&b'\n') {
            self.consume(1);
        }
        Ok(())
    }

    /// Absolute offset of the next byte to consume.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Physical line (1-based) of the next byte to consume.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The last byte consumed (0 before any).
    pub(crate) fn last(&self) -> u8 {
        self.last
    }

    /// Goes back (or forth) to a place already known: absolute `offset`, on `line`, just after a
    /// line end or at the start of the file.
    pub(crate) fn seek_to(&mut self, offset: u64, line: u64) -> io::Result<()> {
        self.inner.seek(SeekFrom::Start(offset))?;
        self.pos = 0;
        self.len = 0;
        self.offset = offset;
        self.line = line;
        self.last = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Consumes `data` in pieces of `step` through buffers of `capacity`, checking after each
    /// piece that the line is `want[bytes consumed]`.
    fn check_lines(data: &[u8], want: &[u64], capacity: usize, step: usize) {
        let mut input = Input::new(Cursor::new(data.to_vec()), capacity, 0);
        assert_eq!(input.line(), want[0]);
        loop {
            let n = input.fill().unwrap().len().min(step);
            if n == 0 {
                break;
            }
            input.consume(n);
            let at = input.offset() as usize;
            assert_eq!(input.line(), want[at], "offset {at}, {capacity}/{step}");
        }
        assert_eq!(input.offset(), data.len() as u64);
    }

    #[test]
    fn lf_crlf_and_lone_cr_each_end_one_line() {
        let data = b"a\nb\r\nc\rd\n\re\r\r\nf";
        // The line after consuming 0, 1, … 15 bytes: a CR counts at once, the LF completing it
        // not again.
        let want = [1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 6, 6, 7, 8, 8, 8];
        for capacity in 1..=5 {
            for step in 1..=3 {
                check_lines(data, &want, capacity, step);
            }
        }
        let mut input = Input::new(Cursor::new(data.to_vec()), 64, 0);
        let n = input.fill().unwrap().len();
        assert_eq!(input.consume(n), data);
        assert_eq!((input.offset(), input.line()), (data.len() as u64, 8));
    }

    #[test]
    fn seeking_sets_offset_and_line() {
        let mut input = Input::new(Cursor::new(b"ab\ncd\r\nef".to_vec()), 4, 0);
        input.seek_to(3, 2).unwrap();
        assert_eq!(input.fill().unwrap(), b"cd\r\n");
        input.consume(3);
        input.complete_crlf().unwrap();
        assert_eq!((input.offset(), input.line()), (7, 3));
        assert_eq!(input.fill().unwrap(), b"ef");
    }
}
