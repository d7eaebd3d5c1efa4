//! Bundles: several processors run one after the other in dependency order — `toolsync
//! runall`, and the daemon's runs due at the same minute.
//!
//! The order of the processors toolsync ships is fixed ([`ORDER`]): courses before the
//! accounts, both before what links them (metacourses, enrolments, groups, cohorts), pictures
//! once the accounts exist, and the destructive or checking ones last. A vendor processor
//! declares where it goes with `Manifest::after` (the protocol flag `_after`); without it, it
//! runs after all of toolsync's own.

use serde::Serialize;

use crate::data_dir::DataDir;
use crate::error::{Error, ExitCode};
use crate::loader::{LoadedProcessor, Registry};
use crate::run::{self, Finished, RunArgs, Tap};

/// The processors toolsync ships, in bundle order.
pub const ORDER: [&str; 12] = [
    "course-create",
    "users",
    "metacourse",
    "enrolments",
    "groups",
    "group-members",
    "cohorts",
    "cohort-courses",
    "pictures",
    "course-reset",
    "course-check",
    "course-delete",
];

/// `processors` in bundle order: toolsync's own by [`ORDER`], each vendor processor as early
/// as the processors it declares it runs after allow (after all of toolsync's own when it
/// declares none). A processor it names that is not installed is no constraint. Refused when
/// the declarations go round in a circle.
pub fn order<'a>(processors: &[&'a LoadedProcessor]) -> Result<Vec<&'a LoadedProcessor>, String> {
    let names: Vec<&str> = processors
        .iter()
        .map(|p| p.manifest.name.as_str())
        .collect();
    let rank = |name: &str| ORDER.iter().position(|o| *o == name);
    let last_own = processors
        .iter()
        .filter_map(|p| rank(&p.manifest.name))
        .max()
        .map(|r| ORDER[r]);
    // Each processor's predecessors among those installed.
    let before: Vec<Vec<&str>> = processors
        .iter()
        .map(|p| match rank(&p.manifest.name) {
            Some(r) => ORDER[..r]
                .iter()
                .rev()
                .find(|o| names.contains(o))
                .into_iter()
                .copied()
                .collect(),
            None => {
                let declared = p.manifest.runs_after();
                if declared.is_empty() {
                    last_own.into_iter().collect()
                } else {
                    names
                        .iter()
                        .copied()
                        .filter(|n| declared.iter().any(|d| d == n))
                        .collect()
                }
            }
        })
        .collect();
    let mut placed: Vec<usize> = Vec::new();
    while placed.len() < processors.len() {
        let ready = (0..processors.len())
            .filter(|i| !placed.contains(i))
            .filter(|&i| {
                before[i]
                    .iter()
                    .all(|b| placed.iter().any(|&p| names[p] == *b))
            })
            // A vendor processor goes as soon as it may, right after what it follows; then
            // toolsync's own in their order.
            .min_by_key(|&i| (rank(names[i]).is_some(), rank(names[i]), names[i]));
        match ready {
            Some(i) => placed.push(i),
            None => {
                let stuck: Vec<&str> = (0..processors.len())
                    .filter(|i| !placed.contains(i))
                    .map(|i| names[i])
                    .collect();
                return Err(format!(
                    "the processors {} each declare they run after another of them (`after` in \
                     their manifests): no order satisfies them",
                    stuck.join(", ")
                ));
            }
        }
    }
    Ok(placed.into_iter().map(|i| processors[i]).collect())
}

/// One processor's part of a bundle.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub processor: String,
    /// `ran`, `no file` (its default file is not in the file area), `unchanged` (the file was
    /// applied already), `not run` (an earlier run failed, `--stop-on-failure`), `error`.
    pub status: &'static str,
    /// The runs it made (an archive processor makes one per archive).
    pub runs: Vec<Finished>,
    /// Why it did not run, or the error that stopped it.
    pub note: Option<String>,
    pub exit_code: u8,
}

/// A bundle's summary.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub steps: Vec<Step>,
    /// The worst exit code of the runs.
    pub exit_code: u8,
}

