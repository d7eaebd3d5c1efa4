//! End-to-end tests of the reading rules (formats.md §2.1–§2.5, §4.3) through the public API,
//! on real temporary files.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::*;

/// A temporary file removed on drop; names are unique per process and call, so tests can run in
/// parallel.
struct TempFile(PathBuf);

impl TempFile {
    fn new(bytes: &[u8]) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "toolsync-reader-test-{}-{n}.csv",
            std::process::id()
        ));
        fs::write(&path, bytes).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

struct Outcome {
    info: FileInfo,
    items: Vec<Item>,
    comments: u64,
    file: TempFile,
}

impl Outcome {
    fn rows(&self) -> Vec<(u64, Vec<&str>)> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Row(r) => Some((r.line, r.fields.iter().map(String::as_str).collect())),
                Item::Bad(_) => None,
            })
            .collect()
    }

    fn bad(&self) -> Vec<(u64, &str)> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Bad(b) => Some((b.line, b.reason.as_str())),
                Item::Row(_) => None,
            })
            .collect()
    }

    fn names(&self) -> Vec<&str> {
        let h = self.info.header.as_ref().expect("a header");
        h.names.iter().map(String::as_str).collect()
    }

    fn raw(&self, start: u64, end: u64) -> Vec<u8> {
        let mut f = fs::File::open(self.file.path()).unwrap();
        let mut out = Vec::new();
        copy_raw(&mut f, start, end, &mut out).unwrap();
        out
    }
}

fn read_with(bytes: &[u8], opts: ReadOptions) -> Outcome {
    let file = TempFile::new(bytes);
    let (mut reader, info) = match CsvReader::open(file.path(), &opts) {
        Ok(r) => r,
        Err(e) => panic!("refused: {e}"),
    };
    let mut items = Vec::new();
    while let Some(item) = reader.next_item() {
        items.push(item);
    }
    assert!(reader.next_item().is_none(), "None is final");
    assert_eq!(reader.position(), info.size, "everything consumed");
    assert!(reader.read_error().is_none());
    Outcome {
        info,
        items,
        comments: reader.comments(),
        file,
    }
}

fn read(bytes: &[u8]) -> Outcome {
    read_with(bytes, ReadOptions::default())
}

fn refusal(bytes: &[u8], opts: ReadOptions) -> String {
    let file = TempFile::new(bytes);
    match CsvReader::open(file.path(), &opts) {
        Ok(_) => panic!("not refused"),
        Err(e) => e.to_string(),
    }
}

fn with_encoding(encoding: EncodingChoice) -> ReadOptions {
    ReadOptions {
        encoding,
        ..ReadOptions::default()
    }
}

fn with_delimiter(d: u8) -> ReadOptions {
    ReadOptions {
        delimiter: DelimiterChoice::Byte(d),
        ..ReadOptions::default()
    }
}

fn headerless() -> ReadOptions {
    ReadOptions {
        has_header: false,
        ..ReadOptions::default()
    }
}

fn line_mode() -> ReadOptions {
    ReadOptions {
        has_header: false,
        split_fields: false,
        ..ReadOptions::default()
    }
}

// ---- delimiter (§2.2) ----

#[test]
fn detects_semicolon() {
    let o = read(b"name;age\nann;3\n");
    assert_eq!(
        (o.info.delimiter, o.info.delimiter_source),
        (b';', Source::Detected)
    );
    assert_eq!(o.names(), ["name", "age"]);
    assert_eq!(o.rows(), [(2, vec!["ann", "3"])]);
}

#[test]
fn detects_comma() {
    let o = read(b"name,age,city\nann,3,Lyon\n");
    assert_eq!(
        (o.info.delimiter, o.info.delimiter_source),
        (b',', Source::Detected)
    );
    assert_eq!(o.rows(), [(2, vec!["ann", "3", "Lyon"])]);
}

#[test]
fn detects_tab() {
    let o = read(b"name\tage\nann\t3\n");
    assert_eq!(
        (o.info.delimiter, o.info.delimiter_source),
        (b'\t', Source::Detected)
    );
    assert_eq!(o.rows(), [(2, vec!["ann", "3"])]);
}

#[test]
fn detects_colon() {
    let o = read(b"name:age\nann:3\n");
    assert_eq!(
        (o.info.delimiter, o.info.delimiter_source),
        (b':', Source::Detected)
    );
    assert_eq!(o.rows(), [(2, vec!["ann", "3"])]);
}

