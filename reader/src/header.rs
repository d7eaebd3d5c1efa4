//! Header-related decisions (formats.md §2.2 `delimiter = auto`, §2.4 trailing empty names).

use crate::parse::{RawRecord, DETECTION_CANDIDATES};

/// The delimiter `auto` picks from the detection record (read with every candidate separating):
/// the candidate occurring most often outside quotes, ties to the earlier of `;` `,` TAB `:`;
/// `None` when none occurs (the caller then defaults to `;`).
///
/// The separators are exactly the bytes right after each field but the last, so counting them
/// needs no second scan, and quoted delimiters are not counted because they are inside a span.
pub(crate) fn pick_delimiter(rec: &RawRecord) -> Option<u8> {
    let mut counts = [0usize; DETECTION_CANDIDATES.len()];
    let separators = rec.spans.len().saturating_sub(1);
    for span in &rec.spans[..separators] {
        let sep = rec.bytes[span.end];
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
    best.map(|(_, k)| DETECTION_CANDIDATES[k])
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
    use crate::parse::{Classes, Scan, Scanner};
    use std::io::{BufReader, Cursor};

    fn pick(line: &str) -> Option<u8> {
        let mut s = Scanner::new(BufReader::new(Cursor::new(line.as_bytes().to_vec())), 0);
        let mut rec = RawRecord::default();
        assert_eq!(
            s.next(&Classes::detection(), &mut rec).unwrap(),
            Scan::Record
        );
        pick_delimiter(&rec)
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
    fn trailing_names() {
        let mut names: Vec<String> = ["a", "", "b", "", ""].map(String::from).to_vec();
        assert_eq!(drop_trailing_empty(&mut names), 2);
        assert_eq!(names, ["a", "", "b"]);
    }
}