/// How a bundle runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Stop at the first run with failed rows or a refusal.
    pub stop_on_failure: bool,
    /// Skip a default file whose content the processor's last completed run applied, unless
    /// the processor's `rerun_unchanged` option is on (the daemon).
    pub skip_unchanged: bool,
    pub quiet: bool,
}

/// Runs each of `processors` (names, any order) on its default file, in bundle order.
pub fn run_bundle(
    data: &DataDir,
    registry: &Registry,
    processors: &[&LoadedProcessor],
    options: &Options,
) -> Result<Summary, Error> {
    let ordered = order(processors).map_err(Error::usage)?;
    let manifests = registry.manifests();
    let mut steps = Vec::new();
    let mut stopped = false;
    for processor in ordered {
        let name = processor.manifest.name.to_string();
        let step = |status, note: Option<String>, runs, exit_code| Step {
            processor: name.clone(),
            status,
            runs,
            note,
            exit_code,
        };
        if crate::daemon::stop_requested() {
            // The daemon stops: the processors after the one it stopped wait for the next
            // time, in order (an interrupted run resumes first at the next start).
            steps.push(step(
                "not run",
                Some("the daemon is stopping".into()),
                Vec::new(),
                0,
            ));
            continue;
        }
        if stopped {
            steps.push(step(
                "not run",
                Some("an earlier run failed (--stop-on-failure)".into()),
                Vec::new(),
                0,
            ));
            continue;
        }
        let found = match run::default_inputs(data, processor, &manifests) {
            Ok(found) => found,
            Err(e) => {
                steps.push(step(
                    "error",
                    Some(e.to_string()),
                    Vec::new(),
                    e.exit_code() as u8,
                ));
                stopped = options.stop_on_failure;
                continue;
            }
        };
        let Some(first) = found.inputs.first() else {
            steps.push(step("no file", None, Vec::new(), 0));
            continue;
        };
        if options.skip_unchanged && !found.rerun_unchanged {
            match run::applied_already(data, &processor.manifest, &found.inputs) {
                Ok(true) => {
                    tracing::info!(processor = %name, input = %first.display(), "already applied: not run again (rerun_unchanged = false)");
                    steps.push(step(
                        "unchanged",
                        Some(format!(
                            "{} was applied by the last completed run (set rerun_unchanged = \
                             true to run it again)",
                            first.display()
                        )),
                        Vec::new(),
                        0,
                    ));
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(processor = %name, "cannot tell whether the file was applied: {e}")
                }
            }
        }
        let tap: Tap = Default::default();
        let args = RunArgs {
            processor: name.clone(),
            quiet: options.quiet,
            silent: true,
            tap: Some(tap.clone()),
            ..RunArgs::default()
        };
        let result = run::run_processor(data, processor, &manifests, &args);
        let runs = std::mem::take(&mut *tap.lock().unwrap_or_else(|p| p.into_inner()));
        let (exit, note) = match result {
            Ok(code) => (code as u8, None),
            Err(e) => (e.exit_code() as u8, Some(e.to_string())),
        };
        let status = if note.is_some() && runs.is_empty() {
            "error"
        } else {
            "ran"
        };
        steps.push(step(status, note, runs, exit));
        if exit != ExitCode::Ok as u8 {
            stopped = options.stop_on_failure;
        }
    }
    let exit_code = steps.iter().map(|s| s.exit_code).max().unwrap_or(0);
    Ok(Summary { steps, exit_code })
}

/// The text summary: a line per processor.
pub fn text(summary: &Summary) -> Vec<String> {
    let mut lines = Vec::new();
    for step in &summary.steps {
        if step.runs.is_empty() {
            let note = step
                .note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default();
            lines.push(format!("{:<14} {}{note}", step.processor, step.status));
        }
        for run in &step.runs {
            lines.push(format!(
                "{:<14} {:<11} rows {} (ok {}, failed {}, skipped {})  exit {}  {}",
                step.processor,
                run.outcome,
                run.rows_total,
                run.rows_ok,
                run.rows_failed,
                run.rows_skipped,
                run.exit_code,
                run.file
            ));
        }
        if let (false, Some(note)) = (step.runs.is_empty(), &step.note) {
            lines.push(format!("{:<14} error: {note}", step.processor));
        }
    }
    lines.push(format!("exit {}", summary.exit_code));
    lines
}
