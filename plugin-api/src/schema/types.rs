//! Column types (formats.md §2.5): the type a processor declares for a column is enforced, not
//! descriptive. Before a row reaches the row handler, the plugin-api wrapper converts each
//! non-empty cell by its column's type ([`ColumnType::convert`]); a value that does not convert
//! fails the row, naming the column and the value (a secret's value is never shown). The
//! handler then reads typed, normalised values ([`Cell`]) from the row.
//!
//! A type is written in the manifest as text (`ColumnSpec::kind`, frozen in the 1.0 ABI), in
//! this grammar:
//!
//! | type | accepts | value |
//! |---|---|---|
//! | `text` / `text(n)` | at most n characters, no control characters | the text |
//! | `longtext` | any length; line breaks and tabs allowed | the text |
//! | `int[a..b]` / `int[a..]` | optional `-`, digits, within the range | an integer |
//! | `bool` | `1 0 yes no true false`, any case | a boolean |
//! | `date` | the four date forms of §2.5, in the run's `timezone` | Unix seconds (0: none) |
//! | `email` | at most 100 characters, one `@` with text on both sides, no spaces | the text |
//! | `enum a b c` | one of the words, any case | the word, lowercased |
//! | `key(entity)` | a key of that entity (§2.6), at most 255 characters | the text |
//! | `word(n)` | `[a-z0-9_]+`, at most n | the text |
//! | `ident(n)` | `[a-z][a-z0-9_]*`, at most n | the text |
//! | `lang` | a language code, at most 30 characters | lowercased, `_utf8` removed |
//! | `country` | two letters | uppercased |
//! | `timezone` | an IANA name (`Europe/Paris`, `UTC`) or `99` | the text |
//! | `secret` | any text without control characters; never shown | the text |
//! | `bytes` | binary content, base64 over the plugin boundary (an archive entry) | the bytes |

use crate::time::{parse_date, Zone};
use crate::values::{check_email, is_word, parse_bool, parse_int};

/// A column's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// `text(n)`; `None`: no length limit (single line still).
    Text(Option<usize>),
    LongText,
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    Date,
    Email,
    /// The accepted words, lowercase.
    Enum(Vec<String>),
    /// A key of the named entity (`course`, `user`, `role`, `category`...).
    Key(String),
    Word(usize),
    Ident(usize),
    Lang,
    Country,
    Timezone,
    Secret,
    /// Binary content: an archive processor's entry (formats.md §3.10). Row values are text
    /// in the frozen 1.0 ABI, so the host sends it base64-encoded ([`encode_bytes`]) and the
    /// conversion decodes it.
    Bytes,
}

/// A converted, normalised cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Bool(bool),
    /// Unix seconds; 0 means no date.
    Date(i64),
    /// A `bytes` cell: valid base64, decoded when read (`Row::bytes`), so that a row handler
    /// that does not need the bytes (an `apply` whose `prepare` did the work) never pays for
    /// them.
    Bytes,
}

impl Cell {
    /// The value as text (an integer or a date as digits, a boolean as `1`/`0`).
    pub fn text(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Int(i) | Cell::Date(i) => i.to_string(),
            Cell::Bool(b) => u8::from(*b).to_string(),
            Cell::Bytes => String::new(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Text(t) => Some(t),
            _ => None,
        }
    }

