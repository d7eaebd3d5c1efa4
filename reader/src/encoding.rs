//! Byte-level encoding facts (formats.md §2.1): byte order marks, a streaming UTF-8 validity
//! check, and decoding of one field to UTF-8.
//!
//! The record state machine works on raw bytes and decodes each field once, at the end. That is
//! sound for both supported encodings because they encode `"`, the delimiters, CR and LF as the
//! same single ASCII bytes, and in UTF-8 no byte of a multi-byte sequence is below 0x80, so a
//! delimiter byte can never be the middle of a character.

use crate::options::Encoding;

/// What the first bytes of a file announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bom {
    None,
    /// `EF BB BF`, 3 bytes, removed before reading.
    Utf8,
    /// `FF FE`, `FE FF`, `FF FE 00 00` or `00 00 FE FF`: the file is refused, since every ASCII
    /// character of it would carry NUL bytes and no row could be read correctly.
    Utf16Or32,
}

pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// `head` is the first (up to) 4 bytes of the file.
pub(crate) fn sniff_bom(head: &[u8]) -> Bom {
    if head.starts_with(b"\x00\x00\xFE\xFF")
        || head.starts_with(b"\xFF\xFE")
        || head.starts_with(b"\xFE\xFF")
    {
        Bom::Utf16Or32
    } else if head.starts_with(UTF8_BOM) {
        Bom::Utf8
    } else {
        Bom::None
    }
}

/// Checks UTF-8 validity of a stream fed in arbitrary chunks.
///
/// `std::str::from_utf8` does the real work (it has an ASCII fast path far quicker than a byte
/// loop); this wrapper only carries a multi-byte sequence cut by a chunk boundary over to the
/// next chunk, which `Utf8Error::error_len() == None` identifies.
#[derive(Debug)]
pub(crate) struct Utf8Validator {
    carry: [u8; 4],
    carry_len: usize,
    valid: bool,
}

impl Utf8Validator {
    pub(crate) fn new() -> Self {
        Utf8Validator {
            carry: [0; 4],
            carry_len: 0,
            valid: true,
        }
    }

    pub(crate) fn update(&mut self, mut chunk: &[u8]) {
        if !self.valid {
            return;
        }
        if self.carry_len > 0 {
            let width = sequence_width(self.carry[0]);
            let take = (width - self.carry_len).min(chunk.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&chunk[..take]);
            self.carry_len += take;
            chunk = &chunk[take..];
            if self.carry_len < width {
                return; // still cut: the chunk was tiny
            }
            if std::str::from_utf8(&self.carry[..width]).is_err() {
                self.valid = false;
                return;
            }
            self.carry_len = 0;
        }
        if let Err(e) = std::str::from_utf8(chunk) {
            match e.error_len() {
                Some(_) => self.valid = false,
                None => {
                    // A valid prefix of a sequence at the very end: at most 3 bytes.
                    let tail = &chunk[e.valid_up_to()..];
                    self.carry[..tail.len()].copy_from_slice(tail);
                    self.carry_len = tail.len();
                }
            }
        }
    }

    /// A sequence still cut at the end of the stream is invalid.
    pub(crate) fn finish(&self) -> bool {
        self.valid && self.carry_len == 0
    }
}

/// Length of the UTF-8 sequence a lead byte starts. Only called on a lead byte that
/// `from_utf8` accepted as the start of an incomplete sequence, so it is 2, 3 or 4.
fn sequence_width(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        _ => 2,
    }
}

/// Windows-1252 for 0x80..=0x9F. The five bytes the code page leaves undefined (81 8D 8F 90 9D)
/// map to the C1 control of equal value, as §2.1 requires, so decoding never fails and never
/// loses a byte.
const CP1252_80_9F: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

