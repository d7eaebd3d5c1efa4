//! What a run leaves once it is over — the store as `export` shows it, the stored report, the
//! archive, the tryback, what is pending — collected the same way for the reference run and for
//! every trial, and compared.
//!
//! Left out of the comparison, because they differ between two runs by construction: the stamps
//! and dates taken from a run's "now" (`time*`, `startdate`, `enddate`), salted password hashes,
//! the stamp in output names, the report's instants and input path, and the warning a resumed
//! run adds to its report. Everything else must be equal, byte for byte for the archive and the
//! tryback.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::trial::World;

/// Every entity `toolsync export` knows: the whole store, not only what the processor is meant
/// to touch.
const ENTITIES: &[&str] = &[
    "users",
    "roles",
    "categories",
    "courses",
    "sections",
    "enrol-instances",
    "enrolments",
    "role-assignments",
    "meta-links",
    "groups",
    "groupings",
    "group-members",
];

/// A resumed run says so in its report's warnings; the reference run, never killed, does not.
const RESUMED: &str = "resumed an interrupted run after ";

/// What a run left, once no re-run is due.
pub struct Outcome {
    /// Each entity's export, stamps left out.
    exports: Vec<(&'static str, Vec<Value>)>,
    text_reports: usize,
    /// The stored JSON reports' contents, as [`comparable`] leaves them.
    json_reports: Vec<Value>,
    archives: Vec<Vec<u8>>,
    trybacks: Vec<Vec<u8>>,
    /// Files written aside (`*.partial`) and never renamed into place.
    partials: Vec<PathBuf>,
    /// What `toolsync journal` says, unless it says that no run is pending.
    journal: Option<String>,
    /// What `toolsync check` says, unless it passes.
    check: Option<String>,
    input_exists: bool,
    /// The run's work files (`runs/<processor>`).
    spool_exists: bool,
}

impl Outcome {
    /// Reads what `world` holds after a run of `processor` on `input`.
    pub fn collect(world: &World, processor: &str, input: &Path) -> Result<Outcome, String> {
        let name = file_name(input);
        let stem = input
            .file_stem()
            .map_or(String::new(), |s| s.to_string_lossy().into());
        let beside_input = input.parent().unwrap_or(Path::new("."));
        let check = world.toolsync(&["check"])?;
        let mut partials = Vec::new();
        find_partials(&world.root, &world.data.join("store"), &mut partials);
        Ok(Outcome {
            exports: ENTITIES
                .iter()
                .map(|entity| Ok((*entity, export(world, entity)?)))
                .collect::<Result<_, String>>()?,
            text_reports: stored_reports(&world.data, input, "txt").len(),
            json_reports: stored_reports(&world.data, input, "json")
                .iter()
                .map(|path| read_json(path).map(comparable))
                .collect::<Result<_, _>>()?,
            archives: read_all(&files_in(&world.data.join("files/archives"), |n| {
                n.ends_with(&format!("_{name}"))
            }))?,
            trybacks: read_all(&files_in(beside_input, |n| {
                n.starts_with(&format!("{stem}_tryback_")) && !n.ends_with(".partial")
            }))?,
            partials,
            journal: world.pending_journal()?,
            check: (check.code != 0).then(|| check.gist()),
            input_exists: input.exists(),
            spool_exists: world.data.join("runs").join(processor).exists(),
        })
    }

    /// What makes this outcome unfit to be a reference: an uninterrupted run must leave one of
    /// each output (a tryback when rows failed) and nothing pending, else the trials would be
    /// judged against the wrong thing.
    pub fn unfit_as_reference(&self, rows_failed: bool) -> Vec<String> {
        let mut problems = self.pending(true);
        let found = (
            self.text_reports,
            self.json_reports.len(),
            self.archives.len(),
            self.trybacks.len(),
        );
        if found != (1, 1, 1, usize::from(rows_failed)) {
            problems.push(format!(
                "{} text report(s), {} JSON report(s), {} archive(s), {} tryback(s)",
                found.0, found.1, found.2, found.3
            ));
        }
        problems
    }

    /// What was left half done: written-aside files, a journal, a store `check` refuses, and —
    /// when the last run ended by itself — its work files (a run killed between clearing its
    /// journal and removing them leaves them to the processor's next run, which removes them
    /// first).
    fn pending(&self, ended_by_itself: bool) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.partials.is_empty() {
            let names: Vec<String> = self
                .partials
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            problems.push(format!("files left written aside: {}", names.join(", ")));
        }
        if let Some(journal) = &self.journal {
            problems.push(format!("a journal is left: {journal}"));
        }
        if let Some(check) = &self.check {
            problems.push(format!("toolsync check fails: {check}"));
        }
        if ended_by_itself && self.spool_exists {
            problems.push("the run's work files (runs/<processor>) are left".to_string());
        }
        problems
    }

