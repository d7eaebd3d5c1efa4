//! From a field's unquoted bytes to its value (formats.md §2.5): trimming of spaces and tabs
//! (quoted fields too) → decoding → `&#44;` then `&#44` replaced by `,`. Unquoting itself is
//! csv-core's (`records`), except in line mode, whose rule is not CSV's (below).
//!
//! Trimming happens on bytes, before decoding: space and TAB are single ASCII bytes in both
//! encodings and are never part of a multi-byte UTF-8 character, so the result is the same and
//! the decoder sees less.

use std::borrow::Cow;

use memchr::memmem;

use crate::encoding::decode;
use crate::options::Encoding;

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Strips spaces and tabs at both ends (and nothing else: a non-breaking space is content).
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_blank(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_blank(b))
        .map_or(start, |p| p + 1);
    &bytes[start..end]
}

/// [`trim`] on text. Spaces and tabs are ASCII, so the byte positions are character
/// boundaries.
pub(crate) fn trim_str(text: &str) -> &str {
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&a), Some(&z)) if !is_blank(a) && !is_blank(z) => text,
        _ => text.trim_matches([' ', '\t']),
    }
}

/// Line mode (§3.2): the whole trimmed line, unquoted if it is entirely enclosed in `"` (`""`
/// inside gives `"`), then trimmed again like any quoted field. A line that only starts or only
/// ends with `"` is taken literally.
///
/// Hand-written: csv-core would split the line, and would take `"a"b` as `ab` where line mode
/// keeps it whole and literal.
pub(crate) fn line_content<'a>(line: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let t = trim(line);
    if t.len() >= 2 && t[0] == b'"' && t[t.len() - 1] == b'"' {
        scratch.clear();
        let inner = &t[1..t.len() - 1];
        let mut i = 0;
        while i < inner.len() {
            scratch.push(inner[i]);
            i += if inner[i] == b'"' && inner.get(i + 1) == Some(&b'"') {
                2
            } else {
                1
            };
        }
        trim(scratch)
    } else {
        t
    }
}

/// Decodes trimmed field bytes and replaces `&#44;` then `&#44` by `,` (the escape tool_sync
/// files use for a comma in a comma-separated file).
pub(crate) fn finish(trimmed: &[u8], encoding: Encoding) -> String {
    let text = decode(trimmed, encoding);
    let may_escape = trimmed.contains(&b'&');
    match text {
        Cow::Owned(s) if !may_escape => s,
        text => finish_str(&text, may_escape),
    }
}

/// [`finish`] for text already decoded (a UTF-8 record validated at once). `may_escape` false
/// says the record holds no `&`, which spares looking for `&#44` field by field.
pub(crate) fn finish_str(text: &str, may_escape: bool) -> String {
    if may_escape && memmem::find(text.as_bytes(), b"&#44").is_some() {
        text.replace("&#44;", ",").replace("&#44", ",")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{RawRecord, Records, Scan, Split};
    use std::io::Cursor;

    /// One field's raw bytes as csv-core unquotes them (`;` delimiter, none in `raw`).
    fn unquote(raw: &[u8]) -> Vec<u8> {
        let mut s = Records::new(Cursor::new(raw.to_vec()), 64, 0, Split::Delimiter(b';'));
        let mut rec = RawRecord::default();
        assert_eq!(s.next(&mut rec).unwrap(), Scan::Record);
        assert_eq!(rec.len(), 1, "{raw:?}");
        assert_eq!(s.next(&mut rec).unwrap(), Scan::Eof, "{raw:?}");
        rec.field(0).to_vec()
    }

    #[test]
    fn trimming_only_spaces_and_tabs() {
        assert_eq!(trim(b" \t a b \t"), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(trim(b""), b"");
        assert_eq!(trim(b"\xA0x\xA0"), b"\xA0x\xA0");
        assert_eq!(trim(b"\nx\n"), b"\nx\n");
        assert_eq!(trim_str(" \t a b \t"), "a b");
        assert_eq!(trim_str("\u{A0}x\u{A0}"), "\u{A0}x\u{A0}");
        assert_eq!(trim_str("\nx\n"), "\nx\n");
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote(b"plain \"x\""), b"plain \"x\"");
        assert_eq!(unquote(b"\"a;b\""), b"a;b");
        assert_eq!(unquote(b"\"say \"\"hi\"\"\""), b"say \"hi\"");
        assert_eq!(unquote(b"\"\""), b"");
        assert_eq!(unquote(b"\"\"\"\""), b"\"");
        assert_eq!(unquote(b"\"ab\"c"), b"abc");
        assert_eq!(unquote(b"\"ab\"c\"d"), b"abc\"d");
        assert_eq!(unquote(b"\"a\r\nb\""), b"a\r\nb");
    }

    #[test]
    fn line_mode_content() {
        let mut s = Vec::new();
        assert_eq!(line_content(b"  a,b;c  ", &mut s), b"a,b;c");
        assert_eq!(line_content(b" \"a,\"\"b\"\" \" ", &mut s), b"a,\"b\"");
        assert_eq!(line_content(b"\"a", &mut s), b"\"a");
        assert_eq!(line_content(b"a\"", &mut s), b"a\"");
        assert_eq!(line_content(b"\"\"", &mut s), b"");
        assert_eq!(line_content(b"\"", &mut s), b"\"");
    }

    #[test]
    fn comma_escape() {
        assert_eq!(finish(b"a&#44;b&#44c", Encoding::Utf8), "a,b,c");
        assert_eq!(finish(b"&#44;&#44;;", Encoding::Utf8), ",,;");
        assert_eq!(finish(b"&#4 &amp;", Encoding::Utf8), "&#4 &amp;");
        assert_eq!(finish(b"\xE9&#44", Encoding::Windows1252), "é,");
        assert_eq!(finish_str("x&#44;y&#44", true), "x,y,");
        assert_eq!(finish(b"\xE9t\xE9", Encoding::Windows1252), "été");
    }
}
