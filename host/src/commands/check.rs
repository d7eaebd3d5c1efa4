//! `toolsync check`: the whole store against the shared model's invariants
//! (`toolsync_plugin_api::model::check`). Prints what is wrong and exits 1, or says the store is
//! consistent and exits 0; a store it cannot read at all is exit 5.

use serde::Serialize;
use toolsync_plugin_api::model::check::{check_store, Findings, Problem};

use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode};
use crate::output::Out;
use crate::run::{Journal, JOURNAL_SPACE};
use crate::store::Store;

/// The JSON form of the verdict.
#[derive(Serialize)]
struct Verdict<'a> {
    clean: bool,
    entries: u64,
    checked: std::collections::BTreeMap<&'a str, u64>,
    problems: &'a [Problem],
    /// Stored files no record names: not damage (the next pictures run removes them).
    note: Option<&'a str>,
}

pub fn run(data: &DataDir, json: bool) -> CmdResult {
    let store = data.open_store()?;
    // The store between two batches, when the daemon runs a file meanwhile.
    let (findings, note) = store.quiesced(|| -> Result<_, Error> {
        let mut findings = check_store(&store).map_err(Error::from)?;
        journals(&store, &mut findings)?;
        let note = crate::stored_files::compare(data, &store, &mut findings)?;
        Ok((findings, note))
    })?;
    let mut out = Out::stdout();
    if json {
        out.json(&verdict(&findings, note.as_deref()))?;
    } else {
        for p in &findings.problems {
            out.line(&format!("{} {}: {}", p.space, p.entry, p.what))?;
        }
        if let Some(note) = &note {
            out.line(&format!("note: {note}"))?;
        }
        out.line(&summary(&findings))?;
    }
    out.flush()?;
    Ok(if findings.is_clean() {
        ExitCode::Ok
    } else {
        ExitCode::RowsFailed
    })
}

fn verdict<'a>(findings: &'a Findings, note: Option<&'a str>) -> Verdict<'a> {
    Verdict {
        clean: findings.is_clean(),
        entries: findings.checked.iter().map(|(_, n)| n).sum(),
        checked: findings
            .checked
            .iter()
            .map(|(space, n)| (space.as_str(), *n))
            .collect(),
        problems: &findings.problems,
        note,
    }
}

fn summary(findings: &Findings) -> String {
    let entries: u64 = findings.checked.iter().map(|(_, n)| n).sum();
    let spaces = findings.checked.len();
    match findings.problems.len() {
        0 => format!("the store is consistent: {entries} entries in {spaces} keyspaces checked"),
        1 => format!("1 problem ({entries} entries in {spaces} keyspaces checked)"),
        n => format!("{n} problems ({entries} entries in {spaces} keyspaces checked)"),
    }
}

/// The host's own records: every journal of an interrupted run must read (a run refuses to
/// resume from one that does not).
fn journals(store: &Store, findings: &mut Findings) -> Result<(), Error> {
    let mut count = 0;
    for item in store.scan_space(JOURNAL_SPACE, b"") {
        let (key, _) = item?;
        count += 1;
        let processor = String::from_utf8_lossy(&key).into_owned();
        if let Err(e) = Journal::load(store, &processor) {
            findings.problems.push(Problem {
                space: JOURNAL_SPACE.to_string(),
                entry: format!("journal {processor}"),
                what: e.to_string(),
            });
        }
    }
    findings.checked.push((JOURNAL_SPACE.to_string(), count));
    Ok(())
}