#[test]
fn most_frequent_delimiter_wins() {
    let o = read(b"a,b,c;d\n1,2,3;4\n");
    assert_eq!(o.info.delimiter, b',');
    assert_eq!(o.names(), ["a", "b", "c;d"]);
}

#[test]
fn delimiter_ties_go_to_the_earlier_candidate() {
    assert_eq!(read(b"a;b,c\n").info.delimiter, b';');
    assert_eq!(read(b"a,b;c\n").info.delimiter, b';');
    assert_eq!(read(b"a:b,c\n").info.delimiter, b',');
    assert_eq!(read(b"a:b\tc\n").info.delimiter, b'\t');
    assert_eq!(read(b"a:b:c\tx\ty;z;w,v,u\n").info.delimiter, b';');
}

#[test]
fn delimiter_defaults_to_semicolon() {
    let o = read(b"name\nann\n");
    assert_eq!(
        (o.info.delimiter, o.info.delimiter_source),
        (b';', Source::Defaulted)
    );
    assert_eq!(o.rows(), [(2, vec!["ann"])]);
    let o = read_with(b"", headerless());
    assert_eq!(
        (o.info.delimiter, o.info.delimiter_source),
        (b';', Source::Defaulted)
    );
    assert!(o.items.is_empty());
}

#[test]
fn quoted_candidates_are_not_counted() {
    let o = read(b"\"a,b,c\";d\n\"1,2,3\";4\n");
    assert_eq!(o.info.delimiter, b';');
    assert_eq!(o.names(), ["a,b,c", "d"]);
    assert_eq!(o.rows(), [(2, vec!["1,2,3", "4"])]);
}

#[test]
fn detection_skips_comments_and_blank_lines_before_the_header() {
    let o = read(b"# exported\n\n,,,\n   \nname,age\nann,3\n");
    assert_eq!(
        (o.info.delimiter, o.info.delimiter_source),
        (b',', Source::Detected)
    );
    assert_eq!(o.comments, 1, "the comment is counted once");
    let h = o.info.header.as_ref().unwrap();
    assert_eq!((h.line, h.raw_start, h.raw_end), (5, 20, 29));
    assert_eq!(o.rows(), [(6, vec!["ann", "3"])]);
}

#[test]
fn detection_judges_blank_records_by_their_values() {
    // A quoted TAB trims away like a bare one, so line 1 is blank and votes for nothing; a
    // quoted `;` is a value, so line 3 of the second file is the first data record.
    let o = read(b"\t\"\t\"\r\nname,x\n1,2\n");
    assert_eq!(
        (o.info.delimiter, o.info.delimiter_source),
        (b',', Source::Detected)
    );
    assert_eq!(o.info.header.as_ref().unwrap().line, 2);
    assert_eq!(o.rows(), [(3, vec!["1", "2"])]);
    let o = read_with(b",\n \t\n\";\"\n", headerless());
    assert_eq!(o.info.delimiter_source, Source::Defaulted);
    assert_eq!(o.rows(), [(3, vec![";"])]);
}

#[test]
fn headerless_detection_uses_the_first_data_record() {
    let o = read_with(b"#c\n\nC1,first course\nC2\n", headerless());
    assert_eq!(
        (o.info.delimiter, o.info.delimiter_source),
        (b',', Source::Detected)
    );
    assert!(o.info.header.is_none());
    assert_eq!(o.comments, 1);
    assert_eq!(o.rows(), [(3, vec!["C1", "first course"]), (4, vec!["C2"])]);
}

#[test]
fn explicit_delimiter_is_configured_and_used() {
    let o = read_with(b"a|b;c\n1|2;3\n", with_delimiter(b'|'));
    assert_eq!(
        (o.info.delimiter, o.info.delimiter_source),
        (b'|', Source::Configured)
    );
    assert_eq!(o.names(), ["a", "b;c"]);
    assert_eq!(o.rows(), [(2, vec!["1", "2;3"])]);
    let o = read_with(b"a;b\n1;2\n", with_delimiter(b','));
    assert_eq!(o.names(), ["a;b"]);
    assert_eq!(o.rows(), [(2, vec!["1;2"])]);
}

// ---- quoting and line ends (§2.2, §2.3) ----

#[test]
fn quoted_delimiters_and_doubled_quotes() {
    let o = read(b"a;b;c\n\"x;y\";\"say \"\"hi\"\"\";\"\"\"\"\n");
    assert_eq!(o.rows(), [(2, vec!["x;y", "say \"hi\"", "\""])]);
}

