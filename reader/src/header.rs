//! Header-related decisions (formats.md §2.2 `delimiter = auto`, §2.4 trailing empty names).
//!
//! The vote is hand-written: csv-core knows one delimiter and detects none. It still does the
//! CSV work here: finding the fields of the detection record, and unquoting them.

use csv_core::ReadFieldResult;

use crate::field::trim;
use crate::records::{core_for, detection_byte, Split, DETECTION_CANDIDATES};

/// What `delimiter = auto` makes of one record read with every candidate separating
/// ([`Split::Detection`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vote {
    /// Every field is empty after unquoting and trimming (`;;;`, `,,,`, blanks): a spreadsheet
    /// artefact, skipped whatever the delimiter turns out to be.
    Blank,
    /// The header record (headerless: the first data record): the candidate occurring most
    /// often outside quotes, ties to the earlier of `;` `,` TAB `:`; `None` when none occurs
    /// (the caller then defaults to `;`).
    Delimiter(Option<u8>),
}

/// Looks at the detection record's raw bytes (terminator included).
///
/// The fields are found again by csv-core, field by field, on a copy where every candidate is
/// `;`: where each field ends gives its raw span, and the raw byte there says which candidate
/// separated it, so quoted candidates are not counted. Each field's value (for blankness) is
/// csv-core's unquoting of its *raw* span, not of the copy: a quoted TAB is a blank, a quoted
/// `;` is not. (No unquoted candidate can be inside a span, so one field comes out.)
///
/// An `unterminated` record is never blank, and the separator before its open quoted value is
/// not counted: that value never became a field (what the reader has always done).
pub(crate) fn vote(raw: &[u8], unterminated: bool) -> Vote {
    let fields = fields_of(raw);
    if !unterminated
        && fields
            .iter()
            .all(|&(start, end, _)| is_blank(&raw[start..end]))
    {
        return Vote::Blank;
    }
    let mut separators: Vec<u8> = fields.iter().filter_map(|&(_, _, sep)| sep).collect();
    if unterminated {
        separators.pop();
    }

    let mut counts = [0usize; DETECTION_CANDIDATES.len()];
    for sep in separators {
        if let Some(k) = DETECTION_CANDIDATES.iter().position(|&d| d == sep) {
            counts[k] += 1;
        }
    }
    let mut best: Option<(usize, usize)> = None; // (count, index)
    for (k, &c) in counts.iter().enumerate() {
        // Strictly greater: on a tie the earlier candidate stays.
        let better = match best {
            None => c > 0,
            Some((bc, _)) => c > bc,
        };
        if better {
            best = Some((c, k));
        }
    }
    Vote::Delimiter(best.map(|(_, k)| DETECTION_CANDIDATES[k]))
}

/// The fields of a detection record: (start, end) of each raw span, separator and terminator
/// excluded, and the separator after it (`None` for the last field).
fn fields_of(raw: &[u8]) -> Vec<(usize, usize, Option<u8>)> {
    let mapped: Vec<u8> = raw.iter().map(|&b| detection_byte(b)).collect();
    let mut core = core_for(Split::Detection);
    let mut sink = [0u8; 1024];
    let mut fields = Vec::new();
    let (mut start, mut at) = (0, 0);
    loop {
        // At the end of the input this is the final call, with nothing left.
        let (result, nin, _) = core.read_field(&mapped[at..], &mut sink);
        at += nin;
        match result {
            ReadFieldResult::Field { record_end: false } => {
                fields.push((start, at - 1, Some(raw[at - 1])));
                start = at;
            }
            ReadFieldResult::Field { record_end: true } => {
                let ended = nin > 0 && matches!(raw[at - 1], b'\r' | b'\n');
                fields.push((start, at - usize::from(ended), None));
                return fields;
            }
            ReadFieldResult::End => return fields,
            ReadFieldResult::InputEmpty | ReadFieldResult::OutputFull => {}
        }
    }
}

