//! `toolsync show` and `toolsync export`, generic over the model's entity registry
//! (`toolsync_plugin_api::model::registry`): this module knows no entity.

use std::io::Write;

use toolsync_plugin_api::model::registry::{self, Ctx, Entity, FindError, ENTITIES};
use toolsync_plugin_api::model::ModelError;

use crate::cli::Format;
use crate::clock;
use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode};
use crate::output::{self, Out};
use crate::suggest::did_you_mean;

/// The entity a word names (plural or singular), or a usage error listing them.
fn entity(word: &str) -> Result<&'static dyn Entity, Error> {
    registry::entity(word).ok_or_else(|| {
        let words: Vec<&str> = ENTITIES
            .iter()
            .flat_map(|e| [e.singular(), e.name()])
            .collect();
        let mut message = format!("unknown entity `{word}`");
        if let Some(best) = did_you_mean(word, words.iter().copied()) {
            message.push_str(&format!(": did you mean `{best}`?"));
        }
        message.push_str("; `toolsync export` lists the entities");
        Error::usage(message)
    })
}

fn model_failure(e: ModelError) -> Error {
    Error::from(e)
}

pub fn show(data: &DataDir, word: &str, keys: &[String], by: Option<&str>) -> CmdResult {
    let entity = entity(word)?;
    let Some(key_help) = entity.key_help() else {
        return Err(Error::usage(format!(
            "`show {word}` is not available: `toolsync export {}` lists them",
            entity.name()
        )));
    };
    if keys.len() != entity.arity() {
        return Err(Error::usage(format!(
            "`show {}` takes {}: {key_help}",
            entity.singular(),
            match entity.arity() {
                1 => "one key".to_string(),
                n => format!("{n} keys"),
            }
        )));
    }
    let store = data.open_store()?;
    match find(entity, &store, keys, by)? {
        Ok(fields) => {
            let mut out = Out::stdout();
            out.json(&fields)?;
            out.flush()?;
            Ok(ExitCode::Ok)
        }
        Err(why) => {
            output::note(why);
            Ok(ExitCode::RowsFailed)
        }
    }
}

/// One record of `entity` by its keys: `Ok(Err(why))` when nothing matches (exit 1 with the
/// reason, for `show` and `picture get`).
pub fn find(
    entity: &dyn Entity,
    store: &crate::store::Store,
    keys: &[String],
    by: Option<&str>,
) -> Result<Result<registry::Fields, String>, Error> {
    let ctx = Ctx {
        store,
        now: clock::now(),
    };
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    match entity.show(ctx, &keys, by) {
        Ok(Some(fields)) => Ok(Ok(fields)),
        Ok(None) => Ok(Err(format!(
            "no {} matches `{}`",
            entity.singular(),
            keys.join(" ")
        ))),
        Err(FindError::NotFound(why)) => Ok(Err(why)),
        Err(FindError::BadKey(why)) => Err(Error::usage(why)),
        Err(FindError::Model(e)) => Err(model_failure(e)),
    }
}

pub fn export(data: &DataDir, word: Option<&str>, format: Format) -> CmdResult {
    let Some(word) = word else {
        return list();
    };
    let entity = entity(word)?;
    let store = data.open_store()?;
    let ctx = Ctx {
        store: &store,
        now: clock::now(),
    };
    // Whole or absent: the export is written aside and printed only once the store has been
    // read to the end, so a store that fails half-way (damage, I/O) prints nothing instead of
    // megabytes of unterminated JSON a script would take for data.
    let mut staged = Staged::create(&data.runs())?;
    let mut file = std::io::BufWriter::new(&mut staged.file);
    // The store between two batches, when the daemon runs a file meanwhile.
    store.quiesced(|| write_export(entity, ctx, format, &mut file))?;
    file.flush().map_err(export_failure)?;
    drop(file);
    let mut out = Out::stdout();
    staged.rewind()?;
    out.copy_from(&mut staged.file)?;
    out.flush()?;
    Ok(ExitCode::Ok)
}

fn write_export(
    entity: &dyn Entity,
    ctx: Ctx<'_>,
    format: Format,
    out: &mut impl Write,
) -> Result<(), Error> {
    let mut failure = None;
    match format {
        Format::Json => {
            out.write_all(b"[").map_err(export_failure)?;
            let mut first = true;
            entity
                .each_json(ctx, &mut |fields| {
                    let mut write = || -> std::io::Result<()> {
                        if !first {
                            out.write_all(entity.json_separator().as_bytes())?;
                        }
                        first = false;
                        serde_json::to_writer(&mut *out, &fields)?;
                        Ok(())
                    };
                    write().map_err(|e| stop(&mut failure, export_failure(e)))
                })
                .map_err(|e| failure.take().unwrap_or_else(|| model_failure(e)))?;
            out.write_all(b"]\n").map_err(export_failure)
        }
        Format::Csv => {
            // How to run the file back, when the store makes it depart from the processor's
            // defaults: on stderr for whoever exports, and in the file for whoever runs it.
            if let Some(note) = entity.csv_note(ctx).map_err(model_failure)? {
                crate::output::note(format!("export {}: {note}", entity.name()));
                writeln!(out, "# {note}").map_err(export_failure)?;
            }
            let header = entity.csv_header(ctx).map_err(model_failure)?;
            let mut csv = CsvWriter::new(out);
            csv.record(&header).map_err(export_failure)?;
            entity
                .each_csv(ctx, &header, &mut |cells| {
                    csv.record(&cells)
                        .map_err(|e| stop(&mut failure, export_failure(e)))
                })
                .map_err(|e| failure.take().unwrap_or_else(|| model_failure(e)))?;
            csv.flush().map_err(export_failure)
        }
    }
}