#[test]
fn quote_inside_an_unquoted_field_is_ordinary() {
    let o = read(b"a;b\n5\" disk;it\"s\n");
    assert_eq!(o.rows(), [(2, vec!["5\" disk", "it\"s"])]);
}

#[test]
fn text_after_a_closing_quote_is_kept() {
    let o = read(b"a;b\n\"ab\"c;\"x\" \n");
    assert_eq!(o.rows(), [(2, vec!["abc", "x"])]);
}

#[test]
fn multi_line_values_keep_line_numbers_right() {
    let data = b"id;text\n\
1;\"line one\nline two\"\n\
2;\"crlf\r\nvalue\"\r\n\
3;\"cr\rvalue\"\r\
4;after\n";
    let o = read(data);
    assert_eq!(
        o.rows(),
        [
            (2, vec!["1", "line one\nline two"]),
            (4, vec!["2", "crlf\r\nvalue"]),
            (6, vec!["3", "cr\rvalue"]),
            (8, vec!["4", "after"]),
        ]
    );
}

#[test]
fn cr_only_crlf_and_mixed_line_ends() {
    let expected = [
        (2, vec!["1", "2"]),
        (3, vec!["3", "4"]),
        (4, vec!["5", "6"]),
    ];
    assert_eq!(read(b"a;b\r1;2\r3;4\r5;6\r").rows(), expected);
    assert_eq!(read(b"a;b\r\n1;2\r\n3;4\r\n5;6\r\n").rows(), expected);
    assert_eq!(read(b"a;b\n1;2\r\n3;4\r5;6\n").rows(), expected);
    // CR LF is one line end, LF CR is two (an empty line between).
    assert_eq!(
        read(b"a;b\n\r1;2\n").rows(),
        [(3, vec!["1", "2"])],
        "LF then CR ends two lines"
    );
}

#[test]
fn last_line_may_lack_a_line_end() {
    let o = read(b"a;b\n1;2\n3;4");
    assert_eq!(o.rows(), [(2, vec!["1", "2"]), (3, vec!["3", "4"])]);
    let o = read(b"a;b\n1;\"x\ny\"");
    assert_eq!(o.rows(), [(2, vec!["1", "x\ny"])]);
    let o = read(b"a;b\n1;");
    assert_eq!(o.rows(), [(2, vec!["1", ""])]);
}

#[test]
fn unterminated_quote_fails_its_record_with_the_lines_swallowed() {
    let data = b"a;b\n1;ok\n2;\"never closed\n3;x\n4;y\n";
    let o = read(data);
    assert_eq!(o.rows(), [(2, vec!["1", "ok"])]);
    assert_eq!(
        o.bad(),
        [(3, "unterminated quoted value (it swallowed 2 lines)")]
    );
    let Item::Bad(b) = &o.items[1] else { panic!() };
    assert_eq!(
        o.raw(b.raw_start, b.raw_end),
        b"2;\"never closed\n3;x\n4;y\n"
    );
    assert_eq!(b.raw_end, data.len() as u64);

    let o = read(b"a;b\n1;\"x");
    assert_eq!(
        o.bad(),
        [(2, "unterminated quoted value (it swallowed 0 lines)")]
    );
    let o = read(b"a;b\n1;\"x\r\ny");
    assert_eq!(
        o.bad(),
        [(2, "unterminated quoted value (it swallowed 1 line)")]
    );
}

#[test]
fn no_limit_on_field_or_line_length() {
    let long = "x".repeat(300_000);
    let data = format!("a;b\n\"{long}\n{long}\";{long}\n1;2\n");
    let o = read(data.as_bytes());
    let rows = o.rows();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].1[0].len(), 600_001);
    assert_eq!(rows[0].1[1].len(), 300_000);
    assert_eq!(rows[1], (4, vec!["1", "2"]));
}

// ---- field counts (§2.2, §2.4) ----

#[test]
fn ragged_rows_fail_alone() {
    let o = read(b"a;b;c;d\n1;2;3\n1;2;3;4\n1;2;3;4;5\n1\n5;6;7;8\n");
    assert_eq!(
        o.rows(),
        [(3, vec!["1", "2", "3", "4"]), (6, vec!["5", "6", "7", "8"])]
    );
    assert_eq!(
        o.bad(),
        [
            (2, "3 fields, the header has 4"),
            (4, "5 fields, the header has 4"),
            (5, "1 field, the header has 4"),
        ]
    );
}

