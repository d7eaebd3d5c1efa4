//! Step 2, read: open the file by the common reading rules (encoding, BOM, delimiter, header)
//! and check its header against the processor's schema — before any row runs; or, for an
//! archive processor (formats.md §3.10), open the zip archive and check its total size. A file
//! that fails here is refused (exit 3) and nothing reaches the store.

use std::sync::OnceLock;

use abi_stable::std_types::RStr;
use toolsync_archive::{Archive, Entry, EntryKind, Limits};
use toolsync_plugin_api::engine::{AsInput, Input};
use toolsync_plugin_api::schema::{self, encode_bytes, Quoted, LISTED};
use toolsync_plugin_api::ColumnSpec;
use toolsync_reader::{delimiter_name, header_refusal, CsvReader, FileInfo, Item};

use super::plan::Plan;
use super::report::Summary;

/// A file opened and accepted.
pub struct Opened {
    pub source: Source,
    /// The canonical column name of each field (empty for an ignored column); for a headerless
    /// file or an archive, the manifest's columns in order.
    pub columns: Vec<String>,
    /// What recognises the same input when a killed run is started again.
    pub fingerprint: u64,
    pub size: u64,
}

/// What the rows come from. (One per run: the size of the larger variant costs nothing.)
#[allow(clippy::large_enum_variant)]
pub enum Source {
    Csv { reader: CsvReader, info: FileInfo },
    Archive { archive: Archive, limits: Limits },
}

/// What the finish needs to know of the input's shape (its tryback and archive copy).
#[derive(Clone, Copy)]
pub enum Shape<'a> {
    Csv(&'a FileInfo),
    Archive,
}

impl Opened {
    pub fn shape(&self) -> Shape<'_> {
        match &self.source {
            Source::Csv { info, .. } => Shape::Csv(info),
            Source::Archive { .. } => Shape::Archive,
        }
    }

    /// The CSV file's reading, `None` for an archive.
    pub fn csv_info(&self) -> Option<&FileInfo> {
        match &self.source {
            Source::Csv { info, .. } => Some(info),
            Source::Archive { .. } => None,
        }
    }

    /// Progress counts: bytes for a file, entries for an archive.
    pub fn progress_total(&self) -> u64 {
        match &self.source {
            Source::Csv { .. } => self.size,
            Source::Archive { archive, .. } => archive.entry_count() as u64,
        }
    }
}

/// Opens the input and checks its header; `Err` is the refusal's reason, which names the line
/// taken as the header when it is about the header. What the reader decided (encoding,
/// delimiter) and file-level warnings go into `summary`.
pub fn open(plan: &Plan<'_>, summary: &mut Summary) -> Result<Opened, String> {
    let manifest = &plan.processor.manifest;
    if let Some(limits) = plan.archive_limits {
        return open_archive(plan, limits);
    }
    let (reader, info) = CsvReader::open(&plan.input, &plan.read).map_err(|r| r.message)?;
    describe(summary, &info, manifest.split_fields);
    let columns = match &info.header {
        Some(header) => {
            if let Some(d) = other_delimiter(&header.names, &manifest.columns, info.delimiter) {
                let d = delimiter_name(d);
                return Err(header_refusal(
                    header.line,
                    format_args!(
                        "a single field that is no column of {}, but split at `{d}` it names \
                         columns: did you mean --delimiter '{d}'?",
                        plan.name
                    ),
                ));
            }
            let check = schema::check_header(
                &plan.name,
                &manifest.columns,
                &header.names,
                plan.allow_unknown,
            );
            if !check.problems.is_empty() {
                return Err(header_refusal(header.line, check.problems.join("; ")));
            }
            if !check.ignored.is_empty() {
                summary.warnings.push(format!(
                    "unknown columns ignored (allow_unknown_columns): {}",
                    listed(&check.ignored)
                ));
            }
            check.canonical
        }
        None => manifest
            .columns
            .iter()
            .map(|c| c.name.to_string())
            .collect(),
    };
    Ok(Opened {
        fingerprint: info.fingerprint,
        size: info.size,
        source: Source::Csv { reader, info },
        columns,
    })
}

/// An archive: refused when it is no readable zip, or when its entries decompress to more than
/// `max_archive_bytes` in all — checked on the bytes decompressed, before any entry is applied.
fn open_archive(plan: &Plan<'_>, limits: Limits) -> Result<Opened, String> {
    let mut archive = Archive::open(&plan.input)?;
    let total = archive.check_total(&limits)?;
    tracing::info!(
        entries = archive.entry_count(),
        decompressed = total,
        "archive opened"
    );
    Ok(Opened {
        columns: plan
            .processor
            .manifest
            .columns
            .iter()
            .map(|c| c.name.to_string())
            .collect(),
        fingerprint: archive.fingerprint(),
        size: archive.size(),
        source: Source::Archive { archive, limits },
    })
}