    /// An integer or a date as a number, a boolean as 1/0.
    pub fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(i) | Cell::Date(i) => Some(*i),
            Cell::Bool(b) => Some(i64::from(*b)),
            Cell::Text(_) | Cell::Bytes => None,
        }
    }

    /// A boolean, or a number's truth.
    pub fn bool(&self) -> Option<bool> {
        match self {
            Cell::Bool(b) => Some(*b),
            Cell::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}

/// Longest key accepted in a `key(...)` column (the longest key field, a shortname, is 255).
const KEY_MAX: usize = 255;
/// Longest e-mail address (formats.md §3.6).
const EMAIL_MAX: usize = 100;
/// Longest language code.
const LANG_MAX: usize = 30;
/// Longest accepted time zone name (the longest IANA names are about 30 characters).
const TIMEZONE_MAX: usize = 64;
/// Characters of a value shown in a reason before it is cut.
const SHOWN: usize = 40;

/// A value as a reason quotes it: in backquotes, on one line, control characters as spaces,
/// cut after 40 characters with the count of what was cut (`` `xxx…` (+960 characters) ``).
/// Every value a message echoes from a file (a cell, a header name) goes through it: whatever
/// the file holds, the message stays short and prints nothing a terminal would act on.
pub fn quoted(value: &str) -> String {
    Quoted(value).to_string()
}

/// [`quoted`] as a `Display`, so that a conversion pays for the quoting only when it fails
/// (every cell of every row is converted).
pub struct Quoted<'a>(pub &'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        f.write_char('`')?;
        for (i, (at, c)) in self.0.char_indices().enumerate() {
            if i == SHOWN {
                let cut = self.0[at..].chars().count();
                let s = if cut == 1 { "" } else { "s" };
                return write!(f, "…` (+{cut} character{s})");
            }
            f.write_char(if c.is_control() { ' ' } else { c })?;
        }
        f.write_char('`')
    }
}

