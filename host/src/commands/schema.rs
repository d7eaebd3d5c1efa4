//! `toolsync schema` and `toolsync template`: what a processor's manifest declares — its
//! columns (type, required, description) and its options with their defaults — as text, as
//! JSON, or as the Markdown sections of `docs/formats.md` (which a test keeps in step with the
//! manifests).

use serde::Serialize;
use toolsync_plugin_api::abi::protocol;
use toolsync_plugin_api::{ColumnSpec, Manifest, OptionSpec};

use crate::config::all_options;
use crate::error::{CmdResult, ExitCode};
use crate::loader::LoadedProcessor;
use crate::output::Out;

/// How `schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Text,
    Json,
    Markdown,
}

#[derive(Serialize)]
struct SchemaJson<'a> {
    processor: &'a str,
    version: &'a str,
    description: &'a str,
    default_input: &'a str,
    /// `csv`, or `zip` for a processor that reads zip archives (an entry a row).
    input: &'static str,
    has_header: bool,
    columns: Vec<ColumnJson<'a>>,
    options: Vec<OptionJson>,
}

#[derive(Serialize)]
struct ColumnJson<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    required: bool,
    description: &'a str,
    index_range: Option<[u32; 2]>,
    needs: Option<&'a str>,
}

#[derive(Serialize)]
struct OptionJson {
    key: String,
    default: String,
    description: String,
    choices: Vec<String>,
}

/// The options an operator sets: common ones and the processor's own, protocol flags
/// (`_survey`) left out (they are between toolsync and the processor, not settings).
fn operator_options(m: &Manifest) -> Vec<OptionSpec> {
    all_options(m)
        .into_iter()
        .filter(|o| !protocol::is_flag(&o.key))
        .collect()
}

