//! Finds and loads plugin libraries (design.md §3, §6).
//!
//! Each library goes through: its header → our semver check of the `plugin-api` version it was
//! built against (so a stale plugin gets a one-line "rebuild it", not a layout dump) →
//! abi_stable's layout check → `init` → its processors. A refused library is listed with its
//! reason and never stops the others. Libraries are never unloaded (abi_stable's rule), so a
//! process loads each once.
//!
//! Two libraries may offer one processor name. The search path decides, as `PATH` does: the
//! first folder in the search order wins and the later library's processor is listed as
//! shadowed (an old build in the data dir cannot hide a new one given with `--plugin-dir`, and
//! the operator sees both). Two in the same folder cannot be ordered: both are refused, each
//! naming the other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use abi_stable::library::{lib_header_from_path, LibraryError, RootModule};
use abi_stable::std_types::RStr;
use toolsync_plugin_api::abi::{HostServices, LogLevel, PluginModRef, ProcessorBox};
use toolsync_plugin_api::Manifest;

use crate::error::LoaderError;
use crate::suggest::did_you_mean;

/// A processor ready to run.
pub struct LoadedProcessor {
    pub manifest: Manifest,
    pub library: PathBuf,
    /// The plugin-api version its library was built against.
    pub api_version: String,
    pub processor: ProcessorBox,
    /// The names of the processors its library provides here: the namespaces its runs may
    /// write (`<name>:<space>`, see `toolsync_plugin_api::engine::Guard`).
    pub namespaces: Vec<String>,
}

/// A library that was not loaded, and why.
#[derive(Debug, Clone)]
pub struct Refused {
    pub library: PathBuf,
    pub reason: String,
}

/// A processor hidden by one of the same name earlier in the search path.
#[derive(Debug, Clone)]
pub struct Shadowed {
    pub processor: String,
    pub library: PathBuf,
    /// The library whose processor is used.
    pub by: PathBuf,
}

/// What the search path gave.
#[derive(Default)]
pub struct Registry {
    pub processors: Vec<LoadedProcessor>,
    pub refused: Vec<Refused>,
    pub shadowed: Vec<Shadowed>,
    /// The folders searched, in order.
    pub searched: Vec<PathBuf>,
}

/// A library's processors, loaded.
struct Library {
    path: PathBuf,
    api_version: String,
    processors: Vec<(Manifest, ProcessorBox)>,
}