impl ColumnType {
    /// Reads a manifest's type text (`text(100)`, `int[0..2]`, `enum add del`...); `None` for
    /// a text outside the grammar.
    pub fn parse(kind: &str) -> Option<ColumnType> {
        let kind = kind.trim();
        let inner = |prefix: &str| {
            kind.strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('('))
                .and_then(|r| r.strip_suffix(')'))
        };
        let size = |prefix: &str| inner(prefix).and_then(|n| n.trim().parse::<usize>().ok());
        Some(match kind {
            "text" => ColumnType::Text(None),
            "longtext" => ColumnType::LongText,
            "bool" => ColumnType::Bool,
            "date" => ColumnType::Date,
            "email" => ColumnType::Email,
            "lang" => ColumnType::Lang,
            "country" => ColumnType::Country,
            "timezone" => ColumnType::Timezone,
            "secret" => ColumnType::Secret,
            "bytes" => ColumnType::Bytes,
            _ if kind.starts_with("text(") => ColumnType::Text(Some(size("text")?)),
            _ if kind.starts_with("word(") => ColumnType::Word(size("word")?),
            _ if kind.starts_with("ident(") => ColumnType::Ident(size("ident")?),
            _ if kind.starts_with("key(") => {
                let entity = inner("key")?.trim();
                if entity.is_empty() {
                    return None;
                }
                ColumnType::Key(entity.to_string())
            }
            _ if kind.starts_with("enum ") => {
                let words: Vec<String> = kind["enum ".len()..]
                    .split_whitespace()
                    .map(str::to_ascii_lowercase)
                    .collect();
                if words.is_empty() {
                    return None;
                }
                ColumnType::Enum(words)
            }
            _ if kind.starts_with("int[") && kind.ends_with(']') => {
                let (min, max) = kind[4..kind.len() - 1].split_once("..")?;
                let min = min.trim().parse().ok()?;
                let max = match max.trim() {
                    "" => i64::MAX,
                    max => max.parse().ok()?,
                };
                if min > max {
                    return None;
                }
                ColumnType::Int { min, max }
            }
            _ => return None,
        })
    }

    /// Whether its values are never shown (reasons, messages, archives).
    pub fn is_secret(&self) -> bool {
        matches!(self, ColumnType::Secret)
    }

    /// Converts a non-empty cell. The error quotes the value (never a secret's) and is phrased
    /// without the column name, which the caller adds.
    pub fn convert(&self, value: &str, zone: &Zone) -> Result<Cell, String> {
        let v = Quoted(value);
        let text = |max: Option<usize>| -> Result<Cell, String> {
            let count = value.chars().count();
            if let Some(max) = max.filter(|max| count > *max) {
                return Err(format!("{v} has {count} characters, at most {max} allowed"));
            }
            if let Some(c) = value.chars().find(|c| c.is_control()) {
                return Err(format!(
                    "{v}: control character U+{:04X} not allowed",
                    c as u32
                ));
            }
            Ok(Cell::Text(value.to_string()))
        };
        match self {
            ColumnType::Text(max) => text(*max),
            ColumnType::Key(_) => text(Some(KEY_MAX)),
            ColumnType::LongText => {
                match value
                    .chars()
                    .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
                {
                    Some(c) => Err(format!(
                        "{v}: control character U+{:04X} not allowed",
                        c as u32
                    )),
                    None => Ok(Cell::Text(value.to_string())),
                }
            }
            ColumnType::Secret => match value.chars().find(|c| c.is_control()) {
                Some(c) => Err(format!("control character U+{:04X} not allowed", c as u32)),
                None => Ok(Cell::Text(value.to_string())),
            },
            ColumnType::Int { min, max } => parse_int(value, *min, *max).map(Cell::Int),
            ColumnType::Bool => parse_bool(value).map(Cell::Bool),
            ColumnType::Date => parse_date(value, zone).map(Cell::Date),
            ColumnType::Email => {
                text(Some(EMAIL_MAX))?;
                check_email(value).map(|()| Cell::Text(value.to_string()))
            }
            ColumnType::Enum(words) => {
                let lower = value.to_ascii_lowercase();
                if words.contains(&lower) {
                    Ok(Cell::Text(lower))
                } else {
                    Err(format!("{v} is not one of {}", words.join(", ")))
                }
            }
            ColumnType::Word(max) => {
                text(Some(*max))?;
                if is_word(value) {
                    Ok(Cell::Text(value.to_string()))
                } else {
                    Err(format!("{v} is not a word of a-z, 0-9 and _"))
                }
            }
            ColumnType::Ident(max) => {
                text(Some(*max))?;
                let mut chars = value.chars();
                let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                    && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if ok {
                    Ok(Cell::Text(value.to_string()))
                } else {
                    Err(format!("{v} is not a name of the form [a-z][a-z0-9_]*"))
                }
            }
            ColumnType::Lang => {
                let lower = value.to_lowercase();
                let lang = lower.strip_suffix("_utf8").unwrap_or(&lower);
                if lang.is_empty() || lang.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!("{v} is not a language code"));
                }
                let count = lang.chars().count();
                if count > LANG_MAX {
                    return Err(format!(
                        "{v} has {count} characters, at most {LANG_MAX} allowed"
                    ));
                }
                Ok(Cell::Text(lang.to_string()))
            }
            ColumnType::Country => {
                if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
                    Ok(Cell::Text(value.to_ascii_uppercase()))
                } else {
                    Err(format!("{v} is not a two-letter country code"))
                }
            }
            ColumnType::Bytes => check_base64(value).map(|()| Cell::Bytes),
            ColumnType::Timezone => {
                if is_timezone(value) {
                    Ok(Cell::Text(value.to_string()))
                } else {
                    Err(format!(
                        "{v} is not a time zone (an IANA name such as Europe/Paris, UTC, or 99)"
                    ))
                }
            }
        }
    }
}

impl std::fmt::Display for ColumnType {
    /// The grammar's text: what [`ColumnType::parse`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnType::Text(None) => f.write_str("text"),
            ColumnType::Text(Some(n)) => write!(f, "text({n})"),
            ColumnType::LongText => f.write_str("longtext"),
            ColumnType::Int { min, max } if *max == i64::MAX => write!(f, "int[{min}..]"),
            ColumnType::Int { min, max } => write!(f, "int[{min}..{max}]"),
            ColumnType::Bool => f.write_str("bool"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::Email => f.write_str("email"),
            ColumnType::Enum(words) => write!(f, "enum {}", words.join(" ")),
            ColumnType::Key(entity) => write!(f, "key({entity})"),
            ColumnType::Word(n) => write!(f, "word({n})"),
            ColumnType::Ident(n) => write!(f, "ident({n})"),
            ColumnType::Lang => f.write_str("lang"),
            ColumnType::Country => f.write_str("country"),
            ColumnType::Timezone => f.write_str("timezone"),
            ColumnType::Secret => f.write_str("secret"),
            ColumnType::Bytes => f.write_str("bytes"),
        }
    }
}

