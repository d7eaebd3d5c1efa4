//! Step 1, resolve: the run's options (manifest defaults, `toolsync.toml`, `--set`, the
//! reading flags), its input file and the outputs it asks for — everything decided before the
//! store is opened or the file is read. A bad option is a usage error here.

use std::path::PathBuf;

use abi_stable::std_types::{RString, Tuple2};
use toolsync_archive::Limits;
use toolsync_plugin_api::abi::{protocol, RunSpec};
use toolsync_plugin_api::Manifest;
use toolsync_reader::{parse_size, DelimiterChoice, EncodingChoice, ReadOptions};

use super::locate::locate;
use super::RunArgs;
use crate::clock::Zone;
use crate::config::Options;
use crate::data_dir::DataDir;
use crate::error::{ConfigError, Error};
use crate::loader::LoadedProcessor;

/// Output switches (formats.md §4.4).
#[derive(Debug, Clone, Copy)]
pub struct Outputs {
    pub store_report: bool,
    pub tryback: bool,
    pub archive: bool,
    pub cleanup: bool,
}

/// What a run will do, resolved.
pub struct Plan<'p> {
    pub processor: &'p LoadedProcessor,
    pub name: String,
    pub options: Options,
    pub read: ReadOptions,
    pub zone: Zone,
    pub outputs: Outputs,
    pub allow_unknown: bool,
    /// The input file, and how the report names it.
    pub input: PathBuf,
    pub shown: String,
    /// Why the input cannot be read: the run is refused before anything opens it.
    pub input_refused: Option<String>,
    /// For an archive processor (formats.md §3.10): the size limits of its archives.
    pub archive_limits: Option<Limits>,
    pub args: &'p RunArgs,
}

impl<'p> Plan<'p> {
    pub fn resolve(
        data: &DataDir,
        processor: &'p LoadedProcessor,
        processors: &[&Manifest],
        args: &'p RunArgs,
    ) -> Result<Plan<'p>, Error> {
        let manifest = &processor.manifest;
        let mut options = Options::resolve(manifest, data, &args.sets, processors)?;
        if let Some(d) = &args.delimiter {
            options.set("delimiter", d);
        }
        if let Some(e) = &args.encoding {
            options.set("encoding", e);
        }
        let encoding = EncodingChoice::parse(options.get("encoding"))
            .map_err(|why| bad_value("encoding", why))?;
        let delimiter = DelimiterChoice::parse(options.get("delimiter"))
            .map_err(|why| bad_value("delimiter", why))?;
        let zone =
            Zone::parse(options.get("timezone")).map_err(|why| bad_value("timezone", why))?;
        let max_record_size = parse_size(options.get("max_record_size"))
            .map_err(|why| bad_value("max_record_size", why))?;
        let outputs = Outputs {
            store_report: options.flag("store_report")?,
            tryback: options.flag("tryback")?,
            archive: options.flag("archive")?,
            cleanup: options.flag("cleanup")?,
        };
        let allow_unknown = options.flag("allow_unknown_columns")?;
        let archive_limits = if manifest.is_archive() {
            // The CSV reading flags mean nothing to an archive: said rather than ignored.
            if let Some(flag) = [
                args.delimiter.as_ref().map(|_| "--delimiter"),
                args.encoding.as_ref().map(|_| "--encoding"),
            ]
            .into_iter()
            .flatten()
            .next()
            {
                return Err(Error::usage(format!(
                    "{flag}: {} reads zip archives, not CSV files",
                    manifest.name
                )));
            }
            Some(archive_limits(&options)?)
        } else {
            None
        };
        if manifest.has_files() {
            // Where the processor writes its content-addressed files (a picture's PNGs).
            options.set(
                protocol::FILES_OPTION,
                &data.stored_files().display().to_string(),
            );
        }
        let located = locate(&data.files(), args.file.as_deref(), options.get("input"));
        tracing::info!(
            processor = %manifest.name,
            input = %located.path.display(),
            dry_run = args.dry_run,
            atomic = args.atomic,
            max_errors = ?args.max_errors,
            force = args.force,
            "run"
        );
        tracing::info!(%options, "options");
        Ok(Plan {
            processor,
            name: manifest.name.to_string(),
            read: ReadOptions {
                encoding,
                delimiter,
                has_header: manifest.has_header,
                split_fields: manifest.split_fields,
                max_record_size,
            },
            options,
            zone,
            outputs,
            allow_unknown,
            shown: located.path.display().to_string(),
            input: located.path,
            input_refused: located.refused,
            archive_limits,
            args,
        })
    }

    /// Whether batches commit with a journal as the run goes (resumable after a kill, or for
    /// an `--atomic` run, rolled back); a dry run commits nothing.
    pub fn journaled(&self) -> bool {
        !self.args.dry_run
    }

    /// What `start` is told: the file's columns, every option, the run's "now".
    pub fn spec(&self, columns: &[String], started_at: i64) -> RunSpec {
        RunSpec {
            columns: columns.iter().map(|c| RString::from(c.as_str())).collect(),
            options: self
                .options
                .iter()
                .map(|(k, v)| Tuple2(RString::from(k), RString::from(v)))
                .collect(),
            input: self.input.display().to_string().into(),
            started_at,
            dry_run: self.args.dry_run,
            force: self.args.force,
        }
    }
}

/// `max_image_bytes` (one entry) and `max_archive_bytes` (the whole archive), as sizes
/// (`8 MiB`); a processor that does not declare them gets the defaults of formats.md §3.10.
fn archive_limits(options: &Options) -> Result<Limits, ConfigError> {
    let size = |key: &str, default: u64| match options.get(key) {
        "" => Ok(default),
        text => match toolsync_archive::parse_size(text) {
            Ok(0) => Err(bad_value(key, "must be at least 1 byte".to_string())),
            Ok(size) => Ok(size),
            Err(why) => Err(bad_value(key, why)),
        },
    };
    Ok(Limits {
        max_entry_bytes: size("max_image_bytes", 8 << 20)?,
        max_archive_bytes: size("max_archive_bytes", 64 << 20)?,
    })
}

fn bad_value(key: &str, why: String) -> ConfigError {
    ConfigError::BadValue {
        key: key.to_string(),
        why,
    }
}