#[test]
fn trailing_empty_header_names_are_dropped_with_their_fields() {
    let o = read(b"a;b;;\n1;2;;\n1;2\n1;2;x;\n1;2; ;\"\" \n1;2;;;\n");
    let h = o.info.header.as_ref().unwrap();
    assert_eq!(h.names, ["a", "b"]);
    assert_eq!(h.trailing_ignored, 2);
    assert_eq!(
        o.rows(),
        [
            (2, vec!["1", "2"]),
            (3, vec!["1", "2"]),
            (5, vec!["1", "2"])
        ]
    );
    assert_eq!(
        o.bad(),
        [
            (4, "a value under an unnamed column 3 (the header names 2 columns): name the column or clear the cell"),
            (6, "5 fields, the header has 4"),
        ]
    );
}

#[test]
fn empty_name_between_named_columns_is_kept() {
    let o = read(b"a; ;c\n1;2;3\n");
    assert_eq!(o.names(), ["a", "", "c"]);
    assert_eq!(o.info.header.as_ref().unwrap().trailing_ignored, 0);
    assert_eq!(o.rows(), [(2, vec!["1", "2", "3"])]);
}

// ---- blank lines and comments (§2.3) ----

#[test]
fn blank_lines_and_empty_records_are_skipped_and_not_counted() {
    let o = read(b"\n  \na;b;c\n\n;;\n \t \n\"\";\" \";\n;;;\n1;2;3\n");
    assert_eq!(o.rows(), [(9, vec!["1", "2", "3"])]);
    assert!(o.bad().is_empty(), "{:?}", o.bad());
    assert_eq!(o.comments, 0);
    assert_eq!(o.info.header.as_ref().unwrap().line, 3);
}

#[test]
fn comments_are_counted_and_only_where_a_record_starts() {
    let data = b"# top\na;b\n#one\n1;\"x\n# inside\"\n  # not a comment;2\n#\n3;4\n";
    let o = read(data);
    assert_eq!(o.comments, 3);
    assert_eq!(
        o.rows(),
        [
            (4, vec!["1", "x\n# inside"]),
            (6, vec!["# not a comment", "2"]),
            (8, vec!["3", "4"]),
        ]
    );
}

#[test]
fn other_first_characters_start_data() {
    let o = read(b"a;b\n/x;1\n-y;2\n(z;3\n[w;4\n");
    assert_eq!(o.rows().len(), 4);
    assert_eq!(o.comments, 0);
}

#[test]
fn comment_right_after_a_bom() {
    let o = read(b"\xEF\xBB\xBF# generated\na;b\n1;2\n");
    assert_eq!(o.comments, 1);
    assert_eq!(o.names(), ["a", "b"]);
    assert_eq!(o.info.header.as_ref().unwrap().line, 2);
    assert_eq!(o.rows(), [(3, vec!["1", "2"])]);
}

// ---- encoding (§2.1) ----

#[test]
fn utf8_bom_is_removed() {
    let o = read("\u{FEFF}nom;prénom\nA;Zoé\n".as_bytes());
    assert!(o.info.bom_removed);
    assert_eq!(
        (o.info.encoding, o.info.encoding_source),
        (Encoding::Utf8, Source::Detected)
    );
    assert_eq!(o.names(), ["nom", "prénom"]);
    assert_eq!(o.info.header.as_ref().unwrap().raw_start, 3);
    assert_eq!(o.rows(), [(2, vec!["A", "Zoé"])]);

    let o = read_with(b"\xEF\xBB\xBFa\n1\n", with_encoding(EncodingChoice::Utf8));
    assert!(o.info.bom_removed);
    assert_eq!(
        (o.info.encoding, o.info.encoding_source),
        (Encoding::Utf8, Source::Configured)
    );
    assert_eq!(o.names(), ["a"]);

    let o = read(b"a\n1\n");
    assert!(!o.info.bom_removed);
    assert_eq!(o.info.header.as_ref().unwrap().raw_start, 0);
}

#[test]
fn utf16_and_utf32_boms_are_refused() {
    for data in [
        &b"\xFF\xFEa\x00;\x00b\x00"[..],
        b"\xFE\xFF\x00a\x00;\x00b",
        b"\xFF\xFE\x00\x00a\x00\x00\x00",
        b"\x00\x00\xFE\xFF\x00\x00\x00a",
    ] {
        for enc in [
            EncodingChoice::Auto,
            EncodingChoice::Utf8,
            EncodingChoice::Windows1252,
        ] {
            assert_eq!(
                refusal(data, with_encoding(enc)),
                "the file is UTF-16/UTF-32: save it as UTF-8"
            );
        }
    }
}

