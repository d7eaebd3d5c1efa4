//! What the caller asks for (`encoding`, `delimiter` options, formats.md §2.1, §2.2) and how the
//! reader reports what it actually used.

use std::fmt;

/// The `encoding` option as written in a configuration file or on the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EncodingChoice {
    /// UTF-8 BOM → UTF-8; else UTF-8 if the whole file is valid UTF-8; else windows-1252.
    #[default]
    Auto,
    Utf8,
    /// Also what `iso-8859-1` means: spreadsheets labelled ISO-8859-1 really write windows-1252,
    /// and the two agree on every byte outside 0x80..=0x9F.
    Windows1252,
}

impl EncodingChoice {
    /// Case-insensitive; accepts the aliases `utf8`, `cp1252` and `latin1`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(EncodingChoice::Auto),
            "utf-8" | "utf8" => Ok(EncodingChoice::Utf8),
            "windows-1252" | "cp1252" | "iso-8859-1" | "latin1" => Ok(EncodingChoice::Windows1252),
            _ => Err(format!(
                "unknown encoding `{s}`: use auto, utf-8 (or utf8), windows-1252 (or cp1252) \
                 or iso-8859-1 (or latin1)"
            )),
        }
    }
}

/// The `delimiter` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DelimiterChoice {
    /// Detected from the header record (headerless files: the first data record).
    #[default]
    Auto,
    Byte(u8),
}

impl DelimiterChoice {
    /// `auto`, `tab` (case-insensitive), or one ASCII punctuation character other than `"`.
    ///
    /// A literal TAB character is accepted too: it is what `--delimiter $'\t'` passes, and it can
    /// only mean `tab`. Nothing is trimmed: `', '` is refused rather than taken as `,`, since a
    /// value with blanks around it is more likely a mistake (a space meant as the delimiter, or a
    /// stray character) than a comma.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "\t" || s.eq_ignore_ascii_case("tab") {
            return Ok(DelimiterChoice::Byte(b'\t'));
        }
        if s.eq_ignore_ascii_case("auto") {
            return Ok(DelimiterChoice::Auto);
        }
        match s.as_bytes() {
            [b] if b.is_ascii_punctuation() && *b != b'"' => Ok(DelimiterChoice::Byte(*b)),
            _ => Err(format!(
                "invalid delimiter `{s}`: use auto, tab, or one ASCII punctuation character \
                 other than `\"` (for example ; , : |)"
            )),
        }
    }
}

/// How a delimiter byte is named in reports: `tab` for TAB (invisible otherwise), else the
/// character itself.
pub fn delimiter_name(delimiter: u8) -> String {
    if delimiter == b'\t' {
        "tab".to_owned()
    } else {
        char::from(delimiter).to_string()
    }
}

/// The encoding the file is decoded with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Windows1252,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
        })
    }
}

/// Where a reading parameter came from; the report states it (§2.1, §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Given by the option or the command line.
    Configured,
    /// Decided by looking at the file.
    Detected,
    /// Nothing in the file decided it, so the default applies (`;` when no candidate delimiter
    /// occurs).
    Defaulted,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Configured => "configured",
            Source::Detected => "detected",
            Source::Defaulted => "defaulted",
        })
    }
}

/// How to read one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    pub encoding: EncodingChoice,
    pub delimiter: DelimiterChoice,
    pub has_header: bool,
    /// false = "line mode" (course-delete, formats.md §3.2): each physical line that is neither
    /// blank nor a comment is ONE field: the whole trimmed line, unquoted if entirely enclosed in
    /// `"` (with `""` → `"`), never split, `&#44` decoded.
    pub split_fields: bool,
    /// The most bytes one record may take in the file (option `max_record_size`). A longer
    /// record is not read into memory: past this many bytes the reader only looks for its end,
    /// then fails it (the header: refuses the file). Without a bound, one hostile line holds
    /// about six times its size in memory through the run.
    pub max_record_size: u64,
}

/// `max_record_size` by default: far above any real record (a users row is ~100 bytes, a long
/// course summary some KB), low enough that a record never costs more than a few hundred MiB.
pub const DEFAULT_MAX_RECORD_SIZE: u64 = 64 << 20;

/// The smallest `max_record_size` accepted: below it, ordinary rows would fail.
pub const MIN_RECORD_SIZE: u64 = 1 << 10;

impl Default for ReadOptions {
    /// The common case: automatic encoding and delimiter, a header, fields split.
    fn default() -> Self {
        ReadOptions {
            encoding: EncodingChoice::Auto,
            delimiter: DelimiterChoice::Auto,
            has_header: true,
            split_fields: true,
            max_record_size: DEFAULT_MAX_RECORD_SIZE,
        }
    }
}

