//! `toolsync show` and `toolsync export`, generic over the model's entity registry
//! (`toolsync_plugin_api::model::registry`): this module knows no entity.

use std::io::Write;

use toolsync_plugin_api::model::registry::{self, Ctx, Entity, FindError, ENTITIES};
use toolsync_plugin_api::model::ModelError;

use crate::cli::Format;
use crate::clock;
use crate::config::DataDir;
use crate::error::{CmdResult, Error, ExitCode};
use crate::output::Out;
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
    let ctx = Ctx {
        store: &store,
        now: clock::now(),
    };
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    match entity.show(ctx, &keys, by) {
        Ok(Some(fields)) => {
            let mut out = Out::stdout();
            out.json(&fields)?;
            out.flush()?;
            Ok(ExitCode::Ok)
        }
        Ok(None) => {
            eprintln!(
                "toolsync: no {} matches `{}`",
                entity.singular(),
                keys.join(" ")
            );
            Ok(ExitCode::RowsFailed)
        }
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
    let mut out = Out::stdout();
    match format {
        Format::Json => {
            out.write_all(b"[")?;
            let mut first = true;
            let mut failure = None;
            entity
                .each_json(ctx, &mut |fields| {
                    let mut write = || -> Result<(), Error> {
                        if !first {
                            out.write_all(entity.json_separator().as_bytes())?;
                        }
                        first = false;
                        let text = serde_json::to_string(&fields)
                            .map_err(|e| Error::output("cannot encode JSON", e.into()))?;
                        out.write_all(text.as_bytes())
                    };
                    write().map_err(|e| stop(&mut failure, e))
                })
                .map_err(|e| failure.take().unwrap_or_else(|| model_failure(e)))?;
            out.write_all(b"]\n")?;
        }
        Format::Csv => {
            let header = entity.csv_header(ctx).map_err(model_failure)?;
            let mut csv = CsvWriter::new(&mut out);
            csv.record(&header).map_err(csv_failure)?;
            let mut failure = None;
            entity
                .each_csv(ctx, &header, &mut |cells| {
                    csv.record(&cells)
                        .map_err(|e| stop(&mut failure, csv_failure(e)))
                })
                .map_err(|e| failure.take().unwrap_or_else(|| model_failure(e)))?;
            csv.flush().map_err(csv_failure)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}

/// Keeps a write failure while the model's scan is told to stop.
fn stop(slot: &mut Option<Error>, failure: Error) -> ModelError {
    let text = failure.to_string();
    *slot = Some(failure);
    ModelError::Conflict(text)
}

fn csv_failure(e: std::io::Error) -> Error {
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
