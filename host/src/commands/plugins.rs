//! `toolsync plugins`: what was found on the search path, and what was refused and why.

use serde_json::json;

use crate::exit::{CmdResult, ExitCode};
use crate::loader::Registry;

pub fn run(registry: &Registry, as_json: bool) -> CmdResult {
    if as_json {
        let value = json!({
            "processors": registry.processors.iter().map(|p| json!({
                "name": p.manifest.name.as_str(),
                "version": p.manifest.version.as_str(),
                "description": p.manifest.description.as_str(),
                "default_input": p.manifest.default_input.as_str(),
                "library": p.library.display().to_string(),
            })).collect::<Vec<_>>(),
            "refused": registry.refused.iter().map(|r| json!({
                "library": r.library.display().to_string(),
                "reason": r.reason,
            })).collect::<Vec<_>>(),
        });
        println!("{value:#}");
    } else {
        if registry.processors.is_empty() {
            println!("no processor found (see --plugin-dir, $TOOLSYNC_PLUGIN_PATH)");
        }
        for p in &registry.processors {
            println!(
                "{:<16} {:<8} {}  [{}]",
                p.manifest.name.as_str(),
                p.manifest.version.as_str(),
                p.manifest.description.as_str(),
                p.library.display()
            );
        }
        for r in &registry.refused {
            println!("refused: {}: {}", r.library.display(), r.reason);
        }
    }
    // A refused library is worth a non-zero exit for scripts checking an installation.
    Ok(if registry.refused.is_empty() {
        ExitCode::Ok
    } else {
        ExitCode::Processor
    })
}
