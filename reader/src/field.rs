//! From a field's raw bytes to its value (formats.md §2.5): CSV unquoting → trimming of spaces
//! and tabs (quoted fields too) → decoding → `&#44;` then `&#44` replaced by `,`.
//!
//! Trimming happens on bytes, before decoding: space and TAB are single ASCII bytes in both
//! encodings and are never part of a multi-byte UTF-8 character, so the result is the same and
//! the decoder sees less.

use crate::encoding::decode;
use crate::options::Encoding;
use crate::parse::Span;

/// Strips spaces and tabs at both ends (and nothing else: a non-breaking space is content).
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes
        .iter()
        .position(|b| !is_blank(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_blank(b))
        .map_or(start, |p| p + 1);
    &bytes[start..end]
}

/// The unquoted bytes of a field, not yet trimmed. Unquoted fields are borrowed from the record
/// as they are; quoted ones are rebuilt in `scratch`.
///
/// A quoted span runs from its opening `"`. Inside, `""` is one `"` and a lone `"` closes the
/// quotes; anything after the closing quote (`"ab"c`) is kept literally, `"` included, which is
/// what the state machine did when it read it as unquoted content (lenient reading: such fields
/// come from hand-edited files, and keeping the characters loses nothing).
pub(crate) fn content<'a>(raw: &'a [u8], span: Span, scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let bytes = &raw[span.start..span.end];
    if !span.quoted {
        return bytes;
    }
    scratch.clear();
    let inner = &bytes[1..];
    let mut in_quotes = true;
    let mut i = 0;
    while i < inner.len() {
        let b = inner[i];
        if in_quotes && b == b'"' {
            if inner.get(i + 1) == Some(&b'"') {
                scratch.push(b'"');
                i += 2;
            } else {
                in_quotes = false;
                i += 1;
            }
            continue;
        }
        scratch.push(b);
        i += 1;
    }
    scratch
}

/// Line mode (§3.2): the whole trimmed line, unquoted if it is entirely enclosed in `"` (`""`
/// inside gives `"`), then trimmed again like any quoted field. A line that only starts or only
/// ends with `"` is taken literally.
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
    if trimmed.contains(&b'&') && text.contains("&#44") {
        text.replace("&#44;", ",").replace("&#44", ",")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unquote(raw: &[u8]) -> Vec<u8> {
        let mut scratch = Vec::new();
        let span = Span {
            start: 0,
            end: raw.len(),
            quoted: raw.first() == Some(&b'"'),
        };
        content(raw, span, &mut scratch).to_vec()
    }

    #[test]
    fn trimming_only_spaces_and_tabs() {
        assert_eq!(trim(b" \t a b \t"), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(trim(b""), b"");
        assert_eq!(trim(b"\xA0x\xA0"), b"\xA0x\xA0");
        assert_eq!(trim(b"\nx\n"), b"\nx\n");
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
    }
}
