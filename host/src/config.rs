//! Where things are (data dir, plugin search path) and the options of a run: manifest defaults,
//! overridden by `<data dir>/toolsync.toml`, overridden by `--set key=value` (design.md §6).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toolsync_plugin_api::abi::protocol;
use toolsync_plugin_api::{Manifest, OptionSpec};

use crate::data_dir::DataDir;
use crate::error::ConfigError;
use crate::suggest::did_you_mean;

/// Every `--plugin-dir`, `$TOOLSYNC_PLUGIN_PATH`, `<data dir>/plugins`, the executable's folder.
///
/// A folder the operator named (a flag, an entry of the variable) must be a folder: a typo
/// there would otherwise load nothing in silence. The data dir's `plugins/` and the
/// executable's folder are places toolsync looks on its own, and may be absent.
pub fn plugin_search_path(flags: &[PathBuf], data: &DataDir) -> Result<Vec<PathBuf>, ConfigError> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for dir in flags {
        named_folder("--plugin-dir", dir)?;
        dirs.push(dir.clone());
    }
    if let Some(path) = std::env::var_os("TOOLSYNC_PLUGIN_PATH") {
        for dir in std::env::split_paths(&path).filter(|p| !p.as_os_str().is_empty()) {
            named_folder("$TOOLSYNC_PLUGIN_PATH entry", &dir)?;
            dirs.push(dir);
        }
    }
    dirs.push(data.plugins());
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    let mut unique = Vec::new();
    for dir in dirs {
        if !unique.contains(&dir) {
            unique.push(dir);
        }
    }
    Ok(unique)
}

/// A plugin folder the operator named exists and is a folder.
fn named_folder(origin: &'static str, dir: &Path) -> Result<(), ConfigError> {
    let problem = match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => "not a folder (name the folder that holds the plugin libraries)".to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "the folder does not exist".to_string()
        }
        Err(e) => format!("cannot be read: {e}"),
    };
    Err(ConfigError::PluginDir {
        origin,
        path: dir.to_path_buf(),
        problem,
    })
}

/// Options every processor has, handled by the host (formats.md §2.9, §4.4).
pub fn common_options(manifest: &Manifest) -> Vec<OptionSpec> {
    vec![
        OptionSpec::new(
            "input",
            &manifest.default_input,
            "input file: a path relative to the file area, or absolute",
        ),
        OptionSpec::new(
            "delimiter",
            "auto",
            "auto, tab, or one ASCII punctuation character",
        ),
        OptionSpec::new("encoding", "auto", "auto, utf-8, windows-1252, iso-8859-1"),
        OptionSpec::new(
            "timezone",
            "UTC",
            "time zone of dates in cells and of stamps in output names",
        ),
        OptionSpec::new(
            "max_record_size",
            &toolsync_reader::size_name(toolsync_reader::DEFAULT_MAX_RECORD_SIZE),
            "the most bytes one record (line) may take: a longer row fails, a longer header \
             refuses the file; bytes, or KiB, MiB, GiB",
        ),
        OptionSpec::new(
            "allow_unknown_columns",
            "false",
            "ignore unknown columns (listed once as a warning) instead of refusing the file",
        ),
        OptionSpec::new(
            "store_report",
            "true",
            "keep the reports in the file area's reports/",
        ),
        OptionSpec::new(
            "tryback",
            "true",
            "write the failed lines to a tryback file beside the input",
        ),
        OptionSpec::new(
            "archive",
            "true",
            "copy the input to the file area's archives/ after the run",
        ),
        OptionSpec::new("cleanup", "false", "remove the input after a complete run"),
        OptionSpec::new(
            "schedule",
            "",
            "when `toolsync daemon` runs this processor on its default file: a cron expression \
             (`0 2 * * *`; six fields start with seconds), in option `timezone`; empty: never",
        ),
        OptionSpec::new(
            "rerun_unchanged",
            "false",
            "the daemon runs a default file again even when the last completed run applied \
             the same content",
        ),
    ]
}

