//! Finds and loads plugin libraries (design.md §3, §6).
//!
//! Each library goes through: its header → our semver check of the `plugin-api` version it was
//! built against (so a stale plugin gets a one-line "rebuild it", not a layout dump) →
//! abi_stable's layout check → `init` → its processors. A refused library is listed with its
//! reason and never stops the others. Libraries are never unloaded (abi_stable's rule), so a
//! process loads each once.

use std::path::{Path, PathBuf};

use abi_stable::library::{lib_header_from_path, LibraryError, RootModule};
use abi_stable::std_types::RStr;
use toolsync_plugin_api::abi::{HostServices, LogLevel, PluginModRef, ProcessorBox};
use toolsync_plugin_api::Manifest;

use crate::exit::Failure;

/// A processor ready to run.
pub struct LoadedProcessor {
    pub manifest: Manifest,
    pub library: PathBuf,
    pub processor: ProcessorBox,
    /// The names of every processor of its library: the namespaces its runs may write
    /// (`<name>:<space>`, see `toolsync_plugin_api::engine::Guard`).
    pub namespaces: Vec<String>,
}

/// A library that was not loaded, and why.
#[derive(Debug, Clone)]
pub struct Refused {
    pub library: PathBuf,
    pub reason: String,
}

/// What the search path gave.
#[derive(Default)]
pub struct Registry {
    pub processors: Vec<LoadedProcessor>,
    pub refused: Vec<Refused>,
}

impl Registry {
    /// Loads every plugin library found in `dirs`, in order; the first processor of a name wins
    /// (a later duplicate is refused, naming the one kept).
    pub fn load(dirs: &[PathBuf]) -> Registry {
        let mut registry = Registry::default();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                tracing::debug!(dir = %dir.display(), "plugin folder absent");
                continue;
            };
            let mut libraries: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_library_name(p))
                .collect();
            libraries.sort();
            for library in libraries {
                registry.load_library(&library);
            }
        }
        registry
    }

    fn load_library(&mut self, path: &Path) {
        // The same file reached twice through the search path: loaded once.
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if self.processors.iter().any(|p| p.library == canonical)
            || self.refused.iter().any(|r| r.library == canonical)
        {
            return;
        }
        match load_processors(&canonical) {
            Ok(None) => tracing::debug!(library = %path.display(), "not a toolsync plugin"),
            Ok(Some(processors)) => {
                let processors: Vec<(Manifest, ProcessorBox)> =
                    processors.into_iter().map(|p| (p.manifest(), p)).collect();
                let namespaces: Vec<String> =
                    processors.iter().map(|(m, _)| m.name.to_string()).collect();
                for (manifest, processor) in processors {
                    if let Some(kept) = self.find(&manifest.name) {
                        self.refused.push(Refused {
                            library: canonical.clone(),
                            reason: format!(
                                "processor `{}` is already provided by {}",
                                manifest.name,
                                kept.library.display()
                            ),
                        });
                        continue;
                    }
                    tracing::debug!(processor = %manifest.name, library = %path.display(), "loaded");
                    self.processors.push(LoadedProcessor {
                        manifest,
                        library: canonical.clone(),
                        processor,
                        namespaces: namespaces.clone(),
                    });
                }
            }
            Err(reason) => {
                tracing::debug!(library = %path.display(), %reason, "refused");
                self.refused.push(Refused {
                    library: canonical,
                    reason,
                });
            }
        }
    }

    pub fn find(&self, name: &str) -> Option<&LoadedProcessor> {
        self.processors
            .iter()
            .find(|p| p.manifest.name.as_str() == name)
    }

    /// The processor, or exit 4 naming the ones available and any refused library.
    pub fn require(&self, name: &str) -> Result<&LoadedProcessor, Failure> {
        self.find(name).ok_or_else(|| {
            let mut message = format!("unknown processor `{name}`");
            if self.processors.is_empty() {
                message.push_str("; no processor was found (see `toolsync plugins`)");
            } else {
                let names: Vec<&str> = self
                    .processors
                    .iter()
                    .map(|p| p.manifest.name.as_str())
                    .collect();
                message.push_str(&format!("; available: {}", names.join(", ")));
            }
            for refused in &self.refused {
                message.push_str(&format!(
                    "\nrefused library {}: {}",
                    refused.library.display(),
                    refused.reason
                ));
            }
            Failure::processor(message)
        })
    }
}

