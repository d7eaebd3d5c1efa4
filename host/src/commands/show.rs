//! `toolsync show` and `toolsync export`: records as JSON objects keyed by the entity's input
//! column names (design.md §6), or as CSV that the matching processor accepts. Users and roles
//! are here; courses and categories in [`super::courses`].

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::{Map, Value};
use toolsync_plugin_api::model::{role, user, ModelError, Role, Roles, User, UserKey, Users};

use super::courses;
use crate::cli::{CourseField, Entity, Format};
use crate::config::DataDir;
use crate::exit::{CmdResult, ExitCode, Failure};
use crate::store::Store;

pub fn show(data: &DataDir, entity: Entity, key: &str, by: Option<CourseField>) -> CmdResult {
    let is_course = matches!(entity, Entity::Course | Entity::Courses);
    if by.is_some() && !is_course {
        return Err(Failure::usage("--by applies to `show course` only"));
    }
    let store = Store::open(&data.store())?;
    let found = match entity {
        Entity::User | Entity::Users => find_user(&store, key)?.map(|u| u.to_columns()),
        Entity::Role | Entity::Roles => find_role(&store, key)?.map(role_columns),
        Entity::Course | Entity::Courses => courses::show_course(&store, key, by)?,
        Entity::Category | Entity::Categories => courses::show_category(&store, key)?,
    };
    print_found(entity, key, found)
}

/// Prints the record, or says on stderr that nothing matched (exit 1).
fn print_found(entity: Entity, key: &str, found: Option<Map<String, Value>>) -> CmdResult {
    match found {
        Some(record) => {
            println!("{:#}", Value::Object(record));
            Ok(ExitCode::Ok)
        }
        None => {
            eprintln!("toolsync: no {} matches `{key}`", entity.noun());
            Ok(ExitCode::RowsFailed)
        }
    }
}

/// By username, then idnumber, then e-mail, then id.
fn find_user(store: &Store, key: &str) -> Result<Option<User>, Failure> {
    let model = |e: ModelError| Failure::store(e.to_string());
    if let Some(u) = Users::by_username(store, key).map_err(model)? {
        return Ok(Some(u));
    }
    if let Some(u) = Users::by_idnumber(store, key).map_err(model)? {
        return Ok(Some(u));
    }
    if let Some(u) = Users::by_email(store, key)
        .map_err(model)?
        .into_iter()
        .next()
    {
        return Ok(Some(u));
    }
    Users::find(store, UserKey::Id, key)
        .map(|found| found.into_iter().next())
        .map_err(model)
}

fn find_role(store: &Store, key: &str) -> Result<Option<Role>, Failure> {
    let model = |e: ModelError| Failure::store(e.to_string());
    match Roles::by_shortname(store, key).map_err(model)? {
        Some(role) => Ok(Some(role)),
        None => match key.parse::<u64>() {
            Ok(id) => Roles::get(store, id).map_err(model),
            Err(_) => Ok(None),
        },
    }
}

fn role_columns(role: Role) -> Map<String, Value> {
    let mut map = match serde_json::to_value(role) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    map.remove("v");
    map
}

/// Decodes a stored record into its output columns.
type Decoder = fn(&[u8]) -> Result<Map<String, Value>, String>;

pub fn export(data: &DataDir, entity: Entity, format: Format) -> CmdResult {
    let store = Store::open(&data.store())?;
    let (space, columns): (&str, Decoder) = match entity {
        Entity::Course | Entity::Courses => return courses::export_courses(&store, format),
        Entity::Category | Entity::Categories => return courses::export_categories(&store, format),
        Entity::User | Entity::Users => (user::SPACE, |b| {
            serde_json::from_slice::<User>(b)
                .map(|u| u.to_columns())
                .map_err(|e| e.to_string())
        }),
        Entity::Role | Entity::Roles => (role::SPACE, |b| {
            serde_json::from_slice::<Role>(b)
                .map(role_columns)
                .map_err(|e| e.to_string())
        }),
    };
    let records = || {
        store.scan_space(space, b"").map(move |item| {
            let (_, bytes) = item?;
            columns(&bytes).map_err(|e| Failure::store(format!("corrupt record in `{space}`: {e}")))
        })
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let io = |e: std::io::Error| Failure::io("cannot write the export", e);
    match format {
        Format::Json => {
            out.write_all(b"[").map_err(io)?;
            for (i, record) in records().enumerate() {
                if i > 0 {
                    out.write_all(b",\n").map_err(io)?;
                }
                serde_json::to_writer(&mut out, &Value::Object(record?))
                    .map_err(|e| io(e.into()))?;
            }
            out.write_all(b"]\n").map_err(io)?;
        }
        Format::Csv => {
            // Two passes: the header is the union of the records' input columns (custom
            // profile fields vary per account), then one line per record.
            let mut header: Vec<String> = Vec::new();
            let mut seen = BTreeSet::new();
            for record in records() {
                for key in record?.keys() {
                    if is_input_column(entity, key) && seen.insert(key.clone()) {
                        header.push(key.clone());
                    }
                }
            }
            writeln!(
                out,
                "{}",
                header
                    .iter()
                    .map(|h| csv_field(h))
                    .collect::<Vec<_>>()
                    .join(";")
            )
            .map_err(io)?;
            for record in records() {
                let record = record?;
                let line: Vec<String> = header
                    .iter()
                    .map(|h| csv_field(&cell(record.get(h))))
                    .collect();
                writeln!(out, "{}", line.join(";")).map_err(io)?;
            }
        }
    }
    out.flush().map_err(io)?;
    Ok(ExitCode::Ok)
}

/// Columns the matching processor takes as input: not the id, timestamps or password state.
fn is_input_column(entity: Entity, key: &str) -> bool {
    match entity {
        Entity::User | Entity::Users => !matches!(
            key,
            "id" | "timecreated" | "timemodified" | "password_hash" | "password_state"
        ),
        _ => true,
    }
}

/// A JSON value as a CSV cell: booleans as 1/0, null as empty.
pub(super) fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => if *b { "1" } else { "0" }.to_string(),
        Some(other) => other.to_string(),
    }
}

/// RFC 4180 quoting when needed (also a `,`, which the delimiter detection would count, and a
/// leading `#`, which would start a comment).
pub(super) fn csv_field(text: &str) -> String {
    if text.contains([';', '"', '\n', '\r', ',']) || text.starts_with('#') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
