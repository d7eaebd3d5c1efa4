//! Byte-level encoding facts (formats.md §2.1): byte order marks, a streaming UTF-8 validity
//! check, and decoding of fields to UTF-8.
//!
//! Records are split on raw bytes (csv-core) and fields are decoded once, at the end. That is
//! sound for both supported encodings because they encode `"`, the delimiters, CR and LF as the
//! same single ASCII bytes, and in UTF-8 no byte of a multi-byte sequence is below 0x80, so a
//! delimiter byte can never be the middle of a character.
//!
//! Windows-1252 is `encoding_rs`'s (the WHATWG Encoding Standard's), which maps the five bytes
//! the code page leaves undefined (81 8D 8F 90 9D) to the C1 control of equal value, as §2.1
//! requires: decoding never fails and never loses a byte. UTF-8 validity is `std`'s
//! `str::from_utf8` (the fastest check at hand, with an ASCII fast path); what is hand-written is
//! only the carrying of a sequence cut by a chunk boundary, for the streaming pre-pass, and the
//! per-row search for a NUL byte or the first invalid byte, whose offset the row's error gives.

use std::borrow::Cow;
use std::sync::OnceLock;

use encoding_rs::{DecoderResult, WINDOWS_1252};

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

/// Decodes field bytes. In UTF-8 mode the bytes were validated already (pre-pass, or the per-row
/// check when the pre-pass found a problem); the lossy fallback only covers a file changed
/// between the two passes, where a replacement character beats a panic. Borrows when it can
/// (UTF-8, or ASCII-only Windows-1252).
pub(crate) fn decode(bytes: &[u8], encoding: Encoding) -> Cow<'_, str> {
    match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(bytes),
        Encoding::Windows1252 => WINDOWS_1252.decode_without_bom_handling(bytes).0,
    }
}

/// Decodes Windows-1252 bytes into `out`, a buffer reused from record to record: one decoder
/// call for a whole record (encoding_rs skips ASCII runs fast), no allocation once `out` has
/// grown. [`utf8_len_1252`] then says where each field ends in `out`.
pub(crate) fn decode_1252_into(bytes: &[u8], out: &mut String) {
    out.clear();
    let mut decoder = WINDOWS_1252.new_decoder_without_bom_handling();
    let mut rest = bytes;
    loop {
        if let Some(need) = decoder.max_utf8_buffer_length_without_replacement(rest.len()) {
            out.reserve(need);
        }
        let (result, read) = decoder.decode_to_string_without_replacement(rest, out, true);
        rest = &rest[read..];
        // Every byte has a character, so only a full buffer can stop the decoder.
        if result == DecoderResult::InputEmpty {
            break;
        }
    }
}

/// The UTF-8 length of Windows-1252 bytes once decoded: every byte is one character, so it is
/// the byte length plus, for each non-ASCII byte, the extra UTF-8 bytes of its character.
pub(crate) fn utf8_len_1252(bytes: &[u8]) -> usize {
    if bytes.is_ascii() {
        return bytes.len();
    }
    let extra = utf8_extra();
    bytes.len()
        + bytes
            .iter()
            .filter(|&&b| b >= 0x80)
            .map(|&b| usize::from(extra[usize::from(b - 0x80)]))
            .sum::<usize>()
}

/// For each byte 0x80..=0xFF, how many more bytes its Windows-1252 character takes in UTF-8
/// than the one byte it takes in the file (1 or 2). Computed once from encoding_rs's own
/// mapping, not written down here.
fn utf8_extra() -> &'static [u8; 128] {
    static EXTRA: OnceLock<[u8; 128]> = OnceLock::new();
    EXTRA.get_or_init(|| {
        let mut extra = [0u8; 128];
        for (b, e) in (0x80..=0xFFu8).zip(extra.iter_mut()) {
            let byte = [b];
            let (text, _) = WINDOWS_1252.decode_without_bom_handling(&byte);
            *e = (text.len() - 1) as u8;
        }
        extra
    })
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

    /// Windows-1252 for 0x80..=0x9F, as §2.1 gives it (the reader's own table before
    /// encoding_rs): the five undefined bytes are the C1 control of equal value.
    const CP1252_80_9F: [char; 32] = [
        '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}',
        '\u{017D}', '\u{008F}', '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}',
        '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}',
        '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
    ];

    fn cp1252_char(b: u8) -> char {
        let byte = [b];
        let s = decode(&byte, Encoding::Windows1252);
        let mut chars = s.chars();
        let c = chars.next().unwrap();
        assert_eq!(chars.next(), None, "one byte, one character");
        c
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
    fn encoding_rs_windows_1252_is_the_spec_table_on_every_byte() {
        for b in 0..=255u8 {
            let want = match b {
                0x80..=0x9F => CP1252_80_9F[usize::from(b - 0x80)],
                _ => char::from(b),
            };
            assert_eq!(cp1252_char(b), want, "byte {b:#04X}");
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&all, Encoding::Windows1252).chars().count(), 256);
        let mut out = String::new();
        decode_1252_into(&all, &mut out);
        let mut at = 0;
        for b in 0..=255u8 {
            let end = at + utf8_len_1252(&[b]);
            assert_eq!(
                out[at..end],
                decode(&[b], Encoding::Windows1252),
                "byte {b:#04X}"
            );
            at = end;
        }
        assert_eq!(at, out.len());
    }

    #[test]
    fn windows_1252_records_decoded_at_once() {
        let mut out = String::new();
        decode_1252_into(b"Ren\xE9\x80x\x9C", &mut out);
        assert_eq!(out, "René€xœ");
        assert_eq!(utf8_len_1252(b"Ren\xE9"), 5);
        assert_eq!(utf8_len_1252(b"\x80x\x9C"), 6);
        assert_eq!(utf8_len_1252(b"\x81\xA0"), 4);
        decode_1252_into(b"", &mut out);
        assert_eq!(out, "");
        let long = vec![0xE9; 10_000];
        decode_1252_into(&long, &mut out);
        assert_eq!(out, "é".repeat(10_000));
        assert_eq!(utf8_len_1252(&long), 20_000);
    }

    #[test]
    fn utf8_decoding_borrows_and_never_fails() {
        assert!(matches!(
            decode("é;x".as_bytes(), Encoding::Utf8),
            Cow::Borrowed("é;x")
        ));
        assert_eq!(decode(b"a\xE9b", Encoding::Utf8), "a\u{FFFD}b");
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