/// Whether one field's raw span (a single field: no unquoted `;` in it) is empty once unquoted
/// and trimmed.
fn is_blank(span: &[u8]) -> bool {
    let mut core = core_for(Split::Delimiter(b';'));
    let mut out = vec![0u8; span.len() + 1];
    let mut nout = 0;
    let mut at = 0;
    loop {
        let (result, nin, n) = core.read_field(&span[at..], &mut out[nout..]);
        at += nin;
        nout += n;
        match result {
            ReadFieldResult::InputEmpty | ReadFieldResult::OutputFull => {}
            ReadFieldResult::Field { .. } | ReadFieldResult::End => break,
        }
    }
    trim(&out[..nout]).is_empty()
}

/// Drops empty names at the end of the header (a spreadsheet artefact: columns once used, then
/// cleared) and says how many went. Empty names between named columns stay as `""`; the host
/// refuses the file for them, which it could not do if they were dropped here.
pub(crate) fn drop_trailing_empty(names: &mut Vec<String>) -> usize {
    let keep = names
        .iter()
        .rposition(|n| !n.is_empty())
        .map_or(0, |p| p + 1);
    let dropped = names.len() - keep;
    names.truncate(keep);
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{RawRecord, Records, Scan};
    use std::io::Cursor;

    /// Reads the first record as detection does, then votes.
    fn examine(line: &str) -> Vote {
        let mut s = Records::new(
            Cursor::new(line.as_bytes().to_vec()),
            64,
            0,
            Split::Detection,
        );
        s.keep_raw(true);
        let mut rec = RawRecord::default();
        assert_eq!(s.next(&mut rec).unwrap(), Scan::Record);
        vote(&rec.raw, rec.unterminated)
    }

    fn pick(line: &str) -> Option<u8> {
        match examine(line) {
            Vote::Delimiter(d) => d,
            Vote::Blank => panic!("{line:?} is blank"),
        }
    }

    #[test]
    fn most_frequent_then_order() {
        assert_eq!(pick("a;b;c"), Some(b';'));
        assert_eq!(pick("a,b,c;d"), Some(b','));
        assert_eq!(pick("a;b,c"), Some(b';'));
        assert_eq!(pick("a,b\tc"), Some(b','));
        assert_eq!(pick("a\tb:c"), Some(b'\t'));
        assert_eq!(pick("a:b:c\td"), Some(b':'));
        assert_eq!(pick("abc"), None);
        assert_eq!(pick("\"a;b;c\",d"), Some(b','));
        assert_eq!(pick("a|b|c"), None);
    }

    #[test]
    fn only_the_first_record_counts_and_quotes_hide_candidates() {
        assert_eq!(pick("a;b\n1,2,3,4\n"), Some(b';'));
        assert_eq!(pick("a,\"b\n;;;\";c,d\n"), Some(b','));
        assert_eq!(pick("a:\"b\"\"::\"\"\":c,d\r\n"), Some(b':'));
        // Unterminated: the separator before the open value is not counted.
        assert_eq!(pick("a,b;\"c;d"), Some(b','));
        assert_eq!(pick("\"a;b"), None);
    }

    #[test]
    fn blank_records_by_their_raw_values() {
        for blank in [
            ";;;",
            ",,,\r\n",
            "\n",
            " \t: ",
            "\"\";\" \t\",",
            "\t\"\t\"\r\n",
            "\"\"\"\"x",
        ] {
            let want = if blank == "\"\"\"\"x" {
                Vote::Delimiter(None)
            } else {
                Vote::Blank
            };
            assert_eq!(examine(blank), want, "{blank:?}");
        }
        assert_eq!(examine("\";\""), Vote::Delimiter(None));
        assert_eq!(examine(";\":\""), Vote::Delimiter(Some(b';')));
        assert_eq!(examine("\" \n"), Vote::Delimiter(None), "unterminated");
    }

    #[test]
    fn trailing_names() {
        let mut names: Vec<String> = ["a", "", "b", "", ""].map(String::from).to_vec();
        assert_eq!(drop_trailing_empty(&mut names), 2);
        assert_eq!(names, ["a", "", "b"]);
    }
}