/// An export being written: a file in the data dir's owner-only `runs/` (it holds what the
/// store holds), unlinked at once on Unix so that nothing is left behind whatever ends the
/// command. Hand-written rather than the `tempfile` crate, whose dependencies (rustix) would
/// double the host's build for these few lines.
struct Staged {
    file: std::fs::File,
    #[cfg(not(unix))]
    path: std::path::PathBuf,
}

impl Staged {
    fn create(dir: &std::path::Path) -> Result<Staged, Error> {
        crate::data_dir::create_private_dir(dir)
            .map_err(|e| Error::output(format!("cannot create {}", dir.display()), e))?;
        let path = dir.join(format!("export-{}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options
            .open(&path)
            .map_err(|e| Error::output(format!("cannot write {}", path.display()), e))?;
        #[cfg(unix)]
        {
            let _ = std::fs::remove_file(&path);
            Ok(Staged { file })
        }
        #[cfg(not(unix))]
        Ok(Staged { file, path })
    }

    fn rewind(&mut self) -> Result<(), Error> {
        use std::io::Seek;
        self.file
            .rewind()
            .map_err(|e| Error::output("cannot read the export back", e))
    }
}

#[cfg(not(unix))]
impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Keeps a write failure while the model's scan is told to stop.
fn stop(slot: &mut Option<Error>, failure: Error) -> ModelError {
    let text = failure.to_string();
    *slot = Some(failure);
    ModelError::Conflict(text)
}

fn export_failure(e: std::io::Error) -> Error {
    Error::output("cannot write the export", e)
}

/// `toolsync export` alone: the entities, what each holds, and which processor reads its CSV.
fn list() -> CmdResult {
    let mut out = Out::stdout();
    out.line(
        "entities (toolsync export <entity> [--format csv|json]; toolsync show <entity> <key>):",
    )?;
    for e in ENTITIES {
        let mut line = format!("  {:<18} {}", e.name(), e.about());
        if let Some(processor) = e.processor() {
            line.push_str(&format!("; its CSV runs back through `run {processor}`"));
        }
        if let Some(keys) = e.key_help() {
            line.push_str(&format!("; show {} <{keys}>", e.singular()));
        }
        out.line(&line)?;
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}

/// `;`-separated records as toolsync's processors read them back, written by csv-core.
///
/// A field is quoted as RFC 4180 requires (it holds a `;`, a `"` or a line break), and also
/// when it starts with `#` (the line would read back as a comment) or holds a `,` (exports
/// have always quoted those, and their bytes stay the same). csv-core decides quoting per
/// writer, not per field: a second writer that always quotes takes the fields the first one
/// would leave bare; each field ends with its own writer's delimiter or terminator, so neither
/// writer's state leaks into the other's field.
struct CsvWriter<W: Write> {
    out: W,
    plain: csv_core::Writer,
    quoted: csv_core::Writer,
    buffer: Vec<u8>,
}

impl<W: Write> CsvWriter<W> {
    fn new(out: W) -> Self {
        let builder = |style| {
            csv_core::WriterBuilder::new()
                .delimiter(b';')
                .terminator(csv_core::Terminator::Any(b'\n'))
                .quote_style(style)
                .build()
        };
        CsvWriter {
            out,
            plain: builder(csv_core::QuoteStyle::Necessary),
            quoted: builder(csv_core::QuoteStyle::Always),
            buffer: vec![0; 64 * 1024],
        }
    }

    fn record(&mut self, fields: &[String]) -> std::io::Result<()> {
        for (i, field) in fields.iter().enumerate() {
            let writer = if field.starts_with('#') || field.contains(',') {
                &mut self.quoted
            } else {
                &mut self.plain
            };
            let mut input = field.as_bytes();
            loop {
                let (result, read, written) = writer.field(input, &mut self.buffer);
                input = &input[read..];
                self.out.write_all(&self.buffer[..written])?;
                if result == csv_core::WriteResult::InputEmpty {
                    break;
                }
            }
            let last = i + 1 == fields.len();
            loop {
                let (result, written) = if last {
                    writer.terminator(&mut self.buffer)
                } else {
                    writer.delimiter(&mut self.buffer)
                };
                self.out.write_all(&self.buffer[..written])?;
                if result == csv_core::WriteResult::InputEmpty {
                    break;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(records: &[&[&str]]) -> String {
        let mut bytes = Vec::new();
        let mut csv = CsvWriter::new(&mut bytes);
        for record in records {
            let fields: Vec<String> = record.iter().map(|f| f.to_string()).collect();
            csv.record(&fields).unwrap();
        }
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn fields_are_quoted_when_they_would_not_read_back() {
        assert_eq!(written(&[&["a", "b"]]), "a;b\n");
        assert_eq!(
            written(&[&[
                "x;y",
                "say \"hi\"",
                "two\nlines",
                "a, b",
                "#1",
                "mid#dle",
                ""
            ]]),
            "\"x;y\";\"say \"\"hi\"\"\";\"two\nlines\";\"a, b\";\"#1\";mid#dle;\n"
        );
        assert_eq!(written(&[&["1"], &["2"]]), "1\n2\n");
    }
}