    /// How `self`, a trial's outcome, differs from `reference`'s; empty when it does not.
    pub fn differences(&self, reference: &Outcome, ended_by_itself: bool) -> Vec<String> {
        let mut found = self.pending(ended_by_itself);
        for ((entity, rows), (_, expected)) in self.exports.iter().zip(&reference.exports) {
            if rows != expected {
                found.push(format!(
                    "store: {}",
                    list_difference(entity, rows, expected)
                ));
            }
        }
        let counts = |o: &Outcome| (o.text_reports, o.json_reports.len());
        if counts(self) != counts(reference) {
            found.push(format!(
                "{} text and {} JSON reports (reference: {} and {})",
                self.text_reports,
                self.json_reports.len(),
                reference.text_reports,
                reference.json_reports.len()
            ));
        }
        if let (Some(report), Some(expected)) =
            (self.json_reports.first(), reference.json_reports.first())
        {
            found.extend(report_differences(report, expected));
        }
        found.extend(bytes_differences(
            "archive",
            &self.archives,
            &reference.archives,
        ));
        found.extend(bytes_differences(
            "tryback",
            &self.trybacks,
            &reference.trybacks,
        ));
        if self.input_exists != reference.input_exists {
            found.push(format!(
                "the input is {} (reference: {})",
                present(self.input_exists),
                present(reference.input_exists)
            ));
        }
        found
    }
}

fn present(exists: bool) -> &'static str {
    if exists {
        "still there"
    } else {
        "removed"
    }
}

/// A stored JSON report without what differs between two runs by construction: its instants,
/// the input's path, the tryback's name (only whether there is one), a resumed run's warning.
fn comparable(mut report: Value) -> Value {
    if let Some(fields) = report.as_object_mut() {
        fields.remove("started_at");
        fields.remove("finished_at");
        fields.remove("file");
        if let Some(tryback) = fields.get_mut("tryback") {
            *tryback = Value::Bool(!tryback.is_null());
        }
        if let Some(Value::Array(warnings)) = fields.get_mut("warnings") {
            warnings.retain(|w| {
                !w["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(RESUMED))
            });
        }
    }
    report
}

/// One line per key of the stored report that differs (`counts`, `errors`, `rows`...).
fn report_differences(report: &Value, expected: &Value) -> Vec<String> {
    let (Some(fields), Some(reference)) = (report.as_object(), expected.as_object()) else {
        return vec![format!(
            "the stored report is not a JSON object: {}",
            short(report)
        )];
    };
    let mut keys: Vec<&String> = fields.keys().chain(reference.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let (got, want) = (&fields.get(key), &reference.get(key));
            (got != want).then(|| match (got, want) {
                (Some(Value::Array(got)), Some(Value::Array(want))) => {
                    format!("stored report: {}", list_difference(key, got, want))
                }
                _ => format!(
                    "stored report: `{key}` is {} (reference: {})",
                    got.map_or("missing".into(), short),
                    want.map_or("missing".into(), short)
                ),
            })
        })
        .collect()
}

/// `what: 19961 entries (reference 19960), the first difference at #1234: … (reference: …)`.
fn list_difference(what: &str, got: &[Value], want: &[Value]) -> String {
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let entry = |list: &[Value]| list.get(at).map_or("none".into(), short);
    format!(
        "{what}: {} entries (reference {}), the first difference at #{at}: {} (reference: {})",
        got.len(),
        want.len(),
        entry(got),
        entry(want)
    )
}

/// The outputs of one kind: as many as the reference's, each with the same bytes.
fn bytes_differences(what: &str, got: &[Vec<u8>], want: &[Vec<u8>]) -> Vec<String> {
    if got.len() != want.len() {
        return vec![format!(
            "{} {what}(s) (reference: {})",
            got.len(),
            want.len()
        )];
    }
    got.iter()
        .zip(want)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| {
            let at = a.iter().zip(b.iter()).position(|(x, y)| x != y);
            format!(
                "the {what} differs from the reference's: {} bytes (reference {}), first at byte {}",
                a.len(),
                b.len(),
                at.unwrap_or(a.len().min(b.len()))
            )
        })
        .collect()
}

/// A value on one line, cut to a readable length.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// `toolsync export <entity> --format json`, without the stamps and salted hashes.
fn export(world: &World, entity: &str) -> Result<Vec<Value>, String> {
    let run = world.toolsync(&["export", entity, "--format", "json"])?;
    if run.code != 0 {
        return Err(format!("export {entity}: {}", run.gist()));
    }
    let Value::Array(mut rows) = serde_json::from_str(&run.stdout)
        .map_err(|e| format!("export {entity} did not print JSON: {e}"))?
    else {
        return Err(format!("export {entity} did not print a JSON array"));
    };
    for row in &mut rows {
        if let Some(fields) = row.as_object_mut() {
            fields.retain(|key, _| {
                !key.starts_with("time")
                    && !matches!(key.as_str(), "password_hash" | "startdate" | "enddate")
            });
        }
    }
    Ok(rows)
}

/// The stored reports (`txt` or `json`) of runs on `input`, whatever their stamp.
pub fn stored_reports(data: &Path, input: &Path, kind: &str) -> Vec<PathBuf> {
    let suffix = format!("_{}.report.{kind}", file_name(input));
    files_in(&data.join("files/reports"), |n| n.ends_with(&suffix))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into())
}

/// The files of `dir` whose name satisfies `keep`, by name.
fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    paths.sort();
    paths
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>, String> {
    paths
        .iter()
        .map(|p| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display())))
        .collect()
}

fn read_json(path: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // A report that is not whole JSON is a finding, not a failure of the harness.
    Ok(serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| Value::String(format!("{} is not whole JSON: {e}", path.display()))))
}

/// Every `*.partial` file under `dir`, the store (sled's own files) aside.
fn find_partials(dir: &Path, store: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            if path != store {
                find_partials(&path, store, found);
            }
        } else if path.extension().is_some_and(|e| e == "partial") {
            found.push(path);
        }
    }
}