/// A `bytes` value as it crosses the plugin boundary: standard base64 with padding.
pub fn encode_bytes(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Whether `text` is standard base64 with padding, without decoding it: its length a multiple
/// of 4, its characters of the alphabet, `=` only at the end (at most two).
fn check_base64(text: &str) -> Result<(), String> {
    // A picture's cell is 400 KB, checked in `prepare` and again in `apply`: byte by byte with
    // an early exit, the check took 5% of a pictures run. Blocks of 64 bytes folded without
    // an early exit compile to vector compares, 8 times faster (0.7 → 0.09 ms a cell).
    let alphabet = |block: &[u8]| {
        block.iter().fold(true, |ok, &b| {
            ok & (b.is_ascii_alphanumeric() | (b == b'+') | (b == b'/'))
        })
    };
    let body = text.trim_end_matches('=');
    let padding = text.len() - body.len();
    if text.len() % 4 != 0 || padding > 2 || !body.as_bytes().chunks(64).all(alphabet) {
        return Err("not base64-encoded bytes".to_string());
    }
    Ok(())
}

/// The inverse of [`encode_bytes`]; the error says why the text is no base64.
pub fn decode_bytes(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("not base64-encoded bytes: {e}"))
}

/// `99`, or a zone of the tz database the run uses ([`Zone::parse`], the one the `timezone`
/// option is read with), written as an IANA name: `[A-Za-z_]+` then `/`-separated parts of
/// `[A-Za-z0-9_+-]+` (`UTC`, `Europe/Paris`, `America/Argentina/Buenos_Aires`, `Etc/GMT+5`).
/// The shape comes first: it keeps POSIX rules (`CET-1CEST,M3.5.0`) and paths out, and spares
/// the database what spreadsheets actually produce (offsets such as `1.0`, free text). A shape
/// alone let `Mars/Olympus` through.
fn is_timezone(value: &str) -> bool {
    value == "99" || (has_timezone_shape(value) && known_zone(value))
}

/// Whether the tz database has `name`. A file holds few distinct zones and many rows, so the
/// answers are kept (a bounded number: a hostile file of distinct names only re-reads the
/// database).
fn known_zone(name: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    const KEPT: usize = 1024;
    static KNOWN: OnceLock<Mutex<HashMap<String, bool>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(&answer) = known.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
        return answer;
    }
    let answer = Zone::parse(name).is_ok();
    let mut known = known.lock().unwrap_or_else(|e| e.into_inner());
    if known.len() < KEPT {
        known.insert(name.to_string(), answer);
    }
    answer
}