/// When the header came out as one field that is no column, the delimiter that would have split
/// it into names of which some are columns (the most of them): a wrong `--delimiter`, or a
/// delimiter `auto` does not detect (`|`). `None` when no delimiter makes it a header.
fn other_delimiter(names: &[String], columns: &[ColumnSpec], used: u8) -> Option<u8> {
    let [name] = names else {
        return None;
    };
    let is_column = |n: &str| schema::match_column(columns, &n.trim().to_lowercase()).is_some();
    if name.len() > schema::HEADER_NAME_MAX || is_column(name) {
        return None;
    }
    let mut best = None;
    for d in [b';', b',', b'\t', b':', b'|'] {
        let found = name.split(char::from(d)).filter(|n| is_column(n)).count();
        // Strictly more: on a tie the earlier delimiter (the order `auto` ranks them in).
        if d != used && found > best.map_or(0, |(f, _)| f) {
            best = Some((found, d));
        }
    }
    best.map(|(_, d)| d)
}

/// Names as a warning lists them: quoted (cut when long), a handful, then a count.
fn listed(names: &[String]) -> String {
    let mut list: Vec<String> = names
        .iter()
        .take(LISTED)
        .map(|n| Quoted(n).to_string())
        .collect();
    if names.len() > LISTED {
        list.push(format!("and {} more", names.len() - LISTED));
    }
    list.join(", ")
}

/// The report's encoding and delimiter lines, and the warning of a UTF-8 file read as
/// windows-1252 by configuration.
fn describe(summary: &mut Summary, info: &FileInfo, split_fields: bool) {
    if info.utf8_read_as_1252 {
        summary.warnings.push(
            "the file is valid UTF-8 but was read as windows-1252 (configured): accents will \
             be wrong; drop --encoding (or set encoding = auto)"
                .to_string(),
        );
    }
    summary.encoding = Some(info.encoding.to_string());
    summary.encoding_note = info.encoding_source.to_string();
    if info.bom_removed {
        summary.encoding_note.push_str("; BOM removed");
    }
    // Whole lines (course-delete): no delimiter is used.
    if split_fields {
        summary.delimiter = Some(toolsync_reader::delimiter_name(info.delimiter));
        summary.delimiter_note = info.delimiter_source.to_string();
    }
}

/// An item as the engine's row loop takes it: a CSV reader's record, or an archive's entry.
pub enum ReadItem {
    Csv(Item),
    /// An entry, and its content base64-encoded (the `bytes` column) once a row is first
    /// asked of it: by `prepare`, on its thread, so that encoding runs on every core.
    Entry(Entry, OnceLock<String>),
}

impl ReadItem {
    pub fn entry(entry: Entry) -> ReadItem {
        ReadItem::Entry(entry, OnceLock::new())
    }

    pub fn line(&self) -> u64 {
        match self {
            ReadItem::Csv(item) => item.line(),
            ReadItem::Entry(entry, _) => entry.line,
        }
    }
}

impl AsInput for ReadItem {
    /// An entry's bytes, and their base64 form once prepared.
    fn weight(&self) -> usize {
        match self {
            ReadItem::Entry(entry, _) => (entry.decompressed as usize).saturating_mul(7) / 3,
            ReadItem::Csv(_) => 0,
        }
    }

    fn input(&self) -> Input<'_> {
        let item = match self {
            ReadItem::Csv(item) => item,
            ReadItem::Entry(entry, content) => {
                let line = entry.line;
                return match &entry.kind {
                    EntryKind::Data(bytes) => Input::Row {
                        line,
                        values: vec![
                            RStr::from(entry.path.as_str()),
                            RStr::from(content.get_or_init(|| encode_bytes(bytes)).as_str()),
                        ],
                    },
                    EntryKind::Skipped(reason) => Input::Skipped { line, reason },
                    EntryKind::Failed { reason, .. } => Input::Malformed { line, reason },
                };
            }
        };
        match item {
            Item::Row(record) => Input::Row {
                line: record.line,
                values: record
                    .fields
                    .iter()
                    .map(|f| RStr::from(f.as_str()))
                    .collect(),
            },
            Item::Bad(bad) => Input::Malformed {
                line: bad.line,
                reason: &bad.reason,
            },
        }
    }
}

/// The reader's items, one at a time.
pub fn items(reader: &mut CsvReader) -> impl Iterator<Item = ReadItem> + '_ {
    std::iter::from_fn(move || reader.next_item().map(ReadItem::Csv))
}
