//! Step 2, read: open the file by the common reading rules (encoding, BOM, delimiter, header)
//! and check its header against the processor's schema — before any row runs. A file that
//! fails here is refused (exit 3) and nothing reaches the store.

use abi_stable::std_types::RStr;
use toolsync_plugin_api::engine::{AsInput, Input};
use toolsync_plugin_api::schema;
use toolsync_reader::{CsvReader, FileInfo, Item};

use super::plan::Plan;
use super::report::Summary;

/// A file opened and accepted.
pub struct Opened {
    pub reader: CsvReader,
    pub info: FileInfo,
    /// The canonical column name of each field (empty for an ignored column); for a headerless
    /// file, the manifest's columns in order.
    pub columns: Vec<String>,
}

/// Opens the input and checks its header; `Err` is the refusal's reason. What the reader
/// decided (encoding, delimiter) and file-level warnings go into `summary`.
pub fn open(plan: &Plan<'_>, summary: &mut Summary) -> Result<Opened, String> {
    let manifest = &plan.processor.manifest;
    let (reader, info) = CsvReader::open(&plan.input, &plan.read).map_err(|r| r.message)?;
    describe(summary, &info, manifest.split_fields);
    let columns = match &info.header {
        Some(header) => {
            let check = schema::check_header(
                &plan.name,
                &manifest.columns,
                &header.names,
                plan.allow_unknown,
            );
            if !check.problems.is_empty() {
                return Err(check.problems.join("; "));
            }
            if !check.ignored.is_empty() {
                summary.warnings.push(format!(
                    "unknown columns ignored (allow_unknown_columns): {}",
                    check.ignored.join(", ")
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
        reader,
        info,
        columns,
    })
}

/// The report's encoding and delimiter lines.
fn describe(summary: &mut Summary, info: &FileInfo, split_fields: bool) {
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

/// A reader item as the engine's row loop takes it.
pub struct ReadItem(pub Item);

impl AsInput for ReadItem {
    fn input(&self) -> Input<'_> {
        match &self.0 {
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
    std::iter::from_fn(move || reader.next_item().map(ReadItem))
}