fn has_timezone_shape(value: &str) -> bool {
    let mut parts = value.split('/');
    let area_ok = parts
        .next()
        .is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_'));
    value.len() <= TIMEZONE_MAX
        && area_ok
        && parts.all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(kind: &str, value: &str) -> Result<Cell, String> {
        ColumnType::parse(kind)
            .unwrap_or_else(|| panic!("`{kind}` parses"))
            .convert(value, &Zone::utc())
    }

    #[test]
    fn every_type_reads_back_from_its_text() {
        for kind in [
            "text",
            "text(100)",
            "longtext",
            "int[0..2]",
            "int[1..]",
            "int[-5..5]",
            "bool",
            "date",
            "email",
            "enum add del",
            "key(course)",
            "word(20)",
            "ident(21)",
            "lang",
            "country",
            "timezone",
            "secret",
            "bytes",
        ] {
            let parsed = ColumnType::parse(kind).unwrap_or_else(|| panic!("{kind}"));
            assert_eq!(parsed.to_string(), kind);
        }
        for bad in [
            "two letters",
            "int[2..1]",
            "text(x)",
            "key()",
            "enum",
            "1",
            "",
        ] {
            assert_eq!(ColumnType::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn values_convert_and_normalise_or_fail_quoting_the_value() {
        assert_eq!(convert("text(5)", "héllo"), Ok(Cell::Text("héllo".into())));
        assert_eq!(
            convert("text(20)", &"x".repeat(39)).unwrap_err(),
            format!("`{}` has 39 characters, at most 20 allowed", "x".repeat(39))
        );
        assert!(convert("text(5)", "a\u{7}").unwrap_err().contains("U+0007"));
        assert_eq!(convert("longtext", "a\nb"), Ok(Cell::Text("a\nb".into())));
        assert_eq!(convert("int[0..2]", "2"), Ok(Cell::Int(2)));
        assert!(convert("int[0..1]", "2").unwrap_err().contains("`2`"));
        assert_eq!(convert("bool", "YES"), Ok(Cell::Bool(true)));
        assert_eq!(convert("date", "2026-09-01"), Ok(Cell::Date(1_788_220_800)));
        assert_eq!(convert("enum add del", "DEL"), Ok(Cell::Text("del".into())));
        assert_eq!(
            convert("enum add del", "rm").unwrap_err(),
            "`rm` is not one of add, del"
        );
        assert_eq!(
            convert("lang", "FR_CA_UTF8"),
            Ok(Cell::Text("fr_ca".into()))
        );
        assert!(convert("lang", "_utf8").is_err());
        assert_eq!(convert("country", "fr"), Ok(Cell::Text("FR".into())));
        assert!(convert("country", "FRA").is_err());
        assert_eq!(convert("word(20)", "ldap"), Ok(Cell::Text("ldap".into())));
        assert!(convert("word(20)", "Manual").is_err());
        assert!(convert("ident(21)", "2weeks").is_err());
        assert!(convert("email", "no-at-sign").is_err());
        for tz in ["99", "UTC", "Europe/Paris", "Etc/GMT+5"] {
            assert!(convert("timezone", tz).is_ok(), "{tz}");
        }
        for tz in [
            "1.0",
            "+02:00",
            "Europe/",
            "Paris time",
            "Mars/Olympus",
            "Europe/Pariss",
        ] {
            assert!(convert("timezone", tz).is_err(), "{tz}");
        }
        assert_eq!(
            convert("bytes", &encode_bytes(b"\x89PNG\0")),
            Ok(Cell::Bytes)
        );
        assert_eq!(
            decode_bytes(&encode_bytes(b"\x89PNG\0")).unwrap(),
            b"\x89PNG\0"
        );
        for bad in ["abc", "ab=c", "a===", "ab c"] {
            assert!(convert("bytes", bad).is_err(), "{bad}");
        }
        // Checked in blocks: a bad character anywhere in a long cell is found.
        let long = encode_bytes(&[7u8; 3000]);
        assert!(convert("bytes", &long).is_ok());
        for at in [0, 63, 64, 1999, long.len() - 1] {
            let mut bad = long.clone().into_bytes();
            bad[at] = b'.';
            let bad = String::from_utf8(bad).unwrap();
            assert!(convert("bytes", &bad).is_err(), "a bad character at {at}");
        }
        assert!(convert("bytes", "not base64!")
            .unwrap_err()
            .starts_with("not base64-encoded bytes"));
        let secret = convert("secret", "pass\u{7}word").unwrap_err();
        assert!(!secret.contains("pass"), "{secret}");
    }

    #[test]
    fn long_values_are_cut_in_reasons() {
        let long = "y".repeat(100);
        let reason = convert("text(20)", &long).unwrap_err();
        assert!(
            reason.starts_with(&format!("`{}…` (+60 characters) has", "y".repeat(40))),
            "{reason}"
        );
        assert_eq!(
            quoted(&"z".repeat(41)),
            format!("`{}…` (+1 character)", "z".repeat(40))
        );
        assert_eq!(quoted("a\u{1b}]0;x\u{7}"), "`a ]0;x `");
        assert!(
            reason.ends_with("100 characters, at most 20 allowed"),
            "{reason}"
        );
    }
}