#[test]
fn utf8_bom_with_windows_1252_is_refused() {
    let msg = refusal(
        b"\xEF\xBB\xBFa;b\n",
        with_encoding(EncodingChoice::Windows1252),
    );
    assert!(msg.contains("UTF-8 byte order mark"), "{msg}");
    assert!(msg.contains("encoding=utf-8"), "{msg}");
}

#[test]
fn windows_1252_is_decoded() {
    let data = b"nom;note\nRen\xE9;5 \x80\n\x9Cuvre;\x81\x8D\x8F\x90\x9D\n";
    let expected = [
        (2, vec!["René", "5 €"]),
        (3, vec!["œuvre", "\u{81}\u{8D}\u{8F}\u{90}\u{9D}"]),
    ];
    let o = read(data);
    assert_eq!(
        (o.info.encoding, o.info.encoding_source),
        (Encoding::Windows1252, Source::Detected)
    );
    assert_eq!(o.rows(), expected);
    for choice in ["windows-1252", "iso-8859-1", "cp1252", "latin1"] {
        let o = read_with(data, with_encoding(EncodingChoice::parse(choice).unwrap()));
        assert_eq!(
            (o.info.encoding, o.info.encoding_source),
            (Encoding::Windows1252, Source::Configured)
        );
        assert_eq!(o.rows(), expected);
    }
    // Latin-1 header names too.
    let o = read(b"pr\xE9nom\nx\n");
    assert_eq!(o.names(), ["prénom"]);
}

#[test]
fn valid_utf8_is_detected_and_can_be_forced_as_windows_1252() {
    let data = "a;b\né;€\n".as_bytes();
    let o = read(data);
    assert_eq!(
        (o.info.encoding, o.info.encoding_source),
        (Encoding::Utf8, Source::Detected)
    );
    assert_eq!(o.rows(), [(2, vec!["é", "€"])]);
    let o = read_with(data, with_encoding(EncodingChoice::Windows1252));
    assert_eq!(o.rows(), [(2, vec!["Ã©", "â‚¬"])], "decoded once, as asked");
}

#[test]
fn invalid_utf8_row_fails_in_utf8_mode_and_later_rows_come() {
    let o = read_with(
        b"a;b\n1;ok\nxy;caf\xE9\n\"m\nq\xE9\";z\n3;\xC3\xA9t\xC3\xA9\n",
        with_encoding(EncodingChoice::Utf8),
    );
    assert_eq!(o.rows(), [(2, vec!["1", "ok"]), (6, vec!["3", "été"])]);
    let bad = o.bad();
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].0, 3);
    assert!(
        bad[0].1.contains("invalid UTF-8 at byte offset 6"),
        "{}",
        bad[0].1
    );
    assert!(bad[0].1.contains("encoding=auto"), "{}", bad[0].1);
    assert_eq!(bad[1].0, 4);
    assert!(bad[1].1.contains("byte offset 4"), "{}", bad[1].1);
}

#[test]
fn nul_byte_fails_its_row_in_any_encoding() {
    for enc in [
        EncodingChoice::Auto,
        EncodingChoice::Utf8,
        EncodingChoice::Windows1252,
    ] {
        let o = read_with(b"a;b\n1;x\x00y\n2;z\n", with_encoding(enc));
        assert_eq!(o.rows(), [(3, vec!["2", "z"])]);
        let bad = o.bad();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 2);
        assert!(
            bad[0].1.contains("NUL byte at byte offset 3"),
            "{}",
            bad[0].1
        );
        assert!(bad[0].1.contains("encoding=auto"), "{}", bad[0].1);
    }
}