pub fn run(processors: &[&LoadedProcessor], style: Style) -> CmdResult {
    let mut out = Out::stdout();
    match style {
        Style::Json if processors.len() == 1 => out.json(&schema_json(&processors[0].manifest))?,
        Style::Json => {
            let all: Vec<SchemaJson<'_>> = processors
                .iter()
                .map(|p| schema_json(&p.manifest))
                .collect();
            out.json(&all)?
        }
        Style::Markdown => {
            for (i, p) in processors.iter().enumerate() {
                if i > 0 {
                    out.line("")?;
                }
                for line in markdown(&p.manifest) {
                    out.line(&line)?;
                }
            }
        }
        Style::Text => {
            for (i, p) in processors.iter().enumerate() {
                if i > 0 {
                    out.line("")?;
                }
                for line in text(&p.manifest) {
                    out.line(&line)?;
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}

fn schema_json(m: &Manifest) -> SchemaJson<'_> {
    SchemaJson {
        processor: &m.name,
        version: &m.version,
        description: &m.description,
        default_input: &m.default_input,
        input: if m.is_archive() { "zip" } else { "csv" },
        has_header: m.has_header,
        columns: m
            .columns
            .iter()
            .map(|c| ColumnJson {
                name: &c.name,
                kind: &c.kind,
                required: c.required,
                description: &c.description,
                index_range: c.is_pattern().then_some([c.index_min, c.index_max]),
                needs: c.anchor.as_ref().into_option().map(|a| a.as_str()),
            })
            .collect(),
        options: operator_options(m)
            .into_iter()
            .map(|o| OptionJson {
                key: o.key.into(),
                default: o.default.into(),
                description: o.description.into(),
                choices: o.choices.into_iter().map(String::from).collect(),
            })
            .collect(),
    }
}

/// A column's notes: required, the range of `n`, the column it needs.
fn column_notes(c: &ColumnSpec) -> Vec<String> {
    let mut notes = Vec::new();
    if c.required {
        notes.push("required".to_string());
    }
    if c.is_pattern() {
        notes.push(if c.index_max == u32::MAX {
            format!("n ≥ {}", c.index_min)
        } else {
            format!("n in {}..{}", c.index_min, c.index_max)
        });
    }
    if let Some(anchor) = c.anchor.as_ref().into_option() {
        notes.push(format!("needs {anchor}"));
    }
    notes
}

fn choices(o: &OptionSpec) -> String {
    o.choices
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join("/")
}

fn text(m: &Manifest) -> Vec<String> {
    let mut lines = vec![
        format!("{} {} — {}", m.name, m.version, m.description),
        if m.is_archive() {
            format!(
                "input: zip archives ({}), an entry a row; the columns below are what the host \
                 hands over",
                m.default_input
            )
        } else {
            format!(
                "default input: {}; header: {}",
                m.default_input,
                if m.has_header { "yes" } else { "no" }
            )
        },
        String::new(),
        "columns:".to_string(),
    ];
    // Columns as wide as their longest entry: a long type (`enum manual self`) must not run
    // into its description.
    let name_width = m
        .columns
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    let kind_width = m
        .columns
        .iter()
        .map(|c| c.kind.chars().count())
        .max()
        .unwrap_or(0);
    for c in m.columns.iter() {
        let notes = column_notes(c);
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", notes.join(", "))
        };
        lines.push(format!(
            "  {:<name_width$}  {:<kind_width$}  {}{}",
            c.name.as_str(),
            c.kind.as_str(),
            c.description.as_str(),
            notes
        ));
    }
    lines.push(String::new());
    lines.push(format!(
        "options (toolsync.toml [{}], or --set key=value):",
        m.name
    ));
    for o in &operator_options(m) {
        let choices = match choices(o) {
            c if c.is_empty() => c,
            c => format!(" ({c})"),
        };
        lines.push(format!(
            "  {:<24} = {:<14} {}{}",
            o.key.as_str(),
            format!("{:?}", o.default.as_str()),
            o.description.as_str(),
            choices
        ));
    }
    lines
}

/// A table cell: pipes escaped, line breaks folded.
fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The generated part of a processor's section in `docs/formats.md`, between markers that the
/// docs test finds.
fn markdown(m: &Manifest) -> Vec<String> {
    let mut lines = vec![
        format!(
            "<!-- generated from the {} manifest: `toolsync schema --markdown` -->",
            m.name
        ),
        format!("**{}** {} — {}", m.name, m.version, md(&m.description)),
        String::new(),
        if m.is_archive() {
            format!(
                "Input: zip archives, `{}` by default; each entry is a row of the two values \
                 below.",
                m.default_input
            )
        } else {
            format!(
                "Default input file: `{}`; {}.",
                m.default_input,
                if m.has_header {
                    "the first record is the header"
                } else {
                    "no header line"
                }
            )
        },
        String::new(),
        "| column | type | notes | description |".to_string(),
        "|---|---|---|---|".to_string(),
    ];
    for c in m.columns.iter() {
        lines.push(format!(
            "| `{}` | {} | {} | {} |",
            c.name,
            md(&c.kind),
            column_notes(c).join(", "),
            md(&c.description)
        ));
    }
    lines.push(String::new());
    let own: Vec<OptionSpec> = m
        .options
        .iter()
        .filter(|o| !protocol::is_flag(&o.key))
        .cloned()
        .collect();
    if own.is_empty() {
        lines.push("Options: the common options only.".to_string());
        lines.push(format!("<!-- end of the generated {} part -->", m.name));
        return lines;
    }
    lines.push("Options, besides the common options:".to_string());
    lines.push(String::new());
    lines.push("| option | default | description |".to_string());
    lines.push("|---|---|---|".to_string());
    for o in &own {
        let mut description = md(&o.description);
        let choices = choices(o);
        if !choices.is_empty() {
            description.push_str(&format!(" ({})", md(&choices)));
        }
        lines.push(format!(
            "| `{}` | `{}` | {} |",
            o.key,
            if o.default.is_empty() {
                " "
            } else {
                &o.default
            },
            description
        ));
    }
    lines.push(format!("<!-- end of the generated {} part -->", m.name));
    lines
}

/// The header line: the columns the processor marks for templates.
pub fn template(processor: &LoadedProcessor) -> CmdResult {
    let m = &processor.manifest;
    if m.is_archive() {
        return Err(crate::error::Error::usage(format!(
            "{} reads zip archives, not CSV: there is no template (put the images in a zip, \
             each named after its account: ann.jpg)",
            m.name
        )));
    }
    let mut out = Out::stdout();
    if !m.has_header {
        out.line(&format!(
            "# {}: no header; one {} per line",
            m.name,
            m.columns
                .first()
                .map(|c| c.name.as_str())
                .unwrap_or("value")
        ))?;
    } else {
        let names: Vec<String> = m
            .columns
            .iter()
            .filter(|c| c.in_template && !c.is_pattern())
            .map(|c| c.name.to_string())
            .collect();
        out.line(&names.join(";"))?;
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}
