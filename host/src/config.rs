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
pub fn plugin_search_path(flags: &[PathBuf], data: &DataDir) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = flags.to_vec();
    if let Some(path) = std::env::var_os("TOOLSYNC_PLUGIN_PATH") {
        dirs.extend(std::env::split_paths(&path).filter(|p| !p.as_os_str().is_empty()));
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
    unique
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
    /// Merges defaults, the config file's table for the processor, and `--set` pairs. Every
    /// table of the config file must name a processor of `known` (a misspelt `[user]` would
    /// otherwise be ignored in silence), every key an option of its processor.
    pub fn resolve(
        manifest: &Manifest,
        data: &DataDir,
        sets: &[String],
        known: &[&str],
    ) -> Result<Options, ConfigError> {
        let specs = all_options(manifest);
        let mut values: BTreeMap<String, String> = specs
            .iter()
            .map(|o| (o.key.to_string(), o.default.to_string()))
            .collect();
        let keys: Vec<&str> = specs
            .iter()
            .map(|o| o.key.as_str())
            .filter(|k| !protocol::is_flag(k))
            .collect();
        let processor = manifest.name.as_str();
        let file = ConfigFile::read(data)?;
        file.check_tables(known)?;
        // `<other>.<key>` options follow another processor's setting (course-create reads
        // `users.identity`), so the operator states it once, in that processor's table.
        for spec in &specs {
            if let Some((other, key)) = spec.key.split_once('.') {
                if let Some((_, value)) = file.table(other)?.into_iter().find(|(k, _)| k == key) {
                    values.insert(spec.key.to_string(), value);
                }
            }
        }
        let mut set = |origin: String, key: &str, value: String| {
            if protocol::is_flag(key) {
                return Err(ConfigError::Internal {
                    origin,
                    key: key.to_string(),
                });
            }
            if !values.contains_key(key) {
                return Err(ConfigError::UnknownOption {
                    origin,
                    processor: processor.to_string(),
                    key: key.to_string(),
                    hint: did_you_mean(key, keys.iter().copied())
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default(),
                    valid: keys.join(", "),
                });
            }
            values.insert(key.to_string(), value);
            Ok(())
        };
        for (key, value) in file.table(processor)? {
            let origin = format!("{}: [{processor}]", file.path.display());
            set(origin, &key, value)?;
        }
        for pair in sets {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(ConfigError::BadSet(pair.clone()));
            };
            set("--set".to_string(), key.trim(), value.trim().to_string())?;
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

    /// Every table names a known processor.
    fn check_tables(&self, known: &[&str]) -> Result<(), ConfigError> {
        for name in self.table.keys() {
            if known.contains(&name.as_str()) {
                continue;
            }
            return Err(ConfigError::UnknownTable {
                path: self.path.clone(),
                table: name.clone(),
                hint: did_you_mean(name, known.iter().copied())
                    .map(|k| format!(": did you mean [{k}]?"))
                    .unwrap_or_default(),
                known: if known.is_empty() {
                    "no processor is loaded".to_string()
                } else {
                    known.join(", ")
                },
            });
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
                            found: other.type_str().to_string(),
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
        let options = Options::resolve(&manifest, &data, &[], &["p"]).unwrap();
        assert_eq!(options.get(protocol::SURVEY_OPTION), "true");

        for set in ["_survey=false", "_phase=survey"] {
            let e = Options::resolve(&manifest, &data, &[set.to_string()], &["p"]).unwrap_err();
            assert!(matches!(e, ConfigError::Internal { .. }), "{e}");
            assert!(e.to_string().contains("is internal"), "{e}");
        }
        let e = Options::resolve(&manifest, &data, &["nope=1".to_string()], &["p"]).unwrap_err();
        assert!(!e.to_string().contains("_survey"), "{e}");
        let _ = std::fs::remove_dir_all(&data.root);

        let data = data_dir("flags-toml", Some("[p]\n_survey = false\n"));
        let e = Options::resolve(&manifest, &data, &[], &["p"]).unwrap_err();
        assert!(e.to_string().contains("`_survey` is internal"), "{e}");
        let _ = std::fs::remove_dir_all(&data.root);
    }

    #[test]
    fn a_misspelt_table_or_key_is_refused_with_a_suggestion() {
        let manifest = Manifest::new("users", "0.1.0", "", "u.csv")
            .option(OptionSpec::new("identity", "username", ""));
        let known = ["users", "course-create"];
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
}