/// Reads a size as the `max_record_size` option takes it: bytes, or a number with a binary
/// unit (`KiB`, `MiB`, `GiB`; `K`, `M`, `G` mean the same), any case, at least 1 KiB.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let text = s.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => {
            return Err(format!(
                "`{s}` is not a size: write bytes or a number with KiB, MiB or GiB (e.g. 64MiB)"
            ))
        }
    };
    let size = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| {
            format!(
                "`{s}` is not a size: write bytes or a number with KiB, MiB or GiB (e.g. 64MiB)"
            )
        })?;
    if size < MIN_RECORD_SIZE {
        return Err(format!("`{s}` is too small: at least 1KiB"));
    }
    Ok(size)
}

/// A size as messages give it: in the largest binary unit that divides it (`64 MiB`), else in
/// bytes.
pub fn size_name(bytes: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes.trailing_zeros() >= shift {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_names_and_aliases() {
        for (s, want) in [
            ("auto", EncodingChoice::Auto),
            ("AUTO", EncodingChoice::Auto),
            ("utf-8", EncodingChoice::Utf8),
            ("UTF8", EncodingChoice::Utf8),
            ("windows-1252", EncodingChoice::Windows1252),
            ("Windows-1252", EncodingChoice::Windows1252),
            ("cp1252", EncodingChoice::Windows1252),
            ("iso-8859-1", EncodingChoice::Windows1252),
            ("ISO-8859-1", EncodingChoice::Windows1252),
            ("latin1", EncodingChoice::Windows1252),
        ] {
            assert_eq!(EncodingChoice::parse(s), Ok(want), "{s}");
        }
        let err = EncodingChoice::parse("utf-16").unwrap_err();
        assert!(err.contains("utf-16"), "{err}");
        for valid in [
            "auto",
            "utf-8",
            "windows-1252",
            "iso-8859-1",
            "utf8",
            "cp1252",
            "latin1",
        ] {
            assert!(err.contains(valid), "{err} lacks {valid}");
        }
    }

    #[test]
    fn delimiter_values() {
        assert_eq!(DelimiterChoice::parse("auto"), Ok(DelimiterChoice::Auto));
        assert_eq!(DelimiterChoice::parse("Auto"), Ok(DelimiterChoice::Auto));
        assert_eq!(
            DelimiterChoice::parse("tab"),
            Ok(DelimiterChoice::Byte(b'\t'))
        );
        assert_eq!(
            DelimiterChoice::parse("TAB"),
            Ok(DelimiterChoice::Byte(b'\t'))
        );
        assert_eq!(
            DelimiterChoice::parse("\t"),
            Ok(DelimiterChoice::Byte(b'\t'))
        );
        for c in [";", ",", ":", "|", "!", "^", "~"] {
            assert_eq!(
                DelimiterChoice::parse(c),
                Ok(DelimiterChoice::Byte(c.as_bytes()[0]))
            );
        }
        for bad in ["\"", "a", "1", " ", "", ";;", "é", "space"] {
            assert!(DelimiterChoice::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn delimiter_with_blanks_around_is_refused() {
        for bad in [
            ", ", " ,", " ; ", "\t;", ";\t", " auto", "tab ", "\t\t", " \t",
        ] {
            let err = DelimiterChoice::parse(bad).unwrap_err();
            assert!(
                err.starts_with(&format!("invalid delimiter `{bad}`")),
                "{err}"
            );
            assert!(
                err.contains("use auto, tab, or one ASCII punctuation"),
                "{err}"
            );
        }
        assert!(DelimiterChoice::parse("\"")
            .unwrap_err()
            .contains("other than"));
    }

    #[test]
    fn sizes() {
        for (text, want) in [
            ("1024", 1024),
            ("64MiB", 64 << 20),
            ("64 mib", 64 << 20),
            ("2K", 2048),
            ("1GiB", 1 << 30),
            (" 3m ", 3 << 20),
        ] {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
        for bad in ["", "MiB", "-1", "1.5MiB", "64MB", "99999999999G"] {
            assert!(parse_size(bad).unwrap_err().contains("not a size"), "{bad}");
        }
        assert!(parse_size("100").unwrap_err().contains("at least 1KiB"));
        assert_eq!(size_name(64 << 20), "64 MiB");
        assert_eq!(size_name(1536), "1536 bytes");
        assert_eq!(size_name(3 << 10), "3 KiB");
    }

    #[test]
    fn displays() {
        assert_eq!(Encoding::Utf8.to_string(), "utf-8");
        assert_eq!(Encoding::Windows1252.to_string(), "windows-1252");
        assert_eq!(Source::Configured.to_string(), "configured");
        assert_eq!(Source::Detected.to_string(), "detected");
        assert_eq!(Source::Defaulted.to_string(), "defaulted");
        assert_eq!(delimiter_name(b'\t'), "tab");
        assert_eq!(delimiter_name(b';'), ";");
    }
}