/// All options of a processor: common ones first, then the processor's own (protocol flags
/// included: `_`-prefixed, never set by the operator nor listed).
pub fn all_options(manifest: &Manifest) -> Vec<OptionSpec> {
    let mut options = common_options(manifest);
    for own in manifest.options.iter() {
        options.retain(|o| o.key != own.key);
        options.push(own.clone());
    }
    options
}

/// The effective options of a run.
#[derive(Debug, Clone)]
pub struct Options {
    values: BTreeMap<String, String>,
}

impl Options {
    /// Merges defaults, the config file's table for the processor, and `--set` pairs.
    ///
    /// The whole config file is checked against `processors` (every processor loaded, this one
    /// included): each table must name one of them (a misspelt `[user]` would otherwise be
    /// ignored in silence), each key in it must be an option of that processor — so that a
    /// mistake in `[course-create]` is found by the nightly `users` run, not by the first
    /// course run after it.
    pub fn resolve(
        manifest: &Manifest,
        data: &DataDir,
        sets: &[String],
        processors: &[&Manifest],
    ) -> Result<Options, ConfigError> {
        let specs = all_options(manifest);
        let mut values: BTreeMap<String, String> = specs
            .iter()
            .map(|o| (o.key.to_string(), o.default.to_string()))
            .collect();
        let file = ConfigFile::read(data)?;
        file.check(processors)?;
        // `<other>.<key>` options follow another processor's setting (course-create reads
        // `users.identity`), so the operator states it once, in that processor's table.
        for spec in &specs {
            if let Some((other, key)) = spec.key.split_once('.') {
                if let Some((_, value)) = file.table(other)?.into_iter().find(|(k, _)| k == key) {
                    values.insert(spec.key.to_string(), value);
                }
            }
        }
        // Checked with the whole file above.
        values.extend(file.table(&manifest.name)?);
        for pair in sets {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(ConfigError::BadSet(pair.clone()));
            };
            let key = key.trim();
            settable(manifest, &specs, "--set".to_string(), key)?;
            values.insert(key.to_string(), value.trim().to_string());
        }
        for spec in &specs {
            if spec.choices.is_empty() {
                continue;
            }
            let value = values[spec.key.as_str()].to_ascii_lowercase();
            if !spec.choices.iter().any(|c| c.as_str() == value) {
                return Err(ConfigError::BadValue {
                    key: spec.key.to_string(),
                    why: format!(
                        "`{value}` is not one of {}",
                        spec.choices
                            .iter()
                            .map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        Ok(Options { values })
    }

    pub fn get(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_string(), value.to_string());
    }

    pub fn flag(&self, key: &str) -> Result<bool, ConfigError> {
        toolsync_plugin_api::values::parse_bool(self.get(key)).map_err(|why| {
            ConfigError::BadValue {
                key: key.to_string(),
                why,
            }
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// `key="value"`, comma-separated, for the log of a run.
impl std::fmt::Display for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (key, value)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{key}={value:?}")?;
        }
        Ok(())
    }
}

/// Whether the operator may set `key` (from `origin`: a table of the config file, or `--set`)
/// for the processor of `manifest`, whose options are `specs`.
fn settable(
    manifest: &Manifest,
    specs: &[OptionSpec],
    origin: String,
    key: &str,
) -> Result<(), ConfigError> {
    if protocol::is_flag(key) {
        return Err(ConfigError::Internal {
            origin,
            key: key.to_string(),
        });
    }
    if specs.iter().any(|o| o.key == key) {
        return Ok(());
    }
    let keys: Vec<&str> = specs
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| !protocol::is_flag(k))
        .collect();
    Err(ConfigError::UnknownOption {
        origin,
        processor: manifest.name.to_string(),
        key: key.to_string(),
        hint: did_you_mean(key, keys.iter().copied())
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default(),
        valid: keys.join(", "),
    })
}

/// A TOML value's type with its article, for messages: `an array`, `a table`.
fn with_article(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}

/// The top-level key of `toolsync.toml` naming the engine of a new store.
pub const STORE_KEY: &str = "store";
/// The owner-only file holding a PostgreSQL store's password (top level, beside `store`).
pub const STORE_PASSWORD_FILE_KEY: &str = "store_password_file";
/// The space kept free on an embedded store's disk (top level; a size, `0` for none).
pub const STORE_RESERVE_KEY: &str = "store_reserve";

/// The tables of `toolsync.toml` that are toolsync's own, not a processor's, with their keys.
pub const HOST_TABLES: [(&str, &[&str]); 3] = [
    ("ingest", &["drop_dir", "settle_seconds"]),
    ("daemon", &["on_finish"]),
    ("undo", &["keep_runs"]),
];

/// What `toolsync.toml` sets for toolsync itself: the drop folder (`[ingest]`) and the daemon
/// (`[daemon]`).
#[derive(Debug, Clone)]
pub struct HostSettings {
    /// `[ingest] drop_dir`: where an outside system drops files; relative to the data dir.
    /// Default `<data dir>/sync`.
    pub drop_dir: PathBuf,
    /// Whether `drop_dir` was configured (a configured folder that is missing is an error; the
    /// default one is created).
    pub drop_dir_configured: bool,
    /// `[ingest] settle_seconds`: how long a dropped file must stay unchanged before it is
    /// taken. Default 5.
    pub settle_seconds: u64,
    /// `[daemon] on_finish`: a shell command given each run's JSON report on stdin.
    pub on_finish: Option<String>,
    /// `[undo] keep_runs`: how many runs' undo logs are kept (`toolsync revert`). Default 20.
    pub undo_keep_runs: usize,
    /// `store = "sled" | "redb" | "postgres://..."`: the engine of a new store (sled when
    /// unset); when set, an existing store of another engine is refused.
    pub store_engine: Option<crate::store::EngineKind>,
    /// The PostgreSQL store `store` names (its password resolved), when it names one.
    pub store_server: Option<crate::store::PgTarget>,
    /// `store_password_file`: the owner-only file holding a PostgreSQL store's password.
    pub store_password_file: Option<PathBuf>,
    /// `store_reserve`: the bytes kept free on an embedded store's disk
    /// ([`crate::store::DEFAULT_RESERVE`] when unset).
    pub store_reserve: u64,
}

impl HostSettings {
    pub fn read(data: &DataDir) -> Result<HostSettings, ConfigError> {
        let file = ConfigFile::read(data)?;
        let mut settings = HostSettings {
            drop_dir: data.root.join("sync"),
            drop_dir_configured: false,
            settle_seconds: 5,
            on_finish: None,
            undo_keep_runs: crate::undo::DEFAULT_KEEP_RUNS,
            store_engine: None,
            store_server: None,
            store_password_file: None,
            store_reserve: crate::store::DEFAULT_RESERVE,
        };
        match file.table.get(STORE_RESERVE_KEY) {
            None => {}
            Some(toml::Value::Integer(bytes)) if *bytes >= 0 => {
                settings.store_reserve = *bytes as u64;
            }
            Some(toml::Value::String(size)) => {
                settings.store_reserve =
                    toolsync_archive::parse_size(size).map_err(|why| ConfigError::BadValue {
                        key: STORE_RESERVE_KEY.to_string(),
                        why,
                    })?;
            }
            Some(other) => {
                let what = match other {
                    toml::Value::Integer(n) => format!("{n}"),
                    other => with_article(other.type_str()),
                };
                return Err(ConfigError::BadValue {
                    key: STORE_RESERVE_KEY.to_string(),
                    why: format!("{what} is not a size: write \"64 MiB\", or 0 for none"),
                });
            }
        }
        let password_file = match file.table.get(STORE_PASSWORD_FILE_KEY) {
            None => None,
            Some(toml::Value::String(path)) => Some(data.root.join(path)),
            Some(other) => {
                return Err(ConfigError::BadValue {
                    key: STORE_PASSWORD_FILE_KEY.to_string(),
                    why: format!("{} is not a file name", with_article(other.type_str())),
                })
            }
        };
        settings.store_password_file.clone_from(&password_file);
        if let Some(url) = file
            .table
            .get(STORE_KEY)
            .and_then(toml::Value::as_str)
            .filter(|v| crate::store::PgTarget::is_url(v))
        {
            let target =
                crate::store::PgTarget::parse(url, password_file.as_deref()).map_err(|why| {
                    ConfigError::BadValue {
                        key: STORE_KEY.to_string(),
                        why,
                    }
                })?;
            settings.store_engine = Some(crate::store::EngineKind::Postgres);
            settings.store_server = Some(target);
        } else if let Some(value) = file.table.get(STORE_KEY) {
            let engines = crate::store::EngineKind::EMBEDDED
                .map(|k| format!("\"{}\"", k.name()))
                .join(" or ");
            let engines = format!("{engines} or \"postgres://user@host/database\"");
            settings.store_engine = value
                .as_str()
                .and_then(crate::store::EngineKind::parse)
                .map(Some)
                .ok_or_else(|| ConfigError::BadValue {
                    key: STORE_KEY.to_string(),
                    why: format!(
                        "{} is not an engine: {}",
                        value
                            .as_str()
                            .map(|v| format!("\"{v}\""))
                            .unwrap_or_else(|| with_article(value.type_str())),
                        engines
                    ),
                })?;
        }
        for (table, keys) in HOST_TABLES {
            for (key, value) in file.table(table)? {
                let bad = |why: String| ConfigError::BadValue {
                    key: format!("[{table}] {key}"),
                    why,
                };
                match (table, key.as_str()) {
                    ("ingest", "drop_dir") => {
                        settings.drop_dir = data.root.join(&value);
                        settings.drop_dir_configured = true;
                    }
                    ("ingest", "settle_seconds") => {
                        settings.settle_seconds = value
                            .parse()
                            .map_err(|_| bad(format!("`{value}` is not a number of seconds")))?;
                    }
                    ("undo", "keep_runs") => {
                        settings.undo_keep_runs = value
                            .parse()
                            .map_err(|_| bad(format!("`{value}` is not a number of runs")))?;
                    }
                    ("daemon", "on_finish") => {
                        settings.on_finish = Some(value).filter(|v| !v.trim().is_empty());
                    }
                    _ => {
                        return Err(ConfigError::UnknownOption {
                            origin: format!("{}: [{table}]", file.path.display()),
                            processor: format!("[{table}]"),
                            key: key.clone(),
                            hint: did_you_mean(&key, keys.iter().copied())
                                .map(|k| format!(" (did you mean `{k}`?)"))
                                .unwrap_or_default(),
                            valid: keys.join(", "),
                        })
                    }
                }
            }
        }
        Ok(settings)
    }
}

/// `<data dir>/toolsync.toml`, parsed (empty when there is none).
struct ConfigFile {
    path: PathBuf,
    table: toml::Table,
}

impl ConfigFile {
    fn read(data: &DataDir) -> Result<ConfigFile, ConfigError> {
        let path = data.config_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(ConfigError::Unreadable { path, source }),
        };
        let table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax {
                path: path.clone(),
                message: e.to_string(),
            })?;
        Ok(ConfigFile { path, table })
    }

    /// Every top-level entry is the table of a processor of `processors`, and every key in it
    /// one of that processor's options, with a plain value.
    fn check(&self, processors: &[&Manifest]) -> Result<(), ConfigError> {
        let names: Vec<&str> = processors.iter().map(|m| m.name.as_str()).collect();
        let tables = || {
            if names.is_empty() {
                "no processor is loaded".to_string()
            } else {
                names.join(", ")
            }
        };
        for (name, value) in &self.table {
            if HOST_TABLES.iter().any(|(table, _)| table == name)
                || name == STORE_KEY
                || name == STORE_PASSWORD_FILE_KEY
                || name == STORE_RESERVE_KEY
            {
                continue; // checked by HostSettings::read
            }
            let Some(manifest) = processors.iter().find(|m| m.name == name.as_str()) else {
                if !value.is_table() {
                    let having: Vec<String> = processors
                        .iter()
                        .filter(|m| all_options(m).iter().any(|o| o.key == name.as_str()))
                        .map(|m| format!("[{}]", m.name))
                        .collect();
                    return Err(ConfigError::OutsideTable {
                        path: self.path.clone(),
                        key: name.clone(),
                        hint: match having.len() {
                            0 => format!(" (a table is named after a processor: {})", tables()),
                            1 => format!(": {} has this option", having[0]),
                            _ => format!(": {} have this option", having.join(", ")),
                        },
                    });
                }
                let hosts = HOST_TABLES.iter().map(|(table, _)| *table);
                return Err(ConfigError::UnknownTable {
                    path: self.path.clone(),
                    table: name.clone(),
                    hint: did_you_mean(name, names.iter().copied().chain(hosts))
                        .map(|k| format!(": did you mean [{k}]?"))
                        .unwrap_or_default(),
                    known: format!("{}; or toolsync's own [ingest], [daemon], [undo]", tables()),
                });
            };
            let Some(section) = value.as_table() else {
                return Err(ConfigError::NotATable {
                    path: self.path.clone(),
                    table: name.clone(),
                });
            };
            let specs = all_options(manifest);
            for (key, value) in section {
                // `users.identity = …` in [course-create]: TOML reads a dotted key as a
                // table; the operator meant course-create's option of that name, which
                // follows the users table.
                let dotted = value.as_table().into_iter().flat_map(|inner| inner.keys());
                for inner in dotted {
                    if specs
                        .iter()
                        .any(|o| o.key == format!("{key}.{inner}").as_str())
                    {
                        return Err(ConfigError::FollowsOther {
                            path: self.path.clone(),
                            table: name.clone(),
                            other: key.clone(),
                            key: inner.clone(),
                        });
                    }
                }
                let origin = format!("{}: [{name}]", self.path.display());
                settable(manifest, &specs, origin, key)?;
            }
            // The values' types.
            self.table(name)?;
        }
        Ok(())
    }

    /// The `[processor]` table, values as text.
    fn table(&self, processor: &str) -> Result<Vec<(String, String)>, ConfigError> {
        let Some(section) = self.table.get(processor) else {
            return Ok(Vec::new());
        };
        let Some(section) = section.as_table() else {
            return Err(ConfigError::NotATable {
                path: self.path.clone(),
                table: processor.to_string(),
            });
        };
        section
            .iter()
            .map(|(key, value)| {
                let text = match value {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => {
                        return Err(ConfigError::NotAValue {
                            path: self.path.clone(),
                            table: processor.to_string(),
                            key: key.clone(),
                            found: with_article(other.type_str()),
                        })
                    }
                };
                Ok((key.clone(), text))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data dir of its own under the system's temp folder, with `toml` as its config file.
    fn data_dir(name: &str, toml: Option<&str>) -> DataDir {
        let root =
            std::env::temp_dir().join(format!("toolsync-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        if let Some(toml) = toml {
            std::fs::write(root.join("toolsync.toml"), toml).unwrap();
        }
        DataDir { root }
    }

    #[test]
    fn protocol_flags_reach_the_processor_but_cannot_be_set() {
        let manifest = Manifest::new("p", "0.1.0", "", "p.csv").surveyed();
        let data = data_dir("flags", None);
        let options = Options::resolve(&manifest, &data, &[], &[&manifest]).unwrap();
        assert_eq!(options.get(protocol::SURVEY_OPTION), "true");

        for set in ["_survey=false", "_phase=survey"] {
            let e =
                Options::resolve(&manifest, &data, &[set.to_string()], &[&manifest]).unwrap_err();
            assert!(matches!(e, ConfigError::Internal { .. }), "{e}");
            assert!(e.to_string().contains("is internal"), "{e}");
        }
        let e =
            Options::resolve(&manifest, &data, &["nope=1".to_string()], &[&manifest]).unwrap_err();
        assert!(!e.to_string().contains("_survey"), "{e}");
        let _ = std::fs::remove_dir_all(&data.root);

        let data = data_dir("flags-toml", Some("[p]\n_survey = false\n"));
        let e = Options::resolve(&manifest, &data, &[], &[&manifest]).unwrap_err();
        assert!(e.to_string().contains("`_survey` is internal"), "{e}");
        let _ = std::fs::remove_dir_all(&data.root);
    }

    /// A users processor and a course-create whose `users.identity` follows it.
    fn users_and_courses() -> (Manifest, Manifest) {
        (
            Manifest::new("users", "0.1.0", "", "u.csv")
                .option(OptionSpec::new("identity", "username", "")),
            Manifest::new("course-create", "0.1.0", "", "c.csv")
                .option(OptionSpec::new("update_existing", "false", ""))
                .option(OptionSpec::new("users.identity", "username", "")),
        )
    }

    #[test]
    fn a_misspelt_table_or_key_is_refused_with_a_suggestion() {
        let (manifest, courses) = users_and_courses();
        let known = [&manifest, &courses];
        let data = data_dir("misspelt", Some("[user]\nidentity = \"idnumber\"\n"));
        let e = Options::resolve(&manifest, &data, &[], &known).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("unknown table [user]: did you mean [users]?"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&data.root);

        let data = data_dir("misspelt-key", Some("[users]\nidentiy = \"idnumber\"\n"));
        let e = Options::resolve(&manifest, &data, &[], &known).unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown option `identiy` for users (did you mean `identity`?)"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&data.root);

        let data = data_dir("good", Some("[users]\nidentity = \"idnumber\"\n"));
        let options = Options::resolve(&manifest, &data, &[], &known).unwrap();
        assert_eq!(options.get("identity"), "idnumber");
        let _ = std::fs::remove_dir_all(&data.root);
    }

    /// The error `toolsync.toml` holding `toml` gives a users run, with course-create loaded.
    fn users_run_refuses(name: &str, toml: &str) -> String {
        let (users, courses) = users_and_courses();
        let data = data_dir(name, Some(toml));
        let e = Options::resolve(&users, &data, &[], &[&users, &courses]).unwrap_err();
        let _ = std::fs::remove_dir_all(&data.root);
        e.to_string()
    }

    #[test]
    fn every_table_is_checked_whichever_processor_runs() {
        let e = users_run_refuses(
            "other-table",
            "[course-create]
update_existin = true
",
        );
        assert!(
            e.contains("[course-create]: unknown option `update_existin` for course-create (did you mean `update_existing`?)"),
            "{e}"
        );
        let e = users_run_refuses(
            "other-dotted",
            "[course-create]
users.identity = \"idnumber\"\n",
        );
        assert!(
            e.contains("[course-create] users.identity: course-create's `users.identity` follows [users] identity: set it there"),
            "{e}"
        );
        let e = users_run_refuses(
            "other-type",
            "[course-create]
update_existing = [1]
",
        );
        assert!(
            e.contains("[course-create] update_existing: expected a string, number or boolean, found an array"),
            "{e}"
        );
    }

    #[test]
    fn a_key_outside_any_table_is_named_so() {
        let e = users_run_refuses("outside", "identity = \"idnumber\"\n");
        assert!(
            e.contains("`identity` is a key outside any table: an option goes in the table of its processor: [users] has this option"),
            "{e}"
        );
        let e = users_run_refuses("outside-unknown", "colour = \"blue\"\n");
        assert!(
            e.contains("`colour` is a key outside any table") && e.contains("users, course-create"),
            "{e}"
        );
        let e = users_run_refuses(
            "not-a-table",
            "users = 1
",
        );
        assert!(e.contains("`users` must be a table ([users])"), "{e}");
    }
}