#[test]
fn unreadable_header_is_refused() {
    let msg = refusal(b"nom;pr\xE9nom\n1;2\n", with_encoding(EncodingChoice::Utf8));
    assert!(msg.contains("not valid UTF-8"), "{msg}");
    assert!(msg.contains("byte offset 6"), "{msg}");
    let msg = refusal(b"#c\na;\x00b\n", ReadOptions::default());
    assert!(msg.contains("NUL byte"), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");
}

#[test]
fn unterminated_quote_in_the_header_is_refused() {
    let msg = refusal(b"a;\"b\n1;2\n", ReadOptions::default());
    assert_eq!(
        msg,
        "line 1, taken as the header: unterminated quote in the header (the quoted value runs \
         to the end of the file, 1 line on): close the quote"
    );
}

/// A quote the header leaves open and a later line closes: the header would take in data lines
/// and make column names of their cells (or, with `auto`, vote for a delimiter found in them).
#[test]
fn a_header_quote_closed_on_a_later_line_is_refused_as_unterminated() {
    for opts in [ReadOptions::default(), with_delimiter(b';')] {
        let msg = refusal(
            b"\n;;\nusername;\"firstname;lastname\njdoe;John;\"Doe\"\nx,y,z\n",
            opts,
        );
        assert_eq!(
            msg,
            "line 3, taken as the header: unterminated quote in the header (a quoted name runs \
             on to line 4): close the quote"
        );
    }
    assert!(refusal(b"a;\"b\r\nc\"", ReadOptions::default()).contains("runs on to line 2"));
    // A quoted name on one line is fine.
    assert_eq!(read(b"\"a;b\";c\r\n1;2\r\n").names(), ["a;b", "c"]);
}

fn with_limit(bytes: u64) -> ReadOptions {
    ReadOptions {
        max_record_size: bytes,
        ..ReadOptions::default()
    }
}

/// Past `max_record_size` a record is only scanned for its end: it fails alone, with its exact
/// range (the tryback copies it from the file), and the rows after it read normally.
#[test]
fn a_record_over_the_limit_fails_without_being_held() {
    let limit = 4096;
    let quoted = format!("\"{}\n{}\"", "q;".repeat(3000), "x".repeat(3000));
    let long = "w".repeat(200_000);
    let fields = ";".repeat(20_000);
    let mut data = b"a;b\r\n1;ok\r\n".to_vec();
    let mut ranges = Vec::new();
    for big in [format!("2;{long}"), format!("3;{quoted}"), fields] {
        let start = data.len();
        data.extend_from_slice(big.as_bytes());
        data.extend_from_slice(b"\r\n");
        ranges.push((start, data.len()));
        data.extend_from_slice(b"4;fine\r\n");
    }
    let file = TempFile::new(&data);
    let (mut reader, _) = CsvReader::open(file.path(), &with_limit(limit)).unwrap();
    let mut items = Vec::new();
    while let Some(item) = reader.next_item() {
        assert!(
            reader.held() < limit as usize + 2 * prepass::CHUNK,
            "{} bytes held",
            reader.held()
        );
        items.push(item);
    }
    let o = Outcome {
        info: CsvReader::open(file.path(), &with_limit(limit)).unwrap().1,
        items,
        comments: 0,
        file,
    };
    assert_eq!(o.rows().len(), 4, "{:?}", o.bad());
    let bad: Vec<&Item> = o
        .items
        .iter()
        .filter(|i| matches!(i, Item::Bad(_)))
        .collect();
    assert_eq!(bad.len(), 3);
    for (item, (start, end)) in bad.iter().zip(&ranges) {
        assert_eq!(item.raw_range(), (*start as u64, *end as u64));
        assert_eq!(
            o.raw(*start as u64, *end as u64),
            &data[*start..*end],
            "byte for byte"
        );
    }
    assert_eq!(
        o.bad()[0],
        (
            3,
            "the record is longer than 4 KiB (option max_record_size): it was not read"
        )
    );
    // The quoted value spans two lines: the row after it is on line 7.
    assert_eq!(o.bad()[1].0, 5);
    assert_eq!(o.rows()[2].0, 7);
    // A record of exactly the limit is read.
    let exact = format!("a\n{}\n", "z".repeat(limit as usize - 1));
    assert_eq!(
        read_with(exact.as_bytes(), with_limit(limit)).rows().len(),
        1
    );
}

#[test]
fn a_line_over_the_limit_fails_in_line_mode_too() {
    let data = format!("x\n{}\ny\n", "L".repeat(10_000));
    let o = read_with(
        data.as_bytes(),
        ReadOptions {
            max_record_size: 1024,
            ..line_mode()
        },
    );
    assert_eq!(o.rows(), [(1, vec!["x"]), (3, vec!["y"])]);
    assert_eq!(o.bad().len(), 1);
    assert!(o.bad()[0].1.contains("longer than 1 KiB"), "{:?}", o.bad());
}

#[test]
fn a_header_over_the_limit_refuses_the_file() {
    let data = format!("#c\n\n{}\n1\n", "h".repeat(5000));
    for opts in [
        with_limit(1024),
        ReadOptions {
            delimiter: DelimiterChoice::Byte(b';'),
            ..with_limit(1024)
        },
    ] {
        assert_eq!(
            refusal(data.as_bytes(), opts),
            "line 3, taken as the header: longer than 1 KiB (option max_record_size): not read"
        );
    }
}

#[test]
fn windows_1252_configured_on_a_utf8_file_is_flagged() {
    let flagged = |bytes: &[u8], encoding| {
        read_with(bytes, with_encoding(encoding))
            .info
            .utf8_read_as_1252
    };
    assert!(flagged(
        "a;b\nété;x\n".as_bytes(),
        EncodingChoice::Windows1252
    ));
    assert!(
        !flagged(b"a;b\nete;x\n", EncodingChoice::Windows1252),
        "ASCII reads the same"
    );
    assert!(
        !flagged(b"a;b\n\xe9t\xe9;x\n", EncodingChoice::Windows1252),
        "not UTF-8"
    );
    assert!(!flagged("a;b\nété;x\n".as_bytes(), EncodingChoice::Auto));
}

// ---- values (§2.5) ----

#[test]
fn comma_escapes_are_decoded() {
    let o = read_with(b"a&#44;b,c\nx&#44;y&#44z,&#44\n", with_delimiter(b','));
    assert_eq!(o.names(), ["a,b", "c"]);
    assert_eq!(o.rows(), [(2, vec!["x,y,z", ","])]);
    // In a `;` file only the short form survives splitting (unquoting comes first, §2.5), or a
    // quoted long form.
    let o = read(b"a;b\nx&#44y;\"1&#44;2\"\n");
    assert_eq!(o.rows(), [(2, vec!["x,y", "1,2"])]);
}

#[test]
fn fields_are_trimmed_quoted_ones_too() {
    let o = read(b" a \t; b\n  x  ;\" \ty \"\n\t;\"  \"  \n");
    assert_eq!(o.names(), ["a", "b"]);
    // The last line is blank: every field empty after trimming.
    assert_eq!(o.rows(), [(2, vec!["x", "y"])]);
}

// ---- raw ranges and tryback (§4.3) ----

#[test]
fn raw_ranges_reproduce_records_byte_for_byte() {
    let data = b"\xEF\xBB\xBFa;b\r\n1;ok\r\n2;\"two\r\nlines\";3\r\n# c\r\n4;\"x\"\"y\"\r\n";
    let o = read(data);
    let h = o.info.header.as_ref().unwrap();
    assert_eq!(o.raw(h.raw_start, h.raw_end), b"a;b\r\n");
    assert_eq!(o.raw(0, 3), b"\xEF\xBB\xBF");
    assert_eq!(o.bad(), [(3, "3 fields, the header has 2")]);

    // The tryback the host would write: BOM, header, failed records.
    let mut tryback = Vec::new();
    if o.info.bom_removed {
        tryback.extend(o.raw(0, 3));
    }
    tryback.extend(o.raw(h.raw_start, h.raw_end));
    for item in &o.items {
        if let Item::Bad(b) = item {
            tryback.extend(o.raw(b.raw_start, b.raw_end));
        }
    }
    assert_eq!(tryback, b"\xEF\xBB\xBFa;b\r\n2;\"two\r\nlines\";3\r\n");

    let ranges: Vec<(u64, u64)> = o.items.iter().map(Item::raw_range).collect();
    let texts: Vec<Vec<u8>> = ranges.iter().map(|&(s, e)| o.raw(s, e)).collect();
    assert_eq!(
        texts,
        [
            b"1;ok\r\n".to_vec(),
            b"2;\"two\r\nlines\";3\r\n".to_vec(),
            b"4;\"x\"\"y\"\r\n".to_vec()
        ]
    );
    assert_eq!(ranges.last().unwrap().1, data.len() as u64);
}

#[test]
fn copy_raw_checks_its_range() {
    let t = TempFile::new(b"abcdef");
    let mut f = fs::File::open(t.path()).unwrap();
    let mut out = Vec::new();
    copy_raw(&mut f, 2, 4, &mut out).unwrap();
    copy_raw(&mut f, 0, 1, &mut out).unwrap();
    assert_eq!(out, b"cda");
    assert!(copy_raw(&mut f, 4, 10, &mut Vec::new()).is_err());
    assert!(copy_raw(&mut f, 4, 2, &mut Vec::new()).is_err());
}

// ---- line mode (§3.2) ----

#[test]
fn line_mode_reads_whole_lines() {
    let data = b"# keys\nC1,with,commas\n  \"quoted; \"\"key\"\"\"  \n\n\"\"\n  spaced key  \nk&#44v\n\"open\nlast;one";
    let o = read_with(data, line_mode());
    assert_eq!(
        (o.info.delimiter, o.info.delimiter_source),
        (b';', Source::Defaulted)
    );
    assert!(o.info.header.is_none());
    assert_eq!(o.comments, 1);
    assert_eq!(
        o.rows(),
        [
            (2, vec!["C1,with,commas"]),
            (3, vec!["quoted; \"key\""]),
            (6, vec!["spaced key"]),
            (7, vec!["k,v"]),
            (8, vec!["\"open"]),
            (9, vec!["last;one"]),
        ]
    );
    let o = read_with(
        b"a,b\n",
        ReadOptions {
            delimiter: DelimiterChoice::Byte(b','),
            ..line_mode()
        },
    );
    assert_eq!(
        (o.info.delimiter, o.info.delimiter_source),
        (b',', Source::Configured)
    );
    assert_eq!(o.rows(), [(1, vec!["a,b"])]);
}

// ---- file-level facts ----

#[test]
fn fingerprint_identifies_content() {
    let a1 = read(b"a;b\n1;2\n");
    let a2 = read(b"a;b\n1;2\n");
    let b = read(b"a;b\n1;3\n");
    assert_eq!(a1.info.fingerprint, a2.info.fingerprint);
    assert_ne!(a1.info.fingerprint, b.info.fingerprint);
    assert_eq!(a1.info.fingerprint, fnv1a64(b"a;b\n1;2\n"));
    assert_eq!(a1.info.size, 8);
    // The BOM is part of the raw file, so it is part of the fingerprint.
    let with_bom = read(b"\xEF\xBB\xBFa;b\n1;2\n");
    assert_ne!(with_bom.info.fingerprint, a1.info.fingerprint);
    assert_eq!(with_bom.info.size, 11);
}

#[test]
fn a_file_without_a_header_record_is_refused() {
    for (data, want) in [
        (
            &b""[..],
            "the file is empty (nothing): it needs a header line",
        ),
        (
            b"\xEF\xBB\xBF",
            "the file is empty (nothing but a byte order mark): it needs a header line",
        ),
        (
            b"\n\n",
            "the file has no header line: it holds only 2 blank lines",
        ),
        (
            b"# only a comment\n",
            "the file has no header line: it holds only 1 comment line",
        ),
        (
            b";;;\n#c\n  \n#d\n",
            "the file has no header line: it holds only 2 blank lines and 2 comment lines",
        ),
        (
            b"#c\n\n\r\n",
            "the file has no header line: it holds only 2 blank lines and 1 comment line",
        ),
    ] {
        for opts in [ReadOptions::default(), with_delimiter(b';')] {
            assert_eq!(refusal(data, opts), want, "{data:?}");
        }
    }
    let o = read(b"a;b\n");
    assert!(o.items.is_empty());
}

#[test]
fn missing_file_is_refused_with_its_path() {
    let path = std::env::temp_dir().join("toolsync-reader-test-does-not-exist.csv");
    let err = match CsvReader::open(&path, &ReadOptions::default()) {
        Ok(_) => panic!("opened"),
        Err(e) => e.message,
    };
    assert!(err.starts_with("cannot read "), "{err}");
    assert!(
        err.contains("toolsync-reader-test-does-not-exist.csv"),
        "{err}"
    );
}

#[test]
fn position_advances_while_streaming() {
    let file = TempFile::new(b"a;b\n1;2\n3;4\n");
    let (mut r, info) = CsvReader::open(file.path(), &ReadOptions::default()).unwrap();
    assert_eq!(r.position(), 4);
    r.next_item().unwrap();
    assert_eq!(r.position(), 8);
    r.next_item().unwrap();
    assert_eq!(r.position(), info.size);
}

/// Throughput check, run with `cargo test --release -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let mut data = String::from("username;firstname;lastname;email;idnumber\n");
    let rows = 2_000_000;
    for i in 0..rows {
        data.push_str(&format!("user{i};Ann;Smith;ann{i}@example.org;ID{i}\n"));
    }
    let file = TempFile::new(data.as_bytes());
    let start = std::time::Instant::now();
    let (mut r, _) = CsvReader::open(file.path(), &ReadOptions::default()).unwrap();
    let mut n = 0;
    while let Some(item) = r.next_item() {
        assert!(matches!(item, Item::Row(_)));
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n, rows);
    println!(
        "{rows} rows, {} MB in {secs:.3} s: {:.2} M rows/s",
        data.len() / 1_000_000,
        rows as f64 / secs / 1e6
    );
}