fn is_library_name(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match std::env::consts::DLL_EXTENSION {
        "dll" => ext.eq_ignore_ascii_case("dll"),
        other => ext == other && name.starts_with("lib"),
    }
}

/// `Ok(None)` for a library that is not a toolsync plugin at all.
fn load_processors(path: &Path) -> Result<Option<Vec<ProcessorBox>>, String> {
    let header = match lib_header_from_path(path) {
        Ok(header) => header,
        Err(LibraryError::GetSymbolError { .. }) => return Ok(None),
        Err(e) => return Err(one_line(&e.to_string())),
    };
    check_version(&header.version_strings().to_string())?;
    let module = header.init_root_module::<PluginModRef>().map_err(|e| {
        let full = e.to_string();
        tracing::info!(library = %path.display(), "layout check failed:\n{full}");
        format!(
            "its plugin interface does not match this host's (plugin-api {}): rebuild the plugin against it ({}; run with -v for the full report)",
            toolsync_plugin_api::API_VERSION,
            layout_summary(&full)
        )
    })?;
    let module = PluginModRef::initialization(module).map_err(|e| one_line(&e.to_string()))?;
    (module.init())(HostServices { log: host_log });
    Ok(Some((module.processors())().into_vec()))
}

/// design.md §3: same major, plugin minor <= host minor.
fn check_version(plugin: &str) -> Result<(), String> {
    let host = semver::Version::parse(toolsync_plugin_api::API_VERSION)
        .expect("the host's own API version is valid semver");
    let theirs = semver::Version::parse(plugin).map_err(|e| {
        format!("it declares plugin-api version `{plugin}`, which is not a version: {e}")
    })?;
    if theirs.major != host.major || theirs.minor > host.minor {
        return Err(format!(
            "built against plugin-api {theirs}, this host takes plugin-api {host} (same major, minor up to {}): rebuild the plugin against plugin-api {}.x",
            host.minor, host.major
        ));
    }
    Ok(())
}

/// abi_stable's layout report runs to kilobytes; its verdict is the last `Error:` line and the
/// expected/found pair after it.
fn layout_summary(report: &str) -> String {
    let lines: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match lines.iter().rposition(|l| l.starts_with("Error:")) {
        Some(at) => one_line(&lines[at..lines.len().min(at + 5)].join(" ")),
        None => one_line(report),
    }
}

/// The first meaningful line of a long abi_stable report.
fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error");
    let mut line = line.to_string();
    if line.len() > 200 {
        line.truncate(
            line.char_indices()
                .take_while(|(i, _)| *i < 200)
                .last()
                .map_or(0, |(i, c)| i + c.len_utf8()),
        );
        line.push('…');
    }
    line
}

extern "C" fn host_log(level: LogLevel, target: RStr<'_>, message: RStr<'_>) {
    // Never let a panic escape back into the plugin.
    let _ = std::panic::catch_unwind(|| {
        let (target, message) = (target.as_str(), message.as_str());
        match level {
            LogLevel::Error => tracing::error!(plugin = target, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin = target, "{message}"),
            LogLevel::Info => tracing::info!(plugin = target, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin = target, "{message}"),
            LogLevel::Trace => tracing::trace!(plugin = target, "{message}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_semver_minor_rule() {
        assert!(check_version(toolsync_plugin_api::API_VERSION).is_ok());
        let err = check_version("2.0.0").unwrap_err();
        assert!(
            err.contains("2.0.0") && err.contains(toolsync_plugin_api::API_VERSION),
            "{err}"
        );
        assert!(check_version("1.99.0").is_err());
        assert!(check_version("0.9.0").is_err());
        assert!(check_version("banana").is_err());
    }

    #[test]
    fn layout_reports_are_summed_up_by_their_verdict() {
        let report = "Compared <this>:\n  lots\n\nError:mismatched type\nExpected:\n    PluginMod\nFound:\n    SkewedMod\n";
        assert_eq!(
            layout_summary(report),
            "Error:mismatched type Expected: PluginMod Found: SkewedMod"
        );
    }

    #[test]
    fn only_library_files_are_probed() {
        assert!(is_library_name(Path::new("/x/libtoolsync_users.so")));
        assert!(!is_library_name(Path::new("/x/toolsync")));
        assert!(!is_library_name(Path::new("/x/libfoo.rlib")));
    }
}