impl Registry {
    /// Loads every plugin library found in `dirs`, in order (see the module documentation for
    /// processors of the same name).
    pub fn load(dirs: &[PathBuf]) -> Registry {
        let mut registry = Registry {
            searched: dirs.to_vec(),
            ..Registry::default()
        };
        let mut seen: Vec<PathBuf> = Vec::new();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                tracing::debug!(dir = %dir.display(), "plugin folder absent");
                continue;
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_library_name(p))
                .collect();
            paths.sort();
            let mut libraries = Vec::new();
            for path in paths {
                // The same file reached twice through the search path: loaded once.
                let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
                if seen.contains(&canonical) {
                    continue;
                }
                seen.push(canonical.clone());
                match load_library(&canonical) {
                    Ok(None) => tracing::debug!(library = %path.display(), "not a toolsync plugin"),
                    Ok(Some(library)) => libraries.push(library),
                    Err(reason) => {
                        tracing::debug!(library = %path.display(), %reason, "refused");
                        registry.refused.push(Refused {
                            library: canonical,
                            reason,
                        });
                    }
                }
            }
            registry.add_folder(libraries);
        }
        registry
    }

    /// Registers one folder's libraries: same-folder clashes refused, earlier folders first.
    fn add_folder(&mut self, libraries: Vec<Library>) {
        let mut providers: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for library in &libraries {
            for (manifest, _) in &library.processors {
                providers
                    .entry(manifest.name.to_string())
                    .or_default()
                    .push(library.path.clone());
            }
        }
        for library in libraries {
            let clashes: Vec<String> = library
                .processors
                .iter()
                .filter_map(|(m, _)| {
                    let others: Vec<String> = providers[m.name.as_str()]
                        .iter()
                        .filter(|p| **p != library.path)
                        .map(|p| p.display().to_string())
                        .collect();
                    (!others.is_empty()).then(|| {
                        format!(
                            "processor `{}` is also provided by {} in the same folder: remove one of them",
                            m.name,
                            others.join(", ")
                        )
                    })
                })
                .collect();
            if !clashes.is_empty() {
                self.refused.push(Refused {
                    library: library.path,
                    reason: clashes.join("; "),
                });
                continue;
            }
            let mut kept = Vec::new();
            for (manifest, processor) in library.processors {
                if let Some(earlier) = self.find(&manifest.name) {
                    self.shadowed.push(Shadowed {
                        processor: manifest.name.to_string(),
                        library: library.path.clone(),
                        by: earlier.library.clone(),
                    });
                    continue;
                }
                kept.push((manifest, processor));
            }
            let namespaces: Vec<String> = kept.iter().map(|(m, _)| m.name.to_string()).collect();
            for (manifest, processor) in kept {
                tracing::debug!(processor = %manifest.name, library = %library.path.display(), "loaded");
                self.processors.push(LoadedProcessor {
                    manifest,
                    library: library.path.clone(),
                    api_version: library.api_version.clone(),
                    processor,
                    namespaces: namespaces.clone(),
                });
            }
        }
    }

    pub fn find(&self, name: &str) -> Option<&LoadedProcessor> {
        self.processors
            .iter()
            .find(|p| p.manifest.name.as_str() == name)
    }

    /// The manifests of the processors found.
    pub fn manifests(&self) -> Vec<&Manifest> {
        self.processors.iter().map(|p| &p.manifest).collect()
    }

    /// The names of the processors found.
    pub fn names(&self) -> Vec<&str> {
        self.processors
            .iter()
            .map(|p| p.manifest.name.as_str())
            .collect()
    }

    /// The processor, or exit 4 naming the ones available (or how to get some) and any refused
    /// library.
    pub fn require(&self, name: &str) -> Result<&LoadedProcessor, LoaderError> {
        self.find(name).ok_or_else(|| {
            let names = self.names();
            let hint = if names.is_empty() {
                format!("; {}", self.none_found())
            } else {
                let mut hint = String::new();
                if let Some(best) = did_you_mean(name, names.iter().copied()) {
                    hint.push_str(&format!(": did you mean `{best}`?"));
                }
                hint.push_str(&format!("; available: {}", names.join(", ")));
                hint
            };
            let refused = self
                .refused
                .iter()
                .map(|r| format!("\nrefused library {}: {}", r.library.display(), r.reason))
                .collect();
            LoaderError::UnknownProcessor {
                name: name.to_string(),
                hint,
                refused,
            }
        })
    }

    /// What to say when no processor was found: where toolsync looked and how plugins get
    /// there.
    pub fn none_found(&self) -> String {
        let searched: Vec<String> = self
            .searched
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        format!(
            "no processor was found (searched: {}). Plugins are libraries (lib*.{}); in a \
             checkout, `cargo build` builds them beside the toolsync binary (`cargo test` alone \
             does not); otherwise put them in <data dir>/plugins or point --plugin-dir or \
             $TOOLSYNC_PLUGIN_PATH at them",
            searched.join(", "),
            std::env::consts::DLL_EXTENSION
        )
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
fn load_library(path: &Path) -> Result<Option<Library>, String> {
    let header = match lib_header_from_path(path) {
        Ok(header) => header,
        Err(LibraryError::GetSymbolError { .. }) => return Ok(None),
        // abi_stable's text puts the path (which the listing shows already) first and the
        // system's reason (dlerror's) after a line break: the reason is what the operator needs.
        Err(LibraryError::OpenError { err, .. }) => {
            return Err(format!("cannot be loaded as a library: {}", chain(&*err)))
        }
        Err(e) => return Err(chain(&e)),
    };
    let api_version = header.version_strings().to_string();
    check_version(&api_version)?;
    let module = header.init_root_module::<PluginModRef>().map_err(|e| {
        let full = e.to_string();
        tracing::info!(library = %path.display(), "layout check failed:\n{full}");
        format!(
            "its plugin interface does not match this host's (plugin-api {}): rebuild the plugin against it ({}; run with -v for the full report)",
            toolsync_plugin_api::API_VERSION,
            layout_summary(&full)
        )
    })?;
    let module = PluginModRef::initialization(module).map_err(|e| chain(&e))?;
    (module.init())(HostServices { log: host_log });
    let processors = (module.processors())()
        .into_vec()
        .into_iter()
        .map(|p| (p.manifest(), p))
        .collect();
    Ok(Some(Library {
        path: path.to_path_buf(),
        api_version,
        processors,
    }))
}

/// design.md §3: same major, plugin minor <= host minor. The refusal says what to do.
fn check_version(plugin: &str) -> Result<(), String> {
    let host = semver::Version::parse(toolsync_plugin_api::API_VERSION)
        .expect("the host's own API version is valid semver");
    let theirs = semver::Version::parse(plugin).map_err(|e| {
        format!("it declares plugin-api version `{plugin}`, which is not a version: {e}")
    })?;
    let takes = format!(
        "this host's plugin-api is {host}, and it takes plugins built against {}.0 to {}.{}",
        host.major, host.major, host.minor
    );
    if theirs.major != host.major {
        return Err(format!(
            "built against plugin-api {theirs}; {takes}: rebuild the plugin against plugin-api {}.{} or an older {}.x",
            host.major, host.minor, host.major
        ));
    }
    if theirs.minor > host.minor {
        return Err(format!(
            "built against plugin-api {theirs}, newer than this host; {takes}: upgrade toolsync, or rebuild the plugin against plugin-api {}.{} or older",
            host.major, host.minor
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
        Some(at) => lines[at..lines.len().min(at + 5)].join(" "),
        None => lines
            .first()
            .copied()
            .unwrap_or("unknown error")
            .to_string(),
    }
}

/// An error and every source under it, on one line (a refusal is one line of `plugins`):
/// `outer: inner: …`, line breaks folded.
fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![one_line(&error.to_string())];
    let mut source = error.source();
    while let Some(e) = source {
        let text = one_line(&e.to_string());
        // Some errors repeat their source's text in their own.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// Every non-empty line of `text`, trimmed, joined by spaces.
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        "unknown error".to_string()
    } else {
        lines.join(" ")
    }
}

/// A plugin's log event, under the plugin's own name (`target`).
extern "C" fn host_log(level: LogLevel, target: RStr<'_>, message: RStr<'_>) {
    // Never let a panic escape back into the plugin.
    let _ = std::panic::catch_unwind(|| {
        let (plugin, message) = (target.as_str(), message.as_str());
        match level {
            LogLevel::Error => tracing::error!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Trace => tracing::trace!(plugin, "{message}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_semver_minor_rule_and_say_what_to_do() {
        let host = semver::Version::parse(toolsync_plugin_api::API_VERSION).unwrap();
        assert!(check_version(toolsync_plugin_api::API_VERSION).is_ok());
        assert!(check_version(&format!("{}.0.0", host.major)).is_ok());
        let err = check_version("2.0.0").unwrap_err();
        assert!(
            err.contains("2.0.0")
                && err.contains(&format!(
                    "{}.0 to {}.{}",
                    host.major, host.major, host.minor
                )),
            "{err}"
        );
        let newer = format!("{}.{}.0", host.major, host.minor + 1);
        let err = check_version(&newer).unwrap_err();
        assert!(
            err.contains("upgrade toolsync")
                && err.contains(&format!(
                    "rebuild the plugin against plugin-api {}.{} or older",
                    host.major, host.minor
                ))
                && !err.contains(".x"),
            "{err}"
        );
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
    fn an_error_chain_is_one_line_with_every_cause() {
        /// An error whose text spans lines, over a cause.
        #[derive(Debug)]
        struct Outer(&'static str, std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.1)
            }
        }
        let cause = || std::io::Error::other("/p/libx.so: invalid ELF header");
        assert_eq!(
            chain(&Outer("cannot load\n\t/p/libx.so\n", cause())),
            "cannot load /p/libx.so: /p/libx.so: invalid ELF header"
        );
        assert_eq!(
            chain(&Outer("failed: /p/libx.so: invalid ELF header", cause())),
            "failed: /p/libx.so: invalid ELF header",
            "a cause the text already holds is not repeated"
        );
    }

    #[test]
    fn only_library_files_are_probed() {
        assert!(is_library_name(Path::new("/x/libtoolsync_users.so")));
        assert!(!is_library_name(Path::new("/x/toolsync")));
        assert!(!is_library_name(Path::new("/x/libfoo.rlib")));
    }
}
