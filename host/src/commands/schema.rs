//! `toolsync schema` and `toolsync template`.

use serde_json::json;
use toolsync_plugin_api::abi::protocol;

use crate::config::all_options;
use crate::exit::{CmdResult, ExitCode};
use crate::loader::LoadedProcessor;

pub fn run(processor: &LoadedProcessor, as_json: bool) -> CmdResult {
    let m = &processor.manifest;
    // Protocol flags (`_survey`) are between toolsync and the processor, not settings.
    let options: Vec<_> = all_options(m)
        .into_iter()
        .filter(|o| !protocol::is_flag(&o.key))
        .collect();
    if as_json {
        let value = json!({
            "processor": m.name.as_str(),
            "version": m.version.as_str(),
            "description": m.description.as_str(),
            "default_input": m.default_input.as_str(),
            "has_header": m.has_header,
            "columns": m.columns.iter().map(|c| json!({
                "name": c.name.as_str(),
                "type": c.kind.as_str(),
                "required": c.required,
                "description": c.description.as_str(),
                "index_range": if c.is_pattern() { json!([c.index_min, c.index_max]) } else { json!(null) },
                "needs": c.anchor.as_ref().into_option().map(|a| a.as_str()),
            })).collect::<Vec<_>>(),
            "options": options.iter().map(|o| json!({
                "key": o.key.as_str(),
                "default": o.default.as_str(),
                "description": o.description.as_str(),
                "choices": o.choices.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        println!("{value:#}");
        return Ok(ExitCode::Ok);
    }
    println!("{} {} — {}", m.name, m.version, m.description);
    println!(
        "default input: {}; header: {}",
        m.default_input,
        if m.has_header { "yes" } else { "no" }
    );
    println!("\ncolumns:");
    for c in m.columns.iter() {
        let mut notes = Vec::new();
        if c.required {
            notes.push("required".to_string());
        }
        if c.is_pattern() {
            notes.push(if c.index_max == u32::MAX {
                format!("n >= {}", c.index_min)
            } else {
                format!("n in {}..{}", c.index_min, c.index_max)
            });
        }
        if let Some(anchor) = c.anchor.as_ref().into_option() {
            notes.push(format!("needs {anchor}"));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", notes.join(", "))
        };
        println!(
            "  {:<22} {:<14} {}{}",
            c.name.as_str(),
            c.kind.as_str(),
            c.description.as_str(),
            notes
        );
    }
    println!(
        "\noptions (toolsync.toml [{}], or --set key=value):",
        m.name
    );
    for o in &options {
        let choices = if o.choices.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                o.choices
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join("/")
            )
        };
        println!(
            "  {:<24} = {:<14} {}{}",
            o.key.as_str(),
            format!("{:?}", o.default.as_str()),
            o.description.as_str(),
            choices
        );
    }
    Ok(ExitCode::Ok)
}

/// The header line: the columns the processor marks for templates.
pub fn template(processor: &LoadedProcessor) -> CmdResult {
    let m = &processor.manifest;
    if !m.has_header {
        println!(
            "# {}: no header; one {} per line",
            m.name,
            m.columns
                .first()
                .map(|c| c.name.as_str())
                .unwrap_or("value")
        );
        return Ok(ExitCode::Ok);
    }
    let names: Vec<String> = m
        .columns
        .iter()
        .filter(|c| c.in_template && !c.is_pattern())
        .map(|c| c.name.to_string())
        .collect();
    println!("{}", names.join(";"));
    Ok(ExitCode::Ok)
}