/// One Windows-1252 byte as a character: the table above for 0x80..=0x9F, else Latin-1 (the
/// byte value is the code point).
pub(crate) fn cp1252_char(b: u8) -> char {
    match b {
        0x80..=0x9F => CP1252_80_9F[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// Decodes one field. In UTF-8 mode the bytes were validated already (pre-pass, or the per-row
/// check when the pre-pass found a problem); the lossy fallback only covers a file changed
/// between the two passes, where a replacement character beats a panic.
pub(crate) fn decode(bytes: &[u8], encoding: Encoding) -> String {
    match encoding {
        Encoding::Utf8 => match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        },
        Encoding::Windows1252 => {
            let mut s = String::with_capacity(bytes.len());
            s.extend(bytes.iter().map(|&b| cp1252_char(b)));
            s
        }
    }
}

/// The first byte that makes a record unreadable: a NUL (any encoding), or invalid UTF-8 in
/// UTF-8 mode. Offsets count from the record's first byte, 0-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ByteProblem {
    Nul(usize),
    InvalidUtf8(usize),
}

pub(crate) fn byte_problem(raw: &[u8], encoding: Encoding) -> Option<ByteProblem> {
    let nul = raw.iter().position(|&b| b == 0);
    let invalid = match encoding {
        Encoding::Utf8 => std::str::from_utf8(raw).err().map(|e| e.valid_up_to()),
        Encoding::Windows1252 => None,
    };
    match (nul, invalid) {
        (Some(n), Some(i)) if i < n => Some(ByteProblem::InvalidUtf8(i)),
        (Some(n), _) => Some(ByteProblem::Nul(n)),
        (None, Some(i)) => Some(ByteProblem::InvalidUtf8(i)),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms() {
        assert_eq!(sniff_bom(b"\xEF\xBB\xBFa;b"), Bom::Utf8);
        assert_eq!(sniff_bom(b"\xFF\xFEa\x00"), Bom::Utf16Or32);
        assert_eq!(sniff_bom(b"\xFE\xFF\x00a"), Bom::Utf16Or32);
        assert_eq!(sniff_bom(b"\xFF\xFE\x00\x00"), Bom::Utf16Or32);
        assert_eq!(sniff_bom(b"\x00\x00\xFE\xFF"), Bom::Utf16Or32);
        assert_eq!(sniff_bom(b"\xEF\xBB"), Bom::None);
        assert_eq!(sniff_bom(b""), Bom::None);
        assert_eq!(sniff_bom(b"a;b"), Bom::None);
    }

    fn valid_in_chunks(data: &[u8], size: usize) -> bool {
        let mut v = Utf8Validator::new();
        for c in data.chunks(size) {
            v.update(c);
        }
        v.finish()
    }

    #[test]
    fn validator_handles_cut_sequences() {
        let good = "é€😀a;ü\n𝄞".as_bytes();
        let bad_cases: [&[u8]; 5] = [
            b"abc\xE9def",         // lone Latin-1 byte
            b"abc\xE2\x82",        // cut at the end of the stream
            b"\xF0\x9F\x98",       // cut 4-byte sequence
            b"a\xC3\x28",          // bad continuation
            b"\xED\xA0\x80 surro", // surrogate
        ];
        for size in 1..=8 {
            assert!(valid_in_chunks(good, size), "chunk {size}");
            for bad in bad_cases {
                assert!(!valid_in_chunks(bad, size), "chunk {size}: {bad:?}");
            }
        }
        assert!(valid_in_chunks(b"", 4));
    }

    #[test]
    fn windows_1252_table() {
        assert_eq!(cp1252_char(0x80), '€');
        assert_eq!(cp1252_char(0x9C), 'œ');
        assert_eq!(cp1252_char(0x8A), 'Š');
        assert_eq!(cp1252_char(0x9F), 'Ÿ');
        for b in [0x81u8, 0x8D, 0x8F, 0x90, 0x9D] {
            assert_eq!(u32::from(cp1252_char(b)), u32::from(b));
        }
        assert_eq!(cp1252_char(0xA0), '\u{A0}');
        assert_eq!(cp1252_char(0xE9), 'é');
        assert_eq!(cp1252_char(0xFF), 'ÿ');
        assert_eq!(cp1252_char(b'a'), 'a');
        assert_eq!(decode(b"caf\xE9 \x80", Encoding::Windows1252), "café €");
    }

    #[test]
    fn problems_report_the_first_offset() {
        assert_eq!(
            byte_problem(b"ab\xE9c", Encoding::Utf8),
            Some(ByteProblem::InvalidUtf8(2))
        );
        assert_eq!(byte_problem(b"ab\xE9c", Encoding::Windows1252), None);
        assert_eq!(
            byte_problem(b"a\x00\xE9", Encoding::Utf8),
            Some(ByteProblem::Nul(1))
        );
        assert_eq!(
            byte_problem(b"\xE9\x00", Encoding::Utf8),
            Some(ByteProblem::InvalidUtf8(0))
        );
        assert_eq!(
            byte_problem(b"ab\x00", Encoding::Windows1252),
            Some(ByteProblem::Nul(2))
        );
        assert_eq!(byte_problem("é;x\n".as_bytes(), Encoding::Utf8), None);
    }
}
