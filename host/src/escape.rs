//! What toolsync prints for people (the text report on stdout and in `reports/`, messages on
//! stderr) never carries a control character from an input file raw: a header holding
//! `ESC ] 0 ; PWNED BEL` would retitle the operator's terminal, and other sequences can rewrite
//! what the screen shows. Each control character is written as an escape instead (`\x1b`,
//! `\t`, `\r`): C0 controls but the line feed that ends each line, DEL, and the C1 controls
//! (U+0080–U+009F, some of which terminals obey as well), as `\u{9b}`. JSON output needs none
//! of this: serde_json escapes every control character itself.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

/// `text` with its control characters escaped, line feeds included (for one-line messages).
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_escaped) && !text.contains('\n') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_escaped(c) || c == '\n' {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether a character is written escaped (the line feed is the caller's choice).
fn is_escaped(c: char) -> bool {
    c != '\n' && c.is_control()
}

fn push_escape(out: &mut String, c: char) {
    let _ = match c {
        '\t' => out.write_str("\\t"),
        '\r' => out.write_str("\\r"),
        '\n' => out.write_str("\\n"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

/// A writer of text lines that escapes every control character but the line feed, as
/// [`escape_controls`] does. Bytes are taken as UTF-8: a C1 control is the two bytes `C2 80` to
/// `C2 9F`, which may come in two writes, so a `C2` waits for the byte after it.
pub struct Escaping<W: Write> {
    inner: W,
    /// A `C2` byte held back until the next byte says whether it starts a C1 control.
    held: bool,
}

impl<W: Write> Escaping<W> {
    pub fn new(inner: W) -> Self {
        Escaping { inner, held: false }
    }

    fn release(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.held) {
            self.inner.write_all(&[0xC2])?;
        }
        Ok(())
    }
}

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut plain = 0;
        for (i, &b) in buf.iter().enumerate() {
            if self.held {
                self.held = false;
                if (0x80..=0x9F).contains(&b) {
                    let mut escape = String::new();
                    push_escape(&mut escape, char::from(b));
                    self.inner.write_all(escape.as_bytes())?;
                    plain = i + 1;
                    continue;
                }
                self.inner.write_all(&[0xC2])?;
            }
            let escaped = match b {
                b'\n' => continue,
                0xC2 => None,
                0x00..=0x1F | 0x7F => Some(b),
                _ => continue,
            };
            self.inner.write_all(&buf[plain..i])?;
            plain = i + 1;
            match escaped {
                Some(b) => {
                    let mut escape = String::new();
                    push_escape(&mut escape, char::from(b));
                    self.inner.write_all(escape.as_bytes())?;
                }
                None => self.held = true,
            }
        }
        self.inner.write_all(&buf[plain..])
    }

    fn flush(&mut self) -> io::Result<()> {
        self.release()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for Escaping<W> {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "a\u{1b}]0;PWNED\u{7}b\tc\rd\u{7f}e\u{9b}31mf\u{85}g é £\u{a0}\n";

    #[test]
    fn strings_are_escaped_on_one_line() {
        assert_eq!(
            escape_controls(HOSTILE),
            "a\\x1b]0;PWNED\\x07b\\tc\\rd\\x7fe\\u{9b}31mf\\u{85}g é £\u{a0}\\n"
        );
        assert!(matches!(escape_controls("plain é"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_writer_keeps_line_feeds_and_escapes_the_rest_however_it_is_fed() {
        let want = "a\\x1b]0;PWNED\\x07b\\tc\\rd\\x7fe\\u{9b}31mf\\u{85}g é £\u{a0}\n";
        for step in 1..=HOSTILE.len() {
            let mut out = Vec::new();
            {
                let mut w = Escaping::new(&mut out);
                for piece in HOSTILE.as_bytes().chunks(step) {
                    w.write_all(piece).unwrap();
                }
                w.flush().unwrap();
            }
            assert_eq!(String::from_utf8(out).unwrap(), want, "pieces of {step}");
        }
    }
}
