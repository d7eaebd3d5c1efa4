//! Tryback support (formats.md §4.3): the tryback file holds the header line(s) and every failed
//! record byte for byte as read (original encoding, line endings, multi-line records whole), so
//! that it can run again as is. The reader hands out absolute byte ranges; this copies them.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Copies bytes `start..end` of `file`, unchanged, to `out`.
///
/// Seeks explicitly, so it can share the file with nothing else's position in mind; fails with
/// `UnexpectedEof` if the file became shorter than the range (changed since it was read).
pub fn copy_raw(file: &mut File, start: u64, end: u64, out: &mut impl Write) -> io::Result<()> {
    if end < start {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid byte range {start}..{end}"),
        ));
    }
    file.seek(SeekFrom::Start(start))?;
    let want = end - start;
    let copied = io::copy(&mut Read::by_ref(file).take(want), out)?;
    if copied != want {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the input ends at byte {} instead of {end}", start + copied),
        ));
    }
    Ok(())
}

/// Where each field of one record lies in its raw bytes (`raw`: the record's physical line(s),
/// as [`crate::Record::raw_start`]..[`crate::Record::raw_end`] give them), quotes included and
/// the delimiter and line terminator excluded. The archive copy of an input empties the cells
/// of secret columns by these spans, leaving every other byte as it was read.
///
/// csv-core splits; its `read_field` reports how many input bytes each field took, delimiter
/// included, which is exactly the span.
pub fn field_spans(raw: &[u8], delimiter: u8) -> Vec<std::ops::Range<usize>> {
    let end = raw.len()
        - raw
            .iter()
            .rev()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
    let input = &raw[..end];
    let mut reader = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
    let mut scratch = vec![0u8; 4096];
    let mut spans = Vec::new();
    let (mut at, mut start) = (0, 0);
    loop {
        let (result, read, _) = reader.read_field(&input[at..], &mut scratch);
        at += read;
        match result {
            csv_core::ReadFieldResult::InputEmpty => {
                if at < input.len() {
                    continue;
                }
                // End of the record's bytes: one more call with no input ends the last field.
                let (last, _, _) = reader.read_field(&[], &mut scratch);
                if matches!(last, csv_core::ReadFieldResult::Field { .. }) {
                    spans.push(start..at);
                }
                return spans;
            }
            csv_core::ReadFieldResult::OutputFull => {
                // The field's unquoted bytes are not kept: only the input consumed counts.
                continue;
            }
            csv_core::ReadFieldResult::Field { record_end } => {
                let field_end = if record_end || at == 0 || input.get(at - 1) != Some(&delimiter) {
                    at
                } else {
                    at - 1
                };
                spans.push(start..field_end);
                start = at;
                if record_end {
                    return spans;
                }
            }
            csv_core::ReadFieldResult::End => return spans,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(raw: &str) -> Vec<&str> {
        field_spans(raw.as_bytes(), b';')
            .into_iter()
            .map(|r| &raw[r])
            .collect()
    }

    #[test]
    fn spans_cover_each_raw_field_quotes_included() {
        assert_eq!(fields("a;b;c\r\n"), ["a", "b", "c"]);
        assert_eq!(fields("a;\"x;\"\"y\"\"\";\n"), ["a", "\"x;\"\"y\"\"\"", ""]);
        assert_eq!(
            fields("one;\"two\nlines\";3\n"),
            ["one", "\"two\nlines\"", "3"]
        );
        assert_eq!(fields("solo"), ["solo"]);
        let long = format!("{};z\n", "w".repeat(10_000));
        assert_eq!(
            field_spans(long.as_bytes(), b';'),
            vec![0..10_000, 10_001..10_002]
        );
    }
}
