//! `toolsync plugins`: what the search path gave — processors, the ones shadowed by a library
//! earlier in the path, the libraries refused and why.

use serde::Serialize;

use crate::error::{CmdResult, ExitCode};
use crate::loader::Registry;
use crate::output::Out;

#[derive(Serialize)]
struct Listing<'a> {
    processors: Vec<ProcessorEntry<'a>>,
    shadowed: Vec<ShadowedEntry>,
    refused: Vec<RefusedEntry<'a>>,
    /// The folders searched, in order.
    searched: Vec<String>,
}

#[derive(Serialize)]
struct ProcessorEntry<'a> {
    name: &'a str,
    version: &'a str,
    description: &'a str,
    default_input: &'a str,
    library: String,
    /// The plugin-api version the library was built against.
    api_version: &'a str,
}

#[derive(Serialize)]
struct ShadowedEntry {
    processor: String,
    library: String,
    by: String,
}

#[derive(Serialize)]
struct RefusedEntry<'a> {
    library: String,
    reason: &'a str,
}

pub fn run(registry: &Registry, as_json: bool) -> CmdResult {
    let mut out = Out::stdout();
    if as_json {
        out.json(&listing(registry))?;
    } else {
        if registry.processors.is_empty() {
            out.line(&registry.none_found())?;
        }
        for p in &registry.processors {
            out.line(&format!(
                "{:<16} {:<8} {}  [{}, plugin-api {}]",
                p.manifest.name.as_str(),
                p.manifest.version.as_str(),
                p.manifest.description.as_str(),
                p.library.display(),
                p.api_version
            ))?;
        }
        for s in &registry.shadowed {
            out.line(&format!(
                "shadowed: {} in {} (the one in {} is used: its folder comes first in the search path)",
                s.processor,
                s.library.display(),
                s.by.display()
            ))?;
        }
        for r in &registry.refused {
            out.line(&format!("refused: {}: {}", r.library.display(), r.reason))?;
        }
    }
    out.flush()?;
    // A refused library is worth a non-zero exit for scripts checking an installation.
    Ok(if registry.refused.is_empty() {
        ExitCode::Ok
    } else {
        ExitCode::Processor
    })
}

fn listing(registry: &Registry) -> Listing<'_> {
    Listing {
        processors: registry
            .processors
            .iter()
            .map(|p| ProcessorEntry {
                name: &p.manifest.name,
                version: &p.manifest.version,
                description: &p.manifest.description,
                default_input: &p.manifest.default_input,
                library: p.library.display().to_string(),
                api_version: &p.api_version,
            })
            .collect(),
        shadowed: registry
            .shadowed
            .iter()
            .map(|s| ShadowedEntry {
                processor: s.processor.clone(),
                library: s.library.display().to_string(),
                by: s.by.display().to_string(),
            })
            .collect(),
        refused: registry
            .refused
            .iter()
            .map(|r| RefusedEntry {
                library: r.library.display().to_string(),
                reason: &r.reason,
            })
            .collect(),
        searched: registry
            .searched
            .iter()
            .map(|d| d.display().to_string())
            .collect(),
    }
}
